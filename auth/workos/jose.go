package workos

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// b64 is strict unpadded base64url. jwx decodes leniently (padding, the standard
// alphabet), so tokens are checked with this first: one token has exactly one
// spelling (and one verified-cache key), and non-canonical ones are malformed.
var b64 = base64.RawURLEncoding.Strict()

const (
	minRSABits = 2048
	maxRSABits = 8192 // bounds verification cost of a hostile or broken JWKS
)

// parseJWK parses one JWK with jwx and applies our key policy, returning the
// public key to put in the verification set. Symmetric ("oct") keys and keys not
// meant for signatures are refused: accepting them would let a token choose HMAC
// with public material as the secret. jwx parses the members but does not check
// key strength or that an EC point lies on its curve, so that is done here.
func parseJWK(data []byte) (jwk.Key, error) {
	parsed, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("invalid JWK: %w", err)
	}
	kid, _ := parsed.KeyID()
	if kid == "" {
		return nil, errors.New("JWK has no kid")
	}
	if u, _ := parsed.KeyUsage(); u != "" && u != jwk.ForSignature.String() {
		return nil, fmt.Errorf("JWK %q: use %q is not sig", kid, u)
	}
	if ops, _ := parsed.KeyOps(); len(ops) > 0 && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, fmt.Errorf("JWK %q: key_ops lacks verify", kid)
	}
	switch kty := parsed.KeyType(); kty {
	case jwa.RSA(), jwa.EC(), jwa.OKP():
	default:
		return nil, fmt.Errorf("JWK %q: unsupported kty %q", kid, kty)
	}
	// Keep only the public half (a JWKS should not carry private members, but
	// if it does they must not end up in the verification set).
	key, err := parsed.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("JWK %q: %w", kid, err)
	}
	switch k := key.(type) {
	case jwk.RSAPublicKey:
		e, _ := k.E()
		n, _ := k.N()
		if len(n) == 0 {
			return nil, fmt.Errorf("JWK %q: bad n", kid)
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("JWK %q: bad e", kid)
		}
		var exp int
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		bits := new(big.Int).SetBytes(n).BitLen()
		if exp < 3 || exp%2 == 0 || bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("JWK %q: unacceptable RSA key (%d bits, e=%d)", kid, bits, exp)
		}
	case jwk.ECDSAPublicKey:
		switch crv := curve(k); crv {
		case "P-256", "P-384", "P-521":
		default:
			return nil, fmt.Errorf("JWK %q: unsupported curve %q", kid, crv)
		}
		if err := k.Validate(); err != nil { // coordinate lengths
			return nil, fmt.Errorf("JWK %q: bad EC coordinates: %w", kid, err)
		}
		var pub ecdsa.PublicKey
		if err := jwk.Export(k, &pub); err != nil {
			return nil, fmt.Errorf("JWK %q: %w", kid, err)
		}
		if _, err := pub.ECDH(); err != nil { // rejects points not on the curve
			return nil, fmt.Errorf("JWK %q: %w", kid, err)
		}
	case jwk.OKPPublicKey:
		if crv := curve(k); crv != "Ed25519" {
			return nil, fmt.Errorf("JWK %q: unsupported OKP curve %q", kid, crv)
		}
		if x, _ := k.X(); len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("JWK %q: bad Ed25519 key", kid)
		}
	default:
		return nil, fmt.Errorf("JWK %q: unsupported key %T", kid, key)
	}
	if alg := declaredAlg(key); alg != "" && !fits(key, alg) {
		return nil, fmt.Errorf("JWK %q: alg %q does not match the key type", kid, alg)
	}
	return key, nil
}

// curve is the crv member of an EC or OKP key, "" when absent.
func curve(k interface {
	Crv() (jwa.EllipticCurveAlgorithm, bool)
}) string {
	crv, ok := k.Crv()
	if !ok {
		return ""
	}
	return crv.String()
}

// declaredAlg is the key's alg member, "" when absent.
func declaredAlg(key jwk.Key) string {
	alg, ok := key.Algorithm()
	if !ok {
		return ""
	}
	return alg.String()
}

// fits reports whether the JWS algorithm alg can be used with key's type (and
// curve). Only asymmetric algorithms ever fit: there is no symmetric key type.
func fits(key jwk.Key, alg string) bool {
	switch k := key.(type) {
	case jwk.RSAPublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case jwk.ECDSAPublicKey:
		switch alg {
		case "ES256":
			return curve(k) == "P-256"
		case "ES384":
			return curve(k) == "P-384"
		case "ES512":
			return curve(k) == "P-521"
		}
	case jwk.OKPPublicKey:
		return alg == "EdDSA" && curve(k) == "Ed25519"
	}
	return false
}

// usableWith reports whether a token whose header names alg may be checked
// with key. jws.WithKeySet verifies with the key's declared alg and ignores the
// header's, so a header naming a different algorithm is refused here rather
// than silently verified under another one.
func usableWith(key jwk.Key, alg string) bool {
	if declared := declaredAlg(key); declared != "" && declared != alg {
		return false
	}
	return fits(key, alg)
}
