package host

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
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
}

// NewMCPHandler returns the Streamable HTTP handler serving h's tools. The
// request context must carry the verified caller (auth.WithCaller) when an
// authentication provider is configured; see Server.
func NewMCPHandler(h *Host, opts MCPOptions) http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "mcphost", Version: opts.Version}, &mcp.ServerOptions{
		Logger: opts.Logger,
		Capabilities: &mcp.ServerCapabilities{
			Tools:   &mcp.ToolCapabilities{ListChanged: true},
			Logging: &mcp.LoggingCapabilities{},
		},
		// tools/list is filtered by the caller's policy, so it must not be shared.
		SetCacheable: func(_ context.Context, _ mcp.Request, c *mcp.Cacheable) { c.CacheScope = "private" },
	})
	srv.AddReceivingMiddleware(policyMiddleware(h))
	h.OnRoutesChanged(func(old, new routeTable) { syncTools(srv, h, old, new) })
	syncTools(srv, h, routeTable{}, *h.routes.Load())

	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:           opts.Stateless,
		JSONResponse:        opts.JSONResponse,
		Logger:              opts.Logger,
		MaxRequestBodyBytes: opts.MaxBodyBytes,
		SessionTimeout:      opts.SessionTimeout,
	})
}

// syncTools applies the difference between two routing tables to the MCP server;
// the SDK then tells connected sessions that the tool list changed.
func syncTools(srv *mcp.Server, h *Host, old, new routeTable) {
	var removed []string
	for name := range old {
		if _, ok := new[name]; !ok {
			removed = append(removed, name)
		}
	}
	if len(removed) > 0 {
		srv.RemoveTools(removed...)
	}
	for _, name := range new.sortedNames() {
		r := new[name]
		if o, ok := old[name]; ok && o.tool == r.tool && o.slot == r.slot {
			continue
		}
		srv.AddTool(mcpTool(r), toolHandler(h, name))
	}
}

// policyMiddleware hides tools the caller may not call from tools/list. Calls are
// checked by Host.CallTool, which answers exactly as for an unknown tool.
func policyMiddleware(h *Host) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if method != "tools/list" || err != nil {
				return res, err
			}
			list, ok := res.(*mcp.ListToolsResult)
			if !ok {
				return res, err
			}
			caller := callerFromExtra(req.GetExtra())
			visible := make([]*mcp.Tool, 0, len(list.Tools))
			for _, t := range list.Tools {
				if _, err := h.lookup(caller, t.Name); err == nil {
					visible = append(visible, t)
				}
			}
			filtered := *list
			filtered.Tools = visible
			return &filtered, nil
		}
	}
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
	for _, i := range t.GetIcons() {
		out.Icons = append(out.Icons, mcp.Icon{Source: i.GetSrc(), MIMEType: i.GetMimeType(), Sizes: i.GetSizes(), Theme: mcp.IconTheme(i.GetTheme())})
	}
	if len(t.GetMetaJson()) > 0 {
		_ = json.Unmarshal(t.GetMetaJson(), &out.Meta)
	}
	return out
}

func toMCPResult(r *pluginv1.CallToolResult) *mcp.CallToolResult {
	out := &mcp.CallToolResult{IsError: r.GetIsError(), Content: make([]mcp.Content, 0, len(r.GetContent()))}
	if sc := r.GetStructuredContentJson(); len(sc) > 0 {
		out.StructuredContent = json.RawMessage(sc)
	}
	if len(r.GetMetaJson()) > 0 {
		_ = json.Unmarshal(r.GetMetaJson(), &out.Meta)
	}
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
	if len(c.GetMetaJson()) > 0 {
		_ = json.Unmarshal(c.GetMetaJson(), &meta)
	}
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
		rc := k.Resource.GetContents()
		contents := &mcp.ResourceContents{URI: rc.GetUri(), MIMEType: rc.GetMimeType()}
		switch b := rc.GetBody().(type) {
		case *pluginv1.ResourceContents_Text:
			contents.Text = b.Text
		case *pluginv1.ResourceContents_Blob:
			contents.Blob = b.Blob
		}
		return &mcp.EmbeddedResource{Resource: contents, Annotations: ann, Meta: meta}
	}
	return nil // a content kind from a newer plugin: dropped rather than sent malformed
}
