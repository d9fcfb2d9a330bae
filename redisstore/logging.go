package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// clientLog routes the Redis client's own messages (failed dials, mostly)
// into the server's structured log. An outage makes the client report every
// failed dial, so at most one message per interval is logged, with the count
// of those left out.
type clientLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *clientLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	l.log.Warn("redis client", "message", fmt.Sprintf(format, v...), "suppressed", n)
}

var setLoggerOnce sync.Once

// useLogger sends the Redis client's messages to logger. The client's
// logger is process-wide, so the first Store opened with a logger sets it.
func useLogger(logger *slog.Logger) {
	setLoggerOnce.Do(func() {
		redis.SetLogger(&clientLog{log: logger, interval: 10 * time.Second, now: time.Now})
	})
}
