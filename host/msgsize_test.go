package host_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// Plugins built with the Go and TypeScript SDKs take gRPC messages of at most
// 4 MiB (gRPC's default); the host's own gRPC client sends and receives up to
// 2 GiB. So an oversize call is always the request: the host refuses it before
// the plugin with a tool error naming the tool and the limit, and nothing
// else breaks (a request the plugin refused on the shared call channel would
// end every call on it).
func TestOversizeArgumentsRefusedBeforePlugin(t *testing.T) {
	for name, env := range callPaths {
		t.Run(name, func(t *testing.T) {
			yaml := "server: {max_body_bytes: 16777216}\n" + callPathYAML(env) + `  documents: {path: "{{bin}}/documents"}
`
			r := startHost(t, yaml, host.ServerOptions{Gate: headerGate{}})
			cs := connect(t, r, userClient("user_1", "org_demo_acme", ""), nil)
			kept := make(chan string, 1)
			go func() {
				text, _ := callText(t, cs, "slow", map[string]any{"ms": 1500})
				kept <- text
			}()
			eventually(t, 5*time.Second, "the slow call running", func() bool {
				text, _ := callText(t, cs, "max-active", nil)
				return strings.Contains(text, `"max_active": 1`)
			})

			for _, c := range []struct{ tool, arg string }{{"get-documents", "query"}, {"echo", "text"}} {
				text, isErr := callText(t, cs, c.tool, map[string]any{c.arg: strings.Repeat("a", 4<<20)})
				if !isErr || !strings.Contains(text, "tool "+c.tool) || !strings.Contains(text, "4 MiB") || !strings.Contains(text, "request") || strings.Contains(text, "result") {
					t.Errorf("%s with a 4 MiB %s: isError %v, %q; want a tool error naming the tool, the request and the 4 MiB limit", c.tool, c.arg, isErr, text)
				}
			}
			if text := <-kept; text != "slept" {
				t.Fatalf("the call beside the oversize ones = %q, want it to finish", text)
			}
			if text, isErr := callText(t, cs, "echo", map[string]any{"text": strings.Repeat("b", 3<<20)}); isErr || len(text) < 3<<20 {
				t.Fatalf("a 3 MiB echo afterwards: isError %v, %d bytes", isErr, len(text))
			}

			// A prompt get is a unary call with the same limit; a URI has a
			// limit of its own, far below (on a legacy session: 2026-07-28 puts
			// the URI in a header too).
			ls := connectVersion(t, r, userClient("user_1", "org_demo_acme", ""), nil, legacy)
			big := strings.Repeat("c", 4<<20)
			_, err := ls.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "documents://" + big})
			if err == nil || !strings.Contains(err.Error(), "params.uri is 4194316 bytes, longer than the limit of 8192") {
				t.Errorf("a 4 MiB resource URI: %.300v", err)
			}
			_, err = cs.GetPrompt(context.Background(), &mcp.GetPromptParams{Name: "summarize-document", Arguments: map[string]string{"id": big}})
			if err == nil || !strings.Contains(err.Error(), "4 MiB") || !strings.Contains(err.Error(), "request") {
				t.Errorf("a 4 MiB prompt argument: %.300v", err)
			}
			if text, isErr := callText(t, ls, "echo", map[string]any{"text": "after"}); isErr || !strings.HasSuffix(text, "after") {
				t.Fatalf("echo on the legacy session afterwards = %q", text)
			}
		})
	}
}
