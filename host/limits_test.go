package host_test

import (
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
