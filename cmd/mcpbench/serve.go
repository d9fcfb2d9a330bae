package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"time"

	"github.com/mcphost/mcphost/bench/baseline"
	"github.com/mcphost/mcphost/config"
)

// runServe serves a baseline until SIGINT/SIGTERM: gosdk (the go-sdk v1.8.0
// with the add tool in process) or bare (a net/http JSON-RPC handler), both
// behind the gate `mcphost dev` builds from the same config file.
func runServe(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "gosdk" && args[0] != "bare") {
		return usageError(errors.New("serve: name a baseline: mcpbench serve gosdk|bare -config FILE"))
	}
	kind := args[0]
	fs := flag.NewFlagSet("mcpbench serve "+kind, flag.ContinueOnError)
	cfgPath := fs.String("config", "mcphost.yaml", "mcphost config: server.*, auth.workos.*, data_dir and log.* are read (plugins are not)")
	listen := fs.String("listen", "", "listen address (overrides server.listen); the dev issuer's tokens name it")
	response := fs.String("response", "config", "gosdk: json, sse, or config (server.json_response)")
	stateless := fs.String("stateless", "config", "gosdk: true, false, or config (server.stateless)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole serve to this file (go tool pprof)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err)
	}
	cfg, err := config.Load(*cfgPath, config.Options{Listen: *listen, ForceProvider: "dev", SkipFileChecks: true})
	if err != nil {
		return err
	}
	jsonResp, err := boolChoice("-response", *response, "json", "sse", cfg.Server.JSONResponse)
	if err != nil {
		return err
	}
	noSessions, err := boolChoice("-stateless", *stateless, "true", "false", cfg.Server.Stateless)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("serve %s: %w", kind, err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	if _, port, _ := net.SplitHostPort(cfg.Server.Listen); port != "0" {
		addr = cfg.Server.Listen // as configured (localhost stays localhost), like mcphost
	}
	gate, err := baseline.NewDevGate(ctx, cfg, logger, addr)
	if err != nil {
		return err
	}
	defer gate.Close()

	var mcpHandler http.Handler
	if kind == "gosdk" {
		mcpHandler = baseline.NewGoSDKHandler(baseline.GoSDKOptions{
			JSONResponse:   jsonResp,
			Stateless:      noSessions,
			EventStore:     cfg.Server.EventStore == "memory",
			SessionTimeout: cfg.Server.SessionTimeout,
			MaxBodyBytes:   cfg.Server.MaxBodyBytes,
			Logger:         logger,
		})
	} else {
		mcpHandler = baseline.NewBareHandler(cfg.Server.MaxBodyBytes)
	}
	mux := http.NewServeMux()
	mux.Handle(baseline.MCPPath, gate.Middleware(mcpHandler))
	gate.Routes(mux)
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ready":true}` + "\n"))
	}
	mux.HandleFunc("GET /healthz", ok)
	mux.HandleFunc("GET /readyz", ok)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("mcpbench baseline serving", "baseline", kind, "url", "http://"+addr+baseline.MCPPath, "json_response", jsonResp, "stateless", noSessions)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func boolChoice(flagName, v, yes, no string, fromConfig bool) (bool, error) {
	switch v {
	case yes:
		return true, nil
	case no:
		return false, nil
	case "config":
		return fromConfig, nil
	}
	return false, usageError(fmt.Errorf("%s: %q is not one of %s, %s, config", flagName, v, yes, no))
}

// newLogger logs as mcphost does for the same config (level and format).
func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
