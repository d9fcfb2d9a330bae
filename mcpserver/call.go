package mcpserver

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// Call is what a backend may do with the client while it serves one request:
// report progress, send log messages, and ask the client something (sampling,
// elicitation, roots). The same calls work on both protocol eras: on a legacy
// session a question is a server-to-client request answered on the session; on
// 2026-07-28 it ends the round with an input-required result, and the retry
// brings the answer back in Answers.
type Call struct {
	// ProtocolVersion is the version the request was made with.
	ProtocolVersion string
	// SessionID is the legacy session ("" on 2026-07-28 and stateless servers).
	SessionID string
	// ProgressToken is the client's raw progress token, nil if it asked for none.
	ProgressToken []byte
	// Meta is the request's raw _meta object, nil if absent.
	Meta []byte
	// Answers are the client's answers to questions asked in earlier rounds of
	// this request (2026-07-28), by question key.
	Answers map[string]Answer

	logLevel int // minimum level to send; levelNone sends nothing
	caps     clientCaps
	sink     callSink

	// ClientCapabilities is the client's raw capabilities object.
	ClientCapabilities []byte

	mu        sync.Mutex
	questions []question // asked this round (2026-07-28)
	missing   string     // a capability a question needed and the client lacks
}

// Answer is the client's result for one question, and the digest of the
// question's parameters, so a handler that asks something different on
// re-invocation is not handed an answer to another question. Unverified marks
// an answer the client volunteered without a requestState (its first round):
// there is no earlier question to hold it to.
type Answer struct {
	Result       []byte
	ParamsDigest [32]byte
	Unverified   bool
}

// question is an input request of this round.
type question struct {
	key    string
	method string
	params []byte
}

// callSink delivers what a call sends, per era and response mode.
type callSink interface {
	// notify sends a notification related to the request.
	notify(method string, params []byte)
	// request asks the client on a legacy session and waits for the answer.
	request(ctx context.Context, method string, params []byte) ([]byte, error)
	// closeStream ends the request's SSE response early (SEP-1699).
	closeStream(retry time.Duration) bool
}

// CloseStream ends the HTTP response of a call that is still running and
// tells the client to come back after retry with Last-Event-ID (SEP-1699
// polling): the call goes on, its events and result wait in the event store,
// and the client gets them on its resumed GET, from any replica that shares
// the store. It does this only on a resumable stream (a 2025-11-25 session
// answered with SSE, with an event store); elsewhere it does nothing and
// reports false. A long call behind a proxy that drops idle connections is
// what it is for.
func (c *Call) CloseStream(retry time.Duration) bool {
	if c == nil || c.sink == nil {
		return false
	}
	return c.sink.closeStream(retry)
}

// Progress sends notifications/progress when the client asked for progress.
func (c *Call) Progress(progress float64, total *float64, message string) {
	if c.ProgressToken == nil || c.sink == nil {
		return
	}
	b := make([]byte, 0, 96+len(message))
	b = append(b, `{"progressToken":`...)
	b = append(b, c.ProgressToken...)
	b = append(b, `,"progress":`...)
	b = strconv.AppendFloat(b, progress, 'g', -1, 64)
	if total != nil {
		b = append(b, `,"total":`...)
		b = strconv.AppendFloat(b, *total, 'g', -1, 64)
	}
	if message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, message)
	}
	b = append(b, '}')
	c.sink.notify("notifications/progress", b)
}

// Log sends notifications/message at level if the client asked for that level
// (logging/setLevel on a legacy session, io.modelcontextprotocol/logLevel in the
// request's _meta on 2026-07-28). data must be one JSON value.
func (c *Call) Log(level, logger string, data []byte) {
	lv, ok := levelRank(level)
	if !ok || c.sink == nil || c.logLevel == levelNone || lv < c.logLevel {
		return
	}
	if len(data) == 0 || !validJSON(data) {
		data = []byte("null")
	}
	b := make([]byte, 0, 48+len(logger)+len(data))
	b = append(b, `{"level":`...)
	b = appendString(b, level)
	if logger != "" {
		b = append(b, `,"logger":`...)
		b = appendString(b, logger)
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	c.sink.notify("notifications/message", b)
}

// Ask puts a question to the client: method is sampling/createMessage,
// elicitation/create or roots/list, params its raw parameters, and key names
// the question uniquely within the request (the same key on re-invocation).
// On a legacy session it returns the client's result. On 2026-07-28 it returns
// an error wrapping ErrInputRequired; the backend ends the call, and the
// engine answers with an input-required result.
func (c *Call) Ask(ctx context.Context, key, method string, params []byte) ([]byte, error) {
	if params == nil || kindOf(params) != '{' {
		return nil, fmt.Errorf("%s: params must be a JSON object", method)
	}
	need := capabilityFor(method, params)
	if isModern(c.ProtocolVersion) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if need != "" && !c.caps.has(need) {
			// The request cannot be served for this client (-32021).
			c.missing = need
			return nil, fmt.Errorf("%s: %w", method, ErrInputRequired)
		}
		for _, q := range c.questions {
			if q.key == key {
				return nil, fmt.Errorf("question %q asked twice in one round", key)
			}
		}
		c.questions = append(c.questions, question{key: key, method: method, params: params})
		return nil, fmt.Errorf("%s: %w", method, ErrInputRequired)
	}
	if need != "" && !c.caps.has(need) {
		return nil, fmt.Errorf("the client did not declare the %s capability, so %s cannot be sent", need, method)
	}
	if c.sink == nil {
		return nil, fmt.Errorf("%s: this server has no session to ask the client on", method)
	}
	return c.sink.request(ctx, method, params)
}

// Digest is the digest Answer.ParamsDigest is compared with.
func Digest(params []byte) [32]byte { return sha256.Sum256(params) }

func (c *Call) roundQuestions() ([]question, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.questions, c.missing
}

// capabilityFor names the client capability a server-to-client method needs.
func capabilityFor(method string, params []byte) string {
	switch method {
	case "sampling/createMessage":
		return "sampling"
	case "roots/list":
		return "roots"
	case "elicitation/create":
		if mode := memberString(params, "mode"); mode == "url" {
			return "elicitation.url"
		}
		return "elicitation.form"
	}
	return ""
}

// Logging levels, lowest first (RFC 5424 severities as MCP names them).
var levelNames = [...]string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}

const levelNone = 99

func levelRank(level string) (int, bool) {
	for i, n := range levelNames {
		if n == level {
			return i, true
		}
	}
	return 0, false
}

// memberString returns the string member name of a raw object ("" if absent).
func memberString(raw []byte, name string) string {
	var out string
	_ = members(raw, func(k []byte, esc bool, v []byte) error {
		if keyIs(k, esc, name) {
			out, _ = stringValue(v)
		}
		return nil
	})
	return out
}

// memberRaw returns the raw member name of a raw object (nil if absent).
func memberRaw(raw []byte, name string) []byte {
	var out []byte
	_ = members(raw, func(k []byte, esc bool, v []byte) error {
		if keyIs(k, esc, name) {
			out = v
		}
		return nil
	})
	return out
}
