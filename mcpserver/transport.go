package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// The Streamable HTTP transport: one endpoint, POST for every client message,
// GET for a legacy session's stream, DELETE to end a legacy session. The era is
// chosen per request (see route).

// ServeHTTP implements http.Handler. The request context carries the verified
// caller (auth.WithCaller) when the endpoint is authenticated.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hostAllowed(r) {
		writeHTTPError(w, http.StatusForbidden, nil, newError(http.StatusForbidden, CodeInvalidRequest, "Forbidden: the Host header does not name this server"))
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !s.originAllowed(r, o) {
		writeHTTPError(w, http.StatusForbidden, nil, newError(http.StatusForbidden, CodeInvalidRequest, "Forbidden: origin "+o+" is not allowed"))
		return
	}
	if s.o.WriteTimeout > 0 {
		w = &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), d: s.o.WriteTimeout}
	}
	if r.Method != http.MethodPost && r.ContentLength != 0 {
		// Nothing here reads it, and Go would drain it after the response:
		// refuse it and drop the connection instead.
		w.Header().Set("Connection", "close")
		writeHTTPError(w, http.StatusBadRequest, nil, newError(http.StatusBadRequest, CodeInvalidRequest, r.Method+" requests carry no body on the MCP endpoint"))
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.servePost(w, r)
	case http.MethodGet:
		s.serveGet(w, r)
	case http.MethodDelete:
		s.serveDelete(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeHTTPError(w, http.StatusMethodNotAllowed, nil, newError(http.StatusMethodNotAllowed, CodeInvalidRequest, "method "+r.Method+" is not allowed on the MCP endpoint"))
	}
}

// deadlineWriter moves the write deadline before each write, so a response
// that takes long to produce (a tool call, an event stream) is not cut off by
// the server's WriteTimeout, while a client that stops reading still is.
type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (w *deadlineWriter) extend() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.d)) }

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeHTTPError(w http.ResponseWriter, status int, id []byte, e *Error) {
	buf := getBuf()
	b := appendErrorResponse((*buf)[:0], id, e)
	w.Header().Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterHeader(e.RetryAfter))
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
	*buf = b
	putBuf(buf)
}

func (s *Server) hostAllowed(r *http.Request) bool { return HostAllowed(r) }

// HostAllowed is the DNS-rebinding defence: a server listening on loopback
// answers only requests addressed to a loopback name (a web page whose name
// was rebound to 127.0.0.1 still sends its own name as Host).
func HostAllowed(r *http.Request) bool {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !isLoopbackAddr(la.String()) {
		return true
	}
	return isLoopbackHost(r.Host)
}

func (s *Server) originAllowed(r *http.Request, origin string) bool {
	if s.o.OriginAllowed != nil && s.o.OriginAllowed(origin) {
		return true
	}
	// A browser page served from this machine may talk to a loopback server.
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || !isLoopbackAddr(la.String()) {
		return false
	}
	_, host, found := strings.Cut(origin, "://")
	return found && isLoopbackHost(host)
}

func isLoopbackAddr(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}

func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// accepts reports which response types an Accept header allows.
func accepts(r *http.Request) (jsonOK, sseOK bool) {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/json":
				jsonOK = true
			case "text/event-stream":
				sseOK = true
			case "*/*":
				jsonOK, sseOK = true, true
			case "application/*":
				jsonOK = true
			case "text/*":
				sseOK = true
			}
		}
	}
	return
}

// readBody reads at most limit bytes into buf; over is true when the body is larger.
func readBody(r io.Reader, buf []byte, limit int64) ([]byte, bool, error) {
	for {
		if int64(len(buf)) > limit {
			return buf, true, nil
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, int64(len(buf)) > limit, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
}

func (s *Server) servePost(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeHTTPError(w, http.StatusUnsupportedMediaType, nil, newError(http.StatusUnsupportedMediaType, CodeInvalidRequest, "Content-Type must be application/json"))
		return
	}
	jsonOK, sseOK := accepts(r)
	if !jsonOK || (!sseOK && !s.o.JSONResponse) {
		writeHTTPError(w, http.StatusNotAcceptable, nil, newError(http.StatusNotAcceptable, CodeInvalidRequest, "Accept must list both application/json and text/event-stream"))
		return
	}
	if r.ContentLength > s.o.MaxBodyBytes {
		// Known too large before a byte is read: answer now, and close rather
		// than drain it.
		w.Header().Set("Connection", "close")
		writeHTTPError(w, http.StatusRequestEntityTooLarge, nil, newError(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body is larger than the server's limit"))
		return
	}
	// One byte over the limit is how readBody tells "too large"; past that,
	// MaxBytesReader makes Go close the connection instead of draining.
	r.Body = http.MaxBytesReader(w, r.Body, s.o.MaxBodyBytes+1)
	buf := getBuf()
	detached := false // the request still uses buf after this returns
	defer func() {
		if !detached {
			putBuf(buf)
		}
	}()
	body, over, err := readBody(r.Body, (*buf)[:0], s.o.MaxBodyBytes)
	*buf = body
	if over {
		w.Header().Set("Connection", "close") // rather than drain the rest
		writeHTTPError(w, http.StatusRequestEntityTooLarge, nil, newError(http.StatusRequestEntityTooLarge, CodeInvalidRequest, "request body is larger than the server's limit"))
		return
	}
	if err != nil {
		// A body slower than server.read_timeout ends here too.
		w.Header().Set("Connection", "close")
		writeHTTPError(w, http.StatusBadRequest, nil, newError(http.StatusBadRequest, CodeParseError, "could not read the request body"))
		return
	}
	// The body is in: the read timeout has done its job, and would otherwise
	// cancel a call (or a listen stream) that runs past it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	if i := skipSpace(body, 0); i < len(body) && body[i] == '[' {
		s.serveBatch(w, r, body, sseOK)
		return
	}
	msg, perr := decodeMessage(body)
	if perr != nil {
		var id []byte
		if msg != nil {
			id = msg.id
		}
		writeHTTPError(w, perr.httpStatus(), id, perr)
		return
	}
	rq, rerr := s.route(w, r, msg, body)
	if rerr != nil {
		writeHTTPError(w, rerr.httpStatus(), msg.id, rerr)
		return
	}
	if rq == nil {
		return // answered (a notification or a client's response)
	}
	detached = rq.serve(sseOK)
}

// route decides the era of a message, checks what that era requires, and
// returns the request to serve (nil when the message was fully handled here).
func (s *Server) route(w http.ResponseWriter, r *http.Request, msg *message, raw []byte) (*request, *Error) {
	rq := &request{s: s, w: w, r: r, ctx: r.Context(), caller: auth.CallerFromContext(r.Context()), msg: msg, raw: raw}
	p, err := parseParams(msg.params)
	if err != nil {
		return nil, newError(http.StatusBadRequest, CodeInvalidParams, "invalid params")
	}
	rq.p = p
	meta, ok := parseMeta(p.meta)
	if !ok {
		return nil, newError(http.StatusBadRequest, CodeInvalidParams, "invalid params: _meta must be an object with string values for io.modelcontextprotocol/protocolVersion")
	}
	rq.meta = meta
	hdr := r.Header.Get("MCP-Protocol-Version")
	switch {
	case msg.method == "initialize" && !meta.hasVersion && !isModern(hdr):
		if e := s.routeInitialize(rq, hdr); e != nil {
			return nil, e
		}
		return rq, nil
	case meta.hasVersion || isModern(hdr) || (hdr != "" && !isLegacy(hdr)):
		if e := s.routeModern(rq, hdr); e != nil {
			if e == errHandled {
				return nil, nil
			}
			return nil, e
		}
		return rq, nil
	}
	return s.routeLegacy(rq, hdr)
}

// routeModern checks the per-request metadata and headers of 2026-07-28.
func (s *Server) routeModern(rq *request, hdr string) *Error {
	msg, meta := rq.msg, rq.meta
	switch {
	case msg.isResponse():
		return newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: clients do not send responses on this protocol version")
	case msg.isNotification():
		rq.w.WriteHeader(http.StatusAccepted)
		return errHandled
	case hdr == "":
		return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: the MCP-Protocol-Version header is required")
	case !meta.hasVersion:
		return newError(http.StatusBadRequest, CodeInvalidParams, "invalid params: _meta.io.modelcontextprotocol/protocolVersion is required")
	case hdr != meta.protocolVersion:
		return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: MCP-Protocol-Version header value '"+echo(hdr)+"' does not match body value '"+echo(meta.protocolVersion)+"'")
	case !isModern(meta.protocolVersion):
		return unsupportedVersion(meta.protocolVersion)
	case meta.capabilities == nil || kindOf(meta.capabilities) != '{':
		return newError(http.StatusBadRequest, CodeInvalidParams, "invalid params: _meta.io.modelcontextprotocol/clientCapabilities is required (an object)")
	}
	if meta.logLevel != "" {
		if _, ok := levelRank(meta.logLevel); !ok {
			return newError(http.StatusBadRequest, CodeInvalidParams, "invalid params: unknown io.modelcontextprotocol/logLevel "+echo(meta.logLevel))
		}
	}
	if got := rq.r.Header.Get("Mcp-Method"); got != msg.method {
		if got == "" {
			return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: the Mcp-Method header is required")
		}
		return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: Mcp-Method header value '"+echo(got)+"' does not match body value '"+echo(msg.method)+"'")
	}
	m, known := methods[msg.method]
	if !known || !m.modern {
		return newError(http.StatusNotFound, CodeMethodNotFound, "method not found: "+echo(msg.method))
	}
	if m.named != "" {
		raw := rq.p.name
		if m.named == "uri" {
			raw = rq.p.uri
		}
		body, _ := stringValue(raw)
		got, present, ok := headerValue(rq.r.Header, "Mcp-Name")
		switch {
		case !present:
			return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: the Mcp-Name header is required for "+msg.method)
		case !ok:
			return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: the Mcp-Name header value is malformed")
		case got != body:
			return newError(http.StatusBadRequest, CodeHeaderMismatch, "Header mismatch: Mcp-Name header value '"+echo(got)+"' does not match body value '"+echo(body)+"'")
		}
	}
	rq.version = meta.protocolVersion
	rq.modern = true
	rq.method = m
	rq.caps = parseClientCaps(meta.capabilities)
	rq.logLevel = levelNone
	if meta.logLevel != "" {
		rq.logLevel, _ = levelRank(meta.logLevel)
	}
	return nil
}

// errHandled marks a message answered during routing.
var errHandled = &Error{}

func unsupportedVersion(requested string) *Error {
	data := []byte(`{"supported":[`)
	for i, v := range supportedVersions {
		if i > 0 {
			data = append(data, ',')
		}
		data = appendString(data, v)
	}
	data = append(data, `],"requested":`...)
	data = appendString(data, echo(requested))
	data = append(data, '}')
	return &Error{Status: http.StatusBadRequest, Code: CodeUnsupportedProtocolVersion, Message: "Unsupported protocol version: " + echo(requested), Data: data}
}

// headerValue reads a header that may use the =?base64?...?= sentinel.
func headerValue(h http.Header, name string) (value string, present, ok bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", false, false
	}
	if len(vs) > 1 {
		return "", true, false
	}
	v := vs[0]
	if strings.HasPrefix(v, "=?base64?") && strings.HasSuffix(v, "?=") && len(v) >= len("=?base64??=") {
		dec, err := base64.StdEncoding.DecodeString(v[len("=?base64?") : len(v)-2])
		if err != nil {
			return "", true, false
		}
		return string(dec), true, true
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c > 0x7e {
			return "", true, false
		}
	}
	return v, true, true
}

// routeInitialize starts a legacy session (or answers statelessly).
func (s *Server) routeInitialize(rq *request, hdr string) *Error {
	if !rq.msg.isRequest() {
		return newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: initialize must be a request with an id")
	}
	if sid := rq.r.Header.Get("Mcp-Session-Id"); sid != "" && !s.o.Stateless {
		return newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: initialize must not carry an Mcp-Session-Id")
	}
	v, _ := stringValue(rq.p.version)
	if !isLegacy(v) {
		v = LatestLegacyVersion
	}
	rq.version = v
	rq.method = methods["initialize"]
	rq.caps = parseClientCaps(rq.p.capabilities)
	rq.logLevel = levelNone
	return nil
}

// routeLegacy finds the session of a legacy message and handles the messages
// that need no answer (notifications, the client's responses).
func (s *Server) routeLegacy(rq *request, hdr string) (*request, *Error) {
	msg := rq.msg
	version := hdr
	if version == "" {
		version = "2025-03-26" // the version before the header existed
	}
	rq.version = version
	rq.logLevel = levelNone
	if s.o.Stateless {
		// No session remembers a logging/setLevel, so the server's own
		// default applies: info and above, on the request's stream.
		rq.logLevel, _ = levelRank("info")
	} else {
		sid := rq.r.Header.Get("Mcp-Session-Id")
		if sid == "" {
			return nil, newError(http.StatusBadRequest, CodeInvalidRequest, "Bad Request: Mcp-Session-Id header is required (send initialize first)")
		}
		sess, err := s.sessionFor(rq.ctx, sid, rq.caller)
		if err != nil {
			return nil, err
		}
		rq.session = sess
		if hdr == "" {
			rq.version = sess.ProtocolVersion
		}
		rq.caps = parseClientCaps(sess.ClientCapabilities)
		if sess.LogLevel != "" {
			rq.logLevel, _ = levelRank(sess.LogLevel)
		}
	}
	switch {
	case msg.isResponse():
		if rq.session != nil {
			id, _ := stringValue(msg.id)
			_ = s.broker.Publish(rq.ctx, topicReply(rq.session.ID, id), append([]byte(nil), rq.raw...))
		}
		rq.w.WriteHeader(http.StatusAccepted)
		return nil, nil
	case msg.isNotification():
		if msg.method == "notifications/cancelled" && rq.session != nil {
			s.cancelInflight(rq.session.ID, rq.p.requestID)
		}
		rq.w.WriteHeader(http.StatusAccepted)
		return nil, nil
	}
	m, known := methods[msg.method]
	if !known || !m.legacy {
		return rq, newError(http.StatusOK, CodeMethodNotFound, "method not found: "+echo(msg.method))
	}
	rq.method = m
	return rq, nil
}

// sessionFor loads a session for its owner; another user's session answers
// exactly like a missing one.
func (s *Server) sessionFor(ctx context.Context, id string, caller *auth.Caller) (*Session, *Error) {
	sess, err := s.sessions.Get(ctx, id)
	if err == nil && sess.Owner != s.o.CallerKey(caller) {
		err = ErrNoSession
	}
	if errors.Is(err, ErrNoSession) {
		return nil, newError(http.StatusNotFound, CodeInvalidRequest, "session not found (it expired or was closed): send initialize again")
	}
	if err != nil {
		s.log.WarnContext(ctx, "session store failed", "error", err)
		return nil, newError(http.StatusServiceUnavailable, CodeInternalError, "the session store is unavailable; try again")
	}
	return sess, nil
}

func newID() string { return rand.Text() }
