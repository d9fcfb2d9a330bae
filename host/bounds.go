package host

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/connlimit"
	"github.com/mcphost/mcphost/mcpserver"
)

// Bounds against hostile load at the HTTP layer: timeouts, connection caps,
// the Host check on every route, and refusals that do not wait for a body.

// NewHTTPServer returns an http.Server with the configured timeouts, for the
// main listener and the metrics one. Event streams outlive WriteTimeout: the
// engine extends the deadline before each write (http.ResponseController).
func NewHTTPServer(cfg *config.Config, h http.Handler, logger *slog.Logger) *http.Server {
	s := cfg.Server
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, s.ReadTimeout),
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// GuardHost refuses requests to a loopback listener whose Host is not a
// loopback name, on every route: a DNS-rebound page must not read /readyz's
// plugin detail or /metrics any more than call /mcp.
//
// It also ends promptly every request answered with Connection: close while
// its body is unread (refused by the gate, too large): after the handler, Go
// would still read up to 256 KiB of the body, at the client's pace, before
// closing; an expired read deadline makes that read fail at once.
func GuardHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			defer func() {
				if w.Header().Get("Connection") == "close" {
					_ = http.NewResponseController(w).SetReadDeadline(time.Now())
				}
			}()
		}
		if !mcpserver.HostAllowed(r) {
			w.Header().Set("Connection", "close")
			http.Error(w, "Forbidden: the Host header does not name this server", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// closeUnlessAdmitted runs gate around next so that a refused request with a
// body gets its 401/403 at once and then loses its connection: Go would
// otherwise read (up to 256 KiB of) the body it has no right to send before
// answering, at whatever pace the client drips it (GuardHost stops the read
// after the handler).
func closeUnlessAdmitted(gate Gate, next http.Handler) http.Handler {
	admitted := gate.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Del("Connection")
		next.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 {
			w.Header().Set("Connection", "close")
		}
		admitted.ServeHTTP(w, r)
	})
}

// limitListener caps the connections of ln by server.max_connections (kept
// below the open-file limit) and server.max_connections_per_ip (trusted
// proxies exempt: they carry many clients), and logs the caps in force.
func limitListener(ln net.Listener, cfg *config.Config, logger *slog.Logger) net.Listener {
	fds := connlimit.FileLimit()
	maxConns, reserve := connlimit.Within(cfg.Server.MaxConnections, fds)
	logger.Info("connection limits", "max_connections", maxConns, "configured", cfg.Server.MaxConnections,
		"max_connections_per_ip", cfg.Server.MaxConnectionsPerIP, "open_file_limit", fds, "reserved_fds", reserve,
		"read_timeout", cfg.Server.ReadTimeout, "write_timeout", cfg.Server.WriteTimeout, "idle_timeout", cfg.Server.IdleTimeout)
	var lastWarn atomic.Int64
	return connlimit.Wrap(ln, connlimit.Options{
		Max:    maxConns,
		PerIP:  cfg.Server.MaxConnectionsPerIP,
		Exempt: trustedProxies(cfg),
		OnRefuse: func(peer netip.Addr, limit string) {
			// A flood must not flood the log too: one line per 10s.
			now := time.Now().UnixNano()
			if last := lastWarn.Load(); now-last > int64(10*time.Second) && lastWarn.CompareAndSwap(last, now) {
				logger.Warn("connection refused: over the cap", "limit", limit, "peer", peer.String())
			}
		},
	})
}
