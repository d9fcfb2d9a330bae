// Package ratelimit keeps token buckets by key (a user, an organization, a
// user's calls to one tool) for mcphost's call limits. Buckets live in memory,
// bounded in number; a bucket that has refilled is forgotten first, since
// forgetting it changes nothing.
package ratelimit

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a rate (tokens per second) and a burst.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Check is one bucket a call must pass: the key and its limit.
type Check struct {
	Key   string
	Limit Limit
}

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	lim   *rate.Limiter
	limit Limit
}

// New returns a Limiter keeping at most max buckets; now is the clock (nil:
// time.Now).
func New(max int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, now: now, buckets: map[string]*bucket{}}
}

// Allow takes a token from every bucket in checks, or from none: when any is
// empty it returns false and how long until all of them would allow the call.
func (l *Limiter) Allow(checks ...Check) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	reservations := make([]*rate.Reservation, 0, len(checks))
	for _, c := range checks {
		r := l.bucketLocked(c, now).lim.ReserveN(now, 1)
		reservations = append(reservations, r)
		if !r.OK() {
			wait = math.MaxInt64
			continue
		}
		wait = max(wait, r.DelayFrom(now))
	}
	if wait == 0 {
		return true, 0
	}
	for _, r := range reservations {
		r.CancelAt(now) // a refused call costs nothing
	}
	return false, wait
}

func (l *Limiter) bucketLocked(c Check, now time.Time) *bucket {
	b := l.buckets[c.Key]
	if b != nil && b.limit == c.Limit {
		return b
	}
	if b == nil && len(l.buckets) >= l.max {
		l.evictLocked(now)
	}
	b = &bucket{lim: rate.NewLimiter(rate.Limit(c.Limit.PerSecond), c.Limit.Burst), limit: c.Limit}
	l.buckets[c.Key] = b
	return b
}

// evictLocked forgets full buckets, then any, to stay under max.
func (l *Limiter) evictLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.lim.TokensAt(now) >= float64(b.limit.Burst) {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			return
		}
		delete(l.buckets, k)
	}
}

// Len is the number of buckets kept.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
