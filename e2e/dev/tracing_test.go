package dev_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a stand-in OTLP/HTTP collector: it decodes every export and
// hands its spans to the test.
type otlpReceiver struct {
	srv     *httptest.Server
	exports chan *collectorpb.ExportTraceServiceRequest
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{exports: make(chan *collectorpb.ExportTraceServiceRequest, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "want a protobuf POST to /v1/traces", http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(req.Body)
		var ex collectorpb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &ex); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.exports <- &ex
		out, _ := proto.Marshal(&collectorpb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// exported is one span as the collector received it, with its service.
type exported struct {
	service string
	span    *tracepb.Span
}

// waitSpans collects exported spans until every name in want has arrived.
func (r *otlpReceiver) waitSpans(t *testing.T, want ...string) map[string]exported {
	t.Helper()
	got := map[string]exported{}
	timeout := time.After(20 * time.Second)
	for {
		missing := false
		for _, n := range want {
			if _, ok := got[n]; !ok {
				missing = true
			}
		}
		if !missing {
			return got
		}
		select {
		case ex := <-r.exports:
			for _, rs := range ex.GetResourceSpans() {
				service := ""
				for _, kv := range rs.GetResource().GetAttributes() {
					if kv.GetKey() == "service.name" {
						service = kv.GetValue().GetStringValue()
					}
				}
				for _, ss := range rs.GetScopeSpans() {
					for _, sp := range ss.GetSpans() {
						got[sp.GetName()] = exported{service, sp}
					}
				}
			}
		case <-timeout:
			t.Fatalf("spans %v did not all reach the collector; got %v", want, got)
		}
	}
}

// traced adds a bearer token and a W3C traceparent to every request.
type traced struct {
	token, traceparent string
}

func (tr traced) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tr.token)
	r.Header.Set("Traceparent", tr.traceparent)
	return http.DefaultTransport.RoundTrip(r)
}

// TestTracesExportedOverOTLP: the real binary with tracing.otlp_endpoint
// exports the spans of a traced tool call (HTTP, MCP, plugin call) to an
// OTLP/HTTP collector, in the caller's trace, as service mcphost.
func TestTracesExportedOverOTLP(t *testing.T) {
	collector := newOTLPReceiver(t)
	d := startDev(t, "tracing: {otlp_endpoint: "+collector.srv.URL+"}\n")
	const traceID, parentID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint:   d.base + "/mcp",
		HTTPClient: &http.Client{Transport: traced{d.token(t, "--sub", "user_traced"), "00-" + traceID + "-" + parentID + "-01"}},
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer cs.Close()
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatal(err)
	}
	got := collector.waitSpans(t, "tools/call whoami", "mcphost.plugin.v1.PluginService/CallTool")
	call, plugin := got["tools/call whoami"], got["mcphost.plugin.v1.PluginService/CallTool"]
	if call.service != "mcphost" {
		t.Errorf("service.name %q, want mcphost", call.service)
	}
	if id := hex.EncodeToString(call.span.GetTraceId()); id != traceID {
		t.Errorf("the MCP span is in trace %s, want the caller's %s", id, traceID)
	}
	if call.span.GetKind() != tracepb.Span_SPAN_KIND_SERVER || plugin.span.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("span kinds %v and %v", call.span.GetKind(), plugin.span.GetKind())
	}
	if string(plugin.span.GetParentSpanId()) != string(call.span.GetSpanId()) {
		t.Errorf("the plugin call's parent is %x, want the MCP span %x", plugin.span.GetParentSpanId(), call.span.GetSpanId())
	}
}
