// Package workos makes mcphost an OAuth 2.1 resource server for WorkOS AuthKit:
// it verifies AuthKit access tokens (JWTs signed with keys from the AuthKit JWKS),
// maps their claims to an auth.Caller, gates HTTP requests with RFC 6750 bearer
// challenges, and serves the discovery documents MCP clients use to find AuthKit.
//
// JWS parsing, signature verification and JWK handling use lestrrat-go/jwx/v3
// (jws.Verify against a jwk.Set). Around it this package keeps what jwx does not
// express: size caps and canonical-encoding checks before parsing, an
// asymmetric-only key policy and alg allow-list, the claim rules, and a JWKS
// refresher whose unknown-kid refetches are rate-limited (see jwksCache).
package workos

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// Config configures a Provider. Zero values get the documented defaults.
type Config struct {
	// Domain is the AuthKit domain: "my-co.authkit.app", "https://my-co.authkit.app",
	// or a loopback dev issuer "http://127.0.0.1:PORT" / "http://localhost:PORT".
	Domain string
	// VerifyJWT turns signature, issuer and audience checks on. Off is for local
	// experiments only and logs a warning on every request.
	VerifyJWT bool
	// ScopesSupported is advertised in discovery and challenges.
	// Default: email offline_access openid profile.
	ScopesSupported []string
	// Audiences are accepted `aud` (or `resource`) values; required when VerifyJWT.
	// With an AuthKit Resource Indicator this is the MCP URL, otherwise the client id.
	Audiences []string
	// Algorithms is the allow-list of JWS algorithms. Default RS256. Only
	// asymmetric algorithms are accepted: a JWKS holds public keys only.
	Algorithms []string
	// ClockSkew is tolerated on exp, nbf and iat. Default 60s, at most 5m.
	ClockSkew time.Duration
	// RequiredScopes must all be present in the token, or the gate answers 403.
	RequiredScopes []string
	// ResourceName is the human-readable name in the protected-resource document.
	ResourceName string
	// PublicURL derives the origin used in discovery documents and challenges.
	PublicURL auth.PublicURL
	// MCPPath is the path of the MCP endpoint. Default "/mcp".
	MCPPath string
	// JWKSRefresh is the background JWKS refresh period. Default 15m.
	JWKSRefresh time.Duration
	// MinRefetchInterval bounds JWKS fetches triggered by unknown key ids, across
	// all requests, so a flood of tokens with bogus kids cannot flood AuthKit.
	// Default 10s.
	MinRefetchInterval time.Duration
	// MetadataTTL is how long upstream authorization-server metadata is cached.
	// Default 10m.
	MetadataTTL time.Duration
	// StaticMetadata, when non-nil, is served for the authorization-server metadata
	// routes instead of fetching them from the issuer. The embedded dev issuer uses
	// this when it shares the host's origin (fetching from ourselves would loop).
	StaticMetadata map[string]any
	// HTTPClient is used for JWKS and metadata fetches. Default: 10s timeout.
	HTTPClient *http.Client
	// Logger receives warnings and debug-level verification details. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
	// LookupRoles, when set, supplies the roles of a caller whose token
	// carries none (AuthKit's tokens for MCP clients never do), and the
	// permissions when the token has none either: claims in the token win.
	// It must answer without roles when it knows none (fail closed).
	LookupRoles func(ctx context.Context, userID, orgID string) (roles, permissions []string)
	// OnJWKSFetch, when set, hears of every JWKS fetch and its error (metrics).
	OnJWKSFetch func(error)
}

const (
	defaultClockSkew          = 60 * time.Second
	maxClockSkew              = 5 * time.Minute
	defaultJWKSRefresh        = 15 * time.Minute
	defaultMinRefetchInterval = 10 * time.Second
	defaultMetadataTTL        = 10 * time.Minute
	defaultMCPPath            = "/mcp"
)

var defaultScopes = []string{"email", "offline_access", "openid", "profile"}

// supportedAlgs are the asymmetric JWS algorithms this package can verify.
var supportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// NormalizeDomain turns a configured AuthKit domain into the issuer string tokens
// must carry in `iss`. A bare name gets https://; a trailing slash is dropped.
// Plain http is accepted only for a loopback host with an explicit port (the
// embedded dev issuer), because tokens and keys fetched over http elsewhere could
// be forged by anyone on the path. loopback reports a loopback host.
func NormalizeDomain(s string) (issuer string, loopback bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false, fmt.Errorf("domain is empty")
	}
	raw := s
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("domain %q is not a valid URL", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false, fmt.Errorf("domain %q: scheme must be https", raw)
	}
	if u.User != nil {
		return "", false, fmt.Errorf("domain %q must not contain user info", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawPath != "" {
		return "", false, fmt.Errorf("domain %q must not contain a path", raw)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return "", false, fmt.Errorf("domain %q must not contain a query or fragment", raw)
	}
	host := strings.ToLower(u.Host)
	hostname, port := strings.ToLower(u.Hostname()), u.Port()
	if hostname == "" {
		return "", false, fmt.Errorf("domain %q has no host", raw)
	}
	if !validHostname(hostname) || (strings.HasSuffix(host, ":") && port == "") {
		return "", false, fmt.Errorf("domain %q has an invalid host", raw)
	}
	loopback = hostname == "localhost" || hostname == "127.0.0.1" || hostname == "::1"
	if !loopback && net.ParseIP(hostname) == nil && !strings.Contains(hostname, ".") {
		return "", false, fmt.Errorf("domain %q is not a full host name: did you mean %s.authkit.app?", raw, hostname)
	}
	if scheme == "http" {
		if !loopback || port == "" {
			return "", false, fmt.Errorf("domain %q: http is only allowed for a loopback dev issuer with a port (http://127.0.0.1:PORT, http://localhost:PORT, http://[::1]:PORT); use https", raw)
		}
	}
	return scheme + "://" + host, loopback, nil
}

func validHostname(h string) bool {
	if ip := net.ParseIP(h); ip != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// validScopeToken follows RFC 6749 §3.3 (scope-token = 1*NQCHAR), which also
// guarantees the value is safe inside a quoted WWW-Authenticate parameter.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// withDefaults validates cfg and fills in defaults. Errors name the config key.
func (cfg Config) withDefaults() (Config, string, bool, error) {
	issuer, loopback, err := NormalizeDomain(cfg.Domain)
	if err != nil {
		return cfg, "", false, fmt.Errorf("auth.workos.subdomain: %w", err)
	}
	if cfg.VerifyJWT && len(cfg.Audiences) == 0 {
		return cfg, "", false, fmt.Errorf("auth.workos.audiences: required when verify_jwt is true (the MCP server URL when AuthKit has a resource indicator, else the AuthKit client id)")
	}
	for _, a := range cfg.Audiences {
		if strings.TrimSpace(a) == "" {
			return cfg, "", false, fmt.Errorf("auth.workos.audiences: empty entry")
		}
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"RS256"}
	}
	for _, a := range cfg.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			return cfg, "", false, fmt.Errorf("auth.workos.algorithms: %q is not allowed", a)
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			return cfg, "", false, fmt.Errorf("auth.workos.algorithms: %q is not allowed (symmetric algorithms cannot be verified with a public JWKS)", a)
		case !slices.Contains(supportedAlgs, a):
			return cfg, "", false, fmt.Errorf("auth.workos.algorithms: %q is not supported (supported: %s)", a, strings.Join(supportedAlgs, ", "))
		}
	}
	switch {
	case cfg.ClockSkew < 0:
		return cfg, "", false, fmt.Errorf("auth.workos.clock_skew: must not be negative")
	case cfg.ClockSkew == 0:
		cfg.ClockSkew = defaultClockSkew
	case cfg.ClockSkew > maxClockSkew:
		return cfg, "", false, fmt.Errorf("auth.workos.clock_skew: %v exceeds the maximum of %v", cfg.ClockSkew, maxClockSkew)
	}
	if len(cfg.ScopesSupported) == 0 {
		cfg.ScopesSupported = defaultScopes
	}
	for _, s := range cfg.ScopesSupported {
		if !validScopeToken(s) {
			return cfg, "", false, fmt.Errorf("auth.workos.scopes_supported: %q is not a valid scope", s)
		}
	}
	for _, s := range cfg.RequiredScopes {
		if !validScopeToken(s) {
			return cfg, "", false, fmt.Errorf("auth.workos.required_scopes: %q is not a valid scope", s)
		}
	}
	if cfg.MCPPath == "" {
		cfg.MCPPath = defaultMCPPath
	}
	if !strings.HasPrefix(cfg.MCPPath, "/") || strings.ContainsAny(cfg.MCPPath, "?#{} \t\r\n\"\\") {
		return cfg, "", false, fmt.Errorf("auth.workos.mcp_path: %q must be an absolute path without query, spaces or braces", cfg.MCPPath)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"jwks_refresh", &cfg.JWKSRefresh, defaultJWKSRefresh},
		{"min_refetch_interval", &cfg.MinRefetchInterval, defaultMinRefetchInterval},
		{"metadata_ttl", &cfg.MetadataTTL, defaultMetadataTTL},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return cfg, "", false, fmt.Errorf("auth.workos.%s: must not be negative", d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, issuer, loopback, nil
}
