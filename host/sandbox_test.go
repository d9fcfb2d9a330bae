package host_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/sys/unix"

	"github.com/mcphost/mcphost/auth/devissuer"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/sandbox"
)

// needLandlock skips a test only where the kernel has no Landlock.
func needLandlock(t *testing.T) {
	t.Helper()
	if _, err := sandbox.ABI(); err != nil {
		t.Skipf("this kernel has no Landlock (%v): the sandbox cannot be enforced here", err)
	}
}

// fsResult is what the testplugin's fs tool reports.
type fsResult struct {
	OK      bool   `json:"ok"`
	Error   string `json:"error"`
	Content string `json:"content"`
	UID     int    `json:"uid"`
}

func fsCall(t *testing.T, cs *mcp.ClientSession, tool, op, path, data string) fsResult {
	t.Helper()
	text, sc, isErr := callFull(t, cs, tool, map[string]any{"op": op, "path": path, "data": data})
	if isErr {
		t.Fatalf("%s %s %s: tool error %s", tool, op, path, text)
	}
	raw, _ := json.Marshal(sc)
	var r fsResult
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// noNewPrivs reports whether a process runs with no_new_privs, which the
// trampoline sets right before it confines the plugin.
func noNewPrivs(t *testing.T, pid int) bool {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("plugin pid %d: %v", pid, err)
	}
	return strings.Contains(string(status), "NoNewPrivs:\t1")
}

// twoPlugins serves plugins a and b (both the testplugin); a's sandbox is
// sandboxA ("on" or "off").
func twoPlugins(sandboxA string) string {
	return fmt.Sprintf(`
auth: {provider: none}
data_dir: "{{dir}}/data"
plugins:
  a: {path: "{{bin}}/testplugin", prefix: "a.", sandbox: %q}
  b: {path: "{{bin}}/testplugin", prefix: "b."}
`, sandboxA)
}

// TestSandboxKeepsPluginsApart: a sandboxed plugin cannot read another
// plugin's data, the dev issuer's signing key, or the host's environment;
// with sandbox: off the same plugin reads all three.
func TestSandboxKeepsPluginsApart(t *testing.T) {
	needLandlock(t)
	for _, tc := range []struct {
		sandbox  string
		readable bool
	}{{"on", false}, {"off", true}} {
		t.Run("sandbox "+tc.sandbox, func(t *testing.T) {
			r := startHost(t, twoPlugins(tc.sandbox), host.ServerOptions{})
			cs := connect(t, r, nil, nil)
			dataA := filepath.Join(r.cfg.DataDir, "plugins", "a")
			dataB := filepath.Join(r.cfg.DataDir, "plugins", "b")

			// Each plugin writes and reads its own data directory.
			for _, w := range []struct{ tool, path string }{{"a.fs", dataA}, {"b.fs", dataB}} {
				p := filepath.Join(w.path, "tenant.db")
				if res := fsCall(t, cs, w.tool, "write", p, "rows of "+w.tool); !res.OK {
					t.Fatalf("%s cannot write its own data: %s", w.tool, res.Error)
				}
				if res := fsCall(t, cs, w.tool, "read", p, ""); !res.OK || res.Content != "rows of "+w.tool {
					t.Fatalf("%s reads its own data: %+v", w.tool, res)
				}
			}
			// The real signing key of mcphost dev, where it keeps it.
			if _, err := devissuer.Open(r.cfg.DataDir); err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(r.cfg.DataDir, "dev-issuer", "signing-key.pem")
			if _, err := os.Stat(key); err != nil {
				t.Fatalf("the dev issuer keeps its key elsewhere: %v", err)
			}
			for _, target := range []struct{ path, want string }{
				{filepath.Join(dataB, "tenant.db"), "rows of b.fs"},
				{key, "PRIVATE KEY"},
				{fmt.Sprintf("/proc/%d/environ", os.Getpid()), "PATH="}, // the host's (this test's) environment
			} {
				res := fsCall(t, cs, "a.fs", "read", target.path, "")
				got := res.OK && strings.Contains(res.Content, target.want)
				if got != tc.readable {
					t.Errorf("plugin a reading %s: %+v, want readable=%v", target.path, res, tc.readable)
				}
				if !tc.readable && !strings.Contains(res.Error, "permission denied") {
					t.Errorf("plugin a reading %s: %q, want permission denied", target.path, res.Error)
				}
			}
			if got, want := noNewPrivs(t, pluginStatus(t, r.host, "a").PID), tc.sandbox == "on"; got != want {
				t.Errorf("plugin a no_new_privs = %v, want %v", got, want)
			}
			// System paths stay readable.
			if res := fsCall(t, cs, "a.fs", "read", "/etc/hosts", ""); !res.OK {
				t.Errorf("reading /etc/hosts: %s", res.Error)
			}
		})
	}
}

// TestHostIsNonDumpable: once started, the host's /proc entries are closed
// to processes of its user (sandbox package tests show what that stops).
func TestHostIsNonDumpable(t *testing.T) {
	startHost(t, twoPlugins("off"), host.ServerOptions{})
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil || d != 0 {
		t.Fatalf("PR_GET_DUMPABLE = %d, %v; want 0", d, err)
	}
}

// The trampoline's variable never reaches a sandboxed plugin: its environment
// is its config's env, its data directory and go-plugin's handshake.
func TestSandboxedPluginEnvironment(t *testing.T) {
	needLandlock(t)
	r := startHost(t, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", env: {GREETING: hi}}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	_, sc, _ := callFull(t, cs, "env", nil)
	env, _ := sc["env"].(map[string]any)
	if env["GREETING"] != "hi" || env[host.DataDirEnv] == nil {
		t.Fatalf("env = %v", env)
	}
	for k := range env {
		if k != "GREETING" && k != host.DataDirEnv && k != "MCPHOST_PLUGIN" && !strings.HasPrefix(k, "PLUGIN_") { // the last two: go-plugin's handshake
			t.Errorf("the plugin sees %s", k)
		}
	}
	if !noNewPrivs(t, pluginStatus(t, r.host, "test").PID) {
		t.Error("the plugin is not sandboxed")
	}
}

// TestShippedPluginsWorkSandboxed: every shipped plugin starts and answers
// inside the sandbox (the Python and TypeScript ones through their interpreters).
func TestShippedPluginsWorkSandboxed(t *testing.T) {
	needLandlock(t)
	requirePython(t)
	workos := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/user_management/users/alice" || r.Header.Get("Authorization") != "Bearer sk_test_sandbox" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"id":"alice","email":"alice@example.com"}`)
	}))
	defer workos.Close()
	dir := t.TempDir()
	r := startHost(t, fmt.Sprintf(`
auth: {provider: none}
data_dir: "{{dir}}/data"
plugins:
  whoami: {path: "{{bin}}/whoami"}
  admin: {path: "{{bin}}/admin"}
  documents: {path: "{{bin}}/documents"}
  workosuser: {path: "{{bin}}/workosuser", env: {WORKOS_API_KEY: sk_test_sandbox, WORKOS_API_BASE_URL: %q}}
  notes: {path: %q, %s}
  tasks: {path: %q}
`, workos.URL, pyNotes(t, dir, "1"), pySandbox(), tsBundle(t)), host.ServerOptions{Gate: headerGate{}})
	cs := connect(t, r, userClient("alice", "org_acme", "admin"), nil)
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"whoami", nil, "alice"},
		{"admin-action", map[string]any{"action": "ping"}, `"ok": true`},
		{"create-document", map[string]any{"title": "sandboxed", "body": "b"}, "sandboxed"},
		{"get-documents", map[string]any{"query": "sandboxed"}, "sandboxed"},
		{"get-workos-user", nil, "alice@example.com"},
		{"add-note", map[string]any{"title": "sandboxed note"}, "sandboxed note"},
		{"list-notes", nil, "sandboxed note"},
		{"add-task", map[string]any{"title": "sandboxed task"}, "sandboxed task"},
		{"list-tasks", nil, "sandboxed task"},
	} {
		text, isErr := callText(t, cs, c.tool, c.args)
		if isErr || !strings.Contains(text, c.want) {
			t.Errorf("%s: %q (error %v), want it to contain %q", c.tool, text, isErr, c.want)
		}
	}
	for _, st := range r.host.Status() {
		if !noNewPrivs(t, st.PID) {
			t.Errorf("plugin %s (pid %d) is not sandboxed", st.Name, st.PID)
		}
	}
	// The SQLite files are where the sandbox lets them be: the data directories.
	for _, name := range []string{"documents", "notes", "tasks"} {
		entries, _ := os.ReadDir(filepath.Join(r.cfg.DataDir, "plugins", name))
		if len(entries) == 0 {
			t.Errorf("plugin %s kept nothing in its data directory", name)
		}
	}
}

// TestSandboxPathGoneAtStart: a sandbox_read path that disappears after the
// config was checked makes the start fail with the trampoline's reason.
func TestSandboxPathGoneAtStart(t *testing.T) {
	needLandlock(t)
	extra := filepath.Join(t.TempDir(), "lib")
	if err := os.Mkdir(extra, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, fmt.Sprintf(`
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", required: true, sandbox_read: [%q]}`, extra))
	if err := os.Remove(extra); err != nil {
		t.Fatal(err)
	}
	h := host.New(cfg, testLogger(t))
	err := h.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "mcphost sandbox: allow "+extra) {
		t.Fatalf("start = %v, want the sandbox's reason", err)
	}
}

// TestSandboxReload: turning a plugin's sandbox off on reload restarts it
// unconfined; turning it on again confines the new instance.
func TestSandboxReload(t *testing.T) {
	needLandlock(t)
	r := startHost(t, twoPlugins("on"), host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	secret := filepath.Join(r.cfg.DataDir, "plugins", "b", "tenant.db")
	if res := fsCall(t, cs, "b.fs", "write", secret, "b's rows"); !res.OK {
		t.Fatal(res.Error)
	}
	for _, step := range []struct {
		sandbox  string
		readable bool
	}{{"off", true}, {"on", false}} {
		// The same data_dir; only the sandbox key differs.
		next := loadConfig(t, strings.ReplaceAll(twoPlugins(step.sandbox), "{{dir}}/data", r.cfg.DataDir))
		if err := r.host.Reload(context.Background(), next); err != nil {
			t.Fatal(err)
		}
		res := fsCall(t, cs, "a.fs", "read", secret, "")
		if res.OK != step.readable {
			t.Errorf("after reload with sandbox %s: read b's data = %+v, want readable=%v", step.sandbox, res, step.readable)
		}
	}
}

// TestPluginRunsAsUser: plugins.<name>.user runs the plugin as that user,
// owning its data directory, still sandboxed.
func TestPluginRunsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("plugins.<name>.user needs the host to run as root")
	}
	base := t.TempDir()
	// t.TempDir's are 0700, and so is the directory of the test's binaries.
	for _, d := range []string{base, filepath.Dir(base), binDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := startHost(t, fmt.Sprintf(`
auth: {provider: none}
data_dir: %q
plugins:
  a: {path: "{{bin}}/testplugin", prefix: "a.", user: nobody}
  b: {path: "{{bin}}/testplugin", prefix: "b.", user: nobody, sandbox: "off"}
`, filepath.Join(base, "data")), host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	for _, name := range []string{"a", "b"} {
		data := filepath.Join(r.cfg.DataDir, "plugins", name)
		res := fsCall(t, cs, name+".fs", "write", filepath.Join(data, "f"), "x")
		if !res.OK || res.UID != 65534 {
			t.Errorf("plugin %s: %+v, want uid 65534 writing its data", name, res)
		}
		st, err := os.Stat(data)
		if err != nil {
			t.Fatal(err)
		}
		if uid := st.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
			t.Errorf("plugin %s data directory owned by %d", name, uid)
		}
	}
	// Even unsandboxed, the other user cannot read the host's files.
	if _, err := devissuer.Open(r.cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	res := fsCall(t, cs, "b.fs", "read", filepath.Join(r.cfg.DataDir, "dev-issuer", "signing-key.pem"), "")
	if res.OK || !strings.Contains(res.Error, "permission denied") {
		t.Errorf("plugin b as nobody read the signing key: %+v", res)
	}
	if _, err := sandbox.ABI(); err == nil && !noNewPrivs(t, pluginStatus(t, r.host, "a").PID) {
		t.Error("plugin a is not sandboxed")
	}
}

// TestPluginUserCannotReachDataDir: a data_dir the plugin's user cannot
// reach is a start error that names the key and the directory in the way.
func TestPluginUserCannotReachDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("plugins.<name>.user needs the host to run as root")
	}
	base := t.TempDir() // 0700: nobody cannot pass
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, fmt.Sprintf(`
auth: {provider: none}
data_dir: %q
plugins:
  a: {path: "{{bin}}/testplugin", user: "65534", required: true}
`, filepath.Join(base, "data")))
	err := host.New(cfg, testLogger(t)).Start(context.Background())
	want := "plugins.a.user: user 65534 (uid 65534) cannot reach its data directory " + filepath.Join(base, "data", "plugins", "a") + ": " + filepath.Dir(base) + " does not let it through"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start = %v\nwant it to contain %s", err, want)
	}
}

// TestPluginUserCannotReachBinary: so is a plugin binary in a directory the
// user cannot enter.
func TestPluginUserCannotReachBinary(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("plugins.<name>.user needs the host to run as root")
	}
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin("testplugin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(private, "testplugin"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, fmt.Sprintf(`
auth: {provider: none}
data_dir: %q
plugins:
  a: {path: %q, user: nobody, required: true}
`, filepath.Join(base, "data"), filepath.Join(private, "testplugin")))
	err = host.New(cfg, testLogger(t)).Start(context.Background())
	want := "plugins.a.user: user nobody (uid 65534) cannot reach the plugin's directory " + private + ": " + private + " does not let it through"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start = %v\nwant it to contain %s", err, want)
	}
}

// withoutLandlockEnv, set, makes the test binary a wrapper instead of a test
// run: it installs a seccomp filter under which the Landlock system calls
// fail with ENOSYS, as on a kernel without Landlock or in a container whose
// seccomp profile blocks them, and executes the command in its arguments
// (the filter stays on that process and every process it starts). The host
// needs no hook for the test: what it sees is what such a kernel answers.
const withoutLandlockEnv = "MCPHOST_TEST_EXEC_WITHOUT_LANDLOCK"

func init() {
	if os.Getenv(withoutLandlockEnv) == "" {
		return
	}
	err := execWithoutLandlock(os.Args[1:])
	fmt.Fprintln(os.Stderr, "exec without Landlock:", err)
	os.Exit(2)
}

func execWithoutLandlock(args []string) error {
	// The filter is the calling thread's, and exec keeps the calling thread's.
	runtime.LockOSThread()
	if os.Geteuid() != 0 {
		// Without CAP_SYS_ADMIN a filter needs no_new_privs.
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	filter := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 3, K: unix.SYS_LANDLOCK_CREATE_RULESET},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 2, K: unix.SYS_LANDLOCK_ADD_RULE},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 1, K: unix.SYS_LANDLOCK_RESTRICT_SELF},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, withoutLandlockEnv+"=") })
	return syscall.Exec(args[0], args, env)
}

// TestNoLandlockRunsUnsandboxed: where the kernel refuses Landlock, the real
// mcphost binary logs one warning, at start, naming the plugins it cannot
// confine (not the one whose sandbox is off), and those plugins start, serve
// and restart unconfined: one reads another's data.
func TestNoLandlockRunsUnsandboxed(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfgPath := writeConfigFile(t, fmt.Sprintf(`
auth: {provider: none}
log: {format: json}
data_dir: %q
plugins:
  a: {path: "{{bin}}/testplugin", prefix: "a."}
  b: {path: "{{bin}}/testplugin", prefix: "b."}
  c: {path: "{{bin}}/testplugin", prefix: "c.", sandbox: "off"}
`, data))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, bin("mcphost"), "serve", "--config", cfgPath, "--listen", "127.0.0.1:0")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), withoutLandlockEnv + "=1"}
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	records := make(chan map[string]any, 4096)
	go func() {
		defer close(records)
		lines := bufio.NewScanner(stderr)
		for lines.Scan() {
			rec := map[string]any{}
			if json.Unmarshal(lines.Bytes(), &rec) != nil {
				rec = map[string]any{"raw": lines.Text()}
			}
			records <- rec
		}
	}()
	var seen []map[string]any
	// next returns the first record from now on that match accepts.
	next := func(what string, match func(map[string]any) bool) map[string]any {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case rec, ok := <-records:
				if !ok {
					t.Fatalf("mcphost exited before logging %s; its log: %v", what, seen)
				}
				seen = append(seen, rec)
				if match(rec) {
					return rec
				}
			case <-timeout:
				t.Fatalf("mcphost did not log %s within 30s; its log: %v", what, seen)
			}
		}
	}
	serving := next("that it serves", func(r map[string]any) bool { return r["msg"] == "mcphost serving" })
	base := strings.TrimSuffix(serving["url"].(string), host.MCPPath)

	cs := connect(t, &running{url: base}, nil, nil)
	dataB := filepath.Join(data, "plugins", "b", "tenant.db")
	if res := fsCall(t, cs, "b.fs", "write", dataB, "b's rows"); !res.OK {
		t.Fatalf("b writes its data: %s", res.Error)
	}
	readsB := func(when string) {
		t.Helper()
		if res := fsCall(t, cs, "a.fs", "read", dataB, ""); !res.OK || res.Content != "b's rows" {
			t.Fatalf("%s: plugin a reading b's data: %+v; unconfined, it reads it", when, res)
		}
	}
	readsB("at start")

	// A restart starts the plugin unconfined again, without a second warning.
	plugins, err := readyPlugins(t, base)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(plugins, func(p host.PluginStatus) bool { return p.Name == "a" })
	if i < 0 || plugins[i].PID == 0 {
		t.Fatalf("/readyz plugins: %+v", plugins)
	}
	if err := syscall.Kill(plugins[i].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	next("plugin a restarted", func(r map[string]any) bool { return r["msg"] == "plugin instance replaced" && r["plugin"] == "a" })
	readsB("after a restart")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for rec := range records {
		seen = append(seen, rec)
	}
	var warnings []map[string]any
	for _, rec := range seen {
		switch rec["msg"] {
		case "plugin sandbox unavailable: plugins run unsandboxed":
			warnings = append(warnings, rec)
		case "plugin sandbox enforced with Landlock":
			t.Errorf("with Landlock refused, the host logged %v", rec)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("the warning was logged %d times, want once: %v", len(warnings), warnings)
	}
	w := warnings[0]
	if w["level"] != "WARN" || fmt.Sprint(w["plugins"]) != "[a b]" || !strings.Contains(fmt.Sprint(w["error"]), "no Landlock") {
		t.Fatalf("warning %v, want level WARN, plugins [a b] (c's sandbox is off) and the kernel's reason", w)
	}
}
