package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
)

// Gate authenticates requests to the MCP endpoint. An implementation writes its
// own 401/403 responses and, on success, calls next with auth.WithCaller.
type Gate interface {
	Middleware(next http.Handler) http.Handler
	// RegisterDiscovery adds the public discovery routes (OAuth metadata).
	RegisterDiscovery(mux *http.ServeMux)
}

// Server is mcphost's HTTP front: /mcp behind the gate, discovery routes, and
// the health endpoints.
type Server struct {
	host *Host
	cfg  *config.Config
	log  *slog.Logger
	http *http.Server
}

// ServerOptions configure NewServer.
type ServerOptions struct {
	Version string
	// Gate authenticates /mcp; nil serves it unauthenticated (provider none).
	Gate Gate
	// Routes, if set, adds more public routes (the dev issuer's JWKS).
	Routes func(mux *http.ServeMux)
}

// MCPPath is where the MCP endpoint is served.
const MCPPath = "/mcp"

// NewServer wires the HTTP routes for h.
func NewServer(h *Host, cfg *config.Config, logger *slog.Logger, opts ServerOptions) *Server {
	mux := http.NewServeMux()
	mo := MCPOptions{
		Version:        opts.Version,
		Stateless:      cfg.Server.Stateless,
		JSONResponse:   cfg.Server.JSONResponse,
		Logger:         logger,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		SessionTimeout: cfg.Server.SessionTimeout,
	}
	if cfg.Server.EventStore == "memory" && !cfg.Server.Stateless {
		mo.EventStore = mcp.NewMemoryEventStore(nil)
	}
	var mcpHandler http.Handler = NewMCPHandler(h, mo)
	if opts.Gate != nil {
		// The gate verifies; the SDK's bearer middleware then carries the caller to
		// tool handlers and binds each session to the user who started it.
		// Expiry is the gate's decision alone (with its clock skew): the SDK's
		// check would answer 401 without a challenge, so it gets no expiry.
		mcpHandler = opts.Gate.Middleware(sdkauth.RequireBearerToken(callerTokenInfo, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(mcpHandler))
		opts.Gate.RegisterDiscovery(mux)
	}
	mcpHandler = withCORS(cfg.Server.AllowedOrigins, mcpHandler)
	mux.Handle(MCPPath, mcpHandler)
	mux.Handle(MCPPath+"/", mcpHandler)
	if opts.Routes != nil {
		opts.Routes(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !h.Ready() {
			code = http.StatusServiceUnavailable
		}
		body := map[string]any{"ready": code == http.StatusOK}
		// Plugin details (pids, checksums, tool names, last errors) are for
		// operators on this machine, not for anyone who can reach the port.
		if isLoopbackPeer(r) {
			body["plugins"] = h.Status()
		}
		writeJSON(w, code, body)
	})
	return &Server{
		host: h,
		cfg:  cfg,
		log:  logger,
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		},
	}
}

// callerTokenInfo hands the gate's verified caller to the go-sdk: the session is
// bound to UserID, and handlers find the caller in TokenInfo.Extra.
func callerTokenInfo(ctx context.Context, _ string, _ *http.Request) (*sdkauth.TokenInfo, error) {
	c := auth.CallerFromContext(ctx)
	if c == nil {
		return nil, sdkauth.ErrInvalidToken
	}
	return &sdkauth.TokenInfo{
		UserID: c.UserID,
		Scopes: c.Scopes,
		Extra:  map[string]any{callerKey: c},
	}, nil
}

// Handler returns the server's HTTP handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, lets in-flight tool calls finish within
// the configured shutdown timeout, then stops every plugin.
func (s *Server) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Server.ShutdownTimeout)
	defer cancel()
	// Stop accepting first. Open SSE streams would hold http.Server.Shutdown until
	// the deadline, so it runs beside the call drain rather than before it.
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	err := s.host.drain(ctx)
	// Drained calls still have their responses to write: give them a moment.
	select {
	case <-httpDone:
	case <-time.After(responseGrace):
		_ = s.http.Close()
		<-httpDone
	}
	s.host.stopPlugins()
	return err
}

// responseGrace is how long Shutdown waits after the last call for responses to flush.
const responseGrace = 500 * time.Millisecond

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// isLoopbackPeer reports whether the request comes from this machine, and not
// through a proxy on this machine (which would make everyone look local).
func isLoopbackPeer(r *http.Request) bool {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" || r.Header.Get("X-Real-Ip") != "" {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
