package host

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcphost/mcphost/mcpserver"
	"github.com/mcphost/mcphost/metrics"
)

// SetMetrics makes the host and its server record Prometheus metrics and
// registers the plugin collectors. Call it before NewServer.
func (h *Host) SetMetrics(m *metrics.Metrics) {
	h.metrics.Store(m)
	m.Register(pluginCollector{h})
}

func (h *Host) metricsSet() *metrics.Metrics { return h.metrics.Load() }

var (
	pluginRestartsDesc = prometheus.NewDesc("mcphost_plugin_restarts_total", "Restarts of a plugin after its process died.", []string{"plugin"}, nil)
	pluginStateDesc    = prometheus.NewDesc("mcphost_plugin_state", "1 for the state a plugin is in (starting, running, restarting, failed, stopped), 0 for the others.", []string{"plugin", "state"}, nil)
	pluginSwapsDesc    = prometheus.NewDesc("mcphost_plugin_swaps_total", "Hot swaps of a plugin to a new binary.", []string{"plugin"}, nil)
	pluginStates       = []PluginState{StateStarting, StateRunning, StateRestarting, StateFailed, StateStopped}
)

var sessionsDesc = prometheus.NewDesc("mcphost_sessions_active", "Legacy (2025) MCP sessions live in the session store; with a shared store (Redis), those of all replicas.", nil, nil)

// sessionCollector counts the engine's sessions at scrape time; a store that
// cannot answer (Redis down) leaves the gauge out of that scrape.
type sessionCollector struct{ engine *mcpserver.Server }

func (sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- sessionsDesc }

func (c sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, ok := c.engine.SessionCount(ctx); ok {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n))
	}
}

// pluginCollector reads the plugins' status at scrape time, so supervision
// needs no metrics code of its own.
type pluginCollector struct{ h *Host }

func (pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pluginRestartsDesc
	ch <- pluginStateDesc
	ch <- pluginSwapsDesc
}

func (c pluginCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.h.Status() {
		ch <- prometheus.MustNewConstMetric(pluginRestartsDesc, prometheus.CounterValue, float64(st.Restarts), st.Name)
		ch <- prometheus.MustNewConstMetric(pluginSwapsDesc, prometheus.CounterValue, float64(st.Swaps), st.Name)
		for _, s := range pluginStates {
			v := 0.0
			if st.State == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(pluginStateDesc, prometheus.GaugeValue, v, st.Name, string(s))
		}
	}
}

// routeLabel names a request's route for metrics: a fixed set, whatever
// paths clients send.
func routeLabel(path string) string {
	switch {
	case path == MCPPath || strings.HasPrefix(path, MCPPath+"/"):
		return "mcp"
	case path == "/healthz", path == "/readyz", path == "/metrics":
		return path[1:]
	case strings.HasPrefix(path, "/.well-known/"):
		return "well_known"
	case strings.HasPrefix(path, "/oauth2/"):
		return "oauth"
	}
	return "other"
}

// instrument counts requests by route and status, and the event streams open.
func instrument(m *metrics.Metrics, next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, onStream: m.StreamOpened}
		next.ServeHTTP(rec, r)
		if rec.streamed {
			m.StreamClosed()
		}
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		m.HTTPRequest(routeLabel(r.URL.Path), r.Method, code)
	})
}
