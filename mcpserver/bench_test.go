package mcpserver

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/mcphost/mcphost/auth"
)

// The engine alone, without HTTP sockets or plugins: one tools/call decoded,
// dispatched to a backend that answers at once, and encoded. Run with
//   go test -run '^$' -bench . -benchmem ./mcpserver/

// addBackend answers every call with a fixed add result.
type addBackend struct{}

var addResult = Members(`"content":[{"type":"text","text":"5"}],"structuredContent":{"sum":5}`)

func (addBackend) Capabilities() Capabilities { return Capabilities{} }
func (addBackend) ListTools(context.Context, *auth.Caller) (Encoded, error) {
	return Members(`"tools":[]`), nil
}
func (addBackend) ToolHeaders(context.Context, *auth.Caller, string) ([]ParamHeader, bool) {
	return nil, true
}
func (addBackend) CallTool(context.Context, *auth.Caller, string, []byte, *Call) (Encoded, error) {
	return addResult, nil
}
func (addBackend) ListPrompts(context.Context, *auth.Caller) (Encoded, error) {
	return nil, ErrNotFound
}
func (addBackend) GetPrompt(context.Context, *auth.Caller, string, map[string]string, *Call) (Encoded, error) {
	return nil, ErrNotFound
}
func (addBackend) ListResources(context.Context, *auth.Caller) (Encoded, error) {
	return nil, ErrNotFound
}
func (addBackend) ListResourceTemplates(context.Context, *auth.Caller) (Encoded, error) {
	return nil, ErrNotFound
}
func (addBackend) ReadResource(context.Context, *auth.Caller, string, *Call) (Encoded, error) {
	return nil, ErrNotFound
}
func (addBackend) CanSubscribe(*auth.Caller, string) bool { return false }
func (addBackend) Complete(context.Context, *auth.Caller, CompleteRequest) (Encoded, error) {
	return nil, ErrNotFound
}

// discardWriter is a reusable ResponseWriter.
type discardWriter struct {
	h    http.Header
	code int
	n    int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

func benchCall(b *testing.B, s *Server, hdr http.Header, body []byte) {
	caller := &auth.Caller{UserID: "u1"}
	ctx := auth.WithCaller(context.Background(), caller)
	w := &discardWriter{h: http.Header{}}
	rd := bytes.NewReader(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1/mcp", rd)
	req.Header = hdr
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rd.Reset(body)
		req.Body = http.NoBody
		req.Body = readCloser{rd}
		clear(w.h)
		w.code = 0
		s.ServeHTTP(w, req)
		if w.code != 0 && w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func BenchmarkToolsCallModernJSON(b *testing.B) {
	s := New(addBackend{}, Options{JSONResponse: true})
	hdr := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"add"}}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	benchCall(b, s, hdr, body)
}

func BenchmarkToolsCallModernSSE(b *testing.B) {
	s := New(addBackend{}, Options{})
	hdr := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {"2026-07-28"}, "Mcp-Method": {"tools/call"}, "Mcp-Name": {"add"}}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`)
	benchCall(b, s, hdr, body)
}

func BenchmarkToolsCallLegacyJSON(b *testing.B) {
	s := New(addBackend{}, Options{JSONResponse: true})
	_, _ = s.sessions.Create(context.Background(), &Session{ID: "S1", Owner: "u1", ProtocolVersion: "2025-11-25"}, SessionCaps{})
	hdr := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {"2025-11-25"}, "Mcp-Session-Id": {"S1"}}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`)
	benchCall(b, s, hdr, body)
}

func BenchmarkToolsCallLegacySSEResumable(b *testing.B) {
	s := New(addBackend{}, Options{Events: NewMemoryEvents(0, 0, 0, nil)})
	_, _ = s.sessions.Create(context.Background(), &Session{ID: "S1", Owner: "u1", ProtocolVersion: "2025-11-25"}, SessionCaps{})
	hdr := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {"2025-11-25"}, "Mcp-Session-Id": {"S1"}}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}`)
	benchCall(b, s, hdr, body)
}
