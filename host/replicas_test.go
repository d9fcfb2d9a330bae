package host_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/internal/testredis"
)

// roundRobin is a load balancer without sticky sessions: request n goes to
// backend n mod len. served counts each backend's requests.
type roundRobin struct {
	proxies []*httputil.ReverseProxy
	next    atomic.Uint64
	served  []atomic.Int64
}

func newRoundRobin(t *testing.T, backends ...*running) *running {
	rr := &roundRobin{served: make([]atomic.Int64, len(backends))}
	for _, b := range backends {
		u, err := url.Parse(b.url)
		if err != nil {
			t.Fatal(err)
		}
		p := httputil.NewSingleHostReverseProxy(u)
		p.FlushInterval = -1 // SSE: pass every event on at once
		rr.proxies = append(rr.proxies, p)
	}
	srv := &http.Server{Handler: rr}
	ln := listen(t)
	go srv.Serve(ln)
	t.Cleanup(func() { _ = srv.Close() })
	front := *backends[0]
	front.url = "http://" + ln.Addr().String()
	front.lb = rr
	return &front
}

func listen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(rr.next.Add(1)-1) % len(rr.proxies)
	rr.served[i].Add(1)
	rr.proxies[i].ServeHTTP(w, r)
}

// replicasYAML is one config for every replica: the shared Redis store and
// the shared request-state secret.
func replicasYAML(redisURL string) string {
	return `
auth: {provider: none}
server:
  store: "` + redisURL + `"
  state_secret: "0123456789abcdef0123456789abcdef-shared"
plugins:
  test: {path: "{{bin}}/testplugin"}
`
}

// TestReplicasShareSessions: three replicas behind a round-robin balancer
// share one Redis. A legacy session opened on one replica lists and calls
// tools through the others; a plugin's question raised on one replica is
// answered by the client through another; 2026-07-28 input-required rounds
// resume on whichever replica the retry reaches.
func TestReplicasShareSessions(t *testing.T) {
	redis := testredis.Start(t)
	yaml := replicasYAML(redis.URL())
	lb := newRoundRobin(t, startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{}))

	for _, version := range []string{legacy, modern} {
		var mu sync.Mutex
		var elicited []string
		cs := connectVersion(t, lb, nil, &mcp.ClientOptions{
			ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				mu.Lock()
				elicited = append(elicited, req.Params.Message)
				mu.Unlock()
				return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"name": "Ada"}}, nil
			},
		}, version)
		for i := range 6 {
			if text, isErr := callText(t, cs, "echo", map[string]any{"text": "r"}); isErr || text != "1.0.0:r" {
				t.Fatalf("%s: call %d through the balancer = %q (isError %v)", version, i, text, isErr)
			}
			if tools, err := cs.ListTools(context.Background(), nil); err != nil || len(tools.Tools) == 0 {
				t.Fatalf("%s: list %d: %v", version, i, err)
			}
		}
		for i := range 3 {
			if text, isErr := callText(t, cs, "ask-user", nil); isErr || text != "accept: Ada" {
				t.Fatalf("%s: ask-user %d = %q (isError %v)", version, i, text, isErr)
			}
		}
		mu.Lock()
		if len(elicited) != 3 || elicited[0] != "What is your name?" {
			t.Errorf("%s: client was asked %q", version, elicited)
		}
		mu.Unlock()
	}
	for i := range lb.lb.served {
		if n := lb.lb.served[i].Load(); n < 5 {
			t.Errorf("replica %d served %d requests; the balancer should spread them", i, n)
		}
	}
}

// TestSharedStoreReadiness: /readyz reports the store, and turns 503 while
// Redis is down.
func TestSharedStoreReadiness(t *testing.T) {
	redis := testredis.Start(t)
	r := startHost(t, replicasYAML(redis.URL()), host.ServerOptions{})
	get := func() (int, string) {
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("readyz = %d %s", code, body)
	}
	redis.Stop()
	if code, body := get(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"store":"unavailable"`) {
		t.Fatalf("readyz with Redis down = %d %s", code, body)
	}
	redis.Restart(t)
	if code, _ := get(); code != http.StatusOK {
		t.Fatalf("readyz after Redis returned = %d", code)
	}
}

// TestCancelReachesAnotherReplica: notifications/cancelled sent to one
// replica stops the call running on another.
func TestCancelReachesAnotherReplica(t *testing.T) {
	redis := testredis.Start(t)
	yaml := strings.Replace(replicasYAML(redis.URL()), `path: "{{bin}}/testplugin"}`, `path: "{{bin}}/testplugin", sandbox: "off", env: {TESTPLUGIN_DIR: "{{dir}}"}}`, 1)
	a, b := startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{})
	init := rawMCP(t, a, http.MethodPost, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := init.Header.Get("Mcp-Session-Id")
	init.Body.Close()
	rawMCP(t, b, http.MethodPost, session, "", `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()

	done := make(chan string, 1)
	go func() {
		resp := rawMCP(t, a, http.MethodPost, session, "", `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"slow","arguments":{"ms":60000}}}`)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(body)
	}()
	cs := connect(t, a, nil, nil)
	eventually(t, 5*time.Second, "the slow call running on replica A", func() bool {
		text, _ := callText(t, cs, "max-active", nil)
		return strings.Contains(text, `"max_active": 1`)
	})
	if resp := rawMCP(t, b, http.MethodPost, session, "", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9,"reason":"test"}}`); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("cancel on replica B: HTTP %d", resp.StatusCode)
	}
	eventually(t, 5*time.Second, "replica A's plugin saw the cancellation", func() bool {
		m, _ := filepath.Glob(filepath.Join(a.cfg.Dir, "cancelled-*"))
		return len(m) == 1
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled call's response never ended")
	}
}

// TestStreamResumesOnAnotherReplica: a client drops its POST stream after
// the priming event; its replica finishes the call and is shut down; the
// client resumes with Last-Event-ID on another replica and gets the result.
func TestStreamResumesOnAnotherReplica(t *testing.T) {
	redis := testredis.Start(t)
	yaml := replicasYAML(redis.URL())
	a, b := startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{})
	init := rawMCP(t, a, http.MethodPost, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	session := init.Header.Get("Mcp-Session-Id")
	init.Body.Close()
	rawMCP(t, a, http.MethodPost, session, "", `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()

	resp := rawMCP(t, a, http.MethodPost, session, "", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow","arguments":{"ms":300}}}`)
	line, err := bufio.NewReader(resp.Body).ReadString('\n') // "id: <priming event id>"
	resp.Body.Close()                                        // the client goes away here
	last, ok := strings.CutPrefix(strings.TrimSpace(line), "id: ")
	if err != nil || !ok {
		t.Fatalf("first line of the POST stream: %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil { // waits for the call, whose result goes to Redis
		t.Fatal(err)
	}
	get := rawMCP(t, b, http.MethodGet, session, last, "")
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if get.StatusCode != http.StatusOK || !strings.Contains(string(body), `"id":7`) || !strings.Contains(string(body), "slept") {
		t.Fatalf("resume on replica B: HTTP %d %q", get.StatusCode, body)
	}
}

// rawMCP sends one request to a replica's /mcp as a 2025-11-25 client would,
// with the session and Last-Event-ID when given.
func rawMCP(t *testing.T, r *running, method, session, last, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, r.url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", legacy)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestResourceUpdateCrossesReplicas: a client subscribed through replica A,
// whose GET stream A holds, hears of a change a plugin on replica B announces.
func TestResourceUpdateCrossesReplicas(t *testing.T) {
	redis := testredis.Start(t)
	yaml := strings.Replace(replicasYAML(redis.URL()), `path: "{{bin}}/testplugin"}`, `path: "{{bin}}/testplugin", env: {TESTPLUGIN_FEATURES: "1"}}`, 1)
	a, b := startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{})
	updated := make(chan string, 4)
	subscriber := connectVersion(t, a, nil, &mcp.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) { updated <- req.Params.URI },
	}, legacy)
	if err := subscriber.Subscribe(context.Background(), &mcp.SubscribeParams{URI: "test://counter"}); err != nil {
		t.Fatal(err)
	}
	other := connectVersion(t, b, nil, nil, legacy)
	// The GET stream may not be open yet when the first change is announced:
	// announce until one arrives (each touch is a new change).
	deadline := time.After(10 * time.Second)
	for {
		callText(t, other, "touch", nil)
		select {
		case uri := <-updated:
			if uri != "test://counter" {
				t.Fatalf("updated %s", uri)
			}
			return
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatal("no notifications/resources/updated on replica A for a change announced on replica B")
		}
	}
}
