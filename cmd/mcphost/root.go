package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/connlimit"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/metrics"
	"github.com/mcphost/mcphost/requestid"
	"github.com/mcphost/mcphost/tracing"
)

type globalFlags struct {
	config string
	listen string
}

func newRootCmd() *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "mcphost",
		Short: "Serve MCP tools that run as separate plugin executables",
		Long: `mcphost serves MCP (Streamable HTTP at /mcp) and runs each tool as a plugin
executable over gRPC, passing every call the verified caller.

Run "mcphost --config mcphost.yaml" (the same as "mcphost serve") to serve.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), g, false)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVarP(&g.config, "config", "c", "mcphost.yaml", "config file")
	root.Flags().StringVar(&g.listen, "listen", "", "listen address host:port (overrides server.listen)")

	serveCmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve MCP on the configured address (the default command)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), g, false)
		},
	}
	serveCmd.Flags().StringVar(&g.listen, "listen", "", "listen address host:port (overrides server.listen)")

	validateCmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config file without serving",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := loadConfig(g, false); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", g.config)
			return nil
		},
	}

	var asJSON bool
	toolsCmd := &cobra.Command{
		Use:   "tools",
		Short: "Start every plugin once and print the tools, prompts and resources each offers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printTools(cmd, g, asJSON)
		},
	}
	toolsCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	versionCmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "mcphost %s (plugin protocol v1)\n", version)
		},
	}

	root.AddCommand(serveCmd, validateCmd, toolsCmd, versionCmd)
	addAuthCommands(root, &g)
	addCallCommand(root, &g)
	return root
}

// loadConfig loads the config named by the flags; dev forces the dev issuer.
func loadConfig(g globalFlags, dev bool) (*config.Config, error) {
	if g.listen != "" {
		if _, err := config.ParseListen(g.listen); err != nil {
			return nil, usageError{fmt.Errorf("--listen: %w", err)}
		}
	}
	opts := config.Options{Listen: g.listen}
	if dev {
		opts.ForceProvider = "dev"
	}
	return config.Load(g.config, opts)
}

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if cfg.Log.Format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	// Lines logged for a request carry its id.
	return slog.New(requestid.LogHandler(h))
}

// serve runs the server until SIGINT or SIGTERM, then shuts down gracefully.
func serve(ctx context.Context, g globalFlags, dev bool) error {
	cfg, err := loadConfig(g, dev)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Every descriptor the hard limit allows: the connection cap stays below
	// it, so plugin restarts find some free.
	if _, err := connlimit.RaiseFileLimit(); err != nil {
		logger.Warn("cannot raise the open-file limit", "error", err)
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return usageError{fmt.Errorf("%s: server.listen: cannot listen on %s: %w", cfg.File, cfg.Server.Listen, err)}
	}
	defer ln.Close()

	addr := advertisedAddr(cfg.Server.Listen, ln.Addr().String())
	var m *metrics.Metrics
	if cfg.Metrics.Enabled {
		m = metrics.New()
	}
	authSetup, err := setupAuth(ctx, cfg, logger, addr, m)
	if err != nil {
		return err
	}
	defer authSetup.close()

	h := host.New(cfg, logger)
	tp, err := setupTracing(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if tp != nil {
		defer func() {
			// Spans still queued go out before the process ends.
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				logger.Warn("tracing: flushing spans at shutdown", "error", err)
			}
		}()
		h.SetTracer(tp.Tracer())
	}
	if m != nil {
		h.SetMetrics(m)
		if cfg.Metrics.Listen != "" {
			stop, err := serveMetrics(cfg, m, logger)
			if err != nil {
				return err
			}
			defer stop()
		}
	}
	if cfg.Audit.Enabled {
		al, err := audit.Open(cfg.Audit.Output, cfg.Audit.IncludeArguments)
		if err != nil {
			return &config.Error{File: cfg.File, Problem: err.Error()}
		}
		defer al.Close()
		h.SetAuditLog(al)
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	if cfg.HotReload.Plugins {
		if err := h.WatchBinaries(ctx, cfg.HotReload.Debounce); err != nil {
			logger.Warn("plugin binaries are not watched", "error", err)
		}
	}
	stopReload := watchConfig(ctx, g, dev, cfg, h, logger)
	defer stopReload()
	srv := host.NewServer(h, cfg, logger, host.ServerOptions{Version: version, Gate: authSetup.gate, Routes: authSetup.routes})
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("mcphost serving", "url", "http://"+ln.Addr().String()+host.MCPPath, "auth", cfg.Auth.Provider, "plugins", len(cfg.Plugins), "version", version)
	if authSetup.banner != nil {
		authSetup.banner(ln.Addr().String())
	}

	select {
	case err := <-serveErr:
		_ = h.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout)
	if err := srv.Shutdown(context.Background()); err != nil {
		logger.Warn("shutdown", "error", err)
	}
	logger.Info("stopped")
	return nil
}

func printTools(cmd *cobra.Command, g globalFlags, asJSON bool) error {
	cfg, err := loadConfig(g, false)
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	h := host.New(cfg, logger)
	if err := h.Start(cmd.Context()); err != nil {
		return err
	}
	defer h.Shutdown(context.Background())
	tools := h.Catalog()
	out := cmd.OutOrStdout()
	// Optional plugins that did not start do not stop the others from being
	// listed, but this is a check: say why they failed, and exit non-zero.
	var failed []error
	for _, st := range h.Status() {
		if st.State != host.StateRunning {
			failed = append(failed, errors.New(st.LastError))
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"plugins": h.Status(), "tools": tools}); err != nil {
			return err
		}
		return errors.Join(failed...)
	}
	sort.SliceStable(tools, func(i, j int) bool { return tools[i].Plugin < tools[j].Plugin })
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLUGIN\tVERSION\tKIND\tNAME\tDESCRIPTION")
	for _, t := range tools {
		desc, _, _ := strings.Cut(t.Description, "\n")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Plugin, t.PluginVersion, t.Kind, t.Name, desc)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(failed...)
}

// noArgs rejects positional arguments (and unknown subcommands) as usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}

// setupTracing starts the span exporter tracing.* and the OTEL_* variables
// ask for; nil when tracing is off.
func setupTracing(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*tracing.Provider, error) {
	o := tracing.Options{
		Endpoint: cfg.Tracing.OTLPEndpoint, Protocol: cfg.Tracing.OTLPProtocol,
		SampleRatio: cfg.Tracing.SampleRatio, ServiceName: cfg.Tracing.ServiceName,
		Version: version, Getenv: os.Getenv,
	}
	if !o.Enabled() {
		return nil, nil
	}
	otel.SetErrorHandler(tracing.ErrorLogger(logger, time.Minute))
	tp, err := tracing.Setup(ctx, o)
	if err != nil {
		return nil, &config.Error{File: cfg.File, Problem: "tracing: " + err.Error()}
	}
	endpoint := cfg.Tracing.OTLPEndpoint
	if endpoint == "" {
		endpoint = "from OTEL_EXPORTER_OTLP_*"
	}
	logger.Info("tracing on", "otlp_endpoint", endpoint, "sample_ratio", cfg.Tracing.SampleRatio)
	return tp, nil
}

// serveMetrics serves /metrics alone on metrics.listen (a private port).
func serveMetrics(cfg *config.Config, m *metrics.Metrics, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: metrics.listen: cannot listen on %s: %w", cfg.File, cfg.Metrics.Listen, err)}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := host.NewHTTPServer(cfg, host.GuardHost(mux), logger)
	go func() { _ = srv.Serve(ln) }()
	logger.Info("metrics serving", "url", "http://"+ln.Addr().String()+"/metrics")
	return func() { _ = srv.Close() }, nil
}
