package config

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestSandboxKeys(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	writeFile(t, dir, "lib/mod.py", "", 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "mcphost.yaml", `
auth: {provider: none}
plugins:
  a: {path: bin/plug, sandbox: "off"}
  b: {path: bin/plug, sandbox: on, sandbox_read: [lib, /usr/share], sandbox_write: [out, .mcphost/plugins/b]}
  c: {path: bin/plug, sandbox: false}
  d: {path: bin/plug}
`, 0o644)
	cfg, err := Load(path, Options{LookupEnv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a": false, "b": true, "c": false, "d": true} {
		if got := cfg.Plugins[name].Sandboxed(); got != want {
			t.Errorf("plugin %s: Sandboxed() = %v, want %v", name, got, want)
		}
	}
	b := cfg.Plugins["b"]
	if want := []string{filepath.Join(dir, "lib"), "/usr/share"}; !reflect.DeepEqual(b.SandboxRead, want) {
		t.Errorf("sandbox_read = %q, want %q", b.SandboxRead, want)
	}
	if want := []string{filepath.Join(dir, "out"), filepath.Join(dir, ".mcphost", "plugins", "b")}; !reflect.DeepEqual(b.SandboxWrite, want) {
		t.Errorf("sandbox_write = %q, want %q", b.SandboxWrite, want)
	}
	// "on" and no key are one config, so a reload sees no change.
	if b.Sandbox != cfg.Plugins["d"].Sandbox {
		t.Errorf("sandbox on = %q, unset = %q", b.Sandbox, cfg.Plugins["d"].Sandbox)
	}
	// The environment overrides it like any key.
	cfg, err = Load(path, Options{LookupEnv: envFrom(map[string]string{"MCPHOST_PLUGINS_D_SANDBOX": "off"})})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Plugins["d"].Sandboxed() {
		t.Error("MCPHOST_PLUGINS_D_SANDBOX=off left plugin d sandboxed")
	}
}

func TestSandboxKeyErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"bad sandbox value", `plugins: {x: {path: bin/plug, sandbox: maybe}}`,
			[]wantErr{{key: "plugins.x.sandbox", problem: `"maybe" is not on or off`}}},
		{"sandbox a mapping", "plugins:\n  x: {path: bin/plug, sandbox: {read: [a]}}",
			[]wantErr{{key: "plugins.x.sandbox", line: 2, problem: "expected a single value"}}},
		{"missing read path", `plugins: {x: {path: bin/plug, sandbox_read: [nope]}}`,
			[]wantErr{{key: "plugins.x.sandbox_read[0]", problem: "nope: no such file or directory (the sandbox can only allow a path that exists"}}},
		{"empty write path", `plugins: {x: {path: bin/plug, sandbox_write: [""]}}`,
			[]wantErr{{key: "plugins.x.sandbox_write[0]", problem: "must not be empty"}}},
		{"the config dir holds data_dir", `plugins: {x: {path: bin/plug, sandbox_read: [bin, .]}}`,
			[]wantErr{{key: "plugins.x.sandbox_read[1]", problem: "contains data_dir (every plugin's data and the dev issuer's signing key); name a narrower path"}}},
		{"root", `plugins: {x: {path: bin/plug, sandbox_read: [/]}}`,
			[]wantErr{{key: "plugins.x.sandbox_read[0]", problem: "/ contains data_dir"}}},
		{"another plugin's data", `plugins: {x: {path: bin/plug, sandbox_write: [.mcphost/plugins/y]}, y: {path: bin/plug}}`,
			[]wantErr{{key: "plugins.x.sandbox_write[0]", problem: "is inside data_dir, where other plugins keep their data"}}},
		{"the dev issuer's key", `plugins: {x: {path: bin/plug, sandbox_read: [.mcphost/dev-issuer]}}`,
			[]wantErr{{key: "plugins.x.sandbox_read[0]", problem: "is inside data_dir"}}},
		{"the config file, data_dir elsewhere", "data_dir: /var/empty-mcphost\nplugins: {x: {path: bin/plug, sandbox_read: [mcphost.yaml]}}",
			[]wantErr{{key: "plugins.x.sandbox_read[0]", problem: "contains the config file"}}},
		{"unknown user", `plugins: {x: {path: bin/plug, user: no-such-user-here}}`,
			[]wantErr{{key: "plugins.x.user", problem: `no user "no-such-user-here" on this machine`}}},
		{"negative uid", `plugins: {x: {path: bin/plug, user: "-5"}}`,
			[]wantErr{{key: "plugins.x.user", problem: `"-5" is not a user name or uid`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := fixtureDir(t)
			path := writeFile(t, dir, "mcphost.yaml", "auth: {provider: none}\n"+tc.yaml, 0o644)
			_, err := Load(path, Options{LookupEnv: envFrom(nil)})
			// Lines in want count from the yaml after the auth line.
			// Unless a case says otherwise, the problem is on the yaml's last line.
			for i := range tc.want {
				if tc.want[i].line == 0 {
					tc.want[i].line = strings.Count(tc.yaml, "\n") + 1
				}
				tc.want[i].line++
			}
			checkErrors(t, err, path, tc.want)
		})
	}
}

func TestSandboxSecretsFilesRefused(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	secrets := filepath.Join(dir, "secrets")
	writeFile(t, dir, "secrets/state", strings.Repeat("s", 40), 0o600)
	writeFile(t, dir, "logs/audit.jsonl", "", 0o600)
	path := writeFile(t, dir, "mcphost.yaml", `
auth: {provider: none}
server: {state_secret_file: secrets/state}
audit: {output: logs/audit.jsonl}
plugins: {x: {path: bin/plug, sandbox_read: [secrets, logs, bin]}}
`, 0o644)
	_, err := Load(path, Options{LookupEnv: envFrom(nil)})
	checkErrors(t, err, path, []wantErr{
		{key: "plugins.x.sandbox_read[0]", line: 5, problem: secrets + " contains server.state_secret_file"},
		{key: "plugins.x.sandbox_read[1]", line: 5, problem: "contains the audit log"},
	})
}

func TestPluginUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("plugins.<name>.user is honoured only when the host runs as root")
	}
	t.Parallel()
	for _, tc := range []struct {
		user string
		want Account
	}{{"nobody", Account{65534, 65534}}, {"65534", Account{65534, 65534}}, {"54321", Account{54321, 54321}}} {
		cfg, _, err := loadYAML(t, "auth: {provider: none}\nplugins: {x: {path: bin/plug, user: \""+tc.user+"\"}}", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.Plugins["x"].RunAs; got == nil || *got != tc.want {
			t.Errorf("user %s: RunAs = %+v, want %+v", tc.user, got, tc.want)
		}
	}
	cfg, _, err := loadYAML(t, "auth: {provider: none}\nplugins: {x: {path: bin/plug}}", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Plugins["x"].RunAs != nil {
		t.Errorf("no user: RunAs = %+v, want nil", cfg.Plugins["x"].RunAs)
	}
}

// A host that is not root refuses the key, naming it: this test runs the
// loader again in a copy of the test binary as nobody.
func TestPluginUserNeedsRoot(t *testing.T) {
	if dir := os.Getenv("CONFIG_TEST_NONROOT_DIR"); dir != "" {
		path := filepath.Join(dir, "mcphost.yaml")
		_, err := Load(path, Options{LookupEnv: envFrom(nil)})
		checkErrors(t, err, path, []wantErr{{key: "plugins.x.user", line: 2, problem: "running the plugin as user nobody needs mcphost to run as root, and it runs as uid 65534"}})
		fmt.Println("checked as uid", os.Geteuid())
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the check as another user")
	}
	dir := t.TempDir()
	writeFile(t, dir, "bin/plug", "#!/bin/sh\n", 0o755)
	writeFile(t, dir, "mcphost.yaml", "auth: {provider: none}\nplugins: {x: {path: bin/plug, user: nobody}}\n", 0o644)
	for _, d := range []string{dir, filepath.Dir(dir)} { // t.TempDir's are 0700
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("/proc/self/exe", "-test.run=^TestPluginUserNeedsRoot$", "-test.count=1")
	cmd.Env = []string{"CONFIG_TEST_NONROOT_DIR=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{}}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "checked as uid 65534\n") {
		t.Fatalf("the loader run as nobody: %v\n%s", err, out)
	}
}
