package pluginrpc

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

// TraceCarrier returns ctx's W3C trace context (traceparent, and tracestate
// when set) for RequestMeta.trace_context, or nil when ctx carries no valid
// span context.
func TraceCarrier(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	m := make(propagation.MapCarrier, 2)
	propagation.TraceContext{}.Inject(ctx, m)
	return m
}

// WithTraceContext returns ctx carrying the remote span context of a call:
// RequestMeta.trace_context when set, else the gRPC metadata the call came
// with. A plugin's spans started from ctx join the host's trace.
func WithTraceContext(ctx context.Context, tc map[string]string) context.Context {
	if len(tc) > 0 {
		return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(tc))
	}
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok || len(md.Get("traceparent")) == 0 {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, mdCarrier(md))
}

// mdCarrier reads trace headers from gRPC metadata.
type mdCarrier metadata.MD

func (c mdCarrier) Get(k string) string {
	if v := metadata.MD(c).Get(k); len(v) > 0 {
		return v[0]
	}
	return ""
}
func (c mdCarrier) Set(k, v string) { metadata.MD(c).Set(k, v) }
func (c mdCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
