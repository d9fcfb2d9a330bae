//go:build unix

package authflow_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/e2etest"
)

var (
	authorizeURL = regexp.MustCompile(`(http://127\.0\.0\.1:\d+/oauth2/authorize\?\S+)`)
	loginRequest = regexp.MustCompile(`name="request" value="([^"]+)"`)
)

// TestMCPRemoteSignsIn: mcp-remote (the stdio bridge Claude Desktop uses)
// does OAuth on its own against `mcphost dev`: it registers, prints the
// authorization URL for a browser, and once the test (as the browser) picks a
// demo user on the login page and follows the redirect to mcp-remote's
// callback, it gets a token and relays MCP over stdio.
func TestMCPRemoteSignsIn(t *testing.T) {
	npm, dir, repo := e2etest.Setup(t, "npm not found on PATH: this end-to-end test needs Node.js and npm to run mcp-remote")
	e2etest.NPMInstall(t, npm, dir, "mcp-remote")
	node := e2etest.NodeBinary(t, npm, dir, "AUTHFLOW_NODE", minNode)
	e2etest.Run(t, clientTimeout, repo, "make", "build")
	port := e2etest.FreePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	dev := e2etest.Start(t, "mcphost", repo, nil, filepath.Join(repo, "bin", "mcphost"), "dev", "--config", filepath.Join(repo, "mcphost.yaml"), "--listen", strings.TrimPrefix(origin, "http://"))
	e2etest.WaitHTTP(t, dev, origin+"/readyz")

	callbackPort := e2etest.FreePort(t)
	cmd := exec.Command(node, filepath.Join(dir, "node_modules", "mcp-remote", "dist", "proxy.js"), origin+"/mcp", strconv.Itoa(callbackPort))
	// Its own HOME, so no tokens from another run; BROWSER=true so the
	// "browser opened automatically" step opens nothing: the test is the browser.
	cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin", "BROWSER=/bin/true"}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	lw := e2etest.NewLineLogger(t, "mcp-remote")
	go func() {
		defer lw.Close()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = lw.Write(append(sc.Bytes(), '\n'))
			if m := authorizeURL.FindString(sc.Text()); m != "" {
				select {
				case found <- m:
				default:
				}
			}
		}
	}()
	var authURL string
	select {
	case authURL = <-found:
	case <-time.After(clientTimeout):
		t.Fatal("mcp-remote never printed an authorization URL (its stderr is in the log)")
	}

	// The browser: the login page, the pick, then the redirect to mcp-remote.
	browser := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := loginRequest.FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("login page for mcp-remote: HTTP %d\n%s", resp.StatusCode, page)
	}
	resp, err = browser.PostForm(origin+"/oauth2/authorize", url.Values{"request": {string(m[1])}, "user": {"user_alice"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(callback, fmt.Sprintf(":%d/", callbackPort)) {
		t.Fatalf("after the login: HTTP %d to %q, want mcp-remote's callback on port %d", resp.StatusCode, callback, callbackPort)
	}
	resp, err = browser.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mcp-remote's callback answered HTTP %d", resp.StatusCode)
	}

	// MCP over mcp-remote's stdio, now authorized.
	lines := make(chan []byte, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(lines)
	}()
	send := func(msg string) {
		if _, err := io.WriteString(stdin, msg+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	await := func(id int) map[string]any {
		t.Helper()
		deadline := time.After(clientTimeout)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("mcp-remote closed stdout before answering request %d", id)
				}
				var msg map[string]any
				if json.Unmarshal(line, &msg) == nil && msg["id"] == float64(id) {
					return msg
				}
			case <-deadline:
				t.Fatalf("no answer to request %d from mcp-remote", id)
			}
		}
	}
	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"mcp-remote-e2e","version":"1"}}}`)
	if res := await(1); res["result"] == nil {
		t.Fatalf("initialize through mcp-remote: %v", res)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`)
	res := await(2)
	result, _ := res["result"].(map[string]any)
	who, _ := result["structuredContent"].(map[string]any)
	if who["user_id"] != "user_alice" || who["organization_id"] != "org_demo_acme" {
		t.Fatalf("whoami through mcp-remote = %v", res)
	}
}
