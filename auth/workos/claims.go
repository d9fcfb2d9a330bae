package workos

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// callerFromClaims maps verified claims onto a Caller. AuthKit only adds some
// claims (role, roles, permissions, email) when the environment is configured
// to, so absent or oddly typed optional claims yield empty fields, never errors.
func callerFromClaims(claims map[string]any, exp time.Time) *auth.Caller {
	str := func(name string) string {
		s, _ := claims[name].(string)
		return s
	}
	c := &auth.Caller{
		UserID:         str("sub"),
		Email:          str("email"),
		Name:           str("name"),
		Username:       str("preferred_username"),
		Picture:        str("picture"),
		OrganizationID: str("org_id"),
		SessionID:      str("sid"),
		ClientID:       str("client_id"),
		Permissions:    stringArray(claims["permissions"]),
		Claims:         claims,
		ExpiresAt:      exp,
	}
	// Once per verified token, not once per call: the cache keeps this Caller.
	c.ClaimsJSON, _ = json.Marshal(claims) // the claims came from JSON, so they marshal
	c.EmailVerified, _ = claims["email_verified"].(bool)

	// WorkOS puts the primary role in `role` and, when multiple roles are on,
	// all of them in `roles`; take the union so neither shape loses anything.
	c.Roles = stringArray(claims["roles"])
	if r := str("role"); r != "" && !slices.Contains(c.Roles, r) {
		c.Roles = append(c.Roles, r)
	}

	// OAuth's `scope` is a space-separated string; some issuers use an `scp` array.
	if s, ok := claims["scope"].(string); ok {
		c.Scopes = appendUnique(c.Scopes, strings.Fields(s)...)
	}
	c.Scopes = appendUnique(c.Scopes, stringList(claims["scp"])...)
	return c
}

// stringArray returns the string elements of a JSON array, skipping others.
func stringArray(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if s, ok := e.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// stringList accepts a JSON string or array of strings (as `aud` may be).
func stringList(v any) []string {
	if s, ok := v.(string); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	return stringArray(v)
}

func appendUnique(list []string, items ...string) []string {
	for _, s := range items {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}
