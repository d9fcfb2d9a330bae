package host_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/metrics"
)

// scrape fetches /metrics and parses it as Prometheus text, so a malformed
// exposition fails the test; it returns the text and its parsed series.
func scrape(t *testing.T, r *running) exposition {
	t.Helper()
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: HTTP %d: %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
	}
	e := exposition{text: string(body), series: map[string]float64{}}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := m.GetLabel()
			sort.Slice(labels, func(i, j int) bool { return labels[i].GetName() < labels[j].GetName() })
			var parts []string
			for _, l := range labels {
				parts = append(parts, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			key := name
			if len(parts) > 0 {
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				e.series[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				e.series[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				e.series[strings.Replace(key, name, name+"_count", 1)] = float64(m.GetHistogram().GetSampleCount())
			case m.Untyped != nil:
				e.series[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return e
}

// exposition is one scrape: the raw text, and each series' value by its
// name and labels sorted by name (name{a="x",b="y"}; a histogram as
// name_count).
type exposition struct {
	text   string
	series map[string]float64
}

// value returns the series' value, or -1 when the scrape has no such series.
func value(e exposition, series string) float64 {
	if v, ok := e.series[series]; ok {
		return v
	}
	return -1
}

// TestMetrics: calls, refusals, plugin state and open streams show up in
// /metrics with bounded labels, served to loopback peers only by default.
func TestMetrics(t *testing.T) {
	yaml := `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test:
    path: "{{bin}}/testplugin"
    prefix: "t."
    tools: {echo: {require_roles: [admin]}}
`
	r := startHostWith(t, yaml, host.ServerOptions{Gate: headerGate{}}, "127.0.0.1:0", func(h *host.Host) { h.SetMetrics(metrics.New()) })
	// Before any traffic: the plugins' state is there, no call or refusal is.
	before := scrape(t, r)
	for series, want := range map[string]float64{
		`mcphost_plugin_state{plugin="whoami",state="running"}`:                1,
		`mcphost_plugin_restarts_total{plugin="test"}`:                         0,
		`mcphost_sessions_active`:                                              0,
		`mcphost_tool_calls_total{outcome="ok",plugin="whoami",tool="whoami"}`: -1,
		`mcphost_auth_failures_total{code="401",reason="no_token"}`:            -1,
	} {
		if got := value(before, series); got != want {
			t.Errorf("before traffic: %s = %v, want %v", series, got, want)
		}
	}
	ada := connectVersion(t, r, userClient("user_ada", "org_secret", "admin"), nil, legacy)
	callText(t, ada, "whoami", nil)
	callText(t, ada, "t.crash", nil)
	bob := connect(t, r, userClient("user_bob", "org_b", ""), nil)
	if res, err := bob.CallTool(context.Background(), &mcp.CallToolParams{Name: "t.echo", Arguments: map[string]any{"text": "x"}}); err == nil && !res.IsError {
		t.Fatal("a non-admin called the admin-only echo")
	}
	resp, err := http.Post(r.url+"/mcp", "application/json", strings.NewReader(`{}`)) // no user: the gate's 401
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	text := scrape(t, r)
	for series, want := range map[string]float64{
		`mcphost_tool_calls_total{outcome="ok",plugin="whoami",tool="whoami"}`:           1,
		`mcphost_tool_calls_total{outcome="crash",plugin="test",tool="t.crash"}`:         1,
		`mcphost_tool_call_duration_seconds_count{plugin="whoami",tool="whoami"}`:        1,
		`mcphost_mcp_operations_total{decision="hidden",method="tools/call",outcome=""}`: 1,
		`mcphost_auth_failures_total{code="401",reason="no_token"}`:                      1,
		`mcphost_plugin_state{plugin="whoami",state="running"}`:                          1,
		`mcphost_plugin_state{plugin="whoami",state="failed"}`:                           0,
	} {
		if got := value(text, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if value(text, `mcphost_http_requests_total{code="200",method="POST",route="mcp"}`) < 3 {
		t.Errorf("MCP POSTs not counted:\n%s", grepLines(text.text, "mcphost_http_requests_total"))
	}
	for _, leak := range []string{"user_ada", "org_secret", "user_bob"} {
		if strings.Contains(text.text, leak) {
			t.Errorf("/metrics names %s: labels must stay bounded", leak)
		}
	}
	eventually(t, 20*time.Second, "the crashed plugin's restart to be counted", func() bool {
		return value(scrape(t, r), `mcphost_plugin_restarts_total{plugin="test"}`) == 1
	})

	// An open legacy GET stream is an active SSE stream until it ends.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/mcp", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", ada.ID())
	req.Header.Set("Mcp-Protocol-Version", legacy)
	req.Header.Set("X-Test-User", "user_ada")
	req.Header.Set("X-Test-Org", "org_secret")
	req.Header.Set("X-Test-Roles", "admin")
	req.Header.Set("Authorization", "Bearer opaque-test-token")
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("GET stream: HTTP %d", stream.StatusCode)
	}
	open := value(scrape(t, r), "mcphost_sse_streams_active")
	cancel()
	stream.Body.Close()
	eventually(t, 10*time.Second, "the closed stream to leave the gauge", func() bool {
		return value(scrape(t, r), "mcphost_sse_streams_active") == open-1
	})
	if open < 1 {
		t.Errorf("an open GET stream: mcphost_sse_streams_active = %v", open)
	}

	// Legacy sessions are counted while they live (bob speaks 2026-07-28,
	// which has none).
	if got := value(scrape(t, r), "mcphost_sessions_active"); got != 1 {
		t.Errorf("with ada's legacy session open: mcphost_sessions_active = %v, want 1", got)
	}
	carl := connectVersion(t, r, userClient("user_carl", "org_b", ""), nil, legacy)
	if got := value(scrape(t, r), "mcphost_sessions_active"); got != 2 {
		t.Errorf("with two legacy sessions: mcphost_sessions_active = %v, want 2", got)
	}
	ada.Close()
	carl.Close()
	eventually(t, 10*time.Second, "closed sessions to leave the gauge", func() bool {
		return value(scrape(t, r), "mcphost_sessions_active") == 0
	})
}

// TestMetricsLoopbackOnly: the main listener's /metrics answers loopback
// peers; others only with metrics.public.
func TestMetricsLoopbackOnly(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want int
	}{{"", http.StatusForbidden}, {"metrics: {public: true}\n", http.StatusOK}} {
		r := startHostWith(t, c.yaml+basicYAML, host.ServerOptions{}, "127.0.0.1:0", func(h *host.Host) { h.SetMetrics(metrics.New()) })
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = "192.0.2.10:5555" // another machine
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%q: a remote peer's /metrics = %d, want %d", c.yaml, rec.Code, c.want)
		}
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
