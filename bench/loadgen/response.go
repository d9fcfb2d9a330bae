package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ToolResult is the part of an MCP CallToolResult the benchmark checks.
type ToolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// Text joins the result's text content blocks.
func (r *ToolResult) Text() string {
	var parts []string
	for _, c := range r.Content {
		if c.Type == "text" {
			parts = append(parts, c.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// ExpectSum is a Config.Check for the add tool: the result must carry a text
// block and structured content {"sum": want}.
func ExpectSum(want float64) func(*ToolResult) error {
	return func(r *ToolResult) error {
		var sc struct {
			Sum *float64 `json:"sum"`
		}
		if len(r.StructuredContent) == 0 || json.Unmarshal(r.StructuredContent, &sc) != nil || sc.Sum == nil {
			return fmt.Errorf("add result has no structuredContent {sum}: %.100s", r.StructuredContent)
		}
		if *sc.Sum != want {
			return fmt.Errorf("add result: sum %v, want %v", *sc.Sum, want)
		}
		if r.Text() == "" {
			return errors.New("add result has no text content")
		}
		return nil
	}
}

// CheckFor is the default Config.Check for a tool and its arguments: for add
// with numeric a and b, ExpectSum(a+b); for any other tool, any result that is
// not a tool error (which the client rejects before Check).
func CheckFor(tool string, args json.RawMessage) func(*ToolResult) error {
	var in struct{ A, B *float64 }
	if tool == "add" && json.Unmarshal(args, &in) == nil && in.A != nil && in.B != nil {
		return ExpectSum(*in.A + *in.B)
	}
	return func(*ToolResult) error { return nil }
}

// RPCError is a JSON-RPC error response.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *RPCError) Error() string { return "rpc error " + strconv.Itoa(e.Code) + ": " + e.Message }

// message is one JSON-RPC message as the client reads it. The result is
// decoded as a tool result in the same pass (other results, like initialize's,
// just leave its fields empty), so a response costs one decode.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Result  *ToolResult     `json:"result"`
	Error   *RPCError       `json:"error"`
}

// ParseResponse is parseResponse for drivers other than Run (mcpbench soak):
// the tool result, or the JSON-RPC error (an *RPCError, wrapped with the
// status when it is not 200), of the response with id wantID.
func ParseResponse(status int, contentType string, body, wantID []byte) (*ToolResult, error) {
	return parseResponse(status, contentType, body, wantID)
}

// parseResponse finds the JSON-RPC response with id wantID (its JSON text) in
// an HTTP response to a POSTed request, framed as application/json or as a
// text/event-stream, and returns its result. A JSON-RPC error, a missing or
// mismatched response, a non-200 status or an unknown framing is an error.
func parseResponse(status int, contentType string, body, wantID []byte) (*ToolResult, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	var (
		msg   *message
		err   error
		frame string
	)
	switch mt {
	case "application/json":
		frame = "JSON"
		msg, err = decodeMessage(body)
		if err == nil && msg.Method != "" {
			err = fmt.Errorf("got a %q request or notification, not a response", msg.Method)
		}
	case "text/event-stream":
		frame = "SSE"
		msg, err = findInEventStream(body, wantID)
	default:
		err = fmt.Errorf("unexpected Content-Type %q: %.120s", contentType, bytes.TrimSpace(body))
	}
	if status != 200 {
		// Prefer the JSON-RPC error the server sent with the status.
		if err == nil && msg.Error != nil {
			return nil, fmt.Errorf("HTTP %d: %w", status, msg.Error)
		}
		return nil, fmt.Errorf("HTTP %d: %.120s", status, bytes.TrimSpace(body))
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(bytes.TrimSpace(msg.ID), wantID) {
		// Not the ids themselves: error messages are counted by kind.
		return nil, fmt.Errorf("%s response id does not match the request's (got %.30s)", frame, bytes.TrimSpace(msg.ID))
	}
	if msg.Error != nil {
		return nil, msg.Error
	}
	if msg.Result == nil {
		return nil, fmt.Errorf("%s response has neither result nor error", frame)
	}
	return msg.Result, nil
}

func decodeMessage(data []byte) (*message, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON-RPC message: %w: %.120s", err, bytes.TrimSpace(data))
	}
	if m.JSONRPC != "2.0" {
		return nil, fmt.Errorf(`JSON-RPC message without "jsonrpc":"2.0": %.120s`, bytes.TrimSpace(data))
	}
	return &m, nil
}

// findInEventStream reads a text/event-stream body (per the HTML Living
// Standard: lines end in CRLF, LF or CR; "data:" lines of one event are joined
// by newlines; a blank line ends an event; an unterminated last event is
// discarded) and returns the first JSON-RPC response with id wantID. Other
// messages (progress or log notifications, server requests) are skipped.
func findInEventStream(body, wantID []byte) (*message, error) {
	var data []byte
	hasData := false
	events := 0
	for len(body) > 0 {
		var line []byte
		i := bytes.IndexAny(body, "\r\n")
		if i < 0 {
			break // an unterminated line: the stream ended mid-event
		}
		line = body[:i]
		if body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n' {
			i++
		}
		body = body[i+1:]
		if len(line) == 0 {
			if !hasData {
				continue
			}
			events++
			if len(bytes.TrimSpace(data)) == 0 {
				// A priming event (an id for resumption, empty data): no message.
				data, hasData = data[:0], false
				continue
			}
			m, err := decodeMessage(data)
			if err != nil {
				return nil, fmt.Errorf("SSE event %d: %w", events, err)
			}
			if m.Method == "" && bytes.Equal(bytes.TrimSpace(m.ID), wantID) {
				return m, nil
			}
			data, hasData = data[:0], false
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if string(field) != "data" {
			continue // event, id, retry: not needed here
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		if hasData {
			data = append(data, '\n')
		}
		data = append(data, value...)
		hasData = true
	}
	if hasData {
		return nil, fmt.Errorf("SSE stream ended inside an event (no blank line after its data) after %d complete events", events)
	}
	return nil, fmt.Errorf("SSE stream has no response with the request's id (%d events)", events)
}
