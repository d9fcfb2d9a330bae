package host_test

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/internal/testpostgres"
	"github.com/mcphost/mcphost/internal/testredis"
)

// structured calls a tool that must succeed and returns its structured result.
func structured(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) map[string]any {
	t.Helper()
	text, sc, isErr := callFull(t, cs, name, args)
	if isErr {
		t.Fatalf("%s: tool error %q", name, text)
	}
	return sc
}

// TestDocumentsAcrossReplicas: three replicas, each with its own documents
// plugin process, share one Postgres (and one Redis for sessions), as the
// Kubernetes manifests deploy them. A document created through replica A is
// read through replica C and found through a session the balancer spreads over
// all three; another tenant is refused on every replica.
func TestDocumentsAcrossReplicas(t *testing.T) {
	db := testpostgres.Start(t).NewDatabase(t)
	redis := testredis.Start(t)
	yaml := `
auth: {provider: none}
server:
  store: "` + redis.URL() + `"
  state_secret: "0123456789abcdef0123456789abcdef-shared"
plugins:
  documents: {path: "{{bin}}/documents", env: {DOCUMENTS_DSN: "` + db.AppDSN + `"}}
`
	gate := host.ServerOptions{Gate: headerGate{}}
	a, b, c := startHost(t, yaml, gate), startHost(t, yaml, gate), startHost(t, yaml, gate)
	for _, r := range []*running{a, b, c} {
		if st := pluginStatus(t, r.host, "documents"); st.State != host.StateRunning {
			t.Fatalf("documents plugin on a replica: %+v", st)
		}
	}
	pids := map[int]bool{}
	for _, r := range []*running{a, b, c} {
		pids[pluginStatus(t, r.host, "documents").PID] = true
	}
	if len(pids) != 3 {
		t.Fatalf("want a documents process per replica, got pids %v", pids)
	}

	writer := connect(t, a, userClient("writer", "org_tenant_one", "admin"), nil)
	created := structured(t, writer, "create-document", map[string]any{"title": "Shared plan", "body": "written on replica A"})
	id, _ := created["id"].(string)
	if !strings.HasPrefix(id, "doc_") {
		t.Fatalf("create-document on A = %v", created)
	}

	reader := connect(t, c, userClient("reader", "org_tenant_one", ""), nil)
	if got := structured(t, reader, "get-document", map[string]any{"id": id}); got["body"] != "written on replica A" || got["created_by"] != "writer" {
		t.Fatalf("get-document on C = %v", got)
	}

	// A legacy session through the balancer: its calls land on every replica,
	// and each finds the document.
	lb := newRoundRobin(t, a, b, c)
	spread := connectVersion(t, lb, userClient("reader", "org_tenant_one", ""), nil, legacy)
	for i := range 6 {
		list := structured(t, spread, "get-documents", map[string]any{"query": "Shared plan"})
		docs, _ := list["documents"].([]any)
		if len(docs) != 1 || docs[0].(map[string]any)["id"] != id {
			t.Fatalf("get-documents %d through the balancer = %v", i, list)
		}
	}
	for i := range lb.lb.served {
		if lb.lb.served[i].Load() == 0 {
			t.Errorf("replica %d served nothing; the balancer should spread the session", i)
		}
	}

	// Another tenant, on each replica, neither reads nor lists it.
	for name, r := range map[string]*running{"A": a, "B": b, "C": c} {
		spy := connect(t, r, userClient("spy", "org_tenant_two", "admin"), nil)
		res, err := spy.CallTool(context.Background(), &mcp.CallToolParams{Name: "get-document", Arguments: map[string]any{"id": id}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.IsError || !strings.Contains(resultText(res), "not found") {
			t.Errorf("replica %s: another tenant's get-document = %q (isError %v)", name, resultText(res), res.IsError)
		}
		list := structured(t, spy, "get-documents", map[string]any{"query": "Shared plan"})
		if docs, _ := list["documents"].([]any); len(docs) != 0 {
			t.Errorf("replica %s: another tenant lists %v", name, docs)
		}
	}
}
