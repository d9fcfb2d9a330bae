package requestid

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestMiddleware(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	var seen string
	h := Middleware(trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = FromContext(r.Context()) }))
	for _, c := range []struct {
		name, remote, incoming string
		keep                   bool
	}{
		{"trusted proxy", "10.1.2.3:4000", "req-abc.123", true},
		{"untrusted peer", "192.0.2.7:4000", "req-abc.123", false},
		{"trusted, bad characters", "10.1.2.3:4000", "evil\r\nx", false},
		{"trusted, too long", "10.1.2.3:4000", strings.Repeat("a", maxLen+1), false},
		{"none sent", "10.1.2.3:4000", "", false},
	} {
		req := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		req.RemoteAddr = c.remote
		if c.incoming != "" {
			req.Header.Set(Header, c.incoming)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := rec.Header().Get(Header)
		if got == "" || got != seen {
			t.Errorf("%s: response id %q, context id %q", c.name, got, seen)
		}
		if (got == c.incoming) != c.keep {
			t.Errorf("%s: id %q (incoming %q), keep %v", c.name, got, c.incoming, c.keep)
		}
	}
	if a, b := New(), New(); a == b || len(a) != 16 {
		t.Errorf("New() = %q, %q", a, b)
	}
}

// TestLogHandler: a line logged with a request's context names its id, once;
// lines without one are left alone.
func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := With(context.Background(), "req-42")
	log.InfoContext(ctx, "with id")
	log.Info("without context")
	log.InfoContext(ctx, "named already", "request_id", "req-42")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines: %q", len(lines), buf.String())
	}
	for i, want := range []int{1, 0, 1} {
		if got := strings.Count(lines[i], `"request_id":"req-42"`); got != want || !strings.Contains(lines[i], `"component":"test"`) {
			t.Errorf("line %d = %s: request_id %d times, want %d", i, lines[i], got, want)
		}
	}
}
