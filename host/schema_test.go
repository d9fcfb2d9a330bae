package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// Plugins that describe what the MCP server would panic on, or send what the
// transport cannot encode, must cost only their own tools.

func TestSchemasClientsWouldRejectAreStartupErrors(t *testing.T) {
	for mode, want := range map[string]string{
		"header-schema": "plugin raw: tool raw: input schema: x-mcp-header",
		"array-output":  `plugin raw: tool raw: output schema must be a JSON Schema object with "type": "object"`,
	} {
		t.Run(mode, func(t *testing.T) {
			cfg := loadConfig(t, `
auth: {provider: none}
plugins:
  raw: {path: "{{bin}}/rawplugin", required: true, env: {RAWPLUGIN_MODE: "`+mode+`"}}`)
			h := host.New(cfg, testLogger(t))
			err := h.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("start: %v, want %q", err, want)
			}
		})
	}
}

func TestInvalidStructuredContentIsToolError(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  raw: {path: "{{bin}}/rawplugin"}
  whoami: {path: "{{bin}}/whoami"}`, host.ServerOptions{})
	cs := connect(t, r, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "raw"})
	if err != nil {
		t.Fatalf("call: %v (the client must get an answer, not wait)", err)
	}
	if !res.IsError || !strings.Contains(resultText(res), "plugin raw returned invalid structured content") {
		t.Fatalf("result = %+v", res)
	}
	if _, isErr := callText(t, cs, "whoami", nil); isErr {
		t.Fatal("whoami failed after another plugin's bad result")
	}
}
