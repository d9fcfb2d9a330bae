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

// BenchmarkHotSwap measures swap latency: from a new binary landing on disk
// (rename over the old one) to the first call answered by the new version, with
// 8 sessions calling the plugin meanwhile. failed-calls must be 0.
func BenchmarkHotSwap(b *testing.B) {
	r, plug := swapHost(b, "")
	l := startLoad(b, r, 8, func(res *mcp.CallToolResult, err error) bool { return err == nil && !res.IsError })
	probe := connect(b, r, nil, nil)
	params := &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "x"}}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		variant, want := "testplugin-b", "B:x"
		if i%2 == 1 {
			variant, want = "testplugin-a", "A:x"
		}
		install(b, bin(variant), plug)
		for {
			res, err := probe.CallTool(context.Background(), params)
			if err == nil && resultText(res) == want {
				break
			}
		}
	}
	b.StopTimer()
	l.end()
	b.ReportMetric(float64(l.failures.Load()), "failed-calls")
}
