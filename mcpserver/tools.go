package mcpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
)

func handleToolsList(rq *request) (Encoded, error) {
	return rq.s.b.ListTools(rq.ctx, rq.caller)
}

func unknownTool(name string) *Error {
	return &Error{Code: CodeInvalidParams, Message: "unknown tool " + strconv.Quote(echo(name))}
}

func handleToolsCall(rq *request) (Encoded, error) {
	s := rq.s
	name, ok := stringValue(rq.p.name)
	if !ok || name == "" {
		return nil, InvalidParams("invalid params: tools/call needs params.name (a string)")
	}
	args := rq.p.arguments
	switch kindOf(args) {
	case 0, '{':
	case 'n':
		args = nil
	default:
		return nil, InvalidParams("invalid params: tools/call arguments must be an object")
	}
	if rq.modern {
		headers, ok := s.b.ToolHeaders(rq.ctx, rq.caller, name)
		if !ok {
			return nil, unknownTool(name) // hidden tools never get as far as header checks
		}
		if err := checkParamHeaders(rq.r.Header, headers, args); err != nil {
			return nil, err
		}
	}
	call := rq.newCall()
	if rq.modern && (rq.p.requestState != nil || rq.p.inputResponses != nil) {
		answers, err := rq.resume("tools/call", name, args)
		if err != nil {
			return nil, err
		}
		call.Answers = answers
	}
	res, err := s.b.CallTool(rq.ctx, rq.caller, name, args, call)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, unknownTool(name)
	case errors.Is(err, ErrInputRequired) && rq.modern:
		return rq.inputRequired("tools/call", name, args, call)
	}
	return res, err
}

// resume verifies the requestState of a retried request and merges the answers.
func (rq *request) resume(method, name string, args []byte) (map[string]Answer, error) {
	if rq.p.requestState == nil {
		answers, err := volunteeredAnswers(rq.p.inputResponses)
		if err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "invalid params: " + err.Error()}
		}
		return answers, nil
	}
	token, ok := stringValue(rq.p.requestState)
	if !ok {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "invalid params: requestState must be a string"}
	}
	st, err := rq.s.state.open(token, rq.s.o.CallerKey(rq.caller), method, name, compactJSON(args))
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "invalid params: " + err.Error()}
	}
	answers, err := st.answers(rq.p.inputResponses)
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Code: CodeInvalidParams, Message: "invalid params: " + err.Error()}
	}
	return answers, nil
}

// inputRequired ends a round: the questions the backend asked, and the signed
// state that lets any replica resume.
func (rq *request) inputRequired(method, name string, args []byte, call *Call) (Encoded, error) {
	qs, missing := call.roundQuestions()
	if missing != "" {
		return nil, missingCapability(missing)
	}
	if len(qs) == 0 {
		return nil, &Error{Code: CodeInternalError, Message: "the tool asked for input but sent no question"}
	}
	st := nextState(rq.s.o.CallerKey(rq.caller), method, name, compactJSON(args), call.Answers, qs)
	token, err := rq.s.state.seal(st)
	if err != nil {
		return nil, err
	}
	return inputRequiredResult{questions: qs, state: token}, nil
}

// compactJSON removes insignificant space, so a client that re-encodes the
// same arguments for its retry still matches the state.
func compactJSON(raw []byte) []byte {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

type inputRequiredResult struct {
	questions []question
	state     string
}

func (inputRequiredResult) resultType() string { return "input_required" }

func (r inputRequiredResult) AppendMembers(b []byte) []byte {
	b = append(b, `"inputRequests":{`...)
	for i, q := range r.questions {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, q.key)
		b = append(b, `:{"method":`...)
		b = appendString(b, q.method)
		b = append(b, `,"params":`...)
		b = append(b, q.params...)
		b = append(b, '}')
	}
	b = append(b, `},"requestState":`...)
	return appendString(b, r.state)
}

// checkParamHeaders validates the Mcp-Param-* headers of a tool's x-mcp-header
// parameters against the arguments (SEP-2243).
func checkParamHeaders(h http.Header, headers []ParamHeader, args []byte) *Error {
	for _, ph := range headers {
		hname := "Mcp-Param-" + ph.Name
		val := args
		for _, step := range ph.Path {
			if kindOf(val) != '{' {
				val = nil
				break
			}
			val = memberRaw(val, step)
		}
		got, present, ok := headerValue(h, hname)
		if val == nil || kindOf(val) == 'n' {
			continue // no value: the header is not expected
		}
		if !present {
			return &Error{Status: http.StatusBadRequest, Code: CodeHeaderMismatch, Message: "Header mismatch: the " + hname + " header is required (the arguments carry that parameter)"}
		}
		if !ok || !headerMatches(got, val) {
			return &Error{Status: http.StatusBadRequest, Code: CodeHeaderMismatch, Message: "Header mismatch: " + hname + " header value does not match the arguments"}
		}
	}
	return nil
}

func headerMatches(header string, val []byte) bool {
	switch kindOf(val) {
	case '"':
		s, _ := stringValue(val)
		return s == header
	case 't':
		return header == "true"
	case 'f':
		return header == "false"
	case '0':
		a, err1 := strconv.ParseFloat(header, 64)
		b, err2 := strconv.ParseFloat(string(bytes.TrimSpace(val)), 64)
		return err1 == nil && err2 == nil && !math.IsNaN(a) && a == b
	}
	return false
}

// missingCapability is the -32021 error for a request that needs a client
// capability the client did not declare.
func missingCapability(name string) *Error {
	caps := `{"requiredCapabilities":{`
	switch name {
	case "elicitation.form":
		caps += `"elicitation":{}`
	case "elicitation.url":
		caps += `"elicitation":{"url":{}}`
	default:
		caps += `"` + name + `":{}`
	}
	caps += "}}"
	what := strings.SplitN(name, ".", 2)[0]
	return &Error{Status: http.StatusBadRequest, Code: CodeMissingRequiredClientCapability,
		Message: "Missing required client capability: this request needs the client's " + what + " capability", Data: []byte(caps)}
}
