package workos

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// stallGuard is how long a Verify may take while the issuer hangs: well under
// fetchTimeout, so a request that queued behind the hanging fetch fails it.
const stallGuard = fetchTimeout / 2

// verifyWithin runs Verify and fails the test if it has not returned within
// stallGuard (the stalled fetch would hold it for fetchTimeout).
func verifyWithin(t *testing.T, p *Provider, tok string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := p.Verify(context.Background(), tok)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(stallGuard):
		t.Fatalf("Verify still waiting after %v on a stalled JWKS fetch", stallGuard)
		return nil
	}
}

func description(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Description
	}
	return fmt.Sprint(err)
}

// An issuer that accepts the connection and never answers must not hold every
// token with an unknown kid for the fetch timeout, one after the other; the
// refetch interval counts from the end of the last fetch; known keys keep
// verifying and readiness stays.
func TestStalledIssuerUnknownKidsFailFast(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	kB := testKey{kid: "B", alg: "RS256", priv: rsaKey(t, 1)}
	d := newIDP(t, kA)
	clk := newClock()
	fetched := make(chan error, 8)
	p := newProvider(t, d, func(c *Config) {
		c.Now = clk.Now
		c.MinRefetchInterval = 10 * time.Second
		c.OnJWKSFetch = func(err error) { fetched <- err }
	})
	<-fetched // the initial load
	release := d.stallJWKS(t)
	clk.Advance(11 * time.Second)

	for i := range 5 {
		tok := sign(t, testKey{kid: fmt.Sprint("rotated-", i), priv: rsaKey(t, 0)}, "RS256", nil, claimsFor(d.issuer(), clk.Now()))
		if err := verifyWithin(t, p, tok); description(err) != DescUnknownKey {
			t.Fatalf("unknown kid %d while the JWKS hangs: err = %v, want %q", i, err, DescUnknownKey)
		}
	}
	if got := d.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS hits = %d, want 2 (the load, then one refetch shared by every unknown kid)", got)
	}
	c := claimsFor(d.issuer(), clk.Now())
	c["jti"] = "known-kid-during-stall"
	if err := verifyWithin(t, p, sign(t, kA, "RS256", nil, c)); err != nil {
		t.Fatalf("known kid while the JWKS hangs: %v", err)
	}
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready while a refresh hangs (keys were loaded) = %v", err)
	}

	// The fetch has hung 11 s on the injected clock when it fails: the next
	// refetch is 10 s after that, not after its start.
	clk.Advance(11 * time.Second)
	d.setJWKSStatus(http.StatusServiceUnavailable)
	release()
	if err := <-fetched; err == nil {
		t.Fatal("the released fetch succeeded; want the 503")
	}
	tokB := func() string { return sign(t, kB, "RS256", nil, claimsFor(d.issuer(), clk.Now())) }
	if err := verifyWithin(t, p, tokB()); description(err) != DescUnknownKey {
		t.Fatalf("unknown kid right after a failed fetch: err = %v", err)
	}
	if got := d.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS hits = %d, want 2: a fetch that just failed is not retried for an unknown kid", got)
	}
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready after a failed refresh = %v", err)
	}

	// Interval over, issuer healthy with B rotated in: B verifies.
	clk.Advance(11 * time.Second)
	d.setJWKSStatus(0)
	d.setKeys(kA, kB)
	if err := verifyWithin(t, p, tokB()); err != nil {
		t.Fatalf("rotated-in key after the issuer recovered: %v", err)
	}
	if got := d.jwksHits.Load(); got != 3 {
		t.Fatalf("JWKS hits = %d, want 3", got)
	}
}

// Starting against a hanging issuer: tokens get a fast "signing keys
// unavailable", Ready says so, and both clear once the fetch lands.
func TestStalledIssuerAtStart(t *testing.T) {
	kA := testKey{kid: "A", alg: "RS256", priv: rsaKey(t, 0)}
	d := newIDP(t, kA)
	release := d.stallJWKS(t)
	fetched := make(chan error, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p, err := New(ctx, Config{
		Domain: d.issuer(), VerifyJWT: true, Audiences: []string{testAud},
		JWKSRefresh: time.Hour, MinRefetchInterval: time.Hour, Logger: quietLogger(),
		OnJWKSFetch: func(err error) { fetched <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })

	tok := sign(t, kA, "RS256", nil, claimsFor(d.issuer(), time.Now()))
	for i := range 3 {
		if err := verifyWithin(t, p, tok); description(err) != DescKeysUnavailable {
			t.Fatalf("try %d while the first JWKS fetch hangs: err = %v, want %q", i, err, DescKeysUnavailable)
		}
	}
	if err := p.Ready(); err == nil || err.Error() != DescKeysUnavailable {
		t.Fatalf("Ready while the first fetch hangs = %v", err)
	}
	release()
	if err := <-fetched; err != nil {
		t.Fatalf("released fetch: %v", err)
	}
	if err := p.Ready(); err != nil {
		t.Fatalf("Ready after the keys loaded = %v", err)
	}
	if err := verifyWithin(t, p, tok); err != nil {
		t.Fatalf("after the keys loaded: %v", err)
	}
}
