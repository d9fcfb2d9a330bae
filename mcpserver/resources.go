package mcpserver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
)

func handleResourcesList(rq *request) (Encoded, error) {
	return rq.s.b.ListResources(rq.ctx, rq.caller)
}

func handleTemplatesList(rq *request) (Encoded, error) {
	return rq.s.b.ListResourceTemplates(rq.ctx, rq.caller)
}

// resourceNotFound is -32002 on legacy versions and -32602 on 2026-07-28.
func (rq *request) resourceNotFound(uri string) *Error {
	data := appendString([]byte(`{"uri":`), echo(uri))
	data = append(data, '}')
	code := CodeResourceNotFound
	if rq.modern {
		code = CodeInvalidParams
	}
	return &Error{Code: code, Message: "Resource not found", Data: data}
}

// MaxURIBytes bounds a resource URI from a client. A URI is an identifier, not
// a payload, and matching one against URI templates costs CPU in proportion to
// its length (about 2 ms per KiB with the template library the host uses), so
// a body-sized URI would be a cheap way to burn seconds of CPU. 8 KiB is the
// request-line length RFC 9110 asks HTTP servers to support at least.
const MaxURIBytes = 8 << 10

func (rq *request) uriParam() (string, *Error) {
	uri, ok := stringValue(rq.p.uri)
	if !ok || uri == "" {
		return "", InvalidParams("invalid params: " + rq.msg.method + " needs params.uri (a string)")
	}
	if len(uri) > MaxURIBytes {
		return "", InvalidParams("invalid params: " + rq.msg.method + " params.uri is " + strconv.Itoa(len(uri)) + " bytes, longer than the limit of " + strconv.Itoa(MaxURIBytes))
	}
	return uri, nil
}

func handleResourcesRead(rq *request) (Encoded, error) {
	uri, e := rq.uriParam()
	if e != nil {
		return nil, e
	}
	call := rq.newCall()
	if rq.modern && (rq.p.requestState != nil || rq.p.inputResponses != nil) {
		answers, err := rq.resume("resources/read", uri, nil)
		if err != nil {
			return nil, err
		}
		call.Answers = answers
	}
	res, err := rq.s.b.ReadResource(rq.ctx, rq.caller, uri, call)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, rq.resourceNotFound(uri)
	case errors.Is(err, ErrInputRequired) && rq.modern:
		return rq.inputRequired("resources/read", uri, nil, call)
	}
	return res, err
}

// resources/subscribe and unsubscribe (legacy): the session remembers the URIs;
// updates reach the session's GET stream.
func handleSubscribe(rq *request) (Encoded, error) {
	uri, e := rq.uriParam()
	if e != nil {
		return nil, e
	}
	if !rq.s.b.CanSubscribe(rq.caller, uri) {
		return nil, rq.resourceNotFound(uri)
	}
	if rq.session == nil {
		return nil, &Error{Code: CodeInvalidRequest, Message: "resources/subscribe needs a session (this server is stateless)"}
	}
	if err := rq.s.sessions.Subscribe(rq.ctx, rq.session.ID, uri); err != nil {
		return nil, storeError(rq.ctx, rq.s, err)
	}
	return Members(nil), nil
}

func handleUnsubscribe(rq *request) (Encoded, error) {
	uri, e := rq.uriParam()
	if e != nil {
		return nil, e
	}
	if rq.session != nil {
		if err := rq.s.sessions.Unsubscribe(rq.ctx, rq.session.ID, uri); err != nil {
			return nil, storeError(rq.ctx, rq.s, err)
		}
	}
	return Members(nil), nil
}

func storeError(ctx context.Context, s *Server, err error) *Error {
	if errors.Is(err, ErrNoSession) {
		return newError(http.StatusNotFound, CodeInvalidRequest, "session not found (it expired or was closed): send initialize again")
	}
	s.log.WarnContext(ctx, "session store failed", "error", err)
	return newError(http.StatusServiceUnavailable, CodeInternalError, "the session store is unavailable; try again")
}

// notifySessions delivers a change to legacy sessions: list changes to every
// session with a GET stream on this process, resource updates to the sessions
// subscribed to the URI (wherever their stream is held).
func (s *Server) notifySessions(ch Change, method string, params []byte) {
	msg := appendNotification(nil, method, params)
	ctx := context.Background()
	if ch.Kind == ResourceUpdated {
		ids, err := s.sessions.SubscribersOf(ctx, ch.URI)
		if err != nil {
			s.log.Warn("session store failed", "error", err)
			return
		}
		for _, id := range ids {
			_ = s.broker.Publish(ctx, topicGet(id), msg)
		}
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.getters))
	for id := range s.getters {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		_ = s.broker.Publish(ctx, topicGet(id), msg)
	}
}
