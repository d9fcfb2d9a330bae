package sdk

import (
	"context"
	"errors"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// ErrNotFound tells the host that a resource or prompt does not exist (or that
// this caller may not see it: the two should look the same). Return it, or an
// error wrapping it, from a Read or Get function.
var ErrNotFound = errors.New("not found")

// Resource is a resource with a fixed URI that clients can list and read.
type Resource struct {
	URI         string
	Name        string
	Title       string
	Description string
	MIMEType    string
	// Read returns the resource's contents for the caller in req.
	Read func(ctx context.Context, req *ResourceRequest) ([]ResourceContents, error)
}

// ResourceTemplate is a family of resources named by an RFC 6570 URI template,
// such as "docs://{id}". Read receives the concrete URI the client asked for.
type ResourceTemplate struct {
	URITemplate string
	Name        string
	Title       string
	Description string
	MIMEType    string
	Read        func(ctx context.Context, req *ResourceRequest) ([]ResourceContents, error)
	// Complete, if set, suggests values for a template variable (argument).
	Complete CompleteFunc
}

// ResourceRequest is one resources/read as the plugin sees it.
type ResourceRequest struct {
	// URI is the URI the client asked for.
	URI string
	// Template is the URI template it matched, or "" for a fixed resource.
	Template string
	Caller   *Caller
	// Client asks the MCP client things; see Client for how to write a Read
	// that asks.
	Client
}

// ResourceContents is one item of a resource read: Text, or Blob for binary data.
type ResourceContents struct {
	URI      string
	MIMEType string
	Text     string
	Blob     []byte
}

// CompleteFunc suggests completions for argument given what the user typed so
// far (value) and the other arguments already filled in.
type CompleteFunc func(ctx context.Context, req *CompleteRequest) ([]string, error)

// CompleteRequest is one completion/complete as the plugin sees it.
type CompleteRequest struct {
	Argument string
	Value    string
	Context  map[string]string
	Caller   *Caller
}

func resourceToProto(r Resource) *pluginv1.Resource {
	return &pluginv1.Resource{Uri: r.URI, Name: r.Name, Title: r.Title, Description: r.Description, MimeType: r.MIMEType}
}

func templateToProto(t ResourceTemplate) *pluginv1.ResourceTemplate {
	return &pluginv1.ResourceTemplate{UriTemplate: t.URITemplate, Name: t.Name, Title: t.Title, Description: t.Description, MimeType: t.MIMEType}
}

func contentsToProto(cs []ResourceContents) []*pluginv1.ResourceContents {
	out := make([]*pluginv1.ResourceContents, 0, len(cs))
	for _, c := range cs {
		pc := &pluginv1.ResourceContents{Uri: c.URI, MimeType: c.MIMEType}
		if c.Blob != nil {
			pc.Body = &pluginv1.ResourceContents_Blob{Blob: c.Blob}
		} else {
			pc.Body = &pluginv1.ResourceContents_Text{Text: c.Text}
		}
		out = append(out, pc)
	}
	return out
}
