package host_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// Plugins that describe what the MCP server would panic on, or send what the
// transport cannot encode, must cost only their own tools.

func TestSchemasClientsWouldRejectAreStartupErrors(t *testing.T) {
	for mode, want := range map[string]string{
		"header-schema": "plugin raw: tool raw: input schema: x-mcp-header",
		"array-output":  `plugin raw: tool raw: output schema must be a JSON Schema object with "type": "object"`,
	} {
		t.Run(mode, func(t *testing.T) {
			cfg := loadConfig(t, `
auth: {provider: none}
plugins:
  raw: {path: "{{bin}}/rawplugin", required: true, env: {RAWPLUGIN_MODE: "`+mode+`"}}`)
			h := host.New(cfg, testLogger(t))
			err := h.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("start: %v, want %q", err, want)
			}
		})
	}
}

func TestInvalidStructuredContentIsToolError(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  raw: {path: "{{bin}}/rawplugin"}
  whoami: {path: "{{bin}}/whoami"}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "raw"})
	if err != nil {
		t.Fatalf("call: %v (the client must get an answer, not wait)", err)
	}
	if !res.IsError || !strings.Contains(resultText(res), "plugin raw returned invalid structured content") {
		t.Fatalf("result = %+v", res)
	}
	if _, isErr := callText(t, cs, "whoami", nil); isErr {
		t.Fatal("whoami failed after another plugin's bad result")
	}
}

func TestReadyzDetailsOnlyForLoopback(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	for _, tc := range []struct {
		peer      string
		forwarded bool
		detail    bool
	}{{"127.0.0.1:5555", false, true}, {"[::1]:5555", false, true}, {"192.0.2.7:5555", false, false}, {"127.0.0.1:5555", true, false}} {
		req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		req.RemoteAddr = tc.peer
		if tc.forwarded { // a proxy on this machine: the real client is elsewhere
			req.Header.Set("X-Forwarded-For", "198.51.100.4")
		}
		rec := httptest.NewRecorder()
		r.srv.Handler().ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `"ready":true`) {
			t.Fatalf("%s: %d %s", tc.peer, rec.Code, body)
		}
		if got := strings.Contains(body, `"sha256"`); got != tc.detail {
			t.Errorf("%s: plugin details shown = %v, want %v: %s", tc.peer, got, tc.detail, body)
		}
	}
}

func TestClientRequestsPerCallAreBounded(t *testing.T) {
	r := startHost(t, featuresYAML, host.ServerOptions{})
	// The client holds every question until the plugin reports (by a log line)
	// that two of its six were refused, so four are open at once for sure.
	release := make(chan struct{})
	var once sync.Once
	// A legacy session, where questions stay open while the client answers.
	cs := connectVersion(t, r, nil, &mcp.ClientOptions{
		CreateMessageHandler: func(ctx context.Context, _ *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			select {
			case <-release:
			case <-time.After(20 * time.Second):
			}
			return &mcp.CreateMessageResult{Role: "assistant", Model: "m", Content: &mcp.TextContent{Text: "a"}}, nil
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			if req.Params.Data == "refused=2" {
				once.Do(func() { close(release) })
			}
		},
	}, legacy)
	if err := cs.SetLoggingLevel(context.Background(), &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	text, isErr := callText(t, cs, "ask-llm-many", nil)
	if isErr || text != "answered=4 refused=2" {
		t.Fatalf("ask-llm-many = %q (isError %v), want 4 answered and 2 refused", text, isErr)
	}
}

func TestReloadAfterShutdownStartsNothing(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	err := r.host.Reload(context.Background(), reloadConfig(t, r, `
auth: {provider: none}
plugins:
  late: {path: "{{bin}}/testplugin"}`))
	if err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("reload after shutdown: %v", err)
	}
	for _, st := range r.host.Status() {
		if st.Name == "late" || processAlive(st.PID) {
			t.Errorf("after shutdown and a rejected reload: %+v", st)
		}
	}
}

// TestPluginAddedByReloadIsSupervised: a plugin that a reload adds and that
// crashes before the reload finishes is still restarted afterwards.
func TestPluginAddedByReloadIsSupervised(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	err := r.host.Reload(context.Background(), reloadConfig(t, r, `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test: {path: "{{bin}}/testplugin", prefix: "t.", sandbox: "off", env: {TESTPLUGIN_DIR: "{{dir}}"}}
  flappy: {path: "{{bin}}/testplugin", prefix: "f.", env: {TESTPLUGIN_MODE: "exit-after=1s"}}
  sleepy: {path: "{{bin}}/testplugin", prefix: "s.", env: {TESTPLUGIN_MODE: "slow-start=1500ms"}}`))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the reload-added plugin restarted", func() bool {
		return pluginStatus(t, r.host, "flappy").Restarts >= 1
	})
}
