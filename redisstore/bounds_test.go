package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/testredis"
	"github.com/mcphost/mcphost/mcpserver"
)

// TestSessionCapsAcrossReplicas: the per-user cap holds whichever replica a
// session was opened or used on: the least recently used goes, its keys too.
func TestSessionCapsAcrossReplicas(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	a := open(t, srv.URL(), Options{SessionTimeout: time.Minute}).Sessions()
	b := open(t, srv.URL(), Options{SessionTimeout: time.Minute}).Sessions()
	caps := mcpserver.SessionCaps{PerOwner: 3, Total: 5}
	create := func(ss *Sessions, id, owner string) []string {
		t.Helper()
		closed, err := ss.Create(ctx, &mcpserver.Session{ID: id, Owner: owner, ProtocolVersion: "2025-11-25"}, caps)
		if err != nil {
			t.Fatalf("Create %s: %v", id, err)
		}
		return closed
	}
	for i, ss := range []*Sessions{a, b, a} {
		if closed := create(ss, fmt.Sprint("S", i), "alice"); len(closed) != 0 {
			t.Fatalf("closed %v under the cap", closed)
		}
		time.Sleep(2 * time.Millisecond) // distinct last-use times (milliseconds)
	}
	if _, err := b.Get(ctx, "S0"); err != nil { // S0 in use again: S1 is the idlest
		t.Fatal(err)
	}
	if closed := create(b, "S3", "alice"); !slices.Equal(closed, []string{"S1"}) {
		t.Fatalf("closed %v, want [S1], the least recently used", closed)
	}
	if _, err := a.Get(ctx, "S1"); !errors.Is(err, mcpserver.ErrNoSession) {
		t.Fatalf("the closed session on the other replica: %v", err)
	}
	create(a, "B0", "bob")
	create(a, "B1", "bob")
	if _, err := b.Create(ctx, &mcpserver.Session{ID: "C0", Owner: "carol"}, caps); !errors.Is(err, mcpserver.ErrTooManySessions) {
		t.Fatalf("Create in a full store: %v, want ErrTooManySessions", err)
	}
	if err := a.Delete(ctx, "B1"); err != nil {
		t.Fatal(err)
	}
	if closed := create(b, "C0", "carol"); len(closed) != 0 {
		t.Fatalf("after a delete freed a place: closed %v", closed)
	}
	for _, ss := range []*Sessions{a, b} {
		if n, err := ss.Count(ctx); n != 5 || err != nil {
			t.Fatalf("Count = %d, %v; want the 5 sessions of both replicas", n, err)
		}
	}
}

// TestSessionCapsForgetExpired: sessions Redis expired no longer count.
func TestSessionCapsForgetExpired(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	ss := open(t, srv.URL(), Options{SessionTimeout: 200 * time.Millisecond}).Sessions()
	caps := mcpserver.SessionCaps{PerOwner: 1, Total: 1}
	if _, err := ss.Create(ctx, &mcpserver.Session{ID: "old", Owner: "u"}, caps); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ss.s.rdb.Exists(ctx, ss.key("old")).Val() > 0; {
		if time.Now().After(deadline) {
			t.Fatal("idle session did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := ss.Count(ctx); n != 0 || err != nil {
		t.Fatalf("Count after the only session expired = %d, %v; want 0", n, err)
	}
	closed, err := ss.Create(ctx, &mcpserver.Session{ID: "new", Owner: "other"}, caps)
	if err != nil || len(closed) != 0 {
		t.Fatalf("Create after the only session expired: closed %v, %v", closed, err)
	}
}
