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
	cmd, base, _ := runBinaryLogged(t, cfgPath)
	return cmd, base
}

// runBinaryLogged is runBinary that also returns the host's log lines (its
// stderr), for tests that wait for what it reports.
func runBinaryLogged(t *testing.T, cfgPath string) (*exec.Cmd, string, *lineLog) {
	t.Helper()
	log := newLineLog()
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
		_, _ = log.Write(append(lines.Bytes(), '\n'))
		if i := strings.Index(lines.Text(), "url=http://"); i >= 0 {
			base = strings.TrimSuffix(strings.Fields(lines.Text()[i+4:])[0], host.MCPPath)
		}
	}
	if base == "" {
		t.Fatalf("mcphost never logged its URL:\n%s", log)
	}
	go func() { // keep reading stderr so the host never blocks on it
		for lines.Scan() {
			_, _ = log.Write(append(lines.Bytes(), '\n'))
		}
	}()
	return cmd, base, log
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

// writeConfigFile writes yaml (with {{bin}}, and {{dir}} for the config's
// directory, replaced) as mcphost.yaml in a temp dir and returns its path, for
// tests that run the real binary.
func writeConfigFile(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcphost.yaml")
	yaml = strings.ReplaceAll(strings.ReplaceAll(yaml, "{{bin}}", binDir), "{{dir}}", dir)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
