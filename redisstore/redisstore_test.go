package redisstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/testredis"
	"github.com/mcphost/mcphost/mcpserver"
)

func open(t testing.TB, url string, o Options) *Store {
	t.Helper()
	o.URL = url
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestOpenRejectsBadURL(t *testing.T) {
	for _, u := range []string{"http://localhost:6379", "redis://user:hunter2@[::1", "nonsense"} {
		_, err := Open(Options{URL: u})
		if err == nil || !strings.Contains(err.Error(), "server.store") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) = %v, want an error naming server.store without the password", u, err)
		}
	}
}

// TestSessionsSharedBetweenReplicas: what one replica stores, another reads,
// changes and deletes; idle sessions expire.
func TestSessionsSharedBetweenReplicas(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	a := open(t, srv.URL(), Options{SessionTimeout: time.Minute}).Sessions()
	b := open(t, srv.URL(), Options{SessionTimeout: time.Minute}).Sessions()

	in := &mcpserver.Session{ID: "S1", Owner: "user_1", ProtocolVersion: "2025-11-25", ClientCapabilities: []byte(`{"sampling":{}}`), ClientInfo: []byte(`{"name":"c"}`), Created: time.UnixMilli(1700000000000)}
	if _, err := a.Create(ctx, in, mcpserver.SessionCaps{}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "S1")
	if err != nil || got.Owner != "user_1" || got.ProtocolVersion != "2025-11-25" || string(got.ClientCapabilities) != `{"sampling":{}}` || string(got.ClientInfo) != `{"name":"c"}` || !got.Created.Equal(in.Created) {
		t.Fatalf("Get on the other replica = %+v, %v", got, err)
	}
	if err := b.SetLogLevel(ctx, "S1", "debug"); err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{"test://x", "test://y"} {
		if err := a.Subscribe(ctx, "S1", uri); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Unsubscribe(ctx, "S1", "test://y"); err != nil {
		t.Fatal(err)
	}
	got, _ = a.Get(ctx, "S1")
	if got.LogLevel != "debug" || !slices.Equal(got.Subscriptions, []string{"test://x"}) {
		t.Fatalf("after changes: level %q subscriptions %v", got.LogLevel, got.Subscriptions)
	}
	if ids, err := b.SubscribersOf(ctx, "test://x"); err != nil || !slices.Equal(ids, []string{"S1"}) {
		t.Fatalf("SubscribersOf = %v, %v", ids, err)
	}
	if err := b.Delete(ctx, "S1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "S1"); !errors.Is(err, mcpserver.ErrNoSession) {
		t.Fatalf("Get after Delete: %v, want ErrNoSession", err)
	}
	if ids, _ := a.SubscribersOf(ctx, "test://x"); len(ids) != 0 {
		t.Fatalf("deleted session still subscribed: %v", ids)
	}
	for name, err := range map[string]error{
		"SetLogLevel": a.SetLogLevel(ctx, "S1", "info"),
		"Subscribe":   a.Subscribe(ctx, "S1", "test://x"),
		"Delete":      a.Delete(ctx, "S1"),
	} {
		if !errors.Is(err, mcpserver.ErrNoSession) {
			t.Errorf("%s on a deleted session: %v, want ErrNoSession", name, err)
		}
	}

	short := open(t, srv.URL(), Options{SessionTimeout: 300 * time.Millisecond}).Sessions()
	if _, err := short.Create(ctx, &mcpserver.Session{ID: "S2", Owner: "u", ProtocolVersion: "2025-11-25"}, mcpserver.SessionCaps{}); err != nil {
		t.Fatal(err)
	}
	if _, err := short.Get(ctx, "S2"); err != nil { // a use renews the timeout
		t.Fatal(err)
	}
	if ttl := short.s.rdb.PTTL(ctx, short.key("S2")).Val(); ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("session TTL %s, want (0, 300ms]", ttl)
	}
	// Redis's clock expires the key; poll for it without touching the session.
	for deadline := time.Now().Add(5 * time.Second); short.s.rdb.Exists(ctx, short.key("S2")).Val() > 0; {
		if time.Now().After(deadline) {
			t.Fatal("idle session did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := short.Get(ctx, "S2"); !errors.Is(err, mcpserver.ErrNoSession) {
		t.Fatalf("expired session: %v", err)
	}
}

// TestEventsResumeOnAnotherReplica: events appended by one replica replay on
// another after any id still held; older ids are gone; Done and
// DeleteSession end them.
func TestEventsResumeOnAnotherReplica(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	// 20 bytes of data per stream: two 7-byte events fit, a third pushes the
	// oldest out.
	a := open(t, srv.URL(), Options{MaxStreamBytes: 20}).Events()
	b := open(t, srv.URL(), Options{MaxStreamBytes: 20}).Events()

	prime, err := a.Append(ctx, "S1", "st", nil)
	if err != nil || prime != "st_0" {
		t.Fatalf("priming id %q, %v", prime, err)
	}
	id1, _ := a.Append(ctx, "S1", "st", []byte(`{"n":1}`))
	stream, evs, done, err := b.Replay(ctx, "S1", prime)
	if err != nil || stream != "st" || done || len(evs) != 1 || evs[0].ID != id1 || string(evs[0].Data) != `{"n":1}` {
		t.Fatalf("Replay(%s) = %q %v %v %v", prime, stream, evs, done, err)
	}
	a.Append(ctx, "S1", "st", []byte(`{"n":2}`))
	a.Append(ctx, "S1", "st", []byte(`{"n":3}`)) // the priming event and n:1 fall out
	if _, evs, _, err := b.Replay(ctx, "S1", id1); err != nil || len(evs) != 2 || string(evs[1].Data) != `{"n":3}` {
		t.Fatalf("Replay(%s) = %v, %v", id1, evs, err)
	}
	a.Append(ctx, "S1", "st", []byte(`{"n":4}`))
	for _, gone := range []string{prime, "st_99", "other_1", "st_x", "nounderscore"} {
		if _, _, _, err := b.Replay(ctx, "S1", gone); !errors.Is(err, mcpserver.ErrEventsGone) {
			t.Errorf("Replay(%s) = %v, want ErrEventsGone", gone, err)
		}
	}
	a.Done(ctx, "S1", "st")
	if _, _, done, err := b.Replay(ctx, "S1", "st_3"); err != nil || !done {
		t.Fatalf("after Done: done %v, %v", done, err)
	}
	b.DeleteSession(ctx, "S1")
	if _, _, _, err := a.Replay(ctx, "S1", "st_3"); !errors.Is(err, mcpserver.ErrEventsGone) {
		t.Fatalf("after DeleteSession: %v", err)
	}
}

// TestBrokerAcrossReplicas: a message published on one replica reaches the
// subscribers on another, the end-of-stream nil included; after cancel,
// nothing more arrives.
func TestBrokerAcrossReplicas(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	pub := open(t, srv.URL(), Options{}).Broker()
	subStore := open(t, srv.URL(), Options{})
	sub := subStore.Broker()
	t.Cleanup(func() { _ = sub.Close() })

	ch1, cancel1, err := sub.Subscribe(ctx, "topic-a")
	if err != nil {
		t.Fatal(err)
	}
	ch2, cancel2, err := sub.Subscribe(ctx, "topic-a") // a second local subscriber shares the Redis subscription
	if err != nil {
		t.Fatal(err)
	}
	other, cancelOther, _ := sub.Subscribe(ctx, "topic-b")
	defer cancelOther()
	if err := pub.Publish(ctx, "topic-a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "topic-a", nil); err != nil {
		t.Fatal(err)
	}
	for i, ch := range []<-chan []byte{ch1, ch2} {
		if m := recv(t, ch); string(m) != "hello" {
			t.Fatalf("subscriber %d got %q", i, m)
		}
		if m := recv(t, ch); m != nil {
			t.Fatalf("subscriber %d got %q, want the nil end", i, m)
		}
	}
	select {
	case m := <-other:
		t.Fatalf("topic-b got %q", m)
	default:
	}
	cancel1()
	cancel2()
	if err := pub.Publish(ctx, "topic-a", []byte("late")); err != nil {
		t.Fatal(err)
	}
	// topic-b still works, and its message comes after the late one was
	// published: had topic-a still been subscribed, it would be here first.
	_ = pub.Publish(ctx, "topic-b", []byte("b"))
	if m := recv(t, other); string(m) != "b" {
		t.Fatalf("topic-b got %q", m)
	}
	select {
	case m := <-ch1:
		t.Fatalf("cancelled subscriber got %q", m)
	default:
	}
}

func recv(t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

// TestRedisDownFailsFast: with Redis gone every operation fails within the
// command timeout with an error naming the store (never "session not found"),
// and works again when Redis is back, with no new Store.
func TestRedisDownFailsFast(t *testing.T) {
	srv := testredis.Start(t)
	st := open(t, srv.URL(), Options{Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	sessions, events, broker := st.Sessions(), st.Events(), st.Broker()
	t.Cleanup(func() { _ = broker.Close() })
	if _, err := sessions.Create(ctx, &mcpserver.Session{ID: "S1", Owner: "u", ProtocolVersion: "2025-11-25"}, mcpserver.SessionCaps{}); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	start := time.Now()
	_, getErr := sessions.Get(ctx, "S1")
	_, appendErr := events.Append(ctx, "S1", "st", []byte("x"))
	pubErr := broker.Publish(ctx, "t", []byte("x"))
	_, _, subErr := broker.Subscribe(ctx, "t")
	for name, err := range map[string]error{"Get": getErr, "Append": appendErr, "Publish": pubErr, "Subscribe": subErr} {
		if err == nil || errors.Is(err, mcpserver.ErrNoSession) || !strings.Contains(err.Error(), "session store (Redis) is unavailable") {
			t.Errorf("%s with Redis down: %v", name, err)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("four operations took %s with Redis down", took)
	}
	if st.Ping(ctx) == nil {
		t.Error("Ping succeeded with Redis down")
	}
	srv.Restart(t) // an empty Redis on the same address
	if err := st.Ping(ctx); err != nil {
		t.Fatalf("Ping after Redis returned: %v", err)
	}
	if _, err := sessions.Get(ctx, "S1"); !errors.Is(err, mcpserver.ErrNoSession) {
		t.Fatalf("Get after Redis returned (empty): %v, want ErrNoSession", err)
	}
	ch, cancel, err := broker.Subscribe(ctx, "t2")
	if err != nil {
		t.Fatalf("Subscribe after Redis returned: %v", err)
	}
	defer cancel()
	if err := broker.Publish(ctx, "t2", []byte("back")); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ch); string(m) != "back" {
		t.Fatalf("got %q", m)
	}
}

// TestRedisFrozenFailsWithinTimeout: a Redis that accepts connections but
// never answers (hung, or packets dropped) fails each operation within a
// small multiple of the command timeout, naming the store, and serves
// again once it answers.
func TestRedisFrozenFailsWithinTimeout(t *testing.T) {
	srv := testredis.Start(t)
	const timeout = 300 * time.Millisecond
	st := open(t, srv.URL(), Options{Timeout: timeout})
	ctx := context.Background()
	sessions := st.Sessions()
	if _, err := sessions.Create(ctx, &mcpserver.Session{ID: "S1", Owner: "u", ProtocolVersion: "2025-11-25"}, mcpserver.SessionCaps{}); err != nil {
		t.Fatal(err)
	}
	srv.Pause(t)
	for _, op := range []string{"Get", "SetLogLevel"} {
		start := time.Now()
		var err error
		if op == "Get" {
			_, err = sessions.Get(ctx, "S1")
		} else {
			err = sessions.SetLogLevel(ctx, "S1", "debug")
		}
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "session store (Redis) is unavailable") {
			t.Errorf("%s with Redis frozen: %v", op, err)
		}
		// One try and one retry, each bounded by the timeout; a hang would
		// last as long as Redis stays frozen.
		if took > 4*timeout+time.Second {
			t.Errorf("%s with Redis frozen took %s (timeout %s)", op, took, timeout)
		}
	}
	if st.Ping(ctx) == nil {
		t.Error("Ping succeeded with Redis frozen")
	}
	srv.Resume(t)
	if s, err := sessions.Get(ctx, "S1"); err != nil || s.Owner != "u" {
		t.Fatalf("Get after Redis thawed: %+v, %v", s, err)
	}
}
