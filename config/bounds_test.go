package config

import (
	"strings"
	"testing"
	"time"
)

func TestServerBoundsDefaults(t *testing.T) {
	t.Parallel()
	cfg, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(withSub)})
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.ReadTimeout != 30*time.Second || s.WriteTimeout != 30*time.Second || s.IdleTimeout != time.Minute {
		t.Errorf("timeouts = %v %v %v, want 30s 30s 1m", s.ReadTimeout, s.WriteTimeout, s.IdleTimeout)
	}
	if s.MaxConnections != 4096 || s.MaxConnectionsPerIP != 256 || s.MaxSessions != 10000 || s.MaxSessionsPerUser != 64 || s.MaxStreams != 1024 || s.MaxStreamsPerUser != 16 {
		t.Errorf("caps = %+v", s)
	}
}

func TestServerBoundsEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"MCP_USE_OAUTH_WORKOS_SUBDOMAIN": sub, "MCPHOST_SERVER_IDLE_TIMEOUT": "2s", "MCPHOST_SERVER_MAX_SESSIONS_PER_USER": "3"}
	cfg, _, err := loadYAML(t, "", Options{LookupEnv: envFrom(env)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.IdleTimeout != 2*time.Second || cfg.Server.MaxSessionsPerUser != 3 {
		t.Errorf("idle_timeout %v max_sessions_per_user %d, want the environment's", cfg.Server.IdleTimeout, cfg.Server.MaxSessionsPerUser)
	}
}

// Every bad value names its key.
func TestServerBoundsErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		want       []wantErr
	}{
		{"zero read_timeout", "server:\n  read_timeout: 0s\n", []wantErr{{key: "server.read_timeout", problem: "must be greater than 0"}}},
		{"zero write_timeout", "server:\n  write_timeout: 0s\n", []wantErr{{key: "server.write_timeout", problem: "must be greater than 0"}}},
		{"zero idle_timeout", "server:\n  idle_timeout: 0s\n", []wantErr{{key: "server.idle_timeout", problem: "must be greater than 0"}}},
		{"bad idle_timeout", "server:\n  idle_timeout: soon\n", []wantErr{{key: "server.idle_timeout", line: 2, problem: `"soon" is not a duration`}}},
		{"zero max_connections", "server:\n  max_connections: 0\n  max_connections_per_ip: 1\n", []wantErr{{key: "server.max_connections", problem: "0 must be at least 1"}}},
		{"negative max_connections_per_ip", "server:\n  max_connections_per_ip: -1\n", []wantErr{{key: "server.max_connections_per_ip", problem: "-1 must be at least 1"}}},
		{"per ip over total", "server:\n  max_connections: 10\n  max_connections_per_ip: 11\n", []wantErr{{key: "server.max_connections_per_ip", problem: "11 is more than server.max_connections (10)"}}},
		{"bad max_sessions", "server:\n  max_sessions: many\n", []wantErr{{key: "server.max_sessions", line: 2, problem: `"many" is not a whole number`}}},
		{"zero max_sessions", "server:\n  max_sessions: 0\n  max_sessions_per_user: 1\n", []wantErr{{key: "server.max_sessions", problem: "0 must be at least 1"}}},
		{"zero max_sessions_per_user", "server:\n  max_sessions_per_user: 0\n", []wantErr{{key: "server.max_sessions_per_user", problem: "0 must be at least 1"}}},
		{"per user sessions over total", "server:\n  max_sessions: 8\n", []wantErr{{key: "server.max_sessions_per_user", problem: "64 is more than server.max_sessions (8)"}}},
		{"zero max_streams", "server:\n  max_streams: 0\n  max_streams_per_user: 1\n", []wantErr{{key: "server.max_streams", problem: "0 must be at least 1"}}},
		{"zero max_streams_per_user", "server:\n  max_streams_per_user: 0\n", []wantErr{{key: "server.max_streams_per_user", problem: "0 must be at least 1"}}},
		{"per user streams over total", "server:\n  max_streams: 2\n  max_streams_per_user: 3\n", []wantErr{{key: "server.max_streams_per_user", problem: "3 is more than server.max_streams (2)"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for i, w := range tc.want {
				if w.line == 0 {
					tc.want[i].line = lineOf(tc.yaml, w.key)
				}
			}
			_, path, err := loadYAML(t, tc.yaml, Options{LookupEnv: envFrom(withSub)})
			checkErrors(t, err, path, tc.want)
		})
	}
}

// lineOf is the line of key's last part in yaml, or of its section (server:)
// when the file leaves the key out: where Load reports a problem.
func lineOf(yaml, key string) int {
	leaf := key[strings.LastIndex(key, ".")+1:]
	for i, l := range strings.Split(yaml, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), leaf+":") {
			return i + 1
		}
	}
	return 1
}
