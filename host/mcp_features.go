package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// The MCP side of plugin resources, prompts and completions.

func resourceHandler(h *Host, template string) mcp.ResourceHandler {
	return func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		uri := req.Params.URI
		res, err := h.ReadResource(ctx, callerFromExtra(req.Extra), uri, template)
		if err != nil {
			return nil, protocolError(err, mcp.ResourceNotFoundError(uri))
		}
		out := &mcp.ReadResourceResult{Contents: make([]*mcp.ResourceContents, 0, len(res.GetContents()))}
		for _, c := range res.GetContents() {
			out.Contents = append(out.Contents, mcpContents(c, uri))
		}
		return out, nil
	}
}

func promptHandler(h *Host, name string) mcp.PromptHandler {
	return func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		res, err := h.GetPrompt(ctx, callerFromExtra(req.Extra), name, req.Params.Arguments)
		if err != nil {
			// The same error the SDK gives for a prompt that does not exist.
			return nil, protocolError(err, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: fmt.Sprintf("unknown prompt %q", name)})
		}
		out := &mcp.GetPromptResult{Description: res.GetDescription(), Messages: []*mcp.PromptMessage{}}
		for _, m := range res.GetMessages() {
			if c := toMCPContent(m.GetContent()); c != nil {
				out.Messages = append(out.Messages, &mcp.PromptMessage{Role: mcp.Role(m.GetRole()), Content: c})
			}
		}
		return out, nil
	}
}

func completionHandler(h *Host) func(context.Context, *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	return func(ctx context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
		p := req.Params
		if p == nil || p.Ref == nil {
			return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "completion/complete: ref is required"}
		}
		refName := p.Ref.Name
		if p.Ref.Type == "ref/resource" {
			refName = p.Ref.URI
		}
		var filled map[string]string
		if p.Context != nil {
			filled = p.Context.Arguments
		}
		res, err := h.Complete(ctx, callerFromExtra(req.Extra), p.Ref.Type, refName, p.Argument.Name, p.Argument.Value, filled)
		if err != nil {
			return nil, protocolError(err, nil)
		}
		out := &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: res.GetValues(), HasMore: res.GetHasMore()}}
		if out.Completion.Values == nil {
			out.Completion.Values = []string{}
		}
		if res.Total != nil {
			out.Completion.Total = int(res.GetTotal())
		}
		return out, nil
	}
}

// checkSubscribable accepts subscriptions to resources the caller may read.
func checkSubscribable(h *Host, extra *mcp.RequestExtra, uri string) error {
	table := h.routes.Load()
	caller := callerFromExtra(extra)
	if visible(caller, table.resources[uri]) {
		return nil
	}
	for _, fr := range table.templates {
		if visible(caller, fr) && fr.slot.servesTemplateURI(table, uri) {
			return nil
		}
	}
	return mcp.ResourceNotFoundError(uri)
}

// protocolError maps Host errors to JSON-RPC errors: notFound for ErrNotFound
// (so hidden and missing look alike), invalid params for bad arguments.
func protocolError(err, notFound error) error {
	var inv *InvalidArgumentError
	switch {
	case errors.Is(err, ErrNotFound) && notFound != nil:
		return notFound
	case errors.As(err, &inv):
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: inv.Msg}
	}
	return err
}

func mcpResource(r *pluginv1.Resource) *mcp.Resource {
	out := &mcp.Resource{URI: r.GetUri(), Name: r.GetName(), Title: r.GetTitle(), Description: r.GetDescription(), MIMEType: r.GetMimeType()}
	if r.Size != nil {
		out.Size = r.GetSize()
	}
	out.Icons = mcpIcons(r.GetIcons())
	unmarshalOptional(r.GetMetaJson(), &out.Meta)
	return out
}

func mcpTemplate(t *pluginv1.ResourceTemplate) *mcp.ResourceTemplate {
	out := &mcp.ResourceTemplate{URITemplate: t.GetUriTemplate(), Name: t.GetName(), Title: t.GetTitle(), Description: t.GetDescription(), MIMEType: t.GetMimeType()}
	out.Icons = mcpIcons(t.GetIcons())
	unmarshalOptional(t.GetMetaJson(), &out.Meta)
	return out
}

func mcpPrompt(fr *featureRoute) *mcp.Prompt {
	p := fr.prompt
	out := &mcp.Prompt{Name: fr.key, Title: p.GetTitle(), Description: p.GetDescription(), Icons: mcpIcons(p.GetIcons())}
	for _, a := range p.GetArguments() {
		out.Arguments = append(out.Arguments, &mcp.PromptArgument{Name: a.GetName(), Title: a.GetTitle(), Description: a.GetDescription(), Required: a.GetRequired()})
	}
	unmarshalOptional(p.GetMetaJson(), &out.Meta)
	return out
}

func mcpIcons(icons []*pluginv1.Icon) []mcp.Icon {
	var out []mcp.Icon
	for _, i := range icons {
		out = append(out, mcp.Icon{Source: i.GetSrc(), MIMEType: i.GetMimeType(), Sizes: i.GetSizes(), Theme: mcp.IconTheme(i.GetTheme())})
	}
	return out
}

// mcpContents converts one read result item; an item without a URI gets the
// URI that was read.
func mcpContents(c *pluginv1.ResourceContents, uri string) *mcp.ResourceContents {
	out := &mcp.ResourceContents{URI: c.GetUri(), MIMEType: c.GetMimeType()}
	if out.URI == "" {
		out.URI = uri
	}
	switch b := c.GetBody().(type) {
	case *pluginv1.ResourceContents_Blob:
		out.Blob = b.Blob
	case *pluginv1.ResourceContents_Text:
		out.Text = b.Text
	}
	unmarshalOptional(c.GetMetaJson(), &out.Meta)
	return out
}

// unmarshalOptional decodes optional JSON from a plugin; invalid JSON is dropped
// rather than failing the request (it was validated where it matters).
func unmarshalOptional(raw []byte, v any) {
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, v)
	}
}
