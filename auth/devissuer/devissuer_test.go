package devissuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/workos"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestOpenCreatesAndReusesKey(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "dev-issuer", "signing-key.pem")
	if m := mode(t, keyPath); m != 0o600 {
		t.Fatalf("key file mode %o, want 600", m)
	}
	if m := mode(t, filepath.Join(dir, "dev-issuer")); m != 0o700 {
		t.Fatalf("dir mode %o, want 700", m)
	}
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.KeyID() != b.KeyID() || a.KeyID() == "" {
		t.Fatalf("key not reused: %q vs %q", a.KeyID(), b.KeyID())
	}
	if !reflect.DeepEqual(a.JWKS(), b.JWKS()) {
		t.Fatal("JWKS differs across Open")
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "dev-issuer"))
	if len(entries) != 1 {
		t.Fatalf("leftover files: %v", entries)
	}
}

func TestOpenModes(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "dev-issuer")
	keyPath := filepath.Join(sub, "signing-key.pem")
	// A directory others can list is tightened; the key inside stays private.
	_ = os.Chmod(sub, 0o755)
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	if mode(t, sub) != 0o700 || mode(t, keyPath) != 0o600 {
		t.Fatalf("modes: dir %o file %o", mode(t, sub), mode(t, keyPath))
	}
	// A key others could read may have been copied: refuse it, say what to do.
	_ = os.Chmod(keyPath, 0o644)
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "accessible to other users (mode 0644)") || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("Open with a 0644 key: %v", err)
	}
	if mode(t, keyPath) != 0o644 {
		t.Fatal("the refused key's mode was changed")
	}
}

func TestOpenRejectsBadKeyFiles(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	tests := map[string][]byte{
		"not pem":   []byte("hello"),
		"wrong pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"bad der":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"small key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallDER}),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			_ = os.MkdirAll(filepath.Join(dir, "dev-issuer"), 0o700)
			_ = os.WriteFile(filepath.Join(dir, "dev-issuer", "signing-key.pem"), data, 0o600)
			if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "dev issuer") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	t.Run("pkcs1 accepted", func(t *testing.T) {
		dir := t.TempDir()
		k, _ := rsa.GenerateKey(rand.Reader, 2048)
		_ = os.MkdirAll(filepath.Join(dir, "dev-issuer"), 0o700)
		_ = os.WriteFile(filepath.Join(dir, "dev-issuer", "signing-key.pem"),
			pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600)
		i, err := Open(dir)
		if err != nil || i.KeyID() != thumbprint(&k.PublicKey) {
			t.Fatalf("Open: %v", err)
		}
	})
}

func TestOpenConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	kids := make([]string, 8)
	for n := range kids {
		wg.Go(func() {
			i, err := Open(dir)
			if err != nil {
				t.Error(err)
				return
			}
			kids[n] = i.KeyID()
		})
	}
	wg.Wait()
	for _, k := range kids {
		if k != kids[0] {
			t.Fatalf("racing Open calls ended with different keys: %v", kids)
		}
	}
}

// TestHelperOpen is run as a subprocess by TestOpenConcurrentProcesses.
func TestHelperOpen(t *testing.T) {
	dir := os.Getenv("DEVISSUER_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	i, err := Open(dir)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("KID", i.KeyID())
}

func TestOpenConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	outs := make([]string, 4)
	for n := range outs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$", "-test.count=1")
			cmd.Env = append(os.Environ(), "DEVISSUER_HELPER_DIR="+dir)
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("helper: %v %s", err, out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if kid, ok := strings.CutPrefix(line, "KID "); ok {
					outs[n] = kid
				}
			}
		})
	}
	wg.Wait()
	i, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range outs {
		if k != i.KeyID() {
			t.Fatalf("processes disagree on the key: %v, file has %s", outs, i.KeyID())
		}
	}
}

func TestThumbprintRFC7638Vector(t *testing.T) {
	// RFC 7638 §3.1 example key and its published thumbprint.
	n, _ := b64.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	got := thumbprint(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537})
	if want := "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("thumbprint = %s, want %s", got, want)
	}
}

func TestJWKSIsPublicOnly(t *testing.T) {
	i, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(i.JWKS(), &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", i.JWKS(), err)
	}
	k := doc.Keys[0]
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] != i.KeyID() || k["e"] != "AQAB" {
		t.Fatalf("JWK = %v", k)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Fatalf("JWKS leaks private member %q", private)
		}
	}
}

func decodeClaims(t *testing.T, tok string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var h, c map[string]any
	hb, _ := b64.DecodeString(parts[0])
	cb, _ := b64.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		t.Fatal("undecodable token")
	}
	return h, c
}

func TestMint(t *testing.T) {
	i, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fixed := time.Unix(1_800_000_000, 0)
	i.now = func() time.Time { return fixed }

	t.Run("full", func(t *testing.T) {
		tok, err := i.Mint(TokenRequest{
			Issuer: "http://127.0.0.1:9/", Subject: "user_1", Email: "a@b.c", Name: "Ada", Org: "org_1",
			Roles: []string{"admin", "member"}, Permissions: []string{"docs:read"}, Scopes: []string{"openid", "docs:read"},
			Audience: []string{"https://mcp/mcp"}, TTL: 5 * time.Minute, SessionID: "s1", ClientID: "c1",
		})
		if err != nil {
			t.Fatal(err)
		}
		h, c := decodeClaims(t, tok)
		if h["alg"] != "RS256" || h["kid"] != i.KeyID() {
			t.Fatalf("header = %v", h)
		}
		want := map[string]any{
			"iss": "http://127.0.0.1:9", "sub": "user_1", "aud": "https://mcp/mcp",
			"iat": float64(fixed.Unix()), "nbf": float64(fixed.Unix()), "exp": float64(fixed.Add(5 * time.Minute).Unix()),
			"sid": "s1", "client_id": "c1", "scope": "openid docs:read", "org_id": "org_1",
			"roles": []any{"admin", "member"}, "role": "admin", "permissions": []any{"docs:read"},
			"email": "a@b.c", "email_verified": true, "name": "Ada", "jti": c["jti"],
		}
		if !reflect.DeepEqual(c, want) {
			t.Fatalf("claims:\n got %v\nwant %v", c, want)
		}
		if s, _ := c["jti"].(string); len(s) < 16 {
			t.Fatalf("jti = %v", c["jti"])
		}
	})
	t.Run("defaults and omissions", func(t *testing.T) {
		tok, err := i.Mint(TokenRequest{Issuer: "http://127.0.0.1:9", Subject: "u", Audience: []string{"a", "b"}})
		if err != nil {
			t.Fatal(err)
		}
		_, c := decodeClaims(t, tok)
		if c["client_id"] != "mcphost-dev" || c["scope"] != "email offline_access openid profile" ||
			c["exp"] != float64(fixed.Add(time.Hour).Unix()) || !reflect.DeepEqual(c["aud"], []any{"a", "b"}) {
			t.Fatalf("claims = %v", c)
		}
		if sid, _ := c["sid"].(string); sid == "" {
			t.Fatal("no random sid")
		}
		for _, absent := range []string{"org_id", "roles", "role", "permissions", "email", "email_verified", "name"} {
			if _, ok := c[absent]; ok {
				t.Fatalf("%s present although not requested", absent)
			}
		}
		tok2, _ := i.Mint(TokenRequest{Issuer: "http://127.0.0.1:9", Subject: "u"})
		_, c2 := decodeClaims(t, tok2)
		if c2["jti"] == c["jti"] || c2["sid"] == c["sid"] {
			t.Fatal("jti/sid not random")
		}
		if _, ok := c2["aud"]; ok {
			t.Fatal("aud present without audience")
		}
	})
	for name, req := range map[string]TokenRequest{
		"missing subject": {Issuer: "http://127.0.0.1:9"},
		"missing issuer":  {Subject: "u"},
		"negative ttl":    {Issuer: "http://127.0.0.1:9", Subject: "u", TTL: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := i.Mint(req); err == nil {
				t.Fatal("Mint succeeded")
			}
		})
	}
}

// TestMintedTokenVerifiesThroughWorkOS proves dev and production share one
// verification path: the workos provider, pointed at a loopback issuer serving
// these routes, verifies what Mint produces.
func TestMintedTokenVerifiesThroughWorkOS(t *testing.T) {
	i, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	issuerURL := "http://" + srv.Listener.Addr().String()
	i.Routes(mux, issuerURL)
	srv.Start()
	defer srv.Close()

	const aud = "http://127.0.0.1:8080/mcp"
	p, err := workos.New(context.Background(), workos.Config{
		Domain: issuerURL, VerifyJWT: true, Audiences: []string{aud},
		RequiredScopes: []string{"openid"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	tok, err := i.Mint(TokenRequest{Issuer: issuerURL, Subject: "user_dev", Email: "dev@example.com", Org: "org_dev",
		Roles: []string{"admin"}, Permissions: []string{"docs:write"}, Audience: []string{aud}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("minted token rejected: %v (%v)", err, errorsUnwrap(err))
	}
	if c.UserID != "user_dev" || c.Email != "dev@example.com" || !c.EmailVerified || c.OrganizationID != "org_dev" ||
		!c.HasRole("admin") || !c.HasPermission("docs:write") || !c.HasScope("openid") || c.ClientID != "mcphost-dev" || c.SessionID == "" {
		t.Fatalf("caller = %+v", c)
	}

	// Through the gate, too.
	var seen *auth.Caller
	gate := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = auth.CallerFromContext(r.Context()) }))
	r := httptest.NewRequest("POST", "/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	gate.ServeHTTP(w, r)
	if w.Code != 200 || seen == nil || seen.UserID != "user_dev" {
		t.Fatalf("gate: %d %+v", w.Code, seen)
	}

	// A token for another audience, or from another issuer key, is refused.
	other, _ := i.Mint(TokenRequest{Issuer: issuerURL, Subject: "u", Audience: []string{"http://elsewhere/mcp"}})
	if _, err := p.Verify(context.Background(), other); err == nil {
		t.Fatal("wrong audience accepted")
	}
	foreign, _ := Open(t.TempDir())
	forged, _ := foreign.Mint(TokenRequest{Issuer: issuerURL, Subject: "u", Audience: []string{aud}})
	if _, err := p.Verify(context.Background(), forged); err == nil {
		t.Fatal("token from a different dev key accepted")
	}

	// The provider's metadata passthrough fetches the dev issuer's document.
	hostMux := http.NewServeMux()
	p.RegisterDiscovery(hostMux)
	mw := httptest.NewRecorder()
	hostMux.ServeHTTP(mw, httptest.NewRequest("GET", "/.well-known/oauth-authorization-server", nil))
	var meta map[string]any
	_ = json.Unmarshal(mw.Body.Bytes(), &meta)
	if meta["jwks_uri"] != issuerURL+"/oauth2/jwks" || meta["authorization_endpoint"] != nil {
		t.Fatalf("passthrough did not serve the dev issuer's metadata: %s", mw.Body)
	}
}

func errorsUnwrap(err error) error {
	if u, ok := err.(interface{ Unwrap() error }); ok {
		return u.Unwrap()
	}
	return nil
}

// TestSameMuxAsDiscovery is the dev-mode host layout: one mux holds the dev
// issuer's JWKS and the provider's discovery routes, with the dev metadata
// given to the provider statically.
func TestSameMuxAsDiscovery(t *testing.T) {
	i, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	issuerURL := "http://" + srv.Listener.Addr().String()
	i.Routes(mux, "") // discovery paths belong to the provider here
	srv.Start()
	defer srv.Close()
	p, err := workos.New(context.Background(), workos.Config{
		Domain: issuerURL, VerifyJWT: true, Audiences: []string{issuerURL + "/mcp"},
		StaticMetadata: Metadata(issuerURL),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.RegisterDiscovery(mux) // must not conflict with the issuer's routes

	resp, err := http.Get(srv.URL + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var meta map[string]any
	if json.Unmarshal(body, &meta) != nil || meta["issuer"] != issuerURL {
		t.Fatalf("metadata: %s", body)
	}
	tok, _ := i.Mint(TokenRequest{Issuer: issuerURL, Subject: "u", Audience: []string{issuerURL + "/mcp"}})
	if _, err := p.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
}

func TestRoutesMethods(t *testing.T) {
	i, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	i.Routes(mux, "http://127.0.0.1:1")
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/oauth2/jwks", 200},
		{"HEAD", "/oauth2/jwks", 200},
		{"OPTIONS", "/oauth2/jwks", 204},
		{"POST", "/oauth2/jwks", 405},
		{"GET", "/.well-known/oauth-authorization-server", 200},
		{"GET", "/.well-known/openid-configuration", 200},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status || w.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s %s: %d", tc.method, tc.path, w.Code)
		}
	}
}
