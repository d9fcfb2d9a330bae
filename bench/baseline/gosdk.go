package baseline

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/auth"
)

// AddIn and AddOut are the add tool's input and output, as in bench/addplugin.
type AddIn struct {
	A float64 `json:"a" jsonschema:"the first addend"`
	B float64 `json:"b" jsonschema:"the second addend"`
}

// AddOut is the add tool's structured output.
type AddOut struct {
	Sum float64 `json:"sum"`
}

// GoSDKOptions configure the go-sdk baseline's Streamable HTTP transport.
type GoSDKOptions struct {
	JSONResponse   bool // application/json responses instead of SSE
	Stateless      bool
	EventStore     bool // keep SSE events for resumption (mcphost's event_store: memory)
	SessionTimeout time.Duration
	MaxBodyBytes   int64
	Logger         *slog.Logger
}

// NewGoSDKHandler is the go-sdk v1.8.0 serving the add tool in process, wired
// as host/server.go wires mcphost's go-sdk transport: the gate in front (added
// by the caller), then the SDK's bearer middleware carrying the verified
// caller (it binds each session to its user), then the Streamable HTTP
// handler. The tool is a typed tool, so the SDK validates the arguments
// against the inferred schema and returns the output as structured content
// and JSON text, as sdk.NewTypedTool does in the plugin.
func NewGoSDKHandler(opts GoSDKOptions) http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "mcpbench-gosdk", Version: "1.8.0"}, &mcp.ServerOptions{
		Logger:       opts.Logger,
		Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{ListChanged: true}, Logging: &mcp.LoggingCapabilities{}},
	})
	mcp.AddTool(srv, &mcp.Tool{
		Name:        "add",
		Title:       "Add",
		Description: "Adds two numbers and returns their sum (text and structured {sum}).",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
	}, func(_ context.Context, _ *mcp.CallToolRequest, in AddIn) (*mcp.CallToolResult, AddOut, error) {
		return nil, AddOut{Sum: in.A + in.B}, nil
	})
	so := &mcp.StreamableHTTPOptions{
		Stateless:           opts.Stateless,
		JSONResponse:        opts.JSONResponse,
		Logger:              opts.Logger,
		SessionTimeout:      opts.SessionTimeout,
		MaxRequestBodyBytes: opts.MaxBodyBytes,
	}
	if opts.EventStore && !opts.Stateless {
		so.EventStore = mcp.NewMemoryEventStore(nil)
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, so)
	return sdkauth.RequireBearerToken(callerTokenInfo, &sdkauth.RequireBearerTokenOptions{AllowMissingExpiration: true})(h)
}

// callerTokenInfo hands the gate's verified caller to the go-sdk, as mcphost does.
func callerTokenInfo(ctx context.Context, _ string, _ *http.Request) (*sdkauth.TokenInfo, error) {
	c := auth.CallerFromContext(ctx)
	if c == nil {
		return nil, sdkauth.ErrInvalidToken
	}
	return &sdkauth.TokenInfo{UserID: c.UserID, Scopes: c.Scopes, Extra: map[string]any{"caller": c}}, nil
}
