package workos

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// gateResult is what one request through the gate produced.
type gateResult struct {
	status int
	header http.Header
	body   string
	caller *auth.Caller
}

func runGate(p *Provider, mutate func(r *http.Request)) gateResult {
	var got *auth.Caller
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = auth.CallerFromContext(r.Context())
		w.WriteHeader(http.StatusOK)
	}))
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{}`))
	r.Host = "mcp.local:8080"
	r.RemoteAddr = "203.0.113.7:5555"
	if mutate != nil {
		mutate(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return gateResult{w.Code, w.Header(), w.Body.String(), got}
}

func TestMiddleware(t *testing.T) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, k0)
	p := newProvider(t, d, nil)
	pScoped := newProvider(t, d, func(c *Config) { c.RequiredScopes = []string{"docs:read", "openid"} })
	now := time.Now()
	valid := sign(t, k0, "RS256", nil, claimsFor(d.issuer(), now))
	withDocs := func() string {
		c := claimsFor(d.issuer(), now)
		c["scope"] = "openid docs:read"
		return sign(t, k0, "RS256", nil, c)
	}()
	expired := func() string {
		c := claimsFor(d.issuer(), now)
		c["exp"] = now.Add(-time.Hour).Unix()
		return sign(t, k0, "RS256", nil, c)
	}()

	const rm = `resource_metadata="http://mcp.local:8080/.well-known/oauth-protected-resource/mcp"`
	const missing = `Bearer ` + rm + `, scope="email offline_access openid profile"`
	invalid := func(desc string) string {
		return `Bearer error="invalid_token", error_description="` + desc + `", ` + rm
	}
	tests := []struct {
		name     string
		p        *Provider
		auth     []string
		status   int
		wwwAuth  string
		bodyErr  string
		wantUser string
	}{
		{"no header", p, nil, 401, missing, "unauthorized", ""},
		{"basic scheme", p, []string{"Basic dXNlcjpwdw=="}, 401, missing, "unauthorized", ""},
		{"bearer without token", p, []string{"Bearer"}, 401, invalid("malformed token"), "invalid_token", ""},
		{"bearer with spaces only", p, []string{"Bearer    "}, 401, invalid("malformed token"), "invalid_token", ""},
		{"bearer non-b64token", p, []string{`Bearer a"b`}, 401, invalid("malformed token"), "invalid_token", ""},
		{"bearer garbage token", p, []string{"Bearer abc.def.ghi"}, 401, invalid("malformed token"), "invalid_token", ""},
		{"two authorization headers", p, []string{"Bearer " + valid, "Bearer " + valid}, 401, invalid("malformed token"), "invalid_token", ""},
		{"expired", p, []string{"Bearer " + expired}, 401, invalid("token expired"), "invalid_token", ""},
		{"valid", p, []string{"Bearer " + valid}, 200, "", "", "user_01"},
		{"scheme lower case", p, []string{"bearer " + valid}, 200, "", "", "user_01"},
		{"scheme upper case extra spaces", p, []string{"BEARER   " + valid + " "}, 200, "", "", "user_01"},
		{"missing with required scopes", pScoped, nil, 401,
			`Bearer ` + rm + `, scope="email offline_access openid profile docs:read"`, "unauthorized", ""},
		{"insufficient scope", pScoped, []string{"Bearer " + valid}, 403,
			`Bearer error="insufficient_scope", scope="docs:read openid", ` + rm, "insufficient_scope", ""},
		{"sufficient scope", pScoped, []string{"Bearer " + withDocs}, 200, "", "", "user_01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runGate(tc.p, func(r *http.Request) {
				for _, v := range tc.auth {
					r.Header.Add("Authorization", v)
				}
			})
			if res.status != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", res.status, tc.status, res.body)
			}
			if tc.status == 200 {
				if res.caller == nil || res.caller.UserID != tc.wantUser {
					t.Fatalf("caller = %+v", res.caller)
				}
				if res.header.Get("WWW-Authenticate") != "" {
					t.Fatal("challenge on success")
				}
				return
			}
			if res.caller != nil {
				t.Fatal("next handler ran for a rejected request")
			}
			if got := res.header.Get("WWW-Authenticate"); got != tc.wwwAuth {
				t.Fatalf("WWW-Authenticate:\n got %s\nwant %s", got, tc.wwwAuth)
			}
			if got := res.header.Get("Access-Control-Expose-Headers"); got != "WWW-Authenticate" {
				t.Fatalf("Access-Control-Expose-Headers = %q", got)
			}
			if got := res.header.Get("Content-Type"); got != "application/json" {
				t.Fatalf("Content-Type = %q", got)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(res.body), &body); err != nil {
				t.Fatalf("body %q: %v", res.body, err)
			}
			if body["error"] != tc.bodyErr || body["error_description"] == "" || len(body) != 2 {
				t.Fatalf("body = %v", body)
			}
		})
	}
}

func TestMiddlewareNeverLeaksInternals(t *testing.T) {
	// JWKS down: the internal cause mentions the upstream status and body;
	// the client must only see the fixed description.
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, k0)
	d.setJWKSStatus(http.StatusBadGateway)
	p := newProvider(t, d, nil)
	tok := sign(t, k0, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	res := runGate(p, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) })
	if res.status != 401 {
		t.Fatalf("status = %d", res.status)
	}
	all := res.body + res.header.Get("WWW-Authenticate")
	for _, leak := range []string{"secret-internal-detail", "502", "k0", d.issuer() + "/oauth2"} {
		if strings.Contains(all, leak) {
			t.Fatalf("response leaks %q: %s", leak, all)
		}
	}
	if !strings.Contains(res.header.Get("WWW-Authenticate"), `error_description="signing keys unavailable"`) {
		t.Fatalf("WWW-Authenticate = %s", res.header.Get("WWW-Authenticate"))
	}
}

func TestMiddlewareOrigin(t *testing.T) {
	d := newIDP(t, testKey{kid: "k0", priv: rsaKey(t, 0)})
	proxies := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	tests := []struct {
		name   string
		pu     auth.PublicURL
		path   string
		remote string
		hdr    map[string]string
		want   string
	}{
		{"listen address", auth.PublicURL{Listen: "mcp.local:8080"}, "", "203.0.113.1:1", nil,
			"http://mcp.local:8080/.well-known/oauth-protected-resource/mcp"},
		{"configured base", auth.PublicURL{Base: "https://mcp.example.com"}, "", "203.0.113.1:1", nil,
			"https://mcp.example.com/.well-known/oauth-protected-resource/mcp"},
		{"custom mcp path", auth.PublicURL{Listen: "mcp.local:8080"}, "/api/v1/mcp", "203.0.113.1:1", nil,
			"http://mcp.local:8080/.well-known/oauth-protected-resource/api/v1/mcp"},
		{"root mcp path", auth.PublicURL{Listen: "mcp.local:8080"}, "/", "203.0.113.1:1", nil,
			"http://mcp.local:8080/.well-known/oauth-protected-resource"},
		{"trusted proxy", auth.PublicURL{TrustedProxies: proxies}, "", "192.0.2.10:1",
			map[string]string{"X-Forwarded-Host": "pub.example.com", "X-Forwarded-Proto": "https"},
			"https://pub.example.com/.well-known/oauth-protected-resource/mcp"},
		{"spoof from untrusted peer", auth.PublicURL{Listen: "mcp.local:8080", TrustedProxies: proxies}, "", "198.51.100.1:1",
			map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"},
			"http://mcp.local:8080/.well-known/oauth-protected-resource/mcp"},
		{"quote injection via trusted proxy", auth.PublicURL{Listen: "mcp.local:8080", TrustedProxies: proxies}, "", "192.0.2.10:1",
			map[string]string{"X-Forwarded-Host": `x", error="evil`},
			"http://mcp.local:8080/.well-known/oauth-protected-resource/mcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t, d, func(c *Config) { c.PublicURL = tc.pu; c.MCPPath = tc.path })
			res := runGate(p, func(r *http.Request) {
				r.RemoteAddr = tc.remote
				for k, v := range tc.hdr {
					r.Header.Set(k, v)
				}
			})
			want := `Bearer resource_metadata="` + tc.want + `", scope="email offline_access openid profile"`
			if got := res.header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		"plain":                 `"plain"`,
		`a"b`:                   `"a\"b"`,
		`back\slash`:            `"back\\slash"`,
		"crlf\r\nSet-Cookie: x": `"crlfSet-Cookie: x"`,
		"tab\tok":               "\"tab\tok\"",
		"non-ascii é\x00\x7f":   `"non-ascii "`,
	}
	for in, want := range tests {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		hdr   []string
		token string
		state credState
	}{
		{nil, "", noCredential},
		{[]string{""}, "", noCredential},
		{[]string{"Basic x"}, "", noCredential},
		{[]string{"Bearerx abc"}, "", noCredential},
		{[]string{"Bearer abc"}, "abc", haveCredential},
		{[]string{"  bEaReR   abc==  "}, "abc==", haveCredential},
		{[]string{"Bearer a-b.c_d~e+f/g="}, "a-b.c_d~e+f/g=", haveCredential},
		{[]string{"Bearer ="}, "", badCredential},
		{[]string{"Bearer a=b"}, "", badCredential},
		{[]string{"Bearer a b"}, "", badCredential},
		{[]string{"Bearer a", "Bearer b"}, "", badCredential},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		for _, v := range tc.hdr {
			r.Header.Add("Authorization", v)
		}
		tok, st := bearerToken(r)
		if tok != tc.token || st != tc.state {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tc.hdr, tok, st, tc.token, tc.state)
		}
	}
}

func TestVerifyContextCancelled(t *testing.T) {
	// A request that gives up while waiting for a JWKS refetch gets a clean
	// rejection, not a hang or a panic.
	d := newIDP(t, testKey{kid: "A", priv: rsaKey(t, 0)})
	p := newProvider(t, d, func(c *Config) { c.MinRefetchInterval = time.Nanosecond })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok := sign(t, testKey{kid: "unknown", priv: rsaKey(t, 0)}, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	if _, err := p.Verify(ctx, tok); err == nil || err.(*Error).Description != DescUnknownKey {
		t.Fatalf("err = %v", err)
	}
}

// TestIsB64Token: RFC 6750's b64token, 1*(ALPHA / DIGIT / "-" / "." / "_" /
// "~" / "+" / "/") *"=".
func TestIsB64Token(t *testing.T) {
	for s, want := range map[string]bool{
		"abcXYZ019-._~+/": true, "eyJ.eyJ.sig": true, "abc==": true, "a=": true,
		"": false, "=": false, "==abc": false, "ab=c": false, "a b": false, "a\"b": false,
		"a\x00": false, "a\xff": false, "a,b": false, "a\tb": false, "a%20": false,
	} {
		if got := isB64Token(s); got != want {
			t.Errorf("isB64Token(%q) = %v, want %v", s, got, want)
		}
	}
}
