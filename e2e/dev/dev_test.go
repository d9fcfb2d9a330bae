// Package dev_test drives the real mcphost binary in dev mode with tokens from
// `mcphost token`: the path a newcomer takes, and the auth gate, policy and session
// binding as a client sees them.
package dev_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcphost-e2e-dev")
	if err != nil {
		panic(err)
	}
	binDir = dir
	for _, p := range []string{"cmd/mcphost", "plugins/whoami", "plugins/admin", "plugins/documents", "plugins/workosuser"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(p)), "./"+p)
		cmd.Dir = "../.."
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n", p, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type devServer struct {
	config string
	base   string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
}

// startDev writes a config on a free port and runs `mcphost dev` on it.
func startDev(t *testing.T, extra string) *devServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mcphost.yaml")
	yaml := fmt.Sprintf(`
server: {listen: %q}
auth: {provider: workos, workos: {subdomain: unused.authkit.app}}
plugins:
  whoami: {path: %q}
  admin: {path: %q, require_roles: [admin]}
  documents:
    path: %q
    tools: {delete-document: {require_roles: [admin]}}
%s`, addr, filepath.Join(binDir, "whoami"), filepath.Join(binDir, "admin"), filepath.Join(binDir, "documents"), extra)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &devServer{config: cfg, base: "http://" + addr}
	d.launch(t)
	return d
}

// launch runs `mcphost dev` on d's config and waits until it serves.
func (d *devServer) launch(t *testing.T) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "mcphost"), "dev", "--config", d.config)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	t.Cleanup(func() { d.stop(t) })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "mcphost serving") {
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
}

// stop interrupts the server and waits for it to exit.
func (d *devServer) stop(t *testing.T) {
	if d.cmd == nil || d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("mcphost did not stop on SIGINT")
	}
}

// token runs `mcphost token` with args.
func (d *devServer) token(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(binDir, "mcphost"), append([]string{"token", "--config", d.config}, args...)...).Output()
	if err != nil {
		t.Fatalf("mcphost token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

func (d *devServer) connect(t *testing.T, token string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: d.base + "/mcp", HTTPClient: &http.Client{Transport: bearer(token)},
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func toolNames(t *testing.T, cs *mcp.ClientSession) string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	return strings.Join(names, ",")
}

func TestDevTokenCallsWhoami(t *testing.T) {
	d := startDev(t, "")
	tok := d.token(t, "--sub", "user_1", "--email", "u1@example.com", "--org", "org_a", "--roles", "admin,member", "--permissions", "documents:write")
	cs := d.connect(t, tok)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var got map[string]any
	_ = json.Unmarshal(raw, &got)
	if got["user_id"] != "user_1" || got["organization_id"] != "org_a" || got["email"] != "u1@example.com" {
		t.Fatalf("whoami = %s", raw)
	}
	if r, _ := json.Marshal(got["roles"]); string(r) != `["admin","member"]` {
		t.Errorf("roles = %s", r)
	}
	if p, _ := json.Marshal(got["permissions"]); string(p) != `["documents:write"]` {
		t.Errorf("permissions = %s", p)
	}
}

func TestGateChallenges(t *testing.T) {
	d := startDev(t, "")
	prm := d.base + "/.well-known/oauth-protected-resource/mcp"
	otherAud := d.token(t, "--sub", "u", "--listen", "127.0.0.1:1") // minted for another resource URL
	tests := []struct {
		name, auth string
		wantHeader []string
	}{
		{"no token", "", []string{`Bearer resource_metadata="` + prm + `"`}},
		{"garbage", "Bearer not-a-jwt", []string{`error="invalid_token"`, `resource_metadata="` + prm + `"`}},
		{"wrong audience", "Bearer " + otherAud, []string{`error="invalid_token"`}},
		{"lowercase scheme still checked", "bearer not-a-jwt", []string{`error="invalid_token"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
				req, _ := http.NewRequest(method, d.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("%s: status %d body %s", method, resp.StatusCode, body)
				}
				h := resp.Header.Get("WWW-Authenticate")
				for _, w := range tc.wantHeader {
					if !strings.Contains(h, w) {
						t.Errorf("%s: WWW-Authenticate %q lacks %q", method, h, w)
					}
				}
			}
		})
	}
	// The discovery document names this host's dev issuer.
	resp, err := http.Get(prm)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if doc["resource"] != d.base+"/mcp" || fmt.Sprint(doc["authorization_servers"]) != "["+d.base+"]" {
		t.Errorf("protected resource metadata = %v", doc)
	}
}

func TestRequiredScopes(t *testing.T) {
	t.Setenv("MCPHOST_AUTH_WORKOS_REQUIRED_SCOPES", "mcp:tools") // the env override path, too
	d2 := startDev(t, "")
	lacking := d2.token(t, "--sub", "u", "--scopes", "openid email")
	req, _ := http.NewRequest(http.MethodPost, d2.base+"/mcp", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+lacking)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(h, `error="insufficient_scope"`) || !strings.Contains(h, `scope="mcp:tools"`) {
		t.Fatalf("status %d, WWW-Authenticate %q", resp.StatusCode, h)
	}
	ok := d2.token(t, "--sub", "u", "--scopes", "openid mcp:tools")
	if names := toolNames(t, d2.connect(t, ok)); !strings.Contains(names, "whoami") {
		t.Fatalf("tools with the required scope = %s", names)
	}
}

func TestPolicyHidesAndDenies(t *testing.T) {
	d := startDev(t, "")
	admin := d.connect(t, d.token(t, "--sub", "boss", "--org", "org_demo_acme", "--roles", "admin"))
	member := d.connect(t, d.token(t, "--sub", "pat", "--org", "org_demo_acme", "--roles", "member"))

	if names := toolNames(t, admin); !strings.Contains(names, "admin-action") || !strings.Contains(names, "delete-document") {
		t.Errorf("admin sees %s", names)
	}
	names := toolNames(t, member)
	if strings.Contains(names, "admin-action") || strings.Contains(names, "delete-document") || !strings.Contains(names, "get-documents") {
		t.Errorf("member sees %s", names)
	}
	// Calling a hidden tool answers exactly like calling a missing one.
	_, hiddenErr := member.CallTool(context.Background(), &mcp.CallToolParams{Name: "admin-action", Arguments: map[string]any{"action": "ping"}})
	_, missingErr := member.CallTool(context.Background(), &mcp.CallToolParams{Name: "no-such-tool"})
	if hiddenErr == nil || missingErr == nil {
		t.Fatalf("hidden=%v missing=%v", hiddenErr, missingErr)
	}
	if strings.ReplaceAll(hiddenErr.Error(), "admin-action", "X") != strings.ReplaceAll(missingErr.Error(), "no-such-tool", "X") {
		t.Errorf("hidden tool error %q differs from missing tool error %q", hiddenErr, missingErr)
	}
	res, err := admin.CallTool(context.Background(), &mcp.CallToolParams{Name: "admin-action", Arguments: map[string]any{"action": "ping"}})
	if err != nil || res.IsError {
		t.Fatalf("admin-action as admin: %v %v", err, res)
	}
}

func TestSessionCannotBeHijacked(t *testing.T) {
	d := startDev(t, "")
	alice := d.connect(t, d.token(t, "--sub", "alice"))
	mallory := d.token(t, "--sub", "mallory")
	req, _ := http.NewRequest(http.MethodPost, d.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", alice.ID())
	req.Header.Set("Authorization", "Bearer "+mallory)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 400 || strings.Contains(string(body), "alice") {
		t.Fatalf("mallory on alice's session: %d %s", resp.StatusCode, body)
	}
}

// TestTokenWithinClockSkew: a token just past exp but within auth.workos.clock_skew
// is accepted end to end (the gate and the session layer agree), not answered
// with a bare 401.
func TestTokenWithinClockSkew(t *testing.T) {
	d := startDev(t, "")
	tok := d.token(t, "--sub", "late", "--ttl", "1s")
	// Only the clock can expire it: wait until just past the token's own exp
	// (well within the default 60s skew), as little as that takes.
	var claims struct{ Exp int64 }
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		t.Fatalf("token payload %q: %v", payload, err)
	}
	time.Sleep(time.Until(time.Unix(claims.Exp, 0)) + 100*time.Millisecond)
	cs := d.connect(t, tok)
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatalf("whoami with a token inside the clock skew: %v", err)
	}
}

// TestLocalhostListen: with listen localhost:PORT, the issuer and audience that
// `mcphost dev` expects are the ones `mcphost token` mints (both say localhost).
func TestLocalhostListen(t *testing.T) {
	d := startDev(t, "")
	cfg, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	d.stop(t)
	local := strings.Replace(d.base, "http://127.0.0.1:", "localhost:", 1)
	if err := os.WriteFile(d.config, []byte(strings.Replace(string(cfg), strings.TrimPrefix(d.base, "http://"), local, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.base = "http://" + local
	d.launch(t)
	cs := d.connect(t, d.token(t, "--sub", "local_user"))
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatalf("whoami via localhost: %v", err)
	}
}

// TestBannerTokenCommandWorksWithListen: `mcphost dev --listen X` prints a
// token command whose token that server accepts (issuer and audience name X).
func TestBannerTokenCommandWorksWithListen(t *testing.T) {
	d := startDev(t, "")
	d.stop(t) // its config stays; the server moves elsewhere with --listen
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(filepath.Join(binDir, "mcphost"), "dev", "--config", d.config, "--listen", addr)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	moved := &devServer{config: d.config, base: "http://" + addr, cmd: cmd}
	t.Cleanup(func() { moved.stop(t) })
	var tokenLine string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "token "); ok { // the banner follows "mcphost serving"
			tokenLine = strings.TrimSpace(rest)
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	args := strings.Fields(tokenLine)
	if len(args) < 2 || args[0] != "bin/mcphost" || !strings.Contains(tokenLine, "--listen "+addr) {
		t.Fatalf("banner token command %q does not name --listen %s", tokenLine, addr)
	}
	out, err := exec.Command(filepath.Join(binDir, "mcphost"), args[1:]...).Output()
	if err != nil {
		t.Fatalf("the banner's command %q: %v", tokenLine, err)
	}
	cs := moved.connect(t, strings.TrimSpace(string(out)))
	if got := call(t, cs, "whoami", nil); got["user_id"] != "alice" {
		t.Fatalf("whoami with the banner's token = %v", got)
	}
}

// TestCallCommandErrors: `mcphost call` against the real server says what the
// gate said on a 401, hints at a token when none was given, and exits 1 on a
// tool error after printing the result.
func TestCallCommandErrors(t *testing.T) {
	d := startDev(t, "")
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(filepath.Join(binDir, "mcphost"), append([]string{"call", "--url", d.base + "/mcp"}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin"} // no MCPHOST_TOKEN from the test's environment
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errOut.String()
	}
	code, _, errOut := run("whoami")
	if code != 1 || !strings.Contains(errOut, "HTTP 401") || !strings.Contains(errOut, "no token given") || strings.Contains(errOut, "rejected by transport") {
		t.Errorf("no token: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = run("whoami", "--token", "not-a-jwt")
	if code != 1 || !strings.Contains(errOut, "invalid_token: malformed token") || strings.Contains(errOut, "no token given") {
		t.Errorf("garbage token: exit %d, stderr %q", code, errOut)
	}
	tok := d.token(t, "--sub", "reader", "--org", "org_demo_acme")
	code, out, errOut := run("get-document", "--token", tok, "--args", `{"id":"doc_missing"}`)
	if code != 1 || !strings.Contains(out, `"isError": true`) || !strings.Contains(errOut, "get-document returned a tool error") {
		t.Errorf("tool error: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, _ := run("whoami", "--token", tok); code != 0 || !strings.Contains(out, `"user_id": "reader"`) {
		t.Errorf("a good call: exit %d, stdout %q", code, out)
	}
}
