package redisstore

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestClientLogRateLimits: the Redis client's messages reach the structured
// log, one per interval, with how many were left out in between.
func TestClientLogRateLimits(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	l := &clientLog{log: slog.New(slog.NewTextHandler(&buf, nil)), interval: 10 * time.Second, now: func() time.Time { return now }}
	ctx := context.Background()
	l.Printf(ctx, "dial %s: refused", "a")
	for range 5 {
		now = now.Add(time.Second)
		l.Printf(ctx, "dial %s: refused", "b")
	}
	now = now.Add(10 * time.Second)
	l.Printf(ctx, "dial %s: refused", "c")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], `message="dial a: refused"`) || !strings.Contains(lines[0], "suppressed=0") || !strings.Contains(lines[0], "level=WARN") {
		t.Errorf("first line: %s", lines[0])
	}
	if !strings.Contains(lines[1], `message="dial c: refused"`) || !strings.Contains(lines[1], "suppressed=5") {
		t.Errorf("second line: %s", lines[1])
	}
}
