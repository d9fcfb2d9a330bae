package config

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPluginDir(t *testing.T) {
	t.Parallel()
	dir := fixtureDir(t)
	writeFile(t, dir, "plugins/alpha", "#!/bin/sh\n", 0o755)
	writeFile(t, dir, "plugins/beta", "#!/bin/sh\n", 0o755)
	writeFile(t, dir, "plugins/notes.txt", "not a plugin", 0o644) // not executable
	writeFile(t, dir, "plugins/.alpha.tmp", "#!/bin/sh\n", 0o755) // hidden: a copy in progress
	writeFile(t, dir, "plugins/run.sh", "#!/bin/sh\n", 0o755)     // not a valid plugin name
	writeFile(t, dir, "plugins/sub/gamma", "#!/bin/sh\n", 0o755)  // subdirectories are not scanned
	path := writeFile(t, dir, "mcphost.yaml", `
auth: {provider: none}
plugin_dir: plugins
plugins:
  beta: {prefix: "b.", call_timeout: 5s}
`, 0o644)
	cfg, err := Load(path, Options{LookupEnv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(slices.Sorted(maps.Keys(cfg.Plugins)), ","); got != "alpha,beta" {
		t.Fatalf("plugins = %s", got)
	}
	if p := cfg.Plugins["alpha"]; p.Path != filepath.Join(dir, "plugins", "alpha") || p.CallTimeout != DefaultCallTimeout {
		t.Errorf("alpha = %+v", p)
	}
	if p := cfg.Plugins["beta"]; p.Path != filepath.Join(dir, "plugins", "beta") || p.Prefix != "b." || p.CallTimeout != 5*time.Second {
		t.Errorf("beta (settings from plugins.beta) = %+v", p)
	}
	if cfg.PluginDir != filepath.Join(dir, "plugins") {
		t.Errorf("plugin_dir = %s", cfg.PluginDir)
	}
}

func TestHotReloadAndDrainErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, key, problem string }{
		{"auth: {provider: none}\nplugin_dir: nowhere\n", "plugin_dir", "cannot read"},
		{"auth: {provider: none}\nhot_reload: {debounce: 0s}\n", "hot_reload.debounce", "greater than 0"},
		{"auth: {provider: none}\nserver: {event_store: redis}\n", "server.event_store", "not one of memory, none"},
		{"auth: {provider: none}\nserver: {ready_requires: some}\n", "server.ready_requires", `"some" is not one of required, all`},
		{"auth: {provider: none}\nplugins:\n  x: {path: bin/plug, required: yes}\n", "plugins.x.required", "not true or false"},
		{"auth: {provider: none}\nserver: {allowed_origins: [\"app.example.com\"]}\n", "server.allowed_origins[0]", "is not an origin"},
		{"auth: {provider: none}\nserver: {allowed_origins: [\"https://a.example/path\"]}\n", "server.allowed_origins[0]", "is not an origin"},
		{"auth: {provider: none}\nhot_reload: {plugins: maybe}\n", "hot_reload.plugins", "not true or false"},
		{"auth: {provider: none}\nplugins:\n  x: {path: bin/plug, drain_timeout: 0s}\n", "plugins.x.drain_timeout", "greater than 0"},
	} {
		_, _, err := loadYAML(t, tc.yaml, Options{})
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		errs := configErrors(t, err)
		if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Problem, tc.problem) {
			t.Errorf("%q: errors %v, want %s: %s", tc.yaml, errs, tc.key, tc.problem)
		}
	}
}

func TestHotReloadDefaults(t *testing.T) {
	t.Parallel()
	cfg, _, err := loadYAML(t, "auth: {provider: none}\n", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HotReload.Plugins || !cfg.HotReload.Config || cfg.HotReload.Debounce != DefaultDebounce {
		t.Errorf("hot_reload = %+v", cfg.HotReload)
	}
}

func TestLocalOnlyModesStayLocal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, key, problem string }{
		{"auth: {provider: none}\nserver: {allowed_origins: [\"*\"]}\n", "server.allowed_origins", "refused while callers are not verified"},
		{"auth: {provider: workos, workos: {subdomain: x.authkit.app, verify_jwt: false}}\nserver: {allowed_origins: [\"*\"]}\n", "server.allowed_origins", "refused while callers are not verified"},
		{"auth: {provider: workos, workos: {subdomain: \"http://127.0.0.1:9000\"}}\nserver: {listen: \"0.0.0.0:8080\"}\n", "auth.workos.subdomain", "only listens on loopback"},
	} {
		_, _, err := loadYAML(t, tc.yaml, Options{})
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		errs := configErrors(t, err)
		if len(errs) != 1 || errs[0].Key != tc.key || !strings.Contains(errs[0].Problem, tc.problem) {
			t.Errorf("%q: errors %v, want %s: %s", tc.yaml, errs, tc.key, tc.problem)
		}
	}
	// The same settings are fine where callers are verified, or on loopback.
	for _, ok := range []string{
		"auth: {provider: workos, workos: {subdomain: x.authkit.app}}\nserver: {allowed_origins: [\"*\"]}\n",
		"auth: {provider: workos, workos: {subdomain: \"http://127.0.0.1:9000\"}}\n",
	} {
		if _, _, err := loadYAML(t, ok, Options{}); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
