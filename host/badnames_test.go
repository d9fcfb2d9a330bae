package host_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/host"
)

// Names and URIs a client controls can hold control characters, invalid UTF-8
// or megabytes. Each must get a JSON-RPC error that is valid JSON, echoes at
// most a bounded prefix of the input, and leaves the session (legacy) or the
// client (2026-07-28) able to go on. The go-sdk engine mcphost used before
// formatted such errors' data with %q, which is not JSON, and the client
// dropped its session.

const badNamesYAML = `
auth: {provider: none}
plugins:
  test: {path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}}
  documents: {path: "{{bin}}/documents"}
`

// rawClient speaks MCP as plain HTTP, so the test sees the exact bytes.
type rawClient struct {
	t      *testing.T
	http   *http.Client
	url    string
	modern bool
	sid    string // legacy session id
	id     int
}

// exchange posts one request and returns the HTTP status and every JSON-RPC
// message of the answer; each must be valid JSON.
func (c *rawClient) exchange(method, name, params string) (int, []map[string]any, string) {
	c.t.Helper()
	c.id++
	if c.modern {
		if params != "" {
			params += ","
		}
		params += modernMeta
	}
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":{%s}}`, c.id, method, params)
	req, _ := http.NewRequest(http.MethodPost, c.url+host.MCPPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.modern {
		req.Header.Set("MCP-Protocol-Version", modern)
		req.Header.Set("Mcp-Method", method)
		if name != "" {
			// The sentinel form carries any bytes, as the specification allows.
			req.Header.Set("Mcp-Name", "=?base64?"+base64.StdEncoding.EncodeToString([]byte(name))+"?=")
		}
	} else if c.sid != "" {
		req.Header.Set("MCP-Protocol-Version", legacy)
		req.Header.Set("Mcp-Session-Id", c.sid)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	raw, _ := readAll(resp)
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		c.sid = sid
	}
	var payloads []string
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for _, l := range strings.Split(raw, "\n") {
			if d, ok := strings.CutPrefix(l, "data:"); ok && strings.TrimSpace(d) != "" {
				payloads = append(payloads, strings.TrimSpace(d))
			}
		}
	} else if strings.TrimSpace(raw) != "" {
		payloads = append(payloads, raw)
	}
	var msgs []map[string]any
	for _, p := range payloads {
		var m map[string]any
		if err := json.Unmarshal([]byte(p), &m); err != nil {
			c.t.Fatalf("%s: the answer is not valid JSON (%v): %.400q", method, err, p)
		}
		msgs = append(msgs, m)
	}
	return resp.StatusCode, msgs, raw
}

// response returns the answer to the last request (the message with its id).
func (c *rawClient) response(msgs []map[string]any) map[string]any {
	for _, m := range msgs {
		if m["id"] == float64(c.id) {
			return m
		}
	}
	return nil
}

// ok asserts that a well-formed call still works on this client.
func (c *rawClient) ok(after string) {
	c.t.Helper()
	status, msgs, raw := c.exchange("tools/call", "echo", `"name":"echo","arguments":{"text":"still here"}`)
	res, _ := c.response(msgs)["result"].(map[string]any)
	if status != http.StatusOK || res == nil || res["isError"] == true || !strings.Contains(raw, "still here") {
		c.t.Fatalf("a good call after %s: %d %.400s", after, status, raw)
	}
}

func TestControlCharactersAndBadUTF8InNames(t *testing.T) {
	r := startHost(t, badNamesYAML, host.ServerOptions{Gate: headerGate{}})
	long := strings.Repeat("x", 64<<10)
	bad := []struct{ label, value string }{
		{"NUL", "doc_x\x00"},
		{"escape sequence", "doc_x\x1b[31m\r\nInjected: 1"},
		{"invalid UTF-8", "doc_\xff\xfe\xc3"},
		{"U+2028", "doc_\u2028x"},
		{"64 KiB", long},
	}
	// Each request carrying v, and whether it exists on the era.
	// wantErr: nothing of that name exists. Otherwise a template matches any
	// id (the test plugin then answers), and subscribing to a URI a template
	// matches is allowed: an answer either way, but valid JSON.
	type op struct {
		method, member      string
		legacyOnly, wantErr bool
		prefix              string
	}
	ops := []op{
		{"resources/read", "uri", false, true, "documents://"},
		{"resources/read", "uri", false, false, "test://items/"},
		{"resources/read", "uri", false, true, "nothing://"},
		{"resources/subscribe", "uri", true, false, "documents://"},
		{"resources/subscribe", "uri", true, true, "nothing://"},
		{"resources/unsubscribe", "uri", true, false, "documents://"},
		{"tools/call", "name", false, true, ""},
		{"prompts/get", "name", false, true, ""},
	}
	for _, era := range []string{legacy, modern} {
		t.Run(era, func(t *testing.T) {
			c := &rawClient{t: t, http: userClient("user_1", "org_demo_acme", "admin"), url: r.url, modern: era == modern}
			if !c.modern {
				status, _, raw := c.exchange("initialize", "", `"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}`)
				if status != http.StatusOK || c.sid == "" {
					t.Fatalf("initialize: %d %s", status, raw)
				}
				c.id++
				req, _ := http.NewRequest(http.MethodPost, r.url+host.MCPPath, strings.NewReader(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("MCP-Protocol-Version", legacy)
				req.Header.Set("Mcp-Session-Id", c.sid)
				resp, err := c.http.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			c.ok("connecting")
			t.Run("unknown method 64 KiB", func(t *testing.T) {
				c.t = t
				status, msgs, raw := c.exchange("x/"+long, "", "")
				if e, ok := c.response(msgs)["error"]; !ok || len(raw) > 2<<10 {
					t.Fatalf("want a short error, got %d (%d bytes) %v", status, len(raw), e)
				}
				c.ok("an unknown method")
			})
			for _, o := range ops {
				if o.legacyOnly && c.modern {
					continue
				}
				for _, b := range bad {
					v := o.prefix + b.value
					t.Run(o.method+" "+o.prefix+" "+b.label, func(t *testing.T) {
						c.t = t
						js, _ := json.Marshal(v)
						if b.label == "invalid UTF-8" {
							js = []byte(`"` + v + `"`) // raw bytes, as a client may send them
						}
						extra := ""
						if o.method == "tools/call" {
							extra = `,"arguments":{}`
						}
						status, msgs, raw := c.exchange(o.method, v, `"`+o.member+`":`+string(js)+extra)
						resp := c.response(msgs)
						if resp == nil {
							t.Fatalf("no JSON-RPC response: %d %.400q", status, raw)
						}
						e, isErr := resp["error"]
						if o.wantErr && !isErr {
							t.Fatalf("want a JSON-RPC error, got %d %.400q", status, raw)
						}
						if eb, _ := json.Marshal(e); isErr && len(eb) > 2<<10 {
							t.Errorf("the error echoes %d bytes of input; want a bounded echo: %.300s", len(eb), eb)
						}
						c.ok(o.method + " " + b.label)
					})
				}
			}
		})
	}
}
