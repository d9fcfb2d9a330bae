package main

import (
	"context"

	"github.com/hashicorp/go-plugin"

	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// brokenDescriptions are what the broken modes describe: each breaks one of
// the host's rules. The SDK refuses such a plugin at its own start (it applies
// the same rules, pluginrpc.CheckManifest), so these are served without it, for
// the host's tests to see the host refuse them.
var brokenDescriptions = map[string]*pluginv1.DescribeResponse{
	"bad-schema": {Tools: []*pluginv1.Tool{echoTool(), {Name: "broken", Description: "Has a non-object input schema.", InputSchemaJson: []byte(`{"type":"string"}`)}}},
	"no-schema":  {Tools: []*pluginv1.Tool{echoTool(), {Name: "broken", Description: "Has no input schema."}}},
	"bad-template": {
		Tools:             []*pluginv1.Tool{echoTool()},
		ResourceTemplates: []*pluginv1.ResourceTemplate{{UriTemplate: "test://items/{id", Name: "item"}},
		Capabilities:      []string{"resources", "notifications"},
	},
}

func echoTool() *pluginv1.Tool {
	return &pluginv1.Tool{Name: "echo", Description: "Echoes text.", InputSchemaJson: []byte(`{"type":"object","properties":{"text":{"type":"string"}}}`)}
}

// serveBroken serves mode's broken description, if mode is a broken mode, and
// reports whether it did.
func serveBroken(mode, version string) bool {
	d, ok := brokenDescriptions[mode]
	if !ok {
		return false
	}
	d.Name, d.Version, d.ProtocolVersion = "testplugin", version, pluginrpc.ProtocolVersion
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: pluginrpc.Handshake,
		Plugins:         pluginrpc.PluginSet(describeOnly{d: d}),
		GRPCServer:      plugin.DefaultGRPCServer,
	})
	return true
}

// describeOnly answers Describe; the host refuses what it says before it calls
// anything else.
type describeOnly struct {
	pluginv1.UnimplementedPluginServiceServer
	d *pluginv1.DescribeResponse
}

func (s describeOnly) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return s.d, nil
}
