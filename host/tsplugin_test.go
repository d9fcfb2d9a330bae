package host_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// The TypeScript example plugin (plugins/tasks-ts, built by `make build-ts`
// into one executable bundle whose first line names node) run as a real
// process by the host, as the shipped mcphost.yaml runs it.

// tsBundle returns a private copy of the built tasks-ts bundle. A missing node
// or bundle fails the test, never skips it: `make test` builds the bundle first.
func tsBundle(t testing.TB) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("..", "bin", "plugins", "tasks-ts"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("the TypeScript example plugin is not built (%v): run `make build-ts` (make build and make test do)", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	node, ok := strings.CutPrefix(line, "#!")
	if !ok {
		t.Fatalf("%s does not start with a #! line naming node; rebuild it with make build-ts", src)
	}
	if st, err := os.Stat(node); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("%s was built for node at %s, which is not there now (%v): install Node.js 20+ and run make build-ts", src, node, err)
	}
	dst := filepath.Join(t.TempDir(), "tasks-ts")
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// tsYAML serves the tasks plugin at path, with the test's header gate supplying callers.
func tsYAML(path, extra string) string { return tsYAMLEnv(path, "{}", extra) }

// tsYAMLEnv is tsYAML with the plugin's env (a YAML map).
func tsYAMLEnv(path, env, extra string) string {
	return fmt.Sprintf(`
auth: {provider: none}
data_dir: "{{dir}}/data"
plugins:
  tasks: {path: %q, env: %s, max_concurrency: 64, drain_timeout: 10s, start_timeout: 10s}
%s`, path, env, extra)
}

// taskTitles lists the caller's open tasks by title.
func taskTitles(t testing.TB, cs *mcp.ClientSession) []string {
	t.Helper()
	text, sc, isErr := callFull(t, cs, "list-tasks", map[string]any{})
	if isErr {
		t.Fatalf("list-tasks failed: %s", text)
	}
	var titles []string
	tasks, _ := sc["tasks"].([]any)
	for _, tk := range tasks {
		titles = append(titles, fmt.Sprint(tk.(map[string]any)["title"]))
	}
	return titles
}

func TestTSPluginTasks(t *testing.T) {
	// Calls go over the call channel by default; MCPHOST_CALL_CHANNEL=off makes
	// the SDK serve each on a stream of its own, as it would for an older host.
	for _, mode := range []struct{ name, env string }{{"channel", "{}"}, {"stream-per-call", `{MCPHOST_CALL_CHANNEL: "off"}`}} {
		t.Run(mode.name, func(t *testing.T) { tsTasks(t, mode.env) })
	}
}

func tsTasks(t *testing.T, env string) {
	r := startHost(t, tsYAMLEnv(tsBundle(t), env, ""), host.ServerOptions{Gate: headerGate{}})
	alice := connect(t, r, userClient("alice", "org_acme", "member"), nil)
	carol := connect(t, r, userClient("carol", "org_acme", "admin"), nil)
	bob := connect(t, r, userClient("bob", "org_globex", "admin"), nil)
	nobody := connect(t, r, userClient("dave", "", ""), nil)

	if names := toolNames(t, alice); names != ",add-task,complete-task,delete-task,import-tasks,list-tasks," {
		t.Fatalf("tools = %s", names)
	}

	// The caller's email and organization arrive with the call.
	text, sc, isErr := callFull(t, alice, "add-task", map[string]any{"title": "  write the report ", "due": "2026-12-24"})
	if isErr {
		t.Fatalf("add-task: %s", text)
	}
	task, _ := sc["task"].(map[string]any)
	id, _ := task["id"].(string)
	if id == "" || task["title"] != "write the report" || task["createdBy"] != "alice@example.com" || task["due"] != "2026-12-24" {
		t.Fatalf("add-task structured content = %v", sc)
	}
	if _, sc, _ := callFull(t, carol, "list-tasks", nil); sc["organization"] != "org_acme" {
		t.Errorf("list-tasks organization = %v, want the caller's org_acme", sc["organization"])
	}
	// Tenant isolation: the same organization sees it, another does not.
	if got := taskTitles(t, carol); len(got) != 1 || got[0] != "write the report" {
		t.Errorf("carol (org_acme) sees %q", got)
	}
	if got := taskTitles(t, bob); len(got) != 0 {
		t.Errorf("bob (org_globex) sees %q, want nothing of org_acme", got)
	}
	if text, _, isErr := callFull(t, bob, "complete-task", map[string]any{"id": id}); !isErr || !strings.Contains(text, "no task") {
		t.Errorf("bob completing org_acme's task: %q (isError %v), want not found", text, isErr)
	}

	// A returned error is a tool error; so is a rejected input, naming the field.
	if text, _, isErr := callFull(t, nobody, "list-tasks", nil); !isErr || !strings.Contains(text, "sign in to an organization") {
		t.Errorf("list-tasks without an organization = %q (isError %v)", text, isErr)
	}
	if text, _, isErr := callFull(t, alice, "add-task", map[string]any{"title": "x", "due": "tomorrow"}); !isErr || !strings.Contains(text, "invalid arguments for tool add-task: due") {
		t.Errorf("add-task with a bad date = %q (isError %v)", text, isErr)
	}

	// The role check: a member may not delete, an admin of the organization may.
	if text, _, isErr := callFull(t, alice, "delete-task", map[string]any{"id": id}); !isErr || !strings.Contains(text, "needs the admin role") {
		t.Errorf("delete-task as a member = %q (isError %v), want refused", text, isErr)
	}

	// A handler that throws gives a tool error and the process lives on.
	pid := pluginStatus(t, r.host, "tasks").PID
	for range 3 {
		text, _, isErr := callFull(t, alice, "complete-task", map[string]any{"id": "nope"})
		if !isErr || !strings.Contains(text, `tool complete-task failed: no task "nope"`) {
			t.Fatalf("complete-task of an unknown id = %q (isError %v)", text, isErr)
		}
	}
	if text, sc, isErr := callFull(t, alice, "complete-task", map[string]any{"id": id}); isErr || sc["task"].(map[string]any)["done"] != true {
		t.Errorf("complete-task after the throws = %q %v", text, sc)
	}
	if st := pluginStatus(t, r.host, "tasks"); st.PID != pid || st.Restarts != 0 || st.State != host.StateRunning {
		t.Errorf("after thrown exceptions the plugin is %+v, want the same process (pid %d) running", st, pid)
	}
	if text, sc, isErr := callFull(t, carol, "delete-task", map[string]any{"id": id}); isErr || sc["deleted"].(map[string]any)["id"] != id {
		t.Errorf("delete-task as an admin = %q (isError %v)", text, isErr)
	}
}

func TestTSPluginProgressAndLogs(t *testing.T) {
	r := startHost(t, tsYAML(tsBundle(t), ""), host.ServerOptions{Gate: headerGate{}})
	for _, version := range []string{modern, legacy} {
		t.Run(version, func(t *testing.T) {
			var n notifications
			cs := connectVersion(t, r, userClient("alice", "org_acme", ""), n.clientOptions(), version)
			ctx := context.Background()
			params := &mcp.CallToolParams{Name: "import-tasks", Arguments: map[string]any{"titles": []string{"a", "b", "c"}}}
			params.SetProgressToken("tok-" + version)
			if res, err := cs.CallTool(ctx, params); err != nil || res.IsError {
				t.Fatalf("import-tasks: %v %v", err, res)
			}
			eventually(t, 5*time.Second, "three progress notifications", func() bool {
				n.mu.Lock()
				defer n.mu.Unlock()
				return len(n.progress) == 3
			})
			n.mu.Lock()
			if n.progress[2] != `3/3 added "c"` {
				t.Errorf("progress = %q", n.progress)
			}
			n.mu.Unlock()

			lp := &mcp.CallToolParams{Name: "add-task", Arguments: map[string]any{"title": "logged"}}
			if version == legacy {
				if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
					t.Fatal(err)
				}
			} else {
				lp.Meta = mcp.Meta{"io.modelcontextprotocol/logLevel": "debug"}
			}
			if res, err := cs.CallTool(ctx, lp); err != nil || res.IsError {
				t.Fatalf("add-task: %v %v", err, res)
			}
			eventually(t, 5*time.Second, "the task-added log message", func() bool {
				n.mu.Lock()
				defer n.mu.Unlock()
				return len(n.logs) == 1 && strings.HasPrefix(n.logs[0], `info {"event":"task added"`)
			})
		})
	}
}

// TestTSPluginHotSwapUnderLoad replaces the bundle while calls run: every call
// succeeds, the tasks (kept in the plugin's data directory) survive the swaps,
// and when the host stops no node process of the plugin is left.
func TestTSPluginHotSwapUnderLoad(t *testing.T) {
	plug := tsBundle(t)
	r := startHost(t, tsYAML(plug, "hot_reload: {debounce: 50ms}"), host.ServerOptions{Gate: headerGate{}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := r.host.WatchBinaries(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	original, err := os.ReadFile(plug)
	if err != nil {
		t.Fatal(err)
	}
	probe := connect(t, r, userClient("alice", "org_acme", ""), nil)
	if text, _, isErr := callFull(t, probe, "add-task", map[string]any{"title": "survive the swaps"}); isErr {
		t.Fatal(text)
	}

	l := startLoadOf(t, 6, func(i int) *mcp.ClientSession {
		return connect(t, r, userClient(fmt.Sprintf("load%d", i), fmt.Sprintf("org_load%d", i), ""), nil)
	}, func(n int) (string, map[string]any) {
		if n%10 == 0 { // bounded: MAX_TASKS_PER_ORG is far away
			return "add-task", map[string]any{"title": fmt.Sprintf("load %d", n)}
		}
		return "list-tasks", map[string]any{"status": "all"}
	}, succeeded)

	pids := map[int]bool{}
	const swaps = 8
	for i := range swaps {
		before := pluginStatus(t, r.host, "tasks")
		pids[before.PID] = true
		// Each version differs in a trailing comment, as a rebuilt bundle differs.
		variant := append(append([]byte{}, original...), fmt.Sprintf("\n// build %d\n", i)...)
		tmp := filepath.Join(t.TempDir(), "tasks-ts")
		if err := os.WriteFile(tmp, variant, 0o755); err != nil {
			t.Fatal(err)
		}
		install(t, tmp, plug)
		eventually(t, 30*time.Second, fmt.Sprintf("swap %d to a new process", i+1), func() bool {
			st := pluginStatus(t, r.host, "tasks")
			return st.PID != before.PID && st.State == host.StateRunning
		})
	}
	l.end()
	last := pluginStatus(t, r.host, "tasks")
	pids[last.PID] = true
	t.Logf("%d swaps under load: %d calls, %d failed, %d processes", swaps, l.calls.Load(), l.failures.Load(), len(pids))
	if l.failures.Load() != 0 {
		t.Fatalf("%d of %d calls failed during swaps; first: %v", l.failures.Load(), l.calls.Load(), l.firstFailure.Load())
	}
	if l.calls.Load() < 100 {
		t.Fatalf("only %d calls ran during the swaps; the load did not overlap them", l.calls.Load())
	}
	if got := taskTitles(t, probe); len(got) != 1 || got[0] != "survive the swaps" {
		t.Errorf("after the swaps alice's tasks are %q", got)
	}
	if last.Restarts != 0 {
		t.Errorf("after the swaps status = %+v, want no restarts", last)
	}

	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := r.srv.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for pid := range pids {
		if processAlive(pid) {
			t.Errorf("plugin process %d outlived the host's shutdown", pid)
		}
	}
	if left := processesRunning(t, plug); len(left) > 0 {
		t.Errorf("processes still running %s after shutdown: %v", plug, left)
	}
}

// processesRunning lists the live processes whose command line names path
// (a node running the bundle shows it as its script argument).
func processesRunning(t testing.TB, path string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !processAlive(pid) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte(path)) {
			out = append(out, fmt.Sprintf("%d: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// delete-task asks the user to confirm through the client: a server-to-client
// request on a legacy session, an input-required round trip on 2026-07-28 (the
// SDK answers the retried call from its input_responses).
func TestTSPluginElicitsBeforeDelete(t *testing.T) {
	r := startHost(t, tsYAML(tsBundle(t), ""), host.ServerOptions{Gate: headerGate{}})
	for _, version := range []string{modern, legacy} {
		t.Run(version, func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			confirm := false
			cs := connectVersion(t, r, userClient("carol", "org_elicit_"+version, "admin"), &mcp.ClientOptions{
				ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
					mu.Lock()
					defer mu.Unlock()
					asked = append(asked, req.Params.Message)
					return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": confirm}}, nil
				},
			}, version)
			_, sc, isErr := callFull(t, cs, "add-task", map[string]any{"title": "old plan"})
			if isErr {
				t.Fatalf("add-task: %v", sc)
			}
			id := sc["task"].(map[string]any)["id"]
			if text, _, isErr := callFull(t, cs, "delete-task", map[string]any{"id": id}); isErr || text != `kept the task "old plan"` {
				t.Fatalf("delete-task declined = %q (isError %v)", text, isErr)
			}
			if got := taskTitles(t, cs); len(got) != 1 {
				t.Fatalf("after declining, tasks = %q", got)
			}
			mu.Lock()
			confirm = true
			mu.Unlock()
			if text, sc, isErr := callFull(t, cs, "delete-task", map[string]any{"id": id}); isErr || sc["deleted"] == nil {
				t.Fatalf("delete-task confirmed = %q (isError %v)", text, isErr)
			}
			if got := taskTitles(t, cs); len(got) != 0 {
				t.Fatalf("after confirming, tasks = %q", got)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != 2 || asked[0] != `Delete the task "old plan"?` {
				t.Errorf("the client was asked %q", asked)
			}
		})
	}
}

// The tasks resource template and the plan-my-day prompt, scoped to the caller's organization.
func TestTSPluginResourceAndPrompt(t *testing.T) {
	r := startHost(t, tsYAML(tsBundle(t), ""), host.ServerOptions{Gate: headerGate{}})
	alice := connect(t, r, userClient("alice", "org_acme", ""), nil)
	bob := connect(t, r, userClient("bob", "org_globex", ""), nil)
	ctx := context.Background()
	_, sc, isErr := callFull(t, alice, "add-task", map[string]any{"title": "call the bank", "due": "2026-12-10", "notes": "about the loan"})
	if isErr {
		t.Fatalf("add-task: %v", sc)
	}
	id := sc["task"].(map[string]any)["id"].(string)

	templates, err := alice.ListResourceTemplates(ctx, nil)
	if err != nil || len(templates.ResourceTemplates) != 1 || templates.ResourceTemplates[0].URITemplate != "tasks://{id}" {
		t.Fatalf("resource templates = %+v, %v", templates, err)
	}
	res, err := alice.ReadResource(ctx, &mcp.ReadResourceParams{URI: "tasks://" + id})
	if err != nil {
		t.Fatalf("read tasks://%s: %v", id, err)
	}
	if c := res.Contents[0]; c.MIMEType != "text/markdown" || !strings.HasPrefix(c.Text, "# call the bank\n") || !strings.Contains(c.Text, "about the loan") {
		t.Errorf("tasks://%s = %+v", id, c)
	}
	if _, err := bob.ReadResource(ctx, &mcp.ReadResourceParams{URI: "tasks://" + id}); err == nil {
		t.Errorf("bob (org_globex) read org_acme's task %s", id)
	}

	// Completion suggests the caller's organization's task ids only.
	for _, c := range []struct {
		cs   *mcp.ClientSession
		want []string
	}{{alice, []string{id}}, {bob, nil}} {
		res, err := c.cs.Complete(ctx, &mcp.CompleteParams{Ref: &mcp.CompleteReference{Type: "ref/resource", URI: "tasks://{id}"}, Argument: mcp.CompleteParamsArgument{Name: "id", Value: id[:2]}})
		if err != nil {
			t.Fatalf("complete tasks://{id}: %v", err)
		}
		if fmt.Sprint(res.Completion.Values) != fmt.Sprint(c.want) {
			t.Errorf("completions of %s... = %v, want %v", id[:2], res.Completion.Values, c.want)
		}
	}

	// Completing the task tells the subscribers of its URI.
	updated := make(chan string, 4)
	watcher := connect(t, r, userClient("carol", "org_acme", ""), &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) { updated <- req.Params.URI },
	})
	if err := watcher.Subscribe(ctx, &mcp.SubscribeParams{URI: "tasks://" + id}); err != nil {
		t.Fatalf("subscribe tasks://%s: %v", id, err)
	}
	if text, _, isErr := callFull(t, alice, "complete-task", map[string]any{"id": id}); isErr {
		t.Fatal(text)
	}
	select {
	case uri := <-updated:
		if uri != "tasks://"+id {
			t.Errorf("updated %s, want tasks://%s", uri, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notifications/resources/updated after complete-task")
	}
	if _, _, isErr := callFull(t, alice, "add-task", map[string]any{"title": "call the bank", "due": "2026-12-10"}); isErr {
		t.Fatal("add-task failed")
	}
	_, sc, _ = callFull(t, alice, "list-tasks", nil)
	id = sc["tasks"].([]any)[0].(map[string]any)["id"].(string)

	p, err := alice.GetPrompt(ctx, &mcp.GetPromptParams{Name: "plan-my-day", Arguments: map[string]string{"focus": "money"}})
	if err != nil {
		t.Fatalf("plan-my-day: %v", err)
	}
	want := "Plan my day around these open tasks, focusing on money:\n- call the bank (due 2026-12-10) [" + id + "]"
	if len(p.Messages) != 1 || p.Messages[0].Role != "user" || p.Messages[0].Content.(*mcp.TextContent).Text != want {
		t.Errorf("plan-my-day = %+v, want %q", p.Messages, want)
	}
	if p, err := bob.GetPrompt(ctx, &mcp.GetPromptParams{Name: "plan-my-day"}); err != nil || !strings.Contains(p.Messages[0].Content.(*mcp.TextContent).Text, "(no open tasks)") {
		t.Errorf("bob's plan-my-day = %+v, %v", p, err)
	}
}
