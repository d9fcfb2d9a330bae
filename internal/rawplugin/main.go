// Command rawplugin serves the plugin protocol directly, without the SDK, the way
// a plugin in another language would. The host's tests use it to send what the
// SDK never would: invalid structured content, schemas the MCP server rejects.
package main

import (
	"context"
	"os"

	"github.com/hashicorp/go-plugin"

	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

type server struct {
	pluginv1.UnimplementedPluginServiceServer
}

func (server) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	tool := &pluginv1.Tool{Name: "raw", Description: "Answers with bad structured content.", InputSchemaJson: []byte(`{"type":"object"}`)}
	switch os.Getenv("RAWPLUGIN_MODE") {
	case "header-schema": // valid JSON Schema, but the MCP server refuses x-mcp-header on objects
		tool.InputSchemaJson = []byte(`{"type":"object","properties":{"a":{"type":"object","x-mcp-header":"X-A"}}}`)
	case "array-output":
		tool.OutputSchemaJson = []byte(`{"type":"array"}`)
	}
	return &pluginv1.DescribeResponse{Name: "raw", Version: "1", ProtocolVersion: pluginrpc.ProtocolVersion, Tools: []*pluginv1.Tool{tool}}, nil
}

func (server) CallTool(stream pluginv1.PluginService_CallToolServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	return stream.Send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_Result{Result: &pluginv1.CallToolResult{
		Content:               []*pluginv1.Content{{Kind: &pluginv1.Content_Text{Text: &pluginv1.TextContent{Text: "raw"}}}},
		StructuredContentJson: []byte(`{bad`),
	}}})
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: pluginrpc.Handshake,
		Plugins:         pluginrpc.PluginSet(server{}),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
}
