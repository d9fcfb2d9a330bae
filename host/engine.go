package host

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/mcpserver"
)

// This file adapts Host to the protocol engine (mcpserver.Backend): the routing
// table, filtered by policy, is what the engine lists, calls, reads and gets.
// Plugin results are written to the wire from their protobuf form directly.

// engineBackend implements mcpserver.Backend for a Host.
type engineBackend struct{ h *Host }

// NewEngine returns the MCP engine serving h, and keeps it told of changes
// (tools, prompts and resources coming and going, resources plugins updated).
func NewEngine(h *Host, o mcpserver.Options) *mcpserver.Server {
	srv := mcpserver.New(engineBackend{h}, o)
	h.Observe(engineObserver{srv})
	return srv
}

// engineObserver turns the host's changes into the engine's notifications.
type engineObserver struct{ srv *mcpserver.Server }

func (e engineObserver) RoutesChanged(c RouteChange) {
	if c.Tools {
		e.srv.Notify(mcpserver.Change{Kind: mcpserver.ToolsChanged})
	}
	if c.Prompts {
		e.srv.Notify(mcpserver.Change{Kind: mcpserver.PromptsChanged})
	}
	if c.Resources {
		e.srv.Notify(mcpserver.Change{Kind: mcpserver.ResourcesChanged})
	}
}

func (e engineObserver) ResourceUpdated(uri string) {
	e.srv.Notify(mcpserver.Change{Kind: mcpserver.ResourceUpdated, URI: uri})
}

func (b engineBackend) Capabilities() mcpserver.Capabilities {
	t := b.h.routes.Load()
	return mcpserver.Capabilities{
		Resources:   len(t.resources)+len(t.templates) > 0,
		Prompts:     len(t.prompts) > 0,
		Completions: b.h.offers("completions"),
	}
}

func (b engineBackend) ListTools(_ context.Context, caller *auth.Caller) (mcpserver.Encoded, error) {
	t := b.h.routes.Load()
	return toolList{t: t, caller: caller}, nil
}

// toolList writes the visible tools from their pre-encoded definitions.
type toolList struct {
	t      *routeTable
	caller *auth.Caller
}

func (l toolList) AppendMembers(dst []byte) []byte {
	dst = append(dst, `"tools":[`...)
	first := true
	for _, name := range l.t.toolOrder {
		r := l.t.tools[name]
		if !allowed(l.caller, r.policies) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, r.wire...)
	}
	return append(dst, ']')
}

func (b engineBackend) ToolHeaders(ctx context.Context, caller *auth.Caller, name string) ([]mcpserver.ParamHeader, bool) {
	r, err := b.h.lookup(caller, name)
	if err != nil {
		// The engine answers "unknown tool" without calling CallTool: the
		// refusal is recorded here.
		b.h.observe(ctx, caller, nil, op{method: "tools/call", tool: name}, b.h.missingTool(name), time.Now())
		return nil, false
	}
	return r.headers, true
}

func (b engineBackend) CallTool(ctx context.Context, caller *auth.Caller, name string, args []byte, call *mcpserver.Call) (mcpserver.Encoded, error) {
	start := time.Now()
	res, o, err := b.h.callTool(ctx, caller, name, args, call)
	b.h.observe(ctx, caller, call, op{method: "tools/call", tool: name, args: args}, o, start)
	if errors.Is(err, ErrUnknownTool) {
		return nil, mcpserver.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return toolResult{res}, nil
}

func (b engineBackend) ListPrompts(_ context.Context, caller *auth.Caller) (mcpserver.Encoded, error) {
	t := b.h.routes.Load()
	out := []byte(`"prompts":[`)
	first := true
	for _, name := range slices.Sorted(maps.Keys(t.prompts)) {
		fr := t.prompts[name]
		if !allowed(caller, fr.policies) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendPrompt(out, fr)
	}
	return mcpserver.Members(append(out, ']')), nil
}

func (b engineBackend) GetPrompt(ctx context.Context, caller *auth.Caller, name string, args map[string]string, call *mcpserver.Call) (mcpserver.Encoded, error) {
	start := time.Now()
	res, err := b.h.GetPrompt(ctx, caller, name, args, call)
	b.h.observe(ctx, caller, call, op{method: "prompts/get", prompt: name}, featureOutcome(b.h.routes.Load().prompts[name], caller, err), start)
	if err != nil {
		return nil, engineError(err)
	}
	return promptResult{res}, nil
}

func (b engineBackend) ListResources(_ context.Context, caller *auth.Caller) (mcpserver.Encoded, error) {
	t := b.h.routes.Load()
	out := []byte(`"resources":[`)
	first := true
	for _, uri := range slices.Sorted(maps.Keys(t.resources)) {
		fr := t.resources[uri]
		if !allowed(caller, fr.policies) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendResource(out, fr.resource)
	}
	return mcpserver.Members(append(out, ']')), nil
}

func (b engineBackend) ListResourceTemplates(_ context.Context, caller *auth.Caller) (mcpserver.Encoded, error) {
	t := b.h.routes.Load()
	out := []byte(`"resourceTemplates":[`)
	first := true
	for _, key := range slices.Sorted(maps.Keys(t.templates)) {
		fr := t.templates[key]
		if !allowed(caller, fr.policies) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendTemplate(out, fr.template)
	}
	return mcpserver.Members(append(out, ']')), nil
}

// templateFor finds the visible resource template a URI matches ("" if none).
func templateFor(t *routeTable, caller *auth.Caller, uri string) string {
	for _, key := range slices.Sorted(maps.Keys(t.templates)) {
		fr := t.templates[key]
		if fr.compiled != nil && allowed(caller, fr.policies) && fr.compiled.Match(uri) != nil {
			return key
		}
	}
	return ""
}

func (b engineBackend) ReadResource(ctx context.Context, caller *auth.Caller, uri string, call *mcpserver.Call) (mcpserver.Encoded, error) {
	t := b.h.routes.Load()
	template := ""
	if _, fixed := t.resources[uri]; !fixed {
		if template = templateFor(t, caller, uri); template == "" {
			return nil, mcpserver.ErrNotFound
		}
	}
	start := time.Now()
	res, err := b.h.ReadResource(ctx, caller, uri, template, call)
	fr := t.resources[uri]
	if template != "" {
		fr = t.templates[template]
	}
	b.h.observe(ctx, caller, call, op{method: "resources/read", resource: uri}, featureOutcome(fr, caller, err), start)
	if err != nil {
		return nil, engineError(err)
	}
	return readResult{res: res, uri: uri}, nil
}

func (b engineBackend) CanSubscribe(caller *auth.Caller, uri string) bool {
	t := b.h.routes.Load()
	return visible(caller, t.resources[uri]) || templateFor(t, caller, uri) != ""
}

func (b engineBackend) Complete(ctx context.Context, caller *auth.Caller, req mcpserver.CompleteRequest) (mcpserver.Encoded, error) {
	start := time.Now()
	res, err := b.h.Complete(ctx, caller, req.RefType, req.RefName, req.Argument, req.Value, req.Context)
	t := b.h.routes.Load()
	p, fr := op{method: "completion/complete", resource: req.RefName}, t.templates[req.RefName]
	if req.RefType == "ref/prompt" {
		p, fr = op{method: "completion/complete", prompt: req.RefName}, t.prompts[req.RefName]
	}
	b.h.observe(ctx, caller, nil, p, featureOutcome(fr, caller, err), start)
	if err != nil {
		return nil, engineError(err)
	}
	return completeResult{res}, nil
}

func visible(caller *auth.Caller, fr *featureRoute) bool {
	return fr != nil && allowed(caller, fr.policies)
}

// engineError maps Host errors to what the engine answers: a missing (or
// hidden) thing, a plugin's complaint about arguments, or a plain error.
func engineError(err error) error {
	var inv *InvalidArgumentError
	if errors.As(err, &inv) {
		return mcpserver.InvalidParams(inv.Msg)
	}
	var limited *RateLimitedError
	if errors.As(err, &limited) {
		return mcpserver.RateLimited(limited.Error(), limited.Wait)
	}
	return err
}

// isJSONObject reports whether raw is one valid JSON object.
func isJSONObject(raw []byte) bool { return mcpserver.IsJSONObject(raw) }
