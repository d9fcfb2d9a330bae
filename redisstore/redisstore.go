// Package redisstore keeps what the MCP engine holds per legacy session in
// Redis, so several mcphost replicas serve each other's sessions: the session
// records (mcpserver.SessionStore), the SSE events clients resume from
// (mcpserver.EventStore) and the messages between replicas
// (mcpserver.Broker, over pub/sub).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a Store.
type Options struct {
	// URL is redis://[user:pass@]host:port/db, or rediss:// for TLS.
	URL string
	// Prefix starts every key and channel (default "mcphost:").
	Prefix string
	// SessionTimeout expires idle sessions (0: never).
	SessionTimeout time.Duration
	// MaxStreamBytes bounds the event data kept per stream (default 1 MiB),
	// MaxEventBytes the events kept in all, bookkeeping counted (default 64
	// MiB); each session may hold a sixteenth of the latter. The bounds are
	// the memory store's (mcpserver.NewMemoryEvents) and hold across replicas.
	MaxStreamBytes, MaxEventBytes int
	// Grace is how long a finished stream stays resumable (default 1 minute).
	Grace time.Duration
	// Timeout bounds each Redis command, so an outage fails requests fast
	// instead of hanging them (default 2s).
	Timeout time.Duration
	// Logger, if set, receives the Redis client's own messages (failed
	// dials during an outage), at most one per 10 seconds.
	Logger *slog.Logger
}

// Store is the Redis connection the three stores share.
type Store struct {
	rdb *redis.Client
	o   Options

	brokerOnce sync.Once
	broker     *Broker
}

// Open connects to Redis. It does not wait for Redis to be up: commands
// fail until it is, and succeed again once it is back.
func Open(o Options) (*Store, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, fmt.Errorf("server.store: %s", redactedError(o.URL, err))
	}
	if o.Prefix == "" {
		o.Prefix = "mcphost:"
	}
	if o.MaxStreamBytes <= 0 {
		o.MaxStreamBytes = 1 << 20
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 64 << 20
	}
	if o.Grace <= 0 {
		o.Grace = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = o.Timeout, o.Timeout, o.Timeout
	opt.MaxRetries = 1
	// A refused dial means Redis is down: retrying it five times (the
	// client's default) makes every request of an outage wait over a second
	// to fail, across the several commands one request makes.
	opt.DialerRetries, opt.DialerRetryTimeout = 1, 50*time.Millisecond
	if o.Logger != nil {
		useLogger(o.Logger)
	}
	return &Store{rdb: redis.NewClient(opt), o: o}, nil
}

// redactedError is err without the URL's password.
func redactedError(raw string, err error) string {
	if u, perr := url.Parse(raw); perr == nil {
		return fmt.Sprintf("%s: %v", u.Redacted(), errors.Unwrap(err))
	}
	return "not a redis:// or rediss:// URL"
}

// Ping reports whether Redis answers (for readiness).
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	return s.rdb.Ping(ctx).Err()
}

// Close closes the connections (the broker's too).
func (s *Store) Close() error {
	if s.broker != nil {
		_ = s.broker.Close()
	}
	return s.rdb.Close()
}

// unavailable wraps a Redis failure so the engine's error names the store.
func unavailable(err error) error {
	return fmt.Errorf("the session store (Redis) is unavailable: %w", err)
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.o.Timeout)
}
