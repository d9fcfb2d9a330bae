package redisstore

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/internal/testredis"
	"github.com/mcphost/mcphost/mcpserver"
)

// addBackend answers every tool call with a fixed small result.
type addBackend struct{}

func (addBackend) Capabilities() mcpserver.Capabilities { return mcpserver.Capabilities{} }
func (addBackend) ListTools(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return mcpserver.Members(`"tools":[]`), nil
}
func (addBackend) ToolHeaders(context.Context, *auth.Caller, string) ([]mcpserver.ParamHeader, bool) {
	return nil, true
}
func (addBackend) CallTool(context.Context, *auth.Caller, string, []byte, *mcpserver.Call) (mcpserver.Encoded, error) {
	return mcpserver.Members(`"content":[{"type":"text","text":"5"}],"structuredContent":{"sum":5}`), nil
}
func (addBackend) ListPrompts(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (addBackend) GetPrompt(context.Context, *auth.Caller, string, map[string]string, *mcpserver.Call) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (addBackend) ListResources(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (addBackend) ListResourceTemplates(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (addBackend) ReadResource(context.Context, *auth.Caller, string, *mcpserver.Call) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (addBackend) CanSubscribe(*auth.Caller, string) bool { return false }
func (addBackend) Complete(context.Context, *auth.Caller, mcpserver.CompleteRequest) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}

// usedMemory is Redis's INFO memory used_memory.
func usedMemory(tb testing.TB, s *Store) int64 {
	tb.Helper()
	info, err := s.rdb.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	if err != nil {
		tb.Fatalf("INFO memory: %v", err)
	}
	return n
}

// redisCPU is the CPU time Redis has used (INFO cpu, user and system).
func redisCPU(tb testing.TB, s *Store) time.Duration {
	tb.Helper()
	info, err := s.rdb.InfoMap(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var sec float64
	for _, k := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, err := strconv.ParseFloat(info["CPU"][k], 64)
		if err != nil {
			tb.Fatalf("INFO cpu %s: %v", k, err)
		}
		sec += v
	}
	return time.Duration(sec * float64(time.Second))
}

// keyMemory sums MEMORY USAGE over the keys under the store's prefix, and
// counts them.
func keyMemory(tb testing.TB, s *Store) (bytes int64, keys int) {
	tb.Helper()
	ctx := context.Background()
	it := s.rdb.Scan(ctx, 0, s.o.Prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		n, _ := s.rdb.MemoryUsage(ctx, it.Val(), 0).Result()
		bytes += n
		keys++
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	return bytes, keys
}

// Legacy SSE tool calls through the real engine over HTTP, their events kept
// in a real Redis: what Redis holds for them (sum of MEMORY USAGE of the
// store's keys, and used_memory over the start) is printed ten times along
// the run, and must level off at the store's bound. The sessions and broker
// are the engine's in-memory ones, so only events are in Redis.
//
//	go test -run '^$' -bench RedisEventsUnderLoad -benchtime 30000x ./redisstore/
func BenchmarkRedisEventsUnderLoad(b *testing.B) {
	srv := testredis.Start(b)
	st := open(b, srv.URL(), eventLoadOptions)
	driveRedisEvents(b, st, b.N)
}

// eventLoadOptions bound the store driven under load: 512 KiB in all, as
// the memory store's benchmark (MemoryEventsUnderLoad).
var eventLoadOptions = Options{SessionTimeout: 30 * time.Minute, MaxEventBytes: 512 << 10}

func driveRedisEvents(tb testing.TB, st *Store, calls int) (peak int64) {
	ev := st.Events()
	srv := httptest.NewServer(asUser(mcpserver.New(addBackend{}, mcpserver.Options{Events: ev, SessionTimeout: 30 * time.Minute})))
	tb.Cleanup(srv.Close)
	base := usedMemory(tb, st)
	const sessions = 20
	sids := make([]string, sessions)
	for i := range sids {
		resp := postMCP(tb, srv.URL, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}`)
		drainBody(resp)
		if sids[i] = resp.Header.Get("Mcp-Session-Id"); sids[i] == "" {
			tb.Fatalf("initialize: %d, no session", resp.StatusCode)
		}
	}
	if b, ok := tb.(*testing.B); ok {
		b.ResetTimer()
	}
	step := max(calls/10, 1)
	for i := range calls {
		resp := postMCP(tb, srv.URL, sids[i%sessions], fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`, i+2))
		if body := drainBody(resp); !strings.Contains(body, `"sum":5`) {
			tb.Fatalf("call %d: %d %s", i, resp.StatusCode, body)
		}
		if (i+1)%step == 0 {
			if b, ok := tb.(*testing.B); ok {
				b.StopTimer()
			}
			held, keys := keyMemory(tb, st)
			peak = max(peak, held)
			tb.Logf("after %6d calls: %5d keys, MEMORY USAGE %9d bytes, used_memory +%9d bytes%s", i+1, keys, held, usedMemory(tb, st)-base, counted(ev))
			if b, ok := tb.(*testing.B); ok {
				b.StartTimer()
			}
		}
	}
	if b, ok := tb.(*testing.B); ok {
		b.ReportMetric(float64(peak), "peak-key-bytes")
	}
	return peak
}

// counted reports what the store counts.
func counted(ev *Events) string {
	total, _, err := ev.counts(context.Background(), "")
	if err != nil {
		return ", " + err.Error()
	}
	return fmt.Sprintf(", counted %d bytes (bound %d)", total, ev.s.o.MaxEventBytes)
}

func postMCP(tb testing.TB, url, sid, body string) *http.Response {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
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

func drainBody(resp *http.Response) string {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}

func asUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), &auth.Caller{UserID: "u1"})))
	})
}

// The hot path: a resumable SSE response stores its priming event and its
// result (each one round trip the response waits for), then marks the
// stream done (after the response, so outside the timer; its Redis CPU is
// in redis-µs/op, what Redis spent on all three).
//
//	go test -run '^$' -bench RedisEventsAppend -benchtime 20000x ./redisstore/
func BenchmarkRedisEventsAppend(b *testing.B) {
	srv := testredis.Start(b)
	st := open(b, srv.URL(), Options{SessionTimeout: 30 * time.Minute})
	ev := st.Events()
	ctx := context.Background()
	result := []byte(`{"jsonrpc":"2.0","id":2,"result":{"content":[{"type":"text","text":"5"}],"structuredContent":{"sum":5}}}`)
	cpu := redisCPU(b, st)
	b.Cleanup(func() {
		b.ReportMetric(float64((redisCPU(b, st)-cpu).Microseconds())/float64(b.N), "redis-µs/op")
	})
	b.ResetTimer()
	for i := range b.N {
		s, stream := "sess-"+strconv.Itoa(i%20), "req"+strconv.Itoa(i)
		if _, err := ev.Append(ctx, s, stream, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := ev.Append(ctx, s, stream, result); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ev.Done(ctx, s, stream)
		b.StartTimer()
	}
}
