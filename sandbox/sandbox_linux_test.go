package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// helperEnv makes the test binary a helper process (see TestMain).
const helperEnv = "SANDBOX_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "hold", "hold-protected":
		// Holds a secret in its environment until stdin closes.
		if os.Getenv(helperEnv) == "hold-protected" {
			if err := ProtectSelf(); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
		}
		fmt.Println("ready", os.Getpid())
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
}

// needLandlock skips only where the kernel lacks Landlock.
func needLandlock(t *testing.T) int {
	t.Helper()
	abi, err := ABI()
	if err != nil {
		t.Skipf("no Landlock here (%v): nothing to test", err)
	}
	return abi
}

// run runs cmd and returns its combined output and exit code.
func run(t *testing.T, cmd *exec.Cmd) (string, int) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return string(out), 0
}

func wrapped(t *testing.T, pol Policy, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	if err := Wrap(cmd, pol); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func system() Policy {
	return Policy{Read: Existing(SystemRead), Write: Existing(SystemWrite)}
}

func TestConfinedProcessReadsOnlyWhatPolicyAllows(t *testing.T) {
	needLandlock(t)
	allowed, denied := t.TempDir(), t.TempDir()
	for _, d := range []string{allowed, denied} {
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("content of "+d), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pol := system()
	pol.Write = append(pol.Write, allowed)

	out, code := run(t, wrapped(t, pol, nil, "/usr/bin/cat", filepath.Join(allowed, "f")))
	if code != 0 || out != "content of "+allowed {
		t.Fatalf("reading the allowed dir: exit %d, %q", code, out)
	}
	out, code = run(t, wrapped(t, pol, nil, "/usr/bin/cat", filepath.Join(denied, "f")))
	if code == 0 || !strings.Contains(out, "Permission denied") {
		t.Fatalf("reading the other dir: exit %d, %q; want permission denied", code, out)
	}
	// Writes: allowed inside, refused outside, and read-only system paths stay so.
	out, code = run(t, wrapped(t, pol, nil, "/usr/bin/touch", filepath.Join(allowed, "new")))
	if code != 0 {
		t.Fatalf("creating a file in the writable dir: exit %d, %q", code, out)
	}
	for _, p := range []string{filepath.Join(denied, "new"), "/usr/mcphost-sandbox-test"} {
		if out, code = run(t, wrapped(t, pol, nil, "/usr/bin/touch", p)); code == 0 {
			t.Fatalf("created %s outside the policy: %q", p, out)
		}
	}
	// The same command unconfined reads the other dir: the refusal above is the sandbox.
	if out, code := run(t, exec.Command("/usr/bin/cat", filepath.Join(denied, "f"))); code != 0 {
		t.Fatalf("unconfined cat: exit %d, %q", code, out)
	}
}

// The confined process reads its own /proc entry, not its parent's.
func TestConfinedProcessSeesOnlyItsOwnProc(t *testing.T) {
	needLandlock(t)
	out, code := run(t, wrapped(t, system(), nil, "/usr/bin/cat", "/proc/self/status"))
	if code != 0 || !strings.Contains(out, "NoNewPrivs:\t1") {
		t.Fatalf("own status: exit %d, %q", code, out)
	}
	parent := fmt.Sprintf("/proc/%d/status", os.Getpid())
	if out, code := run(t, wrapped(t, system(), nil, "/usr/bin/cat", parent)); code == 0 {
		t.Fatalf("read its parent's %s: %q", parent, out)
	}
}

// The trampoline's variable never reaches the program: its environment is
// exactly the command's.
func TestTrampolineKeepsTheEnvironment(t *testing.T) {
	needLandlock(t)
	out, code := run(t, wrapped(t, system(), []string{"A=1", "B=two words"}, "/usr/bin/env"))
	if code != 0 {
		t.Fatalf("env: exit %d, %q", code, out)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if want := []string{"A=1", "B=two words"}; !slices.Equal(got, want) {
		t.Fatalf("environment = %q, want %q", got, want)
	}
}

// argv[0] stays the program's path, so ps shows the plugin, not the host.
func TestTrampolineKeepsArgv(t *testing.T) {
	needLandlock(t)
	script := filepath.Join(t.TempDir(), "argv.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$0 $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pol := system()
	pol.Read = append(pol.Read, script)
	out, code := run(t, wrapped(t, pol, nil, script, "x", "y z"))
	if code != 0 || strings.TrimSpace(out) != script+" x y z" {
		t.Fatalf("script: exit %d, %q", code, out)
	}
}

func TestTrampolineFailures(t *testing.T) {
	needLandlock(t)
	missing := filepath.Join(t.TempDir(), "gone")
	pol := system()
	pol.Read = append(pol.Read, missing)
	out, code := run(t, wrapped(t, pol, nil, "/usr/bin/true"))
	if code != 126 || !strings.Contains(out, "mcphost sandbox: allow "+missing) {
		t.Errorf("missing policy path: exit %d, %q", code, out)
	}

	out, code = run(t, wrapped(t, system(), nil, "/nonexistent/plugin"))
	if code != 126 || !strings.Contains(out, "mcphost sandbox: exec /nonexistent/plugin") {
		t.Errorf("missing program: exit %d, %q", code, out)
	}

	// A program the policy does not let it execute.
	dir := t.TempDir()
	prog := filepath.Join(dir, "true")
	data, err := os.ReadFile("/usr/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, wrapped(t, system(), nil, prog))
	if code != 126 || !strings.Contains(out, "permission denied") {
		t.Errorf("program outside the policy: exit %d, %q", code, out)
	}

	bad := exec.Command(self)
	bad.Env = []string{envSpec + "={not json"}
	out, code = run(t, bad)
	if code != 126 || !strings.Contains(out, "mcphost sandbox: bad "+envSpec) {
		t.Errorf("bad spec: exit %d, %q", code, out)
	}

	if err := Wrap(exec.Command("relative"), system()); err == nil || !strings.Contains(err.Error(), `"relative" is not absolute`) {
		t.Errorf("Wrap(relative) = %v", err)
	}
}

// ProtectSelf closes a process's environment to other processes of its
// user; the same helper without it shows that the read otherwise succeeds.
func TestProtectSelfClosesEnvironToSameUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run both processes as an unprivileged user (root reads every /proc entry)")
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}
	for _, tc := range []struct {
		mode     string
		readable bool
	}{{"hold", true}, {"hold-protected", false}} {
		t.Run(tc.mode, func(t *testing.T) {
			holder := exec.Command(self)
			holder.Env = []string{helperEnv + "=" + tc.mode, "HOLDER_SECRET=s3cret"}
			holder.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
			stdin, err := holder.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := holder.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := holder.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { stdin.Close(); _ = holder.Wait() }()
			line, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "ready ") {
				t.Fatalf("helper said %q, %v", line, err)
			}
			pid := strings.TrimSpace(strings.TrimPrefix(line, "ready "))

			reader := exec.Command("/usr/bin/cat", "/proc/"+pid+"/environ")
			reader.SysProcAttr = &syscall.SysProcAttr{Credential: nobody}
			out, code := run(t, reader)
			if got := strings.Contains(out, "HOLDER_SECRET=s3cret"); got != tc.readable {
				t.Fatalf("another process of the same user read the environ: %v (exit %d, %q), want %v", got, code, out, tc.readable)
			}
		})
	}
}

func TestInterpreters(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inner := write("inner", "#!/usr/bin/python3 -u\nprint()\n")
	outer := write("outer", "#! "+inner+" --flag\n")
	relative := write("rel", "#!python3\n")
	binary := write("bin", "\x7fELF...")
	for _, tc := range []struct {
		path string
		want []string
	}{
		{outer, []string{inner, "/usr/bin/python3"}},
		{inner, []string{"/usr/bin/python3"}},
		{relative, nil},
		{binary, nil},
		{filepath.Join(dir, "missing"), nil},
	} {
		if got := Interpreters(tc.path); !slices.Equal(got, tc.want) {
			t.Errorf("Interpreters(%s) = %q, want %q", filepath.Base(tc.path), got, tc.want)
		}
	}
}
