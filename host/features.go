package host

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/mcpserver"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
	"github.com/mcphost/mcphost/supervisor"
	"github.com/yosida95/uritemplate/v3"
)

// Resources, prompts and completions: the same routing, policy, limits and
// failure handling as tools, through the plugin's unary RPCs.

// ErrNotFound is returned for a resource or prompt that does not exist or that
// the caller may not see (the two are indistinguishable, as for tools).
// It is the engine's own, so the engine answers it as "unknown".
var ErrNotFound = mcpserver.ErrNotFound

// InvalidArgumentError carries a plugin's complaint about arguments.
type InvalidArgumentError struct{ Msg string }

func (e *InvalidArgumentError) Error() string { return e.Msg }

// ReadResource reads uri from the plugin serving it. template names the resource
// template the URI matched ("" for a fixed resource).
//
// A plugin with capability input_responses may answer with questions for the
// client (see askUnary); call carries them.
func (h *Host) ReadResource(ctx context.Context, caller *auth.Caller, uri, template string, call *mcpserver.Call) (*pluginv1.ReadResourceResponse, error) {
	route := func() *featureRoute {
		table := h.routes.Load()
		if template != "" {
			return table.templates[template]
		}
		return table.resources[uri]
	}
	var out *pluginv1.ReadResourceResponse
	err := h.unary(ctx, caller, route, "ReadResource", "resource "+uri, func(ctx context.Context, inst *supervisor.Instance, _ *featureRoute) error {
		answers := inputResponses(call)
		for round := 0; ; round++ {
			var err error
			out, err = inst.RPC().ReadResource(ctx, &pluginv1.ReadResourceRequest{Uri: uri, UriTemplate: template, Caller: pluginrpc.CallerToProto(caller), Meta: requestMeta(ctx, call, ""), InputResponses: answers}, unaryLimit)
			if err != nil || len(out.GetInputRequests()) == 0 {
				return err
			}
			if round == maxQuestionRounds {
				return fmt.Errorf("kept asking the client questions after %d rounds", round)
			}
			if answers == nil {
				answers = map[string]*pluginv1.InputResponse{}
			}
			if err := askUnary(ctx, call, out.GetInputRequests(), answers); err != nil {
				return err
			}
		}
	})
	return out, err
}

// GetPrompt renders prompt name (as exposed) with args.
func (h *Host) GetPrompt(ctx context.Context, caller *auth.Caller, name string, args map[string]string, call *mcpserver.Call) (*pluginv1.GetPromptResponse, error) {
	route := func() *featureRoute { return h.routes.Load().prompts[name] }
	var out *pluginv1.GetPromptResponse
	err := h.unary(ctx, caller, route, "GetPrompt", "prompt "+name, func(ctx context.Context, inst *supervisor.Instance, fr *featureRoute) error {
		answers := inputResponses(call)
		for round := 0; ; round++ {
			var err error
			out, err = inst.RPC().GetPrompt(ctx, &pluginv1.GetPromptRequest{Name: fr.prompt.GetName(), Arguments: args, Caller: pluginrpc.CallerToProto(caller), Meta: requestMeta(ctx, call, ""), InputResponses: answers}, unaryLimit)
			if err != nil || len(out.GetInputRequests()) == 0 {
				return err
			}
			if round == maxQuestionRounds {
				return fmt.Errorf("kept asking the client questions after %d rounds", round)
			}
			if answers == nil {
				answers = map[string]*pluginv1.InputResponse{}
			}
			if err := askUnary(ctx, call, out.GetInputRequests(), answers); err != nil {
				return err
			}
		}
	})
	return out, err
}

// Complete asks the plugin owning a prompt or resource template for argument
// completions. Refs that no plugin owns, or whose plugin offers no completions,
// get an empty answer.
func (h *Host) Complete(ctx context.Context, caller *auth.Caller, refType, refName, argument, value string, filled map[string]string) (*pluginv1.CompleteResponse, error) {
	route := func() *featureRoute {
		table := h.routes.Load()
		if refType == "ref/prompt" {
			return table.prompts[refName]
		}
		if refType == "ref/resource" {
			return table.templates[refName]
		}
		return nil
	}
	empty := &pluginv1.CompleteResponse{}
	out := empty
	err := h.unary(ctx, caller, route, "Complete", "completion", func(ctx context.Context, inst *supervisor.Instance, fr *featureRoute) (err error) {
		if !inst.Has("completions") {
			return nil
		}
		pluginRef := refName
		if fr.prompt != nil {
			pluginRef = fr.prompt.GetName()
		}
		out, err = inst.RPC().Complete(ctx, &pluginv1.CompleteRequest{
			RefType: refType, RefName: pluginRef, ArgumentName: argument, ArgumentValue: value,
			ContextArguments: filled, Caller: pluginrpc.CallerToProto(caller),
		}, unaryLimit)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return empty, nil // nothing to complete for a ref nobody (visible) owns
	}
	return out, err
}

// unary runs one short RPC on s's live instance within the plugin's call timeout
// and concurrency limit, and translates its errors: NOT_FOUND to ErrNotFound,
// INVALID_ARGUMENT to *InvalidArgumentError, anything else to an error naming the
// plugin.
//
// route is resolved again if a config reload replaced the plugin meanwhile; a
// route the caller may not use is ErrNotFound, like a missing one.
func (h *Host) unary(ctx context.Context, caller *auth.Caller, route func() *featureRoute, rpc, what string, fn func(context.Context, *supervisor.Instance, *featureRoute) error) error {
	if err := h.beginCall(); err != nil {
		return err
	}
	defer h.inflight.Done()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		fr := route()
		if fr == nil || !allowed(caller, fr.policies) {
			return ErrNotFound
		}
		if attempt == 0 {
			// limits.per_user and per_org cover every operation that
			// reaches a plugin, not only tool calls.
			if ok, wait := h.allow(caller, h.limits, ""); !ok {
				return &RateLimitedError{Wait: wait}
			}
		}
		err = h.unaryOnce(ctx, fr, rpc, what, fn)
		if !errors.Is(err, supervisor.ErrRetired) {
			break
		}
	}
	return err
}

func (h *Host) unaryOnce(ctx context.Context, fr *featureRoute, rpc, what string, fn func(context.Context, *supervisor.Instance, *featureRoute) error) error {
	s := fr.slot
	ctx, cancel := context.WithTimeout(ctx, s.Config().CallTimeout)
	defer cancel()
	err := h.dispatch(ctx, s, rpc, nil, func(ctx context.Context, inst *supervisor.Instance) error {
		return fn(withTraceMetadata(ctx, pluginrpc.TraceCarrier(ctx)), inst, fr)
	})
	if err == nil || errors.Is(err, mcpserver.ErrInputRequired) || errors.Is(err, supervisor.ErrRetired) {
		return err
	}
	if out, ok := rpcFailure(ctx, s, what, err); ok {
		err = out
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s (plugin %s) timed out after %s", what, s.Config().Name, s.Config().CallTimeout)
	}
	st, ok := status.FromError(err)
	if !ok {
		return err // classified above, or the host's own (plugin unavailable, size refusal)
	}
	switch st.Code() {
	case codes.NotFound:
		return ErrNotFound
	case codes.InvalidArgument:
		return &InvalidArgumentError{Msg: st.Message()}
	}
	// Resources and prompts have no error result: the plugin's own message is
	// its answer to the client, as a handler's error in the SDK is meant to be.
	return fmt.Errorf("plugin %s: %s", s.Config().Name, st.Message())
}

// resourceUpdated passes a plugin's resource-updated event on, if the URI is one
// the plugin serves (a plugin cannot make clients re-read another's resources).
func (h *Host) resourceUpdated(s *supervisor.Slot, uri string) {
	table := h.routes.Load()
	if fr := table.resources[uri]; fr == nil || fr.slot != s {
		if !table.servesTemplateURI(s, uri) {
			return
		}
	}
	h.mu.Lock()
	observers := slices.Clone(h.observers)
	h.mu.Unlock()
	for _, o := range observers {
		o.ResourceUpdated(uri)
	}
}

// offers reports whether any live plugin declares capability.
func (h *Host) offers(capability string) bool {
	for _, s := range h.currentSlots() {
		if inst := s.Current(); inst != nil && inst.Has(capability) {
			return true
		}
	}
	return false
}

// servesTemplateURI reports whether uri matches one of s's resource templates.
func (t *routeTable) servesTemplateURI(s *supervisor.Slot, uri string) bool {
	for _, fr := range t.templates {
		if fr.slot != s {
			continue
		}
		if tmpl, err := uritemplate.New(fr.key); err == nil && tmpl.Match(uri) != nil {
			return true
		}
	}
	return false
}
