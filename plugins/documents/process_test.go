package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/mcphost/mcphost/internal/testpostgres"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// buildPlugin builds this plugin's binary once per test binary.
var buildPlugin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "documents-plugin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "documents")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
})

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// pluginProcess is the documents binary started the way the host starts it:
// go-plugin, gRPC, AutoMTLS, and only the environment given.
type pluginProcess struct {
	client *plugin.Client
	rpc    pluginv1.PluginServiceClient
	stderr *lockedBuffer
}

// lockedBuffer is the plugin's stderr, written by go-plugin's goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPlugin starts the plugin with env and completes the handshake; on an
// error the process is returned too, for its stderr.
func startPlugin(t *testing.T, env ...string) (*pluginProcess, error) {
	t.Helper()
	bin, err := buildPlugin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "MCPHOST_PLUGIN_DATA_DIR=" + t.TempDir()}, env...)
	p := &pluginProcess{stderr: &lockedBuffer{}}
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginrpc.Handshake,
		Plugins:          pluginrpc.PluginSet(nil),
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     30 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
		Stderr:           p.stderr,
	})
	t.Cleanup(p.client.Kill)
	proto, err := p.client.Client()
	if err != nil {
		return p, err
	}
	raw, err := proto.Dispense(pluginrpc.PluginName)
	if err != nil {
		return p, err
	}
	p.rpc = raw.(pluginv1.PluginServiceClient)
	return p, nil
}

// call runs one tool call and returns its result.
func (p *pluginProcess) call(t *testing.T, tool string, caller *pluginv1.Caller, args string) *pluginv1.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := p.rpc.CallTool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := &pluginv1.CallToolStart{Tool: tool, ArgumentsJson: []byte(args), Caller: caller}
	if err := stream.Send(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_Start{Start: start}}); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if res := msg.GetResult(); res != nil {
			return res
		}
	}
}

func resultText(res *pluginv1.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.GetContent() {
		b.WriteString(c.GetText().GetText())
	}
	return b.String()
}

// TestPluginReplicasSharePostgres is two replicas' documents plugins on one
// database: started at once (migrations and demo seeding happen once), a
// document one creates is read and listed by the other, never by another
// organization, and a superuser DSN stops the plugin at start.
func TestPluginReplicasSharePostgres(t *testing.T) {
	db := testpostgres.Shared(t).NewDatabase(t)
	env := []string{"DOCUMENTS_DSN=" + db.AppDSN, "DOCUMENTS_SEED=true"}

	var replicas [2]*pluginProcess
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range replicas {
		wg.Go(func() { replicas[i], errs[i] = startPlugin(t, env...) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v\n%s", i, err, replicas[i].stderr)
		}
	}
	a, b := replicas[0], replicas[1]

	alice := &pluginv1.Caller{UserId: "user_alice", OrganizationId: "org_a", Roles: []string{"admin"}}
	bob := &pluginv1.Caller{UserId: "user_bob", OrganizationId: "org_b", Roles: []string{"admin"}}
	acme := &pluginv1.Caller{UserId: "user_wile", OrganizationId: "org_demo_acme"}

	res := a.call(t, "create-document", alice, `{"title":"Shared plan","body":"written on replica A"}`)
	var doc Document
	if res.GetIsError() || json.Unmarshal(res.GetStructuredContentJson(), &doc) != nil || doc.ID == "" {
		t.Fatalf("create on A: %s", resultText(res))
	}
	res = b.call(t, "get-document", alice, `{"id":"`+doc.ID+`"}`)
	var got Document
	if res.GetIsError() || json.Unmarshal(res.GetStructuredContentJson(), &got) != nil || got.Body != "written on replica A" || !got.CreatedAt.Equal(doc.CreatedAt) {
		t.Fatalf("get on B = %s", resultText(res))
	}
	var page ListOutput
	res = b.call(t, "get-documents", alice, `{"query":"shared"}`)
	if json.Unmarshal(res.GetStructuredContentJson(), &page) != nil || len(page.Documents) != 1 || page.Documents[0].ID != doc.ID {
		t.Errorf("list on B = %s", resultText(res))
	}

	// Another organization: not found on either replica, and it stays.
	for _, p := range replicas {
		for _, tool := range []string{"get-document", "delete-document"} {
			if res := p.call(t, tool, bob, `{"id":"`+doc.ID+`"}`); !res.GetIsError() || !strings.Contains(resultText(res), "document not found") {
				t.Errorf("%s of org_a's document as org_b: %s", tool, resultText(res))
			}
		}
		res := p.call(t, "get-documents", bob, `{}`)
		if json.Unmarshal(res.GetStructuredContentJson(), &page) != nil || len(page.Documents) != 0 {
			t.Errorf("org_b lists %s", resultText(res))
		}
	}
	if res := a.call(t, "get-document", alice, `{"id":"`+doc.ID+`"}`); res.GetIsError() {
		t.Errorf("after org_b's attempts: %s", resultText(res))
	}

	// Both replicas started on the empty database with seeding on; the demo
	// documents are there once.
	res = b.call(t, "get-documents", acme, `{}`)
	if json.Unmarshal(res.GetStructuredContentJson(), &page) != nil || len(page.Documents) != 3 {
		t.Errorf("demo organization has %s, want its 3 documents once", resultText(res))
	}

	// Deleted on B, gone on A.
	if res := b.call(t, "delete-document", alice, `{"id":"`+doc.ID+`"}`); res.GetIsError() {
		t.Fatalf("delete on B: %s", resultText(res))
	}
	if res := a.call(t, "get-document", alice, `{"id":"`+doc.ID+`"}`); !res.GetIsError() {
		t.Errorf("get on A after delete on B: %s", resultText(res))
	}

	// A superuser DSN: the plugin refuses to serve, and says why.
	bad, err := startPlugin(t, "DOCUMENTS_DSN="+db.SuperDSN)
	if err == nil {
		t.Fatal("the plugin started with a superuser DSN")
	}
	bad.client.Kill() // waits for the process, so its stderr is all in
	u, _ := url.Parse(db.SuperDSN)
	pass, _ := u.User.Password()
	if msg := bad.stderr.String(); !strings.Contains(msg, "DOCUMENTS_DSN") || !strings.Contains(msg, "superuser or has BYPASSRLS") || strings.Contains(msg, pass) {
		t.Errorf("superuser DSN: the plugin said %q", msg)
	}
}
