package sdk

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/mcphost/mcphost/auth"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Caller is the verified identity of the user behind a call, as established by the
// host. It is empty when the host runs without authentication.
type Caller = auth.Caller

// Request is one tool call as the plugin sees it. The handler's context
// carries the host's span for the call (trace.SpanContextFromContext): spans a
// plugin starts from it, and outbound calls instrumented with OpenTelemetry,
// join the caller's trace.
type Request struct {
	// Tool is the tool's name as the plugin declared it.
	Tool string
	// Caller is the verified caller; never nil.
	Caller *Caller
	// CallID is a host-assigned id for correlating logs.
	CallID string
	// RequestID is the id of the HTTP request that made the call (the
	// X-Request-Id in the host's logs, audit records and response).
	RequestID string
	// SessionID is the MCP session id (empty for stateless servers).
	SessionID string
	// Client asks the MCP client things (Sample, Elicit, Roots).
	Client

	hasProgress bool
	send        func(*pluginv1.CallToolResponse) error
}

type requestKey struct{}

// CallerFrom returns the caller of the call that ctx belongs to, or an empty
// Caller outside a call.
func CallerFrom(ctx context.Context) *Caller {
	if r, ok := ctx.Value(requestKey{}).(*Request); ok {
		return r.Caller
	}
	return &Caller{}
}

// RequestFrom returns the Request that ctx belongs to, or nil outside a call.
func RequestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// Progress reports progress to the client. It is a no-op when the client did not
// ask for progress. total <= 0 means unknown.
func (r *Request) Progress(progress, total float64, message string) error {
	if !r.hasProgress {
		return nil
	}
	ev := &pluginv1.ProgressEvent{Progress: progress, Message: message}
	if total > 0 {
		ev.Total = &total
	}
	return r.send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_Progress{Progress: ev}})
}

// Log sends a log message to the calling MCP client (notifications/message) at an
// MCP level: debug, info, notice, warning, error, critical, alert or emergency.
// data is any JSON-encodable value.
func (r *Request) Log(level string, data any) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return r.send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_Log{Log: &pluginv1.LogEvent{Level: level, DataJson: raw}}})
}

// CloseStream tells the host this call will take a while: on a 2025-11-25
// session answered over SSE, the host ends the client's response now and the
// client comes back after retry (0: the host's default) for the progress,
// questions and result that follow, which wait in the host's event store
// (SEP-1699). It keeps long calls alive behind proxies that cut idle
// connections. Where the host cannot do it (2026-07-28, JSON responses, no
// event store) it changes nothing; the call goes on either way.
func (r *Request) CloseStream(retry time.Duration) error {
	if r.send == nil {
		return nil
	}
	return r.send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_CloseStream{CloseStream: &pluginv1.CloseStream{RetryMs: retry.Milliseconds()}}})
}

// lockedSender serializes sends on one gRPC stream: a handler may report progress
// from several goroutines.
func lockedSender(send func(*pluginv1.CallToolResponse) error) func(*pluginv1.CallToolResponse) error {
	var mu sync.Mutex
	return func(m *pluginv1.CallToolResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return send(m)
	}
}
