package host_test

import (
	"bufio"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Signals the tests wait on instead of sleeping: the log lines the host
// writes, and the calls testplugin announces as they begin.

// lineLog collects log lines (one record per line) and lets a test wait for
// one, the way an operator would read it.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	partial string
	grew    chan struct{} // closed and replaced whenever a line arrives
}

func newLineLog() *lineLog { return &lineLog{grew: make(chan struct{})} }

// Write takes log output; complete lines are recorded.
func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	text := l.partial + string(p)
	lines := strings.Split(text, "\n")
	l.partial = lines[len(lines)-1]
	if len(lines) > 1 {
		l.lines = append(l.lines, lines[:len(lines)-1]...)
		close(l.grew)
		l.grew = make(chan struct{})
	}
	return len(p), nil
}

// find returns the first line containing every one of parts, and the channel
// that closes when another line arrives.
func (l *lineLog) find(parts ...string) (string, bool, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if containsAll(line, parts) {
			return line, true, nil
		}
	}
	return "", false, l.grew
}

func (l *lineLog) has(parts ...string) bool {
	_, ok, _ := l.find(parts...)
	return ok
}

// wait blocks until a line containing every one of parts has been logged.
func (l *lineLog) wait(t testing.TB, within time.Duration, parts ...string) string {
	t.Helper()
	timeout := time.After(within)
	for {
		line, ok, grew := l.find(parts...)
		if ok {
			return line
		}
		select {
		case <-grew:
		case <-timeout:
			t.Fatalf("no log line with %q within %s; the log:\n%s", parts, within, l.String())
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// logger is a host logger writing text records into l (and to stderr with
// MCPHOST_TEST_LOGS set).
func (l *lineLog) logger() *slog.Logger {
	var w io.Writer = l
	if os.Getenv("MCPHOST_TEST_LOGS") != "" {
		w = io.MultiWriter(l, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// callStarts makes the FIFO through which testplugin, run with
// TESTPLUGIN_DIR=dir, announces each call of its slow tool as it begins
// ("slow <call id>"), and returns the announcements.
func callStarts(t testing.TB, dir string) <-chan string {
	t.Helper()
	path := filepath.Join(dir, "calls.fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// Read-write: the open does not wait for a writer, and the pipe stays
	// open between the plugin's writes.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ch := make(chan string, 64)
	go func() {
		lines := bufio.NewScanner(f)
		for lines.Scan() {
			select {
			case ch <- lines.Text():
			default: // nobody is reading that many
			}
		}
	}()
	return ch
}

// started waits for the next call announced on starts.
func started(t testing.TB, starts <-chan string) string {
	t.Helper()
	select {
	case s := <-starts:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("the plugin never announced the call")
		return ""
	}
}
