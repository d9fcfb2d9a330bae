package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad: any bytes as mcphost.yaml never panic, and every problem is a
// one-line *Error naming the file, in line order.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		"server:\n  listen: 127.0.0.1:0\nauth:\n  provider: dev\n",
		"server: {listen: \"[::1]:80\", trusted_proxies: [10.0.0.0/8, bogus], store: \"redis://u:p@h:1/2\", state_secret: x}\n",
		"auth:\n  workos:\n    subdomain: my.authkit.app/path\n    algorithms: [HS256, none]\n    clock_skew: 1h\n",
		"plugins:\n  x:\n    path: bin/x\n    env: {A: \"${B}\", 1C: \"${}\"}\n    tools: {t: {limits: {per_user: {rate: 10/s, burst: -1}}}}\n",
		"a: &x {b: 1}\nc: *x\nserver:\n  listen: 1\n  listen: 2\n",
		"- [\n",
		"limits: {per_user: {rate: 1e309/s}}\ndev: {users: {\"\": {}}}\n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	path := filepath.Join(dir, "mcphost.yaml")
	env := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, data []byte) {
		// load, not Load: no file write per input, and the config's directory
		// (for .env and relative paths) is an empty one.
		cfg, err := load(path, path, data, Options{LookupEnv: env, SkipFileChecks: true})
		if err == nil {
			if cfg == nil {
				t.Fatal("no Config and no error")
			}
			return
		}
		if cfg != nil {
			t.Fatal("a Config along with an error")
		}
		parts := []error{err}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			parts = j.Unwrap()
		}
		last := 0
		for _, p := range parts {
			var e *Error
			if !errors.As(p, &e) || e.File != path {
				t.Fatalf("problem %q does not name the file %s", p, path)
			}
			if e.Line < last {
				t.Fatalf("problems out of line order: %v", err)
			}
			last = e.Line
			if strings.ContainsAny(e.Error(), "\n") {
				t.Fatalf("problem spans lines: %q", e.Error())
			}
		}
	})
}

// FuzzDotEnv: any .env never panics; every malformed line is reported with
// the file and its line, and every name read is a valid variable name.
func FuzzDotEnv(f *testing.F) {
	for _, seed := range []string{
		"A=1\n# c\nexport B=\"two\" # note\nC='x'\n",
		"nope\n=x\n1A=2\n",
		"A=\"unterminated\nB='a'b' # c\r\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	const path = "/cfg/.env"
	f.Fuzz(func(t *testing.T, data []byte) {
		env, errs := parseDotEnv(path, data)
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range errs {
			if e.File != path || e.Line < 1 || e.Line > lines || e.Key != "" {
				t.Fatalf("problem %+v: want File %s and a line in 1..%d", e, path, lines)
			}
		}
		for k := range env {
			if !validEnvName(k) {
				t.Fatalf("name %q read from %q", k, data)
			}
		}
	})
}

// The fuzz targets' load is Load's: a file written to disk loads the same.
func TestUnexportedLoadMatchesLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcphost.yaml")
	data := []byte("server:\n  listen: nope\nlog: {level: loud}\n")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{LookupEnv: envFrom(withSub)}
	_, want := Load(path, opts)
	_, got := load(path, path, data, opts)
	if want == nil || got == nil || want.Error() != got.Error() {
		t.Errorf("Load = %v\nload = %v", want, got)
	}
}
