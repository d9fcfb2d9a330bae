package baseline_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/auth/devissuer"
	"github.com/mcphost/mcphost/bench/baseline"
	"github.com/mcphost/mcphost/bench/loadgen"
	"github.com/mcphost/mcphost/config"
)

// serve starts h behind the dev gate on 127.0.0.1 and returns the MCP URL
// and a token the gate accepts.
func serve(t *testing.T, h http.Handler) (string, string) {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	path := filepath.Join(dir, "mcphost.yaml")
	yaml := "server:\n  listen: " + addr + "\ndata_dir: " + filepath.Join(dir, "data") + "\nauth:\n  provider: dev\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{SkipFileChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	gate, err := baseline.NewDevGate(context.Background(), cfg, logger, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gate.Close)
	mux := http.NewServeMux()
	mux.Handle("/mcp", gate.Middleware(h))
	gate.Routes(mux)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	iss, err := devissuer.Open(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr
	tok, err := iss.Mint(devissuer.TokenRequest{Issuer: base, Subject: "user_test", Audience: []string{base + "/mcp"}})
	if err != nil {
		t.Fatal(err)
	}
	return base + "/mcp", tok
}

// TestBaselinesServeAdd runs the load generator against each baseline: every
// call must pass the gate and return the right sum, and a bad token must not.
func TestBaselinesServeAdd(t *testing.T) {
	cases := []struct {
		name     string
		h        http.Handler
		protocol string
	}{
		{"gosdk json", baseline.NewGoSDKHandler(baseline.GoSDKOptions{JSONResponse: true, EventStore: true}), loadgen.Protocol2025},
		{"gosdk sse", baseline.NewGoSDKHandler(baseline.GoSDKOptions{EventStore: true}), loadgen.Protocol2025},
		{"bare", baseline.NewBareHandler(1 << 20), loadgen.Protocol2025},
		{"bare sessionless", baseline.NewBareHandler(1 << 20), loadgen.Protocol2026},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, tok := serve(t, tc.h)
			cfg := loadgen.Config{URL: url, Token: tok, Concurrency: 4, Count: 40, Protocol: tc.protocol}
			rep, err := loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Calls != 40 || rep.Errors != 0 {
				t.Fatalf("calls %d errors %d (%s), want 40 calls and no errors", rep.Calls, rep.Errors, rep.FirstError())
			}
			cfg.Token = tok[:len(tok)-4] + "AAAA"
			rep, err = loadgen.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Calls != 0 || !strings.Contains(rep.FirstError(), "HTTP 401") {
				t.Fatalf("with a bad signature: calls %d, first error %q; want every call refused with 401", rep.Calls, rep.FirstError())
			}
		})
	}
}
