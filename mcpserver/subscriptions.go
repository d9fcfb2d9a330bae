package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// Long-lived streams: subscriptions/listen (2026-07-28), and a legacy session's
// GET stream with Last-Event-ID resumption; DELETE ends a legacy session.

// listener is one open subscriptions/listen stream.
type listener struct {
	tools, prompts, resources bool
	uris                      map[string]bool
	subID                     []byte // the listen request's raw id
	out                       chan []byte
}

func serveListen(rq *request, sseOK bool) {
	s := rq.s
	if !sseOK {
		writeHTTPError(rq.w, http.StatusNotAcceptable, rq.msg.id, newError(http.StatusNotAcceptable, CodeInvalidRequest, "subscriptions/listen answers with an event stream: Accept must list text/event-stream"))
		return
	}
	var filter struct {
		Tools     bool     `json:"toolsListChanged"`
		Prompts   bool     `json:"promptsListChanged"`
		Resources bool     `json:"resourcesListChanged"`
		URIs      []string `json:"resourceSubscriptions"`
	}
	if rq.p.notifications == nil || json.Unmarshal(rq.p.notifications, &filter) != nil {
		writeHTTPError(rq.w, http.StatusOK, rq.msg.id, InvalidParams("invalid params: subscriptions/listen needs params.notifications (an object)"))
		return
	}
	caps := s.b.Capabilities()
	l := &listener{tools: filter.Tools, prompts: filter.Prompts && caps.Prompts, resources: filter.Resources && caps.Resources,
		uris: map[string]bool{}, subID: append([]byte(nil), rq.msg.id...), out: make(chan []byte, subscriberBuffer)}
	var agreed []string
	for _, u := range filter.URIs {
		if caps.Resources && len(u) <= MaxURIBytes && !l.uris[u] && s.b.CanSubscribe(rq.caller, u) {
			l.uris[u] = true
			agreed = append(agreed, u)
		}
	}
	ack := []byte(`{"_meta":{"io.modelcontextprotocol/subscriptionId":`)
	ack = append(ack, l.subID...)
	ack = append(ack, `},"notifications":{`...)
	first := true
	flag := func(name string, on bool) {
		if !on {
			return
		}
		if !first {
			ack = append(ack, ',')
		}
		first = false
		ack = append(ack, '"')
		ack = append(ack, name...)
		ack = append(ack, `":true`...)
	}
	flag("toolsListChanged", l.tools)
	flag("promptsListChanged", l.prompts)
	flag("resourcesListChanged", l.resources)
	if len(agreed) > 0 {
		if !first {
			ack = append(ack, ',')
		}
		ack = append(ack, `"resourceSubscriptions":[`...)
		for i, u := range agreed {
			if i > 0 {
				ack = append(ack, ',')
			}
			ack = appendString(ack, u)
		}
		ack = append(ack, ']')
	}
	ack = append(ack, "}}"...)

	release, e := s.openStream(rq.caller)
	if e != nil {
		writeHTTPError(rq.w, e.httpStatus(), rq.msg.id, e)
		return
	}
	defer release()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeHTTPError(rq.w, http.StatusServiceUnavailable, rq.msg.id, newError(http.StatusServiceUnavailable, CodeInternalError, "the server is shutting down"))
		return
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	sw := newSSEWriter(rq.w, nil)
	if sw.event("", appendNotification(nil, "notifications/subscriptions/acknowledged", ack)) != nil {
		return
	}
	keep := time.NewTicker(s.o.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case msg := <-l.out:
			if sw.event("", msg) != nil {
				return
			}
		case <-keep.C:
			if sw.comment() != nil {
				return
			}
		case <-rq.r.Context().Done():
			return
		case <-s.done:
			// Graceful end: the listen request's own response.
			b := appendResultHead(nil, l.subID)
			b = append(b, `"resultType":"complete","_meta":{"io.modelcontextprotocol/subscriptionId":`...)
			b = append(b, l.subID...)
			b = append(b, '}')
			_ = sw.event("", appendResultTail(b))
			return
		}
	}
}

// notifyListeners sends a change to the subscriptions/listen streams that asked
// for it, tagged with each stream's subscription id.
func (s *Server) notifyListeners(ch Change, method string, params []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := range s.listeners {
		want := false
		switch ch.Kind {
		case ToolsChanged:
			want = l.tools
		case PromptsChanged:
			want = l.prompts
		case ResourcesChanged:
			want = l.resources
		case ResourceUpdated:
			want = l.uris[ch.URI]
		}
		if !want {
			continue
		}
		p := []byte(`{"_meta":{"io.modelcontextprotocol/subscriptionId":`)
		p = append(p, l.subID...)
		p = append(p, '}')
		if len(params) > 2 {
			p = append(p, ',')
			p = append(p, bytes.TrimSpace(params)[1:]...)
		} else {
			p = append(p, '}')
		}
		select {
		case l.out <- appendNotification(nil, method, p):
		default: // a stalled client loses the notification rather than stall us
		}
	}
}

// legacySession finds the session of a GET or DELETE.
func (s *Server) legacySession(w http.ResponseWriter, r *http.Request) *Session {
	if s.o.Stateless {
		w.Header().Set("Allow", "POST")
		writeHTTPError(w, http.StatusMethodNotAllowed, nil, newError(http.StatusMethodNotAllowed, CodeInvalidRequest, r.Method+" needs a session, and this server is stateless"))
		return nil
	}
	sid := r.Header.Get("Mcp-Session-Id")
	if sid == "" {
		if r.Header.Get("MCP-Protocol-Version") == ModernVersion || r.Method == http.MethodDelete {
			w.Header().Set("Allow", "POST")
			writeHTTPError(w, http.StatusMethodNotAllowed, nil, newError(http.StatusMethodNotAllowed, CodeInvalidRequest, r.Method+" is for legacy sessions; on 2026-07-28 use subscriptions/listen"))
			return nil
		}
		writeHTTPError(w, http.StatusBadRequest, nil, newError(http.StatusBadRequest, CodeInvalidRequest, "Bad Request: Mcp-Session-Id header is required"))
		return nil
	}
	sess, e := s.sessionFor(r.Context(), sid, auth.CallerFromContext(r.Context()))
	if e != nil {
		writeHTTPError(w, e.httpStatus(), nil, e)
		return nil
	}
	return sess
}

// streamGet is the standalone stream of a legacy session's events.
const streamGet = "get"

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request) {
	if _, sseOK := accepts(r); !sseOK {
		writeHTTPError(w, http.StatusNotAcceptable, nil, newError(http.StatusNotAcceptable, CodeInvalidRequest, "Accept must list text/event-stream"))
		return
	}
	sess := s.legacySession(w, r)
	if sess == nil {
		return
	}
	release, e := s.openStream(auth.CallerFromContext(r.Context()))
	if e != nil {
		writeHTTPError(w, e.httpStatus(), nil, e)
		return
	}
	defer release()
	// A stream outlives the read timeout, which would otherwise end it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	ctx := r.Context()
	closed, stopClose, err := s.broker.Subscribe(ctx, topicClose(sess.ID))
	if err != nil {
		writeHTTPError(w, http.StatusServiceUnavailable, nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the message broker is unavailable; try again"))
		return
	}
	defer stopClose()
	if last := r.Header.Get("Last-Event-ID"); last != "" && s.events != nil {
		stream, _, _, err := s.events.Replay(ctx, sess.ID, last)
		if err != nil {
			writeHTTPError(w, http.StatusNotFound, nil, newError(http.StatusNotFound, CodeInvalidRequest, "the events after Last-Event-ID "+last+" are no longer available"))
			return
		}
		if stream != streamGet {
			s.resumeStream(w, r, sess, last, stream, closed)
			return
		}
	}
	msgs, stop, err := s.broker.Subscribe(ctx, topicGet(sess.ID))
	if err != nil {
		writeHTTPError(w, http.StatusServiceUnavailable, nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the message broker is unavailable; try again"))
		return
	}
	defer stop()
	s.mu.Lock()
	s.getters[sess.ID]++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.getters[sess.ID]--; s.getters[sess.ID] <= 0 {
			delete(s.getters, sess.ID)
		}
		s.mu.Unlock()
	}()
	sw := newSSEWriter(w, nil)
	resumable := s.events != nil && primes(sess.ProtocolVersion)
	if last := r.Header.Get("Last-Event-ID"); last != "" && resumable {
		_, evs, _, _ := s.events.Replay(ctx, sess.ID, last)
		for _, ev := range evs {
			if sw.event(ev.ID, ev.Data) != nil {
				return
			}
		}
	} else if resumable {
		if id, err := s.events.Append(ctx, sess.ID, streamGet, nil); err == nil && sw.event(id, nil) != nil {
			return
		}
	}
	keep := time.NewTicker(s.o.KeepAlive)
	defer keep.Stop()
	for {
		select {
		case msg := <-msgs:
			id := ""
			if resumable {
				id, _ = s.events.Append(ctx, sess.ID, streamGet, msg)
			}
			if sw.event(id, msg) != nil {
				return
			}
		case <-keep.C:
			if sw.comment() != nil {
				return
			}
		case <-closed:
			return
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// resumeStream replays a request stream after last and, if the request is
// still running, goes on with its events until the final response.
func (s *Server) resumeStream(w http.ResponseWriter, r *http.Request, sess *Session, last, stream string, closed <-chan []byte) {
	ctx := r.Context()
	live, stop, err := s.broker.Subscribe(ctx, topicStream(sess.ID, stream))
	if err != nil {
		writeHTTPError(w, http.StatusServiceUnavailable, nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the message broker is unavailable; try again"))
		return
	}
	defer stop()
	// Subscribed first, then replayed: nothing falls between the two; events
	// seen in both are skipped by sequence number.
	_, evs, done, err := s.events.Replay(ctx, sess.ID, last)
	if err != nil {
		writeHTTPError(w, http.StatusNotFound, nil, newError(http.StatusNotFound, CodeInvalidRequest, "the events after Last-Event-ID "+last+" are no longer available"))
		return
	}
	sw := newSSEWriter(w, nil)
	seen := eventSeq(last)
	for _, ev := range evs {
		if sw.event(ev.ID, ev.Data) != nil {
			return
		}
		seen = eventSeq(ev.ID)
	}
	if done {
		return
	}
	for {
		select {
		case ev := <-live:
			if ev == nil {
				return // the stream ended
			}
			id, msg, _ := bytes.Cut(ev, []byte{'\n'})
			if eventSeq(string(id)) <= seen {
				continue
			}
			if sw.event(string(id), msg) != nil {
				return
			}
		case <-closed:
			return
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

func eventSeq(id string) int {
	i := strings.LastIndexByte(id, '_')
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return -1
	}
	return n
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) {
	sess := s.legacySession(w, r)
	if sess == nil {
		return
	}
	ctx := r.Context()
	if err := s.sessions.Delete(ctx, sess.ID); err != nil && !errors.Is(err, ErrNoSession) {
		e := storeError(ctx, s, err)
		writeHTTPError(w, e.httpStatus(), nil, e)
		return
	}
	s.endSession(ctx, sess.ID)
	w.WriteHeader(http.StatusNoContent)
}

// endSession drops what a closed or expired session held besides its record:
// its events, its streams (on every replica) and its running requests.
func (s *Server) endSession(ctx context.Context, id string) {
	if s.events != nil {
		s.events.DeleteSession(ctx, id)
	}
	_ = s.broker.Publish(ctx, topicClose(id), []byte("closed"))
	s.cancelSession(id)
}

// openStream counts a long-lived stream in, or refuses it over a cap; release
// gives its place back.
func (s *Server) openStream(caller *auth.Caller) (release func(), e *Error) {
	owner := s.o.CallerKey(caller)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.o.MaxStreamsPerUser > 0 && owner != "" && s.streams[owner] >= s.o.MaxStreamsPerUser:
		return nil, newError(http.StatusTooManyRequests, CodeInvalidRequest, "too many open streams for this user (server.max_streams_per_user is "+strconv.Itoa(s.o.MaxStreamsPerUser)+"); close one first")
	case s.o.MaxStreams > 0 && s.nStreams >= s.o.MaxStreams:
		return nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the server has as many open streams as it may (server.max_streams); try again later")
	}
	s.nStreams++
	s.streams[owner]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.nStreams--
			if s.streams[owner]--; s.streams[owner] <= 0 {
				delete(s.streams, owner)
			}
		})
	}, nil
}

// serveBatch handles a JSON-RPC batch: allowed only on 2025-03-26, answered
// as one JSON array.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, body []byte, sseOK bool) {
	v := r.Header.Get("MCP-Protocol-Version")
	if v != "" && !batchesAllowed(v) {
		writeHTTPError(w, http.StatusBadRequest, nil, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: batches are not allowed on protocol version "+v))
		return
	}
	var items []json.RawMessage
	if json.Unmarshal(body, &items) != nil {
		writeHTTPError(w, http.StatusBadRequest, nil, newError(http.StatusBadRequest, CodeParseError, "parse error: the body is not valid JSON"))
		return
	}
	if len(items) == 0 {
		writeHTTPError(w, http.StatusBadRequest, nil, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: an empty batch"))
		return
	}
	var out [][]byte
	for _, it := range items {
		rec := &recorder{header: http.Header{}}
		msg, perr := decodeMessage(it)
		switch {
		case perr != nil:
			var id []byte
			if msg != nil {
				id = msg.id
			}
			out = append(out, appendErrorResponse(nil, id, perr))
			continue
		case msg.method == "initialize":
			out = append(out, appendErrorResponse(nil, msg.id, InvalidParams("invalid request: initialize cannot be part of a batch")))
			continue
		}
		rq, rerr := s.route(rec, r, msg, it)
		if rerr != nil {
			out = append(out, appendErrorResponse(nil, msg.id, rerr))
			continue
		}
		if rq != nil {
			rq.serve(false)
		}
		if b := bytes.TrimSpace(rec.body.Bytes()); len(b) > 0 {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte{'['})
	for i, b := range out {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		_, _ = w.Write(b)
	}
	_, _ = w.Write([]byte{']'})
}

// recorder collects one batch item's answer.
type recorder struct {
	header http.Header
	body   bytes.Buffer
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }
