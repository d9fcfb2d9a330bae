package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBurstThenRate(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(100, c.now)
	user := Check{Key: "u:ada", Limit: Limit{PerSecond: 2, Burst: 3}}
	for i := range 3 {
		if ok, _ := l.Allow(user); !ok {
			t.Fatalf("call %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow(user)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("past the burst: ok %v, retry after %s, want 500ms", ok, wait)
	}
	c.t = c.t.Add(500 * time.Millisecond)
	if ok, _ := l.Allow(user); !ok {
		t.Fatal("refilled token refused")
	}
	// Another key has its own bucket.
	if ok, _ := l.Allow(Check{Key: "u:bob", Limit: user.Limit}); !ok {
		t.Fatal("another user shares ada's bucket")
	}
}

// TestAllOrNothing: a call refused by its organization's bucket takes no
// token from the user's.
func TestAllOrNothing(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(100, c.now)
	user := Check{Key: "u:ada", Limit: Limit{PerSecond: 1, Burst: 2}}
	org := Check{Key: "o:acme", Limit: Limit{PerSecond: 1, Burst: 1}}
	if ok, _ := l.Allow(user, org); !ok {
		t.Fatal("first call refused")
	}
	if ok, wait := l.Allow(user, org); ok || wait != time.Second {
		t.Fatalf("org empty: ok %v, wait %s", ok, wait)
	}
	if ok, _ := l.Allow(user); !ok {
		t.Fatal("the refused call took the user's second token")
	}
}

func TestBounded(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(10, c.now)
	for i := range 100 {
		l.Allow(Check{Key: fmt.Sprint("u:", i), Limit: Limit{PerSecond: 1, Burst: 5}})
	}
	if n := l.Len(); n > 10 {
		t.Fatalf("%d buckets, bound 10", n)
	}
}

func TestLimitChangeTakesEffect(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(10, c.now)
	if ok, _ := l.Allow(Check{Key: "u:a", Limit: Limit{PerSecond: 1, Burst: 1}}); !ok {
		t.Fatal()
	}
	if ok, _ := l.Allow(Check{Key: "u:a", Limit: Limit{PerSecond: 1, Burst: 1}}); ok {
		t.Fatal("burst 1 allowed two")
	}
	if ok, _ := l.Allow(Check{Key: "u:a", Limit: Limit{PerSecond: 1, Burst: 5}}); !ok {
		t.Fatal("a raised limit did not apply")
	}
}
