package host_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/host"
)

// runBinary starts the real mcphost binary on the config at cfgPath and returns
// the process and its base URL (http://127.0.0.1:PORT) once it serves. The test
// owns stopping it; a last-resort kill is registered.
func runBinary(t *testing.T, cfgPath string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin("mcphost"), "--config", cfgPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	// The host logs its URL once serving.
	base := ""
	lines := bufio.NewScanner(stderr)
	for base == "" && lines.Scan() {
		if i := strings.Index(lines.Text(), "url=http://"); i >= 0 {
			base = strings.TrimSuffix(strings.Fields(lines.Text()[i+4:])[0], host.MCPPath)
		}
	}
	if base == "" {
		t.Fatal("mcphost never logged its URL")
	}
	go func() { // keep draining stderr so the host never blocks on it
		for lines.Scan() {
		}
	}()
	return cmd, base
}

// readyPlugins reads the plugin list from /readyz (the test is a loopback peer).
func readyPlugins(t *testing.T, base string) ([]host.PluginStatus, error) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ready struct{ Plugins []host.PluginStatus }
	err = json.NewDecoder(resp.Body).Decode(&ready)
	return ready.Plugins, err
}

// writeConfigFile writes yaml (with {{bin}} replaced) as mcphost.yaml in a temp
// dir and returns its path, for tests that run the real binary.
func writeConfigFile(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcphost.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(yaml, "{{bin}}", binDir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
