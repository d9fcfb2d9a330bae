package tracing

import (
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/requestid"
)

// Middleware opens an HTTP server span per request, child of the request's
// W3C traceparent when it has one, named "{method} {route}" (route names the
// endpoint, never the raw path, so names stay few). With tracer nil nothing is
// recorded, but a request's traceparent still reaches the handlers' context,
// so plugins join the caller's trace; a request without one costs a header
// lookup.
func Middleware(tracer trace.Tracer, route func(*http.Request) string, next http.Handler) http.Handler {
	if tracer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Traceparent") == "" {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r.WithContext(Propagator.Extract(r.Context(), headerCarrier(r.Header))))
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := Propagator.Extract(r.Context(), headerCarrier(r.Header))
		rt := route(r)
		attrs := []attribute.KeyValue{
			attribute.String("http.request.method", r.Method),
			attribute.String("http.route", rt),
			attribute.String("url.path", r.URL.Path),
			attribute.String("url.scheme", scheme(r)),
			attribute.String("network.protocol.version", protoVersion(r)),
			attribute.String("server.address", r.Host),
		}
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			attrs = append(attrs, attribute.String("client.address", host))
		}
		if ua := r.UserAgent(); ua != "" {
			attrs = append(attrs, attribute.String("user_agent.original", ua))
		}
		if id := requestid.FromContext(ctx); id != "" {
			attrs = append(attrs, attribute.String("mcphost.request_id", id))
		}
		ctx, span := tracer.Start(ctx, r.Method+" "+rt, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		span.SetAttributes(attribute.Int("http.response.status_code", code))
		if code >= 500 {
			// Server spans mark only server errors (HTTP conventions).
			span.SetStatus(codes.Error, http.StatusText(code))
			span.SetAttributes(attribute.String("error.type", strconv.Itoa(code)))
		}
	})
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func protoVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 2:
		return "2"
	case 3:
		return "3"
	}
	return "1.1"
}

// headerCarrier reads and writes trace headers of an http.Header.
type headerCarrier http.Header

func (c headerCarrier) Get(k string) string { return http.Header(c).Get(k) }
func (c headerCarrier) Set(k, v string)     { http.Header(c).Set(k, v) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// statusWriter remembers the response status; Unwrap lets
// http.ResponseController reach the flusher and deadlines beneath.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
