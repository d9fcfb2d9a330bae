package host_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/auth/workos"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/requestid"
)

// auditLines reads the audit file's records.
func auditLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// find returns the records whose fields have the values in want.
func find(recs []map[string]any, want map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		ok := true
		for k, v := range want {
			if r[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

func withAudit(t *testing.T, r *running, includeArgs bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := audit.Open(path, includeArgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	r.host.SetAuditLog(l)
	return path
}

// TestAuditRecordsEveryOutcome: one record per routed call with who, what,
// decision and outcome: allowed and ok, a tool error, a timeout, a crash, a
// policy-hidden tool; the request id is the one the response carried; no
// arguments unless asked.
func TestAuditRecordsEveryOutcome(t *testing.T) {
	r := startHost(t, `
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test:
    path: "{{bin}}/testplugin"
    prefix: "t."
    call_timeout: 300ms
    tools: {echo: {require_roles: [admin]}}
`, host.ServerOptions{Gate: headerGate{}})
	path := withAudit(t, r, false)
	admin := connectVersion(t, r, userClient("ada", "org_a", "admin"), nil, legacy)
	member := connect(t, r, userClient("bob", "org_b", "member"), nil)

	callText(t, admin, "whoami", nil)
	callText(t, admin, "t.echo", map[string]any{"text": "secret-argument"})
	callText(t, admin, "t.slow", map[string]any{"ms": 5000})
	// A plugin's own tool error (testplugin's panic is turned into one by the SDK).
	callText(t, admin, "t.panic", nil)
	callText(t, admin, "t.crash", nil)
	res, err := member.CallTool(context.Background(), &mcp.CallToolParams{Name: "t.echo", Arguments: map[string]any{"text": "x"}})
	if err == nil && !res.IsError {
		t.Fatalf("a member called the admin-only echo: %+v", res)
	}

	recs := auditLines(t, path)
	check := func(want map[string]any, more func(map[string]any)) {
		t.Helper()
		got := find(recs, want)
		if len(got) != 1 {
			t.Errorf("%d records with %v; all records:\n%v", len(got), want, recs)
			return
		}
		if more != nil {
			more(got[0])
		}
	}
	check(map[string]any{"tool": "whoami", "decision": "allowed", "outcome": "ok", "plugin": "whoami", "user_id": "ada", "org_id": "org_a", "method": "tools/call"}, func(rec map[string]any) {
		if s, _ := rec["session"].(string); s == "" || s == "stateless" {
			t.Errorf("a legacy session's record has session %q", s)
		}
		if _, err := time.Parse(time.RFC3339Nano, rec["time"].(string)); err != nil || rec["request_id"] == "" || rec["request_id"] == nil {
			t.Errorf("record lacks a time or request id: %v", rec)
		}
	})
	check(map[string]any{"tool": "t.echo", "user_id": "ada", "outcome": "ok"}, func(rec map[string]any) {
		if _, ok := rec["arguments"]; ok {
			t.Error("arguments recorded without audit.include_arguments")
		}
	})
	check(map[string]any{"tool": "t.slow", "outcome": "timeout", "plugin": "test"}, nil)
	check(map[string]any{"tool": "t.crash", "outcome": "crash", "plugin": "test"}, nil)
	check(map[string]any{"tool": "t.echo", "user_id": "bob", "decision": "hidden", "session": "stateless"}, func(rec map[string]any) {
		if _, ok := rec["outcome"]; ok {
			t.Errorf("a hidden call has an outcome: %v", rec)
		}
	})
	check(map[string]any{"tool": "t.panic", "outcome": "tool_error"}, nil)
	raw, _ := os.ReadFile(path)
	if strings.Contains(string(raw), "secret-argument") || strings.Contains(string(raw), "opaque-test-token") {
		t.Error("the audit log holds an argument or a token")
	}
}

// TestAuditArgumentsWhenAsked: audit.include_arguments keeps them.
func TestAuditArgumentsWhenAsked(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	path := withAudit(t, r, true)
	callText(t, connect(t, r, nil, nil), "t.echo", map[string]any{"text": "kept"})
	got := find(auditLines(t, path), map[string]any{"tool": "t.echo"})
	if len(got) != 1 || got[0]["arguments"].(map[string]any)["text"] != "kept" {
		t.Errorf("records %v", got)
	}
}

// TestAuditRefusals: requests the gate refuses, 401 and 403, are recorded
// with the reason from the challenge and the request id the client got.
func TestAuditRefusals(t *testing.T) {
	p, mint := realGate(t, func(c *workos.Config) {
		c.RequiredScopes, c.ScopesSupported = []string{"documents"}, []string{"openid", "documents"}
	})
	r := startHost(t, basicYAML, host.ServerOptions{Gate: p})
	path := withAudit(t, r, false)

	post := func(token string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, r.url+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Method", "tools/list")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get(requestid.Header)
	}
	noToken, id1 := post("")
	scopeless, id2 := post(mint("user_scopeless"))
	if noToken != http.StatusUnauthorized || scopeless != http.StatusForbidden {
		t.Fatalf("statuses %d, %d; want 401 and 403", noToken, scopeless)
	}
	recs := auditLines(t, path)
	if got := find(recs, map[string]any{"decision": "unauthenticated", "http_status": float64(401), "request_id": id1, "method": "tools/list"}); len(got) != 1 || got[0]["reason"] != "no token" {
		t.Errorf("401 records: %v (all: %v)", got, recs)
	}
	if got := find(recs, map[string]any{"decision": "denied", "http_status": float64(403), "request_id": id2}); len(got) != 1 || got[0]["reason"] != "insufficient_scope" {
		t.Errorf("403 records: %v (all: %v)", got, recs)
	}
	garbage, _ := post("not-a-jwt")
	recs = auditLines(t, path)
	if got := find(recs, map[string]any{"decision": "unauthenticated", "reason": "invalid_token: malformed token"}); garbage != 401 || len(got) != 1 {
		t.Errorf("invalid token: HTTP %d, records %v", garbage, recs)
	}
}

// TestRequestIDReachesPlugin: the id in the response header is the one the
// plugin saw and the audit record carries; a trusted proxy's X-Request-Id is
// kept, anyone else's replaced.
func TestRequestIDReachesPlugin(t *testing.T) {
	for _, c := range []struct {
		name, proxies string
		keep          bool
	}{{"trusted proxy", "[127.0.0.0/8]", true}, {"untrusted peer", "[10.0.0.0/8]", false}} {
		t.Run(c.name, func(t *testing.T) {
			r := startHost(t, "server: {json_response: true, trusted_proxies: "+c.proxies+"}\n"+basicYAML, host.ServerOptions{})
			path := withAudit(t, r, false)
			req, _ := http.NewRequest(http.MethodPost, r.url+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t.ids","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Protocol-Version", modern)
			req.Header.Set("Mcp-Method", "tools/call")
			req.Header.Set("Mcp-Name", "t.ids")
			req.Header.Set(requestid.Header, "proxy-id-42")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Result struct {
					StructuredContent map[string]string `json:"structuredContent"`
				} `json:"result"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			id := resp.Header.Get(requestid.Header)
			if (id == "proxy-id-42") != c.keep || id == "" {
				t.Errorf("response X-Request-Id %q (keep the proxy's: %v)", id, c.keep)
			}
			if got := body.Result.StructuredContent["request_id"]; got != id {
				t.Errorf("the plugin saw request id %q, the response says %q", got, id)
			}
			if recs := find(auditLines(t, path), map[string]any{"tool": "t.ids", "request_id": id}); len(recs) != 1 {
				t.Errorf("no audit record with request id %s", id)
			}
		})
	}
}
