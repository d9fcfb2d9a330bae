package host

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/status"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/mcpserver"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
	"github.com/mcphost/mcphost/ratelimit"
	"github.com/mcphost/mcphost/requestid"
	"github.com/mcphost/mcphost/supervisor"
)

// defaultStreamRetry is when a client whose stream a plugin closed early
// should come back for the rest of the call.
const defaultStreamRetry = time.Second

// maxClientRequests bounds the sampling/elicitation requests one call may have
// open at once.
const maxClientRequests = 4

// CallTool runs tool name for caller on its plugin. Unknown and forbidden tools
// both return ErrUnknownTool. Failures of the plugin (timeout, crash, overload)
// are tool results with IsError set and a message naming the plugin, so the
// client always gets an answer and other plugins are unaffected.
//
// call carries the MCP request's metadata and lets the plugin talk to the client
// (progress, logs, questions); nil means none of that. On the 2026-07-28 protocol
// a plugin's question ends the call with an error wrapping
// mcpserver.ErrInputRequired, which the engine answers with an input-required
// result.
func (h *Host) CallTool(ctx context.Context, caller *auth.Caller, name string, args json.RawMessage, call *mcpserver.Call) (*pluginv1.CallToolResult, error) {
	res, _, err := h.callTool(ctx, caller, name, args, call)
	return res, err
}

// callTool is CallTool, also saying how the call ended, for the audit log.
func (h *Host) callTool(ctx context.Context, caller *auth.Caller, name string, args json.RawMessage, call *mcpserver.Call) (res *pluginv1.CallToolResult, o outcome, err error) {
	r, err := h.lookup(caller, name)
	if err != nil {
		return nil, h.missingTool(name), err
	}
	o.plugin = r.slot.Config().Name
	if ok, wait := h.allowCall(r, caller); !ok {
		o.decision = audit.RateLimited
		o.reason = rateLimitMessage(wait)
		return toolError(o.reason), o, nil
	}
	o.decision = audit.Allowed
	if err := h.beginCall(); err != nil {
		o.result = audit.Error
		return nil, o, err
	}
	defer h.inflight.Done()

	callID := newCallID()
	start := time.Now()
	// Built only for a record that is logged: most calls log nothing at the
	// default level, and the attributes cost more than the call's JSON work.
	log := func(level slog.Level, msg string, args ...any) {
		if !h.log.Enabled(ctx, level) {
			return
		}
		attrs := []any{"plugin", r.slot.Config().Name, "tool", name, "call", callID} // request_id: the logger's requestid.LogHandler
		if caller != nil && caller.UserID != "" {
			attrs = append(attrs, "user", caller.UserID, "org", caller.OrganizationID)
		}
		h.log.Log(ctx, level, msg, append(attrs, args...)...)
	}

	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err = h.runCall(ctx, r, caller, args, call, callID)
	for retry := 0; errors.Is(err, supervisor.ErrRetired) && retry < 3; retry++ {
		// A config reload replaced the plugin after the lookup: route again.
		if r, err = h.lookup(caller, name); err != nil {
			o.result = audit.NotFound
			return nil, o, err
		}
		res, err = h.runCall(ctx, r, caller, args, call, callID)
	}
	if errors.Is(err, mcpserver.ErrInputRequired) {
		log(slog.LevelDebug, "call needs input from the client", "duration", time.Since(start))
		o.result = audit.Input
		return nil, o, err
	}
	if (errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || pastDeadline(ctx)) && (err != nil || res.GetIsError()) {
		// The plugin sees the same deadline (from when it got the call, so
		// no earlier) and may answer "context deadline exceeded" before this
		// process's timer fires on a busy machine; either way the caller
		// hears about the timeout.
		err = fmt.Errorf("tool %s (plugin %s) timed out after %s", name, r.slot.Config().Name, r.timeout)
		o.result = audit.Timeout
	} else if err != nil && ctx.Err() != nil {
		log(slog.LevelInfo, "call cancelled", "duration", time.Since(start))
		o.result = audit.Cancelled
		return nil, o, ctx.Err()
	}
	if err != nil {
		log(slog.LevelWarn, "call failed", "error", err, "duration", time.Since(start))
		if o.result == "" {
			o.result = audit.Error
			var crash crashError
			if errors.As(err, &crash) {
				o.result = audit.Crash
			}
		}
		o.reason = err.Error()
		return toolError(err.Error()), o, nil
	}
	if sc := res.GetStructuredContentJson(); len(sc) > 0 && !isJSONObject(sc) {
		// The transport could not encode it, and the client would wait forever.
		log(slog.LevelWarn, "plugin returned invalid structured content", "duration", time.Since(start))
		o.result, o.reason = audit.Error, "invalid structured content"
		return toolError(fmt.Sprintf("plugin %s returned invalid structured content for tool %s (it must be a JSON object)", r.slot.Config().Name, name)), o, nil
	}
	log(slog.LevelDebug, "call done", "duration", time.Since(start), "is_error", res.GetIsError())
	o.result = audit.OK
	if res.GetIsError() {
		o.result = audit.ToolError
	}
	return res, o, nil
}

// outcome is how an operation ended, as the audit log and metrics tell it.
type outcome struct {
	plugin   string
	decision string // audit.Allowed, audit.Hidden, ...
	result   string // audit.OK, audit.ToolError, ...; "" for refusals
	reason   string
}

// crashError is a plugin that stopped or failed during a call.
type crashError struct{ msg string }

func (e crashError) Error() string { return e.msg }

// pastDeadline reports whether ctx's deadline has passed by the clock, even
// if its timer has not fired yet.
func pastDeadline(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

func (h *Host) runCall(ctx context.Context, r *route, caller *auth.Caller, args json.RawMessage, call *mcpserver.Call, callID string) (res *pluginv1.CallToolResult, err error) {
	var attrs []attribute.KeyValue
	if h.tracer != nil {
		attrs = []attribute.KeyValue{attribute.String("gen_ai.tool.name", r.tool.GetName()), attribute.String("mcphost.call_id", callID)}
	}
	err = h.dispatch(ctx, r.slot, "CallTool", attrs, func(ctx context.Context, inst *supervisor.Instance) (err error) {
		res, err = h.streamCall(ctx, r, inst, caller, args, call, callID)
		return err
	})
	return res, err
}

// streamCall runs one tool call on inst: the start message, then progress,
// logs and questions for the client until the result.
func (h *Host) streamCall(ctx context.Context, r *route, inst *supervisor.Instance, caller *auth.Caller, args json.RawMessage, call *mcpserver.Call, callID string) (*pluginv1.CallToolResult, error) {
	if len(args) == 0 {
		args = json.RawMessage("{}")
	}
	resumable := inst.Has(pluginrpc.CapabilityInputResponses)
	start := &pluginv1.CallToolStart{Tool: r.tool.GetName(), ArgumentsJson: args, Caller: pluginrpc.CallerToProto(caller), Meta: requestMeta(ctx, call, callID)}
	if resumable {
		start.InputResponses = inputResponses(call)
	}
	if err := checkToolRequest(r, start); err != nil {
		return nil, err
	}
	// Set when a question goes to the client in a new round (2026-07-28).
	var needInput atomic.Bool
	stream, err := inst.OpenCall(withTraceMetadata(ctx, start.Meta.TraceContext))
	if err != nil {
		return nil, h.pluginFailure(ctx, r, err)
	}
	defer stream.End()    // tells the plugin to stop a call abandoned early
	var sendMu sync.Mutex // the start message and answers to client requests share the stream
	asking := make(chan struct{}, maxClientRequests)
	send := func(m *pluginv1.CallToolRequest) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	err = send(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_Start{Start: start}})
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, h.pluginFailure(ctx, r, err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			return nil, h.pluginFailure(ctx, r, err)
		}
		switch out := msg.GetOutput().(type) {
		case *pluginv1.CallToolResponse_Result:
			sendMu.Lock()
			_ = stream.CloseSend()
			sendMu.Unlock()
			if needInput.Load() {
				return nil, fmt.Errorf("tool %s: %w", r.name, mcpserver.ErrInputRequired)
			}
			return out.Result, nil
		case *pluginv1.CallToolResponse_Progress:
			if call != nil {
				call.Progress(out.Progress.GetProgress(), out.Progress.Total, out.Progress.GetMessage())
			}
		case *pluginv1.CallToolResponse_Log:
			if call != nil {
				call.Log(out.Log.GetLevel(), out.Log.GetLogger(), out.Log.GetDataJson())
			}
		case *pluginv1.CallToolResponse_CloseStream:
			retry := time.Duration(out.CloseStream.GetRetryMs()) * time.Millisecond
			if retry <= 0 {
				retry = defaultStreamRetry
			}
			call.CloseStream(retry) // a hint: nothing to do where it cannot be done
		case *pluginv1.CallToolResponse_ClientRequest:
			// Asking the client can take as long as a person takes to answer a
			// form: do it beside the loop so progress keeps flowing. A plugin may
			// have a few questions open at once, not an unbounded number.
			select {
			case asking <- struct{}{}:
			default:
				_ = send(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_ClientResponse{ClientResponse: &pluginv1.ClientResponse{
					Id: out.ClientRequest.GetId(), Error: fmt.Sprintf("more than %d requests to the client at once", maxClientRequests),
				}}})
				continue
			}
			go func(req *pluginv1.ClientRequest) {
				defer func() { <-asking }()
				resp := &pluginv1.ClientResponse{Id: req.GetId()}
				key := questionKey(req)
				switch {
				case call == nil:
					resp.Error = "no client to ask"
				case !resumable && isModernCall(call):
					resp.Error = fmt.Sprintf("plugin %s cannot ask the client on MCP protocol %s: rebuild it with a plugin SDK that supports input_responses", r.slot.Config().Name, call.ProtocolVersion)
				default:
					result, err := call.Ask(ctx, key, req.GetMethod(), req.GetParamsJson())
					if errors.Is(err, mcpserver.ErrInputRequired) {
						// Recorded for this round; the plugin asks the rest of
						// its questions and returns, and the round ends then.
						needInput.Store(true)
						resp.Error, resp.Deferred = "the client answers in a new round (input required)", true
						break
					}
					if err != nil {
						resp.Error = err.Error()
					} else {
						resp.ResultJson = result
					}
				}
				_ = send(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_ClientResponse{ClientResponse: resp}})
			}(out.ClientRequest)
		default:
			// A newer plugin's message this host does not know: ignore it (protocol rule).
		}
	}
}

func isModernCall(c *mcpserver.Call) bool { return c.ProtocolVersion == mcpserver.ModernVersion }

// requestMeta tells the plugin about the MCP request behind a call.
func requestMeta(ctx context.Context, call *mcpserver.Call, callID string) *pluginv1.RequestMeta {
	pm := &pluginv1.RequestMeta{CallId: callID, RequestId: requestid.FromContext(ctx), TraceContext: pluginrpc.TraceCarrier(ctx)}
	if call != nil {
		pm.McpSessionId = call.SessionID
		pm.ProgressTokenJson = call.ProgressToken
		pm.MetaJson = call.Meta
		pm.ClientCapabilitiesJson = call.ClientCapabilities
		pm.ProtocolVersion = call.ProtocolVersion
	}
	return pm
}

// inputResponses are the client's answers of earlier rounds, for the plugin.
func inputResponses(call *mcpserver.Call) map[string]*pluginv1.InputResponse {
	if call == nil || len(call.Answers) == 0 {
		return nil
	}
	out := make(map[string]*pluginv1.InputResponse, len(call.Answers))
	for k, a := range call.Answers {
		ir := &pluginv1.InputResponse{ResultJson: a.Result}
		if !a.Unverified {
			ir.ParamsSha256 = a.ParamsDigest[:]
		}
		out[k] = ir
	}
	return out
}

// questionKey is the name a plugin's question goes under.
func questionKey(q *pluginv1.ClientRequest) string {
	if q.GetKey() != "" {
		return q.GetKey()
	}
	return strconv.FormatUint(q.GetId(), 10)
}

// maxQuestionRounds bounds how often a prompt or resource read may come back
// with more questions on a legacy session before the host gives up.
const maxQuestionRounds = 8

// askUnary puts the questions of a prompt or resource read to the client. On
// a legacy session it records the answers for the next attempt; on 2026-07-28
// it returns an error wrapping mcpserver.ErrInputRequired (the round ends).
func askUnary(ctx context.Context, call *mcpserver.Call, qs []*pluginv1.ClientRequest, answers map[string]*pluginv1.InputResponse) error {
	if call == nil {
		return errors.New("no client to ask")
	}
	ended := false
	for _, q := range qs {
		key := questionKey(q)
		res, err := call.Ask(ctx, key, q.GetMethod(), q.GetParamsJson())
		if errors.Is(err, mcpserver.ErrInputRequired) {
			ended = true
			continue
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256(q.GetParamsJson())
		answers[key] = &pluginv1.InputResponse{ResultJson: res, ParamsSha256: sum[:]}
	}
	if ended {
		return mcpserver.ErrInputRequired
	}
	return nil
}

// pluginFailure turns a stream error into a message naming the plugin. A call
// that ended because ctx ended keeps ctx's error so the caller can tell.
// A plugin's own gRPC error is not for the client (tools report failures as
// results): it goes to the log, and the client hears that the call failed.
func (h *Host) pluginFailure(ctx context.Context, r *route, err error) error {
	if out, ok := rpcFailure(ctx, r.slot, "tool "+r.name, err); ok {
		return out
	}
	if st, ok := status.FromError(err); ok {
		h.log.WarnContext(ctx, "plugin call error", slog.String("plugin", r.slot.Config().Name), slog.String("tool", r.name), slog.String("error", st.Message()))
	}
	return fmt.Errorf("plugin %s failed running tool %s", r.slot.Config().Name, r.name)
}

func toolError(msg string) *pluginv1.CallToolResult {
	return &pluginv1.CallToolResult{IsError: true, Content: []*pluginv1.Content{{Kind: &pluginv1.Content_Text{Text: &pluginv1.TextContent{Text: msg}}}}}
}

// callIDPrefix tells this process's call ids from other replicas' (and from
// an earlier run's); a counter after it keeps ids unique without reading the
// system's random source on every call.
var (
	callIDPrefix = rand.Text()[:8]
	callIDSeq    atomic.Uint64
)

// newCallID returns an id unique to one call, for correlating logs.
func newCallID() string {
	return callIDPrefix + "-" + strconv.FormatUint(callIDSeq.Add(1), 36)
}

// allowCall applies the call limits: the tool's own when it has any
// (plugins.<name>.tools.<tool>.limits), else limits.per_user and per_org.
// Callers without a user id (auth.provider none) are not limited.
func (h *Host) allowCall(r *route, caller *auth.Caller) (bool, time.Duration) {
	lim, scope := h.limits, ""
	if t := r.slot.Config().Tools[r.tool.GetName()]; t != nil && (t.Limits.PerUser.Set() || t.Limits.PerOrg.Set()) {
		lim, scope = t.Limits, "|"+r.slot.Config().Name+"/"+r.tool.GetName()
	}
	return h.allow(caller, lim, scope)
}

// allow charges caller's buckets for lim (scope tells a tool's own buckets
// from the shared ones).
func (h *Host) allow(caller *auth.Caller, lim config.Limits, scope string) (bool, time.Duration) {
	if caller == nil || caller.UserID == "" {
		return true, 0
	}
	var checks [2]ratelimit.Check
	n := 0
	if l := lim.PerUser; l.Set() {
		checks[n] = ratelimit.Check{Key: "u:" + caller.UserID + scope, Limit: ratelimit.Limit{PerSecond: l.PerSecond, Burst: l.Burst}}
		n++
	}
	if l := lim.PerOrg; l.Set() && caller.OrganizationID != "" {
		checks[n] = ratelimit.Check{Key: "o:" + caller.OrganizationID + scope, Limit: ratelimit.Limit{PerSecond: l.PerSecond, Burst: l.Burst}}
		n++
	}
	if n == 0 {
		return true, 0
	}
	return h.limiter.Allow(checks[:n]...)
}

// rateLimitMessage tells a limited caller when to come back.
func rateLimitMessage(wait time.Duration) string {
	return "rate limit exceeded, retry after " + roundUp(wait).String()
}

// RateLimitedError refuses a resource read, prompt or completion past the
// limits; the engine answers it with HTTP 429 and Retry-After.
type RateLimitedError struct{ Wait time.Duration }

func (e *RateLimitedError) Error() string { return rateLimitMessage(e.Wait) }

// roundUp rounds a wait up to a tenth of a second, for "retry after 1.2s".
func roundUp(d time.Duration) time.Duration {
	const step = 100 * time.Millisecond
	return (d + step - 1) / step * step
}
