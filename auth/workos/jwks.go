package workos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

const (
	maxJWKSBytes = 1 << 20
	fetchTimeout = 10 * time.Second
	maxBackoff   = time.Minute
	// unknownKidWait: a healthy JWKS answers well within it; a slower one still
	// installs the key for later requests.
	unknownKidWait = 2 * time.Second
)

// keySet is an immutable snapshot of the usable keys, swapped atomically so the
// verification hot path reads it without locks of ours. set is what jws.Verify
// checks signatures against; it is never modified once published.
type keySet struct {
	set jwk.Set
	// raw maps kid to the JWK as served, to notice material changes under the
	// same kid.
	raw map[string]string
}

// lookup returns the key with this kid, if the snapshot has one.
func (s *keySet) lookup(kid string) (jwk.Key, bool) { return s.set.LookupKeyID(kid) }

// flight is one JWKS fetch that concurrent callers share.
type flight struct {
	done chan struct{}
	err  error
}

// jwksCache keeps the issuer's signing keys as a jwx jwk.Set. Keys survive
// failed refreshes (an AuthKit outage must not log everyone out), every fetch is
// shared by all who need it, and fetches caused by unknown key ids are
// rate-limited because the kid comes from the unauthenticated token.
//
// Why a wrapper and not jwk.Cache: jwx parses the keys and verifies with the
// set, but jwk.Cache (httprc) cannot express the refresh policy we need. Its
// on-demand Refresh has no rate limit, so an unknown-kid miss would fetch once
// per request (the kid is attacker-chosen), and it cannot run on the injected
// clock MinRefetchInterval is measured with. Its default parse also takes a
// JWKS all or nothing, while we skip single keys that fail our policy (oct,
// small RSA, off-curve EC, mismatched alg), cap the body size, and drop
// verified-token cache entries when a key is removed or changed (onChange).
type jwksCache struct {
	url         string
	client      *http.Client
	log         *slog.Logger
	now         func() time.Time
	minInterval time.Duration
	every       time.Duration
	// onChange runs when a key disappears or changes, so verified-token results
	// that relied on it are dropped.
	onChange func()
	onFetch  func(error) // Config.OnJWKSFetch
	// ctx outlives requests: a fetch keeps going when the request that started it
	// gives up, because others are waiting for the same result.
	ctx context.Context

	set    atomic.Pointer[keySet]
	loaded atomic.Bool

	// kidWait bounds how long an unknown kid waits for the fetch it started.
	kidWait time.Duration

	mu sync.Mutex
	// lastDone is when the last fetch ended: the refetch interval for unknown
	// kids counts from there, so a fetch that hung is not followed at once by
	// another.
	lastDone time.Time
	inflight *flight
}

func newJWKSCache(ctx context.Context, url string, cfg Config, onChange func()) *jwksCache {
	c := &jwksCache{
		url: url, client: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now,
		minInterval: cfg.MinRefetchInterval, every: cfg.JWKSRefresh,
		onChange: onChange, onFetch: cfg.OnJWKSFetch, ctx: ctx,
		kidWait: unknownKidWait,
	}
	c.set.Store(&keySet{set: jwk.NewSet(), raw: map[string]string{}})
	return c
}

// snapshot returns the current key set.
func (c *jwksCache) snapshot() *keySet { return c.set.Load() }

// refresh starts or joins a fetch and waits for it (or for waitCtx): the
// initial load and the background refresh (force) do this.
//
// An unknown kid (force false) is cheaper to refuse than to queue: it comes from
// an unauthenticated token, and an issuer that hangs would hold each such
// request for the whole fetch timeout. So it never joins a fetch already
// running (errFetchPending), starts none within minInterval of the end of the
// last one, success or failure (errRateLimited), and waits at most kidWait for
// the fetch it starts; that fetch carries on and installs a rotated-in key for
// the requests after it.
func (c *jwksCache) refresh(waitCtx context.Context, force bool) error {
	c.mu.Lock()
	f := c.inflight
	switch {
	case f != nil && !force:
		c.mu.Unlock()
		return errFetchPending
	case f == nil && !force && !c.lastDone.IsZero() && c.now().Sub(c.lastDone) < c.minInterval:
		c.mu.Unlock()
		return errRateLimited
	case f == nil:
		f = &flight{done: make(chan struct{})}
		c.inflight = f
		go func() {
			err := c.fetch(c.ctx)
			c.mu.Lock()
			c.inflight = nil
			c.lastDone = c.now()
			f.err = err
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	if !force {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(waitCtx, c.kidWait)
		defer cancel()
	}
	select {
	case <-f.done:
		return f.err
	case <-waitCtx.Done():
		return waitCtx.Err()
	}
}

var (
	errRateLimited  = errors.New("JWKS refetch rate-limited")
	errFetchPending = errors.New("JWKS fetch already in progress")
)

// run refreshes in the background until ctx ends: every `every` when healthy,
// with capped exponential backoff while the JWKS is unreachable.
func (c *jwksCache) run(ctx context.Context, failures int) {
	t := time.NewTimer(c.delay(failures))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.refresh(ctx, true); err != nil {
			failures++
		} else {
			failures = 0
		}
		t.Reset(c.delay(failures))
	}
}

func (c *jwksCache) delay(failures int) time.Duration {
	if failures == 0 {
		return c.every
	}
	limit := min(c.every, maxBackoff)
	d := time.Second << min(failures-1, 10)
	return min(d, limit)
}

// fetch downloads and installs the key set. On any failure the previous keys
// stay in place.
func (c *jwksCache) fetch(ctx context.Context) error {
	err := c.fetchOnce(ctx)
	if c.onFetch != nil {
		c.onFetch(err)
	}
	if err != nil {
		if c.loaded.Load() {
			c.log.Warn("workos: JWKS refresh failed; keeping cached keys", "url", c.url, "error", err)
		} else {
			c.log.Warn("workos: JWKS unavailable; token verification fails until keys load", "url", c.url, "error", err)
		}
	}
	return err
}

func (c *jwksCache) fetchOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unexpected status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("JWKS is not valid JSON: %w", err)
	}
	if doc.Keys == nil {
		return errors.New(`JWKS has no "keys" member`)
	}
	next := &keySet{set: jwk.NewSet(), raw: make(map[string]string, len(doc.Keys))}
	for _, raw := range doc.Keys {
		k, err := parseJWK(raw)
		if err != nil {
			c.log.Debug("workos: skipping JWK", "error", err)
			continue
		}
		kid, _ := k.KeyID() // parseJWK refused keys without one
		if _, dup := next.raw[kid]; dup {
			c.log.Warn("workos: duplicate kid in JWKS; using the first", "kid", kid)
			continue
		}
		if err := next.set.AddKey(k); err != nil {
			c.log.Debug("workos: skipping JWK", "kid", kid, "error", err)
			continue
		}
		next.raw[kid] = string(raw)
	}
	if next.set.Len() == 0 {
		c.log.Warn("workos: JWKS has no usable keys", "url", c.url)
	}
	prev := c.set.Swap(next)
	if !c.loaded.Swap(true) {
		c.log.Info("workos: JWKS loaded", "url", c.url, "keys", next.set.Len())
	}
	for kid, old := range prev.raw {
		if now, ok := next.raw[kid]; !ok || now != old {
			c.onChange()
			break
		}
	}
	return nil
}
