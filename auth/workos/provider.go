package workos

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/lestrrat-go/jwx/v3/jws"

	"github.com/mcphost/mcphost/auth"
)

const (
	// maxTokenBytes caps what we parse from a client; AuthKit tokens are ~1 KiB.
	maxTokenBytes = 16 << 10
	// maxHeaderB64 caps the encoded JOSE header; real ones are under 200 bytes.
	maxHeaderB64 = 2 << 10
	// maxCachedTokens bounds the verified-token cache.
	maxCachedTokens = 10000
)

// Provider verifies AuthKit access tokens and serves the resource-server side of
// the MCP authorization flow. Create it with New and release it with Close.
type Provider struct {
	cfg       Config
	issuer    string
	loopback  bool
	jwksURL   string
	audiences map[string]bool
	// scopes is ScopesSupported plus any RequiredScopes it lacks: what we
	// advertise, so a client asking for everything advertised gets through.
	scopes []string

	keys   *jwksCache // nil when VerifyJWT is false
	tokens *tokenCache
	meta   map[string]*metaEntry

	bg     context.Context // lives until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// New validates cfg and starts the provider. ctx bounds only the initial JWKS
// fetch: if AuthKit is unreachable the provider starts degraded (tokens are
// rejected as invalid_token) and keeps retrying in the background until Close.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	cfg, issuer, loopback, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Provider{
		cfg:       cfg,
		issuer:    issuer,
		loopback:  loopback,
		jwksURL:   issuer + "/oauth2/jwks",
		audiences: map[string]bool{},
		scopes:    slices.Clone(cfg.ScopesSupported),
		tokens:    &tokenCache{m: map[[32]byte]cachedToken{}, max: maxCachedTokens},
	}
	for _, a := range cfg.Audiences {
		p.audiences[strings.TrimSuffix(a, "/")] = true
	}
	for _, s := range cfg.RequiredScopes {
		if !slices.Contains(p.scopes, s) {
			p.scopes = append(p.scopes, s)
		}
	}
	p.initMetadata()

	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.bg, p.cancel = bg, cancel
	if !cfg.VerifyJWT {
		cfg.Logger.Warn("workos: verify_jwt is false: tokens are accepted WITHOUT signature, issuer or audience checks; never use this outside local development")
		return p, nil
	}
	p.keys = newJWKSCache(bg, p.jwksURL, cfg, p.tokens.purge)
	failures := 0
	if err := p.keys.refresh(ctx, true); err != nil {
		failures = 1
		cfg.Logger.Warn("workos: starting degraded without signing keys; retrying in the background", "jwks", p.jwksURL, "error", err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.keys.run(bg, failures)
	}()
	return p, nil
}

// Close stops background refreshes. It is safe to call more than once.
func (p *Provider) Close() error {
	p.once.Do(func() {
		p.cancel()
		p.wg.Wait()
	})
	return nil
}

// Ready reports why tokens cannot be verified yet: the signing keys have not
// been loaded once. Later refresh failures keep the keys, so it stays nil.
func (p *Provider) Ready() error {
	if p.keys != nil && !p.keys.loaded.Load() {
		return errors.New(DescKeysUnavailable)
	}
	return nil
}

// Issuer returns the normalized issuer, the exact `iss` tokens must carry.
func (p *Provider) Issuer() string { return p.issuer }

// Loopback reports whether the issuer is on a loopback address (a dev issuer).
func (p *Provider) Loopback() bool { return p.loopback }

// Error is a rejected token. Description is short fixed text that is safe to put
// in an error_description; the detailed cause (Unwrap) is only for logs, since it
// can describe keys, claims or upstream state.
type Error struct {
	Description string
	cause       error
}

func (e *Error) Error() string { return "invalid token: " + e.Description }

// Unwrap returns the detailed cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Public descriptions. Stable strings: clients and tests may match on them.
const (
	DescMissing    = "missing token"
	DescTooLarge   = "token too large"
	DescMalformed  = "malformed token"
	DescAlgorithm  = "unsupported algorithm"
	DescUnknownKey = "unknown signing key"
	// DescKeysUnavailable: the JWKS has never been loaded (AuthKit
	// unreachable since startup), so no token can be checked yet.
	DescKeysUnavailable = "signing keys unavailable"
	DescSignature       = "invalid signature"
	DescIssuer          = "invalid issuer"
	DescAudience        = "invalid audience"
	DescExpired         = "token expired"
	DescNotYetValid     = "token not yet valid"
	DescFutureIssued    = "token issued in the future"
	DescMissingExpiry   = "missing expiry"
	DescMissingSub      = "missing subject"
	// DescNotAccessToken: the JWT is of another kind (an ID token, say).
	DescNotAccessToken = "not an access token"
)

// accessTokenType accepts the JOSE typ values access tokens carry: none, "JWT",
// or RFC 9068's "at+jwt" (with or without the "application/" prefix).
func accessTokenType(typ string) bool {
	switch strings.ToLower(strings.TrimPrefix(strings.ToLower(typ), "application/")) {
	case "", "jwt", "at+jwt":
		return true
	}
	return false
}

type causeError string

func (c causeError) Error() string { return string(c) }

func reject(desc string, cause error) *Error { return &Error{Description: desc, cause: cause} }

// Verify checks an access token and returns the caller it identifies. Verified
// tokens are cached by their SHA-256 until they expire, so repeated requests with
// the same token cost a hash and a map lookup. The returned Caller is a copy; its
// slices and Claims map are shared and must be treated as read-only.
func (p *Provider) Verify(ctx context.Context, token string) (*auth.Caller, error) {
	c, err := p.verify(ctx, token)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			p.cfg.Logger.DebugContext(ctx, "workos: token rejected", "reason", e.Description, "cause", e.cause)
		}
		return nil, err
	}
	return c, nil
}

func (p *Provider) verify(ctx context.Context, token string) (*auth.Caller, error) {
	if token == "" {
		return nil, reject(DescMissing, nil)
	}
	if len(token) > maxTokenBytes {
		return nil, reject(DescTooLarge, causeError("token exceeds 16 KiB"))
	}
	if !p.cfg.VerifyJWT {
		p.cfg.Logger.WarnContext(ctx, "workos: accepting token without signature verification (verify_jwt is false)")
		c, _, err := p.verifyUncached(ctx, token)
		return c, err
	}
	key := tokenKey(token)
	now := p.cfg.Now()
	if c, ok := p.tokens.get(key, now, p.cfg.ClockSkew); ok {
		return c, nil
	}
	gen := p.tokens.generation()
	c, exp, err := p.verifyUncached(ctx, token)
	if err != nil {
		return nil, err
	}
	p.tokens.put(key, cachedToken{caller: c, exp: exp}, gen, now, p.cfg.ClockSkew)
	cp := *c
	return &cp, nil
}

// verifyUncached is the full verification path: structure, header, algorithm,
// key, signature (before any claim is trusted), then registered claims.
//
// The JWS itself is parsed and its signature verified by jwx (verifySignature).
// The checks before it are ours because they decide the public error
// description and enforce limits jwx does not have: size caps, canonical
// base64, crit, and an alg allow-list that must classify "none" or "HS256" as
// an unsupported algorithm (jwx refuses to even parse unknown algs).
func (p *Provider) verifyUncached(ctx context.Context, token string) (*auth.Caller, time.Time, error) {
	var zero time.Time
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first <= 0 || first == last || strings.IndexByte(token[first+1:last], '.') >= 0 {
		return nil, zero, reject(DescMalformed, causeError("not three dot-separated parts"))
	}
	if first > maxHeaderB64 {
		return nil, zero, reject(DescMalformed, causeError("header too large"))
	}
	hdrJSON, err := b64.DecodeString(token[:first])
	if err != nil {
		return nil, zero, reject(DescMalformed, err)
	}
	var hdr struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
		B64  *bool           `json:"b64"`
		Typ  string          `json:"typ"`
	}
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdrJSON[0] != '{' {
		return nil, zero, reject(DescMalformed, causeError("header is not a JSON object"))
	}
	if hdr.Crit != nil {
		// RFC 7515 §4.1.11: we understand no extensions, so a token that
		// demands one must be rejected.
		return nil, zero, reject(DescMalformed, causeError("crit header not supported"))
	}
	if !accessTokenType(hdr.Typ) {
		// An ID token (or any other JWT) of the same issuer must not pass as
		// an access token for this resource.
		return nil, zero, reject(DescNotAccessToken, causeError("typ "+quoteForLog(hdr.Typ)))
	}
	if hdr.B64 != nil && !*hdr.B64 {
		// RFC 7797 unencoded payloads need crit (refused above); jwx would
		// honour b64=false anyway, so refuse it rather than read it two ways.
		return nil, zero, reject(DescMalformed, causeError("b64=false not supported"))
	}
	payload, err := b64.DecodeString(token[first+1 : last])
	if err != nil {
		return nil, zero, reject(DescMalformed, err)
	}
	if _, err := b64.DecodeString(token[last+1:]); err != nil {
		return nil, zero, reject(DescMalformed, err)
	}
	if p.cfg.VerifyJWT {
		if payload, err = p.verifySignature(ctx, token, hdr.Alg, hdr.Kid); err != nil {
			return nil, zero, err
		}
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, zero, reject(DescMalformed, causeError("payload is not a JSON object"))
	}
	exp, err := p.checkClaims(claims)
	if err != nil {
		return nil, zero, err
	}
	return callerFromClaims(claims, exp), exp, nil
}

// verifySignature checks the allow-list and finds the key (refetching the JWKS,
// rate-limited, for an unknown kid), then has jwx parse the compact JWS and
// verify it against the key set, returning the verified payload. alg and kid
// are our reading of the header, used to classify failures.
//
// jws.WithKeySet is set up so that only the set's keys can verify, matched by
// kid (no default key), each with its declared alg, or for a key without one an
// alg inferred from its type that must equal the header's. The set holds only
// RSA, EC and Ed25519 public keys (parseJWK), so no symmetric key, and hence
// no HMAC keyed with public material, can ever be used.
func (p *Provider) verifySignature(ctx context.Context, token, alg, kid string) ([]byte, error) {
	if !slices.Contains(p.cfg.Algorithms, alg) {
		return nil, reject(DescAlgorithm, causeError("alg "+quoteForLog(alg)+" not in allow-list"))
	}
	if kid == "" {
		return nil, reject(DescUnknownKey, causeError("token has no kid"))
	}
	ks := p.keys.snapshot()
	key, ok := ks.lookup(kid)
	if !ok {
		// Possibly a rotated-in key, or no keys yet: refetch, rate-limited and
		// never queued behind a pending fetch, because the kid is
		// attacker-controlled (jwksCache.refresh).
		_ = p.keys.refresh(ctx, false)
		if !p.keys.loaded.Load() {
			return nil, reject(DescKeysUnavailable, causeError("the JWKS at "+p.jwksURL+" has not been loaded yet"))
		}
		ks = p.keys.snapshot()
		key, ok = ks.lookup(kid)
	}
	if !ok {
		return nil, reject(DescUnknownKey, causeError("kid "+quoteForLog(kid)+" not in JWKS"))
	}
	if !usableWith(key, alg) {
		return nil, reject(DescSignature, causeError("alg "+quoteForLog(alg)+" does not fit key "+quoteForLog(kid)))
	}
	var msg jws.Message
	payload, err := jws.Verify([]byte(token),
		jws.WithCompact(),
		jws.WithKeySet(ks.set,
			jws.WithRequireKid(true),
			jws.WithUseDefault(false),
			jws.WithMultipleKeysPerKeyID(false),
			jws.WithInferAlgorithmFromKey(true)),
		jws.WithMessage(&msg))
	if err != nil {
		return nil, reject(DescSignature, err)
	}
	// Belt and braces: jwx must have read the same alg and kid we checked.
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, reject(DescMalformed, causeError("JOSE header read inconsistently"))
	}
	gotAlg, _ := sigs[0].ProtectedHeaders().Algorithm()
	gotKid, _ := sigs[0].ProtectedHeaders().KeyID()
	if gotAlg.String() != alg || gotKid != kid {
		return nil, reject(DescMalformed, causeError("JOSE header read inconsistently"))
	}
	return payload, nil
}

func quoteForLog(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// checkClaims validates the registered claims and returns the expiry. In
// VerifyJWT=false mode only sub (and exp/nbf/iat when present) are checked.
func (p *Provider) checkClaims(claims map[string]any) (time.Time, error) {
	now := p.cfg.Now()
	skew := p.cfg.ClockSkew
	if p.cfg.VerifyJWT {
		if iss, _ := claims["iss"].(string); iss != p.issuer {
			return time.Time{}, reject(DescIssuer, causeError("iss "+quoteForLog(iss)))
		}
	}
	exp, present, ok := numericDate(claims["exp"])
	switch {
	case !ok:
		return time.Time{}, reject(DescMalformed, causeError("exp is not a valid NumericDate"))
	case !present && p.cfg.VerifyJWT:
		return time.Time{}, reject(DescMissingExpiry, nil)
	case present && now.After(exp.Add(skew)):
		return time.Time{}, reject(DescExpired, nil)
	}
	nbf, present, ok := numericDate(claims["nbf"])
	if !ok {
		return time.Time{}, reject(DescMalformed, causeError("nbf is not a valid NumericDate"))
	}
	if present && nbf.After(now.Add(skew)) {
		return time.Time{}, reject(DescNotYetValid, nil)
	}
	iat, present, ok := numericDate(claims["iat"])
	if !ok {
		return time.Time{}, reject(DescMalformed, causeError("iat is not a valid NumericDate"))
	}
	if present && iat.After(now.Add(skew)) {
		return time.Time{}, reject(DescFutureIssued, nil)
	}
	if p.cfg.VerifyJWT && !p.audienceOK(claims) {
		return time.Time{}, reject(DescAudience, nil)
	}
	for _, idTokenOnly := range []string{"nonce", "at_hash", "c_hash"} {
		if _, ok := claims[idTokenOnly]; ok {
			return time.Time{}, reject(DescNotAccessToken, causeError(idTokenOnly+" claim present"))
		}
	}
	if sub, _ := claims["sub"].(string); sub == "" {
		return time.Time{}, reject(DescMissingSub, nil)
	}
	return exp, nil
}

// audienceOK accepts the token when `aud` (string or array) names one of the
// configured audiences; trailing slashes are not significant. A `resource`
// claim counts only for tokens without `aud`: a token whose aud names another
// API was issued for that API, whatever else it says.
func (p *Provider) audienceOK(claims map[string]any) bool {
	name := "aud"
	if _, has := claims["aud"]; !has {
		name = "resource"
	}
	for _, v := range stringList(claims[name]) {
		if p.audiences[strings.TrimSuffix(v, "/")] {
			return true
		}
	}
	return false
}

// maxNumericDate is 9999-12-31T23:59:59Z; anything later is nonsense that would
// overflow time arithmetic.
const maxNumericDate = 253402300799

// numericDate reads a JWT NumericDate. present is false when the claim is
// absent; ok is false when it is present but not a sane number.
func numericDate(v any) (t time.Time, present, ok bool) {
	if v == nil {
		return time.Time{}, false, true
	}
	f, isNum := v.(float64)
	if !isNum || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, true, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, true
}

// tokenKey hashes the token without copying it: the hot path is otherwise
// dominated by allocating a ~1 KiB []byte per request. sha256 only reads its
// input, so viewing the string's bytes is safe.
func tokenKey(token string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

type cachedToken struct {
	caller *auth.Caller
	exp    time.Time
}

// tokenCache maps sha256(token) to a verified caller. gen advances on purge so a
// verification that raced with a key removal cannot re-insert its result.
type tokenCache struct {
	mu  sync.RWMutex
	m   map[[32]byte]cachedToken
	max int
	gen uint64
}

func (c *tokenCache) get(key [32]byte, now time.Time, skew time.Duration) (*auth.Caller, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	if now.After(e.exp.Add(skew)) {
		c.mu.Lock()
		delete(c.m, key)
		c.mu.Unlock()
		return nil, false
	}
	cp := *e.caller
	return &cp, true
}

func (c *tokenCache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *tokenCache) put(key [32]byte, e cachedToken, gen uint64, now time.Time, skew time.Duration) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= c.max {
		for k, v := range c.m {
			if now.After(v.exp.Add(skew)) {
				delete(c.m, k)
			}
		}
		// Still full of live tokens: drop an arbitrary tenth rather than
		// grow; a dropped token just pays for one more verification.
		for k := range c.m {
			if len(c.m) < c.max-c.max/10 {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

func (c *tokenCache) purge() {
	c.mu.Lock()
	clear(c.m)
	c.gen++
	c.mu.Unlock()
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
