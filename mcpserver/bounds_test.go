package mcpserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// clock is an injected time source for the session stores.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestMemorySessionsPerOwnerCap: one more session than the cap closes the
// owner's least recently used one, never another owner's.
func TestMemorySessionsPerOwnerCap(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1000, 0)}
	m := NewMemorySessions(time.Hour, c.now)
	defer m.Close()
	caps := SessionCaps{PerOwner: 2}
	create := func(id, owner string) []string {
		t.Helper()
		c.add(time.Second)
		closed, err := m.Create(ctx, &Session{ID: id, Owner: owner}, caps)
		if err != nil {
			t.Fatal(err)
		}
		return closed
	}
	create("a1", "alice")
	create("a2", "alice")
	create("b1", "bob")
	c.add(time.Second)
	if _, err := m.Get(ctx, "a1"); err != nil { // a1 is used again: a2 is now the idlest
		t.Fatal(err)
	}
	if closed := create("a3", "alice"); !slices.Equal(closed, []string{"a2"}) {
		t.Fatalf("closed %v, want the least recently used [a2]", closed)
	}
	if _, err := m.Get(ctx, "a2"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Get(a2) after it was closed: %v", err)
	}
	for _, id := range []string{"a1", "a3", "b1"} {
		if _, err := m.Get(ctx, id); err != nil {
			t.Errorf("Get(%s): %v", id, err)
		}
	}
	// Without an owner (unauthenticated serving) there is no per-owner cap.
	for i := range 5 {
		if closed := create("anon"+strconv.Itoa(i), ""); len(closed) != 0 {
			t.Fatalf("anonymous sessions closed %v", closed)
		}
	}
}

// TestMemorySessionsTotalCap: a full store refuses without changing anything,
// counts expired sessions as free, and tells the engine they ended.
func TestMemorySessionsTotalCap(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Unix(1000, 0)}
	m := NewMemorySessions(time.Minute, c.now)
	defer m.Close()
	var ended []string
	m.onEnd(func(id string) { ended = append(ended, id) })
	caps := SessionCaps{PerOwner: 2, Total: 2}
	for _, id := range []string{"a", "b"} {
		if _, err := m.Create(ctx, &Session{ID: id, Owner: id}, caps); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Create(ctx, &Session{ID: "c", Owner: "c"}, caps); !errors.Is(err, ErrTooManySessions) {
		t.Fatalf("Create over the total: %v, want ErrTooManySessions", err)
	}
	if m.Len() != 2 {
		t.Fatalf("%d sessions after a refusal, want 2", m.Len())
	}
	// An owner at its cap in a full store replaces its own: the total holds.
	if closed, err := m.Create(ctx, &Session{ID: "a2", Owner: "a"}, SessionCaps{PerOwner: 1, Total: 2}); err != nil || !slices.Equal(closed, []string{"a"}) {
		t.Fatalf("replacing within the owner's cap: closed %v, %v", closed, err)
	}
	c.add(2 * time.Minute)
	if _, err := m.Create(ctx, &Session{ID: "c", Owner: "c"}, caps); err != nil {
		t.Fatalf("Create once the others expired: %v", err)
	}
	slices.Sort(ended)
	if !slices.Equal(ended, []string{"a2", "b"}) || m.Len() != 1 {
		t.Fatalf("ended %v, %d left; want [a2 b] told and 1 left", ended, m.Len())
	}
}

// TestSessionCapFreesEvents: the session a user's new one replaces is gone
// with its stored events; its id answers 404.
func TestSessionCapFreesEvents(t *testing.T) {
	ev := NewMemoryEvents(0, 0, time.Hour, nil)
	s := New(addBackend{}, Options{Events: ev, SessionCaps: SessionCaps{PerOwner: 1}})
	defer s.Close()
	srv := httptest.NewServer(asUser(s))
	defer srv.Close()
	initialize := func() string {
		resp := post(t, srv.URL, nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Mcp-Session-Id")
		if resp.StatusCode != http.StatusOK || id == "" {
			t.Fatalf("initialize: %d, session %q", resp.StatusCode, id)
		}
		// A call answered on a resumable stream leaves its events in the store.
		resp = post(t, srv.URL, map[string]string{"Mcp-Session-Id": id, "MCP-Protocol-Version": "2025-11-25"}, callBody)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return id
	}
	first := initialize()
	one := ev.Bytes()
	if one == 0 {
		t.Fatal("the session stored no events; the test cannot see them freed")
	}
	second := initialize()
	if got := ev.Bytes(); got != one {
		t.Fatalf("events hold %d bytes after the first session was replaced, want %d (one session's)", got, one)
	}
	hdr := map[string]string{"Mcp-Session-Id": first, "MCP-Protocol-Version": "2025-11-25"}
	ping := `{"jsonrpc":"2.0","id":2,"method":"ping"}`
	if resp := post(t, srv.URL, hdr, ping); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the replaced session answered %d, want 404", resp.StatusCode)
	}
	hdr["Mcp-Session-Id"] = second
	if resp := post(t, srv.URL, hdr, ping); resp.StatusCode != http.StatusOK {
		t.Fatalf("the new session answered %d", resp.StatusCode)
	}
}

// TestStreamCaps: per user, then in total; a closed stream gives its place back.
func TestStreamCaps(t *testing.T) {
	s := New(addBackend{}, Options{MaxStreams: 2, MaxStreamsPerUser: 1})
	defer s.Close()
	a, b, c := &auth.Caller{UserID: "a"}, &auth.Caller{UserID: "b"}, &auth.Caller{UserID: "c"}
	relA, e := s.openStream(a)
	if e != nil {
		t.Fatal(e)
	}
	if _, e := s.openStream(a); e == nil || e.Status != http.StatusTooManyRequests {
		t.Fatalf("a second stream for a: %v, want 429", e)
	}
	if _, e := s.openStream(b); e != nil {
		t.Fatal(e)
	}
	if _, e := s.openStream(c); e == nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("a stream over the total: %v, want 503", e)
	}
	relA()
	relA() // idempotent
	if _, e := s.openStream(c); e != nil {
		t.Fatalf("after a closed its stream: %v", e)
	}
	if _, e := s.openStream(a); e == nil {
		t.Fatal("a double release freed two places")
	}
}
