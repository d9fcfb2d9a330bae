// Package auth holds what the host knows about the verified caller of a request and
// the seam between the HTTP gate that establishes it and the code that consumes it.
// Providers (auth/workos, the dev issuer) live in sub-packages.
package auth

import (
	"context"
	"slices"
	"time"
)

// Caller is the verified identity behind one MCP request, built from verified token
// claims. It never holds the raw token. A zero Caller means "no authentication"
// (provider none).
type Caller struct {
	UserID         string
	Email          string
	Name           string
	Username       string
	Picture        string
	Roles          []string
	Permissions    []string
	Scopes         []string
	EmailVerified  bool
	OrganizationID string
	SessionID      string
	ClientID       string
	// Claims holds every claim of the verified token, including the ones above.
	Claims map[string]any
	// ClaimsJSON is Claims as JSON, when the provider encoded it once at
	// verification (what the host forwards to plugins on every call); nil means
	// encode Claims when needed.
	ClaimsJSON []byte
	// ExpiresAt is the token's expiry; zero when unknown.
	ExpiresAt time.Time
}

// HasRole reports whether the caller has role r.
func (c *Caller) HasRole(r string) bool { return c != nil && slices.Contains(c.Roles, r) }

// HasPermission reports whether the caller has permission p.
func (c *Caller) HasPermission(p string) bool {
	return c != nil && slices.Contains(c.Permissions, p)
}

// HasScope reports whether the caller's token carries scope s.
func (c *Caller) HasScope(s string) bool { return c != nil && slices.Contains(c.Scopes, s) }

type callerKey struct{}

// WithCaller returns a context carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller stored by WithCaller, or nil.
func CallerFromContext(ctx context.Context) *Caller {
	c, _ := ctx.Value(callerKey{}).(*Caller)
	return c
}
