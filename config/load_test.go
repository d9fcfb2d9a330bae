package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ---- helpers ----------------------------------------------------------------

// envFrom returns a LookupEnv that sees only m (never the test process's env).
func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeFile writes content to dir/name (creating parent dirs) with mode and
// returns the path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is subject to umask; force it.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// fixtureDir makes a temp dir holding an executable bin/plug, a non-executable
// bin/noexec and a directory bin/adir, and returns it.
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "bin/plug", "#!/bin/sh\nexit 0\n", 0o755)
	writeFile(t, dir, "bin/noexec", "#!/bin/sh\nexit 0\n", 0o644)
	if err := os.MkdirAll(filepath.Join(dir, "bin", "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loadYAML writes yaml as dir/mcphost.yaml (a fresh fixture dir) and loads it.
func loadYAML(t *testing.T, yaml string, opts Options) (*Config, string, error) {
	t.Helper()
	dir := fixtureDir(t)
	path := writeFile(t, dir, "mcphost.yaml", yaml, 0o644)
	if opts.LookupEnv == nil {
		opts.LookupEnv = envFrom(nil)
	}
	cfg, err := Load(path, opts)
	return cfg, path, err
}

// configErrors splits a Load error into its *Error parts, failing the test if a
// part is not a *Error.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var parts []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts = j.Unwrap()
	} else {
		parts = []error{err}
	}
	out := make([]*Error, 0, len(parts))
	for _, e := range parts {
		var ce *Error
		if !errors.As(e, &ce) {
			t.Fatalf("error part %T %q is not a *config.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

// wantErr describes one expected problem.
type wantErr struct {
	key     string // exact Error.Key
	line    int    // exact Error.Line (0: no line)
	problem string // substring of Error.Problem
}

// checkErrors asserts err holds exactly want (in order), that every line of its
// text is one problem that starts with file, and that nothing else was reported.
func checkErrors(t *testing.T, err error, file string, want []wantErr) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded, want %d error(s): %+v", len(want), want)
	}
	got := configErrors(t, err)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(got) {
		t.Errorf("error text has %d lines for %d problems:\n%s", len(lines), len(got), err)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, file+":") {
			t.Errorf("error line %q does not start with the file %q", l, file+":")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d error(s), want %d:\n%s", len(got), len(want), err)
	}
	for i, w := range want {
		g := got[i]
		if g.File != file {
			t.Errorf("error %d: File = %q, want %q", i, g.File, file)
		}
		if g.Key != w.key {
			t.Errorf("error %d: Key = %q, want %q (%s)", i, g.Key, w.key, g)
		}
		if g.Line != w.line {
			t.Errorf("error %d: Line = %d, want %d (%s)", i, g.Line, w.line, g)
		}
		if !strings.Contains(g.Problem, w.problem) {
			t.Errorf("error %d: Problem = %q, want it to contain %q", i, g.Problem, w.problem)
		}
		if strings.Contains(g.Error(), "\n") {
			t.Errorf("error %d is not one line: %q", i, g.Error())
		}
		wantText := file
		if w.line > 0 {
			wantText += ":" + strconv.Itoa(w.line)
		}
		if w.key != "" {
			wantText += ": " + w.key
		}
		wantText += ": "
		if !strings.HasPrefix(g.Error(), wantText) {
			t.Errorf("error %d text %q does not start with %q", i, g.Error(), wantText)
		}
	}
}

const sub = "my-co.authkit.app"

// withSub is an env holding only the WorkOS subdomain default.
var withSub = map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub}

// ---- Error formatting ---------------------------------------------------------

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "c.yaml", Line: 3, Key: "server.listen", Problem: "bad"}, "c.yaml:3: server.listen: bad"},
		{Error{File: "c.yaml", Key: "server.listen", Problem: "bad"}, "c.yaml: server.listen: bad"},
		{Error{File: "c.yaml", Line: 7, Problem: "bad"}, "c.yaml:7: bad"},
		{Error{File: "c.yaml", Problem: "bad"}, "c.yaml: bad"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

// ---- defaults -------------------------------------------------------------------

func checkDefaults(t *testing.T, cfg *Config, path string) {
	t.Helper()
	abs, _ := filepath.Abs(path)
	if cfg.File != abs || cfg.Dir != filepath.Dir(abs) {
		t.Errorf("File, Dir = %q, %q; want %q, %q", cfg.File, cfg.Dir, abs, filepath.Dir(abs))
	}
	s := cfg.Server
	if s.Listen != "127.0.0.1:8080" || DefaultListen != "127.0.0.1:8080" {
		t.Errorf("Server.Listen = %q, want 127.0.0.1:8080", s.Listen)
	}
	if s.PublicURL != "" || s.TrustedProxies != nil || s.Stateless || s.JSONResponse {
		t.Errorf("Server = %+v, want no public_url/trusted_proxies/stateless/json_response", s)
	}
	if s.SessionTimeout != 30*time.Minute || s.ShutdownTimeout != 15*time.Second || s.MaxBodyBytes != 4<<20 || s.EventStore != "memory" || s.AllowedOrigins != nil {
		t.Errorf("Server timeouts/body = %v %v %d", s.SessionTimeout, s.ShutdownTimeout, s.MaxBodyBytes)
	}
	if cfg.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("Log = %+v, want info/text", cfg.Log)
	}
	if want := filepath.Join(filepath.Dir(abs), ".mcphost"); cfg.DataDir != want {
		t.Errorf("DataDir = %q, want %q", cfg.DataDir, want)
	}
	a := cfg.Auth
	if a.Provider != "workos" || a.AllowUnauthenticated {
		t.Errorf("Auth = %+v, want provider workos, allow_unauthenticated false", a)
	}
	w := a.WorkOS
	if !w.VerifyJWT || w.ClockSkew != 60*time.Second || !reflect.DeepEqual(w.Algorithms, []string{"RS256"}) ||
		!reflect.DeepEqual(w.ScopesSupported, []string{"email", "offline_access", "openid", "profile"}) ||
		w.Audiences != nil || w.RequiredScopes != nil || w.ResourceName != "mcphost" ||
		w.APIKey != "" || w.APIURL != "https://api.workos.com" || w.RolesTTL != 5*time.Minute {
		t.Errorf("WorkOS = %+v, not the defaults", w)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "\n", "# only a comment\n", "---\n", "server:\n", "server:\nauth:\n  workos:\n"} {
		t.Run(strings.ReplaceAll(content, "\n", `\n`), func(t *testing.T) {
			t.Parallel()
			cfg, path, err := loadYAML(t, content, Options{LookupEnv: envFrom(withSub)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			checkDefaults(t, cfg, path)
			if cfg.Auth.WorkOS.Subdomain != sub {
				t.Errorf("Subdomain = %q, want %q from MCP_USE_OAUTH_WORKOS_SUBDOMAIN", cfg.Auth.WorkOS.Subdomain, sub)
			}
			if len(cfg.Plugins) != 0 {
				t.Errorf("Plugins = %v, want none", cfg.Plugins)
			}
		})
	}
}

func TestLoadEmptyFileNeedsSubdomain(t *testing.T) {
	t.Parallel()
	cfg, path, err := loadYAML(t, "", Options{})
	if cfg != nil {
		t.Error("Load returned a Config along with an error")
	}
	checkErrors(t, err, path, []wantErr{{key: "auth.workos.subdomain", problem: "MCP_USE_OAUTH_WORKOS_SUBDOMAIN"}})
}

func TestLoadMinimal(t *testing.T) {
	t.Parallel()
	cfg, path, err := loadYAML(t, `
auth:
  workos:
    subdomain: my-co.authkit.app
plugins:
  whoami:
    path: bin/plug
`, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	checkDefaults(t, cfg, path)
	if cfg.Auth.WorkOS.Subdomain != sub {
		t.Errorf("Subdomain = %q", cfg.Auth.WorkOS.Subdomain)
	}
	p := cfg.Plugins["whoami"]
	if p == nil || len(cfg.Plugins) != 1 {
		t.Fatalf("Plugins = %v, want just whoami", cfg.Plugins)
	}
	want := &Plugin{
		Name:           "whoami",
		Path:           filepath.Join(cfg.Dir, "bin", "plug"),
		CallTimeout:    30 * time.Second,
		MaxConcurrency: 32,
		StartTimeout:   15 * time.Second,
		DrainTimeout:   30 * time.Second,
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("plugin = %+v\nwant     %+v", p, want)
	}
	if p.ToolTimeout("anything") != 30*time.Second {
		t.Errorf("ToolTimeout = %v, want the 30s default", p.ToolTimeout("anything"))
	}
}

// The sample config shipped at the repository root must validate as is.
func TestLoadShippedSample(t *testing.T) {
	t.Parallel()
	cfg, err := Load(filepath.Join("..", "mcphost.yaml"), Options{LookupEnv: envFrom(nil), SkipFileChecks: true})
	if err != nil {
		t.Fatalf("Load(../mcphost.yaml): %v", err)
	}
	if cfg.Auth.Provider != "dev" || cfg.Plugins["whoami"] == nil {
		t.Errorf("sample config = %+v", cfg)
	}
}

func TestLoadFull(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	abs := filepath.Join(dir, "bin", "plug")
	path := writeFile(t, dir, "mcphost.yaml", `
server:
  listen: "127.0.0.1:9090"
  public_url: https://mcp.example.com/
  trusted_proxies: [10.0.0.0/8, 192.168.1.1, "::1", "fd00::/8"]
  stateless: true
  json_response: TRUE
  session_timeout: 1h
  shutdown_timeout: 500ms
  max_body_bytes: 1024
  event_store: none
  allowed_origins: ["https://app.example.com/", "https://b.example.com"]
  state_secret: 0123456789abcdef0123456789abcdef
  request_state_ttl: 2m
  read_timeout: 5s
  write_timeout: 6s
  idle_timeout: 7s
  max_connections: 100
  max_connections_per_ip: 10
  max_sessions: 50
  max_sessions_per_user: 5
  max_streams: 40
  max_streams_per_user: 4
log:
  level: debug
  format: json
data_dir: /var/lib/mcphost/../mcphost
auth:
  provider: workos
  allow_unauthenticated: false
  workos:
    subdomain: acme.authkit.app
    verify_jwt: false
    scopes_supported: [openid]
    audiences: a, b ,c
    algorithms: [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA]
    clock_skew: 5s
    required_scopes: single
    resource_name: Acme MCP
    api_key: sk_test_full
    api_url: http://127.0.0.1:8099
    roles_ttl: 90s
plugins:
  docs:
    path: `+abs+`
    args: [--verbose, "-x"]
    env:
      TOKEN: literal
      EMPTY:
    sha256: ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789
    prefix: docs.
    call_timeout: 2m
    max_concurrency: 4
    start_timeout: 1s
    drain_timeout: 5s
    require_roles: [admin, editor]
    require_permissions: [docs:read]
    require_scopes: [openid]
    require_organization: true
    tools:
      search:
        call_timeout: 5s
        require_permissions: [docs:search]
      delete:
        require_roles: [admin]
        require_organization: false
      plain:
`, 0o644)
	cfg, err := Load(path, Options{LookupEnv: envFrom(nil)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	wantServer := Server{
		Listen:          "127.0.0.1:9090",
		PublicURL:       "https://mcp.example.com",
		TrustedProxies:  []string{"10.0.0.0/8", "192.168.1.1", "::1", "fd00::/8"},
		Stateless:       true,
		JSONResponse:    true,
		SessionTimeout:  time.Hour,
		ShutdownTimeout: 500 * time.Millisecond,
		MaxBodyBytes:    1024,
		EventStore:      "none",
		ReadyRequires:   "required",
		Store:           "memory",
		AllowedOrigins:  []string{"https://app.example.com", "https://b.example.com"},
		StateSecret:     "0123456789abcdef0123456789abcdef",
		RequestStateTTL: 2 * time.Minute,

		ReadTimeout: 5 * time.Second, WriteTimeout: 6 * time.Second, IdleTimeout: 7 * time.Second,
		MaxConnections: 100, MaxConnectionsPerIP: 10,
		MaxSessions: 50, MaxSessionsPerUser: 5,
		MaxStreams: 40, MaxStreamsPerUser: 4,
	}
	if !reflect.DeepEqual(cfg.Server, wantServer) {
		t.Errorf("Server = %+v\nwant     %+v", cfg.Server, wantServer)
	}
	if cfg.Log != (Log{Level: "debug", Format: "json"}) {
		t.Errorf("Log = %+v", cfg.Log)
	}
	if cfg.DataDir != "/var/lib/mcphost" {
		t.Errorf("DataDir = %q, want the cleaned absolute path", cfg.DataDir)
	}
	wantAuth := Auth{
		Provider: "workos",
		WorkOS: WorkOS{
			Subdomain:       "acme.authkit.app",
			VerifyJWT:       false,
			ScopesSupported: []string{"openid"},
			Audiences:       []string{"a", "b", "c"},
			Algorithms:      []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"},
			ClockSkew:       5 * time.Second,
			RequiredScopes:  []string{"single"},
			ResourceName:    "Acme MCP",
			APIKey:          "sk_test_full",
			APIURL:          "http://127.0.0.1:8099",
			RolesTTL:        90 * time.Second,
		},
	}
	if !reflect.DeepEqual(cfg.Auth, wantAuth) {
		t.Errorf("Auth = %+v\nwant   %+v", cfg.Auth, wantAuth)
	}
	p := cfg.Plugins["docs"]
	wantPlugin := &Plugin{
		Name:           "docs",
		Path:           abs,
		Args:           []string{"--verbose", "-x"},
		Env:            map[string]string{"TOKEN": "literal", "EMPTY": ""},
		SHA256:         "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
		Prefix:         "docs.",
		CallTimeout:    2 * time.Minute,
		MaxConcurrency: 4,
		StartTimeout:   time.Second,
		DrainTimeout:   5 * time.Second,
		Policy: Policy{
			RequireRoles:        []string{"admin", "editor"},
			RequirePermissions:  []string{"docs:read"},
			RequireScopes:       []string{"openid"},
			RequireOrganization: true,
		},
		Tools: map[string]*Tool{
			"search": {CallTimeout: 5 * time.Second, Policy: Policy{RequirePermissions: []string{"docs:search"}}},
			"delete": {Policy: Policy{RequireRoles: []string{"admin"}}},
			"plain":  {},
		},
	}
	if !reflect.DeepEqual(p, wantPlugin) {
		t.Errorf("plugin = %+v\nwant     %+v", p, wantPlugin)
		for k, v := range p.Tools {
			t.Logf("tool %s = %+v", k, v)
		}
	}
}

// ---- error paths ----------------------------------------------------------------

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	const plug = "plugins:\n  x:\n    path: bin/plug\n"
	tests := []struct {
		name string
		yaml string
		env  map[string]string // nil: withSub
		opts Options
		want []wantErr
	}{
		// decoding: unknown keys, with their line
		{
			name: "unknown top-level key",
			yaml: "server:\n  listen: 127.0.0.1:8080\nserverr:\n  listen: x\n",
			want: []wantErr{{key: "serverr", line: 3, problem: "unknown key (known: audit, auth, data_dir, dev, hot_reload, limits, log, metrics, plugin_dir, plugins, server, tracing)"}},
		},
		{
			name: "unknown nested key plugins.x.pth",
			yaml: "server:\n  listen: 127.0.0.1:9000\nplugins:\n  x:\n    pth: bin/plug\n",
			want: []wantErr{
				{key: "plugins.x.path", line: 4, problem: "required"}, // validation runs on despite the typo
				{key: "plugins.x.pth", line: 5, problem: "unknown key (known: args, call_timeout, drain_timeout, env, max_concurrency, path, prefix, require_organization, require_permissions, require_roles, require_scopes, required, sandbox, sandbox_read, sandbox_write, sha256, start_timeout, tools, user)"},
			},
		},
		{
			name: "unknown server key",
			yaml: "server:\n  listn: 127.0.0.1:8080\n",
			want: []wantErr{{key: "server.listn", line: 2, problem: "unknown key"}},
		},
		{
			name: "unknown auth.workos key",
			yaml: "auth:\n  workos:\n    subdomian: x\n",
			want: []wantErr{{key: "auth.workos.subdomian", line: 3, problem: "unknown key"}},
		},
		{
			name: "unknown tool key",
			yaml: plug + "    tools:\n      t:\n        timeout: 3s\n",
			want: []wantErr{{key: "plugins.x.tools.t.timeout", line: 6, problem: "unknown key (known: call_timeout, limits, require_organization, require_permissions, require_roles, require_scopes)"}},
		},
		{
			name: "yaml-ignored fields are not keys",
			yaml: "file: x\nname: y\n",
			want: []wantErr{{key: "file", line: 1, problem: "unknown key"}, {key: "name", line: 2, problem: "unknown key"}},
		},
		{
			name: "plugin name is not a key",
			yaml: plug + "    name: y\n",
			want: []wantErr{{key: "plugins.x.name", line: 4, problem: "unknown key"}},
		},
		{
			name: "duplicate key",
			yaml: "server:\n  listen: 127.0.0.1:1\n  listen: 0.0.0.0:2\n",
			want: []wantErr{{key: "server.listen", line: 3, problem: "duplicate key (first on line 2)"}},
		},
		{
			name: "duplicate top-level section",
			yaml: "server:\n  listen: 127.0.0.1:1\nlog:\n  level: info\nserver:\n  stateless: true\n",
			want: []wantErr{{key: "server", line: 5, problem: "duplicate key (first on line 1)"}},
		},
		{
			name: "duplicate plugin",
			yaml: plug + "  x:\n    path: bin/other\n",
			want: []wantErr{{key: "plugins.x", line: 4, problem: "duplicate key (first on line 2)"}},
		},

		// decoding: bad scalar values
		{
			name: "bad duration server.shutdown_timeout",
			yaml: "server:\n  shutdown_timeout: 3x\n",
			want: []wantErr{{key: "server.shutdown_timeout", line: 2, problem: `"3x" is not a duration`}},
		},
		{
			name: "bad duration plugins.x.call_timeout",
			yaml: plug + "    call_timeout: 3x\n",
			want: []wantErr{{key: "plugins.x.call_timeout", line: 4, problem: `"3x" is not a duration`}},
		},
		{
			name: "duration without unit",
			yaml: plug + "    start_timeout: 30\n",
			want: []wantErr{{key: "plugins.x.start_timeout", line: 4, problem: `"30" is not a duration`}},
		},
		{
			name: "negative duration",
			yaml: "auth:\n  workos:\n    clock_skew: -1s\n",
			want: []wantErr{{key: "auth.workos.clock_skew", line: 3, problem: `"-1s" is not a duration`}},
		},
		{
			name: "bad tool duration",
			yaml: plug + "    tools:\n      t:\n        call_timeout: soon\n",
			want: []wantErr{{key: "plugins.x.tools.t.call_timeout", line: 6, problem: `"soon" is not a duration`}},
		},
		{
			name: "bad bool",
			yaml: "server:\n  stateless: yes\n",
			want: []wantErr{{key: "server.stateless", line: 2, problem: `"yes" is not true or false`}},
		},
		{
			name: "bad bool allow_unauthenticated",
			yaml: "auth:\n  allow_unauthenticated: maybe\n",
			want: []wantErr{{key: "auth.allow_unauthenticated", line: 2, problem: `"maybe" is not true or false`}},
		},
		{
			name: "bad int max_concurrency",
			yaml: plug + "    max_concurrency: lots\n",
			want: []wantErr{{key: "plugins.x.max_concurrency", line: 4, problem: `"lots" is not a whole number`}},
		},
		{
			name: "bad int max_body_bytes",
			yaml: "server:\n  max_body_bytes: 4MB\n",
			want: []wantErr{{key: "server.max_body_bytes", line: 2, problem: `"4MB" is not a whole number`}},
		},
		{
			name: "float for int",
			yaml: plug + "    max_concurrency: 1.5\n",
			want: []wantErr{{key: "plugins.x.max_concurrency", line: 4, problem: `"1.5" is not a whole number`}},
		},

		// decoding: wrong shapes
		{
			name: "top level is a list",
			yaml: "- a\n- b\n",
			want: []wantErr{{key: "", line: 1, problem: "expected a mapping of keys"}},
		},
		{
			name: "section is a scalar",
			yaml: "server: 127.0.0.1:8080\n",
			want: []wantErr{{key: "server", line: 1, problem: "expected a mapping of keys"}},
		},
		{
			name: "plugins is a list",
			yaml: "plugins:\n  - x\n",
			want: []wantErr{{key: "plugins", line: 2, problem: "expected a mapping"}},
		},
		{
			name: "plugins is a scalar",
			yaml: "plugins: x\n",
			want: []wantErr{{key: "plugins", line: 1, problem: "expected a mapping"}},
		},
		{
			name: "scalar given a list",
			yaml: "server:\n  listen: [a, b]\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: "expected a single value"}},
		},
		{
			name: "list given a mapping",
			yaml: "server:\n  trusted_proxies: {a: b}\n",
			want: []wantErr{{key: "server.trusted_proxies", line: 2, problem: "expected a list"}},
		},
		{
			name: "list of lists",
			yaml: "server:\n  trusted_proxies:\n    - 10.0.0.1\n    - [a]\n",
			want: []wantErr{{key: "server.trusted_proxies[1]", line: 4, problem: "expected a string"}},
		},
		{
			name: "env is a list",
			yaml: plug + "    env: [A=b]\n",
			want: []wantErr{{key: "plugins.x.env", line: 4, problem: "expected a mapping"}},
		},

		// validation: listen address
		{
			name: "listen without port",
			yaml: "server:\n  listen: 127.0.0.1\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: `"127.0.0.1" is not host:port`}},
		},
		{
			name: "listen port 70000",
			yaml: "server:\n  listen: 127.0.0.1:70000\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: `"127.0.0.1:70000" has an invalid port`}},
		},
		{
			name: "listen port empty",
			yaml: "server:\n  listen: \"127.0.0.1:\"\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: "invalid port"}},
		},
		{
			name: "listen port signed",
			yaml: "server:\n  listen: 127.0.0.1:+80\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: "invalid port"}},
		},
		{
			name: "listen port named",
			yaml: "server:\n  listen: 127.0.0.1:http\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: "invalid port"}},
		},
		{
			name: "listen garbage",
			yaml: "server:\n  listen: garbage\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: `"garbage" is not host:port`}},
		},
		{
			name: "listen too many colons",
			yaml: "server:\n  listen: \"::1:8080\"\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: "is not host:port"}},
		},
		{
			name: "listen bare number",
			yaml: "server:\n  listen: 8080\n",
			want: []wantErr{{key: "server.listen", line: 2, problem: `"8080" is not host:port`}},
		},
		{
			name: "--listen override validated",
			yaml: "server:\n  listen: 127.0.0.1:8080\n",
			opts: Options{Listen: "garbage"},
			want: []wantErr{{key: "server.listen (from --listen)", problem: `"garbage" is not host:port`}},
		},

		// validation: server
		{
			name: "public_url without scheme",
			yaml: "server:\n  public_url: mcp.example.com\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: `"mcp.example.com" must be an absolute http(s) URL`}},
		},
		{
			name: "public_url ftp",
			yaml: "server:\n  public_url: ftp://mcp.example.com\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: "must be an absolute http(s) URL"}},
		},
		{
			name: "public_url with path",
			yaml: "server:\n  public_url: https://mcp.example.com/mcp\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: "with no path"}},
		},
		{
			name: "public_url without host",
			yaml: "server:\n  public_url: https://\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: "must be an absolute http(s) URL"}},
		},
		{
			name: "public_url with query",
			yaml: "server:\n  public_url: https://mcp.example.com?x=1\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: "must be an absolute http(s) URL"}},
		},
		{
			name: "public_url with fragment",
			yaml: "server:\n  public_url: https://mcp.example.com/#top\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: "must be an absolute http(s) URL"}},
		},
		{
			name: "public_url unparsable",
			yaml: "server:\n  public_url: \"http://[::1\"\n",
			want: []wantErr{{key: "server.public_url", line: 2, problem: "must be an absolute http(s) URL"}},
		},
		{
			name: "bad trusted_proxies",
			yaml: "server:\n  trusted_proxies: [10.0.0.0/8, bogus, 10.0.0.0/33]\n",
			want: []wantErr{
				{key: "server.trusted_proxies[1]", line: 2, problem: `"bogus" is not an IP address or CIDR prefix`},
				{key: "server.trusted_proxies[2]", line: 2, problem: `"10.0.0.0/33" is not an IP address or CIDR prefix`},
			},
		},
		{
			name: "zero shutdown_timeout",
			yaml: "server:\n  shutdown_timeout: 0s\n",
			want: []wantErr{{key: "server.shutdown_timeout", line: 2, problem: "must be greater than 0"}},
		},
		{
			name: "zero max_body_bytes",
			yaml: "server:\n  max_body_bytes: 0\n",
			want: []wantErr{{key: "server.max_body_bytes", line: 2, problem: "must be greater than 0"}},
		},
		{
			name: "short state_secret",
			yaml: "server:\n  state_secret: tooshort\n",
			want: []wantErr{{key: "server.state_secret", line: 2, problem: "is 8 bytes; it must be at least 32 (for example the output of: openssl rand -hex 32)"}},
		},
		{
			name: "store not a Redis URL",
			yaml: "server:\n  store: http://cache:6379\n",
			want: []wantErr{{key: "server.store", line: 2, problem: "\"http://cache:6379\" is not memory or a Redis URL like redis://host:6379/0 (rediss:// for TLS)"}},
		},
		{
			name: "store URL shown without its password",
			yaml: "server:\n  store: redis://user:hunter2@\n",
			want: []wantErr{{key: "server.store", line: 2, problem: "\"redis://user:xxxxx@\" is not memory or a Redis URL like redis://host:6379/0 (rediss:// for TLS)"}},
		},
		{
			name: "store with a bad database number",
			yaml: "server:\n  store: redis://cache:6379/zero\n  state_secret: 0123456789abcdef0123456789abcdef\n",
			want: []wantErr{{key: "server.store", line: 2, problem: "\"redis://cache:6379/zero\" is not memory or a Redis URL like redis://host:6379/0 (rediss:// for TLS)"}},
		},
		{
			name: "shared store without state_secret",
			yaml: "server:\n  store: redis://cache:6379/0\n",
			want: []wantErr{{key: "server.state_secret", line: 2, problem: "must be set (at least 32 bytes, or server.state_secret_file) when server.store is shared: every replica must verify the request state the others sign"}},
		},
		{
			name: "shared store and stateless",
			yaml: "server:\n  store: rediss://cache:6380/1\n  stateless: true\n  state_secret: 0123456789abcdef0123456789abcdef\n",
			want: []wantErr{{key: "server.store", line: 2, problem: "a shared store holds sessions, and server.stateless has none: drop one of them"}},
		},
		{
			name: "state_secret and state_secret_file",
			yaml: "server:\n  state_secret: 0123456789abcdef0123456789abcdef\n  state_secret_file: secret\n",
			want: []wantErr{{key: "server.state_secret_file", line: 3, problem: "set either server.state_secret or server.state_secret_file, not both"}},
		},
		{
			name: "missing state_secret_file",
			yaml: "server:\n  state_secret_file: /nonexistent/mcphost-secret\n",
			want: []wantErr{{key: "server.state_secret_file", line: 2, problem: "cannot read /nonexistent/mcphost-secret: no such file or directory"}},
		},
		{
			name: "zero request_state_ttl",
			yaml: "server:\n  request_state_ttl: 0s\n",
			want: []wantErr{{key: "server.request_state_ttl", line: 2, problem: "must be greater than 0"}},
		},
		{
			name: "empty data_dir",
			yaml: "data_dir: \"\"\n",
			want: []wantErr{{key: "data_dir", line: 1, problem: "must not be empty"}},
		},

		// validation: log
		{
			name: "bad log.level",
			yaml: "log:\n  level: verbose\n",
			want: []wantErr{{key: "log.level", line: 2, problem: `"verbose" is not one of debug, info, warn, error`}},
		},
		{
			name: "bad log.format",
			yaml: "log:\n  format: xml\n",
			want: []wantErr{{key: "log.format", line: 2, problem: `"xml" is not one of text, json`}},
		},
		{
			name: "log.level is case-sensitive",
			yaml: "log:\n  level: INFO\n",
			want: []wantErr{{key: "log.level", line: 2, problem: `"INFO"`}},
		},

		// validation: auth
		{
			name: "bad auth.provider",
			yaml: "auth:\n  provider: okta\n",
			want: []wantErr{{key: "auth.provider", line: 2, problem: `"okta" is not one of workos, dev, none`}},
		},
		{
			name: "workos without subdomain",
			yaml: "auth:\n  provider: workos\n",
			env:  map[string]string{},
			want: []wantErr{{key: "auth.workos.subdomain", line: 1, problem: "required with auth.provider workos: set it, or the MCP_USE_OAUTH_WORKOS_SUBDOMAIN environment variable"}},
		},
		{
			name: "workos with blank subdomain",
			yaml: "auth:\n  workos:\n    subdomain: \"  \"\n",
			want: []wantErr{{key: "auth.workos.subdomain", line: 3, problem: "MCP_USE_OAUTH_WORKOS_SUBDOMAIN"}},
		},
		{
			name: "none on 0.0.0.0",
			yaml: "server:\n  listen: 0.0.0.0:8080\nauth:\n  provider: none\n",
			want: []wantErr{{key: "auth.provider", line: 4, problem: "set auth.allow_unauthenticated: true to accept that risk"}},
		},
		{
			name: "none on all interfaces",
			yaml: "server:\n  listen: \":8080\"\nauth:\n  provider: none\n",
			want: []wantErr{{key: "auth.provider", line: 4, problem: "only listens on loopback"}},
		},
		{
			name: "none on [::]",
			yaml: "server:\n  listen: \"[::]:8080\"\nauth:\n  provider: none\n  allow_unauthenticated: false\n",
			want: []wantErr{{key: "auth.provider", line: 4, problem: "only listens on loopback"}},
		},
		{
			name: "dev on non-loopback",
			yaml: "server:\n  listen: 0.0.0.0:8080\nauth:\n  provider: dev\n",
			want: []wantErr{{key: "auth.provider", line: 4, problem: "the dev issuer only serves on loopback"}},
		},
		{
			name: "dev on non-loopback even with allow_unauthenticated",
			yaml: "server:\n  listen: 10.1.2.3:8080\nauth:\n  provider: dev\n  allow_unauthenticated: true\n",
			want: []wantErr{{key: "auth.provider", line: 4, problem: "the dev issuer only serves on loopback"}},
		},
		{
			name: "forced dev on non-loopback",
			yaml: "server:\n  listen: 0.0.0.0:8080\n",
			opts: Options{ForceProvider: "dev"},
			want: []wantErr{{key: "auth.provider (from mcphost dev)", problem: "the dev issuer only serves on loopback"}},
		},
		{
			name: "algorithm none",
			yaml: "auth:\n  workos:\n    algorithms: [none]\n",
			want: []wantErr{{key: "auth.workos.algorithms[0]", line: 3, problem: `"none" is not allowed`}},
		},
		{
			name: "algorithm HS256 among good ones",
			yaml: "auth:\n  workos:\n    algorithms: [RS256, HS256, none, rs256]\n",
			want: []wantErr{
				{key: "auth.workos.algorithms[1]", line: 3, problem: `"HS256" is not allowed (symmetric algorithms cannot be verified with a public JWKS)`},
				{key: "auth.workos.algorithms[2]", line: 3, problem: `"none" is not allowed`},
				{key: "auth.workos.algorithms[3]", line: 3, problem: `"rs256" is not supported (supported: RS256, RS384`},
			},
		},
		{
			name: "algorithm as scalar",
			yaml: "auth:\n  workos:\n    algorithms: HS256\n",
			want: []wantErr{{key: "auth.workos.algorithms[0]", line: 3, problem: `"HS256"`}},
		},
		{
			name: "no algorithms",
			yaml: "auth:\n  workos:\n    algorithms: []\n",
			want: []wantErr{{key: "auth.workos.algorithms", line: 3, problem: "must list at least one algorithm"}},
		},

		// validation: plugins
		{
			name: "missing plugin binary",
			yaml: "plugins:\n  x:\n    path: bin/missing\n",
			want: []wantErr{{key: "plugins.x.path", line: 3, problem: "binary bin/missing not found (run make build)"}},
		},
		{
			name: "non-executable plugin binary",
			yaml: "plugins:\n  x:\n    path: bin/noexec\n",
			want: []wantErr{{key: "plugins.x.path", line: 3, problem: "bin/noexec is not an executable file"}},
		},
		{
			name: "directory as plugin binary",
			yaml: "plugins:\n  x:\n    path: bin/adir\n",
			want: []wantErr{{key: "plugins.x.path", line: 3, problem: "bin/adir is not an executable file"}},
		},
		{
			name: "no plugin path",
			yaml: "plugins:\n  x:\n    call_timeout: 1s\n",
			want: []wantErr{{key: "plugins.x.path", line: 2, problem: "required: the plugin binary, for example bin/plugins/x"}},
		},
		{
			name: "empty plugin entry",
			yaml: "plugins:\n  x:\n",
			want: []wantErr{{key: "plugins.x.path", line: 2, problem: "required"}},
		},
		{
			name: "bad sha256 short",
			yaml: plug + "    sha256: abc\n",
			want: []wantErr{{key: "plugins.x.sha256", line: 4, problem: "must be 64 hex digits (the output of sha256sum)"}},
		},
		{
			name: "bad sha256 not hex",
			yaml: plug + "    sha256: " + strings.Repeat("z", 64) + "\n",
			want: []wantErr{{key: "plugins.x.sha256", line: 4, problem: "must be 64 hex digits"}},
		},
		{
			name: "bad sha256 too long",
			yaml: plug + "    sha256: " + strings.Repeat("ab", 33) + "\n",
			want: []wantErr{{key: "plugins.x.sha256", line: 4, problem: "must be 64 hex digits"}},
		},
		{
			name: "bad prefix with space",
			yaml: plug + "    prefix: \"a b\"\n",
			want: []wantErr{{key: "plugins.x.prefix", line: 4, problem: `"a b" may only hold letters, digits, _ - and .`}},
		},
		{
			name: "bad prefix with slash",
			yaml: plug + "    prefix: a/b\n",
			want: []wantErr{{key: "plugins.x.prefix", line: 4, problem: `"a/b"`}},
		},
		{
			name: "prefix too long",
			yaml: plug + "    prefix: " + strings.Repeat("p", 65) + "\n",
			want: []wantErr{{key: "plugins.x.prefix", line: 4, problem: "may only hold"}},
		},
		{
			name: "bad plugin name with space",
			yaml: "plugins:\n  \"bad name\":\n    path: bin/plug\n",
			want: []wantErr{{key: "plugins.bad name", line: 2, problem: "plugin name must be letters, digits, - or _ (at most 64)"}},
		},
		{
			name: "bad plugin name leading dash",
			yaml: "plugins:\n  -x:\n    path: bin/plug\n",
			want: []wantErr{{key: "plugins.-x", line: 2, problem: "plugin name must be"}},
		},
		{
			name: "plugin name too long",
			yaml: "plugins:\n  " + strings.Repeat("n", 65) + ":\n    path: bin/plug\n",
			want: []wantErr{{key: "plugins." + strings.Repeat("n", 65), line: 2, problem: "at most 64"}},
		},
		{
			name: "zero call_timeout",
			yaml: plug + "    call_timeout: 0s\n",
			want: []wantErr{{key: "plugins.x.call_timeout", line: 4, problem: "must be greater than 0"}},
		},
		{
			name: "zero start_timeout",
			yaml: plug + "    start_timeout: 0s\n",
			want: []wantErr{{key: "plugins.x.start_timeout", line: 4, problem: "must be greater than 0"}},
		},
		{
			name: "zero max_concurrency",
			yaml: plug + "    max_concurrency: 0\n",
			want: []wantErr{{key: "plugins.x.max_concurrency", line: 4, problem: "must be at least 1"}},
		},
		{
			name: "negative max_concurrency",
			yaml: plug + "    max_concurrency: -3\n",
			want: []wantErr{{key: "plugins.x.max_concurrency", line: 4, problem: "must be at least 1"}},
		},
		{
			name: "bad env var names",
			yaml: plug + "    env:\n      1BAD: x\n      BAD-NAME: y\n      GOOD: z\n",
			want: []wantErr{
				{key: "plugins.x.env.1BAD", line: 5, problem: "not a valid environment variable name"},
				{key: "plugins.x.env.BAD-NAME", line: 6, problem: "not a valid environment variable name"},
			},
		},
		{
			name: "bad ${} references",
			yaml: plug + "    env:\n      A: \"${}\"\n      B: \"x${1X}y\"\n      C: \"${A B}\"\n      D: \"${A-B} ${OK}\"\n",
			want: []wantErr{
				{key: "plugins.x.env.A", line: 5, problem: "${} is not a valid ${VAR} reference"},
				{key: "plugins.x.env.B", line: 6, problem: "${1X} is not a valid ${VAR} reference"},
				{key: "plugins.x.env.C", line: 7, problem: "${A B} is not a valid ${VAR} reference"},
				{key: "plugins.x.env.D", line: 8, problem: "${A-B} is not a valid ${VAR} reference"},
			},
		},

		// environment overrides that do not parse or validate
		{
			name: "bad duration from MCPHOST_",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_SERVER_SHUTDOWN_TIMEOUT": "3x"},
			want: []wantErr{{key: "server.shutdown_timeout (from MCPHOST_SERVER_SHUTDOWN_TIMEOUT)", problem: `"3x" is not a duration`}},
		},
		{
			name: "bad int from MCPHOST_PLUGINS_",
			yaml: plug,
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_PLUGINS_X_MAX_CONCURRENCY": "many"},
			want: []wantErr{{key: "plugins.x.max_concurrency (from MCPHOST_PLUGINS_X_MAX_CONCURRENCY)", problem: `"many" is not a whole number`}},
		},
		{
			name: "bad bool from MCPHOST_",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_AUTH_WORKOS_VERIFY_JWT": "nope"},
			want: []wantErr{{key: "auth.workos.verify_jwt (from MCPHOST_AUTH_WORKOS_VERIFY_JWT)", problem: `"nope" is not true or false`}},
		},
		{
			name: "verify_jwt false on a non-loopback listen address",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_AUTH_WORKOS_VERIFY_JWT": "false", "MCPHOST_SERVER_LISTEN": "0.0.0.0:8080"},
			want: []wantErr{{key: "auth.workos.verify_jwt (from MCPHOST_AUTH_WORKOS_VERIFY_JWT)", problem: "only listens on loopback"}},
		},
		{
			name: "bad listen from MCPHOST_SERVER_LISTEN",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_SERVER_LISTEN": "garbage"},
			want: []wantErr{{key: "server.listen (from MCPHOST_SERVER_LISTEN)", problem: `"garbage" is not host:port`}},
		},
		{
			name: "bad provider from MCPHOST_AUTH_PROVIDER",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_AUTH_PROVIDER": "bogus"},
			want: []wantErr{{key: "auth.provider (from MCPHOST_AUTH_PROVIDER)", problem: `"bogus" is not one of`}},
		},
		{
			name: "bad MCP_URL",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCP_URL": "https://mcp.example.com/mcp"},
			want: []wantErr{{key: "server.public_url (from MCP_URL)", problem: "with no path"}},
		},

		// several problems: every one is reported, in file order
		{
			name: "several decode problems",
			yaml: "server:\n  listen: 127.0.0.1:8080\n  shutdown_timeout: 3x\n  stateless: maybe\nbogus: 1\nplugins:\n  x:\n    pth: a\n    max_concurrency: many\n",
			want: []wantErr{
				{key: "server.shutdown_timeout", line: 3, problem: "not a duration"},
				{key: "server.stateless", line: 4, problem: "not true or false"},
				{key: "bogus", line: 5, problem: "unknown key"},
				{key: "plugins.x.path", line: 7, problem: "required"},
				{key: "plugins.x.pth", line: 8, problem: "unknown key"},
				{key: "plugins.x.max_concurrency", line: 9, problem: "not a whole number"},
			},
		},
		{
			name: "several validation problems",
			yaml: "server:\n  listen: 0.0.0.0:70000\n  public_url: nope\nlog:\n  level: loud\n  format: xml\nauth:\n  provider: none\n  workos:\n    algorithms: [HS256]\n" +
				"plugins:\n  a:\n    path: bin/missing\n    sha256: xyz\n  b:\n    path: bin/noexec\n    prefix: \"b b\"\n",
			want: []wantErr{
				{key: "server.listen", line: 2, problem: "invalid port"},
				{key: "server.public_url", line: 3, problem: "absolute http(s) URL"},
				{key: "log.level", line: 5, problem: `"loud"`},
				{key: "log.format", line: 6, problem: `"xml"`},
				// no auth.provider loopback problem: it would follow from the refused listen
				{key: "auth.workos.algorithms[0]", line: 10, problem: `"HS256"`},
				{key: "plugins.a.path", line: 13, problem: "run make build"},
				{key: "plugins.a.sha256", line: 14, problem: "64 hex digits"},
				{key: "plugins.b.path", line: 16, problem: "not an executable file"},
				{key: "plugins.b.prefix", line: 17, problem: `"b b"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := tt.env
			if env == nil {
				env = withSub
			}
			opts := tt.opts
			opts.LookupEnv = envFrom(env)
			cfg, path, err := loadYAML(t, tt.yaml, opts)
			if cfg != nil {
				t.Error("Load returned a Config along with an error")
			}
			checkErrors(t, err, path, tt.want)
		})
	}
}

func TestLoadInvalidYAML(t *testing.T) {
	t.Parallel()
	// yaml.v3 names a line for some syntax errors only; the error has it when it does.
	for content, line := range map[string]int{"server:\n  listen: [\n": 2, "\t- x\n": 0, "a: b: c\n": 0, "server:\n listen: x\n  stateless: true\n": 3} {
		cfg, path, err := loadYAML(t, content, Options{LookupEnv: envFrom(withSub)})
		if cfg != nil {
			t.Error("Load returned a Config along with an error")
		}
		errs := configErrors(t, err)
		if len(errs) != 1 {
			t.Fatalf("%q: got %d errors, want 1: %v", content, len(errs), err)
		}
		e := errs[0]
		if e.File != path || e.Key != "" || !strings.HasPrefix(e.Problem, "invalid YAML: ") || strings.Contains(e.Problem, "yaml: ") {
			t.Errorf("%q: error = %+v", content, e)
		}
		want := path + ":" + strconv.Itoa(line) + ": invalid YAML: "
		if line == 0 {
			want = path + ": invalid YAML: "
		}
		if e.Line != line || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: text = %q", content, err)
		}
	}
}

func TestLoadUnreadableConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		problem string
	}{
		{"missing", filepath.Join(dir, "nope.yaml"), "cannot read config: no such file or directory"},
		{"missing dir", filepath.Join(dir, "no", "such", "mcphost.yaml"), "cannot read config: no such file or directory"},
		{"directory", dir, "cannot read config:"},
	}
	if os.Geteuid() != 0 {
		p := writeFile(t, dir, "secret.yaml", "server:\n", 0o000)
		tests = append(tests, struct{ name, path, problem string }{"no permission", p, "cannot read config: permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.path, Options{LookupEnv: envFrom(withSub)})
			if cfg != nil {
				t.Error("Load returned a Config along with an error")
			}
			errs := configErrors(t, err)
			if len(errs) != 1 {
				t.Fatalf("got %d errors: %v", len(errs), err)
			}
			if errs[0].File != tt.path || !strings.Contains(errs[0].Problem, tt.problem) {
				t.Errorf("error = %+v, want File %q and a problem containing %q", errs[0], tt.path, tt.problem)
			}
			if want := tt.path + ": cannot read config: "; !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), tt.path) != 1 {
				t.Errorf("text = %q, want it to start with %q and name the file once", err, want)
			}
		})
	}
}

func TestLoadDotEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		dotenv string
		lines  []int // every malformed line, in order
	}{
		{"no equals", "# comment\nGOOD=1\nNOEQUALS\n", []int{3}},
		{"bad name", "1BAD=x\n", []int{1}},
		{"empty name", "=x\n", []int{1}},
		{"name with dash", "\n\nA-B=x\n", []int{3}},
		{"every bad line", "A=1\nnope\nB=2\n-x=1\nexport\n", []int{2, 4, 5}},
		{"CRLF lines", "A=1\r\nnope\r\n", []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := fixtureDir(t)
			envPath := writeFile(t, dir, ".env", tt.dotenv, 0o644)
			path := writeFile(t, dir, "mcphost.yaml", "", 0o644)
			cfg, err := Load(path, Options{LookupEnv: envFrom(withSub)})
			if cfg != nil {
				t.Error("Load returned a Config along with an error")
			}
			errs := configErrors(t, err)
			if len(errs) != len(tt.lines) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tt.lines), err)
			}
			for i, e := range errs {
				if e.File != envPath || e.Line != tt.lines[i] || e.Key != "" || e.Problem != "expected KEY=VALUE" {
					t.Errorf("error %d = %+v, want File %q Line %d and problem expected KEY=VALUE", i, e, envPath, tt.lines[i])
				}
			}
			if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.lines) {
				t.Errorf("error text has %d lines, want %d: %q", n, len(tt.lines), err)
			}
		})
	}
}

// A long line is a value like any other (a PEM key, a JWT), not a read error.
func TestLoadDotEnvLongLine(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	long := strings.Repeat("x", 100_000)
	writeFile(t, dir, ".env", "A=1\nMCPHOST_SERVER_STATE_SECRET="+long+"\nC=3\n", 0o644)
	path := writeFile(t, dir, "mcphost.yaml", "", 0o644)
	cfg, err := Load(path, Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.StateSecret != long {
		t.Errorf("state secret from .env has %d bytes, want %d", len(cfg.Server.StateSecret), len(long))
	}
}

func TestLoadDotEnvIsDirectory(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, dir, "mcphost.yaml", "", 0o644)
	_, err := Load(path, Options{LookupEnv: envFrom(withSub)})
	errs := configErrors(t, err)
	if len(errs) != 1 || errs[0].File != filepath.Join(dir, ".env") || !strings.Contains(errs[0].Problem, "cannot read") {
		t.Errorf("error = %v", err)
	}
}

// ---- success paths ----------------------------------------------------------

func TestLoadSuccess(t *testing.T) {
	t.Parallel()
	const plug = "plugins:\n  my-plug:\n    path: bin/plug\n"
	tests := []struct {
		name   string
		yaml   string
		dotenv string // written as .env next to the config when set
		env    map[string]string
		opts   Options
		check  func(t *testing.T, c *Config)
	}{
		{
			name: "MCPHOST_SERVER_LISTEN overrides the file",
			yaml: "server:\n  listen: 127.0.0.1:1111\n",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_SERVER_LISTEN": "127.0.0.1:9999"},
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen != "127.0.0.1:9999" {
					t.Errorf("Listen = %q", c.Server.Listen)
				}
			},
		},
		{
			name: "--listen beats the file and MCPHOST_SERVER_LISTEN",
			yaml: "server:\n  listen: 127.0.0.1:1111\n",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_SERVER_LISTEN": "127.0.0.1:9999"},
			opts: Options{Listen: "[::1]:7777"},
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen != "[::1]:7777" {
					t.Errorf("Listen = %q", c.Server.Listen)
				}
			},
		},
		{
			name: "MCPHOST_PLUGINS_<NAME>_CALL_TIMEOUT with a dashed name",
			yaml: plug + "    call_timeout: 10s\n",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_PLUGINS_MY_PLUG_CALL_TIMEOUT": "5s"},
			check: func(t *testing.T, c *Config) {
				if got := c.Plugins["my-plug"].CallTimeout; got != 5*time.Second {
					t.Errorf("CallTimeout = %v, want 5s", got)
				}
			},
		},
		{
			name: "plugin overrides: policy (inline), tool timeout, int, list",
			yaml: plug + "    tools:\n      do_it:\n        call_timeout: 1s\n",
			env: map[string]string{
				"MCP_USE_OAUTH_WORKOS_SUBDOMAIN":                     sub,
				"MCPHOST_PLUGINS_MY_PLUG_REQUIRE_ROLES":              "admin, ops",
				"MCPHOST_PLUGINS_MY_PLUG_REQUIRE_ORGANIZATION":       "true",
				"MCPHOST_PLUGINS_MY_PLUG_MAX_CONCURRENCY":            "2",
				"MCPHOST_PLUGINS_MY_PLUG_TOOLS_DO_IT_CALL_TIMEOUT":   "7s",
				"MCPHOST_PLUGINS_MY_PLUG_TOOLS_DO_IT_REQUIRE_SCOPES": "write",
				"MCPHOST_PLUGINS_MY_PLUG_ARGS":                       "--a,--b",
			},
			check: func(t *testing.T, c *Config) {
				p := c.Plugins["my-plug"]
				if !reflect.DeepEqual(p.RequireRoles, []string{"admin", "ops"}) || !p.RequireOrganization || p.MaxConcurrency != 2 {
					t.Errorf("plugin = %+v", p)
				}
				if !reflect.DeepEqual(p.Args, []string{"--a", "--b"}) {
					t.Errorf("Args = %q", p.Args)
				}
				tool := p.Tools["do_it"]
				if tool.CallTimeout != 7*time.Second || !reflect.DeepEqual(tool.RequireScopes, []string{"write"}) {
					t.Errorf("tool = %+v", tool)
				}
			},
		},
		{
			name: "list override via comma list",
			yaml: "auth:\n  workos:\n    audiences: [x]\n",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_AUTH_WORKOS_AUDIENCES": "a,b"},
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Auth.WorkOS.Audiences, []string{"a", "b"}) {
					t.Errorf("Audiences = %q, want [a b]", c.Auth.WorkOS.Audiences)
				}
			},
		},
		{
			name: "comma list trims blanks and empties",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_SERVER_TRUSTED_PROXIES": " 10.0.0.0/8 ,, ::1 ,"},
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Server.TrustedProxies, []string{"10.0.0.0/8", "::1"}) {
					t.Errorf("TrustedProxies = %q", c.Server.TrustedProxies)
				}
			},
		},
		{
			name: "scalar and top-level overrides",
			env: map[string]string{
				"MCP_USE_OAUTH_WORKOS_SUBDOMAIN":    sub,
				"MCPHOST_SERVER_STATELESS":          "true",
				"MCPHOST_SERVER_MAX_BODY_BYTES":     "99",
				"MCPHOST_SERVER_SHUTDOWN_TIMEOUT":   "2s",
				"MCPHOST_LOG_LEVEL":                 "debug",
				"MCPHOST_DATA_DIR":                  "state",
				"MCPHOST_AUTH_WORKOS_RESOURCE_NAME": "R",
			},
			check: func(t *testing.T, c *Config) {
				if !c.Server.Stateless || c.Server.MaxBodyBytes != 99 || c.Server.ShutdownTimeout != 2*time.Second ||
					c.Log.Level != "debug" || c.DataDir != filepath.Join(c.Dir, "state") || c.Auth.WorkOS.ResourceName != "R" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "MCP_USE_OAUTH_WORKOS_SUBDOMAIN is the default",
			env:  withSub,
			check: func(t *testing.T, c *Config) {
				if c.Auth.WorkOS.Subdomain != sub {
					t.Errorf("Subdomain = %q", c.Auth.WorkOS.Subdomain)
				}
			},
		},
		{
			name: "the file beats MCP_USE_OAUTH_WORKOS_SUBDOMAIN",
			yaml: "auth:\n  workos:\n    subdomain: file.authkit.app\n",
			env:  withSub,
			check: func(t *testing.T, c *Config) {
				if c.Auth.WorkOS.Subdomain != "file.authkit.app" {
					t.Errorf("Subdomain = %q", c.Auth.WorkOS.Subdomain)
				}
			},
		},
		{
			name: "MCPHOST_AUTH_WORKOS_SUBDOMAIN beats the file",
			yaml: "auth:\n  workos:\n    subdomain: file.authkit.app\n",
			env:  map[string]string{"MCPHOST_AUTH_WORKOS_SUBDOMAIN": "env.authkit.app"},
			check: func(t *testing.T, c *Config) {
				if c.Auth.WorkOS.Subdomain != "env.authkit.app" {
					t.Errorf("Subdomain = %q", c.Auth.WorkOS.Subdomain)
				}
			},
		},
		{
			name: "MCP_URL sets server.public_url",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCP_URL": "https://mcp.example.com/"},
			check: func(t *testing.T, c *Config) {
				if c.Server.PublicURL != "https://mcp.example.com" {
					t.Errorf("PublicURL = %q, want MCP_URL without its trailing slash", c.Server.PublicURL)
				}
			},
		},
		{
			name: "the file beats MCP_URL",
			yaml: "server:\n  public_url: http://localhost:8080\n",
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCP_URL": "https://mcp.example.com"},
			check: func(t *testing.T, c *Config) {
				if c.Server.PublicURL != "http://localhost:8080" {
					t.Errorf("PublicURL = %q", c.Server.PublicURL)
				}
			},
		},
		{
			name:   ".env supplies ${VAR}, overrides and the subdomain",
			yaml:   plug + "    env:\n      TOKEN: \"${SECRET}\"\n      MIXED: \"a-${SECRET}-${UNSET}-$SECRET-b\"\n      TWICE: \"${SECRET}${SECRET}\"\n",
			dotenv: "# comment\n\nexport SECRET=s3cr3t\nMCP_USE_OAUTH_WORKOS_SUBDOMAIN=\"dotenv.authkit.app\"\nMCPHOST_SERVER_LISTEN='127.0.0.1:5555'\nMCPHOST_LOG_FORMAT=json # trailing comment\n",
			env:    map[string]string{},
			check: func(t *testing.T, c *Config) {
				p := c.Plugins["my-plug"]
				want := map[string]string{"TOKEN": "s3cr3t", "MIXED": "a-s3cr3t--$SECRET-b", "TWICE": "s3cr3ts3cr3t"}
				if !reflect.DeepEqual(p.Env, want) {
					t.Errorf("Env = %q, want %q", p.Env, want)
				}
				if c.Auth.WorkOS.Subdomain != "dotenv.authkit.app" || c.Server.Listen != "127.0.0.1:5555" || c.Log.Format != "json" {
					t.Errorf("subdomain, listen, format = %q, %q, %q", c.Auth.WorkOS.Subdomain, c.Server.Listen, c.Log.Format)
				}
			},
		},
		{
			name:   "the real environment beats .env",
			yaml:   plug + "    env:\n      TOKEN: \"${SECRET}\"\n",
			dotenv: "SECRET=from-dotenv\nMCPHOST_SERVER_LISTEN=127.0.0.1:5555\nMCP_USE_OAUTH_WORKOS_SUBDOMAIN=dotenv.authkit.app\n",
			env:    map[string]string{"SECRET": "from-env", "MCPHOST_SERVER_LISTEN": "127.0.0.1:6666", "MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub},
			check: func(t *testing.T, c *Config) {
				if got := c.Plugins["my-plug"].Env["TOKEN"]; got != "from-env" {
					t.Errorf("TOKEN = %q, want from-env", got)
				}
				if c.Server.Listen != "127.0.0.1:6666" || c.Auth.WorkOS.Subdomain != sub {
					t.Errorf("listen, subdomain = %q, %q", c.Server.Listen, c.Auth.WorkOS.Subdomain)
				}
			},
		},
		{
			name:   "an empty real variable still beats .env",
			yaml:   plug + "    env:\n      TOKEN: \"${SECRET}\"\n",
			dotenv: "SECRET=from-dotenv\n",
			env:    map[string]string{"SECRET": "", "MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub},
			check: func(t *testing.T, c *Config) {
				if got := c.Plugins["my-plug"].Env["TOKEN"]; got != "" {
					t.Errorf("TOKEN = %q, want empty", got)
				}
			},
		},
		{
			name: ".env quoting and comments",
			yaml: plug + "    env:\n      A: \"${A}\"\n      B: \"${B}\"\n      C: \"${C}\"\n      D: \"${D}\"\n      E: \"${E}\"\n      F: \"${F}\"\n      G: \"${G}\"\n",
			dotenv: "A=\"quoted # not a comment\"\n" +
				"B='single'\n" +
				"C=\"quoted\" # a comment\n" +
				"D=plain#nospace\n" +
				"  E = spaced  \n" +
				"F=\n" +
				"G=a=b\n",
			env: withSub,
			check: func(t *testing.T, c *Config) {
				want := map[string]string{
					"A": "quoted # not a comment",
					"B": "single",
					"C": "quoted",
					"D": "plain#nospace",
					"E": "spaced",
					"F": "",
					"G": "a=b",
				}
				if got := c.Plugins["my-plug"].Env; !reflect.DeepEqual(got, want) {
					t.Errorf("Env = %q\nwant  %q", got, want)
				}
			},
		},
		{
			name: "none on loopback",
			yaml: "auth:\n  provider: none\n",
			env:  map[string]string{},
			check: func(t *testing.T, c *Config) {
				if c.Auth.Provider != "none" {
					t.Errorf("Provider = %q", c.Auth.Provider)
				}
			},
		},
		{
			name: "none on 0.0.0.0 with allow_unauthenticated",
			yaml: "server:\n  listen: 0.0.0.0:8080\nauth:\n  provider: none\n  allow_unauthenticated: true\n",
			env:  map[string]string{},
			check: func(t *testing.T, c *Config) {
				if !c.Auth.AllowUnauthenticated || c.Server.Listen != "0.0.0.0:8080" {
					t.Errorf("Auth = %+v", c.Auth)
				}
			},
		},
		{
			name: "dev on localhost",
			yaml: "server:\n  listen: localhost:0\nauth:\n  provider: dev\n",
			env:  map[string]string{},
			check: func(t *testing.T, c *Config) {
				if c.Auth.Provider != "dev" {
					t.Errorf("Provider = %q", c.Auth.Provider)
				}
			},
		},
		{
			name: "forced dev replaces the file's provider",
			yaml: "server:\n  listen: \"[::1]:8080\"\nauth:\n  provider: workos\n",
			env:  map[string]string{},
			opts: Options{ForceProvider: "dev"},
			check: func(t *testing.T, c *Config) {
				if c.Auth.Provider != "dev" {
					t.Errorf("Provider = %q", c.Auth.Provider)
				}
			},
		},
		{
			name: "workos on all interfaces",
			yaml: "server:\n  listen: \":8443\"\n",
			env:  withSub,
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen != ":8443" {
					t.Errorf("Listen = %q", c.Server.Listen)
				}
			},
		},
		{
			name: "SkipFileChecks accepts a missing binary and still resolves it",
			yaml: "plugins:\n  x:\n    path: bin/missing\n",
			env:  withSub,
			opts: Options{SkipFileChecks: true},
			check: func(t *testing.T, c *Config) {
				if want := filepath.Join(c.Dir, "bin", "missing"); c.Plugins["x"].Path != want {
					t.Errorf("Path = %q, want %q", c.Plugins["x"].Path, want)
				}
			},
		},
		{
			name: "anchors and aliases",
			yaml: "plugins:\n  a:\n    path: bin/plug\n    require_roles: &roles [admin, ops]\n  b:\n    path: bin/plug\n    require_roles: *roles\n",
			env:  withSub,
			check: func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Plugins["b"].RequireRoles, []string{"admin", "ops"}) {
					t.Errorf("b.RequireRoles = %q", c.Plugins["b"].RequireRoles)
				}
			},
		},
		{
			name: "null values keep defaults",
			yaml: "server:\n  listen:\n  shutdown_timeout: ~\nplugins:\n  x:\n    path: bin/plug\n    call_timeout: null\n",
			env:  withSub,
			check: func(t *testing.T, c *Config) {
				if c.Server.Listen != DefaultListen || c.Server.ShutdownTimeout != DefaultShutdownTimeout || c.Plugins["x"].CallTimeout != DefaultCallTimeout {
					t.Errorf("defaults lost: %+v %+v", c.Server, c.Plugins["x"])
				}
			},
		},
		{
			name: "MCPHOST_ variables for keys that are not set still apply to plugins in the file only",
			yaml: plug,
			env:  map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_PLUGINS_OTHER_PATH": "bin/plug"},
			check: func(t *testing.T, c *Config) {
				if len(c.Plugins) != 1 || c.Plugins["my-plug"] == nil {
					t.Errorf("Plugins = %v", c.Plugins)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := fixtureDir(t)
			if tt.dotenv != "" {
				writeFile(t, dir, ".env", tt.dotenv, 0o644)
			}
			path := writeFile(t, dir, "mcphost.yaml", tt.yaml, 0o644)
			opts := tt.opts
			opts.LookupEnv = envFrom(tt.env)
			cfg, err := Load(path, opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, cfg)
		})
	}
}

// Relative paths are relative to the config file's directory, not the working
// directory; a relative config path is made absolute.
func TestLoadRelativePaths(t *testing.T) {
	root := t.TempDir()
	conf := filepath.Join(root, "conf")
	writeFile(t, conf, "bin/plug", "#!/bin/sh\n", 0o755)
	writeFile(t, conf, "mcphost.yaml", "data_dir: state\nplugins:\n  x:\n    path: bin/plug\n  y:\n    path: ./bin/../bin/plug\n", 0o644)
	// A working directory with no bin/plug of its own.
	t.Chdir(t.TempDir())
	rel, err := filepath.Rel(mustGetwd(t), filepath.Join(conf, "mcphost.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(rel, Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatalf("Load(%q): %v", rel, err)
	}
	want := filepath.Join(conf, "bin", "plug")
	if cfg.Plugins["x"].Path != want || cfg.Plugins["y"].Path != want {
		t.Errorf("paths = %q, %q; want %q", cfg.Plugins["x"].Path, cfg.Plugins["y"].Path, want)
	}
	if cfg.File != filepath.Join(conf, "mcphost.yaml") || cfg.Dir != conf {
		t.Errorf("File, Dir = %q, %q", cfg.File, cfg.Dir)
	}
	if cfg.DataDir != filepath.Join(conf, "state") {
		t.Errorf("DataDir = %q", cfg.DataDir)
	}

	// Errors name the file as it was given.
	writeFile(t, conf, "mcphost.yaml", "plugins:\n  x:\n    path: bin/missing\n", 0o644)
	_, err = Load(rel, Options{LookupEnv: envFrom(withSub)})
	checkErrors(t, err, rel, []wantErr{{key: "plugins.x.path", line: 3, problem: "binary bin/missing not found (run make build)"}})
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

// With no LookupEnv, Load reads the process environment.
func TestLoadUsesProcessEnvByDefault(t *testing.T) {
	t.Setenv("MCP_USE_OAUTH_WORKOS_SUBDOMAIN", "proc.authkit.app")
	t.Setenv("MCPHOST_SERVER_LISTEN", "127.0.0.1:4242")
	dir := fixtureDir(t)
	path := writeFile(t, dir, "mcphost.yaml", "", 0o644)
	cfg, err := Load(path, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Auth.WorkOS.Subdomain != "proc.authkit.app" || cfg.Server.Listen != "127.0.0.1:4242" {
		t.Errorf("subdomain, listen = %q, %q", cfg.Auth.WorkOS.Subdomain, cfg.Server.Listen)
	}
}

// A Config is never partly applied: Load mutates nothing shared on failure, so
// loading the same defaults twice gives equal results and DefaultScopes is intact.
func TestLoadDoesNotShareDefaults(t *testing.T) {
	t.Parallel()
	c1, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(map[string]string{
		"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_AUTH_WORKOS_SCOPES_SUPPORTED": "x,y",
	})})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c1.Auth.WorkOS.ScopesSupported, []string{"x", "y"}) {
		t.Errorf("ScopesSupported = %q", c1.Auth.WorkOS.ScopesSupported)
	}
	c2, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	c2.Auth.WorkOS.ScopesSupported[0] = "mutated"
	c2.Auth.WorkOS.Algorithms[0] = "mutated"
	c3, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c3.Auth.WorkOS.ScopesSupported, []string{"email", "offline_access", "openid", "profile"}) ||
		!reflect.DeepEqual(c3.Auth.WorkOS.Algorithms, []string{"RS256"}) {
		t.Errorf("defaults were changed through an earlier Config: %q %q", c3.Auth.WorkOS.ScopesSupported, c3.Auth.WorkOS.Algorithms)
	}
}

// ---- helpers on Config ----------------------------------------------------------

func TestToolTimeout(t *testing.T) {
	t.Parallel()
	p := &Plugin{
		CallTimeout: 30 * time.Second,
		Tools: map[string]*Tool{
			"slow":   {CallTimeout: 2 * time.Minute},
			"policy": {Policy: Policy{RequireRoles: []string{"admin"}}},
			"nil":    nil,
		},
	}
	tests := []struct {
		tool string
		want time.Duration
	}{
		{"slow", 2 * time.Minute},
		{"policy", 30 * time.Second}, // no own timeout
		{"nil", 30 * time.Second},
		{"unknown", 30 * time.Second},
		{"", 30 * time.Second},
	}
	for _, tt := range tests {
		if got := p.ToolTimeout(tt.tool); got != tt.want {
			t.Errorf("ToolTimeout(%q) = %v, want %v", tt.tool, got, tt.want)
		}
	}
	if got := (&Plugin{CallTimeout: time.Second}).ToolTimeout("x"); got != time.Second {
		t.Errorf("ToolTimeout with no tools = %v", got)
	}
}

func TestToolPolicies(t *testing.T) {
	t.Parallel()
	pp := Policy{RequireRoles: []string{"member"}, RequireOrganization: true}
	tp := Policy{RequirePermissions: []string{"docs:delete"}}
	p := &Plugin{Policy: pp, Tools: map[string]*Tool{"delete": {Policy: tp}, "open": {}, "nil": nil}}
	tests := []struct {
		tool string
		want []Policy
	}{
		{"delete", []Policy{pp, tp}},
		{"open", []Policy{pp, {}}},
		{"nil", []Policy{pp}},
		{"unknown", []Policy{pp}},
	}
	for _, tt := range tests {
		if got := p.ToolPolicies(tt.tool); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ToolPolicies(%q) = %+v, want %+v", tt.tool, got, tt.want)
		}
	}
	// Through Load: the tool's policy adds to the plugin's.
	cfg, _, err := loadYAML(t, "plugins:\n  x:\n    path: bin/plug\n    call_timeout: 9s\n    require_roles: [member]\n    tools:\n      del:\n        call_timeout: 1s\n        require_permissions: [d]\n",
		Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.Plugins["x"]
	if got := x.ToolPolicies("del"); !reflect.DeepEqual(got, []Policy{{RequireRoles: []string{"member"}}, {RequirePermissions: []string{"d"}}}) {
		t.Errorf("loaded ToolPolicies(del) = %+v", got)
	}
	if x.ToolTimeout("del") != time.Second || x.ToolTimeout("other") != 9*time.Second {
		t.Errorf("loaded ToolTimeout = %v, %v", x.ToolTimeout("del"), x.ToolTimeout("other"))
	}
}

func TestParseListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"0.0.0.0:0", true},
		{":8080", true},
		{"localhost:65535", true},
		{"[::1]:443", true},
		{"[::]:443", true},
		{"127.0.0.1", false},
		{"127.0.0.1:70000", false},
		{"127.0.0.1:65536", false},
		{"127.0.0.1:-1", false},
		{"127.0.0.1:+80", false},
		{"127.0.0.1:", false},
		{"127.0.0.1:http", false},
		{"garbage", false},
		{"", false},
		{"::1:80", false},
		{"[::1:80", false},
		// Host names are checked by syntax, never looked up: .invalid never
		// resolves (RFC 2606), so a lookup would refuse it.
		{"mcp.internal.invalid:8080", true},
		{"my-host:80", true},
		{"my_host:80", false},
		{"-bad.example:80", false},
		{"a..b:80", false},
		{"bad_host!:80", false},
	}
	for _, tt := range tests {
		got, err := ParseListen(tt.addr)
		if (err == nil) != tt.ok {
			t.Errorf("ParseListen(%q) error = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		if err == nil && got != tt.addr {
			t.Errorf("ParseListen(%q) = %q", tt.addr, got)
		}
		if err != nil && !strings.Contains(err.Error(), `"`+tt.addr+`"`) {
			t.Errorf("ParseListen(%q) error %q does not quote the address", tt.addr, err)
		}
	}
}

func TestIsLoopbackListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8080", true},
		{"127.1.2.3:8080", true},
		{"localhost:8080", true},
		{"[::1]:8080", true},
		{"0.0.0.0:8080", false},
		{":8080", false},
		{"[::]:8080", false},
		{"10.0.0.1:8080", false},
		{"example.com:8080", false},
		{"garbage", false},
	}
	for _, tt := range tests {
		if got := IsLoopbackListen(tt.addr); got != tt.want {
			t.Errorf("IsLoopbackListen(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestEnvVarFor(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"server.listen":               "MCPHOST_SERVER_LISTEN",
		"plugins.whoami.call_timeout": "MCPHOST_PLUGINS_WHOAMI_CALL_TIMEOUT",
		"plugins.my-plug.prefix":      "MCPHOST_PLUGINS_MY_PLUG_PREFIX",
		"auth.workos.audiences":       "MCPHOST_AUTH_WORKOS_AUDIENCES",
		"data_dir":                    "MCPHOST_DATA_DIR",
	}
	for key, want := range tests {
		if got := EnvVarFor(key); got != want {
			t.Errorf("EnvVarFor(%q) = %q, want %q", key, got, want)
		}
	}
}

// server.state_secret_file is read relative to the config file, trimmed, and
// held to the same minimum length as server.state_secret; the environment can
// set the secret too, so replicas get it from a Kubernetes Secret.
func TestStateSecretSources(t *testing.T) {
	dir := t.TempDir()
	secret := "0123456789abcdef0123456789abcdef0123"
	writeFile(t, dir, "secrets/state", secret+"\n", 0o600)
	writeFile(t, dir, "secrets/short", "abc\n", 0o600)
	path := writeFile(t, dir, "mcphost.yaml", "server:\n  state_secret_file: secrets/state\n", 0o644)
	cfg, err := Load(path, Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Server.StateSecret != secret {
		t.Errorf("state secret from file = %q", cfg.Server.StateSecret)
	}

	path = writeFile(t, dir, "short.yaml", "server:\n  state_secret_file: secrets/short\n", 0o644)
	_, err = Load(path, Options{LookupEnv: envFrom(withSub)})
	if err == nil || !strings.Contains(err.Error(), "server.state_secret_file") || !strings.Contains(err.Error(), "holds 3 bytes") || strings.Contains(err.Error(), "abc") {
		t.Errorf("short secret file: %v", err)
	}

	env := map[string]string{"MCPHOST_SERVER_STATE_SECRET": secret}
	for k, v := range withSub {
		env[k] = v
	}
	path = writeFile(t, dir, "plain.yaml", "{}\n", 0o644)
	cfg, err = Load(path, Options{LookupEnv: envFrom(env)})
	if err != nil || cfg.Server.StateSecret != secret {
		t.Errorf("state secret from env = %q, %v", cfg.Server.StateSecret, err)
	}

	// A shared store from the environment, with the secret from there too.
	env["MCPHOST_SERVER_STORE"] = "redis://cache:6379/2"
	cfg, err = Load(path, Options{LookupEnv: envFrom(env)})
	if err != nil || cfg.Server.Store != "redis://cache:6379/2" || !cfg.Server.SharedStore() {
		t.Errorf("store from env = %q, %v", cfg.Server.Store, err)
	}
}

// TestWorkOSAPIKeys: the roles lookup's key and URL come from the variables
// the WorkOS SDKs use, and bad values are refused by name, without showing
// the key.
func TestWorkOSAPIKeys(t *testing.T) {
	t.Parallel()
	env := map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "WORKOS_API_KEY": "sk_test_from_env", "WORKOS_API_BASE_URL": "http://localhost:9999"}
	cfg, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(env)})
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Auth.WorkOS; w.APIKey != "sk_test_from_env" || w.APIURL != "http://localhost:9999" {
		t.Errorf("from the environment: key set %v, url %q", w.APIKey != "", w.APIURL)
	}
	for _, c := range []struct {
		yaml string
		want wantErr
	}{
		{"auth: {workos: {api_url: http://api.workos.com}}", wantErr{key: "auth.workos.api_url", line: 1, problem: "in the clear"}},
		{"auth: {workos: {api_url: https://api.workos.com/v1}}", wantErr{key: "auth.workos.api_url", line: 1, problem: "is not an origin"}},
		{"auth: {workos: {api_url: api.workos.com}}", wantErr{key: "auth.workos.api_url", line: 1, problem: "is not an origin"}},
		{"auth: {workos: {roles_ttl: 100ms}}", wantErr{key: "auth.workos.roles_ttl", line: 1, problem: "outside 1s to 24h"}},
		{"auth: {workos: {roles_ttl: 48h}}", wantErr{key: "auth.workos.roles_ttl", line: 1, problem: "outside 1s to 24h"}},
		{"auth: {workos: {api_key: \"sk_test_x \"}}", wantErr{key: "auth.workos.api_key", line: 1, problem: "trailing spaces"}},
	} {
		_, path, err := loadYAML(t, c.yaml, Options{LookupEnv: envFrom(withSub)})
		checkErrors(t, err, path, []wantErr{c.want})
		if err != nil && strings.Contains(err.Error(), "sk_test_x") {
			t.Errorf("%s: the key appears in %v", c.yaml, err)
		}
	}
}

// TestSubdomainCheckedAtLoad: the AuthKit domain is checked when the config
// loads, so validate refuses what serve would, under the key that exists.
func TestSubdomainCheckedAtLoad(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"my-co":                    "did you mean my-co.authkit.app?",
		"my.authkit.app/path":      "must not contain a path",
		"http://my-co.authkit.app": "http is only allowed for a loopback",
	} {
		_, path, err := loadYAML(t, "auth: {provider: workos, workos: {subdomain: \""+in+"\"}}", Options{})
		checkErrors(t, err, path, []wantErr{{key: "auth.workos.subdomain", line: 1, problem: want}})
	}
}

// TestDevUsers: dev.users is a map of user id to the demo user's claims.
func TestDevUsers(t *testing.T) {
	t.Parallel()
	cfg, _, err := loadYAML(t, `
auth: {provider: dev}
dev:
  users:
    user_ada: {email: ada@example.com, name: Ada, org: org_x, roles: [admin, member], permissions: [documents:write]}
    user_min: {}
`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ada := cfg.Dev.Users["user_ada"]
	if ada == nil || ada.Email != "ada@example.com" || ada.Org != "org_x" || !reflect.DeepEqual(ada.Roles, []string{"admin", "member"}) || !reflect.DeepEqual(ada.Permissions, []string{"documents:write"}) {
		t.Errorf("user_ada = %+v", ada)
	}
	if cfg.Dev.Users["user_min"] == nil {
		t.Error("a user with no claims is still a user")
	}
	_, path, err := loadYAML(t, "auth: {provider: dev}\ndev: {users: {\"bad id\": {}}}\n", Options{})
	checkErrors(t, err, path, []wantErr{{key: "dev.users", line: 2, problem: "without spaces"}})
	_, path, err = loadYAML(t, "auth: {provider: dev}\ndev: {users: {u: {role: admin}}}\n", Options{})
	checkErrors(t, err, path, []wantErr{{key: "dev.users.u.role", line: 2, problem: "unknown key"}})
}

func TestAuditConfig(t *testing.T) {
	t.Parallel()
	cfg, path, err := loadYAML(t, "audit: {output: logs/audit.log, include_arguments: true}\n", Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Audit; !a.Enabled || a.Output != filepath.Join(filepath.Dir(path), "logs", "audit.log") || !a.IncludeArguments {
		t.Errorf("audit = %+v, want enabled by default, the file relative to the config", a)
	}
	cfg, _, err = loadYAML(t, "", Options{LookupEnv: envFrom(withSub)})
	if err != nil || cfg.Audit.Output != "stdout" || !cfg.Audit.Enabled || cfg.Audit.IncludeArguments {
		t.Errorf("default audit = %+v, %v", cfg.Audit, err)
	}
	_, path, err = loadYAML(t, "audit: {output: \"  \"}\n", Options{LookupEnv: envFrom(withSub)})
	checkErrors(t, err, path, []wantErr{{key: "audit.output", line: 1, problem: "stdout, stderr or a file"}})
}

func TestMetricsConfig(t *testing.T) {
	t.Parallel()
	cfg, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(withSub)})
	if err != nil || !cfg.Metrics.Enabled || cfg.Metrics.Listen != "" || cfg.Metrics.Public {
		t.Errorf("default metrics = %+v, %v", cfg.Metrics, err)
	}
	_, path, err := loadYAML(t, "metrics: {listen: nonsense}\n", Options{LookupEnv: envFrom(withSub)})
	checkErrors(t, err, path, []wantErr{{key: "metrics.listen", line: 1, problem: "is not host:port"}})
	_, path, err = loadYAML(t, "server: {listen: \"127.0.0.1:9100\"}\nmetrics: {listen: \"127.0.0.1:9100\"}\n", Options{LookupEnv: envFrom(withSub)})
	checkErrors(t, err, path, []wantErr{{key: "metrics.listen", line: 2, problem: "is server.listen"}})
}

func TestTracingConfig(t *testing.T) {
	t.Parallel()
	cfg, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(withSub)})
	if err != nil || cfg.Tracing != (Tracing{SampleRatio: 1, ServiceName: "mcphost"}) {
		t.Errorf("default tracing = %+v, %v", cfg.Tracing, err)
	}
	cfg, _, err = loadYAML(t, "tracing: {otlp_endpoint: \"grpc://collector:4317\", sample_ratio: 0.25}\n", Options{LookupEnv: envFrom(withSub)})
	if err != nil || cfg.Tracing.OTLPEndpoint != "grpc://collector:4317" || cfg.Tracing.SampleRatio != 0.25 {
		t.Fatalf("tracing: %v", err)
	}
	for _, c := range []struct{ yaml, key, problem string }{
		{"tracing: {otlp_endpoint: \"ftp://collector:4318\"}", "tracing.otlp_endpoint", "scheme must be http, https"},
		{"tracing: {otlp_endpoint: \"collector:4318\"}", "tracing.otlp_endpoint", "is not a URL such as http://collector:4318"},
		{"tracing: {sample_ratio: half}", "tracing.sample_ratio", `"half" is not a number`},
		{"tracing: {otlp_endpoint: \"http://\"}", "tracing.otlp_endpoint", "is not a URL"},
		{"tracing: {otlp_endpoint: \"grpc://c:4317\", otlp_protocol: http/protobuf}", "tracing.otlp_protocol", "grpc:// URL"},
		{"tracing: {otlp_protocol: thrift}", "tracing.otlp_protocol", "must be http/protobuf or grpc"},
		{"tracing: {sample_ratio: 0}", "tracing.sample_ratio", "more than 0"},
		{"tracing: {sample_ratio: 1.5}", "tracing.sample_ratio", "at most 1"},
	} {
		line := 1 // every case is one line
		_, path, err := loadYAML(t, c.yaml+"\n", Options{LookupEnv: envFrom(withSub)})
		checkErrors(t, err, path, []wantErr{{key: c.key, line: line, problem: c.problem}})
	}
}

func TestLimitsConfig(t *testing.T) {
	t.Parallel()
	cfg, _, err := loadYAML(t, `
limits:
  per_user: {rate: 10/s, burst: 20}
  per_org: {rate: 600/m}
plugins:
  p:
    path: /bin/true
    tools: {slow: {limits: {per_user: {rate: 2.5/h}}}}
`, Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	if u, o := cfg.Limits.PerUser, cfg.Limits.PerOrg; u.PerSecond != 10 || u.Burst != 20 || o.PerSecond != 10 || o.Burst != 10 {
		t.Errorf("limits = %+v / %+v (600/m is 10/s, default burst one second's worth)", u, o)
	}
	if l := cfg.Plugins["p"].Tools["slow"].Limits.PerUser; l.PerSecond != 2.5/3600 || l.Burst != 1 {
		t.Errorf("tool limit = %+v", l)
	}
	for yaml, want := range map[string]wantErr{
		"limits: {per_user: {rate: 10/day}}\n":                                           {key: "limits.per_user.rate", line: 1, problem: "is not a rate"},
		"limits: {per_org: {rate: fast}}\n":                                              {key: "limits.per_org.rate", line: 1, problem: "is not a rate"},
		"limits: {per_user: {rate: 0/s}}\n":                                              {key: "limits.per_user.rate", line: 1, problem: "is not a rate"},
		"limits: {per_user: {burst: 5}}\n":                                               {key: "limits.per_user.burst", line: 1, problem: "needs a rate"},
		"limits: {per_user: {rate: 1/s, burst: -1}}\n":                                   {key: "limits.per_user.burst", line: 1, problem: "must not be negative"},
		"plugins: {p: {path: /bin/true, tools: {t: {limits: {per_user: {rate: x}}}}}}\n": {key: "plugins.p.tools.t.limits.per_user.rate", line: 1, problem: "is not a rate"},
	} {
		_, path, err := loadYAML(t, yaml, Options{LookupEnv: envFrom(withSub)})
		checkErrors(t, err, path, []wantErr{want})
	}
}
