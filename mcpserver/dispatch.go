package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/internal/workers"
)

// request is one JSON-RPC request being served.
type request struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	caller *auth.Caller
	msg    *message
	raw    []byte
	p      params
	meta   requestMeta

	version  string
	modern   bool
	session  *Session // legacy session (nil on 2026-07-28 and stateless servers)
	method   method
	caps     clientCaps
	logLevel int
	rs       *responder
	span     trace.Span // nil unless Options.Tracer is set
}

// method is one entry of the dispatch table.
type method struct {
	handle func(*request) (Encoded, error)
	// stream serves a long-lived request that writes its own response.
	stream         func(*request, bool)
	modern, legacy bool
	// cacheable results carry ttlMs and cacheScope (2026-07-28).
	cacheable bool
	// named is the params member the Mcp-Name header mirrors ("name" or "uri").
	named string
	// closable requests may end their SSE response early (Call.CloseStream).
	closable bool
}

var methods map[string]method

func init() {
	both := func(h func(*request) (Encoded, error)) method { return method{handle: h, modern: true, legacy: true} }
	methods = map[string]method{
		"initialize":               {handle: handleInitialize, legacy: true},
		"ping":                     {handle: handlePing, legacy: true},
		"server/discover":          {handle: handleDiscover, modern: true, cacheable: true},
		"tools/list":               {handle: handleToolsList, modern: true, legacy: true, cacheable: true},
		"tools/call":               {handle: handleToolsCall, modern: true, legacy: true, named: "name", closable: true},
		"prompts/list":             {handle: handlePromptsList, modern: true, legacy: true, cacheable: true},
		"prompts/get":              {handle: handlePromptsGet, modern: true, legacy: true, named: "name"},
		"resources/list":           {handle: handleResourcesList, modern: true, legacy: true, cacheable: true},
		"resources/templates/list": {handle: handleTemplatesList, modern: true, legacy: true, cacheable: true},
		"resources/read":           {handle: handleResourcesRead, modern: true, legacy: true, cacheable: true, named: "uri"},
		"resources/subscribe":      {handle: handleSubscribe, legacy: true},
		"resources/unsubscribe":    {handle: handleUnsubscribe, legacy: true},
		"completion/complete":      both(handleComplete),
		"logging/setLevel":         {handle: handleSetLevel, legacy: true},
		"subscriptions/listen":     {stream: serveListen, modern: true},
	}
}

// serve runs the request and writes its answer. It reports true when the
// request goes on after serve returns (its stream was closed early, see
// Call.CloseStream): the request's memory must then stay with it.
func (rq *request) serve(sseOK bool) (detached bool) {
	s := rq.s
	if s.o.Tracer != nil {
		rq.startSpan()
	}
	if rq.method.stream != nil {
		rq.method.stream(rq, sseOK)
		if rq.span != nil {
			rq.endSpan(nil)
		}
		return false
	}
	rs := &responder{w: rq.w, sse: sseOK && !s.o.JSONResponse, s: s, ctx: rq.ctx}
	rs.flusher, _ = rq.w.(http.Flusher)
	rq.rs = rs
	cleanup := func() {}
	if rq.session != nil {
		// The session's negotiated version decides, not the request header:
		// some clients send an older MCP-Protocol-Version on later requests.
		if rs.sse && s.events != nil && primes(rq.session.ProtocolVersion) {
			// A resumable stream: a dropped connection is not a cancellation,
			// the client can come back with Last-Event-ID.
			rs.session, rs.stream = rq.session.ID, newID()[:16]
			rq.ctx = context.WithoutCancel(rq.ctx)
			rs.ctx = rq.ctx
		}
		var cancel context.CancelFunc
		rq.ctx, cancel = context.WithCancel(rq.ctx)
		key := inflightKey(rq.session.ID, rq.msg.id)
		s.mu.Lock()
		s.inflight[key] = cancel
		s.mu.Unlock()
		cleanup = func() {
			s.mu.Lock()
			delete(s.inflight, key)
			s.mu.Unlock()
			cancel()
		}
	}
	if rs.stream != "" && rq.method.closable {
		// The call may end its response before it ends (CloseStream), so it
		// runs beside the handler, which returns when the response is over.
		rs.released = make(chan struct{})
		callWorkers.Go(func() {
			defer cleanup()
			defer rs.release()
			res, err := rq.method.handle(rq)
			rq.finish(res, err)
		})
		<-rs.released
		return rs.closedEarly()
	}
	defer cleanup()
	res, err := rq.method.handle(rq)
	rq.finish(res, err)
	return false
}

// callWorkers run the calls that may close their stream early.
var callWorkers = workers.New(256)

func inflightKey(session string, id []byte) string { return session + "\x00" + string(id) }

// cancelInflight cancels a request of a session (notifications/cancelled).
// The request may run on another replica: one that does not find it here
// tells the others over the broker.
func (s *Server) cancelInflight(session string, rawID []byte) {
	if !s.cancelLocal(session, rawID) {
		_ = s.broker.Publish(context.Background(), topicCancel, []byte(inflightKey(session, rawID)))
	}
}

func (s *Server) cancelLocal(session string, rawID []byte) bool {
	s.mu.Lock()
	cancel := s.inflight[inflightKey(session, rawID)]
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	return cancel != nil
}

// cancelSession cancels every request of a session, on every replica.
func (s *Server) cancelSession(session string) {
	s.cancelSessionLocal(session)
	_ = s.broker.Publish(context.Background(), topicCancel, []byte(session+"\x00"))
}

func (s *Server) cancelSessionLocal(session string) {
	prefix := session + "\x00"
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, cancel := range s.inflight {
		if strings.HasPrefix(k, prefix) {
			cancel()
		}
	}
}

// listenCancels carries out the cancellations other replicas publish, for as
// long as the server runs; a broker that is down is retried every retry.
func (s *Server) listenCancels(retry time.Duration) {
	for {
		msgs, stop, err := s.broker.Subscribe(context.Background(), topicCancel)
		if err == nil {
			err = s.applyCancels(msgs)
			stop()
			if err == nil {
				return
			}
		}
		t := time.NewTimer(retry)
		select {
		case <-s.done:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// applyCancels runs until the server closes (nil) or the subscription ends.
func (s *Server) applyCancels(msgs <-chan []byte) error {
	for {
		select {
		case <-s.done:
			return nil
		case m, ok := <-msgs:
			if !ok {
				return errors.New("subscription ended")
			}
			session, id, _ := strings.Cut(string(m), "\x00")
			if id == "" {
				s.cancelSessionLocal(session)
			} else {
				s.cancelLocal(session, []byte(id))
			}
		}
	}
}

// resultTyper is implemented by results other than "complete".
type resultTyper interface{ resultType() string }

// finish writes the response.
func (rq *request) finish(res Encoded, err error) {
	buf := getBuf()
	b := (*buf)[:0]
	status := http.StatusOK
	if err == nil && res == nil {
		res = Members(nil)
	}
	var e *Error
	if err != nil {
		e = toError(err)
		if e.Status != 0 {
			status = e.Status
		}
		b = appendErrorResponse(b, rq.msg.id, e)
	} else {
		b = appendResultHead(b, rq.msg.id)
		typ := "complete"
		if t, ok := res.(resultTyper); ok {
			typ = t.resultType()
		}
		if rq.modern {
			b = append(b, `"resultType":"`...)
			b = append(b, typ...)
			b = append(b, `",`...)
		}
		start := len(b)
		b = res.AppendMembers(b)
		if len(b) == start && rq.modern {
			b = b[:start-1] // no members after resultType: drop its comma
		}
		if rq.modern && rq.method.cacheable && typ == "complete" {
			b = append(b, `,"ttlMs":`...)
			b = strconv.AppendInt(b, rq.s.o.ListTTL.Milliseconds(), 10)
			b = append(b, `,"cacheScope":"private"`...)
		}
		b = appendResultTail(b)
	}
	var retryAfter time.Duration
	if e != nil {
		retryAfter = e.RetryAfter
	}
	rq.rs.final(status, retryAfter, b)
	*buf = b
	putBuf(buf)
	if rq.span != nil {
		rq.endSpan(e)
	}
}

func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: CodeInternalError, Message: "request cancelled"}
	}
	return &Error{Code: CodeInternalError, Message: err.Error()}
}

// newCall prepares what a backend may do with the client during this request.
func (rq *request) newCall() *Call {
	c := &Call{ProtocolVersion: rq.version, Meta: rq.p.meta, ProgressToken: rq.meta.progressToken, logLevel: rq.logLevel, caps: rq.caps}
	if rq.session != nil {
		c.SessionID = rq.session.ID
		c.ClientCapabilities = rq.session.ClientCapabilities
	} else {
		c.ClientCapabilities = rq.meta.capabilities
	}
	c.sink = requestSink{rq}
	return c
}

// requestSink sends a call's messages on the request's own stream.
type requestSink struct{ rq *request }

func (k requestSink) closeStream(retry time.Duration) bool {
	return k.rq.rs != nil && k.rq.rs.closeEarly(retry)
}

func (k requestSink) notify(method string, params []byte) {
	k.rq.rs.send(appendNotification(nil, method, params))
}

// request asks the client on its legacy session: on the request's SSE stream,
// or (JSON responses) on the session's GET stream; the answer comes back as a
// POST on the session, published to the reply topic.
func (k requestSink) request(ctx context.Context, method string, params []byte) ([]byte, error) {
	rq, s := k.rq, k.rq.s
	if rq.session == nil {
		return nil, fmt.Errorf("%s: a stateless server cannot ask the client", method)
	}
	id := "mcphost-" + strconv.FormatUint(s.nextReq.Add(1), 10) + "-" + newID()[:8]
	replies, cancel, err := s.broker.Subscribe(ctx, topicReply(rq.session.ID, id))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	defer cancel()
	msg := appendRequest(nil, appendString(nil, id), method, params)
	if !rq.rs.send(msg) {
		if err := s.broker.Publish(ctx, topicGet(rq.session.ID), msg); err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
	}
	select {
	case raw := <-replies:
		m, perr := decodeMessage(raw)
		if perr != nil {
			return nil, fmt.Errorf("%s: the client's answer is malformed", method)
		}
		if m.err != nil {
			msg := memberString(m.err, "message")
			return nil, fmt.Errorf("%s: the client answered with an error: %s", method, msg)
		}
		return m.result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Server) publishStreamEvent(session, stream, id string, msg []byte) {
	s.publishStream(session, stream, streamEvent(id, msg))
}

// streamEvent is a stored event as a stream's live followers get it:
// "<id>\n<message>", in memory of its own.
func streamEvent(id string, msg []byte) []byte {
	ev := make([]byte, 0, len(id)+1+len(msg))
	return append(append(append(ev, id...), '\n'), msg...)
}

func (s *Server) publishStream(session, stream string, ev []byte) {
	_ = s.broker.Publish(context.Background(), topicStream(session, stream), ev)
}

func (s *Server) publishStreamEnd(session, stream string) {
	_ = s.broker.Publish(context.Background(), topicStream(session, stream), nil)
}

func handlePing(*request) (Encoded, error) { return Members(nil), nil }
