package dev_test

import (
	"context"
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// pluginPID reads a plugin's pid from /readyz.
func (d *devServer) pluginPID(t *testing.T, name string) int {
	t.Helper()
	resp, err := http.Get(d.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Plugins []struct {
			Name  string
			PID   int
			State string
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	for _, p := range ready.Plugins {
		if p.Name == name && p.State == "running" {
			return p.PID
		}
	}
	return 0
}

func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) map[string]any {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		raw, _ := json.Marshal(res.Content)
		t.Fatalf("%s: tool error %s", name, raw)
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// TestDocumentsSurviveRestarts: a document created through the host is still
// there after its plugin is killed and restarted, and after the whole host restarts.
func TestDocumentsSurviveRestarts(t *testing.T) {
	d := startDev(t, "")
	tok := d.token(t, "--sub", "writer", "--org", "org_demo_acme", "--permissions", "documents:write")
	cs := d.connect(t, tok)
	created := call(t, cs, "create-document", map[string]any{"title": "Survives", "body": "restarts"})
	id, _ := created["id"].(string)
	if id == "" {
		t.Fatalf("create-document = %v", created)
	}

	pid := d.pluginPID(t, "documents")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for d.pluginPID(t, "documents") == 0 || d.pluginPID(t, "documents") == pid {
		if time.Now().After(deadline) {
			t.Fatal("documents plugin was not restarted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := call(t, cs, "get-document", map[string]any{"id": id}); got["title"] != "Survives" {
		t.Fatalf("after plugin restart get-document = %v", got)
	}

	// The whole host stops and starts again on the same config and data directory.
	d.stop(t)
	d.launch(t)
	d2 := d
	cs2 := d2.connect(t, d2.token(t, "--sub", "reader", "--org", "org_demo_acme"))
	if got := call(t, cs2, "get-document", map[string]any{"id": id}); got["body"] != "restarts" {
		t.Fatalf("after host restart get-document = %v", got)
	}
	// And the other tenant still cannot see it.
	other := d2.connect(t, d2.token(t, "--sub", "spy", "--org", "org_demo_globex"))
	res, err := other.CallTool(context.Background(), &mcp.CallToolParams{Name: "get-document", Arguments: map[string]any{"id": id}})
	if err != nil || !res.IsError {
		t.Fatalf("other tenant read the document: %v %v", err, res)
	}
}
