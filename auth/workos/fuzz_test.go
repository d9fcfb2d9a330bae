package workos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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

// FuzzVerify: arbitrary strings never panic and never verify, except the one
// genuinely signed token.
func FuzzVerify(f *testing.F) {
	p, valid := fuzzSetup(f)
	parts := strings.Split(valid, ".")
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".")
	f.Add(b64.EncodeToString([]byte(`{"alg":"RS256","kid":"k0","crit":["x"]}`)) + "." + parts[1] + "." + parts[2])
	f.Add(parts[0] + "." + b64.EncodeToString([]byte(`{"exp":1e999}`)) + "." + parts[2])
	f.Fuzz(func(t *testing.T, token string) {
		c, err := p.Verify(context.Background(), token)
		if err == nil {
			if token != valid {
				t.Fatalf("garbage verified: %q -> %+v", token, c)
			}
			return
		}
		if c != nil {
			t.Fatal("caller returned with an error")
		}
		if _, ok := err.(*Error); !ok {
			t.Fatalf("error %T is not *Error", err)
		}
	})
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
