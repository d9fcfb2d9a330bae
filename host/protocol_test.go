package host_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/host"
)

// Bad requests on /mcp, through the real engine and host: each gets the HTTP
// status and JSON-RPC error code the specification gives it, and a message
// that says what is wrong.

const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

type rawReq struct {
	method  string // HTTP method (POST when empty)
	headers map[string]string
	body    string
}

func modernHeaders(method, name string) map[string]string {
	h := map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
	if name != "" {
		h["Mcp-Name"] = name
	}
	return h
}

func send(t *testing.T, client *http.Client, url string, rr rawReq) (int, string, map[string]any) {
	t.Helper()
	m := rr.method
	if m == "" {
		m = http.MethodPost
	}
	req, _ := http.NewRequest(m, url+host.MCPPath, strings.NewReader(rr.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range rr.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := readAll(resp)
	// An SSE answer carries the response in its data lines.
	payload := body
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		var lines []string
		for _, l := range strings.Split(body, "\n") {
			if d, ok := strings.CutPrefix(l, "data: "); ok && strings.Contains(d, `"jsonrpc"`) {
				lines = append(lines, d)
			}
		}
		if len(lines) > 0 {
			payload = lines[len(lines)-1]
		}
	}
	var msg map[string]any
	_ = json.Unmarshal([]byte(payload), &msg)
	return resp.StatusCode, body, msg
}

func errCode(msg map[string]any) int {
	e, _ := msg["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

func TestBadRequests(t *testing.T) {
	r := startHost(t, basicYAML, host.ServerOptions{})
	call := func(extra string) string {
		return `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"whoami","arguments":{}` + extra + `,` + modernMeta + `}}`
	}
	for _, c := range []struct {
		name   string
		req    rawReq
		status int
		code   int
		says   string
	}{
		{"malformed JSON", rawReq{body: `{"jsonrpc":"2.0","id":1,`}, 400, -32700, "not valid JSON"},
		{"wrong jsonrpc version", rawReq{headers: modernHeaders("tools/list", ""), body: `{"jsonrpc":"1.0","id":1,"method":"tools/list"}`}, 400, -32600, `\"jsonrpc\" must be \"2.0\"`},
		{"id of the wrong type", rawReq{body: `{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}`}, 400, -32600, "id must be a string or a number"},
		{"params not an object", rawReq{body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}`}, 400, -32600, "params must be an object"},
		{"wrong Content-Type", rawReq{headers: map[string]string{"Content-Type": "text/plain"}, body: `{}`}, 415, -32600, "Content-Type must be application/json"},
		{"wrong Accept", rawReq{headers: map[string]string{"Accept": "text/html"}, body: `{}`}, 406, -32600, "Accept must list"},
		{"oversize body", rawReq{body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", 5<<20) + `"}}`}, 413, -32600, "larger than the server's limit"},
		{"unknown method (2026-07-28)", rawReq{headers: modernHeaders("nope/nope", ""), body: `{"jsonrpc":"2.0","id":1,"method":"nope/nope","params":{` + modernMeta + `}}`}, 404, -32601, "method not found"},
		{"removed method initialize (2026-07-28)", rawReq{headers: modernHeaders("initialize", ""), body: `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{` + modernMeta + `}}`}, 404, -32601, "method not found"},
		{"missing Mcp-Method", rawReq{headers: map[string]string{"MCP-Protocol-Version": "2026-07-28"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + modernMeta + `}}`}, 400, -32020, "Mcp-Method header is required"},
		{"mismatched Mcp-Method", rawReq{headers: modernHeaders("prompts/list", ""), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + modernMeta + `}}`}, 400, -32020, "does not match"},
		{"missing Mcp-Name", rawReq{headers: modernHeaders("tools/call", ""), body: call("")}, 400, -32020, "Mcp-Name header is required"},
		{"mismatched Mcp-Name", rawReq{headers: modernHeaders("tools/call", "t.echo"), body: call("")}, 400, -32020, "does not match body value 'whoami'"},
		{"header and _meta versions differ", rawReq{headers: map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`}, 400, -32020, "does not match"},
		{"unsupported version", rawReq{headers: map[string]string{"MCP-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/list"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`}, 400, -32022, "Unsupported protocol version"},
		{"missing client capabilities", rawReq{headers: modernHeaders("tools/list", ""), body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`}, 400, -32602, "clientCapabilities is required"},
		{"unknown tool", rawReq{headers: modernHeaders("tools/call", "nope"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope",` + modernMeta + `}}`}, 200, -32602, `unknown tool \"nope\"`},
		{"arguments not an object", rawReq{headers: modernHeaders("tools/call", "whoami"), body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":[1],` + modernMeta + `}}`}, 200, -32602, "arguments must be an object"},
		{"tampered requestState", rawReq{headers: modernHeaders("tools/call", "whoami"), body: call(`,"requestState":"eyJ2IjoxfQ.AAAA","inputResponses":{"1":{"action":"accept"}}`)}, 400, -32602, "requestState is invalid"},
		{"inputResponses not an object", rawReq{headers: modernHeaders("tools/call", "whoami"), body: call(`,"inputResponses":{"1":12345}`)}, 400, -32602, "must be an object"},
		{"legacy request without a session", rawReq{headers: map[string]string{"MCP-Protocol-Version": "2025-11-25"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`}, 400, -32600, "Mcp-Session-Id header is required"},
		{"unknown session", rawReq{headers: map[string]string{"MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": "NOSUCHSESSION"}, body: `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`}, 404, -32600, "session not found"},
		{"GET without a session", rawReq{method: http.MethodGet, headers: map[string]string{"Accept": "text/event-stream"}}, 400, -32600, "Mcp-Session-Id header is required"},
		{"DELETE of an unknown session", rawReq{method: http.MethodDelete, headers: map[string]string{"Mcp-Session-Id": "NOSUCHSESSION"}}, 404, -32600, "session not found"},
		{"PUT", rawReq{method: http.MethodPut}, 405, -32600, "not allowed"},
		{"batch on 2025-11-25", rawReq{headers: map[string]string{"MCP-Protocol-Version": "2025-11-25"}, body: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`}, 400, -32600, "batches are not allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, msg := send(t, nil, r.url, c.req)
			if status != c.status || errCode(msg) != c.code || !strings.Contains(body, c.says) || (c.req.body != "" && strings.Contains(c.req.body, `"id":1,`) && c.code != -32700 && c.status != 413 && !strings.HasPrefix(c.req.body, "[") && msg["id"] != float64(1)) {
				t.Errorf("status %d code %d body %.300s; want %d, %d, %q", status, errCode(msg), body, c.status, c.code, c.says)
			}
		})
	}
}

// A requestState is bound to the user it was issued to: another user's retry
// with it is refused, and the owner's retry is served.
func TestRequestStateBoundToUser(t *testing.T) {
	r := startHost(t, featuresYAML, host.ServerOptions{Gate: headerGate{}})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}`
	first := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask-user","arguments":{},` + meta + `}}`
	alice := userClient("alice", "org_a", "")
	status, body, msg := send(t, alice, r.url, rawReq{headers: modernHeaders("tools/call", "ask-user"), body: first})
	res, _ := msg["result"].(map[string]any)
	if status != 200 || res["resultType"] != "input_required" {
		t.Fatalf("first round: %d %s", status, body)
	}
	state, _ := res["requestState"].(string)
	var key string
	for k := range res["inputRequests"].(map[string]any) {
		key = k
	}
	retry := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"ask-user","arguments":{},"requestState":` + jsonString(state) +
		`,"inputResponses":{` + jsonString(key) + `:{"action":"accept","content":{"name":"Ada"}}},` + meta + `}}`
	status, body, msg = send(t, userClient("mallory", "org_b", ""), r.url, rawReq{headers: modernHeaders("tools/call", "ask-user"), body: retry})
	if status != 400 || errCode(msg) != -32602 || strings.Contains(body, "Ada") {
		t.Fatalf("mallory's retry with alice's state: %d %s", status, body)
	}
	status, body, msg = send(t, alice, r.url, rawReq{headers: modernHeaders("tools/call", "ask-user"), body: retry})
	res, _ = msg["result"].(map[string]any)
	if status != 200 || res["resultType"] != "complete" || !strings.Contains(body, "accept: Ada") {
		t.Fatalf("alice's retry: %d %s", status, body)
	}
	// The same state for another tool (or other arguments) is refused too.
	other := strings.Replace(retry, `"arguments":{}`, `"arguments":{"x":1}`, 1)
	if status, body, _ = send(t, alice, r.url, rawReq{headers: modernHeaders("tools/call", "ask-user"), body: other}); status != 400 {
		t.Fatalf("state replayed with other arguments: %d %s", status, body)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
