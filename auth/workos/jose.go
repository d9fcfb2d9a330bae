package workos

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// b64 is strict unpadded base64url: strictness rejects non-canonical encodings,
// so one token has exactly one spelling (and one verified-cache key).
var b64 = base64.RawURLEncoding.Strict()

// publicKey is one usable verification key from the JWKS.
type publicKey struct {
	kid string
	// alg is the key's declared algorithm; empty means any algorithm that fits kty.
	alg string
	pub crypto.PublicKey
	// raw is the JWK as served, to notice material changes under the same kid.
	raw string
}

// rawJWK holds the members of a JWK we read.
type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
}

const (
	minRSABits = 2048
	maxRSABits = 8192 // bounds verification cost of a hostile or broken JWKS
)

// parseJWK turns a JWK into a verification key. Symmetric ("oct") keys and keys
// not meant for signatures are refused: accepting them would let a token choose
// HMAC with public material as the secret.
func parseJWK(data []byte) (*publicKey, error) {
	var j rawJWK
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("invalid JWK: %w", err)
	}
	if j.Kid == "" {
		return nil, errors.New("JWK has no kid")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("JWK %q: use %q is not sig", j.Kid, j.Use)
	}
	if len(j.KeyOps) > 0 && !slices.Contains(j.KeyOps, "verify") {
		return nil, fmt.Errorf("JWK %q: key_ops lacks verify", j.Kid)
	}
	k := &publicKey{kid: j.Kid, alg: j.Alg, raw: string(data)}
	switch j.Kty {
	case "RSA":
		n, err := b64.DecodeString(j.N)
		if err != nil || len(n) == 0 {
			return nil, fmt.Errorf("JWK %q: bad n", j.Kid)
		}
		e, err := b64.DecodeString(j.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("JWK %q: bad e", j.Kid)
		}
		var exp int
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		nn := new(big.Int).SetBytes(n)
		if exp < 3 || exp%2 == 0 || nn.BitLen() < minRSABits || nn.BitLen() > maxRSABits {
			return nil, fmt.Errorf("JWK %q: unacceptable RSA key (%d bits, e=%d)", j.Kid, nn.BitLen(), exp)
		}
		k.pub = &rsa.PublicKey{N: nn, E: exp}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("JWK %q: unsupported curve %q", j.Kid, j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, errX := b64.DecodeString(j.X)
		y, errY := b64.DecodeString(j.Y)
		if errX != nil || errY != nil || len(x) != size || len(y) != size {
			return nil, fmt.Errorf("JWK %q: bad EC coordinates", j.Kid)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("JWK %q: %w", j.Kid, err)
		}
		k.pub = pub
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("JWK %q: unsupported OKP curve %q", j.Kid, j.Crv)
		}
		x, err := b64.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("JWK %q: bad Ed25519 key", j.Kid)
		}
		k.pub = ed25519.PublicKey(x)
	default:
		return nil, fmt.Errorf("JWK %q: unsupported kty %q", j.Kid, j.Kty)
	}
	if k.alg != "" && !k.fits(k.alg) {
		return nil, fmt.Errorf("JWK %q: alg %q does not match the key type", j.Kid, k.alg)
	}
	return k, nil
}

// fits reports whether alg can be used with this key's type (and curve).
func (k *publicKey) fits(alg string) bool {
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// verify checks sig over signingInput with alg. The algorithm must be the key's
// declared one (when it declares one) and fit its type; there is no code path
// for symmetric algorithms at all.
func (k *publicKey) verify(alg string, signingInput, sig []byte) bool {
	if (k.alg != "" && k.alg != alg) || !k.fits(alg) {
		return false
	}
	hashFor := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA256:
			s := sha256.Sum256(signingInput)
			return s[:]
		case crypto.SHA384:
			s := sha512.Sum384(signingInput)
			return s[:]
		default:
			s := sha512.Sum512(signingInput)
			return s[:]
		}
	}
	var h crypto.Hash
	switch alg {
	case "RS256", "PS256", "ES256":
		h = crypto.SHA256
	case "RS384", "PS384", "ES384":
		h = crypto.SHA384
	case "RS512", "PS512", "ES512":
		h = crypto.SHA512
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if alg[0] == 'P' {
			return rsa.VerifyPSS(pub, h, hashFor(h), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, h, hashFor(h), sig) == nil
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return false
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		return ecdsa.Verify(pub, hashFor(h), r, s)
	case ed25519.PublicKey:
		return ed25519.Verify(pub, signingInput, sig)
	}
	return false
}
