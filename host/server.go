package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/mcpserver"
	"github.com/mcphost/mcphost/ratelimit"
	"github.com/mcphost/mcphost/redisstore"
	"github.com/mcphost/mcphost/requestid"
)

// Gate authenticates requests to the MCP endpoint. An implementation writes its
// own 401/403 responses and, on success, calls next with auth.WithCaller.
type Gate interface {
	Middleware(next http.Handler) http.Handler
	// RegisterDiscovery adds the public discovery routes (OAuth metadata).
	RegisterDiscovery(mux *http.ServeMux)
}

// ReadyGate is a Gate that can be unready, such as a verifier whose signing
// keys have not been loaded yet: /readyz reports it.
type ReadyGate interface {
	Gate
	Ready() error
}

// Server is mcphost's HTTP front: /mcp behind the gate, discovery routes, and
// the health endpoints.
type Server struct {
	engine *mcpserver.Server
	store  *redisstore.Store // nil: sessions in this process
	host   *Host
	cfg    *config.Config
	log    *slog.Logger
	http   *http.Server
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
	eo := mcpserver.Options{
		Name:           "mcphost",
		Version:        opts.Version,
		Stateless:      cfg.Server.Stateless,
		JSONResponse:   cfg.Server.JSONResponse,
		MaxBodyBytes:   cfg.Server.MaxBodyBytes,
		SessionTimeout: cfg.Server.SessionTimeout,
		StateSecret:    []byte(cfg.Server.StateSecret),
		StateTTL:       cfg.Server.RequestStateTTL,
		OriginAllowed:  originPolicy(cfg),
		Logger:         logger,
		Tracer:         h.tracer,

		SessionCaps:       mcpserver.SessionCaps{PerOwner: cfg.Server.MaxSessionsPerUser, Total: cfg.Server.MaxSessions},
		MaxStreams:        cfg.Server.MaxStreams,
		MaxStreamsPerUser: cfg.Server.MaxStreamsPerUser,
		WriteTimeout:      cfg.Server.WriteTimeout,
	}
	var store *redisstore.Store
	switch {
	case cfg.Server.SharedStore():
		var err error
		store, err = redisstore.Open(redisstore.Options{URL: cfg.Server.Store, SessionTimeout: cfg.Server.SessionTimeout, Logger: logger})
		if err != nil {
			panic(err) // config.Load checked the URL with the same parser
		}
		eo.Sessions, eo.Broker = store.Sessions(), store.Broker()
		// Call limits hold across the replicas sharing the store.
		if mem, ok := h.limiter.(*ratelimit.Limiter); ok {
			h.limiter = store.Limiter(mem, nil, logger)
		}
		if cfg.Server.EventStore != "none" {
			eo.Events = store.Events()
		}
	case cfg.Server.EventStore == "memory" && !cfg.Server.Stateless:
		eo.Events = mcpserver.NewMemoryEvents(0, 0, 0, nil)
	}
	engine := NewEngine(h, eo)
	if m := h.metricsSet(); m != nil && !cfg.Server.Stateless {
		m.Register(sessionCollector{engine})
	}
	var mcpHandler http.Handler = engine
	if opts.Gate != nil {
		// The gate verifies and puts the caller in the request context; the
		// engine binds sessions and request state to that caller.
		mcpHandler = auditRefusals(h, closeUnlessAdmitted(opts.Gate, mcpHandler))
		opts.Gate.RegisterDiscovery(mux)
	}
	mcpHandler = withCORS(cfg.Server.AllowedOrigins, mcpHandler)
	mux.Handle(MCPPath, mcpHandler)
	mux.Handle(MCPPath+"/", mcpHandler)
	if opts.Routes != nil {
		opts.Routes(mux)
	}
	if m := h.metricsSet(); m != nil && cfg.Metrics.Listen == "" {
		// On the main listener: operators on this machine, or anyone with
		// metrics.public (behind a network policy); a private port is
		// metrics.listen.
		metricsHandler := m.Handler()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			if !cfg.Metrics.Public && !isLoopbackPeer(r) {
				http.Error(w, "/metrics is served to loopback peers only (set metrics.public or metrics.listen)", http.StatusForbidden)
				return
			}
			metricsHandler.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if !h.Ready() {
			code = http.StatusServiceUnavailable
		}
		body := map[string]any{"ready": code == http.StatusOK, "plugins_down": h.pluginsDown()}
		if store != nil {
			// Without the shared store no legacy session can be served here.
			if err := store.Ping(r.Context()); err != nil {
				code, body["ready"], body["store"] = http.StatusServiceUnavailable, false, "unavailable"
			} else {
				body["store"] = "ok"
			}
		}
		if g, ok := opts.Gate.(ReadyGate); ok {
			// Until the verifier has keys, every authenticated request fails.
			if err := g.Ready(); err != nil {
				code, body["ready"], body["auth"] = http.StatusServiceUnavailable, false, err.Error()
			} else {
				body["auth"] = "ok"
			}
		}
		// Plugin details (pids, checksums, tool names, last errors) are for
		// operators on this machine, not for anyone who can reach the port.
		if isLoopbackPeer(r) {
			body["plugins"] = h.Status()
		}
		writeJSON(w, code, body)
	})
	return &Server{
		engine: engine,
		store:  store,
		host:   h,
		cfg:    cfg,
		log:    logger,
		http:   NewHTTPServer(cfg, requestid.Middleware(trustedProxies(cfg), h.tracedHandler(instrument(h.metricsSet(), GuardHost(mux)))), logger),
	}
}

// trustedProxies are the peers whose X-Request-Id (like their X-Forwarded-*)
// is believed.
func trustedProxies(cfg *config.Config) []netip.Prefix {
	p, _ := auth.ParsePrefixes(cfg.Server.TrustedProxies) // validated by config.Load
	return p
}

// originPolicy allows the configured browser origins and the server's own
// public origin; the engine adds loopback origins on a loopback listener.
func originPolicy(cfg *config.Config) func(string) bool {
	own := strings.TrimSuffix(auth.PublicURL{Base: cfg.Server.PublicURL, Listen: cfg.Server.Listen}.Default(), "/")
	return func(origin string) bool {
		return origin == own || slices.Contains(cfg.Server.AllowedOrigins, "*") || slices.Contains(cfg.Server.AllowedOrigins, origin)
	}
}

// Handler returns the server's HTTP handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(limitListener(ln, s.cfg, s.log))
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
	// Stop accepting first: the listener closes (a balancer sends new
	// connections elsewhere) and every connection ends after the request it
	// carries. Requests already accepted are served in full, calls included:
	// refusing them now would fail calls a client cannot know to retry.
	s.http.SetKeepAlivesEnabled(false)
	httpDone := make(chan error, 1)
	go func() { httpDone <- s.http.Shutdown(ctx) }()
	s.engine.Close() // long-lived streams end gracefully, so Shutdown can finish
	httpStopped := false
	select {
	case <-httpDone:
		httpStopped = true
	case <-ctx.Done():
	}
	// Now nothing new can arrive; wait for the calls still running (a call
	// whose stream closed early runs past its HTTP request).
	err := s.host.drain(ctx)
	if !httpStopped {
		// Drained calls still have their responses to write: give them a moment.
		select {
		case <-httpDone:
		case <-time.After(responseGrace):
			_ = s.http.Close()
			<-httpDone
		}
	}
	s.host.stopPlugins()
	if s.store != nil {
		_ = s.store.Close()
	}
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
