package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// A plugin that cannot start degrades only its own tools: the host serves the
// others, reports the plugin failed (its own words first), keeps retrying it,
// and lists its tools once it comes up.

// failingPlugin is a plugin binary that explains itself and exits, as one
// missing its settings would.
const failingPlugin = "#!/bin/sh\necho 'notes: NOTES_DSN is not set' >&2\nexit 3\n"

func readyz(t *testing.T, r *running) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(r.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func TestOptionalPluginFailsAlone(t *testing.T) {
	dir := t.TempDir()
	plug := filepath.Join(dir, "flaky")
	if err := os.WriteFile(plug, []byte(failingPlugin), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startHost(t, fmt.Sprintf(`
auth: {provider: none}
hot_reload: {debounce: 50ms}
plugins:
  flaky: {path: %q, start_timeout: 5s}
  whoami: {path: "{{bin}}/whoami"}
`, plug), host.ServerOptions{})

	st := pluginStatus(t, r.host, "flaky")
	if st.State != host.StateFailed || !strings.HasPrefix(st.LastError, "plugin flaky did not start: notes: NOTES_DSN is not set (") {
		t.Fatalf("flaky = %+v, want failed with its own words first", st)
	}
	if st := pluginStatus(t, r.host, "whoami"); st.State != host.StateRunning {
		t.Fatalf("whoami = %+v, want running", st)
	}
	changed := make(chan struct{}, 10)
	cs := connectVersion(t, r, nil, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	}, legacy)
	if names := toolNames(t, cs); names != ",whoami," {
		t.Fatalf("tools = %s, want only whoami's while flaky is down", names)
	}
	if text, isErr := callText(t, cs, "whoami", nil); isErr {
		t.Fatalf("whoami beside a failed plugin: %q", text)
	}
	// Optional plugins do not make the replica unready (ready_requires:
	// required, the default), but /readyz says one is down and, to loopback,
	// which and why.
	code, body := readyz(t, r)
	if code != http.StatusOK || body["ready"] != true || body["plugins_down"] != float64(1) || !strings.Contains(fmt.Sprint(body["plugins"]), "NOTES_DSN is not set") {
		t.Fatalf("/readyz = %d %v", code, body)
	}

	// Fixing the binary brings it up (the watcher, or the next retry) and its
	// tools appear, announced to the client.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.host.WatchBinaries(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	install(t, bin("testplugin-a"), plug)
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Fatalf("no tools/list_changed after the plugin came up: %+v", pluginStatus(t, r.host, "flaky"))
	}
	if text, isErr := callText(t, cs, "echo", map[string]any{"text": "x"}); isErr || text != "A:x" {
		t.Fatalf("echo once flaky is up = %q (isError %v)", text, isErr)
	}
	if st := pluginStatus(t, r.host, "flaky"); st.State != host.StateRunning || st.LastError != "" {
		t.Fatalf("flaky after recovery = %+v", st)
	}
	if code, body := readyz(t, r); code != http.StatusOK || body["plugins_down"] != float64(0) {
		t.Fatalf("/readyz after recovery = %d %v", code, body)
	}
}

// TestFailedPluginRetriedWithBackoff: with nothing fixed, the host keeps
// trying, waiting longer each time: each attempt is another failure on the
// plugin's status. The test owns the backoff timer, so no wait is real.
func TestFailedPluginRetriedWithBackoff(t *testing.T) {
	timer := newRestartTimer()
	r := startHostWith(t, `
auth: {provider: none}
plugins:
  dead: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_MODE: crash-at-start}}
  whoami: {path: "{{bin}}/whoami"}
`, host.ServerOptions{}, "127.0.0.1:0", func(h *host.Host) { host.SetRestartTimer(h, timer.after) })
	var waits []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		w := timer.next(t) // the supervisor waits before its next attempt
		waits = append(waits, w.d)
		if st := pluginStatus(t, r.host, "dead"); st.Failures != attempt || st.State != host.StateFailed || !strings.Contains(st.LastError, "failing at start on purpose") {
			t.Fatalf("before retry %d: dead = %+v", attempt, st)
		}
		w.fire()
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] != 2*waits[i-1] {
			t.Fatalf("waits between attempts %v: each should double the last", waits)
		}
	}
}

// TestReadyRequiresAll: server.ready_requires: all makes any plugin that is
// not running take the replica out of service.
func TestReadyRequiresAll(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
server: {ready_requires: all}
plugins:
  dead: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_MODE: crash-at-start}}
  whoami: {path: "{{bin}}/whoami"}
`, host.ServerOptions{})
	if code, body := readyz(t, r); code != http.StatusServiceUnavailable || body["ready"] != false || body["plugins_down"] != float64(1) {
		t.Fatalf("/readyz = %d %v, want 503 with one plugin down", code, body)
	}
}

// TestRequiredPluginStopsTheReplica: a required plugin that dies after
// starting makes /readyz 503 until it is back.
func TestRequiredPluginStopsTheReplica(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", required: true}
`, host.ServerOptions{})
	if code, _ := readyz(t, r); code != http.StatusOK {
		t.Fatalf("/readyz with the required plugin up = %d", code)
	}
	pid := pluginStatus(t, r.host, "test").PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the replica to turn unready", func() bool {
		code, _ := readyz(t, r)
		return code == http.StatusServiceUnavailable
	})
	eventually(t, 20*time.Second, "the restarted plugin to make it ready again", func() bool {
		code, _ := readyz(t, r)
		return code == http.StatusOK
	})
}

// TestReloadAddsFailingPlugin: a reload adding an optional plugin that
// cannot start applies, with that plugin failed and the rest unchanged.
func TestReloadAddsFailingPlugin(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
`, host.ServerOptions{})
	err := r.host.Reload(context.Background(), reloadConfig(t, r, `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  dead: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_MODE: crash-at-start}}
`))
	if err != nil {
		t.Fatalf("reload adding an optional plugin that cannot start: %v", err)
	}
	if st := pluginStatus(t, r.host, "dead"); st.State != host.StateFailed {
		t.Fatalf("dead after the reload = %+v", st)
	}
	cs := connect(t, r, nil, nil)
	if text, isErr := callText(t, cs, "whoami", nil); isErr {
		t.Fatalf("whoami after the reload: %q", text)
	}
}
