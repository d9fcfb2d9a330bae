package host

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/tracing"
)

// SetTracer makes the host record spans: one per MCP request (in the engine)
// and one per plugin call. Call it before Start and NewServer. Without it
// nothing is recorded, but a caller's trace context still reaches plugins.
func (h *Host) SetTracer(t trace.Tracer) { h.tracer = t }

// tracedHandler opens the HTTP request's span around next.
func (h *Host) tracedHandler(next http.Handler) http.Handler {
	return tracing.Middleware(h.tracer, func(r *http.Request) string { return routeLabel(r.URL.Path) }, next)
}

// pluginSpan opens the client span of one RPC to plugin; end ends it. Off, it
// returns ctx and a no-op.
func (h *Host) pluginSpan(ctx context.Context, rpc, plugin string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if h.tracer == nil {
		return ctx, nil
	}
	attrs = append(attrs,
		attribute.String("rpc.system.name", "grpc"),
		attribute.String("rpc.method", "mcphost.plugin.v1.PluginService/"+rpc),
		attribute.String("mcphost.plugin", plugin),
	)
	return h.tracer.Start(ctx, "mcphost.plugin.v1.PluginService/"+rpc, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// endPluginSpan ends a span of pluginSpan with the error the RPC ended with.
func endPluginSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// withTraceMetadata puts ctx's trace context into the outgoing gRPC metadata,
// where a plugin's gRPC instrumentation finds it. Calls on the shared call
// channel carry it in RequestMeta.trace_context instead.
func withTraceMetadata(ctx context.Context, tc map[string]string) context.Context {
	if len(tc) == 0 {
		return ctx
	}
	kv := make([]string, 0, 2*len(tc))
	for k, v := range tc {
		kv = append(kv, k, v)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// annotateSpan adds how an operation ended to the request's MCP span: the
// plugin that served it, the policy decision and the outcome. A tool error,
// timeout or crash marks the span failed, though the JSON-RPC call succeeded.
func annotateSpan(ctx context.Context, o outcome) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("mcphost.decision", o.decision))
	if o.plugin != "" {
		span.SetAttributes(attribute.String("mcphost.plugin", o.plugin))
	}
	if o.result != "" {
		span.SetAttributes(attribute.String("mcphost.outcome", o.result))
	}
	switch o.result {
	case audit.ToolError, audit.Timeout, audit.Crash, audit.Error:
		span.SetAttributes(attribute.String("error.type", o.result))
		span.SetStatus(codes.Error, o.reason)
	}
}
