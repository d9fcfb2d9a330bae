package mcpserver

import (
	"context"
	"errors"

	"github.com/mcphost/mcphost/auth"
)

// Backend is what the engine serves: everything a client can list, call, read,
// get or complete, always for a verified caller. mcphost's router implements it;
// the engine knows nothing of plugins.
//
// Results are Encoded values that write their own JSON members, so a backend
// can turn its native types into wire bytes without intermediate maps.
// Something the caller may not see must be reported exactly like something
// missing (ErrNotFound), so the two cannot be told apart.
type Backend interface {
	// Capabilities reports what is on offer now (it may change with plugins).
	Capabilities() Capabilities

	// ListTools writes the "tools" member of a tools/list result.
	ListTools(ctx context.Context, caller *auth.Caller) (Encoded, error)
	// ToolHeaders reports the x-mcp-header parameters of a tool the caller may
	// call; ok is false for a tool that is missing or hidden.
	ToolHeaders(ctx context.Context, caller *auth.Caller, name string) (headers []ParamHeader, ok bool)
	// CallTool runs a tool with the arguments exactly as the client sent them.
	// A tool that is missing or hidden is ErrNotFound. Tool failures are
	// results (isError), not errors. Errors wrapping ErrInputRequired end the
	// round with an input-required result (see Call.Ask).
	CallTool(ctx context.Context, caller *auth.Caller, name string, args []byte, call *Call) (Encoded, error)

	// ListPrompts writes the "prompts" member of a prompts/list result.
	ListPrompts(ctx context.Context, caller *auth.Caller) (Encoded, error)
	// GetPrompt and ReadResource may ask the client too (call), as CallTool.
	GetPrompt(ctx context.Context, caller *auth.Caller, name string, args map[string]string, call *Call) (Encoded, error)

	// ListResources and ListResourceTemplates write "resources" and
	// "resourceTemplates" members.
	ListResources(ctx context.Context, caller *auth.Caller) (Encoded, error)
	ListResourceTemplates(ctx context.Context, caller *auth.Caller) (Encoded, error)
	ReadResource(ctx context.Context, caller *auth.Caller, uri string, call *Call) (Encoded, error)
	// CanSubscribe reports whether the caller may hear about changes of uri.
	CanSubscribe(caller *auth.Caller, uri string) bool

	Complete(ctx context.Context, caller *auth.Caller, req CompleteRequest) (Encoded, error)
}

// Encoded is a result body: AppendMembers appends the members of the result
// object (without the braces), for example `"tools":[...]`.
type Encoded interface {
	AppendMembers(dst []byte) []byte
}

// Members is raw result members, for backends that already have bytes.
type Members []byte

// AppendMembers implements Encoded.
func (m Members) AppendMembers(dst []byte) []byte { return append(dst, m...) }

// Capabilities are the server features advertised to clients.
type Capabilities struct {
	Resources   bool
	Prompts     bool
	Completions bool
}

// ParamHeader is one tool parameter mirrored into an Mcp-Param-{Name} header
// (SEP-2243 x-mcp-header): Path is the chain of property names to it.
type ParamHeader struct {
	Name string
	Path []string
}

// CompleteRequest is a completion/complete request.
type CompleteRequest struct {
	// RefType is "ref/prompt" or "ref/resource"; RefName the prompt name or the
	// resource template URI.
	RefType, RefName string
	Argument, Value  string
	// Context holds the values of arguments already filled in.
	Context map[string]string
}

// ErrNotFound is returned by a Backend for a tool, prompt or resource that
// does not exist or that the caller may not see.
var ErrNotFound = errors.New("not found")

// ErrInputRequired is wrapped by Call.Ask's error on the 2026-07-28 protocol:
// the question is recorded and the call must end so the client can answer and
// retry. A backend passes it up from CallTool, GetPrompt or ReadResource.
var ErrInputRequired = errors.New("input required from the client")

// ChangeKind says what changed.
type ChangeKind int

const (
	ToolsChanged ChangeKind = iota + 1
	PromptsChanged
	ResourcesChanged
	ResourceUpdated
)

// Change is an event the backend reports with Server.Notify.
type Change struct {
	Kind ChangeKind
	// URI is the resource that changed (ResourceUpdated only).
	URI string
}
