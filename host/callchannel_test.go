package host_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// Both ways a call reaches a plugin: the SDK's call channel (one stream for
// all calls) and a stream per call (plugins without the channel, or with
// MCPHOST_CALL_CHANNEL=off).
var callPaths = map[string]string{"channel": "", "stream per call": `, MCPHOST_CALL_CHANNEL: "off"`}

func callPathYAML(env string) string {
	return `
auth: {provider: none}
plugins:
  test:
    path: "{{bin}}/testplugin"
    sandbox: "off" # its cancellation markers go to {{dir}}, which holds data_dir
    env: {TESTPLUGIN_DIR: "{{dir}}"` + env + `}
    max_concurrency: 8
`
}

// TestCancelOneCallOthersContinue: cancelling one call stops that call in the
// plugin and no other; the plugin keeps serving.
func TestCancelOneCallOthersContinue(t *testing.T) {
	for name, env := range callPaths {
		t.Run(name, func(t *testing.T) {
			r := startHost(t, callPathYAML(env), host.ServerOptions{})
			cs := connect(t, r, nil, nil)
			ctx, cancel := context.WithCancel(context.Background())
			cancelled := make(chan error, 1)
			go func() {
				_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"ms": 60000}})
				cancelled <- err
			}()
			kept := make(chan string, 1)
			go func() {
				text, _ := callText(t, cs, "slow", map[string]any{"ms": 1500})
				kept <- text
			}()
			eventually(t, 5*time.Second, "both calls running", func() bool {
				text, _ := callText(t, cs, "max-active", nil)
				return strings.Contains(text, `"max_active": 2`)
			})
			cancel()
			if err := <-cancelled; err == nil {
				t.Fatal("cancelled call returned no error")
			}
			eventually(t, 5*time.Second, "plugin saw the cancellation", func() bool {
				m, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "cancelled-*"))
				return len(m) == 1
			})
			if text := <-kept; text != "slept" {
				t.Fatalf("the other call = %q, want it to finish", text)
			}
			if m, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "cancelled-*")); len(m) != 1 {
				t.Fatalf("%d calls cancelled in the plugin, want 1", len(m))
			}
			if text, isErr := callText(t, cs, "echo", map[string]any{"text": "ok"}); isErr || text != "1.0.0:ok" {
				t.Fatalf("echo afterwards = %q", text)
			}
		})
	}
}

// TestLargeResultBesideOtherCalls: a result of several MiB arrives whole, and
// a call in flight beside it (on the same channel) is unaffected.
func TestLargeResultBesideOtherCalls(t *testing.T) {
	for name, env := range callPaths {
		t.Run(name, func(t *testing.T) {
			r := startHost(t, callPathYAML(env), host.ServerOptions{})
			cs := connect(t, r, nil, nil)
			kept := make(chan string, 1)
			go func() {
				text, _ := callText(t, cs, "slow", map[string]any{"ms": 1000})
				kept <- text
			}()
			eventually(t, 5*time.Second, "the slow call running", func() bool {
				text, _ := callText(t, cs, "max-active", nil)
				return strings.Contains(text, `"max_active": 1`)
			})
			text, isErr := callText(t, cs, "big", map[string]any{"bytes": 6 << 20})
			if isErr || len(text) != 6<<20 || strings.Trim(text, "x") != "" {
				t.Fatalf("big: %d bytes, isError %v", len(text), isErr)
			}
			if text := <-kept; text != "slept" {
				t.Fatalf("the call beside it = %q, want it to finish", text)
			}
		})
	}
}
