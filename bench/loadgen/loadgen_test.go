package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "test-token"

// fakeMCP is a minimal MCP endpoint on 127.0.0.1. It checks the request shape
// the load generator must send for cfg's protocol (answering a JSON-RPC error
// -32600 naming what is wrong), and lets answer write each tools/call response.
type fakeMCP struct {
	t           *testing.T
	sessionless bool
	answer      func(w http.ResponseWriter, id string)
	// initialize, if set, answers initialize instead of the default.
	initialize func(w http.ResponseWriter)
	deletes    atomic.Int32
}

func (f *fakeMCP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodDelete {
		f.deletes.Add(1)
		return
	}
	var req struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
			Meta      map[string]any  `json:"_meta"`
		} `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		bad(w, "null", "body: "+err.Error())
		return
	}
	id := string(req.ID)
	if !strings.Contains(r.Header.Get("Accept"), "application/json") || !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		bad(w, id, "Accept must list application/json and text/event-stream")
		return
	}
	if f.sessionless {
		switch {
		case req.Method != "tools/call":
			bad(w, id, "sessionless client sent "+req.Method)
		case r.Header.Get("MCP-Protocol-Version") != Protocol2026 || r.Header.Get("Mcp-Method") != "tools/call" || r.Header.Get("Mcp-Name") != "add":
			bad(w, id, fmt.Sprintf("headers %v", r.Header))
		case req.Params.Meta["io.modelcontextprotocol/protocolVersion"] != Protocol2026 || req.Params.Meta["io.modelcontextprotocol/clientCapabilities"] == nil:
			bad(w, id, fmt.Sprintf("_meta %v", req.Params.Meta))
		case r.Header.Get("Mcp-Session-Id") != "":
			bad(w, id, "sessionless client sent a session id")
		default:
			f.answer(w, id)
		}
		return
	}
	switch req.Method {
	case "initialize":
		if f.initialize != nil {
			f.initialize(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Mcp-Session-Id", "s-1")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}}`, id)
	case "notifications/initialized":
		w.WriteHeader(http.StatusAccepted)
	case "tools/call":
		if r.Header.Get("Mcp-Session-Id") != "s-1" || r.Header.Get("MCP-Protocol-Version") != Protocol2025 {
			bad(w, id, fmt.Sprintf("session headers %v", r.Header))
			return
		}
		if req.Params.Name != "add" || string(req.Params.Arguments) != `{"a":2,"b":3}` {
			bad(w, id, "params "+req.Params.Name+" "+string(req.Params.Arguments))
			return
		}
		f.answer(w, id)
	default:
		bad(w, id, "unexpected method "+req.Method)
	}
}

func bad(w http.ResponseWriter, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	m, _ := json.Marshal(msg)
	fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32600,"message":%s}}`, id, m)
}

func jsonAnswer(result string) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, id string) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, id, result)
	}
}

// sseAnswer frames events (each a list of data lines, with %s for the id) as
// an event stream with line ending eol.
func sseAnswer(eol string, events ...[]string) func(http.ResponseWriter, string) {
	return func(w http.ResponseWriter, id string) {
		w.Header().Set("Content-Type", "text/event-stream")
		var b strings.Builder
		for _, ev := range events {
			for _, line := range ev {
				b.WriteString(strings.ReplaceAll(line, "%s", id) + eol)
			}
		}
		fmt.Fprint(w, b.String())
	}
}

const okResult = `{"content":[{"type":"text","text":"{\"sum\":5}"}],"structuredContent":{"sum":5}}`

func TestRunParsesResponses(t *testing.T) {
	okEvent := []string{"event: message", "id: 2", `data: {"jsonrpc":"2.0","id":%s,"result":` + okResult + `}`, ""}
	cases := []struct {
		name        string
		sessionless bool
		token       string
		answer      func(http.ResponseWriter, string)
		initialize  func(http.ResponseWriter)
		wantErr     string // "" means every call succeeds
	}{
		{name: "json", answer: jsonAnswer(okResult)},
		{name: "json sessionless", sessionless: true, answer: jsonAnswer(okResult)},
		{name: "json charset", answer: func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":%s}`, id, okResult)
		}},
		{name: "sse after priming event and notification", answer: sseAnswer("\n",
			[]string{"id: 1", "data:", ""},
			[]string{": a comment", `data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}`, ""},
			okEvent)},
		{name: "sse crlf, data split over lines", sessionless: true, answer: sseAnswer("\r\n",
			[]string{`data: {"jsonrpc":"2.0",`, `data: "id":%s,`, `data:"result":` + okResult + `}`, ""})},
		{name: "sse lone cr", answer: sseAnswer("\r", okEvent)},
		{name: "rpc error with http 400", sessionless: true, answer: func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"error":{"code":-32022,"message":"protocol version not supported"}}`, id)
		}, wantErr: "HTTP 400: rpc error -32022: protocol version not supported"},
		{name: "rpc error in sse", answer: sseAnswer("\n",
			[]string{`data: {"jsonrpc":"2.0","id":%s,"error":{"code":-32602,"message":"unknown tool"}}`, ""}),
			wantErr: "rpc error -32602: unknown tool"},
		{name: "tool error", answer: jsonAnswer(`{"content":[{"type":"text","text":"boom"}],"isError":true}`), wantErr: "tool error: boom"},
		{name: "wrong sum", answer: jsonAnswer(`{"content":[{"type":"text","text":"6"}],"structuredContent":{"sum":6}}`), wantErr: "sum 6, want 5"},
		{name: "no structured content", answer: jsonAnswer(`{"content":[{"type":"text","text":"5"}]}`), wantErr: "no structuredContent"},
		{name: "no content", answer: jsonAnswer(`{"structuredContent":{"sum":5}}`), wantErr: "has no content"},
		{name: "null result", answer: jsonAnswer(`null`), wantErr: "neither result nor error"},
		{name: "wrong id", answer: func(w http.ResponseWriter, id string) { jsonAnswer(okResult)(w, "99"+id) }, wantErr: "response id does not match the request's (got 99"},
		{name: "sse without the response", answer: sseAnswer("\n",
			[]string{`data: {"jsonrpc":"2.0","id":999999,"result":` + okResult + `}`, ""}), wantErr: "no response with the request's id"},
		{name: "sse unterminated event", answer: sseAnswer("\n", []string{`data: {"jsonrpc":"2.0","id":%s,"result":` + okResult + `}`}),
			wantErr: "ended inside an event"},
		{name: "sse bad json", answer: sseAnswer("\n", []string{`data: {"jsonrpc":`, ""}), wantErr: "invalid JSON-RPC message"},
		{name: "unknown content type", answer: func(w http.ResponseWriter, id string) {
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "hello")
		}, wantErr: `unexpected Content-Type "text/plain"`},
		{name: "unauthorized", token: "wrong", answer: jsonAnswer(okResult), wantErr: "HTTP 401"},
		{name: "initialize refused", initialize: func(w http.ResponseWriter) { bad(w, "0", "no sessions here") }, answer: jsonAnswer(okResult),
			wantErr: "initialize: HTTP 400: rpc error -32600: no sessions here"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeMCP{t: t, sessionless: tc.sessionless, answer: tc.answer, initialize: tc.initialize}
			srv := httptest.NewServer(f) // listens on 127.0.0.1
			defer srv.Close()
			protocol, token := Protocol2025, testToken
			if tc.sessionless {
				protocol = Protocol2026
			}
			if tc.token != "" {
				token = tc.token
			}
			const n = 20
			rep, err := Run(context.Background(), Config{URL: srv.URL, Token: token, Concurrency: 3, Count: n, Protocol: protocol})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Calls+rep.Errors != n {
				t.Errorf("calls %d + errors %d, want %d measured", rep.Calls, rep.Errors, n)
			}
			if tc.wantErr == "" {
				if rep.Errors != 0 || rep.Calls != n {
					t.Fatalf("calls %d errors %d (%s), want %d calls and no errors", rep.Calls, rep.Errors, rep.FirstError(), n)
				}
				if rep.P50 <= 0 || rep.P99 < rep.P50 || rep.Max < rep.P99 {
					t.Errorf("latencies p50 %s p99 %s max %s", rep.P50, rep.P99, rep.Max)
				}
				if !tc.sessionless && f.deletes.Load() != 3 {
					t.Errorf("%d sessions deleted, want 3 (one per client)", f.deletes.Load())
				}
				return
			}
			if rep.Calls != 0 || rep.Errors != n {
				t.Fatalf("calls %d errors %d, want every call failed with %q", rep.Calls, rep.Errors, tc.wantErr)
			}
			if got := rep.FirstError(); !strings.Contains(got, tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", got, tc.wantErr)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{URL: "http://127.0.0.1:1/mcp"},
		{URL: "http://127.0.0.1:1/mcp", Count: 1, Args: json.RawMessage(`[1]`)},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) = nil error, want a config error", cfg)
		}
	}
}

// TestUntilEndsRunAndOnCallSeesEveryCall: closing Until ends a long run
// early, and OnCall sees every measured call, failures included.
func TestUntilEndsRunAndOnCallSeesEveryCall(t *testing.T) {
	var n atomic.Int64
	f := &fakeMCP{t: t, answer: func(w http.ResponseWriter, id string) {
		if n.Add(1)%2 == 0 {
			jsonAnswer(`{"content":[{"type":"text","text":"boom"}],"isError":true}`)(w, id)
			return
		}
		jsonAnswer(okResult)(w, id)
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	until := make(chan struct{})
	var seen, failed atomic.Int64
	rep, err := Run(context.Background(), Config{URL: srv.URL, Token: testToken, Concurrency: 2, Duration: time.Hour, Until: until,
		OnCall: func(d time.Duration, err error) {
			if d <= 0 {
				t.Errorf("OnCall latency %s", d)
			}
			if err != nil {
				failed.Add(1)
			}
			if seen.Add(1) == 50 {
				close(until)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(rep.Calls + rep.Errors); got != seen.Load() || got < 50 {
		t.Errorf("report has %d calls + %d errors; OnCall saw %d (want >= 50, equal)", rep.Calls, rep.Errors, seen.Load())
	}
	if int64(rep.Errors) != failed.Load() || rep.Errors == 0 {
		t.Errorf("report has %d errors; OnCall saw %d failures", rep.Errors, failed.Load())
	}
}
