package config

import "time"

// validateServerBounds checks the timeouts and caps that bound hostile load.
func (c *Config) validateServerBounds(l *loader) {
	s := &c.Server
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"server.read_timeout", s.ReadTimeout}, {"server.write_timeout", s.WriteTimeout}, {"server.idle_timeout", s.IdleTimeout}} {
		if d.v <= 0 {
			l.report(d.key, "must be greater than 0 (it bounds how long a client may hold a connection)")
		}
	}
	for _, p := range []struct {
		total, per   string
		totalV, perV int
		perWhat      string
	}{
		{"server.max_connections", "server.max_connections_per_ip", s.MaxConnections, s.MaxConnectionsPerIP, "one client address"},
		{"server.max_sessions", "server.max_sessions_per_user", s.MaxSessions, s.MaxSessionsPerUser, "one user"},
		{"server.max_streams", "server.max_streams_per_user", s.MaxStreams, s.MaxStreamsPerUser, "one user"},
	} {
		if p.totalV < 1 {
			l.report(p.total, "%d must be at least 1", p.totalV)
		}
		switch {
		case p.perV < 1:
			l.report(p.per, "%d must be at least 1", p.perV)
		case p.totalV >= 1 && p.perV > p.totalV:
			l.report(p.per, "%d is more than %s (%d): %s could never reach it", p.perV, p.total, p.totalV, p.perWhat)
		}
	}
}
