package mcpserver

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// responder writes the answer to one POST: a single JSON body, or an SSE stream
// carrying the request's notifications (and, on legacy sessions, its
// server-to-client requests) before the final response. It is safe for
// concurrent use: plugins report progress from their own goroutines.
type responder struct {
	w       http.ResponseWriter
	flusher http.Flusher
	sse     bool

	mu      sync.Mutex
	started bool // headers written
	gone    bool // the client's connection failed
	done    bool // the final response was written
	buf     []byte

	// Resumable legacy streams keep every event in the event store.
	s       *Server
	ctx     context.Context
	session string
	stream  string
	extra   http.Header // headers to add before writing (Mcp-Session-Id)

	// released, when set, is closed once the HTTP response is over: at the
	// end of the call, or earlier when the call closes its stream.
	released    chan struct{}
	isReleased  bool
	earlyClosed bool
}

// release ends the HTTP response's part in the call (idempotent).
func (rs *responder) release() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.releaseLocked()
}

func (rs *responder) releaseLocked() {
	if rs.released != nil && !rs.isReleased {
		rs.isReleased = true
		close(rs.released)
	}
}

// closedEarly reports whether the call closed its stream before it ended.
func (rs *responder) closedEarly() bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.earlyClosed
}

// closeEarly ends a resumable SSE response while its call goes on: it tells
// the client when to reconnect (the SSE retry field) and lets the handler
// return. Later events go to the event store only, for the client's GET
// with Last-Event-ID.
func (rs *responder) closeEarly(retry time.Duration) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.stream == "" || rs.released == nil || rs.isReleased || rs.done {
		return false
	}
	rs.startLocked() // the priming event carries the id to resume from
	if !rs.gone {
		b := append(rs.buf[:0], "retry: "...)
		b = strconv.AppendInt(b, max(retry.Milliseconds(), 0), 10)
		b = append(b, "\n\n"...)
		rs.buf = b
		if _, err := rs.w.Write(b); err == nil && rs.flusher != nil {
			rs.flusher.Flush()
		}
	}
	rs.gone = true // the ResponseWriter is the handler's, and it is about to return
	rs.earlyClosed = true
	rs.releaseLocked()
	return true
}

// start writes the SSE headers (and the priming event of a resumable stream).
func (rs *responder) startLocked() {
	if rs.started {
		return
	}
	rs.started = true
	h := rs.w.Header()
	for k, v := range rs.extra {
		h[k] = v
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	rs.w.WriteHeader(http.StatusOK)
	if rs.stream != "" {
		id, err := rs.s.events.Append(rs.ctx, rs.session, rs.stream, nil)
		if err == nil {
			rs.writeEventLocked(id, nil)
		}
	}
}

// writeEventLocked writes one SSE event; data nil writes an empty data field.
func (rs *responder) writeEventLocked(id string, data []byte) {
	if rs.gone {
		return
	}
	b := rs.buf[:0]
	if data != nil {
		b = append(b, "event: message\n"...)
	}
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = appendData(b, data)
	rs.buf = b
	if _, err := rs.w.Write(b); err != nil {
		rs.gone = true
		return
	}
	if rs.flusher != nil {
		rs.flusher.Flush()
	}
}

// send writes a message that precedes the final response. It reports false when
// the message could not go on this stream (JSON mode, or the client left).
func (rs *responder) send(msg []byte) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.sse || rs.done {
		return false
	}
	rs.startLocked()
	id := ""
	if rs.stream != "" {
		var err error
		if id, err = rs.s.events.Append(rs.ctx, rs.session, rs.stream, msg); err != nil {
			id = ""
		}
		rs.s.publishStreamEvent(rs.session, rs.stream, id, msg)
	}
	rs.writeEventLocked(id, msg)
	return !rs.gone || rs.stream != ""
}

// final writes the response and ends the stream. status and retryAfter
// apply to JSON answers (SSE answers are always 200).
func (rs *responder) final(status int, retryAfter time.Duration, msg []byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.done {
		return
	}
	rs.done = true
	if !rs.sse || (!rs.started && status != http.StatusOK) {
		if rs.started {
			return // cannot happen: JSON responders never start a stream
		}
		h := rs.w.Header()
		for k, v := range rs.extra {
			h[k] = v
		}
		h.Set("Content-Type", "application/json")
		if retryAfter > 0 {
			h.Set("Retry-After", retryAfterHeader(retryAfter))
		}
		rs.w.WriteHeader(status)
		_, _ = rs.w.Write(msg)
		return
	}
	rs.startLocked()
	id := ""
	if rs.stream != "" {
		var err error
		if id, err = rs.s.events.Append(rs.ctx, rs.session, rs.stream, msg); err != nil {
			id = ""
		}
		// The stored event is what a resumed stream replays; telling the
		// streams that follow this one live (perhaps on another replica) can
		// wait until the client has its answer: with a shared store these are
		// round trips the response would otherwise wait for.
		// msg may share memory with the request, which is reused once the
		// handler returns: the event is copied now.
		s, ctx, session, stream := rs.s, rs.ctx, rs.session, rs.stream
		ev := streamEvent(id, msg)
		defer func() {
			go func() {
				s.publishStream(session, stream, ev)
				s.publishStreamEnd(session, stream)
				s.events.Done(ctx, session, stream)
			}()
		}()
	}
	rs.writeEventLocked(id, msg)
}

// sseWriter writes a long-lived stream (GET, subscriptions/listen, resumption).
type sseWriter struct {
	w       http.ResponseWriter
	flusher http.Flusher
	mu      sync.Mutex
	buf     []byte
	err     error
}

func newSSEWriter(w http.ResponseWriter, extra http.Header) *sseWriter {
	h := w.Header()
	for k, v := range extra {
		h[k] = v
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	sw := &sseWriter{w: w, flusher: f}
	if f != nil {
		f.Flush()
	}
	return sw
}

func (sw *sseWriter) event(id string, data []byte) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.err != nil {
		return sw.err
	}
	b := sw.buf[:0]
	if data != nil {
		b = append(b, "event: message\n"...)
	}
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	b = appendData(b, data)
	sw.buf = b
	return sw.writeLocked(b)
}

func (sw *sseWriter) comment() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.err != nil {
		return sw.err
	}
	return sw.writeLocked([]byte(":\n\n"))
}

func (sw *sseWriter) writeLocked(b []byte) error {
	if _, err := sw.w.Write(b); err != nil {
		sw.err = err
		return err
	}
	if sw.flusher != nil {
		sw.flusher.Flush()
	}
	return nil
}

// appendData writes data as SSE data lines. JSON from plugins may hold line
// breaks (pretty-printed schemas); each line gets its own "data:" field, which
// the client joins back with "\n", so the JSON arrives intact.
func appendData(b, data []byte) []byte {
	for {
		i := 0
		for i < len(data) && data[i] != '\n' && data[i] != '\r' {
			i++
		}
		b = append(b, "data: "...)
		b = append(b, data[:i]...)
		b = append(b, '\n')
		if i == len(data) {
			return append(b, '\n')
		}
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}
