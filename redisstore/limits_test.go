package redisstore

import (
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/testredis"
	"github.com/mcphost/mcphost/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// TestLimitsSharedBetweenReplicas: two replicas draw on one bucket per user,
// so a user gets the configured rate in all, not per replica; a refused call
// costs nothing, and the wait is the bucket's.
func TestLimitsSharedBetweenReplicas(t *testing.T) {
	srv := testredis.Start(t)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	a := open(t, srv.URL(), Options{}).Limiter(ratelimit.New(100, c.now), c.now, nil)
	b := open(t, srv.URL(), Options{}).Limiter(ratelimit.New(100, c.now), c.now, nil)
	user := ratelimit.Check{Key: "u:ada", Limit: ratelimit.Limit{PerSecond: 2, Burst: 3}}
	for i, l := range []*Limiter{a, b, a} {
		if ok, _ := l.Allow(user); !ok {
			t.Fatalf("call %d of the burst refused", i)
		}
	}
	for _, l := range []*Limiter{a, b} {
		if ok, wait := l.Allow(user); ok || wait != 500*time.Millisecond {
			t.Fatalf("past the burst on either replica: ok %v, retry after %s, want 500ms", ok, wait)
		}
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := b.Allow(user); !ok {
		t.Fatal("refused after the wait")
	}
	if ok, _ := a.Allow(user); ok {
		t.Fatal("a second call in the same half second passed")
	}

	// All or nothing: an org bucket with room is not charged when the
	// user's is empty.
	org := ratelimit.Check{Key: "o:acme", Limit: ratelimit.Limit{PerSecond: 1, Burst: 1}}
	if ok, _ := a.Allow(user, org); ok {
		t.Fatal("the user's empty bucket let the call through")
	}
	if ok, _ := b.Allow(org); !ok {
		t.Fatal("a refused call charged the org's bucket")
	}
}

// TestLimitsFallBackWhenRedisIsDown: without Redis the replica's own buckets
// decide, so limits still hold (per replica) and calls are not refused for
// the outage.
func TestLimitsFallBackWhenRedisIsDown(t *testing.T) {
	srv := testredis.Start(t)
	c := &clock{t: time.Unix(1_700_000_000, 0)}
	mem := ratelimit.New(100, c.now)
	l := open(t, srv.URL(), Options{Timeout: 300 * time.Millisecond}).Limiter(mem, c.now, nil)
	srv.Stop()
	user := ratelimit.Check{Key: "u:ada", Limit: ratelimit.Limit{PerSecond: 1, Burst: 2}}
	for i := range 2 {
		if ok, _ := l.Allow(user); !ok {
			t.Fatalf("call %d refused during the outage", i)
		}
	}
	if ok, wait := l.Allow(user); ok || wait != time.Second {
		t.Fatalf("past the burst during the outage: ok %v, wait %s, want 1s", ok, wait)
	}
	if mem.Len() != 1 {
		t.Errorf("the fallback holds %d buckets, want 1", mem.Len())
	}
}
