package workos

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"github.com/mcphost/mcphost/auth"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Keys are generated lazily and shared by the whole test binary: RSA generation
// dominates test time (and fuzz worker start-up).
var (
	keysMu  sync.Mutex
	rsaKeys = map[int]*rsa.PrivateKey{}
)

func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := rsaKeys[i]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys[i] = k
	return k
}

// testKey is a signing key plus how it is published in the JWKS.
type testKey struct {
	kid  string
	alg  string // JWK alg member; "" omits it
	priv crypto.Signer
}

func (k testKey) jwk() map[string]any {
	m := map[string]any{"kid": k.kid, "use": "sig"}
	if k.alg != "" {
		m["alg"] = k.alg
	}
	switch pub := k.priv.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64.EncodeToString(pub.N.Bytes())
		m["e"] = b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := pub.Bytes()
		size := (pub.Curve.Params().BitSize + 7) / 8
		m["kty"], m["crv"] = "EC", pub.Curve.Params().Name
		m["x"] = b64.EncodeToString(raw[1 : 1+size])
		m["y"] = b64.EncodeToString(raw[1+size:])
	}
	return m
}

// sign builds a compact JWS. alg selects the real signing operation.
func sign(t testing.TB, k testKey, alg string, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if k.kid != "" {
		h["kid"] = k.kid
	}
	for name, v := range header {
		if v == nil {
			delete(h, name)
		} else {
			h[name] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, k.priv.(*ecdsa.PrivateKey), digest[:])
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		t.Fatalf("sign: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func newECKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// idp is a fake AuthKit: JWKS plus metadata documents, with switches to make it
// fail and counters to see how often it is hit.
type idp struct {
	srv *httptest.Server

	mu         sync.Mutex
	keys       []testKey
	jwksStatus int // 0 = 200
	metaStatus int
	metaBody   map[string]string // path -> body
	metaDelay  time.Duration
	// stall, when set, holds every JWKS request until it is closed (or the
	// client gives up): an issuer that accepts connections and never answers.
	stall chan struct{}

	jwksHits atomic.Int64
	metaHits atomic.Int64
}

func newIDP(t testing.TB, keys ...testKey) *idp {
	d := &idp{keys: keys, metaBody: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2/jwks", func(w http.ResponseWriter, r *http.Request) {
		d.jwksHits.Add(1)
		d.mu.Lock()
		stall := d.stall
		d.mu.Unlock()
		if stall != nil {
			select {
			case <-stall:
			case <-r.Context().Done():
				return
			}
		}
		d.mu.Lock()
		status := d.jwksStatus
		var list []map[string]any
		for _, k := range d.keys {
			list = append(list, k.jwk())
		}
		d.mu.Unlock()
		if status == garbageStatus {
			_, _ = w.Write([]byte("<html>oops</html>"))
			return
		}
		if status != 0 {
			http.Error(w, "upstream exploded: secret-internal-detail", status)
			return
		}
		if list == nil {
			list = []map[string]any{}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": list})
	})
	meta := func(w http.ResponseWriter, r *http.Request) {
		d.metaHits.Add(1)
		d.mu.Lock()
		status, body, delay := d.metaStatus, d.metaBody[r.URL.Path], d.metaDelay
		d.mu.Unlock()
		time.Sleep(delay)
		if status != 0 {
			http.Error(w, "upstream exploded: secret-internal-detail", status)
			return
		}
		if body == "" {
			body = fmt.Sprintf(`{"issuer":%q,"registration_endpoint":%q,"x_custom":"kept"}`, d.issuer(), d.issuer()+"/oauth2/register")
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
	mux.HandleFunc(asMetadataPath, meta)
	mux.HandleFunc(oidcMetadataPath, meta)
	d.srv = httptest.NewServer(mux)
	t.Cleanup(d.srv.Close)
	return d
}

func (d *idp) issuer() string { return d.srv.URL }

func (d *idp) setKeys(keys ...testKey) {
	d.mu.Lock()
	d.keys = keys
	d.mu.Unlock()
}

func (d *idp) setJWKSStatus(s int) {
	d.mu.Lock()
	d.jwksStatus = s
	d.mu.Unlock()
}

// stallJWKS makes JWKS requests hang until the returned release is called
// (also at cleanup, so the test server can close).
func (d *idp) stallJWKS(t testing.TB) (release func()) {
	ch := make(chan struct{})
	d.mu.Lock()
	d.stall = ch
	d.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			d.mu.Lock()
			d.stall = nil
			d.mu.Unlock()
			close(ch)
		})
	}
	t.Cleanup(release)
	return release
}

func (d *idp) setMeta(status int, delay time.Duration) {
	d.mu.Lock()
	d.metaStatus, d.metaDelay = status, delay
	d.mu.Unlock()
}

// clock is a manually advanced time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// garbageStatus makes the fake JWKS answer 200 with a non-JSON body.
const garbageStatus = -1

const testAud = "https://mcp.example.com/mcp"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newProvider builds a verifying Provider against d with test-friendly
// settings; mutate adjusts the config first.
func newProvider(t testing.TB, d *idp, mutate func(*Config)) *Provider {
	t.Helper()
	cfg := Config{
		Domain:             d.issuer(),
		VerifyJWT:          true,
		Audiences:          []string{testAud},
		JWKSRefresh:        time.Hour,
		MinRefetchInterval: time.Hour,
		Logger:             quietLogger(),
		// The origin comes from the listen address, never the Host header.
		PublicURL: auth.PublicURL{Listen: "mcp.local:8080"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// claimsFor returns a valid claim set for issuer at now.
func claimsFor(issuer string, now time.Time) map[string]any {
	return map[string]any{
		"iss":       issuer,
		"sub":       "user_01",
		"aud":       testAud,
		"exp":       now.Add(time.Hour).Unix(),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"sid":       "session_01",
		"org_id":    "org_01",
		"client_id": "client_01",
		"jti":       "jti_01",
		"scope":     "openid profile email",
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
