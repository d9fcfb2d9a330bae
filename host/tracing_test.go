package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/host"
)

// spanSink records ended spans and says when one ends, so tests wait on the
// span they need rather than on time.
type spanSink struct{ ended chan sdktrace.ReadOnlySpan }

func (s *spanSink) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (s *spanSink) OnEnd(sp sdktrace.ReadOnlySpan)                  { s.ended <- sp }
func (s *spanSink) Shutdown(context.Context) error                  { return nil }
func (s *spanSink) ForceFlush(context.Context) error                { return nil }

// tracedHost starts a host recording its spans.
func tracedHost(t *testing.T, yaml string) (*running, *spanSink) {
	t.Helper()
	sink := &spanSink{ended: make(chan sdktrace.ReadOnlySpan, 256)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sink))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	r := startHostWith(t, yaml, host.ServerOptions{}, "127.0.0.1:0", func(h *host.Host) { h.SetTracer(tp.Tracer("test")) })
	return r, sink
}

// waitSpan returns the first span ended (now or before) that has name.
func (s *spanSink) waitSpan(t *testing.T, seen map[string]sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	if sp, ok := seen[name]; ok {
		return sp
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case sp := <-s.ended:
			if _, ok := seen[sp.Name()]; !ok {
				seen[sp.Name()] = sp
			}
			if sp.Name() == name {
				return sp
			}
		case <-timeout:
			names := make([]string, 0, len(seen))
			for n := range seen {
				names = append(names, n)
			}
			t.Fatalf("no span %q ended; saw %v", name, names)
			return nil
		}
	}
}

func attr(sp sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// pluginSaw is what the test plugin's trace tool or resource reports.
type pluginSaw struct {
	Valid   bool   `json:"valid"`
	TraceID string `json:"trace_id"`
	SpanID  string `json:"span_id"`
	Sampled bool   `json:"sampled"`
	Remote  bool   `json:"remote"`
}

// postModern sends one 2026-07-28 request with extra headers and returns
// the result member.
func postModern(t *testing.T, url, method, name, params string, headers map[string]string) json.RawMessage {
	t.Helper()
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":"r-1","method":%q,"params":%s}`, method, params)
	req, _ := http.NewRequest(http.MethodPost, url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", modern)
	req.Header.Set("Mcp-Method", method)
	if name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if i := strings.Index(string(raw), "data: "); i >= 0 { // an SSE response: its one message
		raw = []byte(strings.SplitN(string(raw[i+len("data: "):]), "\n", 2)[0])
	}
	var out struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Result == nil {
		t.Fatalf("%s: status %d, body %s", method, resp.StatusCode, raw)
	}
	return out.Result
}

const tracedMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func callTrace(t *testing.T, url string, headers map[string]string, extraMeta string) pluginSaw {
	t.Helper()
	meta := tracedMeta
	if extraMeta != "" {
		meta = strings.TrimSuffix(meta, "}") + "," + extraMeta + "}"
	}
	res := postModern(t, url, "tools/call", "t.trace", `{"name":"t.trace","arguments":{},`+meta+`}`, headers)
	var out struct {
		StructuredContent pluginSaw `json:"structuredContent"`
	}
	if err := json.Unmarshal(res, &out); err != nil {
		t.Fatalf("result %s: %v", res, err)
	}
	return out.StructuredContent
}

const (
	clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientSpan  = "00f067aa0ba902b7"
)

// TestTraceFromTraceparentIntoPlugin: an incoming traceparent is the parent
// of the host's HTTP span, whose child is the MCP span (named and described
// by OpenTelemetry's MCP conventions), whose child is the plugin call's span;
// the real plugin process sees that last span as its parent, in the same trace.
func TestTraceFromTraceparentIntoPlugin(t *testing.T) {
	r, sink := tracedHost(t, basicYAML)
	saw := callTrace(t, r.url, map[string]string{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"}, "")

	seen := map[string]sdktrace.ReadOnlySpan{}
	httpSpan := sink.waitSpan(t, seen, "POST mcp")
	mcpSpan := sink.waitSpan(t, seen, "tools/call t.trace")
	pluginSpan := sink.waitSpan(t, seen, "mcphost.plugin.v1.PluginService/CallTool")

	if got := httpSpan.Parent(); got.TraceID().String() != clientTrace || got.SpanID().String() != clientSpan || !got.IsRemote() {
		t.Errorf("HTTP span's parent = %s/%s remote=%v, want the client's %s/%s", got.TraceID(), got.SpanID(), got.IsRemote(), clientTrace, clientSpan)
	}
	if httpSpan.SpanKind() != trace.SpanKindServer {
		t.Errorf("HTTP span kind %v", httpSpan.SpanKind())
	}
	if v, _ := attr(httpSpan, "http.response.status_code"); v.AsInt64() != 200 {
		t.Errorf("HTTP span status code %v", v.Emit())
	}
	if mcpSpan.Parent().SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("MCP span's parent %s, want the HTTP span %s", mcpSpan.Parent().SpanID(), httpSpan.SpanContext().SpanID())
	}
	for k, want := range map[string]string{"mcp.method.name": "tools/call", "gen_ai.tool.name": "t.trace", "gen_ai.operation.name": "execute_tool", "mcp.protocol.version": modern, "jsonrpc.request.id": "r-1", "mcphost.plugin": "test", "mcphost.outcome": "ok"} {
		if v, _ := attr(mcpSpan, k); v.Emit() != want {
			t.Errorf("MCP span %s = %q, want %q", k, v.Emit(), want)
		}
	}
	if pluginSpan.Parent().SpanID() != mcpSpan.SpanContext().SpanID() || pluginSpan.SpanKind() != trace.SpanKindClient {
		t.Errorf("plugin span's parent %s (kind %v), want the MCP span %s", pluginSpan.Parent().SpanID(), pluginSpan.SpanKind(), mcpSpan.SpanContext().SpanID())
	}
	if v, _ := attr(pluginSpan, "mcphost.plugin"); v.Emit() != "test" {
		t.Errorf("plugin span names plugin %q", v.Emit())
	}
	want := pluginSaw{Valid: true, TraceID: clientTrace, SpanID: pluginSpan.SpanContext().SpanID().String(), Sampled: true, Remote: true}
	if saw != want {
		t.Errorf("the plugin saw %+v, want %+v", saw, want)
	}
}

// TestTraceFromMetaAndFailures: a trace context in the request's _meta (the
// MCP conventions' propagation) parents the MCP span, linked to the HTTP
// span; a tool error marks the MCP span failed although JSON-RPC succeeded.
func TestTraceFromMetaAndFailures(t *testing.T) {
	r, sink := tracedHost(t, basicYAML)
	const metaTrace, metaSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	saw := callTrace(t, r.url, nil, `"traceparent":"00-`+metaTrace+`-`+metaSpan+`-01"`)
	seen := map[string]sdktrace.ReadOnlySpan{}
	mcpSpan := sink.waitSpan(t, seen, "tools/call t.trace")
	httpSpan := sink.waitSpan(t, seen, "POST mcp")
	if p := mcpSpan.Parent(); p.TraceID().String() != metaTrace || p.SpanID().String() != metaSpan {
		t.Errorf("MCP span's parent %s/%s, want _meta's %s/%s", p.TraceID(), p.SpanID(), metaTrace, metaSpan)
	}
	if links := mcpSpan.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("MCP span links %v, want the HTTP span", links)
	}
	if saw.TraceID != metaTrace {
		t.Errorf("the plugin saw trace %s, want %s", saw.TraceID, metaTrace)
	}

	postModern(t, r.url, "tools/call", "t.panic", `{"name":"t.panic","arguments":{},`+tracedMeta+`}`, nil)
	failed := sink.waitSpan(t, map[string]sdktrace.ReadOnlySpan{}, "tools/call t.panic")
	if failed.Status().Code != codes.Error {
		t.Errorf("a tool error left the MCP span with status %v", failed.Status())
	}
	if v, _ := attr(failed, "error.type"); v.Emit() != "tool_error" {
		t.Errorf("error.type %q, want tool_error", v.Emit())
	}
}

// TestTraceOfResourceRead: a resources/read reaches the plugin's handler
// with the span of its ReadResource call (carried in gRPC metadata and the
// request's meta).
func TestTraceOfResourceRead(t *testing.T) {
	r, sink := tracedHost(t, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}}
`)
	res := postModern(t, r.url, "resources/read", "test://items/trace", `{"uri":"test://items/trace",`+tracedMeta+`}`, map[string]string{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"})
	var out struct {
		Contents []struct {
			Text string `json:"text"`
		} `json:"contents"`
	}
	var saw pluginSaw
	if err := json.Unmarshal(res, &out); err != nil || len(out.Contents) != 1 || json.Unmarshal([]byte(out.Contents[0].Text), &saw) != nil {
		t.Fatalf("result %s", res)
	}
	seen := map[string]sdktrace.ReadOnlySpan{}
	read := sink.waitSpan(t, seen, "mcphost.plugin.v1.PluginService/ReadResource")
	mcpSpan := sink.waitSpan(t, seen, "resources/read")
	if v, _ := attr(mcpSpan, "mcp.resource.uri"); v.Emit() != "test://items/trace" {
		t.Errorf("mcp.resource.uri %q", v.Emit())
	}
	if saw.TraceID != clientTrace || saw.SpanID != read.SpanContext().SpanID().String() {
		t.Errorf("the plugin saw %+v, want span %s of trace %s", saw, read.SpanContext().SpanID(), clientTrace)
	}
}

// TestTraceparentWithoutTracing: with tracing off nothing is recorded, but the
// caller's trace context still reaches the plugin (its spans join the
// caller's trace); without one the plugin sees none.
func TestTraceparentWithoutTracing(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	saw := callTrace(t, r.url, map[string]string{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"}, "")
	if want := (pluginSaw{Valid: true, TraceID: clientTrace, SpanID: clientSpan, Sampled: true, Remote: true}); saw != want {
		t.Errorf("the plugin saw %+v, want the caller's span %+v", saw, want)
	}
	if saw := callTrace(t, r.url, nil, ""); saw.Valid {
		t.Errorf("without a traceparent the plugin saw %+v", saw)
	}
}
