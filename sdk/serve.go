// Package sdk is what a plugin author imports to write mcphost tools: declare tools
// with NewTool (schemas inferred from Go types) or NewRawTool, return results with
// Text, Object, Error and friends, read the verified caller from the Request, and
// call Serve from main.
package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/yosida95/uritemplate/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Plugin is everything one plugin binary offers.
type Plugin struct {
	Name              string
	Version           string
	Tools             []Tool
	Resources         []Resource
	ResourceTemplates []ResourceTemplate
	Prompts           []Prompt
}

// Serve runs the plugin until the host stops it. It must be called from main; run
// by hand (not by mcphost) it prints a short explanation and exits.
func Serve(p Plugin) {
	logger := Logger()
	srv, err := newServer(p, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "plugin %s: %v\n", p.Name, err)
		os.Exit(1)
	}
	live := &liveServer{logger: logger, notify: newBroadcaster()}
	srv.notify = live.notify // the host's notification streams outlive Updates
	live.cur.Store(srv)
	live.plugin = p
	running.Store(live)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: pluginrpc.Handshake,
		Plugins:         pluginrpc.PluginSet(live),
		GRPCServer:      newGRPCServer,
		Logger:          logger,
	})
}

// newGRPCServer is go-plugin's default server with a pool of stream workers:
// without one, gRPC starts a goroutine per call whose stack grows from 8 KB
// through the handler, and copying stacks was a sixth of a trivial tool's CPU.
func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.NumStreamWorkers(streamWorkers))...)
}

// CallChannelEnv set to "off" (in the plugin's env in the host config) makes
// the plugin serve each call on a stream of its own, as plugins without the
// call channel do: for comparing the two, or ruling the channel out.
const CallChannelEnv = "MCPHOST_CALL_CHANNEL"

// streamWorkers is how many calls can run on a pooled goroutine at once; a
// worker holds its call until the handler returns, and calls beyond the pool
// start their own goroutine as before.
const streamWorkers = 256

// liveServer is what Serve registers: it serves the plugin's current
// description and handlers, which Update can replace while the plugin runs.
type liveServer struct {
	pluginv1.UnimplementedPluginServiceServer
	logger hclog.Logger
	notify *broadcaster
	mu     sync.Mutex // serializes Update
	plugin Plugin
	cur    atomic.Pointer[server]
}

// running is the plugin Serve is serving: the one handle the process-wide
// functions (Update, NotifyResourceUpdated) reach it by, since a plugin
// process serves one plugin. Serve sets it once.
var running atomic.Pointer[liveServer]

func (l *liveServer) Describe(ctx context.Context, in *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return l.cur.Load().Describe(ctx, in)
}
func (l *liveServer) CallTool(stream pluginv1.PluginService_CallToolServer) error {
	return l.cur.Load().CallTool(stream)
}
func (l *liveServer) ReadResource(ctx context.Context, in *pluginv1.ReadResourceRequest) (*pluginv1.ReadResourceResponse, error) {
	return l.cur.Load().ReadResource(ctx, in)
}
func (l *liveServer) GetPrompt(ctx context.Context, in *pluginv1.GetPromptRequest) (*pluginv1.GetPromptResponse, error) {
	return l.cur.Load().GetPrompt(ctx, in)
}
func (l *liveServer) Complete(ctx context.Context, in *pluginv1.CompleteRequest) (*pluginv1.CompleteResponse, error) {
	return l.cur.Load().Complete(ctx, in)
}
func (l *liveServer) Notifications(in *pluginv1.NotificationsRequest, stream pluginv1.PluginService_NotificationsServer) error {
	return l.cur.Load().Notifications(in, stream)
}

// Update changes what the running plugin offers: fn edits a copy of the Plugin
// given to Serve (add or remove tools, prompts, resources), the new set is
// checked as at start, and the host is told, so clients hear list_changed.
// Calls already running finish with the handlers they started with. Outside
// Serve (tests) it returns an error.
func Update(fn func(p *Plugin)) error {
	l := running.Load()
	if l == nil {
		return errors.New("sdk.Update: the plugin is not being served")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	next := l.plugin
	next.Tools = slices.Clone(next.Tools)
	next.Prompts = slices.Clone(next.Prompts)
	next.Resources = slices.Clone(next.Resources)
	next.ResourceTemplates = slices.Clone(next.ResourceTemplates)
	fn(&next)
	srv, err := newServer(next, l.logger)
	if err != nil {
		return fmt.Errorf("sdk.Update: %w", err)
	}
	// Capabilities are fixed for the process's life: the host decided at
	// start which RPCs to use.
	srv.describe.Capabilities = l.cur.Load().describe.GetCapabilities()
	srv.notify = l.notify
	l.plugin = next
	l.cur.Store(srv)
	l.notify.publish(&pluginv1.NotificationsResponse{Event: &pluginv1.NotificationsResponse_DescriptionChanged{DescriptionChanged: &pluginv1.DescriptionChanged{}}})
	return nil
}

// Logger returns a logger whose lines the host folds into its own log, tagged
// with the plugin's name. Never log tokens or secrets.
func Logger() hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Debug})
}

// server implements the plugin side of the protocol.
type server struct {
	pluginv1.UnimplementedPluginServiceServer
	describe  *pluginv1.DescribeResponse
	tools     map[string]Tool
	resources map[string]Resource
	templates map[string]ResourceTemplate
	prompts   map[string]Prompt
	logger    hclog.Logger
	notify    *broadcaster
}

// newServer checks the plugin so a bad one fails fast, at its own start (and in
// its tests), rather than at the host: first what only the SDK knows (a tool's
// construction error, a missing handler or Read/Get function), then the
// description it built, by pluginrpc.CheckManifest, the rules the host applies,
// so the message is the host's. The host may still refuse a name its
// configured prefix makes too long or a collision with another plugin.
func newServer(p Plugin, logger hclog.Logger) (*server, error) {
	s := &server{
		tools: map[string]Tool{}, resources: map[string]Resource{}, templates: map[string]ResourceTemplate{},
		prompts: map[string]Prompt{}, logger: logger, notify: newBroadcaster(),
	}
	d := &pluginv1.DescribeResponse{Name: p.Name, Version: p.Version, ProtocolVersion: pluginrpc.ProtocolVersion}
	for _, t := range p.Tools {
		if t.err != nil {
			return nil, t.err
		}
		if t.handler == nil {
			return nil, fmt.Errorf("tool %s has no handler", t.name)
		}
		s.tools[t.name] = t
		d.Tools = append(d.Tools, toolToProto(t))
	}
	if err := s.addFeatures(p, d); err != nil {
		return nil, err
	}
	if err := pluginrpc.CheckManifest(d, ""); err != nil {
		return nil, err
	}
	// Calls resume from the answers of earlier rounds (Client), share one
	// stream (Calls), and the host listens for events (resource updates,
	// Update).
	d.Capabilities = append(d.Capabilities, pluginrpc.CapabilityInputResponses)
	if os.Getenv(CallChannelEnv) != "off" {
		d.Capabilities = append(d.Capabilities, pluginrpc.CapabilityCallChannel)
	}
	if !slices.Contains(d.Capabilities, "notifications") {
		d.Capabilities = append(d.Capabilities, "notifications")
	}
	s.describe = d
	return s, nil
}

// addFeatures indexes resources, templates and prompts, checks each has its
// Read or Get function, and declares the capabilities they need. The rest
// (URIs, names, duplicates) is CheckManifest's.
func (s *server) addFeatures(p Plugin, d *pluginv1.DescribeResponse) error {
	completions := false
	for _, r := range p.Resources {
		if r.Read == nil {
			return fmt.Errorf("resource %q has no Read function", r.URI)
		}
		s.resources[r.URI] = r
		d.Resources = append(d.Resources, resourceToProto(r))
	}
	for _, t := range p.ResourceTemplates {
		if t.Read == nil {
			return fmt.Errorf("resource template %q has no Read function", t.URITemplate)
		}
		s.templates[t.URITemplate] = t
		d.ResourceTemplates = append(d.ResourceTemplates, templateToProto(t))
		completions = completions || t.Complete != nil
	}
	for _, pr := range p.Prompts {
		if pr.Get == nil {
			return fmt.Errorf("prompt %q has no Get function", pr.Name)
		}
		s.prompts[pr.Name] = pr
		d.Prompts = append(d.Prompts, promptToProto(pr))
		completions = completions || pr.Complete != nil
	}
	if len(s.resources)+len(s.templates) > 0 {
		d.Capabilities = append(d.Capabilities, "resources", "notifications")
	}
	if len(s.prompts) > 0 {
		d.Capabilities = append(d.Capabilities, "prompts")
	}
	if completions {
		d.Capabilities = append(d.Capabilities, "completions")
	}
	return nil
}

func (s *server) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return s.describe, nil
}

func (s *server) CallTool(stream pluginv1.PluginService_CallToolServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	start := first.GetStart()
	if start == nil {
		return errors.New("protocol error: first CallTool message must be start")
	}
	send := lockedSender(stream.Send)
	pending := newPending(start.GetInputResponses())
	// The host sends nothing more unless the handler asks the client
	// something, so the reader of its answers starts with the first question:
	// most calls never need the goroutine.
	pending.listen = sync.OnceFunc(func() {
		go func() {
			for {
				in, err := stream.Recv()
				if err != nil {
					return
				}
				if resp := in.GetClientResponse(); resp != nil {
					pending.deliver(resp)
				}
			}
		}()
	})
	res := s.run(stream.Context(), start, send, pending)
	return send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_Result{Result: res.toProto()}})
}

// run executes one call; a panicking handler becomes a tool error, not a dead plugin.
func (s *server) run(ctx context.Context, start *pluginv1.CallToolStart, send func(*pluginv1.CallToolResponse) error, pending *pendingRequests) (res *Result) {
	t, ok := s.tools[start.GetTool()]
	if !ok {
		return Errorf("unknown tool %q", start.GetTool())
	}
	req := &Request{
		Tool:        t.name,
		Caller:      pluginrpc.CallerFromProto(start.GetCaller()),
		CallID:      start.GetMeta().GetCallId(),
		RequestID:   start.GetMeta().GetRequestId(),
		SessionID:   start.GetMeta().GetMcpSessionId(),
		hasProgress: len(start.GetMeta().GetProgressTokenJson()) > 0,
		send:        send,
	}
	if pending != nil {
		req.Client = newClient(&streamQuestioner{send: send, pending: pending}, start.GetMeta())
	}
	ctx = context.WithValue(pluginrpc.WithTraceContext(ctx, start.GetMeta().GetTraceContext()), requestKey{}, req)
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("tool panicked", "tool", t.name, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			res = Errorf("tool %s failed: internal error", t.name)
		}
	}()
	res, err := t.handler(ctx, req, start.GetArgumentsJson())
	if err != nil {
		return Error(err.Error())
	}
	if res == nil {
		return &Result{}
	}
	return res
}

func toolToProto(t Tool) *pluginv1.Tool {
	pt := &pluginv1.Tool{
		Name:             t.name,
		Title:            t.title,
		Description:      t.description,
		InputSchemaJson:  t.inputSchema,
		OutputSchemaJson: t.outputSchema,
	}
	if a := t.annotations; a != nil {
		pt.Annotations = &pluginv1.ToolAnnotations{
			Title: a.Title, ReadOnlyHint: a.ReadOnlyHint, DestructiveHint: a.DestructiveHint,
			IdempotentHint: a.IdempotentHint, OpenWorldHint: a.OpenWorldHint,
		}
	}
	for _, i := range t.icons {
		pt.Icons = append(pt.Icons, &pluginv1.Icon{Src: i.Src, MimeType: i.MIMEType, Sizes: i.Sizes, Theme: i.Theme})
	}
	return pt
}

// Invoke runs one tool in-process through the same validation and dispatch as a
// host call (progress and log events are dropped). It is meant for plugin tests;
// the end-to-end path through a real host is exercised by the host's tests.
func (p Plugin) Invoke(ctx context.Context, tool string, caller *Caller, args []byte) (*Result, error) {
	s, err := newServer(p, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	start := &pluginv1.CallToolStart{Tool: tool, ArgumentsJson: args, Caller: pluginrpc.CallerToProto(caller)}
	return s.run(ctx, start, func(*pluginv1.CallToolResponse) error { return nil }, nil), nil
}

// ReadResource reads uri in-process, matching fixed resources first and then
// resource templates, as the host would route it. Meant for plugin tests.
func (p Plugin) ReadResource(ctx context.Context, uri string, caller *Caller) ([]ResourceContents, error) {
	s, err := newServer(p, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	in := &pluginv1.ReadResourceRequest{Uri: uri, Caller: pluginrpc.CallerToProto(caller)}
	if _, fixed := s.resources[uri]; !fixed {
		for tmpl := range s.templates {
			if t, err := uritemplate.New(tmpl); err == nil && t.Match(uri) != nil {
				in.UriTemplate = tmpl
				break
			}
		}
	}
	res, err := s.ReadResource(ctx, in)
	if err != nil {
		return nil, testError(err)
	}
	var out []ResourceContents
	for _, c := range res.GetContents() {
		out = append(out, ResourceContents{URI: c.GetUri(), MIMEType: c.GetMimeType(), Text: c.GetText(), Blob: c.GetBlob()})
	}
	return out, nil
}

// GetPrompt renders a prompt in-process, checking required arguments as the host
// path does, and returns its messages as role and text (non-text content is
// described as "[kind]"). Meant for plugin tests.
func (p Plugin) GetPrompt(ctx context.Context, name string, args map[string]string, caller *Caller) ([]string, error) {
	s, err := newServer(p, hclog.NewNullLogger())
	if err != nil {
		return nil, err
	}
	res, err := s.GetPrompt(ctx, &pluginv1.GetPromptRequest{Name: name, Arguments: args, Caller: pluginrpc.CallerToProto(caller)})
	if err != nil {
		return nil, testError(err)
	}
	var out []string
	for _, m := range res.GetMessages() {
		c := m.GetContent()
		text := c.GetText().GetText()
		switch {
		case c.GetResource() != nil:
			text = "[resource " + c.GetResource().GetContents().GetUri() + "] " + c.GetResource().GetContents().GetText()
		case c.GetText() == nil:
			text = "[non-text content]"
		}
		out = append(out, m.GetRole()+": "+text)
	}
	return out, nil
}

// testError maps a gRPC status back to what a handler returned: ErrNotFound for
// NOT_FOUND, otherwise an error with the status message.
func testError(err error) error {
	if status.Code(err) == codes.NotFound {
		return ErrNotFound
	}
	return errors.New(status.Convert(err).Message())
}
