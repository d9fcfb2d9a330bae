package sdk

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// The plugin side of resources, prompts, completions and notifications.

func (s *server) ReadResource(ctx context.Context, in *pluginv1.ReadResourceRequest) (*pluginv1.ReadResourceResponse, error) {
	ctx = pluginrpc.WithTraceContext(ctx, in.GetMeta().GetTraceContext())
	dq := &deferredQuestioner{answers: in.GetInputResponses()}
	req := &ResourceRequest{URI: in.GetUri(), Template: in.GetUriTemplate(), Caller: pluginrpc.CallerFromProto(in.GetCaller()), Client: newClient(dq, in.GetMeta())}
	var read func(context.Context, *ResourceRequest) ([]ResourceContents, error)
	if r, ok := s.resources[in.GetUri()]; ok && in.GetUriTemplate() == "" {
		read = r.Read
	} else if t, ok := s.templates[in.GetUriTemplate()]; ok {
		read = t.Read
	} else {
		return nil, status.Errorf(codes.NotFound, "resource %s not found", in.GetUri())
	}
	var contents []ResourceContents
	err := s.guard("resource "+in.GetUri(), func() (err error) {
		contents, err = read(ctx, req)
		return err
	})
	if qs := dq.asked(); len(qs) > 0 {
		// The client must answer first; the host calls again with the answers.
		return &pluginv1.ReadResourceResponse{InputRequests: qs}, nil
	}
	if err != nil {
		return nil, err
	}
	return &pluginv1.ReadResourceResponse{Contents: contentsToProto(contents)}, nil
}

func (s *server) GetPrompt(ctx context.Context, in *pluginv1.GetPromptRequest) (*pluginv1.GetPromptResponse, error) {
	ctx = pluginrpc.WithTraceContext(ctx, in.GetMeta().GetTraceContext())
	p, ok := s.prompts[in.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "prompt %s not found", in.GetName())
	}
	for _, a := range p.Arguments {
		if _, given := in.GetArguments()[a.Name]; a.Required && !given {
			return nil, status.Errorf(codes.InvalidArgument, "prompt %s: missing required argument %q", p.Name, a.Name)
		}
	}
	dq := &deferredQuestioner{answers: in.GetInputResponses()}
	req := &PromptRequest{Name: p.Name, Arguments: in.GetArguments(), Caller: pluginrpc.CallerFromProto(in.GetCaller()), Client: newClient(dq, in.GetMeta())}
	if req.Arguments == nil {
		req.Arguments = map[string]string{}
	}
	var res *PromptResult
	err := s.guard("prompt "+p.Name, func() (err error) {
		res, err = p.Get(ctx, req)
		if errors.Is(err, ErrNotFound) {
			// The prompt exists; what its arguments name does not.
			return status.Errorf(codes.InvalidArgument, "prompt %s: %v", p.Name, err)
		}
		return err
	})
	if qs := dq.asked(); len(qs) > 0 {
		return &pluginv1.GetPromptResponse{InputRequests: qs}, nil
	}
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = &PromptResult{}
	}
	return promptResultToProto(res), nil
}

func (s *server) Complete(ctx context.Context, in *pluginv1.CompleteRequest) (*pluginv1.CompleteResponse, error) {
	ctx = pluginrpc.WithTraceContext(ctx, nil)
	var fn CompleteFunc
	switch in.GetRefType() {
	case "ref/prompt":
		fn = s.prompts[in.GetRefName()].Complete
	case "ref/resource":
		fn = s.templates[in.GetRefName()].Complete
	}
	if fn == nil {
		return &pluginv1.CompleteResponse{}, nil // nothing to suggest
	}
	req := &CompleteRequest{Argument: in.GetArgumentName(), Value: in.GetArgumentValue(), Context: in.GetContextArguments(), Caller: pluginrpc.CallerFromProto(in.GetCaller())}
	var values []string
	err := s.guard("completion", func() (err error) {
		values, err = fn(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	const maxValues = 100 // the MCP limit per response
	out := &pluginv1.CompleteResponse{Values: values}
	if len(values) > maxValues {
		total := int32(len(values))
		out.Values, out.Total, out.HasMore = values[:maxValues], &total, true
	}
	return out, nil
}

// guard runs fn, turning ErrNotFound into NOT_FOUND and a panic into an error,
// so a bad handler cannot take the plugin down.
func (s *server) guard(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("handler panicked", "what", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = status.Errorf(codes.Internal, "%s failed: internal error", what)
		}
	}()
	err = fn()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return status.Errorf(codes.NotFound, "%s not found", what)
	case status.Code(err) != codes.Unknown:
		return err
	default:
		return status.Error(codes.Unknown, err.Error())
	}
}

func (s *server) Notifications(_ *pluginv1.NotificationsRequest, stream pluginv1.PluginService_NotificationsServer) error {
	ch, cancel := s.notify.subscribe()
	defer cancel()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case n := <-ch:
			if err := stream.Send(n); err != nil {
				return err
			}
		}
	}
}

// NotifyResourceUpdated tells the host that the resource at uri changed, so
// clients subscribed to it are notified. It never blocks; with no host listening
// the event is dropped. It is process-wide, like the plugin itself.
func NotifyResourceUpdated(uri string) {
	if l := running.Load(); l != nil {
		l.notify.publish(&pluginv1.NotificationsResponse{Event: &pluginv1.NotificationsResponse_ResourceUpdated{ResourceUpdated: &pluginv1.ResourceUpdated{Uri: uri}}})
	}
}

// broadcaster fans plugin events out to the host's notification streams.
type broadcaster struct {
	mu   sync.Mutex
	subs map[chan *pluginv1.NotificationsResponse]bool
}

func newBroadcaster() *broadcaster {
	return &broadcaster{subs: map[chan *pluginv1.NotificationsResponse]bool{}}
}

func (b *broadcaster) subscribe() (chan *pluginv1.NotificationsResponse, func()) {
	ch := make(chan *pluginv1.NotificationsResponse, 64)
	b.mu.Lock()
	b.subs[ch] = true
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
	}
}

func (b *broadcaster) publish(n *pluginv1.NotificationsResponse) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- n:
		default: // a host that stopped reading loses events rather than blocking the plugin
		}
	}
}
