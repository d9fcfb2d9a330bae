package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcphost/mcphost/config"
)

// TestConfigYAMLLoads: the config compare writes for mcphost loads with
// mcphost's own loader, with the in-process store and with a Redis one.
func TestConfigYAMLLoads(t *testing.T) {
	for _, store := range []string{"memory", "redis://127.0.0.1:6379/0"} {
		cmp := &compare{eventStore: "memory", store: store, logLevel: "error", workdir: t.TempDir(), plugin: "/bin/true"}
		path := filepath.Join(cmp.workdir, "mcphost.yaml")
		if err := os.WriteFile(path, []byte(cmp.configYAML(instance{target: targetMCPHost, json: true}, "127.0.0.1:9999")), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path, config.Options{SkipFileChecks: true, LookupEnv: func(string) (string, bool) { return "", false }})
		if err != nil {
			t.Fatalf("store %s: %v", store, err)
		}
		if cfg.Server.Store != store || !cfg.Server.JSONResponse || cfg.Plugins["add"] == nil {
			t.Fatalf("store %s: loaded %+v", store, cfg.Server)
		}
	}
}
