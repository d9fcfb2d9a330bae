package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/host"
)

const basicYAML = `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test:
    path: "{{bin}}/testplugin"
    prefix: "t."
    sandbox: "off" # its cancellation markers go to {{dir}}, which holds data_dir
    env: {TESTPLUGIN_DIR: "{{dir}}"}
`

func TestListAndCallWhoami(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	ctx := context.Background()
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	for _, want := range []string{"whoami", "t.echo", "t.slow", "t.crash"} {
		if !strings.Contains(strings.Join(names, ","), want) {
			t.Errorf("tools/list = %v, missing %s", names, want)
		}
	}
	// Tools-only plugins: only what they offer is advertised.
	if caps := cs.InitializeResult().Capabilities; caps.Tools == nil || caps.Completions != nil || caps.Prompts != nil || caps.Resources != nil {
		t.Errorf("capabilities of a tools-only host = %+v", caps)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("whoami error: %s", resultText(res))
	}
	sc, _ := json.Marshal(res.StructuredContent)
	// provider none: the caller is empty, but every field is present.
	for _, field := range []string{`"user_id":""`, `"roles":[]`, `"scopes":[]`, `"email_verified":false`} {
		if !strings.Contains(string(sc), field) {
			t.Errorf("whoami structured content %s lacks %s", sc, field)
		}
	}
	if text, isErr := callText(t, cs, "t.echo", map[string]any{"text": "hi"}); isErr || text != "1.0.0:hi" {
		t.Errorf("t.echo = %q (isError %v), want 1.0.0:hi", text, isErr)
	}
}

// headerGate plays an auth provider: it trusts X-Test-User, so tests can act as
// different verified users without tokens (the real providers are tested in auth/).
type headerGate struct{}

func (headerGate) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.Header.Get("X-Test-User")
		if user == "" {
			http.Error(w, "no user", http.StatusUnauthorized)
			return
		}
		c := &auth.Caller{
			UserID: user, Email: user + "@example.com", OrganizationID: r.Header.Get("X-Test-Org"),
			Roles:  splitNonEmpty(r.Header.Get("X-Test-Roles")),
			Scopes: []string{"openid", "email"}, SessionID: "sid-" + user,
			Claims: map[string]any{"sub": user, "custom": "x"},
		}
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), c)))
	})
}

func (headerGate) RegisterDiscovery(*http.ServeMux) {}

func splitNonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// userClient sends the test gate's headers, and a bearer token so the go-sdk's
// bearer middleware (which the host runs behind every gate) sees one.
func userClient(user, org, roles string) *http.Client {
	return &http.Client{Transport: roundTripper(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.Header.Set("X-Test-User", user)
		req.Header.Set("X-Test-Org", org)
		req.Header.Set("X-Test-Roles", roles)
		req.Header.Set("Authorization", "Bearer opaque-test-token")
		return http.DefaultTransport.RoundTrip(req)
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCallerReachesPlugin(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("user_1", "org_a", "admin,member"), nil)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	raw, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(raw, &got)
	if got["user_id"] != "user_1" || got["organization_id"] != "org_a" || got["email"] != "user_1@example.com" || got["sid"] != "sid-user_1" {
		t.Errorf("whoami = %v", got)
	}
	if roles, _ := json.Marshal(got["roles"]); string(roles) != `["admin","member"]` {
		t.Errorf("roles = %s", roles)
	}
	// All claims travel too, and the token itself never does.
	text, _ := callText(t, cs, "t.caller", nil)
	if !strings.Contains(text, `"custom": "x"`) || strings.Contains(text, "opaque-test-token") {
		t.Errorf("caller seen by plugin = %s", text)
	}
}

func TestSessionBoundToUser(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("alice", "org_a", ""), nil)
	body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`
	req, _ := http.NewRequest(http.MethodPost, r.url+host.MCPPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := userClient("mallory", "org_b", "").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := readAll(resp)
	if resp.StatusCode < 400 || strings.Contains(out, "mallory") || strings.Contains(out, "alice") {
		t.Fatalf("another user's request on alice's session: status %d body %q", resp.StatusCode, out)
	}
}

func readAll(resp *http.Response) (string, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(resp.Body)
	return b.String(), err
}

func TestPluginCrashIsToolErrorAndRestarts(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	pidBefore := pluginStatus(t, r.host, "test").PID

	text, isErr := callText(t, cs, "t.crash", nil)
	if !isErr || !strings.Contains(text, "plugin test") {
		t.Fatalf("crash call = %q (isError %v), want a tool error naming plugin test", text, isErr)
	}
	// Other plugins keep serving while it is down.
	if _, isErr := callText(t, cs, "whoami", nil); isErr {
		t.Fatal("whoami failed while test plugin was down")
	}
	eventually(t, 15*time.Second, "test plugin restarted", func() bool {
		st := pluginStatus(t, r.host, "test")
		return st.State == host.StateRunning && st.Restarts >= 1 && st.PID != pidBefore
	})
	if text, isErr := callText(t, cs, "t.echo", map[string]any{"text": "back"}); isErr || text != "1.0.0:back" {
		t.Fatalf("after restart t.echo = %q (isError %v)", text, isErr)
	}
	if processAlive(pidBefore) {
		t.Errorf("crashed plugin pid %d still alive", pidBefore)
	}
}

func TestPanicInHandlerIsToolError(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	text, isErr := callText(t, cs, "t.panic", nil)
	if !isErr || !strings.Contains(text, "internal error") {
		t.Fatalf("panic call = %q (isError %v)", text, isErr)
	}
	if st := pluginStatus(t, r.host, "test"); st.Restarts != 0 {
		t.Errorf("a panicking handler restarted the plugin (%d restarts)", st.Restarts)
	}
}

func pluginStatus(t testing.TB, h *host.Host, name string) host.PluginStatus {
	t.Helper()
	for _, st := range h.Status() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no plugin %s", name)
	return host.PluginStatus{}
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil {
		return false
	}
	// A zombie still answers kill(0); it is dead for our purposes.
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

func TestStartupErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "non-object input schema",
			yaml: `
auth: {provider: none}
plugins:
  bad: {path: "{{bin}}/testplugin", required: true, env: {TESTPLUGIN_MODE: bad-schema}}`,
			want: []string{"plugin bad", "tool broken", `"type": "object"`},
		},
		{
			name: "missing input schema",
			yaml: `
auth: {provider: none}
plugins:
  bad: {path: "{{bin}}/testplugin", required: true, env: {TESTPLUGIN_MODE: no-schema}}`,
			want: []string{"plugin bad", "tool broken", "missing"},
		},
		{
			name: "duplicate tool names",
			yaml: `
auth: {provider: none}
plugins:
  one: {path: "{{bin}}/testplugin"}
  two: {path: "{{bin}}/testplugin"}`,
			want: []string{`"echo"`, "plugins one and two", "prefix"},
		},
		{
			name: "plugin exits at start",
			yaml: `
auth: {provider: none}
plugins:
  dead: {path: "{{bin}}/testplugin", required: true, env: {TESTPLUGIN_MODE: crash-at-start}}`,
			// The plugin's own words first, go-plugin's after.
			want: []string{"plugin dead did not start: testplugin: failing at start on purpose ("},
		},
		{
			name: "sha256 pin mismatch",
			yaml: `
auth: {provider: none}
plugins:
  pinned: {path: "{{bin}}/whoami", required: true, sha256: "0000000000000000000000000000000000000000000000000000000000000000"}`,
			want: []string{"plugin pinned", "pins 0000000000000000000000000000000000000000000000000000000000000000", "has sha256 "},
		},
		{
			name: "not a plugin",
			yaml: `
auth: {provider: none}
plugins:
  shell: {path: "/bin/true", required: true, start_timeout: 2s}`,
			want: []string{"plugin shell"},
		},
		{
			name: "tools override for a tool that does not exist",
			yaml: `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami", required: true, tools: {nope: {call_timeout: 1s}}}`,
			want: []string{"plugins.whoami.tools.nope", "no tool"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, tc.yaml)
			h := host.New(cfg, testLogger(t))
			err := h.Start(context.Background())
			if err == nil {
				h.Shutdown(context.Background())
				t.Fatal("Start succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, st := range h.Status() {
				if processAlive(st.PID) {
					t.Errorf("plugin %s (pid %d) left running after a failed start", st.Name, st.PID)
				}
			}
		})
	}
}

func TestDuplicateToolsWithPrefixStart(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  one: {path: "{{bin}}/testplugin"}
  two: {path: "{{bin}}/testplugin", prefix: "two_"}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	if text, _ := callText(t, cs, "two_echo", map[string]any{"text": "x"}); text != "1.0.0:x" {
		t.Fatalf("two_echo = %q", text)
	}
}

func TestCallTimeoutReachesPlugin(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  test:
    path: "{{bin}}/testplugin"
    sandbox: "off" # its cancellation markers go to {{dir}}, which holds data_dir
    env: {TESTPLUGIN_DIR: "{{dir}}"}
    tools: {slow: {call_timeout: 300ms}}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	text, isErr := callText(t, cs, "slow", map[string]any{"ms": 60000})
	if !isErr || !strings.Contains(text, "timed out after 300ms") || !strings.Contains(text, "plugin test") {
		t.Fatalf("slow = %q (isError %v)", text, isErr)
	}
	eventually(t, 5*time.Second, "plugin saw the cancellation", func() bool {
		m, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "cancelled-*"))
		return len(m) == 1
	})
	// Other tools of the same plugin keep their own (default) timeout.
	if text, isErr := callText(t, cs, "echo", map[string]any{"text": "ok"}); isErr || text != "1.0.0:ok" {
		t.Fatalf("echo after timeout = %q", text)
	}
}

func TestClientCancellationReachesPlugin(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	starts := callStarts(t, r.cfg.Dir)
	cs := connect(t, r, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "t.slow", Arguments: map[string]any{"ms": 60000}})
		done <- err
	}()
	started(t, starts) // the call is running in the plugin
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled call returned no error")
	}
	eventually(t, 5*time.Second, "plugin saw the cancellation", func() bool {
		m, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "cancelled-*"))
		return len(m) == 1
	})
}

func TestConcurrencyLimit(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", max_concurrency: 2}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if text, isErr := callText(t, cs, "slow", map[string]any{"ms": 100}); isErr {
				t.Errorf("slow: %s", text)
			}
		}()
	}
	wg.Wait()
	text, _ := callText(t, cs, "max-active", nil)
	if !strings.Contains(text, `"max_active": 2`) {
		t.Fatalf("max-active = %s, want 2 (the limit)", text)
	}
}

func TestPluginEnvironmentIsolated(t *testing.T) {
	t.Setenv("MCPHOST_TEST_SECRET", "host-secret-value")
	t.Setenv("PASSED_THROUGH", "expanded-value")
	r := startHost(t, `
auth: {provider: none}
plugins:
  test:
    path: "{{bin}}/testplugin"
    env: {GREETING: "hello ${PASSED_THROUGH}"}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "env"})
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Env map[string]string }
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	if out.Env["GREETING"] != "hello expanded-value" {
		t.Errorf("GREETING = %q", out.Env["GREETING"])
	}
	if out.Env[host.DataDirEnv] == "" {
		t.Errorf("%s not set", host.DataDirEnv)
	}
	for k, v := range out.Env {
		if strings.Contains(v, "host-secret-value") || k == "MCPHOST_TEST_SECRET" || k == "PASSED_THROUGH" || k == "HOME" || k == "PATH" {
			t.Errorf("plugin sees host variable %s", k)
		}
	}
}

// Progress and logs reach the client on both eras: the legacy session's level
// comes from logging/setLevel, the 2026-07-28 request's from its _meta.
func TestProgressLogsAndContentKinds(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	for _, version := range []string{modern, legacy} {
		t.Run(version, func(t *testing.T) { progressLogsAndContent(t, r, version) })
	}
}

func progressLogsAndContent(t *testing.T, r *running, version string) {
	var mu sync.Mutex
	var progress []string
	var logs []string
	cs := connectVersion(t, r, nil, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			mu.Lock()
			defer mu.Unlock()
			progress = append(progress, req.Params.Message)
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			mu.Lock()
			defer mu.Unlock()
			b, _ := json.Marshal(req.Params.Data)
			logs = append(logs, string(req.Params.Level)+" "+string(b))
		},
	}, version)
	ctx := context.Background()
	params := &mcp.CallToolParams{Name: "t.progress"}
	if version == legacy {
		if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
			t.Fatal(err)
		}
	} else {
		params.Meta = mcp.Meta{"io.modelcontextprotocol/logLevel": "debug"}
	}
	params.SetProgressToken("tok-1")
	res, err := cs.CallTool(ctx, params)
	if err != nil || res.IsError {
		t.Fatalf("progress: %v %v", err, res)
	}
	eventually(t, 5*time.Second, "progress and log notifications", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(progress) == 3 && len(logs) == 1
	})
	mu.Lock()
	if progress[2] != "step 3" || logs[0] != `info {"msg":"halfway"}` {
		t.Errorf("progress %v logs %v", progress, logs)
	}
	mu.Unlock()

	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "t.content"})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			kinds = append(kinds, "text")
		case *mcp.ImageContent:
			kinds = append(kinds, "image:"+c.MIMEType+":"+string(c.Data[1:]))
		case *mcp.AudioContent:
			kinds = append(kinds, "audio:"+c.MIMEType)
		case *mcp.EmbeddedResource:
			kinds = append(kinds, "resource:"+c.Resource.URI+":"+c.Resource.Text)
		case *mcp.ResourceLink:
			kinds = append(kinds, "link:"+c.URI)
		}
	}
	want := "text,image:image/png:PNG,audio:audio/wav,resource:test://doc:embedded,link:test://link,text"
	if strings.Join(kinds, ",") != want {
		t.Errorf("content kinds = %v, want %s", kinds, want)
	}
	if sc, _ := json.Marshal(res.StructuredContent); string(sc) != `{"n":1}` {
		t.Errorf("structured = %s", sc)
	}
}

func TestStatelessMode(t *testing.T) {
	r := startHost(t, `
server: {stateless: true}
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	if _, isErr := callText(t, cs, "whoami", nil); isErr {
		t.Fatal("whoami failed in stateless mode")
	}
}

func TestHealthAndReady(t *testing.T) {
	// The test plugin is required, so its being down makes the replica unready.
	r := startHost(t, strings.Replace(basicYAML, "    prefix: \"t.\"", "    required: true\n    prefix: \"t.\"", 1), host.ServerOptions{})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(r.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := readAll(resp)
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d %s", path, resp.StatusCode, body)
		}
		if path == "/readyz" && (!strings.Contains(body, `"name":"test"`) || !strings.Contains(body, `"state":"running"`) || !strings.Contains(body, `"sha256":"`)) {
			t.Errorf("/readyz body %s", body)
		}
	}
	// Kill the plugin behind the host's back: /readyz says so until it is back.
	pid := pluginStatus(t, r.host, "test").PID
	_ = syscall.Kill(pid, syscall.SIGKILL)
	eventually(t, 5*time.Second, "readyz 503", func() bool {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	eventually(t, 15*time.Second, "readyz 200 again", func() bool {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestUnknownToolIsProtocolError(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	_, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "nope"})
	if err == nil || !strings.Contains(err.Error(), `unknown tool "nope"`) {
		t.Fatalf("unknown tool err = %v", err)
	}
}
