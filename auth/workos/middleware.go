package workos

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mcphost/mcphost/auth"
)

const prmPath = "/.well-known/oauth-protected-resource"

// ResourceMetadataURL is the RFC 9728 metadata URL for the MCP endpoint as the
// client of r sees it; it goes into every challenge.
func (p *Provider) ResourceMetadataURL(r *http.Request) string {
	return p.cfg.PublicURL.Origin(r) + p.prmRoute()
}

func (p *Provider) prmRoute() string {
	if p.cfg.MCPPath == "/" {
		return prmPath
	}
	return prmPath + p.cfg.MCPPath
}

// Middleware is the bearer gate: only requests with a valid access token that
// carries RequiredScopes reach next, with the verified auth.Caller in their
// context. Everything else gets an RFC 6750 challenge pointing at our
// protected-resource metadata, which is how MCP clients discover AuthKit.
// It answers 401 or 403, never 500, and never echoes verifier internals.
func (p *Provider) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, state := bearerToken(r)
		switch state {
		case noCredential:
			p.challenge(w, r, http.StatusUnauthorized, "", "")
			return
		case badCredential:
			p.cfg.Logger.DebugContext(r.Context(), "workos: token rejected", "reason", DescMalformed, "cause", "Authorization header is not a single b64token bearer credential")
			p.challenge(w, r, http.StatusUnauthorized, "invalid_token", DescMalformed)
			return
		}
		caller, err := p.Verify(r.Context(), token)
		if err != nil {
			desc := DescMalformed
			if e, ok := err.(*Error); ok {
				desc = e.Description
			}
			p.challenge(w, r, http.StatusUnauthorized, "invalid_token", desc)
			return
		}
		for _, s := range p.cfg.RequiredScopes {
			if !caller.HasScope(s) {
				p.challenge(w, r, http.StatusForbidden, "insufficient_scope", "")
				return
			}
		}
		if p.cfg.LookupRoles != nil && len(caller.Roles) == 0 {
			caller = p.withLookedUpRoles(r.Context(), caller)
		}
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), caller)))
	})
}

// withLookedUpRoles returns a copy of caller with the roles LookupRoles knows
// of; the verified Caller itself is cached per token and shared, so it is
// never modified.
func (p *Provider) withLookedUpRoles(ctx context.Context, caller *auth.Caller) *auth.Caller {
	roles, perms := p.cfg.LookupRoles(ctx, caller.UserID, caller.OrganizationID)
	if len(roles) == 0 && (len(perms) == 0 || len(caller.Permissions) > 0) {
		return caller
	}
	c := *caller
	c.Roles = roles
	if len(c.Permissions) == 0 {
		c.Permissions = perms
	}
	return &c
}

type credState int

const (
	noCredential credState = iota
	badCredential
	haveCredential
)

// bearerToken extracts the token from "Authorization: Bearer <token>". With no
// bearer credential at all (no header, or another scheme) the challenge must
// carry no error code (RFC 6750 §3.1); a bearer credential that is empty, not a
// b64token, or repeated is invalid_token.
func bearerToken(r *http.Request) (string, credState) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", noCredential
	}
	scheme, rest, _ := strings.Cut(strings.TrimLeft(vals[0], " \t"), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", noCredential
	}
	token := strings.Trim(rest, " \t")
	if len(vals) > 1 || !isB64Token(token) {
		return "", badCredential
	}
	return token, haveCredential
}

// isB64Token implements RFC 6750's b64token: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for i < len(s) && b64TokenChar[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// b64TokenChar is the b64token alphabet as a table: a token is checked on
// every request, and a table lookup per byte is several times cheaper than
// the comparisons.
var b64TokenChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()

// challenge writes a 401/403 with a WWW-Authenticate header and a small JSON body.
func (p *Provider) challenge(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
	rm := quote(p.ResourceMetadataURL(r))
	var v string
	switch code {
	case "":
		v = "Bearer resource_metadata=" + rm
		if len(p.scopes) > 0 {
			v += ", scope=" + quote(strings.Join(p.scopes, " "))
		}
	case "insufficient_scope":
		v = `Bearer error="insufficient_scope", scope=` + quote(strings.Join(p.cfg.RequiredScopes, " ")) + ", resource_metadata=" + rm
		desc = "insufficient scope"
	default:
		v = "Bearer error=" + quote(code) + ", error_description=" + quote(desc) + ", resource_metadata=" + rm
	}
	h := w.Header()
	h.Set("WWW-Authenticate", v)
	h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if code == "" {
		code, desc = "unauthorized", "bearer token required"
	}
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc})
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// quote renders an RFC 9110 quoted-string. Characters that cannot appear in a
// header (controls, non-ASCII) are dropped, and quote and backslash are escaped,
// so no value can break out of its parameter.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
