package mcpserver

import (
	"encoding/json"
)

func handleComplete(rq *request) (Encoded, error) {
	var ref struct {
		Type string `json:"type"`
		Name string `json:"name"`
		URI  string `json:"uri"`
	}
	var arg struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	var cctx struct {
		Arguments map[string]string `json:"arguments"`
	}
	if rq.p.ref == nil || json.Unmarshal(rq.p.ref, &ref) != nil || (ref.Type != "ref/prompt" && ref.Type != "ref/resource") {
		return nil, InvalidParams(`invalid params: completion/complete needs ref {"type":"ref/prompt","name":...} or {"type":"ref/resource","uri":...}`)
	}
	if rq.p.argument == nil || json.Unmarshal(rq.p.argument, &arg) != nil || arg.Name == "" {
		return nil, InvalidParams("invalid params: completion/complete needs argument {name, value}")
	}
	if rq.p.context != nil && json.Unmarshal(rq.p.context, &cctx) != nil {
		return nil, InvalidParams("invalid params: completion/complete context.arguments must be an object of strings")
	}
	name := ref.Name
	if ref.Type == "ref/resource" {
		name = ref.URI
	}
	return rq.s.b.Complete(rq.ctx, rq.caller, CompleteRequest{RefType: ref.Type, RefName: name, Argument: arg.Name, Value: arg.Value, Context: cctx.Arguments})
}
