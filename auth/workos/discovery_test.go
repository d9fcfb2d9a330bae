package workos

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve sends one request to the provider's discovery routes.
func serve(p *Provider, method, path string) *httptest.ResponseRecorder {
	mux := http.NewServeMux()
	p.RegisterDiscovery(mux)
	r := httptest.NewRequest(method, path, nil)
	r.Host = "mcp.local:8080"
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w
}

func TestProtectedResourceMetadata(t *testing.T) {
	d := newIDP(t)
	p := newProvider(t, d, func(c *Config) {
		c.ResourceName = "Acme MCP"
		c.RequiredScopes = []string{"docs:read"}
	})
	want := map[string]any{
		"resource":                 "http://mcp.local:8080/mcp",
		"authorization_servers":    []any{d.issuer()},
		"scopes_supported":         []any{"email", "offline_access", "openid", "profile", "docs:read"},
		"bearer_methods_supported": []any{"header"},
		"resource_name":            "Acme MCP",
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
		t.Run(path, func(t *testing.T) {
			w := serve(p, http.MethodGet, path)
			if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("status %d headers %v", w.Code, w.Header())
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %v\nwant %v", got, want)
			}
		})
	}
	t.Run("custom MCP path", func(t *testing.T) {
		p2 := newProvider(t, d, func(c *Config) { c.MCPPath = "/api/mcp" })
		w := serve(p2, http.MethodGet, "/.well-known/oauth-protected-resource/api/mcp")
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"resource":"http://mcp.local:8080/api/mcp"`) {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := serve(p2, http.MethodGet, "/.well-known/oauth-protected-resource/mcp"); w.Code != 404 {
			t.Fatalf("default path still served: %d", w.Code)
		}
	})
}

func TestDiscoveryMethods(t *testing.T) {
	d := newIDP(t)
	p := newProvider(t, d, nil)
	paths := []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp",
		"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"}
	tests := []struct {
		method string
		status int
		check  func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{http.MethodGet, 200, func(t *testing.T, w *httptest.ResponseRecorder) {
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("invalid JSON %s", w.Body)
			}
		}},
		{http.MethodHead, 200, nil},
		{http.MethodOptions, 204, func(t *testing.T, w *httptest.ResponseRecorder) {
			if w.Header().Get("Access-Control-Allow-Methods") != "GET, HEAD, OPTIONS" ||
				!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version") {
				t.Fatalf("preflight headers %v", w.Header())
			}
		}},
		{http.MethodPost, 405, func(t *testing.T, w *httptest.ResponseRecorder) {
			if w.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
				t.Fatalf("Allow = %q", w.Header().Get("Allow"))
			}
		}},
		{http.MethodDelete, 405, nil},
	}
	for _, path := range paths {
		for _, tc := range tests {
			t.Run(tc.method+path, func(t *testing.T) {
				w := serve(p, tc.method, path)
				if w.Code != tc.status {
					t.Fatalf("status = %d, want %d", w.Code, tc.status)
				}
				if w.Header().Get("Access-Control-Allow-Origin") != "*" {
					t.Fatal("missing CORS header")
				}
				if tc.check != nil {
					tc.check(t, w)
				}
			})
		}
	}
}

func getJSON(t *testing.T, p *Provider, path string) (map[string]any, string) {
	t.Helper()
	w := serve(p, http.MethodGet, path)
	if w.Code != 200 {
		t.Fatalf("GET %s: status %d", path, w.Code)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return m, w.Body.String()
}

func TestMetadataPassthroughAndStale(t *testing.T) {
	d := newIDP(t)
	clk := newClock()
	p := newProvider(t, d, func(c *Config) { c.Now = clk.Now; c.MetadataTTL = time.Minute })

	m, raw := getJSON(t, p, asMetadataPath)
	if m["registration_endpoint"] != d.issuer()+"/oauth2/register" || m["x_custom"] != "kept" {
		t.Fatalf("passthrough lost members: %s", raw)
	}
	if _, raw2 := getJSON(t, p, asMetadataPath); raw2 != raw {
		t.Fatal("cached body differs")
	}
	if got := d.metaHits.Load(); got != 1 {
		t.Fatalf("upstream hits = %d, want 1 (cached within TTL)", got)
	}
	// openid-configuration is a separate upstream document.
	getJSON(t, p, oidcMetadataPath)
	if got := d.metaHits.Load(); got != 2 {
		t.Fatalf("upstream hits = %d, want 2", got)
	}

	// Expired and upstream failing: the stale copy is served, never an error.
	d.setMeta(http.StatusInternalServerError, 0)
	clk.Advance(2 * time.Minute)
	for range 3 {
		if _, raw3 := getJSON(t, p, asMetadataPath); raw3 != raw {
			t.Fatalf("stale copy not served: %s", raw3)
		}
	}
	// Wait for the failed attempt to be recorded, not just to reach upstream:
	// otherwise its lastFail can land after the Advance below and the retry
	// window would never elapse on the frozen clock.
	e := p.meta[asMetadataPath]
	eventually(t, "background refresh attempt", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return d.metaHits.Load() >= 3 && e.inflight == nil && !e.lastFail.IsZero()
	})

	// Upstream recovers with a new document: after the retry window the next
	// request triggers a refresh and later requests see the new document.
	d.mu.Lock()
	d.metaBody[asMetadataPath] = `{"issuer":"` + d.issuer() + `","v":2}`
	d.mu.Unlock()
	d.setMeta(0, 0)
	clk.Advance(2 * time.Minute)
	eventually(t, "refreshed document", func() bool {
		m, _ := getJSON(t, p, asMetadataPath)
		return m["v"] == float64(2)
	})
}

func TestMetadataFallbackWhenNeverAnswered(t *testing.T) {
	d := newIDP(t)
	d.setMeta(http.StatusServiceUnavailable, 0)
	clk := newClock()
	p := newProvider(t, d, func(c *Config) { c.Now = clk.Now; c.RequiredScopes = []string{"docs:read"} })
	iss := d.issuer()
	wantAS := map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                iss + "/oauth2/authorize",
		"token_endpoint":                        iss + "/oauth2/token",
		"registration_endpoint":                 iss + "/oauth2/register",
		"jwks_uri":                              iss + "/oauth2/jwks",
		"response_types_supported":              []any{"code"},
		"grant_types_supported":                 []any{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []any{"S256"},
		"token_endpoint_auth_methods_supported": []any{"none", "client_secret_post", "client_secret_basic"},
		"scopes_supported":                      []any{"email", "offline_access", "openid", "profile", "docs:read"},
	}
	m, raw := getJSON(t, p, asMetadataPath)
	if !reflect.DeepEqual(m, wantAS) {
		t.Fatalf("fallback:\n got %v\nwant %v", m, wantAS)
	}
	if strings.Contains(raw, "secret-internal-detail") {
		t.Fatal("upstream error leaked")
	}
	oidc, _ := getJSON(t, p, oidcMetadataPath)
	if oidc["jwks_uri"] != iss+"/oauth2/jwks" || oidc["subject_types_supported"] == nil {
		t.Fatalf("oidc fallback: %v", oidc)
	}
	// A failed fetch is not retried on every request.
	hits := d.metaHits.Load()
	for range 5 {
		getJSON(t, p, asMetadataPath)
	}
	if d.metaHits.Load() != hits {
		t.Fatalf("upstream hammered after failure: %d -> %d", hits, d.metaHits.Load())
	}
	// Upstream recovers; after the retry window the real document is used.
	d.setMeta(0, 0)
	clk.Advance(31 * time.Second)
	m, _ = getJSON(t, p, asMetadataPath)
	if m["x_custom"] != "kept" {
		t.Fatalf("recovered upstream not used: %v", m)
	}
}

func TestMetadataBadUpstreams(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"not json", "<html>login</html>"},
		{"json array", `["x"]`},
		{"json null", `null`},
		{"oversized", `{"a":"` + strings.Repeat("x", maxMetadataBytes) + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newIDP(t)
			d.metaBody[asMetadataPath] = tc.body
			p := newProvider(t, d, nil)
			m, _ := getJSON(t, p, asMetadataPath)
			if m["authorization_endpoint"] != d.issuer()+"/oauth2/authorize" {
				t.Fatalf("no fallback: %v", m)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		p, err := New(context.Background(), Config{Domain: "http://" + addr, VerifyJWT: true, Audiences: []string{testAud}, Logger: quietLogger()})
		if err != nil {
			t.Fatalf("New must not fail when AuthKit is unreachable: %v", err)
		}
		defer p.Close()
		m, _ := getJSON(t, p, asMetadataPath)
		if m["issuer"] != "http://"+addr {
			t.Fatalf("fallback: %v", m)
		}
	})
}

func TestMetadataConcurrentRequestsShareOneFetch(t *testing.T) {
	d := newIDP(t)
	d.setMeta(0, 200*time.Millisecond)
	p := newProvider(t, d, nil)
	mux := http.NewServeMux()
	p.RegisterDiscovery(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var wg sync.WaitGroup
	bodies := make([]string, 20)
	for i := range bodies {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + asMetadataPath)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			bodies[i] = string(b)
		})
	}
	wg.Wait()
	if got := d.metaHits.Load(); got != 1 {
		t.Fatalf("upstream hits = %d, want 1", got)
	}
	for _, b := range bodies {
		if !strings.Contains(b, `"x_custom":"kept"`) {
			t.Fatalf("a waiter got %q", b)
		}
	}
}

func TestMetadataSelfFetchDoesNotLoop(t *testing.T) {
	// The issuer is this very server (a dev issuer on the host's origin) and
	// nothing else serves the metadata: the passthrough must not recurse.
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	p, err := New(context.Background(), Config{Domain: "http://" + srv.Listener.Addr().String(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.RegisterDiscovery(mux)
	srv.Start()
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL + asMetadataPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d err %v", resp.StatusCode, err)
	}
	if m["jwks_uri"] != srv.URL+"/oauth2/jwks" {
		t.Fatalf("doc = %v", m)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("self-fetch took %v: it waited on itself", time.Since(start))
	}
}

func TestStaticMetadata(t *testing.T) {
	d := newIDP(t)
	p := newProvider(t, d, func(c *Config) {
		c.StaticMetadata = map[string]any{"issuer": d.issuer(), "jwks_uri": d.issuer() + "/oauth2/jwks"}
	})
	for _, path := range []string{asMetadataPath, oidcMetadataPath} {
		m, _ := getJSON(t, p, path)
		if len(m) != 2 || m["issuer"] != d.issuer() {
			t.Fatalf("%s: %v", path, m)
		}
	}
	if d.metaHits.Load() != 0 {
		t.Fatal("upstream fetched despite StaticMetadata")
	}
}
