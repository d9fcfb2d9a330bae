package host_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/workos"
	"github.com/mcphost/mcphost/host"
)

// TestReadyzWaitsForSigningKeys: with the issuer's JWKS unreachable since
// startup no token can be verified, so the replica is not ready; once the keys
// load it is.
func TestReadyzWaitsForSigningKeys(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var up atomic.Bool
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth2/jwks" || !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
			"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(issuer.Close)
	p, err := workos.New(context.Background(), workos.Config{
		Domain: issuer.URL, VerifyJWT: true, Audiences: []string{"http://127.0.0.1/mcp"},
		JWKSRefresh: 50 * time.Millisecond, Logger: testLogger(t),
		PublicURL: auth.PublicURL{Listen: "127.0.0.1:8080"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	r := startHost(t, basicYAML, host.ServerOptions{Gate: p})

	readyz := func() (int, map[string]any) {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, body := readyz(); code != http.StatusServiceUnavailable || body["auth"] != "signing keys unavailable" {
		t.Fatalf("/readyz before the keys loaded: %d %v", code, body)
	}
	up.Store(true)
	eventually(t, 10*time.Second, "/readyz to turn 200 once the keys load", func() bool {
		code, body := readyz()
		return code == http.StatusOK && body["auth"] == "ok"
	})
}

// TestReadyzDetailsOnlyForLoopback: /readyz names plugin versions, PIDs and
// checksums only to a peer on this machine that is not a proxy for another.
func TestReadyzDetailsOnlyForLoopback(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	for _, tc := range []struct {
		peer      string
		forwarded bool
		detail    bool
	}{{"127.0.0.1:5555", false, true}, {"[::1]:5555", false, true}, {"192.0.2.7:5555", false, false}, {"127.0.0.1:5555", true, false}} {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		req.RemoteAddr = tc.peer
		if tc.forwarded { // a proxy on this machine: the real client is elsewhere
			req.Header.Set("X-Forwarded-For", "198.51.100.4")
		}
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `"ready":true`) {
			t.Fatalf("%s: %d %s", tc.peer, rec.Code, body)
		}
		if got := strings.Contains(body, `"sha256"`); got != tc.detail {
			t.Errorf("%s: plugin details shown = %v, want %v: %s", tc.peer, got, tc.detail, body)
		}
	}
}
