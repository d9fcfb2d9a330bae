package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/devauthz"
	"github.com/mcphost/mcphost/auth/devissuer"
	"github.com/mcphost/mcphost/auth/workos"
	"github.com/mcphost/mcphost/auth/workosroles"
	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/metrics"
)

// authSetup is what an auth provider contributes to the server.
type authSetup struct {
	gate   host.Gate
	routes func(*http.ServeMux)
	banner func(addr string)
	close  func()
}

// publicURL derives the server's public origin: server.public_url (or MCP_URL),
// else the listen address (see advertisedAddr).
func publicURL(cfg *config.Config, addr string) auth.PublicURL {
	proxies, _ := auth.ParsePrefixes(cfg.Server.TrustedProxies) // validated by config.Load
	return auth.PublicURL{Base: cfg.Server.PublicURL, Listen: addr, TrustedProxies: proxies}
}

// publicBase is the origin clients are told about when there is no request to
// look at: it names the default audience and the dev issuer.
func publicBase(cfg *config.Config, addr string) string { return publicURL(cfg, addr).Default() }

// advertisedAddr is the address clients use: the configured host (so
// "localhost:8080" stays localhost, as `mcphost token` sees it) with the port
// actually bound (which differs for ":0").
func advertisedAddr(configured, bound string) string {
	host, port, err := net.SplitHostPort(configured)
	if err != nil {
		return bound
	}
	if port == "0" {
		_, port, _ = net.SplitHostPort(bound)
	}
	return net.JoinHostPort(host, port)
}

// setupAuth builds the gate for cfg.Auth.Provider. addr is the bound listen address.
func setupAuth(ctx context.Context, cfg *config.Config, logger *slog.Logger, addr string, m *metrics.Metrics) (*authSetup, error) {
	s := &authSetup{close: func() {}}
	switch cfg.Auth.Provider {
	case "none":
		logger.Warn("auth.provider is none: every caller is anonymous and unauthenticated", "listen", addr)
		return s, nil
	case "dev":
		return setupDev(ctx, cfg, logger, addr, m)
	}
	wc, err := providerConfig(cfg, logger, addr, m)
	if err != nil {
		return nil, err
	}
	wc.Domain = cfg.Auth.WorkOS.Subdomain
	p, err := workos.New(ctx, wc)
	if err != nil {
		// config.Load checks every key this is built from, under its own name.
		return nil, fmt.Errorf("auth provider workos: %w", err)
	}
	if p.Loopback() {
		logger.Warn("auth.workos.subdomain is a loopback http issuer: only for local stand-ins of AuthKit", "issuer", p.Issuer())
	}
	if cfg.Server.PublicURL == "" && !config.IsLoopbackListen(cfg.Server.Listen) {
		logger.Warn("server.public_url is not set: discovery documents and the default audience name " + publicBase(cfg, addr) + "; set it (or MCP_URL) to the URL clients use")
	}
	if !cfg.Auth.WorkOS.VerifyJWT {
		logger.Warn("auth.workos.verify_jwt is false: token signatures are NOT verified; never use this outside local development")
	}
	s.gate, s.close = p, func() { _ = p.Close() }
	return s, nil
}

// providerConfig maps the auth.workos keys to the provider's config. The dev
// issuer uses the same provider, so both verify through one code path.
func providerConfig(cfg *config.Config, logger *slog.Logger, addr string, m *metrics.Metrics) (workos.Config, error) {
	w := cfg.Auth.WorkOS
	audiences := w.Audiences
	if len(audiences) == 0 {
		audiences = []string{publicBase(cfg, addr) + host.MCPPath}
	}
	var lookup func(ctx context.Context, user, org string) ([]string, []string)
	if w.APIKey != "" {
		src, err := workosroles.New(workosroles.Config{APIKey: w.APIKey, BaseURL: w.APIURL, TTL: w.RolesTTL, Logger: logger})
		if err != nil {
			return workos.Config{}, fmt.Errorf("auth provider %s: %w", cfg.Auth.Provider, err) // config.Load checked its keys
		}
		lookup = func(ctx context.Context, user, org string) ([]string, []string) {
			g := src.Lookup(ctx, user, org)
			return g.Roles, g.Permissions
		}
		logger.Info("roles of callers whose tokens carry none are looked up in WorkOS", "api_url", w.APIURL, "ttl", w.RolesTTL)
	}
	var onFetch func(error)
	if m != nil {
		onFetch = m.JWKSRefresh
	}
	return workos.Config{
		OnJWKSFetch:     onFetch,
		LookupRoles:     lookup,
		VerifyJWT:       w.VerifyJWT,
		ScopesSupported: w.ScopesSupported,
		Audiences:       audiences,
		Algorithms:      w.Algorithms,
		ClockSkew:       w.ClockSkew,
		RequiredScopes:  w.RequiredScopes,
		ResourceName:    w.ResourceName,
		PublicURL:       publicURL(cfg, addr),
		MCPPath:         host.MCPPath,
		Logger:          logger,
	}, nil
}

// setupDev trusts the embedded dev issuer: its key lives in the data directory, its
// JWKS is served by this host, and verification is the WorkOS provider's.
func setupDev(ctx context.Context, cfg *config.Config, logger *slog.Logger, addr string, m *metrics.Metrics) (*authSetup, error) {
	iss, err := devissuer.Open(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	issuerURL := publicBase(cfg, addr)
	jwks := http.NewServeMux()
	iss.Routes(jwks, "")
	wc, err := providerConfig(cfg, logger, addr, m)
	if err != nil {
		return nil, err
	}
	// The dev authorization server, so OAuth clients can sign in on their own.
	authz, err := devauthz.New(devauthz.Config{Issuer: iss, IssuerURL: issuerURL, Audiences: wc.Audiences, Users: devUsers(cfg), Logger: logger})
	if err != nil {
		return nil, err
	}
	wc.Domain = issuerURL
	wc.VerifyJWT = true // the dev issuer signs real tokens: there is nothing to skip
	wc.StaticMetadata = authz.Metadata()
	// The provider fetches the JWKS from the issuer URL, which is this very host;
	// answer those fetches in process so startup never waits on our own listener.
	wc.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: inProcess{jwks}}
	p, err := workos.New(ctx, wc)
	if err != nil {
		return nil, fmt.Errorf("auth provider dev: %w", err) // config.Load checked its keys
	}
	return &authSetup{
		gate: p,
		routes: func(mux *http.ServeMux) {
			iss.Routes(mux, "")
			authz.Routes(mux)
		},
		close: func() { _ = p.Close() },
		banner: func(string) {
			// The token's issuer and audience come from the address; say it, so
			// the command works when --listen moved the server.
			tokenCmd := "bin/mcphost token --config " + cfg.File
			if cfg.Server.PublicURL == "" {
				tokenCmd += " --listen " + strings.TrimPrefix(issuerURL, "http://")
			}
			fmt.Fprintf(os.Stderr, `
  ┌──────────────────────────────────────────────────────────────────────┐
  │ mcphost DEV ISSUER: tokens are signed by a local key, loopback only. │
  └──────────────────────────────────────────────────────────────────────┘
  issuer   %s
  MCP URL  %s%s
  token    %s --sub alice --roles admin --org org_demo_acme

`, issuerURL, issuerURL, host.MCPPath, tokenCmd)
		},
	}, nil
}

// devUsers are dev.users in id order, or the built-in demo users.
func devUsers(cfg *config.Config) []devauthz.User {
	var users []devauthz.User
	for _, id := range slices.Sorted(maps.Keys(cfg.Dev.Users)) {
		u := cfg.Dev.Users[id]
		users = append(users, devauthz.User{ID: id, Email: u.Email, Name: u.Name, Org: u.Org, Roles: u.Roles, Permissions: u.Permissions})
	}
	return users // nil: devauthz's defaults
}

// inProcess is an http.RoundTripper that serves requests from a handler directly.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func addAuthCommands(root *cobra.Command, g *globalFlags) {
	devCmd := &cobra.Command{
		Use:   "dev",
		Short: "Serve with the embedded dev issuer instead of WorkOS (loopback only)",
		Long: `dev serves the same config, but trusts a local issuer whose signing key is
created on first use in the data directory. Mint tokens for it with "mcphost token".`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), *g, true)
		},
	}
	devCmd.Flags().StringVar(&g.listen, "listen", "", "listen address host:port (overrides server.listen)")

	var req devissuer.TokenRequest
	var roles, perms, scopes string
	tokenCmd := &cobra.Command{
		Use:   "token",
		Short: "Print an access token from the dev issuer (for mcphost dev)",
		Long: `token prints a token signed by the dev issuer of the given config, valid against
"mcphost dev" (or provider dev) served from the same config and address.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(*g, true)
			if err != nil {
				return err
			}
			if req.Subject == "" {
				return usageError{fmt.Errorf("token: --sub is required")}
			}
			iss, err := devissuer.Open(cfg.DataDir)
			if err != nil {
				return fmt.Errorf("dev issuer: %w", err)
			}
			base := publicBase(cfg, cfg.Server.Listen)
			req.Issuer = base
			if len(cfg.Auth.WorkOS.Audiences) > 0 {
				req.Audience = cfg.Auth.WorkOS.Audiences
			} else {
				req.Audience = []string{base + host.MCPPath}
			}
			req.Roles, req.Permissions = splitList(roles), splitList(perms)
			req.Scopes = strings.Fields(scopes)
			tok, err := iss.Mint(req)
			if err != nil {
				return usageError{fmt.Errorf("token: %w", err)}
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := tokenCmd.Flags()
	f.StringVar(&g.listen, "listen", "", "the address mcphost dev listens on (overrides server.listen)")
	f.StringVar(&req.Subject, "sub", "", "user id (sub claim), required")
	f.StringVar(&req.Email, "email", "", "email claim")
	f.StringVar(&req.Name, "name", "", "name claim")
	f.StringVar(&req.Org, "org", "", "organization id (org_id claim)")
	f.StringVar(&roles, "roles", "", "comma-separated roles")
	f.StringVar(&perms, "permissions", "", "comma-separated permissions")
	f.StringVar(&scopes, "scopes", "", `space-separated scopes (default "email offline_access openid profile")`)
	f.DurationVar(&req.TTL, "ttl", time.Hour, "token lifetime")

	root.AddCommand(devCmd, tokenCmd)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
