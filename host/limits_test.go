package host_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/internal/testredis"
)

// TestRateLimits: limits.per_user and per_org refuse calls past their burst
// with a tool error saying when to retry, on both protocol eras; a tool's own
// limits replace them for that tool; a refused call is audited as
// rate_limited and costs no token.
func TestRateLimits(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
limits:
  per_user: {rate: 1/m, burst: 3}
  per_org: {rate: 1/m, burst: 4}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test:
    path: "{{bin}}/testplugin"
    prefix: "t."
    tools: {echo: {limits: {per_user: {rate: 1/h, burst: 1}}}}
`, host.ServerOptions{Gate: headerGate{}})
	path := withAudit(t, r, false)
	limited := func(text string, isErr bool) bool {
		return isErr && strings.HasPrefix(text, "rate limit exceeded, retry after ")
	}
	ada := connectVersion(t, r, userClient("ada", "org_a", ""), nil, legacy)
	for i := range 3 {
		if text, isErr := callText(t, ada, "whoami", nil); isErr {
			t.Fatalf("call %d within ada's burst: %q", i, text)
		}
	}
	text, isErr := callText(t, ada, "whoami", nil)
	if !limited(text, isErr) || !strings.HasSuffix(text, "1m0s") {
		t.Fatalf("ada's 4th call = %q (isError %v), want a rate limit with retry after 1m0s (1/m)", text, isErr)
	}
	// Same organization: bob has his own user bucket, but the org's 4th
	// token is the last.
	bob := connect(t, r, userClient("bob", "org_a", ""), nil)
	if text, isErr := callText(t, bob, "whoami", nil); isErr {
		t.Fatalf("bob's first call: %q", text)
	}
	if text, isErr := callText(t, bob, "whoami", nil); !limited(text, isErr) {
		t.Fatalf("org_a past its burst of 4: %q (isError %v)", text, isErr)
	}
	// Another organization is untouched.
	cy := connect(t, r, userClient("cy", "org_c", ""), nil)
	if text, isErr := callText(t, cy, "whoami", nil); isErr {
		t.Fatalf("another org: %q", text)
	}
	// echo has its own limit (1 per hour per user), apart from the others.
	if text, isErr := callText(t, cy, "t.echo", map[string]any{"text": "x"}); isErr {
		t.Fatalf("cy's first echo: %q", text)
	}
	if text, isErr := callText(t, cy, "t.echo", map[string]any{"text": "x"}); !limited(text, isErr) || !strings.HasSuffix(text, "1h0m0s") {
		t.Fatalf("cy's second echo = %q, want its own limit", text)
	}
	if text, isErr := callText(t, cy, "whoami", nil); isErr {
		t.Fatalf("echo's limit took from cy's whoami budget: %q", text)
	}

	recs := auditLines(t, path)
	if got := find(recs, map[string]any{"decision": "rate_limited", "user_id": "ada", "tool": "whoami"}); len(got) != 1 {
		t.Errorf("ada's limited call: %d rate_limited records", len(got))
	}
	if got := find(recs, map[string]any{"decision": "rate_limited"}); len(got) != 3 {
		t.Errorf("%d rate_limited records, want 3", len(got))
	}
}

// TestRateLimitsAcrossReplicas: with the shared store, replicas behind a
// round-robin balancer draw on one bucket per user: the burst holds in all,
// not once per replica.
func TestRateLimitsAcrossReplicas(t *testing.T) {
	redis := testredis.Start(t)
	yaml := strings.Replace(replicasYAML(redis.URL()), "plugins:", "limits: {per_user: {rate: 1/m, burst: 2}}\nplugins:", 1)
	opts := host.ServerOptions{Gate: headerGate{}}
	lb := newRoundRobin(t, startHost(t, yaml, opts), startHost(t, yaml, opts))
	ada := connectVersion(t, lb, userClient("ada", "org_a", ""), nil, modern)
	for i := range 2 {
		if text, isErr := callText(t, ada, "echo", map[string]any{"text": "x"}); isErr {
			t.Fatalf("call %d within the burst: %q", i, text)
		}
	}
	if text, isErr := callText(t, ada, "echo", map[string]any{"text": "x"}); !isErr || !strings.HasPrefix(text, "rate limit exceeded, retry after ") {
		t.Fatalf("3rd call through the other replica = %q (isError %v), want the shared limit", text, isErr)
	}
}

// TestRateLimitedReadsGet429: resource reads, prompts and completions draw on
// the same per-user buckets as tool calls; past them, having no tool result
// to carry the refusal, they are answered HTTP 429 with Retry-After and a
// JSON-RPC error saying when to retry, and audited as rate_limited.
func TestRateLimitedReadsGet429(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
limits: {per_user: {rate: 1/m, burst: 2}}
plugins:
  test: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}}
`, host.ServerOptions{Gate: headerGate{}})
	path := withAudit(t, r, false)
	post := func(user, method, name, params string) (*http.Response, map[string]any) {
		t.Helper()
		body := `{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":{` + params + `,` + modernMeta + `}}`
		req, _ := http.NewRequest(http.MethodPost, r.url+host.MCPPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", modern)
		req.Header.Set("Mcp-Method", method)
		if name != "" {
			req.Header.Set("Mcp-Name", name)
		}
		resp, err := userClient(user, "org_a", "").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := readAll(resp)
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			_, raw, _ = strings.Cut(raw, "data: ")
		}
		var msg map[string]any
		if err := json.Unmarshal([]byte(raw), &msg); err != nil {
			t.Fatalf("%s: %d %q is not one JSON answer: %v", method, resp.StatusCode, raw, err)
		}
		return resp, msg
	}
	read := `"uri":"test://items/1"`
	for i := range 2 {
		if resp, msg := post("ada", "resources/read", "test://items/1", read); resp.StatusCode != http.StatusOK || msg["result"] == nil {
			t.Fatalf("read %d within the burst: %d %v", i, resp.StatusCode, msg)
		}
	}
	for _, c := range []struct{ method, name, params string }{
		{"resources/read", "test://items/1", read},
		{"prompts/get", "greet", `"name":"greet","arguments":{"who":"x"}`},
		{"completion/complete", "", `"ref":{"type":"ref/prompt","name":"greet"},"argument":{"name":"who","value":"a"}`},
	} {
		resp, msg := post("ada", c.method, c.name, c.params)
		e, _ := msg["error"].(map[string]any)
		data, _ := e["data"].(map[string]any)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" || errCode(msg) != -32000 ||
			e["message"] != "rate limit exceeded, retry after 1m0s" || data["retryAfterMs"].(float64) < 59000 {
			t.Errorf("%s past the burst: %d Retry-After %q %v, want 429, Retry-After 60 and the wait in the error",
				c.method, resp.StatusCode, resp.Header.Get("Retry-After"), msg)
		}
	}
	// A tool call past the same buckets is still a tool result.
	if resp, msg := post("ada", "tools/call", "echo", `"name":"echo","arguments":{"text":"x"}`); resp.StatusCode != http.StatusOK || !strings.Contains(fmt.Sprint(msg["result"]), "rate limit exceeded") {
		t.Errorf("tools/call past the burst: %d %v, want a tool error", resp.StatusCode, msg)
	}
	// Another user is untouched.
	if resp, msg := post("bob", "resources/read", "test://items/1", read); resp.StatusCode != http.StatusOK || msg["result"] == nil {
		t.Errorf("bob's read: %d %v", resp.StatusCode, msg)
	}
	recs := auditLines(t, path)
	for _, m := range []string{"resources/read", "prompts/get", "completion/complete", "tools/call"} {
		if got := find(recs, map[string]any{"decision": "rate_limited", "user_id": "ada", "method": m}); len(got) != 1 {
			t.Errorf("%s: %d rate_limited records, want 1", m, len(got))
		}
	}
}
