package workos

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzSetup returns a provider and one valid token for it.
func fuzzSetup(f *testing.F) (*Provider, string) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(f, 0)}
	d := newIDP(f, k0)
	p := newProvider(f, d, nil)
	c := claimsFor(d.issuer(), time.Now())
	c["exp"] = time.Now().Add(24 * time.Hour).Unix()
	return p, sign(f, k0, "RS256", nil, c)
}

// fuzzNow is FuzzVerify's clock, fixed so that the times in stored corpus
// entries mean the same on every run.
var fuzzNow = time.Unix(1_900_000_000, 0)

// fuzzIssuer stands for the test issuer in FuzzVerify's claims: its URL
// changes with every run.
const fuzzIssuer = "{{iss}}"

// FuzzVerify signs the fuzzed JOSE header and claims with the real test key,
// so the header and claim checks (alg, kid, typ, crit, iss, aud, exp, nbf,
// iat, sub, ID-token claims) are fuzzed, not only parsing (FuzzMiddleware
// fuzzes whole raw tokens). Nothing panics; a refusal is an *Error with a
// known description; and a token that verifies obeys every rule, restated
// here independently of the verifier.
func FuzzVerify(f *testing.F) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(f, 0)}
	d := newIDP(f, k0)
	p := newProvider(f, d, func(c *Config) { c.Now = func() time.Time { return fuzzNow } })
	now := fuzzNow.Unix()
	claims := func(edit func(c map[string]any)) string {
		c := map[string]any{
			"iss": fuzzIssuer, "sub": "user_1", "aud": testAud,
			"exp": now + 3600, "iat": now, "nbf": now,
			"sid": "session_1", "org_id": "org_1", "client_id": "client_1", "jti": "jti_1",
			"scope": "openid profile", "role": "admin", "roles": []string{"member"}, "permissions": []string{"docs:read"},
		}
		if edit != nil {
			edit(c)
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	const hdr = `{"alg":"RS256","typ":"JWT","kid":"k0"}`
	valid := claims(nil)
	for _, seed := range []struct{ header, claims string }{
		{hdr, valid},
		{`{"alg":"RS256","kid":"k0"}`, valid},
		{`{"alg":"RS256","typ":"at+jwt","kid":"k0"}`, valid},
		{`{"alg":"RS256","typ":"application/id_token+jwt","kid":"k0"}`, valid},
		{`{"alg":"PS256","typ":"JWT","kid":"k0"}`, valid},
		{`{"alg":"none","typ":"JWT"}`, valid},
		{`{"alg":"RS256","typ":"JWT","kid":"k1"}`, valid},
		{`{"alg":"RS256","typ":"JWT","kid":"k0","crit":["exp"]}`, valid},
		{`{"alg":"RS256","typ":"JWT","kid":"k0","b64":false}`, valid},
		{`{"alg":"RS256","typ":"JWT","kid":"k0","alg":"HS256"}`, valid},
		{hdr, claims(func(c map[string]any) { c["aud"] = []string{"https://other.example", testAud + "/"} })},
		{hdr, claims(func(c map[string]any) { delete(c, "aud"); c["resource"] = testAud })},
		{hdr, claims(func(c map[string]any) { c["aud"] = "https://other.example"; c["resource"] = testAud })},
		{hdr, claims(func(c map[string]any) { c["iss"] = fuzzIssuer + "/" })},
		{hdr, claims(func(c map[string]any) { c["exp"] = now - 30 })},  // expired, within the skew
		{hdr, claims(func(c map[string]any) { c["exp"] = now - 600 })}, // expired
		{hdr, claims(func(c map[string]any) { delete(c, "exp") })},
		{hdr, claims(func(c map[string]any) { c["exp"] = fmt.Sprint(now + 3600) })},
		{hdr, claims(func(c map[string]any) { c["exp"] = float64(now) + 0.5 })},
		{hdr, claims(func(c map[string]any) { c["nbf"] = now + 30 })},
		{hdr, claims(func(c map[string]any) { c["nbf"] = now + 600 })},
		{hdr, claims(func(c map[string]any) { c["iat"] = now + 600 })},
		{hdr, claims(func(c map[string]any) { delete(c, "sub") })},
		{hdr, claims(func(c map[string]any) { c["sub"] = 7 })},
		{hdr, claims(func(c map[string]any) { c["nonce"] = "n" })},
		{hdr, claims(func(c map[string]any) { c["scp"] = []string{"docs"}; c["roles"] = "admin" })},
		{hdr, `[]`},
		{hdr, `null`},
		{hdr, `{"exp":1e999}`},
	} {
		f.Add(seed.header, seed.claims)
	}
	known := map[string]bool{DescMalformed: true, DescAlgorithm: true, DescUnknownKey: true, DescSignature: true,
		DescIssuer: true, DescAudience: true, DescExpired: true, DescNotYetValid: true, DescFutureIssued: true,
		DescMissingExpiry: true, DescMissingSub: true, DescNotAccessToken: true, DescTooLarge: true}
	signed := func(header, payload string) string {
		input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
		digest := sha256.Sum256([]byte(input))
		sig, _ := rsa.SignPKCS1v15(nil, k0.priv.(*rsa.PrivateKey), crypto.SHA256, digest[:])
		return input + "." + b64.EncodeToString(sig)
	}
	// The corpus starts from a token that verifies, so mutations explore
	// the claim checks rather than only the ways to be malformed.
	if _, err := p.Verify(context.Background(), signed(hdr, strings.ReplaceAll(valid, fuzzIssuer, d.issuer()))); err != nil {
		f.Fatalf("the valid seed does not verify: %v", err)
	}
	f.Fuzz(func(t *testing.T, header, payload string) {
		payload = strings.ReplaceAll(payload, fuzzIssuer, d.issuer())
		token := signed(header, payload)
		c, err := p.Verify(context.Background(), token)
		// Verifying again (now from the cache) must agree.
		c2, err2 := p.Verify(context.Background(), token)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("verified once (%v), then not (%v)", err, err2)
		}
		if err != nil {
			var e *Error
			if c != nil || !errors.As(err, &e) || !known[e.Description] {
				t.Fatalf("refusal %T %v with caller %v", err, err, c)
			}
			return
		}
		if why := breaksARule(header, payload, d.issuer(), p.cfg.ClockSkew); why != "" {
			t.Fatalf("verified although %s:\nheader %s\nclaims %s", why, header, payload)
		}
		var cl map[string]any
		_ = json.Unmarshal([]byte(payload), &cl)
		org, _ := cl["org_id"].(string)
		if c.UserID != cl["sub"] || c.OrganizationID != org || c2.UserID != c.UserID || !reflect.DeepEqual(c.Claims, cl) {
			t.Fatalf("caller %+v does not match the claims %s", c, payload)
		}
		if scope, ok := cl["scope"].(string); ok {
			for _, s := range strings.Fields(scope) {
				if !c.HasScope(s) {
					t.Fatalf("scope %q lost: %v", s, c.Scopes)
				}
			}
		}
	})
}

// breaksARule says which rule an access token for testAud from issuer breaks,
// or "". Times are allowed a second of rounding either way.
func breaksARule(header, payload, issuer string, skew time.Duration) string {
	var h map[string]any
	if err := json.Unmarshal([]byte(header), &h); err != nil || h == nil {
		return "the header is not a JSON object"
	}
	if h["alg"] != "RS256" || h["kid"] != "k0" {
		return "alg or kid is not the key's"
	}
	if _, ok := h["crit"]; ok {
		return "it has crit"
	}
	if b, ok := h["b64"]; ok && b != true {
		return "b64 is not true"
	}
	if typ, ok := h["typ"]; ok {
		s, _ := typ.(string)
		switch strings.TrimPrefix(strings.ToLower(s), "application/") {
		case "", "jwt", "at+jwt":
		default:
			return "typ is not an access token's"
		}
	}
	var c map[string]any
	if err := json.Unmarshal([]byte(payload), &c); err != nil || c == nil {
		return "the claims are not a JSON object"
	}
	if c["iss"] != issuer {
		return "iss is not the issuer"
	}
	now := float64(fuzzNow.Unix())
	slack := skew.Seconds() + 1
	exp, ok := c["exp"].(float64)
	if !ok || now > exp+slack {
		return "exp is missing, not a number, or past"
	}
	for _, name := range []string{"nbf", "iat"} {
		if v, present := c[name]; present {
			if t, ok := v.(float64); !ok || t > now+slack {
				return name + " is not a number, or in the future"
			}
		}
	}
	aud, has := c["aud"]
	if !has {
		aud = c["resource"]
	}
	var auds []any
	switch a := aud.(type) {
	case string:
		auds = []any{a}
	case []any:
		auds = a
	}
	if !slices.ContainsFunc(auds, func(v any) bool { s, _ := v.(string); return strings.TrimSuffix(s, "/") == testAud }) {
		return "the audience is not this server"
	}
	if sub, _ := c["sub"].(string); sub == "" {
		return "sub is missing or not a string"
	}
	for _, name := range []string{"nonce", "at_hash", "c_hash"} {
		if _, ok := c[name]; ok {
			return "it has the ID-token claim " + name
		}
	}
	return ""
}

// FuzzMiddleware: any Authorization header yields 200, 401 or 403 with a
// well-formed challenge, never anything else.
func FuzzMiddleware(f *testing.F) {
	p, valid := fuzzSetup(f)
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer " + valid, "bearer  " + valid, "Basic Zm9vOmJhcg==",
		"Bearer a\"b", "Bearer \x00", "Bearer " + valid + "=", "Bearer\t" + valid, "Bearer " + strings.Repeat("A", 20000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, hdr string) {
		res := runGate(p, func(r *http.Request) { r.Header.Set("Authorization", hdr) })
		switch res.status {
		case 200:
			if res.caller == nil || res.caller.UserID == "" {
				t.Fatal("200 without a caller")
			}
		case 401, 403:
			if res.caller != nil {
				t.Fatal("next ran on rejection")
			}
			ch := res.header.Get("WWW-Authenticate")
			if !strings.HasPrefix(ch, "Bearer ") || strings.ContainsAny(ch, "\r\n") || !strings.Contains(ch, `resource_metadata="`) {
				t.Fatalf("bad challenge %q", ch)
			}
			var body map[string]string
			if err := json.Unmarshal([]byte(res.body), &body); err != nil {
				t.Fatalf("bad body %q", res.body)
			}
		default:
			t.Fatalf("status %d for %q", res.status, hdr)
		}
	})
}

// BenchmarkVerifyCold measures the full path (parse, RSA verify, claims,
// Caller) with the key already cached: the verified-token cache is disabled
// and a pool of distinct tokens is cycled, so every call is a first sight.
func BenchmarkVerifyCold(b *testing.B) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(b, 0)}
	d := newIDP(b, k0)
	p := newProvider(b, d, nil)
	p.tokens.max = 0
	tokens := make([]string, 256)
	for i := range tokens {
		c := claimsFor(d.issuer(), time.Now())
		c["jti"] = fmt.Sprint("jti-", i)
		tokens[i] = sign(b, k0, "RS256", nil, c)
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.Verify(ctx, tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkVerifyCached measures the hot path: the same token again.
func BenchmarkVerifyCached(b *testing.B) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(b, 0)}
	d := newIDP(b, k0)
	p := newProvider(b, d, nil)
	tok := sign(b, k0, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	ctx := context.Background()
	if _, err := p.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is the hot path under concurrency.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	k0 := testKey{kid: "k0", alg: "RS256", priv: rsaKey(b, 0)}
	d := newIDP(b, k0)
	p := newProvider(b, d, nil)
	tok := sign(b, k0, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	ctx := context.Background()
	if _, err := p.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
