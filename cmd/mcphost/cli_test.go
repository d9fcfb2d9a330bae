package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// These tests call run in-process and swap os.Stdout/os.Stderr, so none of them
// run in parallel.

// runCLI runs the CLI with args and returns its exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	rOut, wOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rErr, wErr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = wOut, wErr
	var bOut, bErr bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(&bOut, rOut) })
	wg.Go(func() { _, _ = io.Copy(&bErr, rErr) })
	func() {
		defer func() {
			os.Stdout, os.Stderr = oldOut, oldErr
			_ = wOut.Close()
			_ = wErr.Close()
		}()
		code = run(args)
	}()
	wg.Wait()
	_ = rOut.Close()
	_ = rErr.Close()
	return code, bOut.String(), bErr.String()
}

// cliEnv clears the variables the config reads from the process environment so
// the developer's shell cannot change the outcome.
func cliEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MCPHOST_") || name == "MCP_URL" || name == "MCP_USE_OAUTH_WORKOS_SUBDOMAIN" {
			t.Setenv(name, "")
			_ = os.Unsetenv(name) // t.Setenv restores it afterwards
		}
	}
}

// writeConfig writes an executable plugin and yaml as mcphost.yaml in a temp dir.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "plug"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "noexec"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "mcphost.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodYAML = `server:
  listen: 127.0.0.1:0
auth:
  provider: dev
plugins:
  whoami:
    path: bin/plug
`

// badYAML has exactly four validation problems.
const badYAML = `server:
  listen: 127.0.0.1:8080
log:
  level: loud
auth:
  provider: workos
  workos:
    algorithms: [HS256]
plugins:
  a:
    path: bin/missing
  b:
    path: bin/noexec
`

var badKeys = []string{"log.level", "auth.workos.subdomain", "auth.workos.algorithms[0]", "plugins.a.path", "plugins.b.path"}

// checkStderrLines asserts stderr is exactly one line per wanted substring, in
// order: with file set, config problems that start with "file:"; without, other
// errors that start with "mcphost: ".
func checkStderrLines(t *testing.T, stderr, file string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if !strings.HasSuffix(stderr, "\n") || len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), stderr)
	}
	for i, l := range lines {
		if file == "" && !strings.HasPrefix(l, "mcphost: ") {
			t.Errorf("line %d %q does not start with \"mcphost: \"", i, l)
		}
		if file != "" && !strings.HasPrefix(l, file+":") {
			t.Errorf("line %d %q does not start with the file %s", i, l, file)
		}
		if !strings.Contains(l, want[i]) {
			t.Errorf("line %d %q does not contain %q", i, l, want[i])
		}
	}
}

func TestValidateOK(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	for _, args := range [][]string{
		{"validate", "-c", cfg},
		{"validate", "--config", cfg},
		{"validate", "--config=" + cfg},
		{"-c", cfg, "validate"},
		{"--config", cfg, "validate"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || stdout != cfg+": ok\n" || stderr != "" {
			t.Errorf("run(%q) = %d, stdout %q, stderr %q; want 0, %q, \"\"", args, code, stdout, stderr, cfg+": ok\n")
		}
	}
}

// Without -c, mcphost.yaml in the working directory is used.
func TestValidateDefaultConfigName(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	t.Chdir(filepath.Dir(cfg))
	code, stdout, stderr := runCLI(t, "validate")
	if code != 0 || stdout != "mcphost.yaml: ok\n" || stderr != "" {
		t.Errorf("validate = %d, %q, %q", code, stdout, stderr)
	}

	t.Chdir(t.TempDir())
	code, stdout, stderr = runCLI(t, "validate")
	if code != 2 || stdout != "" {
		t.Errorf("validate with no mcphost.yaml = %d, stdout %q", code, stdout)
	}
	checkStderrLines(t, stderr, "mcphost.yaml", []string{"mcphost.yaml: cannot read config: no such file or directory"})
}

func TestConfigErrorsExit2(t *testing.T) {
	cliEnv(t)
	bad := writeConfig(t, badYAML)
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	unknownKey := writeConfig(t, "server:\n  listen: 127.0.0.1:8080\nplugins:\n  x:\n    pth: bin/plug\n    call_timeout: 3x\n")
	invalidYAML := writeConfig(t, "server: [\n")
	tests := []struct {
		name string
		args []string
		file string
		want []string
	}{
		{"validate bad config", []string{"validate", "-c", bad}, bad, badKeys},
		{"root bad config", []string{"-c", bad}, bad, badKeys},
		{"serve bad config", []string{"serve", "--config", bad}, bad, badKeys},
		{"tools bad config", []string{"tools", "-c", bad}, bad, badKeys},
		{"tools --json bad config", []string{"tools", "--json", "-c", bad}, bad, badKeys},
		{"missing config", []string{"validate", "-c", missing}, missing, []string{"cannot read config: no such file or directory"}},
		// Every problem, sorted by line; the one no line holds first.
		{"unknown key and bad duration with lines", []string{"validate", "-c", unknownKey}, unknownKey, []string{
			unknownKey + ": auth.workos.subdomain: required with auth.provider workos",
			unknownKey + ":4: plugins.x.path: required",
			unknownKey + ":5: plugins.x.pth: unknown key",
			unknownKey + ":6: plugins.x.call_timeout: \"3x\" is not a duration",
		}},
		{"invalid YAML", []string{"validate", "-c", invalidYAML}, invalidYAML, []string{invalidYAML + ":1: invalid YAML: did not find expected node content"}},
		{"serve --listen valid but config bad", []string{"serve", "--listen", "127.0.0.1:0", "-c", bad}, bad, badKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2 (stderr %q)", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			checkStderrLines(t, stderr, tt.file, tt.want)
		})
	}
}

// A malformed .env next to the config is a config error naming the .env file.
func TestDotEnvErrorExit2(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	envFile := filepath.Join(filepath.Dir(cfg), ".env")
	if err := os.WriteFile(envFile, []byte("OK=1\nnot a pair\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "validate", "-c", cfg)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	checkStderrLines(t, stderr, envFile, []string{envFile + ":2: expected KEY=VALUE"})
}

// MCPHOST_ variables from the process environment reach validation.
func TestValidateProcessEnv(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	t.Setenv("MCPHOST_LOG_FORMAT", "xml")
	code, _, stderr := runCLI(t, "validate", "-c", cfg)
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	checkStderrLines(t, stderr, cfg, []string{cfg + `: log.format (from MCPHOST_LOG_FORMAT): "xml" is not one of text, json`})
}

func TestUsageErrorsExit2(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag on root", []string{"--bogus"}, "unknown flag: --bogus"},
		{"unknown flag on validate", []string{"validate", "--bogus", "-c", cfg}, "unknown flag: --bogus"},
		{"unknown shorthand", []string{"validate", "-z"}, "unknown shorthand flag: 'z' in -z"},
		{"unknown flag on version", []string{"version", "--bogus"}, "unknown flag: --bogus"},
		{"unknown flag on tools", []string{"tools", "--bogus"}, "unknown flag: --bogus"},
		{"--config without value", []string{"validate", "--config"}, "flag needs an argument: --config"},
		{"--listen is not a validate flag", []string{"validate", "--listen", "127.0.0.1:1", "-c", cfg}, "unknown flag: --listen"},
		{"--json takes no value", []string{"tools", "--json=maybe", "-c", cfg}, "invalid argument \"maybe\""},
		{"--listen garbage", []string{"--listen", "garbage", "-c", cfg}, `--listen: "garbage" is not host:port`},
		{"--listen no port", []string{"--listen", "127.0.0.1", "-c", cfg}, `--listen: "127.0.0.1" is not host:port`},
		{"--listen port 70000", []string{"--listen=127.0.0.1:70000", "-c", cfg}, `--listen: "127.0.0.1:70000" has an invalid port`},
		{"serve --listen garbage", []string{"serve", "--listen", "garbage", "-c", cfg}, `--listen: "garbage" is not host:port`},
		{"--listen checked before the config", []string{"--listen", "garbage", "-c", filepath.Join(t.TempDir(), "missing.yaml")}, `--listen: "garbage"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != 2 {
				t.Errorf("exit code = %d, want 2 (stderr %q)", code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			checkStderrLines(t, stderr, "", []string{tt.want})
		})
	}
}

// Unknown subcommands and stray arguments are usage errors too, but cobra reports
// them as plain errors, which run maps to exit code 1.
func TestStrayArgumentsExitCode(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	for _, args := range [][]string{
		{"bogus"},
		{"validate", "extra", "-c", cfg},
		{"version", "extra"},
	} {
		code, stdout, stderr := runCLI(t, args...)
		if stdout != "" {
			t.Errorf("run(%q) stdout = %q", args, stdout)
		}
		checkStderrLines(t, stderr, "", []string{"unknown command"})
		if code == 0 {
			t.Errorf("run(%q) exit code = 0", args)
		}
		if code != 2 {
			t.Errorf("run(%q) exit code = %d, want 2 (usage error)", args, code)
		}
	}
}

func TestVersion(t *testing.T) {
	cliEnv(t)
	code, stdout, stderr := runCLI(t, "version")
	if code != 0 || stderr != "" {
		t.Errorf("version = %d, stderr %q", code, stderr)
	}
	if want := "mcphost " + version + " (plugin protocol v1)\n"; stdout != want {
		t.Errorf("version stdout = %q, want %q", stdout, want)
	}
	if !strings.HasPrefix(stdout, "mcphost") {
		t.Errorf("version stdout %q does not start with mcphost", stdout)
	}
}

func TestHelp(t *testing.T) {
	cliEnv(t)
	argsList := [][]string{{"--help"}, {"-h"}, {"help"}}
	// Every subcommand, including ones added elsewhere (auth commands).
	for _, c := range newRootCmd().Commands() {
		argsList = append(argsList, []string{c.Name(), "--help"}, []string{"help", c.Name()})
		for _, sub := range c.Commands() {
			argsList = append(argsList, []string{c.Name(), sub.Name(), "--help"})
		}
	}
	for _, name := range []string{"serve", "validate", "tools", "version"} {
		found := false
		for _, a := range argsList {
			if a[0] == name {
				found = true
			}
		}
		if !found {
			t.Errorf("subcommand %s is missing", name)
		}
	}
	for _, args := range argsList {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || stderr != "" {
			t.Errorf("run(%q) = %d, stderr %q; want 0 and no stderr", args, code, stderr)
		}
		if !strings.Contains(stdout, "Usage:") {
			t.Errorf("run(%q) stdout has no Usage:\n%s", args, stdout)
		}
	}
}

// The cobra command tree writes to the writers it is given.
func TestRootCmdWriters(t *testing.T) {
	cliEnv(t)
	cfg := writeConfig(t, goodYAML)
	tests := []struct {
		args    []string
		wantOut string
		wantErr bool
	}{
		{[]string{"validate", "-c", cfg}, cfg + ": ok\n", false},
		{[]string{"version"}, "mcphost " + version + " (plugin protocol v1)\n", false},
		{[]string{"validate", "-c", filepath.Join(t.TempDir(), "missing.yaml")}, "", true},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(tt.args)
		err := root.Execute()
		if (err != nil) != tt.wantErr {
			t.Errorf("Execute(%q) error = %v, wantErr %v", tt.args, err, tt.wantErr)
		}
		if out.String() != tt.wantOut {
			t.Errorf("Execute(%q) out = %q, want %q", tt.args, out.String(), tt.wantOut)
		}
		if errOut.Len() != 0 {
			t.Errorf("Execute(%q) wrote to err (errors are silenced for run to print): %q", tt.args, errOut.String())
		}
	}
}

// TestToolsReportsPluginsThatDidNotStart: `mcphost tools` lists what the
// plugins that started offer, then names each optional plugin that did not
// start with its own words, and exits 1; a required one stops it at once.
func TestToolsReportsPluginsThatDidNotStart(t *testing.T) {
	cliEnv(t)
	for _, c := range []struct {
		name, extra string
		listed      bool
	}{{"optional", "", true}, {"required", ", required: true", false}} {
		cfg := writeConfig(t, "auth: {provider: none}\nplugins:\n  notes: {path: bin/notes"+c.extra+"}\n")
		script := "#!/bin/sh\necho 'notes: NOTES_DSN is not set' >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "bin", "notes"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCLI(t, "tools", "-c", cfg)
		if code != 1 || !strings.Contains(stderr, "mcphost: plugin notes did not start: notes: NOTES_DSN is not set (") {
			t.Errorf("%s: exit %d, stderr:\n%s", c.name, code, stderr)
		}
		if listed := strings.Contains(stdout, "PLUGIN"); listed != c.listed {
			t.Errorf("%s: table printed %v, want %v:\n%s", c.name, listed, c.listed, stdout)
		}
	}
}
