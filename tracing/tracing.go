// Package tracing sets up OpenTelemetry traces for mcphost: the tracer
// provider and its OTLP exporter, W3C trace-context propagation (HTTP headers,
// MCP _meta, the plugin call), and the HTTP server span.
//
// Tracing is off unless an OTLP endpoint is configured (tracing.otlp_endpoint
// or the standard OTEL_EXPORTER_OTLP_* variables). Off, nothing records spans,
// but an incoming traceparent is still passed on to plugins, so their spans
// join the caller's trace.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names mcphost's tracer.
const InstrumentationName = "github.com/mcphost/mcphost"

// Options configure Setup.
type Options struct {
	// Endpoint is tracing.otlp_endpoint: a URL (http://collector:4318 for
	// OTLP/HTTP, grpc://collector:4317 or Protocol grpc for OTLP/gRPC).
	// Empty: the OTEL_EXPORTER_OTLP_* variables decide.
	Endpoint string
	// Protocol is "http/protobuf" (default) or "grpc"; empty takes
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL.
	Protocol string
	// SampleRatio is the share of new traces recorded (a sampled parent is
	// always followed). 0 means 1.
	SampleRatio float64
	ServiceName string
	Version     string
	// Getenv reads the environment (os.Getenv; injected by tests).
	Getenv func(string) string
	// Exporter replaces the OTLP exporter (tests).
	Exporter sdktrace.SpanExporter
}

// Enabled reports whether o turns tracing on.
func (o Options) Enabled() bool {
	if o.Exporter != nil {
		return true
	}
	env := o.getenv
	if strings.EqualFold(env("OTEL_SDK_DISABLED"), "true") || env("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return o.Endpoint != "" || env("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func (o Options) getenv(k string) string {
	if o.Getenv == nil {
		return ""
	}
	return o.Getenv(k)
}

// Provider is a tracer provider that exports, and how to stop it.
type Provider struct {
	*sdktrace.TracerProvider
}

// Tracer is mcphost's tracer of p.
func (p *Provider) Tracer() trace.Tracer { return p.TracerProvider.Tracer(InstrumentationName) }

// Shutdown flushes the spans not exported yet, within ctx.
func (p *Provider) Shutdown(ctx context.Context) error { return p.TracerProvider.Shutdown(ctx) }

// Setup starts exporting spans as o says, or returns nil when tracing is off.
func Setup(ctx context.Context, o Options) (*Provider, error) {
	if !o.Enabled() {
		return nil, nil
	}
	exp := o.Exporter
	if exp == nil {
		var err error
		if exp, err = newExporter(ctx, o); err != nil {
			return nil, err
		}
	}
	name := o.ServiceName
	if name == "" {
		name = "mcphost"
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults.
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceVersion(o.Version)), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	ratio := o.SampleRatio
	if ratio <= 0 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(2*time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &Provider{TracerProvider: tp}, nil
}

// newExporter builds the OTLP exporter; the exporters read the remaining
// OTEL_EXPORTER_OTLP_* variables (headers, timeout, certificates) themselves.
func newExporter(ctx context.Context, o Options) (sdktrace.SpanExporter, error) {
	proto := o.Protocol
	if proto == "" {
		proto = o.getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	}
	if proto == "" {
		proto = o.getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	endpoint := o.Endpoint
	if strings.HasPrefix(endpoint, "grpc://") {
		proto, endpoint = "grpc", "http://"+strings.TrimPrefix(endpoint, "grpc://")
	}
	switch proto {
	case "", "http/protobuf":
		var opts []otlptracehttp.Option
		if endpoint != "" {
			u, err := url.Parse(endpoint)
			if err != nil {
				return nil, fmt.Errorf("tracing: OTLP endpoint %q: %w", endpoint, err)
			}
			// An endpoint without a path gets the standard /v1/traces.
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		}
		return otlptracehttp.New(ctx, opts...)
	case "grpc":
		var opts []otlptracegrpc.Option
		if endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(endpoint))
		}
		return otlptracegrpc.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q is not http/protobuf or grpc", proto)
	}
}

// Propagator reads and writes W3C trace context and baggage.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// ErrorLogger reports the SDK's errors (a collector that is down) to logger,
// at most once per interval so an outage does not flood the log.
func ErrorLogger(logger *slog.Logger, interval time.Duration) otel.ErrorHandler {
	var mu sync.Mutex
	var last time.Time
	return otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		now := time.Now()
		quiet := !last.IsZero() && now.Sub(last) < interval
		if !quiet {
			last = now
		}
		mu.Unlock()
		if !quiet {
			logger.Warn("tracing: spans not exported", "error", err)
		}
	})
}
