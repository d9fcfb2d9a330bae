package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/internal/filewatch"
)

// watchConfig re-applies the config on SIGHUP and, with hot_reload.config, when
// the config file, its .env or plugin_dir changes. A config that fails to load
// or to apply changes nothing; the reason is logged. It returns a stop function.
func watchConfig(ctx context.Context, g globalFlags, dev bool, cfg *config.Config, h *host.Host, logger *slog.Logger) func() {
	var mu sync.Mutex // one reload at a time
	reload := func(why string) {
		mu.Lock()
		defer mu.Unlock()
		next, err := loadConfig(g, dev)
		if err != nil {
			logger.Error("config reload skipped: the new config is invalid; the running config stays", "reason", why, "error", errorLines(err))
			return
		}
		if err := h.Reload(ctx, next); err != nil {
			logger.Error("config reload failed; the running config stays", "reason", why, "error", err)
		}
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := h.ReopenAuditLog(); err != nil {
					logger.Error("audit log not reopened", "error", err)
				}
				reload("SIGHUP")
			}
		}
	}()
	stop := func() { signal.Stop(hup) }
	if !cfg.HotReload.Config {
		return stop
	}
	w, err := filewatch.New(cfg.HotReload.Debounce, func(path string) { reload("changed: " + path) })
	if err != nil {
		logger.Warn("config file is not watched", "error", err)
		return stop
	}
	var dirs []string
	if cfg.PluginDir != "" {
		dirs = append(dirs, cfg.PluginDir)
	}
	if err := w.Set([]string{cfg.File, filepath.Join(cfg.Dir, ".env")}, dirs); err != nil {
		logger.Warn("config file is not fully watched", "error", err)
	}
	return func() {
		stop()
		_ = w.Close()
	}
}
