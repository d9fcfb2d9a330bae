package mcpserver

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// startSpan opens the request's MCP server span, named and described as
// OpenTelemetry's MCP conventions say ("tools/call get-weather"). Its parent
// is the trace context in the request's _meta when the client put one there,
// else the HTTP request's span (so the span is linked to that one).
func (rq *request) startSpan() {
	name := rq.msg.method
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		attribute.String("mcp.method.name", rq.msg.method),
		attribute.String("mcp.protocol.version", rq.version),
		attribute.String("network.transport", "tcp"),
		attribute.String("network.protocol.name", "http"),
	)
	if id := rq.msg.id; id != nil {
		if s, ok := stringValue(id); ok {
			attrs = append(attrs, attribute.String("jsonrpc.request.id", s))
		} else {
			attrs = append(attrs, attribute.String("jsonrpc.request.id", string(id)))
		}
	}
	if rq.session != nil {
		attrs = append(attrs, attribute.String("mcp.session.id", rq.session.ID))
	}
	switch rq.msg.method {
	case "tools/call":
		if n, ok := stringValue(rq.p.name); ok {
			name += " " + n
			attrs = append(attrs, attribute.String("gen_ai.tool.name", n), attribute.String("gen_ai.operation.name", "execute_tool"))
		}
	case "prompts/get":
		if n, ok := stringValue(rq.p.name); ok {
			name += " " + n
			attrs = append(attrs, attribute.String("gen_ai.prompt.name", n))
		}
	case "resources/read", "resources/subscribe", "resources/unsubscribe":
		// The URI is an attribute, never the name: names must stay few.
		if u, ok := stringValue(rq.p.uri); ok {
			attrs = append(attrs, attribute.String("mcp.resource.uri", u))
		}
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...)}
	parent := rq.ctx
	if rq.meta.traceparent != "" {
		carrier := propagation.MapCarrier{"traceparent": rq.meta.traceparent}
		if rq.meta.tracestate != "" {
			carrier["tracestate"] = rq.meta.tracestate
		}
		if meta := (propagation.TraceContext{}).Extract(context.Background(), carrier); trace.SpanContextFromContext(meta).IsValid() {
			if http := trace.SpanContextFromContext(rq.ctx); http.IsValid() {
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: http}))
			}
			parent = trace.ContextWithRemoteSpanContext(rq.ctx, trace.SpanContextFromContext(meta))
		}
	}
	rq.ctx, rq.span = rq.s.o.Tracer.Start(parent, name, opts...)
}

// endSpan ends the request's span with how the request ended.
func (rq *request) endSpan(e *Error) {
	if e != nil {
		code := strconv.Itoa(e.Code)
		rq.span.SetAttributes(attribute.String("error.type", code), attribute.String("rpc.response.status_code", code))
		rq.span.SetStatus(codes.Error, e.Message)
	}
	rq.span.End()
}
