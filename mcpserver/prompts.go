package mcpserver

import (
	"encoding/json"
	"errors"
	"strconv"
)

func handlePromptsList(rq *request) (Encoded, error) {
	return rq.s.b.ListPrompts(rq.ctx, rq.caller)
}

func handlePromptsGet(rq *request) (Encoded, error) {
	name, ok := stringValue(rq.p.name)
	if !ok || name == "" {
		return nil, InvalidParams("invalid params: prompts/get needs params.name (a string)")
	}
	var args map[string]string
	if rq.p.arguments != nil && kindOf(rq.p.arguments) != 'n' {
		if err := json.Unmarshal(rq.p.arguments, &args); err != nil {
			return nil, InvalidParams("invalid params: prompts/get arguments must be an object of strings")
		}
	}
	call := rq.newCall()
	if rq.modern && (rq.p.requestState != nil || rq.p.inputResponses != nil) {
		answers, err := rq.resume("prompts/get", name, rq.p.arguments)
		if err != nil {
			return nil, err
		}
		call.Answers = answers
	}
	res, err := rq.s.b.GetPrompt(rq.ctx, rq.caller, name, args, call)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, InvalidParams("unknown prompt " + strconv.Quote(echo(name)))
	case errors.Is(err, ErrInputRequired) && rq.modern:
		return rq.inputRequired("prompts/get", name, rq.p.arguments, call)
	}
	return res, err
}
