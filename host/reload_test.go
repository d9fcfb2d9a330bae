package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/host"
)

// reloadConfig loads yaml from the same directory as r's config.
func reloadConfig(t *testing.T, r *running, yaml string) *config.Config {
	t.Helper()
	yaml = strings.ReplaceAll(yaml, "{{bin}}", binDir)
	if err := os.WriteFile(r.cfg.File, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(r.cfg.File, config.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

func TestReloadAppliesAllOrNothing(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test: {path: "{{bin}}/testplugin", prefix: "t."}`, host.ServerOptions{})
	changed := make(chan struct{}, 10)
	cs := connect(t, r, nil, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	testPID := pluginStatus(t, r.host, "test").PID
	whoamiPID := pluginStatus(t, r.host, "whoami").PID
	ctx := context.Background()

	// Add one plugin, remove one, leave one alone.
	err := r.host.Reload(ctx, reloadConfig(t, r, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", prefix: "t."}
  two: {path: "{{bin}}/testplugin-b", prefix: "two."}`))
	if err != nil {
		t.Fatal(err)
	}
	names := toolNames(t, cs)
	if !strings.Contains(names, ",two.echo,") || strings.Contains(names, ",whoami,") || !strings.Contains(names, ",t.echo,") {
		t.Fatalf("after reload tools = %s", names)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("no tools/list_changed after reload")
	}
	if pluginStatus(t, r.host, "test").PID != testPID {
		t.Error("an unchanged plugin was restarted by the reload")
	}
	eventually(t, 10*time.Second, "removed plugin's process gone", func() bool { return !processAlive(whoamiPID) })
	if text, _ := callText(t, cs, "two.echo", map[string]any{"text": "y"}); text != "B:y" {
		t.Fatalf("two.echo = %q", text)
	}

	// Rejected reloads change nothing: a plugin that cannot start, a collision.
	for _, bad := range []struct{ name, yaml, want string }{
		{"required plugin fails to start", `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", prefix: "t."}
  two: {path: "{{bin}}/testplugin-b", prefix: "two."}
  dead: {path: "{{bin}}/testplugin", prefix: "d.", required: true, env: {TESTPLUGIN_MODE: crash-at-start}}`, "plugin dead"},
		{"changed plugin fails to start", `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", prefix: "t."}
  two: {path: "{{bin}}/testplugin-b", prefix: "two.", env: {TESTPLUGIN_MODE: crash-at-start}}`, "the changed plugin two did not start"},
		{"tool name collision", `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", prefix: "t."}
  two: {path: "{{bin}}/testplugin-b", prefix: "t."}`, "exported by both plugins"},
	} {
		before := toolNames(t, cs)
		err := r.host.Reload(ctx, reloadConfig(t, r, bad.yaml))
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "changed nothing") {
			t.Fatalf("%s: err = %v", bad.name, err)
		}
		if after := toolNames(t, cs); after != before {
			t.Fatalf("%s: tools changed from %s to %s", bad.name, before, after)
		}
		if text, _ := callText(t, cs, "two.echo", map[string]any{"text": "z"}); text != "B:z" {
			t.Fatalf("%s: two.echo = %q after a rejected reload", bad.name, text)
		}
	}
	if n := len(r.host.Status()); n != 2 {
		t.Fatalf("%d plugins after rejected reloads, want 2", n)
	}

	// A changed setting restarts just that plugin, and it keeps answering.
	err = r.host.Reload(ctx, reloadConfig(t, r, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", prefix: "t.", call_timeout: 5s}
  two: {path: "{{bin}}/testplugin-b", prefix: "two."}`))
	if err != nil {
		t.Fatal(err)
	}
	if pluginStatus(t, r.host, "test").PID == testPID {
		t.Error("a changed plugin was not restarted")
	}
	if text, _ := callText(t, cs, "t.echo", map[string]any{"text": "q"}); text != "1.0.0:q" {
		t.Fatalf("t.echo after change = %q", text)
	}
}

// TestConfigFileAndPluginDirReload runs the real binary: editing the config file,
// dropping a binary into plugin_dir, removing it, an invalid edit, and SIGHUP.
func TestConfigFileAndPluginDirReload(t *testing.T) {
	dir := t.TempDir()
	pluginDir := filepath.Join(dir, "plugins")
	if err := os.Mkdir(pluginDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "mcphost.yaml")
	write := func(extra string) {
		yaml := fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
auth: {provider: none}
hot_reload: {debounce: 100ms}
plugin_dir: plugins
plugins:
  whoami: {path: %q}
%s`, bin("whoami"), extra)
		if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	cmd, base, log := runBinaryLogged(t, cfgPath)
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	plugins := func() string {
		ps, err := readyPlugins(t, base)
		if err != nil {
			return "down"
		}
		var names []string
		for _, p := range ps {
			names = append(names, p.Name)
		}
		return strings.Join(names, ",")
	}
	waitPlugins := func(want string) {
		t.Helper()
		eventually(t, 15*time.Second, "plugins "+want, func() bool { return plugins() == want })
	}
	waitPlugins("whoami")

	write(fmt.Sprintf("  extra: {path: %q, prefix: \"x.\"}", bin("testplugin")))
	waitPlugins("extra,whoami")

	install(t, bin("testplugin-b"), filepath.Join(pluginDir, "dropped"))
	waitPlugins("dropped,extra,whoami")
	if err := os.Remove(filepath.Join(pluginDir, "dropped")); err != nil {
		t.Fatal(err)
	}
	waitPlugins("extra,whoami")

	// An invalid config changes nothing, and the host keeps serving.
	if err := os.WriteFile(cfgPath, []byte("plugins: [this is not a mapping"), 0o600); err != nil {
		t.Fatal(err)
	}
	log.wait(t, 15*time.Second, `msg="config reload skipped: the new config is invalid`)
	if got := plugins(); got != "extra,whoami" {
		t.Fatalf("after an invalid config plugins = %s", got)
	}

	// SIGHUP re-reads a config written while watching was not looking (same path).
	write("")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitPlugins("whoami")
}
