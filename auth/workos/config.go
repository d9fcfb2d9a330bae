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

// The defaults of the keys config.Load also checks; config uses these, so each
// default and each rule lives here alone.
const (
	DefaultClockSkew = 60 * time.Second
	MaxClockSkew     = 5 * time.Minute
)

const (
	defaultJWKSRefresh        = 15 * time.Minute
	defaultMinRefetchInterval = 10 * time.Second
	defaultMetadataTTL        = 10 * time.Minute
	defaultMCPPath            = "/mcp"
)

// DefaultScopes are the scopes AuthKit supports for MCP clients by default (a
// fresh slice each call, so no caller can change another's default).
func DefaultScopes() []string { return []string{"email", "offline_access", "openid", "profile"} }

// DefaultAlgorithms is the default JWS allow-list: AuthKit signs with RS256.
func DefaultAlgorithms() []string { return []string{"RS256"} }

// supportedAlgs are the asymmetric JWS algorithms this package can verify.
var supportedAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// CheckAlgorithm reports why alg cannot be in Config.Algorithms.
func CheckAlgorithm(alg string) error {
	switch {
	case strings.EqualFold(alg, "none"):
		return fmt.Errorf("%q is not allowed", alg)
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return fmt.Errorf("%q is not allowed (symmetric algorithms cannot be verified with a public JWKS)", alg)
	case !slices.Contains(supportedAlgs, alg):
		return fmt.Errorf("%q is not supported (supported: %s)", alg, strings.Join(supportedAlgs, ", "))
	}
	return nil
}

// CheckClockSkew reports why d cannot be Config.ClockSkew (0 means the default).
func CheckClockSkew(d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("must not be negative")
	case d > MaxClockSkew:
		return fmt.Errorf("%v exceeds the maximum of %v", d, MaxClockSkew)
	}
	return nil
}

// CheckScope reports why s cannot be a scope in ScopesSupported or RequiredScopes.
func CheckScope(s string) error {
	if !validScopeToken(s) {
		return fmt.Errorf("%q is not a valid scope (printable ASCII without spaces, quotes or backslashes)", s)
	}
	return nil
}

// CheckAudience reports why a cannot be in Config.Audiences.
func CheckAudience(a string) error {
	if strings.TrimSpace(a) == "" {
		return fmt.Errorf("empty entry")
	}
	return nil
}

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

// withDefaults validates cfg and fills in defaults. Errors name the Config
// field: config.Load has already refused, under the user's key, everything a
// loaded config could get wrong, so these only guard other callers.
func (cfg Config) withDefaults() (Config, string, bool, error) {
	field := func(name string, err error) error { return fmt.Errorf("workos: Config.%s: %w", name, err) }
	issuer, loopback, err := NormalizeDomain(cfg.Domain)
	if err != nil {
		return cfg, "", false, field("Domain", err)
	}
	if cfg.VerifyJWT && len(cfg.Audiences) == 0 {
		return cfg, "", false, field("Audiences", fmt.Errorf("required when VerifyJWT is set (the MCP server URL when AuthKit has a resource indicator, else the AuthKit client id)"))
	}
	for _, a := range cfg.Audiences {
		if err := CheckAudience(a); err != nil {
			return cfg, "", false, field("Audiences", err)
		}
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms()
	}
	for _, a := range cfg.Algorithms {
		if err := CheckAlgorithm(a); err != nil {
			return cfg, "", false, field("Algorithms", err)
		}
	}
	if err := CheckClockSkew(cfg.ClockSkew); err != nil {
		return cfg, "", false, field("ClockSkew", err)
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if len(cfg.ScopesSupported) == 0 {
		cfg.ScopesSupported = DefaultScopes()
	}
	for _, s := range cfg.ScopesSupported {
		if err := CheckScope(s); err != nil {
			return cfg, "", false, field("ScopesSupported", err)
		}
	}
	for _, s := range cfg.RequiredScopes {
		if err := CheckScope(s); err != nil {
			return cfg, "", false, field("RequiredScopes", err)
		}
	}
	if cfg.MCPPath == "" {
		cfg.MCPPath = defaultMCPPath
	}
	if !strings.HasPrefix(cfg.MCPPath, "/") || strings.ContainsAny(cfg.MCPPath, "?#{} \t\r\n\"\\") {
		return cfg, "", false, field("MCPPath", fmt.Errorf("%q must be an absolute path without query, spaces or braces", cfg.MCPPath))
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"JWKSRefresh", &cfg.JWKSRefresh, defaultJWKSRefresh},
		{"MinRefetchInterval", &cfg.MinRefetchInterval, defaultMinRefetchInterval},
		{"MetadataTTL", &cfg.MetadataTTL, defaultMetadataTTL},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return cfg, "", false, field(d.name, fmt.Errorf("must not be negative"))
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
