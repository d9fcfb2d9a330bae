package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestCallCommand drives `mcphost call` against a real MCP server: a call
// and a listing print the server's JSON; bad --args is a usage error (exit 2);
// an unreachable endpoint fails (exit 1) naming it.
func TestCallCommand(t *testing.T) {
	cliEnv(t)
	server := mcp.NewServer(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	type in struct {
		Text string `json:"text"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "say"}, func(_ context.Context, _ *mcp.CallToolRequest, a in) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "said " + a.Text}}}, nil, nil
	})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	t.Cleanup(srv.Close)

	code, out, errOut := runCLI(t, "call", "say", "--url", srv.URL, "--args", `{"text":"hi"}`)
	if code != 0 || !strings.Contains(out, `"text": "said hi"`) {
		t.Fatalf("call: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "call", "--list", "--url", srv.URL)
	if code != 0 || !strings.Contains(out, `"name": "say"`) {
		t.Fatalf("list: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "call", "say", "--url", srv.URL, "--args", `[1]`)
	if code != exitConfig || !strings.Contains(errOut, "--args: not a JSON object") {
		t.Fatalf("bad args: exit %d, stderr %s", code, errOut)
	}
	srv.Close()
	code, _, errOut = runCLI(t, "call", "say", "--url", srv.URL)
	if code != exitFailure || !strings.Contains(errOut, srv.URL) {
		t.Fatalf("unreachable: exit %d, stderr %s", code, errOut)
	}
}
