package pluginrpc

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
)

func spanContext(t *testing.T, traceID, spanID string, state string) context.Context {
	t.Helper()
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(spanID)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := trace.ParseTraceState(state)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// TestTraceContextCrosses: the host's span context reaches the plugin's
// handler whole, by RequestMeta.trace_context or by gRPC metadata.
func TestTraceContextCrosses(t *testing.T) {
	const traceID, spanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	host := spanContext(t, traceID, spanID, "vendor=value")
	tc := TraceCarrier(host)
	if tc["traceparent"] != "00-"+traceID+"-"+spanID+"-01" || tc["tracestate"] != "vendor=value" {
		t.Fatalf("carrier %v", tc)
	}
	check := func(name string, ctx context.Context) {
		t.Helper()
		sc := trace.SpanContextFromContext(ctx)
		if sc.TraceID().String() != traceID || sc.SpanID().String() != spanID || !sc.IsSampled() || !sc.IsRemote() || sc.TraceState().Get("vendor") != "value" {
			t.Errorf("%s: plugin sees %+v", name, sc)
		}
	}
	check("trace_context", WithTraceContext(context.Background(), tc))
	md := metadata.New(tc)
	check("gRPC metadata", WithTraceContext(metadata.NewIncomingContext(context.Background(), md), nil))

	// trace_context wins over metadata that says otherwise.
	other := metadata.Pairs("traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
	check("both", WithTraceContext(metadata.NewIncomingContext(context.Background(), other), tc))
}

func TestNoTraceContext(t *testing.T) {
	if tc := TraceCarrier(context.Background()); tc != nil {
		t.Errorf("carrier without a span: %v", tc)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("other", "x"))
	if got := WithTraceContext(ctx, nil); got != ctx {
		t.Error("a context without trace headers was replaced")
	}
	if sc := trace.SpanContextFromContext(WithTraceContext(context.Background(), map[string]string{"traceparent": "garbage"})); sc.IsValid() {
		t.Errorf("garbage traceparent gave %+v", sc)
	}
}
