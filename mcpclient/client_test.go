package mcpclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/mcpserver"
)

// echoBackend serves two tools through mcphost's real engine: echo returns its
// arguments as text, ask asks the client to sample (which this client cannot).
type echoBackend struct{}

func (echoBackend) Capabilities() mcpserver.Capabilities { return mcpserver.Capabilities{} }
func (echoBackend) ListTools(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return mcpserver.Members(`"tools":[{"name":"echo","inputSchema":{"type":"object"}},{"name":"ask","inputSchema":{"type":"object"}}]`), nil
}
func (echoBackend) ToolHeaders(_ context.Context, _ *auth.Caller, name string) ([]mcpserver.ParamHeader, bool) {
	return nil, name == "echo" || name == "ask"
}
func (echoBackend) CallTool(ctx context.Context, _ *auth.Caller, name string, args []byte, call *mcpserver.Call) (mcpserver.Encoded, error) {
	switch name {
	case "echo":
		text, _ := json.Marshal(string(args))
		return mcpserver.Members(`"content":[{"type":"text","text":` + string(text) + `}]`), nil
	case "ask":
		if _, err := call.Ask(ctx, "q", "sampling/createMessage", []byte(`{"messages":[],"maxTokens":1}`)); err != nil {
			return nil, err
		}
		return mcpserver.Members(`"content":[]`), nil
	}
	return nil, mcpserver.ErrNotFound
}
func (echoBackend) ListPrompts(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (echoBackend) GetPrompt(context.Context, *auth.Caller, string, map[string]string, *mcpserver.Call) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (echoBackend) ListResources(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (echoBackend) ListResourceTemplates(context.Context, *auth.Caller) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (echoBackend) ReadResource(context.Context, *auth.Caller, string, *mcpserver.Call) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}
func (echoBackend) CanSubscribe(*auth.Caller, string) bool { return false }
func (echoBackend) Complete(context.Context, *auth.Caller, mcpserver.CompleteRequest) (mcpserver.Encoded, error) {
	return nil, mcpserver.ErrNotFound
}

// gate lets requests with "Bearer good" through as user u1, like the host's.
func gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), &auth.Caller{UserID: "u1"})))
	})
}

func TestClientAgainstEngine(t *testing.T) {
	for _, jsonResponse := range []bool{true, false} {
		srv := httptest.NewServer(gate(mcpserver.New(echoBackend{}, mcpserver.Options{Name: "t", Version: "1", JSONResponse: jsonResponse})))
		t.Cleanup(srv.Close)
		c := &Client{URL: srv.URL, Token: "good"}
		ctx := context.Background()

		tools, err := c.ListTools(ctx)
		if err != nil || len(tools) != 2 || !strings.Contains(string(tools[0]), `"echo"`) {
			t.Fatalf("json %t: tools %s, %v", jsonResponse, tools, err)
		}
		if c.Protocol() != Modern {
			t.Errorf("json %t: protocol %q, want %s", jsonResponse, c.Protocol(), Modern)
		}
		res, err := c.CallTool(ctx, "echo", json.RawMessage(`{"x":1}`))
		if err != nil || !strings.Contains(string(res), `"text":"{\"x\":1}"`) {
			t.Fatalf("json %t: echo %s, %v", jsonResponse, res, err)
		}

		var rpcErr *Error
		if _, err := c.CallTool(ctx, "nope", nil); !errors.As(err, &rpcErr) || !strings.Contains(rpcErr.Message, "nope") {
			t.Errorf("json %t: unknown tool: %v, want a server error naming it", jsonResponse, err)
		}
		// The client declares no capabilities, so the server must not ask.
		if _, err := c.CallTool(ctx, "ask", nil); !errors.As(err, &rpcErr) || !strings.Contains(rpcErr.Message, "sampling") {
			t.Errorf("json %t: ask: %v, want a server error about sampling", jsonResponse, err)
		}
		bad := &Client{URL: srv.URL, Token: "bad"}
		if _, err := bad.ListTools(ctx); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "invalid token") {
			t.Errorf("json %t: bad token: %v, want the HTTP status and body", jsonResponse, err)
		}
	}
}

// TestClientFallsBackToSession: a server that does not speak 2026-07-28 (the
// go-sdk's stateful server) is served over a 2025-11-25 session, which Close
// ends.
func TestClientFallsBackToSession(t *testing.T) {
	server := mcp.NewServer(&mcp.Implementation{Name: "legacy", Version: "1"}, nil)
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "say"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "said " + a.Text}}}, nil, nil
	})
	var deletes int
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes++
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	c := &Client{URL: srv.URL, Name: "test", Version: "1"}
	ctx := context.Background()
	res, err := c.CallTool(ctx, "say", json.RawMessage(`{"text":"hi"}`))
	if err != nil || !strings.Contains(string(res), "said hi") {
		t.Fatalf("say: %s, %v", res, err)
	}
	if c.Protocol() != Legacy || c.session == "" {
		t.Fatalf("protocol %q session %q, want %s with a session", c.Protocol(), c.session, Legacy)
	}
	if tools, err := c.ListTools(ctx); err != nil || len(tools) != 1 {
		t.Fatalf("tools %s, %v", tools, err)
	}
	if err := c.Close(ctx); err != nil || deletes != 1 {
		t.Fatalf("close: %v, %d DELETEs", err, deletes)
	}
}

// TestReadEvents: the response is found among other events in an SSE body,
// and a body that ends without it is an error.
func TestReadEvents(t *testing.T) {
	body := "id: 1\ndata:\n\n" + // priming event
		"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n" +
		"data: {\"jsonrpc\":\"2.0\",\"id\":2,\n" + "data: \"result\":{}}\n\n" +
		"data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"ok\":true}}\n\n"
	got, err := readEvents(strings.NewReader(body), 3)
	if err != nil || string(got) != `{"jsonrpc":"2.0","id":3,"result":{"ok":true}}` {
		t.Fatalf("got %s, %v", got, err)
	}
	if got, err := readEvents(strings.NewReader(body), 2); err != nil || !strings.Contains(string(got), "\"id\":2,\n\"result\"") {
		t.Fatalf("multi-line data: %s, %v", got, err)
	}
	if _, err := readEvents(strings.NewReader(body), 9); err == nil {
		t.Fatal("no error for a stream without the response")
	}
}

// TestHTTPErrorSaysWhatTheGateSaid: a 401/403 reports the OAuth error and
// description from the JSON body, or else from the challenge header.
func TestHTTPErrorSaysWhatTheGateSaid(t *testing.T) {
	for _, c := range []struct {
		name, header, body, want string
		status                   int
	}{
		{"json body", `Bearer error="invalid_token"`, `{"error":"invalid_token","error_description":"token expired"}`, "HTTP 401 Unauthorized: invalid_token: token expired", 401},
		{"challenge only", `Bearer realm="x", error="insufficient_scope", error_description="needs documents:write"`, ``, "HTTP 403 Forbidden: insufficient_scope: needs documents:write", 403},
		{"no credentials", `Bearer resource_metadata="http://x/.well-known/oauth-protected-resource"`, ``, "HTTP 401 Unauthorized: the server wants a bearer token", 401},
		{"other body", ``, `upstream down`, "HTTP 502 Bad Gateway: upstream down", 502},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if c.header != "" {
				w.Header().Set("WWW-Authenticate", c.header)
			}
			if strings.HasPrefix(c.body, "{") {
				w.Header().Set("Content-Type", "application/json")
			}
			w.WriteHeader(c.status)
			_, _ = w.Write([]byte(c.body))
		}))
		_, err := (&Client{URL: srv.URL, Token: "t"}).ListTools(context.Background())
		srv.Close()
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != c.status || !strings.HasSuffix(err.Error(), c.want) {
			t.Errorf("%s: %v, want an HTTPError ending %q", c.name, err, c.want)
		}
	}
}
