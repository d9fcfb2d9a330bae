// Package audit writes mcphost's audit log: one JSON line per MCP operation
// that reaches the router (tools/call, resources/read, prompts/get,
// completion/complete) and per refusal (401, 403, a policy-hidden tool, a
// rate-limited call). A record names who (user, organization, client,
// session), what (method, tool/resource/prompt, plugin), the decision and the
// outcome, never a token, and arguments only when asked to.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Decisions.
const (
	Allowed         = "allowed"
	Denied          = "denied"          // 403: the token lacks a required scope
	Hidden          = "hidden"          // policy hides the tool from this caller
	RateLimited     = "rate_limited"    // a limit refused the call
	Unauthenticated = "unauthenticated" // 401: no valid token
)

// Outcomes of allowed operations.
const (
	OK        = "ok"
	ToolError = "tool_error" // the plugin answered with isError
	Timeout   = "timeout"
	Crash     = "crash"     // the plugin stopped or failed during the call
	Error     = "error"     // anything else: overload, bad arguments, a plugin's complaint
	NotFound  = "not_found" // no such tool, resource or prompt
	Cancelled = "cancelled" // the client went away
	Input     = "input_required"
)

// Record is one line of the audit log.
type Record struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id,omitempty"`
	// TraceID is the request's W3C trace id, when it is traced.
	TraceID  string `json:"trace_id,omitempty"`
	UserID   string `json:"user_id,omitempty"`
	OrgID    string `json:"org_id,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	// Session is the legacy MCP session id, or "stateless".
	Session  string `json:"session"`
	Method   string `json:"method"`
	Tool     string `json:"tool,omitempty"`
	Resource string `json:"resource,omitempty"`
	Prompt   string `json:"prompt,omitempty"`
	Plugin   string `json:"plugin,omitempty"`
	Decision string `json:"decision"`
	Outcome  string `json:"outcome,omitempty"`
	// Reason explains a refusal or a failure, in words safe to log.
	Reason     string          `json:"reason,omitempty"`
	Status     int             `json:"http_status,omitempty"`
	DurationMS float64         `json:"duration_ms"`
	Arguments  json.RawMessage `json:"arguments,omitempty"`
}

// Log writes records as JSON lines. A nil *Log drops every record, so callers
// need no checks when auditing is off.
type Log struct {
	includeArgs bool
	path        string // "" for stdout/stderr

	mu   sync.Mutex
	w    io.Writer
	file *os.File
}

// Open returns the log for output: "stdout", "stderr" or a file path (opened
// for appending, created 0600). includeArgs keeps tool arguments in records.
func Open(output string, includeArgs bool) (*Log, error) {
	l := &Log{includeArgs: includeArgs}
	switch output {
	case "", "stdout":
		l.w = os.Stdout
	case "stderr":
		l.w = os.Stderr
	default:
		l.path = output
		if err := l.Reopen(); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// IncludeArguments reports whether records may carry arguments.
func (l *Log) IncludeArguments() bool { return l != nil && l.includeArgs }

// Write appends one record. Errors go to stderr once per failure spell: an
// audit log that cannot be written must be noticed, but must not stop calls.
func (l *Log) Write(r Record) {
	if l == nil {
		return
	}
	if !l.includeArgs {
		r.Arguments = nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(line); err != nil {
		fmt.Fprintf(os.Stderr, "mcphost: audit log: %v\n", err)
	}
}

// Reopen reopens a file output (after log rotation moved it away); for
// stdout and stderr it does nothing.
func (l *Log) Reopen() error {
	if l == nil || l.path == "" {
		return nil
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit.output %s: %w", l.path, err)
	}
	l.mu.Lock()
	old := l.file
	l.file, l.w = f, f
	l.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return nil
}

// Close closes a file output.
func (l *Log) Close() error {
	if l == nil || l.file == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.file.Close()
}
