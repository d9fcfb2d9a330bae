package host_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/devissuer"
	"github.com/mcphost/mcphost/auth/workos"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/metrics"
)

// Hostile load: slow and oversized bodies, idle and surplus connections,
// session and stream floods, DNS rebinding on every route.

// realGate is the AuthKit gate against a local dev issuer, and a way to mint
// tokens it accepts.
func realGate(t *testing.T, tweak ...func(*workos.Config)) (*workos.Provider, func(sub string) string) {
	t.Helper()
	iss, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	iss.Routes(mux, "")
	idp := httptest.NewServer(mux)
	t.Cleanup(idp.Close)
	aud := "http://127.0.0.1/mcp"
	cfg := workos.Config{Domain: idp.URL, VerifyJWT: true, Audiences: []string{aud},
		PublicURL: auth.PublicURL{Listen: "127.0.0.1:1"}, Logger: testLogger(t)}
	for _, f := range tweak {
		f(&cfg)
	}
	p, err := workos.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, func(sub string) string {
		tok, err := iss.Mint(devissuer.TokenRequest{Issuer: idp.URL, Subject: sub, Audience: []string{aud}, Scopes: []string{"openid"}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
}

// rawConn dials r from the loopback address from (empty: any).
func rawConn(t *testing.T, r *running, from string) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// readResponse reads one response from c, failing the test if none comes
// within the guard (a server that never answers would hang the test).
func readResponse(t *testing.T, c net.Conn, br *bufio.Reader) *http.Response {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

// closedByServer reports whether the server ends c (EOF or reset) rather
// than leaving it open until the guard.
func closedByServer(c net.Conn, br *bufio.Reader) bool {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := br.ReadByte()
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

const postHead = "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Method: tools/list\r\n%sContent-Length: %d\r\n\r\n"

// drip writes a byte of body every 20ms until stop (or the server hangs up).
func drip(c net.Conn, stop <-chan struct{}) {
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
}

// TestDripFedUnauthenticatedPost: a POST without a token, announcing 100 kB
// of body and dripping it, gets its 401 at once and loses its connection;
// Go used to wait for the body before answering, holding the connection as
// long as the client liked.
func TestDripFedUnauthenticatedPost(t *testing.T) {
	p, _ := realGate(t)
	r := startHost(t, basicYAML, host.ServerOptions{Gate: p})
	c, err := rawConn(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, postHead, strings.TrimPrefix(r.url, "http://"), "", 100000)
	stop := make(chan struct{})
	defer close(stop)
	drip(c, stop)
	br := bufio.NewReader(c)
	resp := readResponse(t, c, br)
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("got %d (close %v, challenge %q), want 401 with a challenge and Connection: close", resp.StatusCode, resp.Close, resp.Header.Get("WWW-Authenticate"))
	}
	if !closedByServer(c, br) {
		t.Fatal("the connection stayed open after the 401")
	}
}

// TestSlowAuthenticatedBody: a verified caller's body that takes longer than
// server.read_timeout ends the request and the connection; one announced
// over server.max_body_bytes is refused before a byte is read.
func TestSlowAuthenticatedBody(t *testing.T) {
	p, mint := realGate(t)
	r := startHost(t, `
server: {read_timeout: 300ms, max_body_bytes: 1024}
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
`, host.ServerOptions{Gate: p})
	auth := "Authorization: Bearer " + mint("user_slow") + "\r\n"
	addr := strings.TrimPrefix(r.url, "http://")

	c, err := rawConn(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, postHead, addr, auth, 1000)
	stop := make(chan struct{})
	defer close(stop)
	drip(c, stop)
	br := bufio.NewReader(c)
	if resp := readResponse(t, c, br); resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Fatalf("slow body: %d (close %v), want 400 and Connection: close", resp.StatusCode, resp.Close)
	}
	if !closedByServer(c, br) {
		t.Fatal("the connection of a timed-out body stayed open")
	}

	c, err = rawConn(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, postHead, addr, auth, 100000) // and never a byte of it
	br = bufio.NewReader(c)
	if resp := readResponse(t, c, br); resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("oversized body: %d (close %v), want 413 and Connection: close", resp.StatusCode, resp.Close)
	}
	if !closedByServer(c, br) {
		t.Fatal("the connection of an oversized body stayed open")
	}
}

// TestIdleKeepAliveClosed: a keep-alive connection with no next request is
// closed after server.idle_timeout.
func TestIdleKeepAliveClosed(t *testing.T) {
	r := startHost(t, "server: {idle_timeout: 200ms}\n"+basicYAML, host.ServerOptions{})
	c, err := rawConn(t, r, "")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(r.url, "http://"))
	br := bufio.NewReader(c)
	if resp := readResponse(t, c, br); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("/healthz: %d (close %v), want 200 kept alive", resp.StatusCode, resp.Close)
	}
	if !closedByServer(c, br) {
		t.Fatal("an idle keep-alive connection was not closed after idle_timeout")
	}
}

// healthz asks /healthz on connection c (kept alive).
func healthz(t *testing.T, r *running, c net.Conn, br *bufio.Reader) error {
	t.Helper()
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", strings.TrimPrefix(r.url, "http://")); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz: %d", resp.StatusCode)
	}
	return nil
}

// TestConnectionCaps: connections over the per-address cap, then over the
// total, are closed at once, while a fresh connection under the caps is
// served; a closed connection gives its place back.
func TestConnectionCaps(t *testing.T) {
	r := startHost(t, "server: {max_connections: 5, max_connections_per_ip: 3}\n"+basicYAML, host.ServerOptions{})
	open := func(from string) (net.Conn, *bufio.Reader, error) {
		c, err := rawConn(t, r, from)
		if err != nil {
			return nil, nil, err
		}
		br := bufio.NewReader(c)
		return c, br, healthz(t, r, c, br)
	}
	var first net.Conn
	for i := range 3 {
		c, _, err := open("127.0.0.1")
		if err != nil {
			t.Fatalf("connection %d from 127.0.0.1: %v", i, err)
		}
		if i == 0 {
			first = c
		}
	}
	if _, _, err := open("127.0.0.1"); err == nil {
		t.Fatal("a fourth connection from 127.0.0.1 was served (max_connections_per_ip: 3)")
	}
	for i := range 2 {
		if _, _, err := open("127.0.0.2"); err != nil {
			t.Fatalf("connection %d from 127.0.0.2 under the caps: %v", i, err)
		}
	}
	if _, _, err := open("127.0.0.3"); err == nil {
		t.Fatal("a sixth connection was served (max_connections: 5)")
	}
	_ = first.Close()
	eventually(t, 10*time.Second, "a place to free up once a connection closed", func() bool {
		_, _, err := open("127.0.0.3")
		return err == nil
	})
}

// legacyClient speaks the 2025 era over plain HTTP for one test user.
type legacyClient struct {
	t    *testing.T
	url  string
	http *http.Client
}

func newLegacyClient(t *testing.T, r *running) *legacyClient {
	return &legacyClient{t: t, url: r.url + host.MCPPath, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}}
}

func (lc *legacyClient) do(user, session, body string) (*http.Response, string) {
	lc.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, lc.url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("X-Test-User", user)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", legacy)
	}
	resp, err := lc.http.Do(req)
	if err != nil {
		lc.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (lc *legacyClient) initialize(user string) (int, string, string) {
	resp, body := lc.do(user, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), body
}

func (lc *legacyClient) ping(user, session string) int {
	resp, _ := lc.do(user, session, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	return resp.StatusCode
}

// TestSessionsPerUserCap: one user opening 2,000 sessions and closing none
// keeps at most 64 (server.max_sessions_per_user's default): each new one
// closes the user's least recently used, so one kept in use survives.
func TestSessionsPerUserCap(t *testing.T) {
	r := startHost(t, "server: {json_response: true}\n"+basicYAML, host.ServerOptions{Gate: headerGate{}})
	lc := newLegacyClient(t, r)
	ids := make([]string, 2000)
	for i := range ids {
		code, id, body := lc.initialize("user_flood")
		if code != http.StatusOK || id == "" {
			t.Fatalf("initialize %d: %d %s", i, code, body)
		}
		ids[i] = id
		if i%50 == 0 && lc.ping("user_flood", ids[0]) != http.StatusOK {
			t.Fatalf("the session in use was closed after %d others opened", i)
		}
	}
	live := map[int]bool{}
	for i, id := range ids {
		switch code := lc.ping("user_flood", id); code {
		case http.StatusOK:
			live[i] = true
		case http.StatusNotFound:
		default:
			t.Fatalf("session %d: %d", i, code)
		}
	}
	if len(live) != 64 || !live[0] || !live[1999] || !live[1937] || live[1936] {
		t.Fatalf("%d sessions live (first %v, last %v), want 64: the one in use and the 63 newest", len(live), live[0], live[1999])
	}
	// Another user is untouched by the flood.
	if code, _, body := lc.initialize("user_other"); code != http.StatusOK {
		t.Fatalf("another user's initialize: %d %s", code, body)
	}
}

// TestSessionsTotalCap: with server.max_sessions reached a new session is
// refused with a 503 saying why; a user at its own cap still replaces its own.
func TestSessionsTotalCap(t *testing.T) {
	r := startHost(t, "server: {json_response: true, max_sessions: 3, max_sessions_per_user: 2}\n"+basicYAML, host.ServerOptions{Gate: headerGate{}})
	lc := newLegacyClient(t, r)
	for _, u := range []string{"user_a", "user_a", "user_b"} {
		if code, _, body := lc.initialize(u); code != http.StatusOK {
			t.Fatalf("initialize for %s: %d %s", u, code, body)
		}
	}
	code, _, body := lc.initialize("user_c")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "server.max_sessions") {
		t.Fatalf("initialize over max_sessions: %d %s, want 503 naming server.max_sessions", code, body)
	}
	if code, _, body := lc.initialize("user_a"); code != http.StatusOK {
		t.Fatalf("user_a replacing its oldest in a full store: %d %s", code, body)
	}
}

// openStream starts a long-lived stream and returns once the server has
// started it (status and headers in); the stream closes with the test.
func openStream(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode == http.StatusOK {
		return resp, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func listenRequest(r *running, user string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, r.url+host.MCPPath, strings.NewReader(`{"jsonrpc":"2.0","id":"l1","method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", modern)
	req.Header.Set("Mcp-Method", "subscriptions/listen")
	req.Header.Set("X-Test-User", user)
	return req
}

// TestStreamCaps: subscriptions/listen and GET streams count toward
// server.max_streams_per_user (429 past it) and server.max_streams (503).
func TestStreamCaps(t *testing.T) {
	r := startHost(t, "server: {max_streams: 3, max_streams_per_user: 2}\n"+basicYAML, host.ServerOptions{Gate: headerGate{}})
	lc := newLegacyClient(t, r)
	_, sid, _ := lc.initialize("user_a")
	get, _ := http.NewRequest(http.MethodGet, r.url+host.MCPPath, nil)
	get.Header.Set("Accept", "text/event-stream")
	get.Header.Set("Mcp-Session-Id", sid)
	get.Header.Set("MCP-Protocol-Version", legacy)
	get.Header.Set("X-Test-User", "user_a")
	if resp, body := openStream(t, get); resp.StatusCode != http.StatusOK {
		t.Fatalf("user_a's GET stream: %d %s", resp.StatusCode, body)
	}
	ctx, closeSecond := context.WithCancel(context.Background())
	second, err := http.DefaultClient.Do(listenRequest(r, "user_a").WithContext(ctx))
	if err != nil || second.StatusCode != http.StatusOK {
		t.Fatalf("user_a's listen stream: %v %v", second, err)
	}
	if resp, body := openStream(t, listenRequest(r, "user_a")); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "server.max_streams_per_user") {
		t.Fatalf("user_a's third stream: %d %s, want 429 naming server.max_streams_per_user", resp.StatusCode, body)
	}
	if resp, body := openStream(t, listenRequest(r, "user_b")); resp.StatusCode != http.StatusOK {
		t.Fatalf("user_b's stream: %d %s", resp.StatusCode, body)
	}
	if resp, body := openStream(t, listenRequest(r, "user_c")); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "server.max_streams") {
		t.Fatalf("a fourth stream: %d %s, want 503 naming server.max_streams", resp.StatusCode, body)
	}
	closeSecond()
	second.Body.Close()
	eventually(t, 10*time.Second, "the closed stream's place to free up", func() bool {
		resp, _ := openStream(t, listenRequest(r, "user_c"))
		return resp.StatusCode == http.StatusOK
	})
}

// TestHostCheckOnEveryRoute: a page whose name was rebound to 127.0.0.1
// reads nothing from any route, /readyz's plugin detail above all; loopback
// names are served as before.
func TestHostCheckOnEveryRoute(t *testing.T) {
	p, _ := realGate(t)
	r := startHostWith(t, basicYAML, host.ServerOptions{Gate: p}, "127.0.0.1:0", func(h *host.Host) { h.SetMetrics(metrics.New()) })
	get := func(path, hostHeader string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, r.url+path, nil)
		req.Host = hostHeader
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, path := range []string{"/readyz", "/healthz", "/metrics", "/.well-known/oauth-protected-resource/mcp", "/mcp"} {
		code, body := get(path, "evil.example")
		if code != http.StatusForbidden || strings.Contains(body, "whoami") {
			t.Errorf("%s with Host evil.example: %d %.200q, want 403 and no detail", path, code, body)
		}
	}
	if code, body := get("/readyz", "localhost"); code != http.StatusOK || !strings.Contains(body, `"plugins"`) {
		t.Errorf("/readyz with Host localhost: %d %s, want the plugin detail", code, body)
	}
}

// TestCallsOutliveTimeouts: a call running past server.read_timeout and
// write_timeout is answered in full, as JSON and on an event stream: the
// deadlines bound reading the request and each write, not the call.
func TestCallsOutliveTimeouts(t *testing.T) {
	for _, mode := range []string{"json_response: true", "json_response: false"} {
		t.Run(mode, func(t *testing.T) {
			r := startHost(t, "server: {read_timeout: 200ms, write_timeout: 200ms, "+mode+"}\n"+basicYAML, host.ServerOptions{})
			for _, v := range []string{modern, legacy} {
				cs := connectVersion(t, r, nil, nil, v)
				if text, isErr := callText(t, cs, "t.slow", map[string]any{"ms": 800}); isErr {
					t.Errorf("%s: slow call past the timeouts: %q", v, text)
				}
			}
		})
	}
}
