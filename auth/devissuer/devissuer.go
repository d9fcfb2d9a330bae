// Package devissuer is an embedded token issuer for local development: it holds a
// persistent RSA key, publishes it as a JWKS and mints AuthKit-shaped access
// tokens, so the host can run its real verification path (auth/workos pointed at
// a loopback issuer) without anyone needing a WorkOS account.
//
// It has no interactive login: tokens come from Mint (e.g. via a CLI command).
package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	keyBits         = 2048
	defaultTTL      = time.Hour
	defaultClientID = "mcphost-dev"
	defaultScope    = "email offline_access openid profile"
)

var b64 = base64.RawURLEncoding

// Issuer signs development tokens with one persistent key.
type Issuer struct {
	key  *rsa.PrivateKey
	kid  string
	jwks []byte
	now  func() time.Time
}

// Open loads the signing key from <dataDir>/dev-issuer/signing-key.pem, creating
// it on first use. Keeping the key across restarts keeps minted tokens valid.
// Creation is atomic (write a temp file, then hard-link it into place, which
// fails if the name exists), so two processes racing on first start agree on a
// single key instead of each keeping its own.
func Open(dataDir string) (*Issuer, error) {
	dir := filepath.Join(dataDir, "dev-issuer")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone; the key must stay private.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	path := filepath.Join(dir, "signing-key.pem")
	key, err := loadKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createKey(dir, path)
	}
	if err != nil {
		return nil, err
	}
	return newIssuer(key)
}

func newIssuer(key *rsa.PrivateKey) (*Issuer, error) {
	i := &Issuer{key: key, kid: thumbprint(&key.PublicKey), now: time.Now}
	jwk := map[string]string{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": i.kid,
		"n":   b64.EncodeToString(key.N.Bytes()),
		"e":   b64.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}
	var err error
	i.jwks, err = json.Marshal(map[string]any{"keys": []any{jwk}})
	return i, err
}

func loadKey(path string) (*rsa.PrivateKey, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		// Others may already have read it, and then minted tokens with it:
		// tightening the mode now would not undo that.
		return nil, fmt.Errorf("dev issuer: %s is accessible to other users (mode %04o), so it may have been copied; delete it and a new key is created on the next start", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("dev issuer: %s holds no PEM block", path)
	}
	var parsed any
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("dev issuer: %s: unexpected PEM type %q", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %s: %w", path, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() < keyBits {
		return nil, fmt.Errorf("dev issuer: %s is not an RSA key of at least %d bits", path, keyBits)
	}
	return key, nil
}

func createKey(dir, path string) (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: generating key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".signing-key-*.tmp") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("dev issuer: writing key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("dev issuer: writing key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("dev issuer: writing key: %w", err)
	}
	switch err := os.Link(tmp.Name(), path); {
	case err == nil:
		return key, nil
	case errors.Is(err, fs.ErrExist):
		// Another process won the race: use its key.
		return loadKey(path)
	default:
		// No hard links on this filesystem: rename (last writer wins), then
		// read back whatever is on disk so we at least match the file.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, fmt.Errorf("dev issuer: installing key: %w", err)
		}
		return loadKey(path)
	}
}

// thumbprint is the RFC 7638 JWK thumbprint: SHA-256 over the required members
// in lexicographic order with no whitespace, base64url without padding.
func thumbprint(pub *rsa.PublicKey) string {
	canon := `{"e":"` + b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()) +
		`","kty":"RSA","n":"` + b64.EncodeToString(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// KeyID returns the signing key's kid (its RFC 7638 thumbprint).
func (i *Issuer) KeyID() string { return i.kid }

// JWKS returns the public key set as JSON ({"keys":[...]}, RS256, use sig).
func (i *Issuer) JWKS() []byte { return append([]byte(nil), i.jwks...) }

// Metadata returns an RFC 8414 authorization-server document for issuerURL:
// the issuer and its keys, plus the members RFC 8414 requires. It names no
// authorize or token endpoint because there are none; tokens come from Mint.
func Metadata(issuerURL string) map[string]any {
	issuerURL = strings.TrimRight(issuerURL, "/")
	return map[string]any{
		"issuer":                                issuerURL,
		"jwks_uri":                              issuerURL + "/oauth2/jwks",
		"response_types_supported":              []string{"code"},
		"scopes_supported":                      strings.Fields(defaultScope),
		"id_token_signing_alg_values_supported": []string{"RS256"},
	}
}

// Routes serves the JWKS at /oauth2/jwks. When issuerURL is non-empty it also
// serves Metadata(issuerURL) at /.well-known/oauth-authorization-server and
// /.well-known/openid-configuration. The caller decides: pass "" when another
// component (the workos provider's discovery routes) owns those paths on this
// mux; registering a pattern twice panics in net/http. In that case give the
// provider Metadata(issuerURL) as its static metadata instead.
func (i *Issuer) Routes(mux *http.ServeMux, issuerURL string) {
	mux.Handle("/oauth2/jwks", readOnly(func() []byte { return i.jwks }))
	if issuerURL == "" {
		return
	}
	doc, _ := json.Marshal(Metadata(issuerURL))
	meta := readOnly(func() []byte { return doc })
	mux.Handle("/.well-known/oauth-authorization-server", meta)
	mux.Handle("/.well-known/openid-configuration", meta)
}

func readOnly(body func() []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body())
		case http.MethodOptions:
			w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	})
}

// TokenRequest describes a token to mint. Empty optional fields are omitted
// from the token, mirroring AuthKit, which only adds them when configured.
type TokenRequest struct {
	Issuer, Subject, Email, Name, Org string
	Roles, Permissions, Scopes        []string
	Audience                          []string
	// TTL defaults to one hour.
	TTL                 time.Duration
	SessionID, ClientID string
}

// Mint signs an RS256 access token shaped like an AuthKit MCP token.
func (i *Issuer) Mint(req TokenRequest) (string, error) {
	if req.Subject == "" {
		return "", errors.New("dev issuer: subject is required")
	}
	if req.Issuer == "" {
		return "", errors.New("dev issuer: issuer is required")
	}
	if req.TTL < 0 {
		return "", errors.New("dev issuer: ttl must not be negative")
	}
	if req.TTL == 0 {
		req.TTL = defaultTTL
	}
	now := i.now()
	claims := map[string]any{
		"iss":       strings.TrimRight(req.Issuer, "/"),
		"sub":       req.Subject,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(req.TTL).Unix(),
		"jti":       randomID(),
		"sid":       req.SessionID,
		"client_id": req.ClientID,
		"scope":     defaultScope,
	}
	if req.SessionID == "" {
		claims["sid"] = "session_dev_" + randomID()
	}
	if req.ClientID == "" {
		claims["client_id"] = defaultClientID
	}
	if len(req.Scopes) > 0 {
		claims["scope"] = strings.Join(req.Scopes, " ")
	}
	switch len(req.Audience) {
	case 0:
	case 1:
		claims["aud"] = req.Audience[0]
	default:
		claims["aud"] = req.Audience
	}
	if req.Org != "" {
		claims["org_id"] = req.Org
	}
	if len(req.Roles) > 0 {
		claims["roles"] = req.Roles
		claims["role"] = req.Roles[0]
	}
	if len(req.Permissions) > 0 {
		claims["permissions"] = req.Permissions
	}
	if req.Email != "" {
		claims["email"] = req.Email
		claims["email_verified"] = true
	}
	if req.Name != "" {
		claims["name"] = req.Name
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": i.kid})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, i.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("dev issuer: signing: %w", err)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}
