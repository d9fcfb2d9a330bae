package e2etest

import (
	"bytes"
	"sync"
	"testing"
)

// LineLogger is an io.Writer that writes each line of a process's output to
// the test log, prefixed with the process's name, so that the output of the
// servers and clients an e2e test runs shows up with the test's own, and only
// when the test fails or runs with -v.
type LineLogger struct {
	t    testing.TB
	name string
	mu   sync.Mutex
	buf  []byte
	done bool
}

// NewLineLogger returns a LineLogger for the process name. Call Close before
// the test ends.
func NewLineLogger(t testing.TB, name string) *LineLogger {
	return &LineLogger{t: t, name: name}
}

// Write logs every complete line in p and keeps the rest for later. After
// Close it discards p, since logging after a test ends panics.
func (l *LineLogger) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Logf("[%s] %s", l.name, l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Close logs an unfinished last line and stops logging.
func (l *LineLogger) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.t.Logf("[%s] %s", l.name, l.buf)
	}
	l.done = true
}
