package mcpserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// JSON-RPC 2.0 envelope: decoded without reflection, encoded by appending.

// JSON-RPC and MCP error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	// CodeResourceNotFound is the legacy (2025-11-25 and earlier) code for an
	// unknown resource; 2026-07-28 uses CodeInvalidParams.
	CodeResourceNotFound = -32002
	// 2026-07-28 codes (the range the specification reserves for itself).
	CodeHeaderMismatch                  = -32020
	CodeMissingRequiredClientCapability = -32021
	CodeUnsupportedProtocolVersion      = -32022
	// CodeRateLimited is a request refused by the server's rate limits (from
	// the range JSON-RPC leaves to implementations).
	CodeRateLimited = -32000
)

// Error is a JSON-RPC error answer. Status is the HTTP status it travels with
// (200 when zero: most JSON-RPC errors are ordinary responses).
type Error struct {
	Code    int
	Message string
	// Data, if set, is written as the error's data member (any JSON value).
	Data   json.RawMessage
	Status int
	// RetryAfter, if set, is sent as the Retry-After header (whole seconds,
	// rounded up) when the answer is a plain HTTP response.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

func newError(status, code int, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// InvalidParams is the error for bad arguments; backends return it to have the
// client see -32602 with msg.
func InvalidParams(msg string) *Error { return &Error{Code: CodeInvalidParams, Message: msg} }

// RateLimited is the error for a request the rate limits refuse: HTTP 429
// with Retry-After, and the wait in the error's data as retryAfterMs.
func RateLimited(msg string, wait time.Duration) *Error {
	data := strconv.AppendInt([]byte(`{"retryAfterMs":`), max(wait.Milliseconds(), 1), 10)
	return &Error{Status: http.StatusTooManyRequests, Code: CodeRateLimited, Message: msg, Data: append(data, '}'), RetryAfter: wait}
}

// retryAfterHeader is wait as a Retry-After value: whole seconds, at least 1.
func retryAfterHeader(wait time.Duration) string {
	return strconv.FormatInt(int64(max((wait+time.Second-1)/time.Second, 1)), 10)
}

func (e *Error) httpStatus() int {
	if e.Status == 0 {
		return http.StatusOK
	}
	return e.Status
}

// message is one decoded JSON-RPC message; params, result and error stay raw.
type message struct {
	id     []byte // raw id (string or number), nil when absent
	method string
	params []byte
	result []byte
	err    []byte
}

func (m *message) isRequest() bool      { return m.method != "" && m.id != nil }
func (m *message) isNotification() bool { return m.method != "" && m.id == nil }
func (m *message) isResponse() bool {
	return m.method == "" && m.id != nil && (m.result != nil || m.err != nil)
}

// decodeMessage decodes one JSON-RPC message object. A syntax error is a parse
// error; anything else wrong with the envelope is an invalid request.
func decodeMessage(raw []byte) (*message, *Error) {
	m := &message{}
	var version []byte
	sawMethod := false
	err := members(raw, func(key []byte, esc bool, val []byte) error {
		switch {
		case keyIs(key, esc, "jsonrpc"):
			version = val
		case keyIs(key, esc, "id"):
			m.id = val
		case keyIs(key, esc, "method"):
			sawMethod = true
			m.method, _ = stringValue(val)
			if m.method == "" {
				return errBadEnvelope
			}
		case keyIs(key, esc, "params"):
			m.params = val
		case keyIs(key, esc, "result"):
			m.result = val
		case keyIs(key, esc, "error"):
			m.err = val
		}
		return nil
	})
	if err == errBadEnvelope {
		return nil, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: method must be a non-empty string")
	}
	if err != nil {
		return nil, newError(http.StatusBadRequest, CodeParseError, "parse error: the body is not valid JSON")
	}
	if v, ok := stringValue(version); !ok || v != "2.0" {
		if kindOf(m.id) != '"' && kindOf(m.id) != '0' {
			m.id = nil
		}
		return m, newError(http.StatusBadRequest, CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	}
	if m.id != nil {
		switch kindOf(m.id) {
		case '"', '0':
		default:
			m.id = nil
			return m, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: id must be a string or a number")
		}
	}
	if m.params != nil && kindOf(m.params) != '{' {
		return m, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: params must be an object")
	}
	switch {
	case sawMethod:
		if m.result != nil || m.err != nil {
			return m, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: a request cannot carry result or error")
		}
	case m.id != nil && (m.result != nil || m.err != nil):
	default:
		return m, newError(http.StatusBadRequest, CodeInvalidRequest, "invalid request: no method")
	}
	return m, nil
}

var errBadEnvelope = &Error{}

// appendResultHead writes the start of a result response, up to and including
// the opening brace of the result object.
func appendResultHead(dst, id []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	return append(dst, `,"result":{`...)
}

// appendResultTail closes what appendResultHead opened.
func appendResultTail(dst []byte) []byte { return append(dst, "}}"...) }

// appendErrorResponse writes a whole error response; a nil id is written as null.
func appendErrorResponse(dst, id []byte, e *Error) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	if id == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, id...)
	}
	dst = append(dst, `,"error":{"code":`...)
	dst = strconv.AppendInt(dst, int64(e.Code), 10)
	dst = append(dst, `,"message":`...)
	dst = appendString(dst, e.Message)
	if len(e.Data) > 0 {
		dst = append(dst, `,"data":`...)
		dst = append(dst, e.Data...)
	}
	return append(dst, "}}"...)
}

// appendNotification writes a notification; params is a raw object or nil.
func appendNotification(dst []byte, method string, params []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","method":`...)
	dst = appendString(dst, method)
	if params != nil {
		dst = append(dst, `,"params":`...)
		dst = append(dst, params...)
	}
	return append(dst, '}')
}

// appendRequest writes a server-to-client request.
func appendRequest(dst, id []byte, method string, params []byte) []byte {
	dst = append(dst, `{"jsonrpc":"2.0","id":`...)
	dst = append(dst, id...)
	dst = append(dst, `,"method":`...)
	dst = appendString(dst, method)
	if params != nil {
		dst = append(dst, `,"params":`...)
		dst = append(dst, params...)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, and
// U+2028/U+2029 are escaped so the output is safe in any JavaScript context.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += n
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// maxEcho bounds how much of a client-supplied name, URI or header an error
// message repeats back: enough to recognise it, never the megabytes a body may
// hold.
const maxEcho = 256

// echo is s cut to maxEcho bytes (at a rune boundary, marked with "…") for
// error messages and data. appendString makes whatever remains valid JSON.
func echo(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	cut := maxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// AppendString is appendString for backends that encode their own results.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }
