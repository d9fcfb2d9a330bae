package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/host"
)

// binDir holds the real binaries the tests start, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcphost-host-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	const tp = "github.com/mcphost/mcphost/internal/testplugin"
	for _, b := range []struct{ name, pkg, ldflags string }{
		{"whoami", "../plugins/whoami", ""},
		{"documents", "../plugins/documents", ""},
		{"admin", "../plugins/admin", ""},
		{"workosuser", "../plugins/workosuser", ""},
		{"testplugin", "../internal/testplugin", ""},
		{"rawplugin", "../internal/rawplugin", ""},
		{"mcphost", "../cmd/mcphost", ""},
		// Two builds that answer differently, for hot swaps; B has one more tool.
		{"testplugin-a", "../internal/testplugin", "-X main.buildVersion=A"},
		{"testplugin-b", "../internal/testplugin", "-X main.buildVersion=B -X main.extraTool=added"},
	} {
		name, pkg := b.name, b.pkg
		cmd := exec.Command("go", "build", "-ldflags", b.ldflags, "-o", filepath.Join(dir, name), pkg)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// bin returns the path of a test binary.
func bin(name string) string { return filepath.Join(binDir, name) }

// testLogger sends host logs to the test log (visible with -v or on failure).
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("MCPHOST_TEST_LOGS") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// writeConfig writes yaml (with {{bin}} replaced by the binaries' directory) to a
// temp dir and loads it.
func loadConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcphost.yaml")
	yaml = strings.ReplaceAll(yaml, "{{bin}}", binDir)
	yaml = strings.ReplaceAll(yaml, "{{dir}}", dir)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// running is a host serving on 127.0.0.1:0.
type running struct {
	host *host.Host
	srv  *host.Server
	url  string // base URL, no trailing slash
	cfg  *config.Config
	lb   *roundRobin // set when url is a balancer in front of replicas
}

// startHost starts a host for yaml and serves it; cleanup shuts it down.
func startHost(t testing.TB, yaml string, opts host.ServerOptions) *running {
	t.Helper()
	return startHostAt(t, yaml, opts, "127.0.0.1:0")
}

// startHostAt is startHost listening on addr (a replica restarting on the
// address its balancer knows).
func startHostAt(t testing.TB, yaml string, opts host.ServerOptions, addr string) *running {
	t.Helper()
	return startHostWith(t, yaml, opts, addr, nil)
}

// startHostWith is startHostAt with prepare run on the host before it starts
// and before its server is made (metrics, audit).
func startHostWith(t testing.TB, yaml string, opts host.ServerOptions, addr string, prepare func(*host.Host)) *running {
	t.Helper()
	return startHostLogging(t, yaml, opts, addr, prepare, testLogger(t))
}

// startHostLogged is startHost with the host's log recorded, for tests that
// wait for what it reports.
func startHostLogged(t testing.TB, yaml string, opts host.ServerOptions) (*running, *lineLog) {
	t.Helper()
	log := newLineLog()
	return startHostLogging(t, yaml, opts, "127.0.0.1:0", nil, log.logger()), log
}

func startHostLogging(t testing.TB, yaml string, opts host.ServerOptions, addr string, prepare func(*host.Host), logger *slog.Logger) *running {
	t.Helper()
	cfg := loadConfig(t, yaml)
	h := host.New(cfg, logger)
	if prepare != nil {
		prepare(h)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	srv := host.NewServer(h, cfg, logger, opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &running{host: h, srv: srv, url: "http://" + ln.Addr().String(), cfg: cfg}
}

// Protocol versions the go-sdk client is asked to speak: it prefers the
// sessionless 2026-07-28 (server/discover first); legacy opens a session.
const (
	modern = "2026-07-28"
	legacy = "2025-11-25"
)

// connect opens a go-sdk client session to r's /mcp endpoint with the client's
// default (newest) protocol version.
func connect(t testing.TB, r *running, httpClient *http.Client, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	return connectVersion(t, r, httpClient, opts, "")
}

// connectVersion is connect speaking protocol version (modern or legacy).
func connectVersion(t testing.TB, r *running, httpClient *http.Client, opts *mcp.ClientOptions, version string) *mcp.ClientSession {
	t.Helper()
	client := mcp.NewClient(&mcp.Implementation{Name: "host-test", Version: "1"}, opts)
	transport := &mcp.StreamableClientTransport{Endpoint: r.url + host.MCPPath, HTTPClient: httpClient}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// callText calls a tool and returns its result's text content and isError.
func callText(t testing.TB, cs *mcp.ClientSession, name string, args any) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return resultText(res), res.IsError
}

// callFull calls a tool and returns its text, structured content and isError.
func callFull(t testing.TB, cs *mcp.ClientSession, name string, args any) (string, map[string]any, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	var sc map[string]any
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &sc); err != nil {
			t.Fatalf("%s structured content %s: %v", name, b, err)
		}
	}
	return resultText(res), sc, res.IsError
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// notifications records the progress and log notifications a client gets.
type notifications struct {
	mu       sync.Mutex
	progress []string // "progress/total message"
	logs     []string // "level data-as-JSON"
}

func (n *notifications) clientOptions() *mcp.ClientOptions {
	return &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			n.mu.Lock()
			defer n.mu.Unlock()
			n.progress = append(n.progress, fmt.Sprintf("%v/%v %s", req.Params.Progress, req.Params.Total, req.Params.Message))
		},
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			n.mu.Lock()
			defer n.mu.Unlock()
			b, _ := json.Marshal(req.Params.Data)
			n.logs = append(n.logs, string(req.Params.Level)+" "+string(b))
		},
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
