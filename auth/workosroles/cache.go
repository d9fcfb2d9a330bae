package workosroles

import (
	"context"
	"errors"
	"sync"
	"time"
)

// cache holds lookups by key: fresh for ttl, then refetched by one caller at a
// time while the others wait for its answer. A failed refetch keeps the old
// value, served for staleFor past its ttl, and is remembered until retryAfter
// so later calls do not each wait on a WorkOS that is down.
type cache[V any] struct {
	ttl, staleFor time.Duration
	max           int
	now           func() time.Time

	mu       sync.Mutex
	entries  map[string]*entry[V]
	inflight map[string]*flight[V]
}

type entry[V any] struct {
	val         V
	ok          bool // val holds an answer from WorkOS
	fetched     time.Time
	failedUntil time.Time
	err         error // the last failure, while failedUntil holds
}

type flight[V any] struct {
	done  chan struct{}
	val   V
	stale bool
	err   error
}

func newCache[V any](cfg Config) *cache[V] {
	return &cache[V]{ttl: cfg.TTL, staleFor: cfg.StaleFor, max: cfg.MaxEntries, now: cfg.Now,
		entries: map[string]*entry[V]{}, inflight: map[string]*flight[V]{}}
}

// get returns the value for key, calling fetch when it is missing or expired.
// stale reports a value kept past its ttl because the refetch failed.
func (c *cache[V]) get(ctx context.Context, key string, fetch func(context.Context) (V, error)) (v V, stale bool, err error) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[key]
	switch {
	case e != nil && e.ok && now.Before(e.fetched.Add(c.ttl)):
		c.mu.Unlock()
		return e.val, false, nil
	case e != nil && now.Before(e.failedUntil):
		v, stale, err = c.fallbackLocked(e, now)
		c.mu.Unlock()
		return v, stale, err
	}
	f := c.inflight[key]
	if f == nil {
		f = &flight[V]{done: make(chan struct{})}
		c.inflight[key] = f
		c.mu.Unlock()
		// Detached from this request: the others waiting on the same key must
		// not fail because the first caller went away. The HTTP client's
		// timeout bounds it.
		val, ferr := fetch(context.WithoutCancel(ctx))
		c.finish(key, f, val, ferr)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-f.done:
		return f.val, f.stale, f.err
	case <-ctx.Done():
		var zero V
		return zero, false, ctx.Err()
	}
}

// finish records a fetch's outcome and wakes its waiters.
func (c *cache[V]) finish(key string, f *flight[V], val V, err error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	e := c.entries[key]
	if e == nil {
		c.makeRoomLocked(now)
		e = &entry[V]{}
		c.entries[key] = e
	}
	if err == nil {
		*e = entry[V]{val: val, ok: true, fetched: now}
		f.val = val
	} else {
		wait := defaultRetryAfter
		var ae *apiError
		if errors.As(err, &ae) && ae.retryAfter > 0 {
			wait = ae.retryAfter
		}
		e.failedUntil, e.err = now.Add(wait), err
		f.val, f.stale, f.err = c.fallbackLocked(e, now)
	}
	close(f.done)
}

// fallbackLocked is the answer while the last refetch of e failed: its old
// value within the stale window, else the failure.
func (c *cache[V]) fallbackLocked(e *entry[V], now time.Time) (V, bool, error) {
	if e.ok && now.Before(e.fetched.Add(c.ttl+c.staleFor)) {
		return e.val, true, nil
	}
	var zero V
	return zero, false, e.err
}

// makeRoomLocked keeps the cache under max entries: first entries too old to
// serve even stale, then any.
func (c *cache[V]) makeRoomLocked(now time.Time) {
	if len(c.entries) < c.max {
		return
	}
	for k, e := range c.entries {
		if !now.Before(e.fetched.Add(c.ttl+c.staleFor)) && !now.Before(e.failedUntil) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, k)
	}
}

func (c *cache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
