package workos

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		loopback bool
		wantErr  string
	}{
		{in: "my-co.authkit.app", want: "https://my-co.authkit.app"},
		{in: "https://my-co.authkit.app", want: "https://my-co.authkit.app"},
		{in: "https://my-co.authkit.app/", want: "https://my-co.authkit.app"},
		{in: "  HTTPS://My-Co.AuthKit.app  ", want: "https://my-co.authkit.app"},
		{in: "auth.example.com:8443", want: "https://auth.example.com:8443"},
		{in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080", loopback: true},
		{in: "http://localhost:9000/", want: "http://localhost:9000", loopback: true},
		{in: "http://[::1]:9000", want: "http://[::1]:9000", loopback: true},
		{in: "https://localhost:9000", want: "https://localhost:9000", loopback: true},
		{in: "", wantErr: "empty"},
		{in: "http://my-co.authkit.app", wantErr: "http is only allowed for a loopback"},
		{in: "http://127.0.0.1", wantErr: "http is only allowed for a loopback"},
		{in: "http://10.0.0.1:80", wantErr: "http is only allowed for a loopback"},
		{in: "https://my-co.authkit.app/oauth2", wantErr: "must not contain a path"},
		{in: "my-co.authkit.app/x", wantErr: "must not contain a path"},
		{in: "https://my-co.authkit.app?x=1", wantErr: "query"},
		{in: "https://my-co.authkit.app/?", wantErr: "query"},
		{in: "https://my-co.authkit.app#frag", wantErr: "query or fragment"},
		{in: "ftp://my-co.authkit.app", wantErr: "scheme must be https"},
		{in: "https://user:pw@my-co.authkit.app", wantErr: "user info"},
		{in: "https://", wantErr: "no host"},
		{in: "https://my_co!.authkit.app", wantErr: "invalid host"},
		{in: "my-co", wantErr: "did you mean my-co.authkit.app?"},
		{in: "https://my-co", wantErr: "did you mean my-co.authkit.app?"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, lb, err := NormalizeDomain(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || lb != tc.loopback {
				t.Fatalf("got (%q, %v), want (%q, %v)", got, lb, tc.want, tc.loopback)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	base := func() Config {
		return Config{Domain: "my-co.authkit.app", VerifyJWT: true, Audiences: []string{testAud}, Logger: quietLogger()}
	}
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"ok", func(*Config) {}, ""},
		{"bad domain", func(c *Config) { c.Domain = "http://evil.example" }, "workos: Config.Domain: "},
		{"missing domain", func(c *Config) { c.Domain = "" }, "workos: Config.Domain: domain is empty"},
		{"audiences required", func(c *Config) { c.Audiences = nil }, "workos: Config.Audiences: required when VerifyJWT"},
		{"audiences optional without verify", func(c *Config) { c.Audiences = nil; c.VerifyJWT = false }, ""},
		{"empty audience", func(c *Config) { c.Audiences = []string{" "} }, "workos: Config.Audiences: empty entry"},
		{"alg none", func(c *Config) { c.Algorithms = []string{"RS256", "none"} }, `workos: Config.Algorithms: "none" is not allowed`},
		{"alg HS256", func(c *Config) { c.Algorithms = []string{"HS256"} }, `workos: Config.Algorithms: "HS256" is not allowed`},
		{"alg unknown", func(c *Config) { c.Algorithms = []string{"RS1"} }, `workos: Config.Algorithms: "RS1" is not supported`},
		{"alg ES256 ok", func(c *Config) { c.Algorithms = []string{"ES256", "EdDSA"} }, ""},
		{"negative skew", func(c *Config) { c.ClockSkew = -time.Second }, "workos: Config.ClockSkew: must not be negative"},
		{"huge skew", func(c *Config) { c.ClockSkew = time.Hour }, "workos: Config.ClockSkew: 1h0m0s exceeds"},
		{"bad scope", func(c *Config) { c.RequiredScopes = []string{`a"b`} }, "workos: Config.RequiredScopes: "},
		{"bad supported scope", func(c *Config) { c.ScopesSupported = []string{"a b"} }, "workos: Config.ScopesSupported: "},
		{"bad mcp path", func(c *Config) { c.MCPPath = "mcp" }, "workos: Config.MCPPath: "},
		{"mcp path with brace", func(c *Config) { c.MCPPath = "/{x}" }, "workos: Config.MCPPath: "},
		{"negative refresh", func(c *Config) { c.JWKSRefresh = -1 }, "workos: Config.JWKSRefresh: must not be negative"},
		{"negative refetch", func(c *Config) { c.MinRefetchInterval = -1 }, "workos: Config.MinRefetchInterval: must not be negative"},
		{"negative ttl", func(c *Config) { c.MetadataTTL = -1 }, "workos: Config.MetadataTTL: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mutate(&cfg)
			got, _, _, err := cfg.withDefaults()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got.ClockSkew != 60*time.Second || got.MCPPath != "/mcp" || got.JWKSRefresh != 15*time.Minute ||
					got.MetadataTTL != 10*time.Minute || got.MinRefetchInterval != 10*time.Second || len(got.ScopesSupported) != 4 {
					t.Fatalf("defaults not applied: %+v", got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(t, 0)}
	kNoAlg := testKey{kid: "k-noalg", priv: rsaKey(t, 1)}
	ec := testKey{kid: "ec", alg: "ES256", priv: newECKey(t)}
	d := newIDP(t, k0, kNoAlg, ec)
	clk := newClock()
	p := newProvider(t, d, func(c *Config) {
		c.Now = clk.Now
		c.Algorithms = []string{"RS256", "PS256", "ES256"}
	})
	now := clk.Now()
	iss := d.issuer()
	valid := func(edit func(map[string]any)) map[string]any {
		c := claimsFor(iss, now)
		if edit != nil {
			edit(c)
		}
		return c
	}
	other := testKey{kid: "k0", alg: "RS256", priv: rsaKey(t, 2)} // right kid, wrong key

	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey(t, 0).PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func(secret []byte) string {
		hb, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": "k0", "typ": "JWT"})
		cb, _ := json.Marshal(valid(nil))
		in := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + b64.EncodeToString(m.Sum(nil))
	}
	unsigned := func(alg string) string {
		hb, _ := json.Marshal(map[string]any{"alg": alg, "kid": "k0"})
		cb, _ := json.Marshal(valid(nil))
		return b64.EncodeToString(hb) + "." + b64.EncodeToString(cb) + "."
	}
	good := sign(t, k0, "RS256", nil, valid(nil))
	parts := strings.Split(good, ".")
	tamperedPayload, _ := json.Marshal(valid(func(c map[string]any) { c["sub"] = "admin" }))

	tests := []struct {
		name  string
		token string
		want  string // "" = valid, else public description
	}{
		{"valid", good, ""},
		{"valid PS256 with key lacking alg", sign(t, kNoAlg, "PS256", nil, valid(nil)), ""},
		{"valid ES256", sign(t, ec, "ES256", nil, valid(nil)), ""},
		{"aud array", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["aud"] = []any{"other", testAud} })), ""},
		{"aud trailing slash", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["aud"] = testAud + "/" })), ""},
		{"aud of another API is not rescued by a resource claim", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["aud"] = "https://other-api.example.com"; c["resource"] = testAud })), DescAudience},
		{"resource claim when there is no aud", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { delete(c, "aud"); c["resource"] = testAud })), ""},
		{"typ at+jwt", sign(t, k0, "RS256", map[string]any{"typ": "at+jwt"}, valid(nil)), ""},
		{"typ application/at+JWT", sign(t, k0, "RS256", map[string]any{"typ": "application/at+JWT"}, valid(nil)), ""},
		{"no typ", sign(t, k0, "RS256", map[string]any{"typ": nil}, valid(nil)), ""},
		{"an ID token by typ", sign(t, k0, "RS256", map[string]any{"typ": "id_token+jwt"}, valid(nil)), DescNotAccessToken},
		{"an ID token by nonce", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["nonce"] = "n-1" })), DescNotAccessToken},
		{"an ID token by at_hash", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["at_hash"] = "h" })), DescNotAccessToken},
		{"aud via resource array", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { delete(c, "aud"); c["resource"] = []any{testAud} })), ""},
		{"iat within skew", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["iat"] = now.Add(30 * time.Second).Unix() })), ""},
		{"expired within skew still ok", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })), ""},
		{"expired", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), DescExpired},
		{"not yet valid", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() })), DescNotYetValid},
		{"iat in future", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() })), DescFutureIssued},
		{"wrong issuer", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["iss"] = "https://evil.authkit.app" })), DescIssuer},
		{"issuer with trailing slash", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["iss"] = iss + "/" })), DescIssuer},
		{"missing issuer", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { delete(c, "iss") })), DescIssuer},
		{"wrong audience", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["aud"] = "https://other.example.com/mcp" })), DescAudience},
		{"missing audience", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { delete(c, "aud") })), DescAudience},
		{"audience wrong type", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["aud"] = 42 })), DescAudience},
		{"missing sub", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { delete(c, "sub") })), DescMissingSub},
		{"empty sub", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["sub"] = "" })), DescMissingSub},
		{"sub wrong type", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["sub"] = 7 })), DescMissingSub},
		{"missing exp", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { delete(c, "exp") })), DescMissingExpiry},
		{"exp as string", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["exp"] = "tomorrow" })), DescMalformed},
		{"exp absurd", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["exp"] = 1e300 })), DescMalformed},
		{"nbf wrong type", sign(t, k0, "RS256", nil, valid(func(c map[string]any) { c["nbf"] = true })), DescMalformed},
		{"alg none", unsigned("none"), DescAlgorithm},
		{"alg None", unsigned("None"), DescAlgorithm},
		{"alg empty", unsigned(""), DescAlgorithm},
		{"HS256 keyed with public PEM", hs256(pubPEM), DescAlgorithm},
		{"HS256 keyed with public DER", hs256(pubDER), DescAlgorithm},
		{"HS256 keyed with modulus", hs256(rsaKey(t, 0).N.Bytes()), DescAlgorithm},
		{"RS384 not in allow-list", unsigned("RS384"), DescAlgorithm},
		{"PS256 against key declaring RS256", sign(t, k0, "PS256", nil, valid(nil)), DescSignature},
		{"ES256 header on RSA key", func() string {
			tok := sign(t, k0, "RS256", map[string]any{"alg": "ES256"}, valid(nil))
			return tok
		}(), DescSignature},
		{"wrong key same kid", sign(t, other, "RS256", nil, valid(nil)), DescSignature},
		{"tampered payload", parts[0] + "." + b64.EncodeToString(tamperedPayload) + "." + parts[2], DescSignature},
		{"signature stripped", parts[0] + "." + parts[1] + ".", DescSignature},
		{"missing kid", sign(t, k0, "RS256", map[string]any{"kid": nil}, valid(nil)), DescUnknownKey},
		{"crit header", sign(t, k0, "RS256", map[string]any{"crit": []string{"exp"}}, valid(nil)), DescMalformed},
		{"empty", "", DescMissing},
		{"one part", "abc", DescMalformed},
		{"two parts", "abc.def", DescMalformed},
		{"four parts", good + ".x", DescMalformed},
		{"empty header", "." + parts[1] + "." + parts[2], DescMalformed},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2], DescMalformed},
		{"header not json", b64.EncodeToString([]byte("hello")) + "." + parts[1] + "." + parts[2], DescMalformed},
		{"header json array", b64.EncodeToString([]byte(`["RS256"]`)) + "." + parts[1] + "." + parts[2], DescMalformed},
		{"header huge", b64.EncodeToString([]byte(`{"alg":"RS256","x":"`+strings.Repeat("a", 3000)+`"}`)) + "." + parts[1] + "." + parts[2], DescMalformed},
		{"payload not base64", parts[0] + ".!!!." + parts[2], DescMalformed},
		{"sig not base64", parts[0] + "." + parts[1] + ".***", DescMalformed},
		{"oversized", strings.Repeat("a", 16<<10+1), DescTooLarge},
		{"payload null", sign(t, k0, "RS256", nil, nil), DescMalformed},
	}
	t.Run("HS256 cannot verify even if allow-listed", func(t *testing.T) {
		// Config refuses HS*, but the verifier must not depend on that: force it
		// into the allow-list and check the HMAC forgery still fails.
		p2 := newProvider(t, d, nil)
		p2.cfg.Algorithms = append(p2.cfg.Algorithms, "HS256")
		for _, secret := range [][]byte{pubPEM, pubDER} {
			_, err := p2.Verify(context.Background(), hs256(secret))
			if err == nil || err.(*Error).Description != DescSignature {
				t.Fatalf("err = %v, want invalid signature", err)
			}
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := p.Verify(context.Background(), tc.token)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v (cause %v)", err, errors.Unwrap(err))
				}
				if c.UserID != "user_01" {
					t.Fatalf("UserID = %q", c.UserID)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify succeeded, want %q", tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.Description != tc.want {
				t.Fatalf("Description = %q, want %q (cause %v)", e.Description, tc.want, e.Unwrap())
			}
			if err.Error() != "invalid token: "+tc.want {
				t.Fatalf("Error() = %q leaks more than the description", err.Error())
			}
		})
	}
}

func TestVerifyCache(t *testing.T) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, k0)
	clk := newClock()
	p := newProvider(t, d, func(c *Config) { c.Now = clk.Now })
	claims := claimsFor(d.issuer(), clk.Now())
	claims["exp"] = clk.Now().Add(10 * time.Minute).Unix()
	tok := sign(t, k0, "RS256", nil, claims)

	c1, err := p.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.tokens.len() != 1 {
		t.Fatalf("cache len = %d, want 1", p.tokens.len())
	}
	c1.UserID = "mutated" // callers get copies; the cache must not change
	c2, err := p.Verify(context.Background(), tok)
	if err != nil || c2.UserID != "user_01" {
		t.Fatalf("cached Verify = %+v, %v", c2, err)
	}
	// Past exp+skew the cached entry must not be used.
	clk.Advance(10*time.Minute + 61*time.Second)
	if _, err := p.Verify(context.Background(), tok); err == nil || err.(*Error).Description != DescExpired {
		t.Fatalf("expired cached token: err = %v", err)
	}
	if p.tokens.len() != 0 {
		t.Fatalf("expired entry not evicted")
	}
}

func TestTokenCacheBounded(t *testing.T) {
	c := &tokenCache{m: map[[32]byte]cachedToken{}, max: 100}
	now := time.Now()
	for i := range 1000 {
		var k [32]byte
		k[0], k[1] = byte(i), byte(i>>8)
		c.put(k, cachedToken{exp: now.Add(time.Hour)}, 0, now, 0)
	}
	if n := c.len(); n > 100 {
		t.Fatalf("cache grew to %d entries, bound is 100", n)
	}
	// A put from before a purge must not resurrect stale results.
	gen := c.generation()
	c.purge()
	c.put([32]byte{9}, cachedToken{exp: now.Add(time.Hour)}, gen, now, 0)
	if c.len() != 0 {
		t.Fatal("stale-generation put was stored")
	}
}

func TestClaimsMapping(t *testing.T) {
	exp := time.Unix(1900000000, 0)
	tests := []struct {
		name   string
		claims map[string]any
		check  func(t *testing.T, c map[string]any, got callerView)
	}{
		{"full", map[string]any{
			"sub": "user_1", "email": "a@b.c", "name": "Ada", "preferred_username": "ada", "picture": "https://p/x.png",
			"roles": []any{"admin", "member"}, "permissions": []any{"docs:read", "docs:write"}, "scope": "openid  profile email",
			"email_verified": true, "org_id": "org_1", "sid": "s_1", "client_id": "c_1", "exp": float64(exp.Unix()),
		}, func(t *testing.T, _ map[string]any, g callerView) {
			want := callerView{"user_1", "a@b.c", "Ada", "ada", "https://p/x.png", "admin,member", "docs:read,docs:write", "openid,profile,email", true, "org_1", "s_1", "c_1"}
			if g != want {
				t.Fatalf("got %+v\nwant %+v", g, want)
			}
		}},
		{"role string", map[string]any{"sub": "u", "role": "member"}, func(t *testing.T, _ map[string]any, g callerView) {
			if g.Roles != "member" {
				t.Fatalf("Roles = %q", g.Roles)
			}
		}},
		{"role and roles merged", map[string]any{"sub": "u", "role": "owner", "roles": []any{"admin", "owner"}}, func(t *testing.T, _ map[string]any, g callerView) {
			if g.Roles != "admin,owner" {
				t.Fatalf("Roles = %q", g.Roles)
			}
		}},
		{"scp array", map[string]any{"sub": "u", "scp": []any{"a", "b"}}, func(t *testing.T, _ map[string]any, g callerView) {
			if g.Scopes != "a,b" {
				t.Fatalf("Scopes = %q", g.Scopes)
			}
		}},
		{"absent optional claims", map[string]any{"sub": "u"}, func(t *testing.T, _ map[string]any, g callerView) {
			if g != (callerView{UserID: "u"}) {
				t.Fatalf("got %+v", g)
			}
		}},
		{"wrongly typed optional claims", map[string]any{
			"sub": "u", "email": 5, "roles": "admin", "role": []any{"x"}, "permissions": "p", "scope": []any{"s"},
			"email_verified": "true", "org_id": map[string]any{}, "name": nil,
		}, func(t *testing.T, _ map[string]any, g callerView) {
			if g != (callerView{UserID: "u"}) {
				t.Fatalf("got %+v", g)
			}
		}},
		{"mixed arrays keep strings", map[string]any{"sub": "u", "roles": []any{"a", 1, nil, "b", ""}}, func(t *testing.T, _ map[string]any, g callerView) {
			if g.Roles != "a,b" {
				t.Fatalf("Roles = %q", g.Roles)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := callerFromClaims(tc.claims, exp)
			if c.ExpiresAt != exp {
				t.Fatalf("ExpiresAt = %v", c.ExpiresAt)
			}
			if len(c.Claims) != len(tc.claims) {
				t.Fatalf("Claims has %d entries, want %d", len(c.Claims), len(tc.claims))
			}
			tc.check(t, tc.claims, callerView{
				c.UserID, c.Email, c.Name, c.Username, c.Picture, strings.Join(c.Roles, ","), strings.Join(c.Permissions, ","),
				strings.Join(c.Scopes, ","), c.EmailVerified, c.OrganizationID, c.SessionID, c.ClientID,
			})
		})
	}
}

// callerView flattens a Caller into a comparable value.
type callerView struct {
	UserID, Email, Name, Username, Picture, Roles, Permissions, Scopes string
	EmailVerified                                                      bool
	OrganizationID, SessionID, ClientID                                string
}

func TestUnknownKidRefetch(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	kB := testKey{kid: "B", alg: "RS256", priv: rsaKey(t, 1)}
	d := newIDP(t, kA)
	clk := newClock()
	p := newProvider(t, d, func(c *Config) { c.Now = clk.Now; c.MinRefetchInterval = 30 * time.Second })
	tokB := sign(t, kB, "RS256", nil, claimsFor(d.issuer(), clk.Now()))
	if got := d.jwksHits.Load(); got != 1 {
		t.Fatalf("initial JWKS hits = %d, want 1", got)
	}

	// B is not published yet, and the initial fetch was just now: no refetch.
	if _, err := p.Verify(context.Background(), tokB); err == nil || err.(*Error).Description != DescUnknownKey {
		t.Fatalf("err = %v, want unknown signing key", err)
	}
	if got := d.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS hits = %d, want 1 (refetch inside MinRefetchInterval)", got)
	}

	// B appears (rotation). Still inside the interval: still refused, no fetch.
	d.setKeys(kA, kB)
	clk.Advance(10 * time.Second)
	if _, err := p.Verify(context.Background(), tokB); err == nil {
		t.Fatal("verified before the refetch interval elapsed")
	}
	if got := d.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS hits = %d, want 1", got)
	}

	// Once the interval has passed, the unknown kid triggers one refetch.
	clk.Advance(21 * time.Second)
	tokB = sign(t, kB, "RS256", nil, claimsFor(d.issuer(), clk.Now()))
	if _, err := p.Verify(context.Background(), tokB); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if got := d.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS hits = %d, want 2", got)
	}
}

func TestBogusKidFloodBoundsJWKSHits(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, kA)
	clk := newClock()
	p := newProvider(t, d, func(c *Config) { c.Now = clk.Now; c.MinRefetchInterval = 10 * time.Second })
	flood := func(round int) {
		var wg sync.WaitGroup
		for i := range 200 {
			bogus := testKey{kid: fmt.Sprintf("bogus-%d-%d", round, i), priv: rsaKey(t, 0)}
			tok := sign(t, bogus, "RS256", nil, claimsFor(d.issuer(), clk.Now()))
			wg.Go(func() {
				if _, err := p.Verify(context.Background(), tok); err == nil {
					t.Error("bogus kid verified")
				}
			})
		}
		wg.Wait()
	}
	flood(0)
	if got := d.jwksHits.Load(); got != 1 {
		t.Fatalf("after flood inside interval: JWKS hits = %d, want 1", got)
	}
	for round := 1; round <= 3; round++ {
		clk.Advance(11 * time.Second)
		flood(round)
		if got, want := d.jwksHits.Load(), int64(1+round); got != want {
			t.Fatalf("round %d: JWKS hits = %d, want %d (one refetch per interval)", round, got, want)
		}
	}
}

func TestKeyRemovedStopsVerifying(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	kB := testKey{kid: "B", alg: "RS256", priv: rsaKey(t, 1)}
	d := newIDP(t, kA, kB)
	p := newProvider(t, d, func(c *Config) { c.JWKSRefresh = 30 * time.Millisecond })
	tokB := sign(t, kB, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	tokA := sign(t, kA, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	if _, err := p.Verify(context.Background(), tokB); err != nil {
		t.Fatal(err)
	}
	d.setKeys(kA)
	eventually(t, "removed key to stop verifying (even though the token was cached)", func() bool {
		_, err := p.Verify(context.Background(), tokB)
		return err != nil && err.(*Error).Description == DescUnknownKey
	})
	if _, err := p.Verify(context.Background(), tokA); err != nil {
		t.Fatalf("remaining key: %v", err)
	}
}

func TestJWKSDownAtStartThenUp(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, kA)
	d.setJWKSStatus(http.StatusServiceUnavailable)
	logs := &syncBuffer{}
	p := newProvider(t, d, func(c *Config) {
		c.JWKSRefresh = 30 * time.Millisecond
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	if !strings.Contains(logs.String(), "starting degraded") {
		t.Fatalf("no degraded warning logged: %s", logs.String())
	}
	tok := sign(t, kA, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	// The 401 says why: no keys yet, not a key the token should not have used.
	if _, err := p.Verify(context.Background(), tok); err == nil || err.(*Error).Description != DescKeysUnavailable {
		t.Fatalf("while JWKS down: err = %v, want %q", err, DescKeysUnavailable)
	}
	if err := p.Ready(); err == nil || err.Error() != DescKeysUnavailable {
		t.Fatalf("Ready before the first JWKS load = %v", err)
	}
	hitsWhileDown := d.jwksHits.Load()
	d.setJWKSStatus(0)
	eventually(t, "keys to load after JWKS recovers", func() bool {
		_, err := p.Verify(context.Background(), tok)
		return err == nil
	})
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready after the JWKS loaded = %v", err)
	}
	// Keys once loaded stay through a later outage, and so does readiness.
	d.setJWKSStatus(http.StatusServiceUnavailable)
	before := d.jwksHits.Load()
	eventually(t, "a failed background refresh", func() bool { return d.jwksHits.Load() > before })
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready after a failed refresh = %v", err)
	}
	if d.jwksHits.Load() <= hitsWhileDown {
		t.Fatal("no retry happened")
	}
}

func TestJWKSDownLaterKeepsCachedKeys(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, kA)
	p := newProvider(t, d, func(c *Config) { c.JWKSRefresh = 20 * time.Millisecond; c.MinRefetchInterval = time.Millisecond })
	d.setJWKSStatus(http.StatusInternalServerError)
	before := d.jwksHits.Load()
	eventually(t, "background refresh attempts against the failing JWKS", func() bool { return d.jwksHits.Load() >= before+2 })
	// A fresh token (not in the verified cache) still verifies with cached keys.
	for i := range 3 {
		c := claimsFor(d.issuer(), time.Now())
		c["jti"] = fmt.Sprint("fresh-", i)
		if _, err := p.Verify(context.Background(), sign(t, kA, "RS256", nil, c)); err != nil {
			t.Fatalf("cached key stopped working while AuthKit is down: %v", err)
		}
	}
	// The server also serving garbage must not wipe the keys either.
	d.setJWKSStatus(garbageStatus)
	before = d.jwksHits.Load()
	eventually(t, "refreshes against the garbage JWKS", func() bool { return d.jwksHits.Load() >= before+2 })
	c := claimsFor(d.issuer(), time.Now())
	c["jti"] = "after-garbage"
	if _, err := p.Verify(context.Background(), sign(t, kA, "RS256", nil, c)); err != nil {
		t.Fatalf("garbage JWKS wiped keys: %v", err)
	}
}

func TestCloseStopsBackgroundRefresh(t *testing.T) {
	d := newIDP(t, testKey{kid: "A", priv: rsaKey(t, 0)})
	p := newProvider(t, d, func(c *Config) { c.JWKSRefresh = 10 * time.Millisecond })
	eventually(t, "background refresh", func() bool { return d.jwksHits.Load() >= 3 })
	_ = p.Close()
	_ = p.Close() // idempotent
	n := d.jwksHits.Load()
	// Proving that nothing happens takes time: eight refresh intervals. One
	// request cancelled by Close may still reach the server after it returns;
	// a refresh loop still running would make about eight.
	time.Sleep(80 * time.Millisecond)
	if got := d.jwksHits.Load(); got > n+1 {
		t.Fatalf("JWKS hit %d more times after Close", got-n)
	}
}

func TestVerifyJWTFalse(t *testing.T) {
	d := newIDP(t)
	logs := &syncBuffer{}
	clk := newClock()
	p, err := New(context.Background(), Config{Domain: d.issuer(), Now: clk.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if d.jwksHits.Load() != 0 {
		t.Fatal("JWKS fetched although verification is off")
	}
	unsigned := func(claims map[string]any) string {
		cb, _ := json.Marshal(claims)
		return b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + b64.EncodeToString(cb) + "."
	}
	now := clk.Now()
	tests := []struct {
		name   string
		claims map[string]any
		want   string
	}{
		{"any issuer and audience", map[string]any{"sub": "u1", "iss": "whoever", "aud": "x", "role": "admin", "exp": now.Add(time.Hour).Unix()}, ""},
		{"no exp accepted", map[string]any{"sub": "u1"}, ""},
		{"missing sub", map[string]any{"email": "a@b"}, DescMissingSub},
		{"expired", map[string]any{"sub": "u1", "exp": now.Add(-time.Hour).Unix()}, DescExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := p.Verify(context.Background(), unsigned(tc.claims))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.UserID != "u1" {
					t.Fatalf("UserID = %q", c.UserID)
				}
				return
			}
			if err == nil || err.(*Error).Description != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	if n := strings.Count(logs.String(), "without signature verification"); n != len(tests) {
		t.Fatalf("per-request warning logged %d times, want %d", n, len(tests))
	}
	if !strings.Contains(logs.String(), "never use this outside local development") {
		t.Fatal("no startup warning")
	}
}

func TestParseJWKRejects(t *testing.T) {
	small, _ := rsaGenSmall()
	tests := []struct {
		name string
		jwk  string
	}{
		{"oct", `{"kty":"oct","kid":"h","k":"c2VjcmV0"}`},
		{"no kid", `{"kty":"RSA","n":"AQAB","e":"AQAB"}`},
		{"enc use", `{"kty":"RSA","kid":"a","use":"enc","n":"AQAB","e":"AQAB"}`},
		{"key_ops without verify", `{"kty":"RSA","kid":"a","key_ops":["encrypt"],"n":"AQAB","e":"AQAB"}`},
		{"small rsa", small},
		{"alg mismatch", func() string {
			m := testKey{kid: "x", alg: "ES256", priv: rsaKey(t, 0)}.jwk()
			b, _ := json.Marshal(m)
			return string(b)
		}()},
		{"bad ec point", `{"kty":"EC","kid":"e","crv":"P-256","x":"` + b64.EncodeToString(make([]byte, 32)) + `","y":"` + b64.EncodeToString(make([]byte, 32)) + `"}`},
		{"unknown curve", `{"kty":"EC","kid":"e","crv":"secp256k1","x":"AA","y":"AA"}`},
		{"ed448", `{"kty":"OKP","kid":"e","crv":"Ed448","x":"AA"}`},
		{"not json", `nope`},
	}
	for _, tc := range tests {
		if _, err := parseJWK([]byte(tc.jwk)); err == nil {
			t.Errorf("%s: parseJWK accepted %s", tc.name, tc.jwk)
		}
	}
}

// rsaGenSmall returns the JWK of a 1024-bit key, below our minimum.
func rsaGenSmall() (string, error) {
	k, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(testKey{kid: "small", priv: k}.jwk())
	return string(b), nil
}
