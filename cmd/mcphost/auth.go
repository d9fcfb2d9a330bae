package main

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/host"
)

// authSetup is what an auth provider contributes to the server.
type authSetup struct {
	gate   host.Gate
	routes func(*http.ServeMux)
	banner func(addr string)
	close  func()
}

// setupAuth builds the gate for cfg.Auth.Provider. addr is the bound listen address.
func setupAuth(_ context.Context, cfg *config.Config, logger *slog.Logger, addr string) (*authSetup, error) {
	s := &authSetup{close: func() {}}
	switch cfg.Auth.Provider {
	case "none":
		logger.Warn("auth.provider is none: every caller is anonymous and unauthenticated", "listen", addr)
	}
	return s, nil
}

func addAuthCommands(root *cobra.Command, g *globalFlags) {}
