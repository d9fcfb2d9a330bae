package redisstore

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/testredis"
	"github.com/mcphost/mcphost/mcpserver"
)

// replicas opens n stores on one Redis, as n mcphost replicas would, each
// with its event store on clk (nil: the real clock).
func replicas(t *testing.T, srv *testredis.Server, o Options, clk func() time.Time, n int) (*Store, []*Events) {
	t.Helper()
	var first *Store
	evs := make([]*Events, n)
	for i := range evs {
		st := open(t, srv.URL(), o)
		if first == nil {
			first = st
		}
		evs[i] = st.Events()
		if clk != nil {
			evs[i].now = clk
		}
	}
	return first, evs
}

// audit checks that the store's structures agree with each other and with
// its counters, and returns the total: every stream in a session's meta is
// in the session's index and the shared one (and nothing else is), its list
// holds exactly the events its meta says, each session's count is the sum
// of its streams' bytes, and the total the sum of the sessions'.
func audit(t *testing.T, st *Store) int64 {
	t.Helper()
	ctx := context.Background()
	ev := st.Events()
	p := st.o.Prefix
	counts, err := st.rdb.HGetAll(ctx, p+"evc").Result()
	if err != nil {
		t.Fatal(err)
	}
	all, _ := st.rdb.ZRange(ctx, p+"evall", 0, -1).Result()
	var sum int64
	seen := map[string]bool{}
	for _, key := range scanKeys(t, st, p+"evm:*") {
		s := strings.TrimPrefix(key, p+"evm:")
		metas, _ := st.rdb.HGetAll(ctx, key).Result()
		index, _ := st.rdb.ZRange(ctx, ev.zKey(s), 0, -1).Result()
		var streams []string
		var bytesSum int64
		for name, raw := range metas {
			if name == ":at" {
				continue
			}
			streams = append(streams, name)
			seen[name+":"+s] = true
			m, ok := parseMeta(raw)
			if !ok {
				t.Fatalf("%s %s: bad meta %q", key, name, raw)
			}
			bytesSum += int64(binary.LittleEndian.Uint64([]byte(raw)[24:]))
			n := st.rdb.LLen(ctx, ev.listKey(s, name)).Val()
			if n == 0 && st.rdb.ZScore(ctx, ev.zKey(s), name).Val() < 0 {
				continue // finished, its events expired on Redis's clock; the next sweep forgets it
			}
			if n != m.next-m.first {
				t.Fatalf("stream %s/%s: list holds %d events, meta says %d..%d", s, name, n, m.first, m.next)
			}
		}
		slices.Sort(streams)
		slices.Sort(index)
		if !slices.Equal(streams, index) {
			t.Fatalf("session %s: meta has streams %v, its index %v", s, streams, index)
		}
		bytesSum += redisSessionOverhead + int64(len(s))
		got, _ := strconv.ParseInt(counts[s], 10, 64)
		if got != bytesSum {
			t.Fatalf("session %s counts %d bytes, its streams and keys hold %d", s, got, bytesSum)
		}
		sum += bytesSum
	}
	for _, m := range all {
		if !seen[m] {
			t.Fatalf("evall holds %s, which no session has", m)
		}
	}
	if len(all) != len(seen) {
		t.Fatalf("evall holds %d streams, the sessions %d", len(all), len(seen))
	}
	for _, key := range scanKeys(t, st, p+"*") {
		// go-redis gives -1 (ns) for no TTL, -2 for a key gone since the scan;
		// 0 is a key expiring this millisecond.
		if ttl := st.rdb.PTTL(ctx, key).Val(); ttl == -1 {
			t.Fatalf("%s has no TTL (%s): it could outlive everything", key, ttl)
		}
	}
	total, _ := strconv.ParseInt(counts[":total"], 10, 64)
	if total != sum {
		t.Fatalf("total counts %d bytes, the sessions hold %d (counters %v)", total, sum, counts)
	}
	for name := range counts {
		if name != ":total" && st.rdb.Exists(ctx, ev.metaKey(name)).Val() == 0 {
			t.Fatalf("evc counts session %s, which has no streams", name)
		}
	}
	return total
}

func scanKeys(t *testing.T, st *Store, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	it := st.rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// The per-stream bound trims exactly as the memory store does, whichever
// replica appends: for every id a client could resume from, Replay on the
// Redis store gives what the memory store gives (the same events, the same
// done flag, or ErrEventsGone for an id past trimmed events).
func TestRedisEventsStreamBoundMatchesMemory(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	const maxStream = 100
	st, evs := replicas(t, srv, Options{MaxStreamBytes: maxStream}, nil, 2)
	mem := mcpserver.NewMemoryEvents(maxStream, 1<<20, time.Minute, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, stream := range []string{"a", "b", "c"} {
		var ids []string
		for i := range 40 {
			var data []byte
			if i > 0 { // the first is the priming event
				data = bytes.Repeat([]byte{byte('a' + i%26)}, 1+rng.IntN(60))
			}
			want, _ := mem.Append(ctx, "S", stream, data)
			got, err := evs[i%2].Append(ctx, "S", stream, data)
			if err != nil || got != want {
				t.Fatalf("Append %d: %q, %v; the memory store says %q", i, got, err, want)
			}
			ids = append(ids, got)
		}
		if stream != "c" {
			mem.Done(ctx, "S", stream)
			evs[1].Done(ctx, "S", stream)
		}
		for _, last := range append(ids, stream+"_-1", stream+"_40", stream+"_x") {
			ws, wevs, wdone, werr := mem.Replay(ctx, "S", last)
			gs, gevs, gdone, gerr := evs[0].Replay(ctx, "S", last)
			if !errors.Is(gerr, mcpserver.ErrEventsGone) && gerr != nil {
				t.Fatal(gerr)
			}
			if errors.Is(werr, mcpserver.ErrEventsGone) != errors.Is(gerr, mcpserver.ErrEventsGone) ||
				ws != gs || wdone != gdone || fmt.Sprint(wevs) != fmt.Sprint(gevs) {
				t.Fatalf("Replay(%s): redis %q %d events done=%v %v; memory %q %d events done=%v %v",
					last, gs, len(gevs), gdone, gerr, ws, len(wevs), wdone, werr)
			}
		}
		var data int
		_, held, _, _ := evs[0].Replay(ctx, "S", ids[len(ids)-1])
		for _, e := range held {
			data += len(e.Data)
		}
		if data > maxStream {
			t.Fatalf("stream %s holds %d bytes of data, bound %d", stream, data, maxStream)
		}
	}
	audit(t, st)
}

// One session cannot take the whole store, whichever replicas it appends
// through: past its share its finished streams go first, then its oldest
// events; other sessions keep theirs, and the newest stream of the busy one
// stays resumable.
func TestRedisEventsBoundedPerSession(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	const total = 1 << 20
	st, evs := replicas(t, srv, Options{MaxStreamBytes: 4 << 10, MaxEventBytes: total}, clk.now, 2)
	maxSession := int64(evs[0].maxSession())
	quiet, _ := evs[0].Append(ctx, "quiet", "get", nil)
	evs[0].Append(ctx, "quiet", "get", []byte(`{"n":1}`))
	data := bytes.Repeat([]byte("x"), 1000)
	for i := range 3000 {
		clk.t = clk.t.Add(time.Millisecond)
		s := fmt.Sprint("req-", i)
		evs[i%2].Append(ctx, "busy", s, data)
		if i%2 == 0 {
			evs[(i+1)%2].Done(ctx, "busy", s)
		}
		if i%500 == 0 || i == 2999 {
			tot, sess, err := evs[0].counts(ctx, "busy")
			if err != nil || sess > maxSession || tot > total {
				t.Fatalf("after %d streams: busy session counts %d bytes (bound %d), all %d (bound %d), %v", i+1, sess, maxSession, tot, total, err)
			}
		}
	}
	audit(t, st)
	if _, got, _, err := evs[1].Replay(ctx, "quiet", quiet); err != nil || len(got) != 1 {
		t.Fatalf("the quiet session lost its events to the busy one: %v %v", got, err)
	}
	if _, _, _, err := evs[0].Replay(ctx, "busy", "req-2999_0"); err != nil {
		t.Fatalf("newest stream of the busy session: %v", err)
	}
	// What Redis holds for the busy session stays near its count.
	var held int64
	for _, k := range scanKeys(t, st, st.o.Prefix+"ev*busy*") {
		held += st.rdb.MemoryUsage(ctx, k, 0).Val()
	}
	if held > 2*maxSession {
		t.Fatalf("Redis holds %d bytes for the busy session, its bound is %d", held, maxSession)
	}
}

// Over a bound, a store sheds in the memory store's order: finished streams
// first, oldest finished first; then the oldest events of live streams (the
// least recently used first, the stream being appended to included, down
// to its newest event); never the stream being appended to. Within one
// session (its share) and across sessions (the total), whichever replica
// appends.
func TestRedisEventsShedOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		sess func(stream string) string
	}{
		// A 4 KiB share of a 64 KiB store.
		{"session", Options{MaxStreamBytes: 4 << 10, MaxEventBytes: 64 << 10}, func(string) string { return "S" }},
		// A 4 KiB store whose share is a stream's 4 KiB: the total binds first.
		{"total", Options{MaxStreamBytes: 4 << 10, MaxEventBytes: 4 << 10}, func(stream string) string { return "S-" + stream }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testredis.Start(t)
			ctx := context.Background()
			clk := &clock{t: time.Unix(1_700_000_000, 0)}
			st, evs := replicas(t, srv, tc.o, clk.now, 2)
			step := 0
			add := func(stream string, data []byte) {
				t.Helper()
				clk.t = clk.t.Add(time.Second) // orders the streams by use
				step++
				if _, err := evs[step%2].Append(ctx, tc.sess(stream), stream, data); err != nil {
					t.Fatal(err)
				}
			}
			held := func(stream string) int { // events held after the priming one, -1: gone
				_, got, _, err := evs[0].Replay(ctx, tc.sess(stream), stream+"_0")
				if err != nil {
					return -1
				}
				return len(got)
			}
			ev := bytes.Repeat([]byte("e"), 200)
			add("L1", nil)
			add("L1", ev)
			add("L1", ev)
			for _, f := range []string{"F1", "F2"} {
				add(f, nil)
				add(f, ev)
				evs[1].Done(ctx, tc.sess(f), f)
			}
			add("L2", nil)
			within := func() {
				t.Helper()
				total := audit(t, st)
				_, sess, _ := evs[0].counts(ctx, tc.sess("L2"))
				if tc.name == "session" && sess > int64(evs[0].maxSession()) || total > int64(tc.o.MaxEventBytes) {
					t.Fatalf("over the bound: session %d bytes (share %d), all %d (bound %d)", sess, evs[0].maxSession(), total, tc.o.MaxEventBytes)
				}
			}
			n := 0
			grow := func(until func() bool) {
				t.Helper()
				for ; !until(); n++ {
					if n > 100 {
						t.Fatal("nothing was shed")
					}
					add("L2", ev)
					within()
				}
			}
			grow(func() bool { return held("F1") < 0 })
			if held("F2") != 1 || held("L1") != 2 || held("L2") != n {
				t.Fatalf("when F1 went: F2 holds %d events, L1 %d, L2 %d of %d; want everything else kept", held("F2"), held("L1"), held("L2"), n)
			}
			grow(func() bool { return held("F2") < 0 })
			if held("L1") != 2 || held("L2") != n {
				t.Fatalf("when F2 went: L1 holds %d events, L2 %d of %d; want them kept", held("L1"), held("L2"), n)
			}
			grow(func() bool { return held("L1") < 0 })
			// L1's priming event went first: resuming from it is past
			// trimmed events; from its second, the newest is there.
			if _, got, _, err := evs[1].Replay(ctx, tc.sess("L1"), "L1_1"); err != nil || len(got) != 1 {
				t.Fatalf("L1 after trimming: %v %v; want its newest event", got, err)
			}
			if held("L2") != n {
				t.Fatalf("L2 holds %d of %d events: the stream appended to lost events before L1 did", held("L2"), n)
			}
			// Then L2's own oldest events, never the whole of it, and L1
			// keeps its newest.
			grow(func() bool { return held("L2") < 0 })
			if _, got, _, err := evs[1].Replay(ctx, tc.sess("L1"), "L1_1"); err != nil || len(got) != 1 {
				t.Fatalf("L1 while L2 sheds its own: %v %v", got, err)
			}
			last := fmt.Sprintf("L2_%d", n-1)
			if _, _, _, err := evs[1].Replay(ctx, tc.sess("L2"), last); err != nil {
				t.Fatalf("L2 resumed from %s: %v", last, err)
			}
		})
	}
}

// The total holds across replicas: many sessions' tool calls (a priming
// event and a small result per stream, as a legacy SSE call leaves) on two
// replicas stay within the total, bookkeeping counted, and what Redis holds
// stays near what the store counts.
func TestRedisEventsBoundedTotal(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	const total = 256 << 10
	st, evs := replicas(t, srv, Options{MaxEventBytes: total}, nil, 2)
	result := []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)
	for i := range 6000 {
		ev := evs[i%2]
		s, stream := fmt.Sprintf("sess-%02d", i%20), fmt.Sprint("req-", i)
		ev.Append(ctx, s, stream, nil)
		ev.Append(ctx, s, stream, result)
		evs[(i+1)%2].Done(ctx, s, stream)
	}
	if got := audit(t, st); got > total {
		t.Fatalf("the store counts %d bytes, bound %d", got, total)
	}
	held, keys := keyMemory(t, st)
	if held > total+total/4 {
		t.Fatalf("Redis holds %d bytes in %d keys, bound %d: the bookkeeping estimate is too low", held, keys, total)
	}
	// A live stream that alone is over the total keeps its newest event.
	big := bytes.Repeat([]byte("y"), total)
	evs[0].Append(ctx, "huge", "get", nil)
	id, _ := evs[0].Append(ctx, "huge", "get", big)
	if _, _, _, err := evs[1].Replay(ctx, "huge", "get_0"); err != nil {
		t.Fatalf("the stream being appended to lost its newest event: %v (%s)", err, id)
	}
	audit(t, st)
}

// Finished streams go once they cannot be resumed: Redis expires their
// events after the grace period on its own clock, and the next script
// forgets their meta and counts, so the counters do not drift.
func TestRedisEventsFinishedStreamsGo(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	const grace = 300 * time.Millisecond
	st, evs := replicas(t, srv, Options{Grace: grace, SessionTimeout: time.Minute}, nil, 2)
	for i := range 10 {
		s := fmt.Sprint("req-", i)
		evs[0].Append(ctx, "S", s, nil)
		evs[0].Append(ctx, "S", s, []byte(`{"n":1}`))
		evs[1].Done(ctx, "S", s)
	}
	evs[0].Append(ctx, "S", "get", nil)
	evs[0].Append(ctx, "S", "get", []byte(`{"n":2}`))
	expiresWithin(t, st, evs[0].listKey("S", "req-9"), grace)
	waitGone(t, st, evs[0].listKey("S", "req-9"))
	if _, _, _, err := evs[1].Replay(ctx, "S", "req-9_0"); !errors.Is(err, mcpserver.ErrEventsGone) {
		t.Fatalf("a finished stream after its grace: %v", err)
	}
	evs[1].Append(ctx, "S", "req-10", nil) // a new stream sweeps
	if got := scanKeys(t, st, st.o.Prefix+"evl:*"); !slices.Equal(got, []string{evs[0].listKey("S", "get"), evs[0].listKey("S", "req-10")}) {
		t.Fatalf("lists after the grace: %v", got)
	}
	if n := st.rdb.HLen(ctx, evs[0].metaKey("S")).Val(); n != 3 { // get, req-10, :at
		t.Fatalf("the session's meta holds %d fields, want get, req-10 and :at", n)
	}
	audit(t, st)
	if _, got, _, err := evs[1].Replay(ctx, "S", "get_0"); err != nil || len(got) != 1 {
		t.Fatalf("the live stream: %v %v", got, err)
	}
}

// The grace period and the idle timeout run on the replicas' clock too
// (injected here), without waiting for Redis to expire anything: a finished
// stream past its grace goes at the next new stream, a live one idle past
// the session timeout at the next renewal of any session's keys (at most
// once a second per session), from whichever replica.
func TestRedisEventsSweep(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, evs := replicas(t, srv, Options{Grace: time.Minute, SessionTimeout: 30 * time.Minute}, clk.now, 2)
	for _, s := range []string{"a", "b", "c"} {
		evs[0].Append(ctx, s, "get", nil)
		evs[0].Append(ctx, s, "get", []byte(`{"n":1}`))
		evs[0].Append(ctx, s, "req-1", []byte(`{"n":2}`))
		evs[1].Done(ctx, s, "req-1")
	}
	clk.t = clk.t.Add(2 * time.Minute)
	evs[1].Append(ctx, "c", "req-2", nil) // keeps c in use
	if _, _, _, err := evs[0].Replay(ctx, "b", "req-1_0"); !errors.Is(err, mcpserver.ErrEventsGone) {
		t.Fatalf("finished stream after its grace: %v", err)
	}
	if _, _, _, err := evs[0].Replay(ctx, "b", "get_0"); err != nil {
		t.Fatalf("live stream within the session timeout: %v", err)
	}
	audit(t, st)
	clk.t = clk.t.Add(29 * time.Minute)
	evs[0].Append(ctx, "c", "req-2", []byte(`{"n":3}`))
	evs[1].Append(ctx, "c", "req-3", nil)
	for _, s := range []string{"a", "b"} {
		if _, _, _, err := evs[1].Replay(ctx, s, "get_0"); !errors.Is(err, mcpserver.ErrEventsGone) {
			t.Fatalf("live stream of session %s idle past its timeout: %v", s, err)
		}
		if keys := scanKeys(t, st, st.o.Prefix+"ev?:"+s+"*"); len(keys) != 0 {
			t.Fatalf("session %s idle past its timeout left %v", s, keys)
		}
	}
	if _, _, _, err := evs[0].Replay(ctx, "c", "req-2_0"); err != nil {
		t.Fatalf("a stream in use: %v", err)
	}
	if audit(t, st) == 0 {
		t.Fatal("the session in use counts nothing")
	}
}

// DeleteSession on one replica removes every key of the session the other
// wrote, and its count; other sessions are untouched.
func TestRedisEventsDeleteSession(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	st, evs := replicas(t, srv, Options{}, nil, 2)
	for _, s := range []string{"gone", "kept"} {
		for i := range 5 {
			stream := fmt.Sprint("req-", i)
			evs[0].Append(ctx, s, stream, nil)
			evs[0].Append(ctx, s, stream, []byte(`{"n":1}`))
			if i%2 == 0 {
				evs[0].Done(ctx, s, stream)
			}
		}
	}
	before := audit(t, st)
	_, kept, _ := evs[0].counts(ctx, "kept")
	evs[1].DeleteSession(ctx, "gone")
	if keys := scanKeys(t, st, st.o.Prefix+"*gone*"); len(keys) != 0 {
		t.Fatalf("after DeleteSession: %v", keys)
	}
	if members := st.rdb.ZRange(ctx, st.o.Prefix+"evall", 0, -1).Val(); slices.ContainsFunc(members, func(m string) bool { return strings.HasSuffix(m, ":gone") }) {
		t.Fatalf("evall still lists the deleted session's streams: %v", members)
	}
	if after := audit(t, st); after != kept || after >= before {
		t.Fatalf("after DeleteSession the store counts %d bytes, the remaining session %d (before %d)", after, kept, before)
	}
	if _, _, _, err := evs[0].Replay(ctx, "gone", "req-1_0"); !errors.Is(err, mcpserver.ErrEventsGone) {
		t.Fatalf("Replay after DeleteSession: %v", err)
	}
	evs[1].DeleteSession(ctx, "kept")
	if keys := scanKeys(t, st, st.o.Prefix+"*"); len(keys) != 0 {
		t.Fatalf("after every session went: %v", keys)
	}
}

// Keys expire with the session: a session nothing was appended to for the
// session timeout loses every key on Redis's clock, while another goes on;
// its count, still in the shared counters, is forgotten at the next sweep,
// and once nothing at all is used every key goes, counters included (a
// replica that died mid-stream leaks nothing).
func TestRedisEventsExpireWithSession(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	const timeout = 400 * time.Millisecond
	st, evs := replicas(t, srv, Options{SessionTimeout: timeout, Grace: 100 * time.Millisecond}, nil, 2)
	evs[0].Append(ctx, "idle", "get", nil)
	evs[0].Append(ctx, "idle", "get", []byte(`{"n":1}`))
	evs[0].Append(ctx, "idle", "req-1", nil) // never finished: its replica died
	expiresWithin(t, st, evs[0].listKey("idle", "get"), timeout)
	for _, k := range []string{evs[0].metaKey("idle"), evs[0].zKey("idle"), st.o.Prefix + "evall", st.o.Prefix + "evc"} {
		expiresWithin(t, st, k, timeout+time.Second) // the session timeout and a touch
	}
	// The busy session keeps appending (a new stream each time, so each
	// sweeps) until the idle one's keys are gone.
	for i := 0; st.rdb.Exists(ctx, evs[0].metaKey("idle")).Val() > 0; i++ {
		if i > 500 {
			t.Fatal("the idle session's keys did not expire")
		}
		stream := fmt.Sprint("req-", i)
		evs[i%2].Append(ctx, "busy", stream, nil)
		evs[i%2].Append(ctx, "busy", stream, []byte(`{"n":1}`))
		evs[(i+1)%2].Done(ctx, "busy", stream)
		time.Sleep(10 * time.Millisecond) // Redis's clock must move for its TTLs
	}
	evs[0].Append(ctx, "busy", "last", nil) // a sweep after the expiry
	if keys := scanKeys(t, st, st.o.Prefix+"*idle*"); len(keys) != 0 {
		t.Fatalf("the idle session left %v", keys)
	}
	if _, sess, _ := evs[0].counts(ctx, "idle"); sess != 0 {
		t.Fatalf("the counters still hold %d bytes of the expired session", sess)
	}
	audit(t, st)
	waitGone(t, st, st.o.Prefix+"evc")
	if keys := scanKeys(t, st, st.o.Prefix+"*"); len(keys) != 0 {
		t.Fatalf("with nothing in use for the session timeout: %v", keys)
	}
}

// expiresWithin checks that key has a TTL of at most d (or is gone already:
// a slow machine may have taken that long since it was set).
func expiresWithin(t *testing.T, st *Store, key string, d time.Duration) {
	t.Helper()
	switch ttl := st.rdb.PTTL(context.Background(), key).Val(); {
	case ttl == -2: // gone
	case ttl < 0 || ttl > d: // -1: no TTL; 0 is a key expiring this millisecond
		t.Fatalf("%s expires in %s, want within %s", key, ttl, d)
	}
}

// waitGone waits for Redis to expire key (TTLs run on Redis's clock).
func waitGone(t *testing.T, st *Store, key string) {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(10 * time.Second); st.rdb.Exists(ctx, key).Val() > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not expire", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The bookkeeping estimate is honest: what Redis spends on the store's keys
// (MEMORY USAGE) stays within a quarter of what the store counts, for
// sessions with one stream or many.
func TestRedisEventsCountOverhead(t *testing.T) {
	srv := testredis.Start(t)
	ctx := context.Background()
	result := []byte(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"5"}],"structuredContent":{"sum":5}}}`)
	for _, c := range []struct{ sessions, streams int }{{200, 1}, {20, 50}, {2, 500}} {
		st := open(t, srv.URL(), Options{Prefix: fmt.Sprintf("c%d:", c.sessions)})
		ev := st.Events()
		for i := range c.sessions {
			s := crand.Text() // session ids are rand.Text, stream ids 16 of its characters
			for range c.streams {
				stream := crand.Text()[:16]
				ev.Append(ctx, s, stream, nil)
				ev.Append(ctx, s, stream, result)
				if i%2 == 0 {
					ev.Done(ctx, s, stream)
				}
			}
		}
		counted := audit(t, st)
		held, _ := keyMemory(t, st)
		t.Logf("%d sessions x %d streams: Redis holds %d bytes, the store counts %d", c.sessions, c.streams, held, counted)
		if held > counted+counted/4 || held < counted/2 {
			t.Errorf("%d sessions x %d streams: Redis holds %d bytes, the store counts %d", c.sessions, c.streams, held, counted)
		}
	}
}

// A stream name with ':' would be ambiguous in the keys: refused, naming it.
func TestRedisEventsRefuseColon(t *testing.T) {
	srv := testredis.Start(t)
	ev := open(t, srv.URL(), Options{}).Events()
	if _, err := ev.Append(context.Background(), "S", "a:b", nil); err == nil || !strings.Contains(err.Error(), `"a:b"`) {
		t.Fatalf("Append to stream a:b: %v", err)
	}
}
