package host

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/mcpserver"
	"github.com/mcphost/mcphost/requestid"
)

// SetAuditLog makes the host write an audit record for every MCP operation it
// routes, and the server for every request the gate refuses. nil turns it off.
func (h *Host) SetAuditLog(l *audit.Log) { h.audit.Store(l) }

func (h *Host) auditLog() *audit.Log { return h.audit.Load() }

// ReopenAuditLog reopens a file audit log, after log rotation moved it.
func (h *Host) ReopenAuditLog() error { return h.auditLog().Reopen() }

// record starts an audit record for an operation of caller.
func record(ctx context.Context, caller *auth.Caller, call *mcpserver.Call, method string, start time.Time) audit.Record {
	r := audit.Record{Time: start, RequestID: requestid.FromContext(ctx), Method: method, Session: "stateless"}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.TraceID = sc.TraceID().String()
	}
	if caller != nil {
		r.UserID, r.OrgID, r.ClientID = caller.UserID, caller.OrganizationID, caller.ClientID
	}
	if call != nil && call.SessionID != "" {
		r.Session = call.SessionID
	}
	return r
}

// op names a routed operation: its method and what it is about.
type op struct {
	method, tool, resource, prompt string
	args                           []byte // kept only with audit.include_arguments
}

// observe records how an operation ended: a metric, and an audit record.
func (h *Host) observe(ctx context.Context, caller *auth.Caller, call *mcpserver.Call, p op, o outcome, start time.Time) {
	d := time.Since(start)
	annotateSpan(ctx, o)
	h.metricsSet().Operation(p.method, p.tool, o.plugin, o.decision, o.result, d)
	l := h.auditLog()
	if l == nil {
		return
	}
	r := record(ctx, caller, call, p.method, start)
	r.Tool, r.Resource, r.Prompt = p.tool, p.resource, p.prompt
	if l.IncludeArguments() && len(p.args) > 0 {
		r.Arguments = json.RawMessage(p.args)
	}
	r.Plugin, r.Decision, r.Outcome, r.Reason = o.plugin, o.decision, o.result, o.reason
	r.DurationMS = float64(d.Microseconds()) / 1000
	l.Write(r)
}

// missingTool is the outcome for a tool the caller cannot call: hidden by
// policy, or not there at all (the client cannot tell; the audit log can).
func (h *Host) missingTool(name string) outcome {
	if _, exists := h.routes.Load().tools[name]; exists {
		return outcome{decision: audit.Hidden}
	}
	return outcome{decision: audit.Allowed, result: audit.NotFound}
}

// featureOutcome classifies a resource, prompt or completion operation.
func featureOutcome(fr *featureRoute, caller *auth.Caller, err error) outcome {
	o := outcome{decision: audit.Allowed, result: audit.OK}
	if fr != nil && fr.slot != nil {
		o.plugin = fr.slot.Config().Name
	}
	var limited *RateLimitedError
	switch {
	case errors.As(err, &limited):
		o.decision, o.result, o.reason = audit.RateLimited, "", err.Error()
	case fr != nil && !allowed(caller, fr.policies):
		o = outcome{decision: audit.Hidden}
	case err == nil:
	case errors.Is(err, mcpserver.ErrNotFound) || errors.Is(err, ErrUnknownTool):
		o.result = audit.NotFound
	case errors.Is(err, mcpserver.ErrInputRequired):
		o.result = audit.Input
	case errors.Is(err, context.DeadlineExceeded):
		o.result, o.reason = audit.Timeout, err.Error()
	case errors.Is(err, context.Canceled):
		o.result = audit.Cancelled
	default:
		o.result, o.reason = audit.Error, err.Error()
	}
	return o
}

// auditRefusals records the requests the gate answers 401 or 403 itself:
// those never reach the router, so no other record would say they happened.
func auditRefusals(h *Host, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l, m := h.auditLog(), h.metricsSet()
		if l == nil && m == nil {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status != http.StatusUnauthorized && rec.status != http.StatusForbidden {
			return
		}
		m.AuthFailure(failureReason(w.Header().Get("WWW-Authenticate")), rec.status)
		if l == nil {
			return
		}
		ar := record(r.Context(), nil, nil, "http "+r.Method+" "+r.URL.Path, start)
		if m := r.Header.Get("Mcp-Method"); m != "" && len(m) <= 64 {
			ar.Method = m // 2026-07-28 names it in a header; the body was never read
		}
		if s := r.Header.Get("Mcp-Session-Id"); s != "" && len(s) <= 128 {
			ar.Session = s
		}
		ar.Status = rec.status
		ar.Decision = audit.Unauthenticated
		if rec.status == http.StatusForbidden {
			ar.Decision = audit.Denied
		}
		ar.Reason = challengeReason(w.Header().Get("WWW-Authenticate"))
		ar.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		l.Write(ar)
	})
}

// failureReason is a refusal's OAuth error code, from a fixed set (a metric
// label must not take whatever a challenge says).
func failureReason(ch string) string {
	switch code, _, _ := strings.Cut(challengeReason(ch), ":"); code {
	case "no token":
		return "no_token"
	case "invalid_token", "insufficient_scope", "invalid_request":
		return code
	}
	return "other"
}

// challengeReason is the error and description of a Bearer challenge.
func challengeReason(ch string) string {
	get := func(name string) string {
		_, rest, ok := strings.Cut(ch, name+`="`)
		if !ok {
			return ""
		}
		v, _, _ := strings.Cut(rest, `"`)
		return v
	}
	code, desc := get(" error"), get("error_description")
	if code == "" {
		code = get(",error")
	}
	switch {
	case code == "":
		return "no token"
	case desc == "":
		return code
	}
	return code + ": " + desc
}

// statusRecorder remembers the status a handler wrote, and whether it
// answered with an event stream; onStream, if set, runs as a stream starts.
type statusRecorder struct {
	http.ResponseWriter
	status   int
	streamed bool
	onStream func()
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
		s.streamed = strings.HasPrefix(s.Header().Get("Content-Type"), "text/event-stream")
		if s.streamed && s.onStream != nil {
			s.onStream()
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

// Flush and Unwrap keep streaming responses working through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
