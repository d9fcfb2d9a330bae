package host_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/metrics"
)

// BenchmarkToolsCall measures one MCP tools/call of a trivial tool end to end:
// go-sdk client -> HTTP -> host -> gRPC -> plugin process and back.
func BenchmarkToolsCall(b *testing.B) {
	r := startHost(b, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin"}`, host.ServerOptions{})
	cs := connect(b, r, nil, nil)
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := cs.CallTool(context.Background(), params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToolsCallParallel is the same call from 16 concurrent sessions.
func BenchmarkToolsCallParallel(b *testing.B) {
	r := startHost(b, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", max_concurrency: 64}`, host.ServerOptions{})
	sessions := make(chan *mcp.ClientSession, 16)
	for range 16 {
		sessions <- connect(b, r, nil, nil)
	}
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}
	b.ReportAllocs()
	b.SetParallelism(8) // 2 cores x 8 = 16 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cs := <-sessions
		defer func() { sessions <- cs }()
		for pb.Next() {
			if _, err := cs.CallTool(context.Background(), params); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHotSwap measures swap latency: from a new binary landing on disk
// (rename over the old one) to the first call answered by the new version, with
// 8 sessions calling the plugin meanwhile. failed-calls must be 0.
func BenchmarkHotSwap(b *testing.B) {
	r, plug := swapHost(b, "")
	l := startLoad(b, r, 8, func(res *mcp.CallToolResult, err error) bool { return err == nil && !res.IsError })
	probe := connect(b, r, nil, nil)
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		variant, want := "testplugin-b", "B:x"
		if i%2 == 1 {
			variant, want = "testplugin-a", "A:x"
		}
		install(b, bin(variant), plug)
		for {
			res, err := probe.CallTool(context.Background(), params)
			if err == nil && resultText(res) == want {
				break
			}
		}
	}
	b.StopTimer()
	l.end()
	b.ReportMetric(float64(l.failures.Load()), "failed-calls")
}

// BenchmarkHostToolsCall is the host's side of one tools/call alone: the
// request goes straight into the server's handler (no client library, no
// socket), through the engine and the gRPC hop to a real plugin process, and
// the response into a reused writer. Its B/op and allocs/op are the host's
// allocations per call (the plugin's are in its own process).
//
// The sub-benchmarks also compare the two ways a call reaches the plugin: the
// SDK's call channel and a gRPC stream per call (MCPHOST_CALL_CHANNEL=off),
// and what operations cost: "channel" runs with audit, metrics and tracing
// off; "channel-ops" with an audit record per call to a file, Prometheus
// metrics, and tracing configured off (the budget: under 5% fewer
// calls per second than "channel"); "channel-traced" records every span.
func BenchmarkHostToolsCall(b *testing.B) {
	for _, path := range []struct {
		name, env string
		ops       string // "", "ops" or "traced"
	}{{"channel", "", ""}, {"channel-ops", "", "ops"}, {"channel-traced", "", "traced"}, {"stream-per-call", `, env: {MCPHOST_CALL_CHANNEL: "off"}`, ""}} {
		b.Run(path.name, func(b *testing.B) {
			prepare := func(h *host.Host) {
				if path.ops == "" {
					return
				}
				l, err := audit.Open(filepath.Join(b.TempDir(), "audit.log"), false)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = l.Close() })
				h.SetAuditLog(l)
				h.SetMetrics(metrics.New())
				if path.ops == "traced" {
					tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardSpans{}))
					b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
					h.SetTracer(tp.Tracer("bench"))
				}
			}
			r := startHostWith(b, `
auth: {provider: none}
server: {json_response: true}
plugins:
  test: {path: "{{bin}}/testplugin"`+path.env+`}`, host.ServerOptions{}, "127.0.0.1:0", prepare)
			benchHostCalls(b, r.srv.Handler())
		})
	}
}

// discardSpans is an exporter that drops what it gets (the cost measured is
// recording and batching, not a collector).
type discardSpans struct{}

func (discardSpans) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardSpans) Shutdown(context.Context) error                             { return nil }

func benchHostCalls(b *testing.B, h http.Handler) {
	for _, version := range []string{modern, legacy} {
		b.Run(version, func(b *testing.B) {
			call := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"}}}`
			hdr := http.Header{
				"Content-Type":         {"application/json"},
				"Accept":               {"application/json, text/event-stream"},
				"Mcp-Protocol-Version": {version},
			}
			if version == modern {
				call = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
				hdr.Set("Mcp-Method", "tools/call")
				hdr.Set("Mcp-Name", "echo")
			} else {
				hdr.Set("Mcp-Session-Id", benchSession(b, h))
			}
			body := strings.NewReader(call)
			req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			req.Header = hdr
			w := &reusedWriter{header: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(call)
				req.Body = io.NopCloser(body)
				w.reset()
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK || !bytes.Contains(w.body.Bytes(), []byte(`:x"}]`)) {
					b.Fatalf("status %d: %s", w.status, w.body.Bytes())
				}
			}
		})
	}
}

// benchSession opens a 2025-11-25 session through h and returns its id.
func benchSession(b *testing.B, h http.Handler) string {
	b.Helper()
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	id := w.Header().Get("Mcp-Session-Id")
	if w.Code != http.StatusOK || id == "" {
		b.Fatalf("initialize: status %d, session %q: %s", w.Code, id, w.Body.Bytes())
	}
	return id
}

// reusedWriter is a ResponseWriter whose buffers live across calls, so a
// benchmark counts the handler's allocations, not the recorder's.
type reusedWriter struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (w *reusedWriter) reset() {
	clear(w.header)
	w.body.Reset()
	w.status = 0
}

func (w *reusedWriter) Header() http.Header { return w.header }

func (w *reusedWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *reusedWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

func (w *reusedWriter) Flush() {}
