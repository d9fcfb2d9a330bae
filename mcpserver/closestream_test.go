package mcpserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
)

// closingBackend's tool closes its client's stream, then answers when the
// test lets it (proceed), reporting whether the close took effect.
type closingBackend struct {
	addBackend
	closed  chan bool
	proceed chan struct{}
}

func (b closingBackend) CallTool(ctx context.Context, _ *auth.Caller, _ string, _ []byte, call *Call) (Encoded, error) {
	b.closed <- call.CloseStream(250 * time.Millisecond)
	select {
	case <-b.proceed:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return Members(`"content":[{"type":"text","text":"finished"}]`), nil
}

func asUser(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), &auth.Caller{UserID: "u1"})))
	})
}

func post(t *testing.T, url string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

const callBody = `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","arguments":{}}}`

// TestCloseStreamThenResume: a call that closes its stream ends the POST
// response with the priming event and a retry field, goes on, and its result
// reaches the client on a GET with Last-Event-ID. The session's negotiated
// version decides even when the request's header names an older one.
func TestCloseStreamThenResume(t *testing.T) {
	b := closingBackend{closed: make(chan bool, 1), proceed: make(chan struct{})}
	srv := httptest.NewServer(asUser(New(b, Options{Events: NewMemoryEvents(0, 0, 0, nil)})))
	t.Cleanup(srv.Close)

	init := post(t, srv.URL, nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := init.Header.Get("Mcp-Session-Id")
	_ = init.Body.Close()
	if session == "" {
		t.Fatal("no session")
	}
	resp := post(t, srv.URL, map[string]string{"Mcp-Session-Id": session, "Mcp-Protocol-Version": "2025-03-26"}, callBody)
	body, err := io.ReadAll(resp.Body) // ends while the call is still running
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !<-b.closed {
		t.Fatal("CloseStream reported false on a resumable stream")
	}
	text := string(body)
	if !strings.HasPrefix(text, "id: ") || !strings.Contains(text, "\nretry: 250\n\n") || strings.Contains(text, "finished") {
		t.Fatalf("POST stream = %q, want the priming event, retry: 250 and no result", text)
	}
	last := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(text, "\n", 2)[0], "id: "))

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("Last-Event-ID", last)
	get, err := http.DefaultClient.Do(req)
	if err != nil || get.StatusCode != http.StatusOK {
		t.Fatalf("resume: %v %v", get, err)
	}
	close(b.proceed)
	rest, _ := io.ReadAll(get.Body) // the stream ends with the call's result
	_ = get.Body.Close()
	if !strings.Contains(string(rest), `"id":5`) || !strings.Contains(string(rest), "finished") {
		t.Fatalf("resumed stream = %q, want the result", rest)
	}
}

// TestCloseStreamWhereItCannot: JSON responses and 2026-07-28 have no stream
// to resume, so CloseStream does nothing and the call answers as usual.
func TestCloseStreamWhereItCannot(t *testing.T) {
	for name, tc := range map[string]struct {
		opts Options
		hdr  map[string]string
		body string
	}{
		"json response": {Options{JSONResponse: true, Events: NewMemoryEvents(0, 0, 0, nil)}, nil, ""},
		"2026-07-28": {Options{Events: NewMemoryEvents(0, 0, 0, nil)}, map[string]string{"Mcp-Protocol-Version": ModernVersion, "Mcp-Method": "tools/call", "Mcp-Name": "slow"},
			`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`},
	} {
		b := closingBackend{closed: make(chan bool, 1), proceed: make(chan struct{})}
		close(b.proceed)
		srv := httptest.NewServer(asUser(New(b, tc.opts)))
		hdr, body := tc.hdr, tc.body
		if body == "" {
			init := post(t, srv.URL, nil, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
			hdr = map[string]string{"Mcp-Session-Id": init.Header.Get("Mcp-Session-Id"), "Mcp-Protocol-Version": "2025-11-25"}
			_ = init.Body.Close()
			body = callBody
		}
		resp := post(t, srv.URL, hdr, body)
		out, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		srv.Close()
		if <-b.closed {
			t.Errorf("%s: CloseStream reported true", name)
		}
		if !strings.Contains(string(out), "finished") || strings.Contains(string(out), "retry:") {
			t.Errorf("%s: response %q, want the result and no retry field", name, out)
		}
	}
}
