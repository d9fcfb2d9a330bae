package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestReplicaConfigNamesTheBalancer: replicas behind the balancer take its
// URL as public_url, so a token minted for one is good on every one.
func TestReplicaConfigNamesTheBalancer(t *testing.T) {
	cmp := &compare{eventStore: "memory", store: "redis://127.0.0.1:6379/0", publicURL: "http://127.0.0.1:7777", logLevel: "error", workdir: t.TempDir(), plugin: "/bin/true"}
	path := filepath.Join(cmp.workdir, "mcphost.yaml")
	if err := os.WriteFile(path, []byte(cmp.configYAML(instance{target: targetMCPHost, json: true, replica: 2}, "127.0.0.1:9999")), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{SkipFileChecks: true, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.PublicURL != cmp.publicURL || cfg.Server.Store != cmp.store || cfg.Server.StateSecret == "" {
		t.Fatalf("loaded %+v", cfg.Server)
	}
}

// TestReplicasUsageErrors: bad flags are refused, naming the flag, before
// anything starts.
func TestReplicasUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-store: want the redis:// URL"},
		{[]string{"-store", "memory"}, "-store: want the redis:// URL"},
		{[]string{"-store", "redis://x:secret@127.0.0.1:1/0", "-replicas", "1"}, "-replicas must be at least 2"},
		{[]string{"-store", "redis://127.0.0.1:1/0", "-rounds", "0"}, "-rounds must be at least 1"},
		{[]string{"-store", "redis://127.0.0.1:1/0", "extra"}, `unexpected argument "extra"`},
	} {
		err := runReplicas(context.Background(), tc.args)
		var ue badUsage
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: %v, want a usage error with %q", tc.args, err, tc.want)
		}
	}
}
