package host

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/auth"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// This file is the MCP transport seam: the only place that knows the go-sdk. It
// turns Host's routing table into go-sdk tools and tools/call into Host.CallTool.

// callerKey is where the HTTP layer leaves the verified caller in the go-sdk's
// TokenInfo.Extra, the one per-request value the SDK carries to handlers.
const callerKey = "mcphost.caller"

// MCPOptions configure the MCP transport.
type MCPOptions struct {
	Version      string
	Stateless    bool
	JSONResponse bool
	Logger       *slog.Logger
	MaxBodyBytes int64
	// SessionTimeout closes idle sessions; 0 keeps them until the client ends them.
	SessionTimeout time.Duration
	// EventStore, if set, lets clients resume SSE streams (Last-Event-ID).
	EventStore mcp.EventStore
}

// NewMCPHandler returns the Streamable HTTP handler serving h's tools, resources
// and prompts. The request context must carry the verified caller
// (auth.WithCaller) when an authentication provider is configured; see Server.
func NewMCPHandler(h *Host, opts MCPOptions) http.Handler {
	var srv *mcp.Server
	srv = mcp.NewServer(&mcp.Implementation{Name: "mcphost", Version: opts.Version}, &mcp.ServerOptions{
		Logger: opts.Logger,
		// Tools and logging always; resources and prompts are advertised when a
		// live plugin offers them (the SDK infers that when a session starts).
		Capabilities: &mcp.ServerCapabilities{
			Tools:   &mcp.ToolCapabilities{ListChanged: true},
			Logging: &mcp.LoggingCapabilities{},
		},
		// Lists are filtered by the caller's policy, so they must not be shared.
		SetCacheable:      func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) { c.CacheScope = "private" },
		CompletionHandler: completionHandler(h),
		SubscribeHandler: func(ctx context.Context, req *mcp.SubscribeRequest) error {
			return checkSubscribable(h, req.Extra, req.Params.URI)
		},
		UnsubscribeHandler: func(context.Context, *mcp.UnsubscribeRequest) error { return nil },
	})
	srv.AddReceivingMiddleware(policyMiddleware(h))
	h.OnRoutesChanged(func(old, new *routeTable) { syncFeatures(srv, h, old, new) })
	h.OnResourceUpdated(func(uri string) {
		_ = srv.ResourceUpdated(context.Background(), &mcp.ResourceUpdatedNotificationParams{URI: uri})
	})
	syncFeatures(srv, h, emptyRoutes(), h.routes.Load())

	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:           opts.Stateless,
		JSONResponse:        opts.JSONResponse,
		Logger:              opts.Logger,
		MaxRequestBodyBytes: opts.MaxBodyBytes,
		SessionTimeout:      opts.SessionTimeout,
		EventStore:          opts.EventStore,
	})
}

// syncFeatures applies the difference between two routing tables to the MCP
// server; the SDK then tells connected sessions what changed (list_changed).
func syncFeatures(srv *mcp.Server, h *Host, old, new *routeTable) {
	if gone := removed(old.tools, new.tools); len(gone) > 0 {
		srv.RemoveTools(gone...)
	}
	for _, name := range slices.Sorted(maps.Keys(new.tools)) {
		r := new.tools[name]
		if o := old.tools[name]; o != nil && o.tool == r.tool && o.slot == r.slot {
			continue
		}
		srv.AddTool(mcpTool(r), toolHandler(h, name))
	}
	if gone := removed(old.prompts, new.prompts); len(gone) > 0 {
		srv.RemovePrompts(gone...)
	}
	for _, name := range slices.Sorted(maps.Keys(new.prompts)) {
		if fr := new.prompts[name]; changedFeature(old.prompts[name], fr) {
			srv.AddPrompt(mcpPrompt(fr), promptHandler(h, name))
		}
	}
	if gone := removed(old.resources, new.resources); len(gone) > 0 {
		srv.RemoveResources(gone...)
	}
	for _, uri := range slices.Sorted(maps.Keys(new.resources)) {
		if fr := new.resources[uri]; changedFeature(old.resources[uri], fr) {
			srv.AddResource(mcpResource(fr.resource), resourceHandler(h, ""))
		}
	}
	if gone := removed(old.templates, new.templates); len(gone) > 0 {
		srv.RemoveResourceTemplates(gone...)
	}
	for _, tmpl := range slices.Sorted(maps.Keys(new.templates)) {
		if fr := new.templates[tmpl]; changedFeature(old.templates[tmpl], fr) {
			srv.AddResourceTemplate(mcpTemplate(fr.template), resourceHandler(h, tmpl))
		}
	}
}

func removed[V any](old, new map[string]V) []string {
	var gone []string
	for k := range old {
		if _, ok := new[k]; !ok {
			gone = append(gone, k)
		}
	}
	return gone
}

func changedFeature(old, new *featureRoute) bool {
	return old == nil || old.slot != new.slot || old.prompt != new.prompt || old.resource != new.resource || old.template != new.template
}

// policyMiddleware hides what the caller may not use from every list, and trims
// the advertised capabilities to what the live plugins offer. Calls and
// reads are checked by Host, which answers exactly as for something missing.
func policyMiddleware(h *Host) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if err != nil {
				return res, err
			}
			caller := callerFromExtra(req.GetExtra())
			table := h.routes.Load()
			switch list := res.(type) {
			case *mcp.InitializeResult:
				// The SDK infers tools, resources and prompts from what is
				// registered; completions only from the handler, which is always
				// set. Advertise them only when a live plugin offers them.
				if list.Capabilities != nil && !h.offers("completions") {
					out := *list
					caps := *list.Capabilities
					caps.Completions = nil
					out.Capabilities = &caps
					return &out, nil
				}
			case *mcp.ListToolsResult:
				out := *list
				out.Tools = filter(list.Tools, func(t *mcp.Tool) bool { _, err := h.lookup(caller, t.Name); return err == nil })
				return &out, nil
			case *mcp.ListPromptsResult:
				out := *list
				out.Prompts = filter(list.Prompts, func(p *mcp.Prompt) bool { return visible(caller, table.prompts[p.Name]) })
				return &out, nil
			case *mcp.ListResourcesResult:
				out := *list
				out.Resources = filter(list.Resources, func(r *mcp.Resource) bool { return visible(caller, table.resources[r.URI]) })
				return &out, nil
			case *mcp.ListResourceTemplatesResult:
				out := *list
				out.ResourceTemplates = filter(list.ResourceTemplates, func(t *mcp.ResourceTemplate) bool {
					return visible(caller, table.templates[t.URITemplate])
				})
				return &out, nil
			}
			return res, nil
		}
	}
}

func visible(caller *auth.Caller, fr *featureRoute) bool {
	return fr != nil && allowed(caller, fr.policies)
}

func filter[T any](items []T, keep func(T) bool) []T {
	out := make([]T, 0, len(items))
	for _, it := range items {
		if keep(it) {
			out = append(out, it)
		}
	}
	return out
}

func callerFromExtra(extra *mcp.RequestExtra) *auth.Caller {
	if extra == nil || extra.TokenInfo == nil {
		return nil
	}
	c, _ := extra.TokenInfo.Extra[callerKey].(*auth.Caller)
	return c
}

func toolHandler(h *Host, name string) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		caller := callerFromExtra(req.Extra)
		meta := CallMeta{SessionID: req.Session.ID(), ProgressToken: req.Params.GetProgressToken()}
		res, err := h.CallTool(ctx, caller, name, req.Params.Arguments, meta, &sessionEvents{ctx: ctx, req: req})
		if err == ErrUnknownTool {
			// The same error the SDK gives for a tool that does not exist.
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown tool %q", name)}
		}
		if err != nil {
			return nil, err
		}
		return toMCPResult(res), nil
	}
}

// sessionEvents forwards a plugin's progress and logs to the calling session.
type sessionEvents struct {
	ctx context.Context
	req *mcp.CallToolRequest
}

func (e *sessionEvents) Progress(progress float64, total *float64, message string) {
	p := &mcp.ProgressNotificationParams{ProgressToken: e.req.Params.GetProgressToken(), Progress: progress, Message: message}
	if total != nil {
		p.Total = *total
	}
	_ = e.req.Session.NotifyProgress(e.ctx, p)
}

func (e *sessionEvents) Log(level, logger string, data json.RawMessage) {
	var v any
	if len(data) > 0 {
		_ = json.Unmarshal(data, &v)
	}
	_ = e.req.Session.Log(e.ctx, &mcp.LoggingMessageParams{Level: mcp.LoggingLevel(level), Logger: logger, Data: v})
}

// Ask forwards a plugin's request to the calling client on its session.
func (e *sessionEvents) Ask(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	switch method {
	case "sampling/createMessage":
		var p mcp.CreateMessageParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("invalid sampling request: %w", err)
		}
		res, err := e.req.Session.CreateMessage(ctx, &p)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	case "elicitation/create":
		var p mcp.ElicitParams
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fmt.Errorf("invalid elicitation request: %w", err)
		}
		res, err := e.req.Session.Elicit(ctx, &p)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	}
	return nil, fmt.Errorf("plugins may not send %q to the client", method)
}

func mcpTool(r *route) *mcp.Tool {
	t := r.tool
	out := &mcp.Tool{
		Name:        r.name,
		Title:       t.GetTitle(),
		Description: t.GetDescription(),
		InputSchema: json.RawMessage(t.GetInputSchemaJson()),
	}
	if len(t.GetOutputSchemaJson()) > 0 {
		out.OutputSchema = json.RawMessage(t.GetOutputSchemaJson())
	}
	if a := t.GetAnnotations(); a != nil {
		out.Annotations = &mcp.ToolAnnotations{
			Title:           a.GetTitle(),
			ReadOnlyHint:    a.GetReadOnlyHint(),
			DestructiveHint: a.DestructiveHint,
			IdempotentHint:  a.GetIdempotentHint(),
			OpenWorldHint:   a.OpenWorldHint,
		}
	}
	out.Icons = mcpIcons(t.GetIcons())
	unmarshalOptional(t.GetMetaJson(), &out.Meta)
	return out
}

func toMCPResult(r *pluginv1.CallToolResult) *mcp.CallToolResult {
	out := &mcp.CallToolResult{IsError: r.GetIsError(), Content: make([]mcp.Content, 0, len(r.GetContent()))}
	if sc := r.GetStructuredContentJson(); len(sc) > 0 {
		out.StructuredContent = json.RawMessage(sc)
	}
	unmarshalOptional(r.GetMetaJson(), &out.Meta)
	for _, c := range r.GetContent() {
		if mc := toMCPContent(c); mc != nil {
			out.Content = append(out.Content, mc)
		}
	}
	return out
}

func toMCPContent(c *pluginv1.Content) mcp.Content {
	var ann *mcp.Annotations
	if len(c.GetAnnotationsJson()) > 0 {
		ann = &mcp.Annotations{}
		if json.Unmarshal(c.GetAnnotationsJson(), ann) != nil {
			ann = nil
		}
	}
	var meta mcp.Meta
	unmarshalOptional(c.GetMetaJson(), &meta)
	switch k := c.GetKind().(type) {
	case *pluginv1.Content_Text:
		return &mcp.TextContent{Text: k.Text.GetText(), Annotations: ann, Meta: meta}
	case *pluginv1.Content_Image:
		return &mcp.ImageContent{Data: k.Image.GetData(), MIMEType: k.Image.GetMimeType(), Annotations: ann, Meta: meta}
	case *pluginv1.Content_Audio:
		return &mcp.AudioContent{Data: k.Audio.GetData(), MIMEType: k.Audio.GetMimeType(), Annotations: ann, Meta: meta}
	case *pluginv1.Content_ResourceLink:
		l := k.ResourceLink
		rl := &mcp.ResourceLink{URI: l.GetUri(), Name: l.GetName(), Title: l.GetTitle(), Description: l.GetDescription(), MIMEType: l.GetMimeType(), Annotations: ann, Meta: meta}
		if l.Size != nil {
			size := l.GetSize()
			rl.Size = &size
		}
		return rl
	case *pluginv1.Content_Resource:
		return &mcp.EmbeddedResource{Resource: mcpContents(k.Resource.GetContents(), ""), Annotations: ann, Meta: meta}
	}
	return nil // a content kind from a newer plugin: dropped rather than sent malformed
}
