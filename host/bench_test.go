package host_test

import (
	"context"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// BenchmarkToolsCall measures one MCP tools/call of a trivial tool end to end:
// go-sdk client -> HTTP -> host -> gRPC -> plugin process and back.
func BenchmarkToolsCall(b *testing.B) {
	r := startHost(b, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin"}`, host.ServerOptions{})
	cs := connect(b, r, nil, nil)
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := cs.CallTool(context.Background(), params); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToolsCallParallel is the same call from 16 concurrent sessions.
func BenchmarkToolsCallParallel(b *testing.B) {
	r := startHost(b, `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", max_concurrency: 64}`, host.ServerOptions{})
	sessions := make(chan *mcp.ClientSession, 16)
	for range 16 {
		sessions <- connect(b, r, nil, nil)
	}
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}
	b.ReportAllocs()
	b.SetParallelism(8) // 2 cores x 8 = 16 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cs := <-sessions
		defer func() { sessions <- cs }()
		for pb.Next() {
			if _, err := cs.CallTool(context.Background(), params); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
