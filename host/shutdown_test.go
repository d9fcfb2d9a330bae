package host_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// TestSIGTERMDrainsCallsAndLeavesNoOrphans runs the real mcphost binary, starts a
// slow call, sends SIGTERM, and checks that the call still completes, the host
// exits 0, and no plugin process survives it.
func TestSIGTERMDrainsCallsAndLeavesNoOrphans(t *testing.T) {
	cfgPath := writeConfigFile(t, `
server: {listen: "127.0.0.1:0", shutdown_timeout: 20s}
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test: {path: "{{bin}}/testplugin", sandbox: "off", env: {TESTPLUGIN_DIR: "{{dir}}"}}
`)
	starts := callStarts(t, filepath.Dir(cfgPath))
	cmd, url, log := runBinaryLogged(t, cfgPath)
	plugins, err := readyPlugins(t, url)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range plugins {
		pids = append(pids, p.PID)
	}
	if len(pids) != 2 {
		t.Fatalf("readyz plugins = %+v", plugins)
	}

	client := mcp.NewClient(&mcp.Implementation{Name: "shutdown-test", Version: "1"}, nil)
	cs, err := client.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url + host.MCPPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "slow", Arguments: map[string]any{"ms": 1500}})
		if err != nil {
			done <- result{err: err}
			return
		}
		done <- result{text: resultText(res)}
	}()
	started(t, starts) // the call is running in the plugin

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.text != "slept" {
		t.Fatalf("in-flight call during shutdown = %q, %v; want it to finish", r.text, r.err)
	}
	// It finished after shutdown began, so it was drained, not merely done early.
	if !log.has(`msg="shutting down"`) {
		t.Fatalf("the call ended before the host began shutting down; its log:\n%s", log)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("mcphost exit: %v", err)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("mcphost did not exit after SIGTERM")
	}
	for _, pid := range pids {
		if processAlive(pid) {
			t.Errorf("plugin pid %d outlived the host", pid)
		}
	}
}

// TestHostKilledTakesPluginsWithIt: even a host that cannot clean up (SIGKILL)
// leaves no plugin behind.
func TestHostKilledTakesPluginsWithIt(t *testing.T) {
	cfgPath := writeConfigFile(t, `
server: {listen: "127.0.0.1:0"}
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test: {path: "{{bin}}/testplugin"}
`)
	cmd, url := runBinary(t, cfgPath)
	plugins, err := readyPlugins(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(plugins) != 2 {
		t.Fatalf("plugins %+v", plugins)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	for _, p := range plugins {
		eventually(t, 5*time.Second, fmt.Sprintf("plugin %s (pid %d) to die with the host", p.Name, p.PID), func() bool { return !processAlive(p.PID) })
	}
}

// TestReloadAfterShutdownStartsNothing: a reload that arrives once shutdown
// is done is refused and leaves no process behind.
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
