// Package metrics holds mcphost's Prometheus metrics, on a registry of its own
// (no package-level state). Every label has a bounded set of values: routes,
// methods, tools and plugins from the config, outcomes and reasons from fixed
// lists; never a user, organization or session.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set mcphost exports. A nil *Metrics records nothing.
type Metrics struct {
	reg          *prometheus.Registry
	httpRequests *prometheus.CounterVec
	operations   *prometheus.CounterVec
	toolCalls    *prometheus.CounterVec
	toolDuration *prometheus.HistogramVec
	authFailures *prometheus.CounterVec
	sseStreams   prometheus.Gauge
	jwks         *prometheus.CounterVec
}

// New makes the metrics, with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcphost_http_requests_total", Help: "HTTP requests by route, method and status code.",
	}, []string{"route", "method", "code"})
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcphost_mcp_operations_total", Help: "MCP operations routed to plugins (tools/call, resources/read, prompts/get, completion/complete) by method, decision and outcome.",
	}, []string{"method", "decision", "outcome"})
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcphost_tool_calls_total", Help: "Tool calls by tool, plugin and outcome (ok, tool_error, timeout, crash, error, cancelled, input_required).",
	}, []string{"tool", "plugin", "outcome"})
	m.toolDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mcphost_tool_call_duration_seconds", Help: "Duration of tool calls, host side, by tool and plugin.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"tool", "plugin"})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcphost_auth_failures_total", Help: "Requests the auth gate refused, by reason (no_token, invalid_token, insufficient_scope) and status.",
	}, []string{"reason", "code"})
	m.sseStreams = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "mcphost_sse_streams_active", Help: "Server-sent event streams open now (GET streams and streamed POST responses).",
	})
	m.jwks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mcphost_jwks_refreshes_total", Help: "Fetches of the issuer's signing keys, by result (ok, error).",
	}, []string{"result"})
	m.reg.MustRegister(m.httpRequests, m.operations, m.toolCalls, m.toolDuration, m.authFailures, m.sseStreams, m.jwks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds a collector (the host's plugin states, the engine's sessions).
func (m *Metrics) Register(c prometheus.Collector) {
	if m != nil {
		m.reg.MustRegister(c)
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// HTTPRequest counts one request.
func (m *Metrics) HTTPRequest(route, method string, code int) {
	if m == nil {
		return
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodOptions, http.MethodHead:
	default:
		method = "other"
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
}

// Operation counts one routed MCP operation; a tool call is also counted and
// timed per tool.
func (m *Metrics) Operation(method, tool, plugin, decision, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.operations.WithLabelValues(method, decision, outcome).Inc()
	if method == "tools/call" && plugin != "" && outcome != "" {
		m.toolCalls.WithLabelValues(tool, plugin, outcome).Inc()
		m.toolDuration.WithLabelValues(tool, plugin).Observe(d.Seconds())
	}
}

// AuthFailure counts a refusal by the gate.
func (m *Metrics) AuthFailure(reason string, code int) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(reason, strconv.Itoa(code)).Inc()
}

// StreamOpened and StreamClosed track open event streams.
func (m *Metrics) StreamOpened() {
	if m != nil {
		m.sseStreams.Inc()
	}
}

func (m *Metrics) StreamClosed() {
	if m != nil {
		m.sseStreams.Dec()
	}
}

// JWKSRefresh counts a fetch of signing keys.
func (m *Metrics) JWKSRefresh(err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.jwks.WithLabelValues(result).Inc()
}
