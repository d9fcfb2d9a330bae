package mcpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// Bytes counts what streams and events cost, not only their data: a tool call
// on a legacy SSE session leaves a stream with an empty priming event and a
// small result, and a million of those within the grace period held hundreds
// of MB while the data alone stayed under any bound.
func TestMemoryEventsCountOverhead(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	const total = 256 << 10
	m := NewMemoryEvents(0, total, time.Minute, clk.now)
	for i := range 20000 {
		s := fmt.Sprintf("sess-%d", i%20)
		st := fmt.Sprint("req-", i)
		m.Append(ctx, s, st, nil)
		m.Append(ctx, s, st, []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
		m.Done(ctx, s, st)
	}
	if m.Bytes() > total {
		t.Fatalf("Bytes() = %d, bound %d", m.Bytes(), total)
	}
	if n := m.streamCount(); n*streamOverhead > total {
		t.Fatalf("%d streams held (at least %d bytes of bookkeeping), bound %d", n, n*streamOverhead, total)
	}
}

// One session cannot take the whole store: past its share its finished streams
// go first, then its oldest events; other sessions keep theirs.
func TestMemoryEventsBoundedPerSession(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := NewMemoryEvents(4<<10, 1<<20, time.Minute, clk.now)
	quiet, _ := m.Append(ctx, "quiet", "get", nil)
	m.Append(ctx, "quiet", "get", []byte(`{"n":1}`))
	data := bytes.Repeat([]byte("x"), 1000)
	for i := range 5000 {
		st := fmt.Sprint("req-", i)
		m.Append(ctx, "busy", st, data)
		if i%2 == 0 {
			m.Done(ctx, "busy", st)
		}
	}
	if got, limit := m.sessionBytes("busy"), m.maxSession; got > limit {
		t.Fatalf("busy session holds %d bytes, bound %d", got, limit)
	}
	if m.Bytes() > 1<<20 {
		t.Fatalf("Bytes() = %d, bound %d", m.Bytes(), 1<<20)
	}
	if _, evs, _, err := m.Replay(ctx, "quiet", quiet); err != nil || len(evs) != 1 {
		t.Fatalf("the quiet session lost its events to the busy one: %v %v", evs, err)
	}
	// The newest live stream of the busy session is still resumable.
	if _, _, _, err := m.Replay(ctx, "busy", "req-4999_0"); err != nil {
		t.Fatalf("newest stream of the busy session: %v", err)
	}
}

// Events go with their session: DeleteSession (DELETE) drops them, and a
// session that expires (the session store forgets it; nothing calls
// DeleteSession) has its streams dropped once they have been idle for the
// session timeout. Finished streams go after the grace period.
func TestMemoryEventsExpireWithSession(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: time.Unix(1000, 0)}
	m := NewMemoryEvents(0, 0, time.Minute, clk.now)
	m.expireIdle(30 * time.Minute)
	for _, s := range []string{"a", "b", "c"} {
		m.Append(ctx, s, "get", nil)
		m.Append(ctx, s, "get", []byte(`{"n":1}`))
		m.Append(ctx, s, "req-1", []byte(`{"n":2}`))
		m.Done(ctx, s, "req-1")
	}
	m.DeleteSession(ctx, "a")
	if _, _, _, err := m.Replay(ctx, "a", "get_0"); !errors.Is(err, ErrEventsGone) {
		t.Fatalf("after DeleteSession: %v", err)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	m.Append(ctx, "c", "req-2", nil) // keeps c in use
	if _, _, _, err := m.Replay(ctx, "b", "req-1_0"); !errors.Is(err, ErrEventsGone) {
		t.Fatalf("finished stream after its grace: %v", err)
	}
	if _, _, _, err := m.Replay(ctx, "b", "get_0"); err != nil {
		t.Fatalf("live stream within the session timeout: %v", err)
	}
	clk.t = clk.t.Add(29 * time.Minute)
	m.Append(ctx, "c", "req-2", []byte(`{"n":3}`))
	if _, _, _, err := m.Replay(ctx, "b", "get_0"); !errors.Is(err, ErrEventsGone) {
		t.Fatalf("live stream of a session idle past its timeout: %v", err)
	}
	if _, _, _, err := m.Replay(ctx, "c", "req-2_0"); err != nil {
		t.Fatalf("a stream in use: %v", err)
	}
	m.DeleteSession(ctx, "c")
	if m.Bytes() != 0 || m.streamCount() != 0 {
		t.Fatalf("after every session went: %d bytes, %d streams", m.Bytes(), m.streamCount())
	}
}

// Many legacy SSE calls through the real engine over HTTP: the store stays
// within its bound however many calls there are. Also a benchmark:
//
//	go test -run '^$' -bench MemoryEventsUnderLoad -benchmem ./mcpserver/
func TestMemoryEventsUnderLoad(t *testing.T) { driveEvents(t, 3000) }

func BenchmarkMemoryEventsUnderLoad(b *testing.B) { driveEvents(b, b.N) }

func driveEvents(tb testing.TB, calls int) {
	const total = 512 << 10
	ev := NewMemoryEvents(0, total, time.Minute, nil)
	srv := httptest.NewServer(asUser(New(addBackend{}, Options{Events: ev, SessionTimeout: 30 * time.Minute})))
	tb.Cleanup(srv.Close)
	const sessions = 20
	sids := make([]string, sessions)
	post := func(sid, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		return resp
	}
	for i := range sids {
		resp := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`)
		drain(resp)
		sids[i] = resp.Header.Get("Mcp-Session-Id")
		if sids[i] == "" {
			tb.Fatalf("initialize: %d, no session", resp.StatusCode)
		}
	}
	peak := 0
	if b, ok := tb.(*testing.B); ok {
		b.ResetTimer()
	}
	for i := range calls {
		resp := post(sids[i%sessions], fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`, i+2))
		if body := drain(resp); !strings.Contains(body, `"sum":5`) {
			tb.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
		peak = max(peak, ev.Bytes())
	}
	if peak > total {
		tb.Fatalf("the event store held %d bytes, bound %d", peak, total)
	}
	if n := ev.streamCount(); n*streamOverhead > total {
		tb.Fatalf("%d streams held (at least %d bytes of bookkeeping), bound %d", n, n*streamOverhead, total)
	}
	tb.Logf("%d calls over %d sessions: event store peak %d bytes (bound %d), %d streams held", calls, sessions, peak, total, ev.streamCount())
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(float64(peak), "peak-bytes")
	}
}

func drain(resp *http.Response) string {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}
