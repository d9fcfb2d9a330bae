package dev_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// lockedBuffer collects a process's stderr while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTokensAndSecretsNeverLogged runs mcphost dev at debug level, sends valid,
// invalid and foreign tokens and a plugin secret through it, and checks that no
// log line (host or plugin) contains any of them.
func TestTokensAndSecretsNeverLogged(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mcphost.yaml")
	const secret = "sk_test_NEVER_LOG_THIS_9f8e7d"
	yaml := fmt.Sprintf(`
server: {listen: %q}
log: {level: debug, format: json}
plugins:
  whoami: {path: %q}
  workosuser: {path: %q, env: {WORKOS_API_KEY: %q, WORKOS_API_BASE_URL: "http://127.0.0.1:1"}}
`, addr, filepath.Join(binDir, "whoami"), filepath.Join(binDir, "workosuser"), secret)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd := exec.Command(filepath.Join(binDir, "mcphost"), "dev", "--config", cfg)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "mcphost serving") {
		if time.Now().After(deadline) {
			t.Fatalf("mcphost did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	d := &devServer{config: cfg, base: "http://" + addr}
	good := d.token(t, "--sub", "user_logs", "--org", "org_a")
	foreign := d.token(t, "--sub", "user_logs", "--listen", "127.0.0.1:1")
	tampered := good[:len(good)-4] + "AAAA"

	cs := d.connect(t, good)
	for _, tool := range []string{"whoami", "get-workos-user"} {
		if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool}); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	var rejected []string // request ids of the refused requests
	for _, tok := range []string{foreign, tampered, "garbage." + good} {
		req, _ := http.NewRequest(http.MethodPost, d.base+"/mcp", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad token answered %d", resp.StatusCode)
		}
		rejected = append(rejected, resp.Header.Get("X-Request-Id"))
	}
	// Each refusal's log line carries its request's id (the one the response
	// named), which is also how this test knows the lines have arrived.
	missing := func() []string {
		seen := map[string]bool{}
		for _, line := range strings.Split(logs.String(), "\n") {
			var rec struct {
				Msg       string `json:"msg"`
				RequestID string `json:"request_id"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "workos: token rejected" {
				seen[rec.RequestID] = true
			}
		}
		var out []string
		for _, id := range rejected {
			if id == "" || !seen[id] {
				out = append(out, id)
			}
		}
		return out
	}
	for deadline := time.Now().Add(10 * time.Second); len(missing()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no \"token rejected\" line with request_id %q:\n%s", missing(), logs.String())
		}
	}
	out := logs.String()
	if !strings.Contains(out, `"level":"DEBUG"`) || !strings.Contains(out, "token rejected") {
		t.Fatalf("debug logging did not run, so this test proves nothing:\n%s", out)
	}
	for name, s := range map[string]string{
		"valid token": good, "foreign token": foreign, "tampered token": tampered, "API key": secret,
		"token signature": good[strings.LastIndex(good, ".")+1:],
	} {
		if strings.Contains(out, s) {
			t.Errorf("the log contains the %s", name)
		}
	}
}
