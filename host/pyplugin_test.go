package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/host"
)

// The Python example plugin (plugins/notes-py, on sdk/python) run by the host
// as a real python3 process, the way the shipped mcphost.yaml runs it: the
// script is the plugin's path and its #! line names /usr/bin/python3.

// pyInterpreter is the interpreter the example's #! line names.
const pyInterpreter = "/usr/bin/python3"

// requirePython fails (never skips) when the Debian packages the SDK needs are
// missing: `make test` installs them first (scripts/test-deps.sh).
func requirePython(t testing.TB) {
	t.Helper()
	out, err := exec.Command(pyInterpreter, "-c", "import grpc, google.protobuf, cryptography").CombinedOutput()
	if err != nil {
		t.Fatalf("the Python SDK needs %s with the Debian packages python3-grpcio, python3-protobuf and "+
			"python3-cryptography (apt-get install -y python3-grpcio python3-protobuf python3-cryptography; "+
			"make test installs them): %v\n%s", pyInterpreter, err, out)
	}
}

// pyNotes writes an executable plugin script into a temp dir: the notes-py
// example, plus the test-only tools "version" (answers version) and "boom"
// (raises), which the shipped plugin does not have. It returns the script's path.
func pyNotes(t testing.TB, dir, version string) string {
	t.Helper()
	requirePython(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "notes-py")
	writePyNotes(t, path, repo, version)
	return path
}

// writePyNotes installs the fixture at path the way a deploy does: a temp file
// beside it, renamed over it.
func writePyNotes(t testing.TB, path, repo, version string) {
	t.Helper()
	src := fmt.Sprintf(`#!%s
import sys
sys.path[:0] = [%q, %q]
import notes
from mcphost_sdk import ToolError

notes.plugin.version = %q

@notes.plugin.tool
def version(req) -> str:
    """The build of this script (test only)."""
    return notes.plugin.version

@notes.plugin.tool
def boom(req, kind: str = "runtime"):
    """Fails on purpose (test only)."""
    if kind == "exit":
        sys.exit(3)
    raise RuntimeError("secret internals")

@notes.plugin.tool
def hold(req, path: str) -> str:
    """Says it started, then answers version once path exists (test only)."""
    import os, time
    req.progress(0, 1, "holding")
    while not os.path.exists(path):
        time.sleep(0.02)
    return notes.plugin.version

@notes.plugin.tool
def ask(req) -> str:
    """Asks the user, then the model (test only)."""
    if not req.client.supports("elicitation"):
        return "no elicitation"
    action, content = req.client.elicit("Title of the note?", {"type": "object", "properties": {"title": {"type": "string"}}})
    if action != "accept":
        return action
    answer = req.client.sample("Summarize: " + content["title"], max_tokens=50)
    return f"{content['title']} / {answer} / {answer.model}"

if __name__ == "__main__":
    notes.plugin.serve()
`, pyInterpreter, filepath.Join(repo, "sdk", "python"), filepath.Join(repo, "plugins", "notes-py"), version)
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// pySandbox is the sandbox_read a notes-py fixture needs: the SDK and the
// example it imports, which live in the repository.
func pySandbox() string {
	repo, _ := filepath.Abs("..")
	return fmt.Sprintf("sandbox_read: [%q, %q]", filepath.Join(repo, "sdk", "python"), filepath.Join(repo, "plugins", "notes-py"))
}

func pyYAML(path string) string {
	return fmt.Sprintf(`
auth: {provider: none}
data_dir: "{{dir}}/data"
hot_reload: {debounce: 50ms}
plugins:
  notes: {path: %q, max_concurrency: 64, drain_timeout: 10s, start_timeout: 10s, %s}
`, path, pySandbox())
}

// pyProcesses lists the pids of live processes whose command line names path.
func pyProcesses(path string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), path) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err == nil && !strings.Contains(string(stat), ") Z ") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestPyPluginNotes(t *testing.T) {
	script := pyNotes(t, t.TempDir(), "A")
	r := startHost(t, pyYAML(script), host.ServerOptions{Gate: headerGate{}})
	alice := connect(t, r, userClient("alice", "org_acme", "member"), nil)
	carol := connect(t, r, userClient("carol", "org_acme", "admin"), nil)
	bob := connect(t, r, userClient("bob", "org_globex", "admin"), nil)
	nobody := connect(t, r, userClient("dave", "", ""), nil)

	if names := toolNames(t, alice); names != ",add-note,ask,boom,delete-note,hold,import-notes,list-notes,version," {
		t.Fatalf("tools = %s", names)
	}

	text, sc, isErr := callFull(t, alice, "add-note", map[string]any{"title": " standup ", "body": "at ten", "priority": "high"})
	if isErr || sc["title"] != "standup" || sc["priority"] != "high" || text == "" {
		t.Fatalf("add-note = %q %v (isError %v)", text, sc, isErr)
	}
	id := sc["id"]
	if _, _, isErr := callFull(t, bob, "add-note", map[string]any{"title": "globex plans"}); isErr {
		t.Fatal("bob's add-note failed")
	}

	// The caller's user and organization arrive: notes are per tenant, with their author.
	_, sc, _ = callFull(t, carol, "list-notes", nil)
	notes, _ := sc["notes"].([]any)
	if len(notes) != 1 || notes[0].(map[string]any)["author"] != "alice" || notes[0].(map[string]any)["title"] != "standup" {
		t.Fatalf("org_acme's notes = %v", sc)
	}
	_, sc, _ = callFull(t, bob, "list-notes", map[string]any{"query": "plans"})
	if notes, _ := sc["notes"].([]any); len(notes) != 1 || notes[0].(map[string]any)["author"] != "bob" {
		t.Fatalf("org_globex's notes = %v", sc)
	}
	if text, _, isErr := callFull(t, nobody, "list-notes", nil); !isErr || !strings.Contains(text, "per organization") {
		t.Errorf("list-notes without an organization = %q (isError %v), want a tool error", text, isErr)
	}

	// The role is enforced by the plugin: a member may not delete, an admin
	// of another tenant finds nothing, the tenant's admin deletes.
	if text, _, isErr := callFull(t, alice, "delete-note", map[string]any{"id": id}); !isErr || !strings.Contains(text, "only an admin") {
		t.Errorf("member delete-note = %q (isError %v), want refused", text, isErr)
	}
	if text, _, isErr := callFull(t, bob, "delete-note", map[string]any{"id": id}); !isErr || !strings.Contains(text, "no note") {
		t.Errorf("other tenant's delete-note = %q (isError %v), want not found", text, isErr)
	}
	if text, _, isErr := callFull(t, carol, "delete-note", map[string]any{"id": id}); isErr || !strings.Contains(text, "deleted") {
		t.Errorf("admin delete-note = %q (isError %v)", text, isErr)
	}

	// Bad arguments are tool errors naming the argument.
	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{}, "title is required"},
		{map[string]any{"title": 5}, "title must be a string"},
		{map[string]any{"title": "x", "priority": "urgent"}, "priority must be one of"},
		{map[string]any{"title": "x", "colour": "red"}, "colour is not a known argument"},
	} {
		if text, _, isErr := callFull(t, alice, "add-note", c.args); !isErr || !strings.Contains(text, c.want) {
			t.Errorf("add-note %v = %q (isError %v), want a tool error with %q", c.args, text, isErr, c.want)
		}
	}
}

func TestPyPluginCallerFields(t *testing.T) {
	script := pyNotes(t, t.TempDir(), "A")
	dir := filepath.Dir(script)
	// A tool that answers the whole caller, beside the example's tools.
	extra := strings.Replace(mustRead(t, script), "if __name__ ==", `import dataclasses
@notes.plugin.tool
def caller(req) -> dict:
    c = dataclasses.asdict(req.caller)
    c["checks"] = [req.caller.has_role("admin"), req.caller.has_role("member", "x"),
                   req.caller.has_scope("email"), req.caller.has_permission("notes:write")]
    c["session"], c["call_id"] = req.session_id, req.call_id
    return c

if __name__ ==`, 1)
	if err := os.WriteFile(filepath.Join(dir, "caller-py"), []byte(extra), 0o755); err != nil {
		t.Fatal(err)
	}
	r := startHost(t, pyYAML(filepath.Join(dir, "caller-py")), host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("user_7", "org_z", "member,viewer"), nil)
	_, sc, isErr := callFull(t, cs, "caller", nil)
	if isErr {
		t.Fatalf("caller: %v", sc)
	}
	got, _ := json.Marshal(sc)
	for _, want := range []string{`"user_id":"user_7"`, `"email":"user_7@example.com"`, `"organization_id":"org_z"`,
		`"roles":["member","viewer"]`, `"scopes":["openid","email"]`, `"session_id":"sid-user_7"`,
		`"claims":{"custom":"x","sub":"user_7"}`, `"checks":[false,true,true,false]`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("caller seen by the Python plugin = %s; lacks %s", got, want)
		}
	}
	if strings.Contains(string(got), "opaque-test-token") {
		t.Errorf("the bearer token reached the plugin: %s", got)
	}
}

func mustRead(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPyPluginProgressAndLogs(t *testing.T) {
	script := pyNotes(t, t.TempDir(), "A")
	r := startHost(t, pyYAML(script), host.ServerOptions{Gate: headerGate{}})
	for _, version := range []string{legacy, modern} {
		t.Run(version, func(t *testing.T) {
			var n notifications
			// An organization per era, so each lists exactly its own notes.
			cs := connectVersion(t, r, userClient("alice", "org_"+version, "member"), n.clientOptions(), version)
			ctx := context.Background()
			// Log messages are sent at the level the client asked for: per
			// session on legacy, per request in _meta on 2026-07-28.
			var meta mcp.Meta
			if version == legacy {
				if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
					t.Fatal(err)
				}
			} else {
				meta = mcp.Meta{"io.modelcontextprotocol/logLevel": "debug"}
			}
			var batch []map[string]any
			for i := range 250 {
				batch = append(batch, map[string]any{"title": fmt.Sprintf("n%d", i), "priority": "low"})
			}
			params := &mcp.CallToolParams{Name: "import-notes", Arguments: map[string]any{"notes": batch}, Meta: meta}
			params.SetProgressToken("tok-py")
			res, err := cs.CallTool(ctx, params)
			if err != nil || res.IsError {
				t.Fatalf("import-notes: %v %v", err, res)
			}
			eventually(t, 5*time.Second, "progress and log notifications", func() bool {
				n.mu.Lock()
				defer n.mu.Unlock()
				return len(n.progress) == 3 && len(n.logs) == 1
			})
			n.mu.Lock()
			defer n.mu.Unlock()
			if got := strings.Join(n.progress, "; "); got != "100/250 imported 100 of 250; 200/250 imported 200 of 250; 250/250 imported 250 of 250" {
				t.Errorf("progress = %s", got)
			}
			if n.logs[0] != `info {"count":250,"event":"notes imported"}` {
				t.Errorf("logs = %q", n.logs)
			}
			if _, sc, _ := callFull(t, cs, "list-notes", map[string]any{"limit": 200}); sc["count"] != 200.0 {
				t.Errorf("after the import list-notes counts %v", sc["count"])
			}
		})
	}
}

func TestPyPluginExceptionIsToolError(t *testing.T) {
	script := pyNotes(t, t.TempDir(), "A")
	r := startHost(t, pyYAML(script), host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("alice", "org_acme", "member"), nil)
	before := pluginStatus(t, r.host, "notes")
	for _, kind := range []string{"runtime", "exit", "runtime"} {
		text, _, isErr := callFull(t, cs, "boom", map[string]any{"kind": kind})
		if !isErr || text != "tool boom failed: internal error" {
			t.Errorf("boom %s = %q (isError %v), want a tool error", kind, text, isErr)
		}
		if strings.Contains(text, "secret internals") {
			t.Errorf("the exception's text reached the client: %q", text)
		}
	}
	// A ToolError is the handler's own message.
	if text, _, isErr := callFull(t, cs, "add-note", map[string]any{"title": "  "}); !isErr || text != "add-note: title must not be empty" {
		t.Errorf("add-note with an empty title = %q (isError %v)", text, isErr)
	}
	if text, _, isErr := callFull(t, cs, "version", nil); isErr || text != "A" {
		t.Errorf("version after the exceptions = %q (isError %v)", text, isErr)
	}
	if st := pluginStatus(t, r.host, "notes"); st.PID != before.PID || st.Restarts != 0 {
		t.Errorf("the exceptions restarted the plugin: before %+v, after %+v", before, st)
	}
}

// TestPyPluginHotSwapAndStop replaces the script under load (calls keep
// running on the old process until they finish), then stops the host and
// finds no python process of the plugin left.
func TestPyPluginHotSwapAndStop(t *testing.T) {
	dir := t.TempDir()
	script := pyNotes(t, dir, "A")
	repo, _ := filepath.Abs("..")
	r := startHost(t, pyYAML(script), host.ServerOptions{Gate: headerGate{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.host.WatchBinaries(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}

	// A call in flight on A when B arrives finishes on A.
	started := make(chan struct{}, 1)
	holder := connect(t, r, userClient("holder", "org_load", "member"), &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) {
			select {
			case started <- struct{}{}:
			default:
			}
		},
	})
	release := filepath.Join(dir, "release")
	held := make(chan string, 1)
	go func() {
		params := &mcp.CallToolParams{Name: "hold", Arguments: map[string]any{"path": release}}
		params.SetProgressToken("hold")
		res, err := holder.CallTool(context.Background(), params)
		if err != nil || res.IsError {
			held <- fmt.Sprintf("failed: %v %v", err, res)
			return
		}
		held <- resultText(res)
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the hold call never started")
	}

	l := startLoadOf(t, 6, func(i int) *mcp.ClientSession {
		return connect(t, r, userClient(fmt.Sprintf("u%d", i), "org_load", "member"), nil)
	}, func(n int) (string, map[string]any) {
		if n%2 == 0 {
			return "add-note", map[string]any{"title": fmt.Sprintf("n%d", n)}
		}
		return "list-notes", map[string]any{"limit": 5}
	}, succeeded)
	probe := connect(t, r, userClient("probe", "org_load", "member"), nil)
	answers := func(want string) {
		t.Helper()
		eventually(t, 30*time.Second, "version "+want, func() bool {
			text, _, isErr := callFull(t, probe, "version", nil)
			return !isErr && text == want
		})
	}
	answers("A")
	writePyNotes(t, script, repo, "B")
	answers("B")
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := <-held; got != "A" {
		t.Fatalf("the call in flight during the swap answered %q, want the old instance's A", got)
	}
	for i, v := range []string{"C", "D", "E", "F"} {
		before := l.calls.Load()
		writePyNotes(t, script, repo, v)
		answers(v)
		// Calls ran across every swap (the load overlapped it).
		eventually(t, 10*time.Second, fmt.Sprintf("calls after swap %d", i+1), func() bool { return l.calls.Load() > before+10 })
	}
	l.end()
	t.Logf("4 swaps under load (after one with a call held across it): %d calls, %d failed", l.calls.Load(), l.failures.Load())
	if l.failures.Load() != 0 {
		t.Fatalf("%d of %d calls failed during swaps; first: %v", l.failures.Load(), l.calls.Load(), l.firstFailure.Load())
	}
	st := pluginStatus(t, r.host, "notes")
	if st.Version != "F" || st.Restarts != 0 {
		t.Errorf("after the swaps status = %+v", st)
	}

	// Stopping the host stops the interpreter: Shutdown through go-plugin's
	// controller, and no python process of this script remains.
	// The replaced processes exit once their calls are done.
	eventually(t, 10*time.Second, "only the current python process left", func() bool {
		pids := pyProcesses(script)
		return len(pids) == 1 && pids[0] == fmt.Sprint(st.PID)
	})
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := r.srv.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "no python process of the plugin", func() bool { return len(pyProcesses(script)) == 0 })
}

// TestPyPluginShippedConfig runs notes-py exactly as the shipped mcphost.yaml
// configures it: the script itself as the path, found by its #! line, with
// the SDK found beside it in the repository and the environment the config gives.
func TestPyPluginShippedConfig(t *testing.T) {
	requirePython(t)
	shipped, err := config.Load(filepath.Join("..", "mcphost.yaml"), config.Options{SkipFileChecks: true,
		LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatalf("the shipped mcphost.yaml: %v", err)
	}
	p := shipped.Plugins["notes-py"]
	if p == nil {
		t.Fatal("the shipped mcphost.yaml has no notes-py plugin")
	}
	env, _ := json.Marshal(p.Env)
	args, _ := json.Marshal(p.Args)
	sandboxRead, _ := json.Marshal(p.SandboxRead)
	r := startHost(t, fmt.Sprintf(`
auth: {provider: none}
data_dir: "{{dir}}/data"
plugins:
  notes-py: {path: %q, args: %s, env: %s, sandbox_read: %s}
`, p.Path, args, env, sandboxRead), host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("alice", "org_acme", "member"), nil)
	if text, _, isErr := callFull(t, cs, "add-note", map[string]any{"title": "shipped"}); isErr {
		t.Fatalf("add-note: %s", text)
	}
	if _, sc, isErr := callFull(t, cs, "list-notes", nil); isErr || sc["count"] != 1.0 {
		t.Fatalf("list-notes = %v", sc)
	}
	if st := pluginStatus(t, r.host, "notes-py"); st.Version != "1.0.0" {
		t.Errorf("status = %+v", st)
	}
}

// TestPyPluginAsksTheClient: elicitation and sampling from a Python handler,
// as a request to the client on a legacy session and as input-required
// rounds (the handler runs again with the answers) on 2026-07-28.
func TestPyPluginAsksTheClient(t *testing.T) {
	script := pyNotes(t, t.TempDir(), "A")
	r := startHost(t, pyYAML(script), host.ServerOptions{Gate: headerGate{}})
	for _, version := range []string{legacy, modern} {
		var mu sync.Mutex
		var asked []string
		cs := connectVersion(t, r, userClient("alice", "org_acme", "member"), &mcp.ClientOptions{
			CreateMessageHandler: func(_ context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, "sample: "+req.Params.Messages[0].Content.(*mcp.TextContent).Text)
				return &mcp.CreateMessageResult{Role: "assistant", Model: "m-1", Content: &mcp.TextContent{Text: "short"}}, nil
			},
			ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, "elicit: "+req.Params.Message)
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"title": "groceries"}}, nil
			},
		}, version)
		if text, _, isErr := callFull(t, cs, "ask", nil); isErr || text != "groceries / short / m-1" {
			t.Errorf("%s: ask = %q (isError %v)", version, text, isErr)
		}
		mu.Lock()
		if got := strings.Join(asked, "; "); got != "elicit: Title of the note?; sample: Summarize: groceries" {
			t.Errorf("%s: the client was asked %q", version, got)
		}
		mu.Unlock()
	}
	plain := connectVersion(t, r, userClient("alice", "org_acme", "member"), nil, legacy)
	if text, _, isErr := callFull(t, plain, "ask", nil); isErr || text != "no elicitation" {
		t.Errorf("ask without client support = %q (isError %v)", text, isErr)
	}
}

// TestPyPluginDiesWithTheHost: the mcphost binary stopped (SIGTERM) or killed
// (SIGKILL, no chance to clean up) leaves no python process of the plugin.
func TestPyPluginDiesWithTheHost(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			script := pyNotes(t, dir, "A")
			cfgPath := writeConfigFile(t, fmt.Sprintf(`
server: {listen: "127.0.0.1:0"}
auth: {provider: none}
data_dir: %q
plugins:
  notes: {path: %q, start_timeout: 10s, %s}
`, filepath.Join(dir, "data"), script, pySandbox()))
			cmd, url := runBinary(t, cfgPath)
			plugins, err := readyPlugins(t, url)
			if err != nil || len(plugins) != 1 || !processAlive(plugins[0].PID) {
				t.Fatalf("plugins %+v, %v", plugins, err)
			}
			if pids := pyProcesses(script); len(pids) != 1 || pids[0] != fmt.Sprint(plugins[0].PID) {
				t.Fatalf("python processes of the plugin: %v, want [%d]", pids, plugins[0].PID)
			}
			_ = cmd.Process.Signal(sig)
			_ = cmd.Wait()
			eventually(t, 10*time.Second, "no python process of the plugin", func() bool { return len(pyProcesses(script)) == 0 })
		})
	}
}

// TestPyPluginInterpreterPath: the interpreter as the path and the script as
// an argument works too, with the SDK found through PYTHONPATH from env.
// (The host then watches the interpreter for hot swaps, not the script.)
func TestPyPluginInterpreterPath(t *testing.T) {
	requirePython(t)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// A copy outside the repository, so the SDK can only come from PYTHONPATH.
	script := filepath.Join(t.TempDir(), "notes.py")
	if err := os.WriteFile(script, []byte(mustRead(t, filepath.Join(repo, "plugins", "notes-py", "notes.py"))), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startHost(t, fmt.Sprintf(`
auth: {provider: none}
data_dir: "{{dir}}/data"
plugins:
  notes: {path: %q, args: [%q], env: {PYTHONPATH: %q}, sandbox_read: [%[3]q]}
`, pyInterpreter, script, filepath.Join(repo, "sdk", "python")), host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("alice", "org_acme", "member"), nil)
	if text, _, isErr := callFull(t, cs, "add-note", map[string]any{"title": "via args"}); isErr || !strings.Contains(text, "via args") {
		t.Fatalf("add-note = %q (isError %v)", text, isErr)
	}
}
