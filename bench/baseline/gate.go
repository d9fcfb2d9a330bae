// Package baseline holds the servers mcpbench measures mcphost against: the
// go-sdk v1.8.0 serving the benchmark's add tool in-process, and a bare net/http
// JSON-RPC handler. Both sit behind the same bearer gate as `mcphost dev`, so
// every target pays for the same JWT check.
package baseline

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/devissuer"
	"github.com/mcphost/mcphost/auth/workos"
	"github.com/mcphost/mcphost/config"
)

// MCPPath is where mcphost serves MCP (MCPPath). It is repeated here, not
// imported, so the benchmark builds against any engine behind the host.
const MCPPath = "/mcp"

// Gate is the bearer gate of `mcphost dev`: the workos provider verifying
// tokens of the embedded dev issuer, whose JWKS it reads in process.
type Gate struct {
	provider *workos.Provider
	issuer   *devissuer.Issuer
}

// NewDevGate builds the gate exactly as cmd/mcphost does for `mcphost dev`
// (setupDev and providerConfig in cmd/mcphost/auth.go): the issuer and the
// default audience come from the public URL of addr, the bound listen address,
// so a token from `mcphost token --config <same file> --listen <addr>` passes.
// Keep this in step with cmd/mcphost when either changes.
func NewDevGate(ctx context.Context, cfg *config.Config, logger *slog.Logger, addr string) (*Gate, error) {
	iss, err := devissuer.Open(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("dev issuer: %w", err)
	}
	proxies, _ := auth.ParsePrefixes(cfg.Server.TrustedProxies) // validated by config.Load
	pub := auth.PublicURL{Base: cfg.Server.PublicURL, Listen: addr, TrustedProxies: proxies}
	issuerURL := pub.Default()
	w := cfg.Auth.WorkOS
	audiences := w.Audiences
	if len(audiences) == 0 {
		audiences = []string{issuerURL + MCPPath}
	}
	jwks := http.NewServeMux()
	iss.Routes(jwks, "")
	p, err := workos.New(ctx, workos.Config{
		Domain:          issuerURL,
		VerifyJWT:       true,
		ScopesSupported: w.ScopesSupported,
		Audiences:       audiences,
		Algorithms:      w.Algorithms,
		ClockSkew:       w.ClockSkew,
		RequiredScopes:  w.RequiredScopes,
		ResourceName:    w.ResourceName,
		PublicURL:       pub,
		MCPPath:         MCPPath,
		Logger:          logger,
		StaticMetadata:  devissuer.Metadata(issuerURL),
		HTTPClient:      &http.Client{Timeout: 5 * time.Second, Transport: inProcess{jwks}},
	})
	if err != nil {
		return nil, fmt.Errorf("auth gate: %w", err)
	}
	return &Gate{provider: p, issuer: iss}, nil
}

// Middleware lets only requests with a valid token through, with the verified
// auth.Caller in their context.
func (g *Gate) Middleware(next http.Handler) http.Handler { return g.provider.Middleware(next) }

// Routes adds what `mcphost dev` serves beside /mcp: discovery and the JWKS.
func (g *Gate) Routes(mux *http.ServeMux) {
	g.provider.RegisterDiscovery(mux)
	g.issuer.Routes(mux, "")
}

// Close stops the provider's background refreshes.
func (g *Gate) Close() { _ = g.provider.Close() }

// inProcess answers the provider's JWKS fetches from a handler, as cmd/mcphost does.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
