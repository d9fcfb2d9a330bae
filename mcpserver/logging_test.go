package mcpserver

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/auth"
)

// loggingBackend's tool logs at debug and at info, then answers.
type loggingBackend struct{ addBackend }

func (loggingBackend) CallTool(_ context.Context, _ *auth.Caller, _ string, _ []byte, call *Call) (Encoded, error) {
	call.Log("debug", "t", []byte(`"quiet"`))
	call.Log("info", "t", []byte(`"heard"`))
	return addResult, nil
}

// TestStatelessLogsAtInfo: a stateless server cannot remember a client's
// logging/setLevel, so it sends info and above on the request's stream.
func TestStatelessLogsAtInfo(t *testing.T) {
	srv := httptest.NewServer(asUser(New(loggingBackend{}, Options{Stateless: true})))
	t.Cleanup(srv.Close)
	resp := post(t, srv.URL, map[string]string{"Mcp-Protocol-Version": "2025-11-25"}, callBody)
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(out), `"heard"`) || strings.Contains(string(out), `"quiet"`) || !strings.Contains(string(out), `"id":5`) {
		t.Fatalf("response %q, want the info log, not the debug one, and the result", out)
	}
}
