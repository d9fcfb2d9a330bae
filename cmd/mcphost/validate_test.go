package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mcphost/mcphost/config"
)

// The checks serve used to make after config.Load (building the token
// verifier, the dev issuer); each is now Load's, so validate refuses them.
// Every case: Load and `mcphost validate` both name the key on its line.
var movedChecks = []struct {
	name, yaml string
	line       int
	key        string
	problem    string
}{
	{"clock_skew above the verifier's maximum", "auth:\n  provider: dev\n  workos:\n    clock_skew: 10m\n", 4, "auth.workos.clock_skew", "10m0s exceeds the maximum of 5m0s"},
	{"empty audience", "auth:\n  provider: dev\n  workos:\n    audiences:\n      - https://a.example/mcp\n      - \" \"\n", 6, "auth.workos.audiences[1]", "empty entry"},
	{"scope with a space", "auth:\n  provider: dev\n  workos:\n    scopes_supported: [openid, \"a b\"]\n", 4, "auth.workos.scopes_supported[1]", `"a b" is not a valid scope`},
	{"required scope with a quote", "auth:\n  provider: dev\n  workos:\n    required_scopes:\n      - 'a\"b'\n", 5, "auth.workos.required_scopes[0]", `"a\"b" is not a valid scope`},
	{"symmetric algorithm", "auth:\n  provider: dev\n  workos:\n    algorithms: [HS256]\n", 4, "auth.workos.algorithms[0]", "symmetric algorithms cannot be verified"},
	{"dev issuer on a plain-http public_url", "server:\n  listen: 127.0.0.1:0\n  public_url: http://mcp.example.com\nauth:\n  provider: dev\n", 3, "server.public_url", "is the dev issuer's URL with auth.provider dev"},
	{"AuthKit domain with a path", "server:\n  listen: 127.0.0.1:0\nauth:\n  provider: workos\n  workos:\n    subdomain: my.authkit.app/path\n", 6, "auth.workos.subdomain", "must not contain a path"},
	{"trusted proxy with a space", "server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - \" 10.1.0.0/16\"\nauth:\n  provider: dev\n", 4, "server.trusted_proxies[1]", "is not an IP address or CIDR prefix"},
	{"listen host that is no host name", "server:\n  listen: \"bad_host!:8080\"\nauth:\n  provider: none\n", 2, "server.listen", "is not an IP address or host name"},
}

func TestMovedChecksRefusedByLoadAndValidate(t *testing.T) {
	cliEnv(t)
	for _, tc := range movedChecks {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.yaml)
			_, err := config.Load(path, config.Options{})
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Key != tc.key || !strings.Contains(ce.Problem, tc.problem) {
				t.Fatalf("Load = %v; want %s:%d: %s: ...%s", err, path, tc.line, tc.key, tc.problem)
			}
			code, stdout, stderr := runCLI(t, "validate", "-c", path)
			if code != 2 || stdout != "" {
				t.Errorf("validate = %d, stdout %q; want 2 and nothing", code, stdout)
			}
			checkStderrLines(t, stderr, path, []string{path + ":" + strconv.Itoa(tc.line) + ": " + tc.key + ": "})
			if !strings.Contains(stderr, tc.problem) {
				t.Errorf("stderr %q does not say %q", stderr, tc.problem)
			}
		})
	}
}

// Values at the edge of each moved check pass Load and then serve's own
// auth setup: what validate accepts, serve accepts.
func TestServeAuthAcceptsWhatLoadAccepts(t *testing.T) {
	cliEnv(t)
	for _, yml := range []string{
		"auth:\n  provider: dev\n  workos:\n    clock_skew: 5m\n    algorithms: [RS256, ES256, EdDSA]\n    scopes_supported: [openid, \"x:y\"]\n    required_scopes: [openid]\n    audiences: [https://a.example/mcp]\n",
		"server:\n  listen: 127.0.0.1:0\n  public_url: https://mcp.example.com\nauth:\n  provider: dev\n",
		"server:\n  listen: 127.0.0.1:0\n  public_url: http://localhost:8080\nauth:\n  provider: dev\n",
		"server:\n  listen: 127.0.0.1:0\n  trusted_proxies: [10.0.0.0/8, \"::ffff:10.0.0.1\"]\nauth:\n  provider: workos\n  workos:\n    subdomain: https://my-co.authkit.app/\n",
		"server:\n  listen: 127.0.0.1:0\nauth:\n  provider: workos\n  workos:\n    subdomain: http://127.0.0.1:9\n",
	} {
		path := writeConfig(t, yml)
		cfg, err := config.Load(path, config.Options{})
		if err != nil {
			t.Fatalf("Load(%q): %v", yml, err)
		}
		// A cancelled context: the verifier starts degraded instead of fetching keys.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s, err := setupAuth(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), "127.0.0.1:8080", nil)
		if err != nil {
			t.Errorf("setupAuth after Load accepted %q: %v", yml, err)
			continue
		}
		s.close()
	}
}

// One file with problems of every kind: each is reported, in line order,
// with its line, by validate and serve alike.
func TestEveryProblemReportedWithItsLine(t *testing.T) {
	cliEnv(t)
	path := writeConfig(t, `server:
  listen: 127.0.0.1:0
  shutdown_timeout: 3x
  public_url: nope
log:
  level: loud
auth:
  provider: dev
  workos:
    clock_skew: 1h
    algorithms: [RS256, none]
bogus: 1
plugins:
  a:
    path: bin/missing
  b:
    pth: bin/plug
`)
	want := []string{
		path + ":3: server.shutdown_timeout: \"3x\" is not a duration",
		path + ":4: server.public_url: \"nope\" must be an absolute http(s) URL",
		path + ":6: log.level: \"loud\" is not one of debug, info, warn, error",
		path + ":10: auth.workos.clock_skew: 1h0m0s exceeds the maximum of 5m0s",
		path + ":11: auth.workos.algorithms[1]: \"none\" is not allowed",
		path + ":12: bogus: unknown key",
		path + ":15: plugins.a.path: binary bin/missing not found (run make build)",
		path + ":16: plugins.b.path: required",
		path + ":17: plugins.b.pth: unknown key",
	}
	for _, cmd := range []string{"validate", "serve"} {
		code, stdout, stderr := runCLI(t, cmd, "-c", path)
		if code != 2 || stdout != "" {
			t.Errorf("%s = %d, stdout %q; want 2 and nothing", cmd, code, stdout)
		}
		checkStderrLines(t, stderr, path, want)
	}
}

// The shipped configs validate as they are, with the plugin binaries and the
// secret file they name in place (and absolute paths moved under a temp dir).
func TestValidateShippedConfigs(t *testing.T) {
	cliEnv(t)
	sample, err := os.ReadFile(filepath.Join("..", "..", "mcphost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cm, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", "configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(cm, &doc); err != nil || doc.Data["mcphost.yaml"] == "" {
		t.Fatalf("deploy/kubernetes/configmap.yaml: no data.mcphost.yaml (%v)", err)
	}
	for name, text := range map[string]string{"mcphost.yaml": string(sample), "deploy configmap": doc.Data["mcphost.yaml"]} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for _, abs := range []string{"/usr/local/lib/mcphost", "/etc/mcphost", "/var/lib/mcphost"} {
				text = strings.ReplaceAll(text, abs, filepath.Join(dir, abs))
			}
			var cfg struct {
				Server struct {
					StateSecretFile string `yaml:"state_secret_file"`
				} `yaml:"server"`
				Plugins map[string]struct {
					Path         string
					SandboxRead  []string `yaml:"sandbox_read"`
					SandboxWrite []string `yaml:"sandbox_write"`
				} `yaml:"plugins"`
			}
			if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
				t.Fatal(err)
			}
			for _, p := range cfg.Plugins {
				stub(t, dir, p.Path, "#!/bin/sh\n", 0o755)
				// Paths a sandbox opens must exist when the config is loaded.
				for _, d := range append(p.SandboxRead, p.SandboxWrite...) {
					if !filepath.IsAbs(d) {
						d = filepath.Join(dir, d)
					}
					if err := os.MkdirAll(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
			}
			if f := cfg.Server.StateSecretFile; f != "" {
				stub(t, dir, f, strings.Repeat("ab", 32)+"\n", 0o600)
			}
			path := filepath.Join(dir, "mcphost.yaml")
			stub(t, dir, path, text, 0o644)
			code, stdout, stderr := runCLI(t, "validate", "-c", path)
			if code != 0 || stdout != path+": ok\n" || stderr != "" {
				t.Errorf("validate = %d, stdout %q, stderr:\n%s", code, stdout, stderr)
			}
		})
	}
}

// stub writes content at path (relative to dir unless absolute).
func stub(t *testing.T, dir, path, content string, mode os.FileMode) {
	t.Helper()
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
