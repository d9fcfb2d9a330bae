package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/bench/loadgen"
)

// clientKind is how one soak client behaves for the whole run.
type clientKind int

const (
	// kindModern: the go-sdk client on 2026-07-28 (no session).
	kindModern clientKind = iota
	// kindLegacy: the go-sdk client on 2025-11-25, one session (and its GET
	// stream) for the whole run, closed with DELETE at the end.
	kindLegacy
	// kindRaw: hand-made 2026-07-28 requests, every third one a bad request
	// whose exact answer is checked.
	kindRaw
	// kindCycle: go-sdk 2025-11-25 sessions opened, used a few times, closed.
	kindCycle
	// kindAbandon: hand-made 2025-11-25 sessions that make a call (and every
	// other one opens a GET stream and drops its connection) and are then
	// forgotten without DELETE, as by a client that crashed.
	kindAbandon
	// kindSlow: calls that take 0.2-1.5 s, so calls are in flight on the
	// test plugin whenever it is swapped (alternately 2026 and 2025 era).
	kindSlow
)

var allKinds = []clientKind{kindModern, kindLegacy, kindRaw, kindCycle, kindAbandon, kindSlow}

// kindPattern assigns kinds to clients in turn: of 32, 8 modern, 8 legacy
// and 4 of each other kind.
var kindPattern = []clientKind{kindModern, kindLegacy, kindRaw, kindCycle, kindModern, kindLegacy, kindAbandon, kindSlow}

func kindOf(i int) clientKind { return kindPattern[i%len(kindPattern)] }

func (k clientKind) String() string {
	return [...]string{"modern", "legacy", "raw+bad", "legacy cycling", "legacy abandoning", "slow"}[k]
}

const (
	protoModern = loadgen.Protocol2026
	protoLegacy = loadgen.Protocol2025
)

// soakClient is one simulated client: its own user, token, connections and
// random sequence; one request at a time, paced by a ticker.
type soakClient struct {
	s     *soak
	i     int
	kind  clientKind
	user  soakUser
	token string
	hc    *http.Client // plain, for hand-made requests
	sdkHC *http.Client // adds the bearer token, for the go-sdk client
	rng   *rand.Rand
	seq   int

	sid  string // kindAbandon: the session being used
	step int    // kindAbandon: where in the session's life it is
}

func (s *soak) runClient(ctx context.Context, i int, stop <-chan struct{}) {
	tr := s.newTransport()
	c := &soakClient{
		s: s, i: i, kind: kindOf(i), user: s.users[i], token: s.tokens[i],
		hc:    &http.Client{Transport: tr},
		sdkHC: &http.Client{Transport: bearerTransport{token: s.tokens[i], base: tr}},
		rng:   rand.New(rand.NewPCG(uint64(i), 0x50a4)),
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.rate))
	defer tick.Stop()
	switch c.kind {
	case kindRaw:
		for c.next(ctx, stop, tick) {
			c.rawTurn(ctx)
		}
	case kindAbandon:
		for c.next(ctx, stop, tick) {
			c.abandonTurn(ctx)
		}
	default:
		c.runSDK(ctx, stop, tick)
	}
}

// next waits for the client's next turn; false once the soak stops.
func (c *soakClient) next(ctx context.Context, stop <-chan struct{}, tick *time.Ticker) bool {
	select {
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	case <-tick.C:
		return true
	}
}

type bearerTransport struct {
	token string
	base  http.RoundTripper
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// --- go-sdk clients ------------------------------------------------------

func (c *soakClient) protocol() string {
	switch c.kind {
	case kindLegacy, kindCycle:
		return protoLegacy
	case kindSlow:
		if (c.i/len(kindPattern))%2 == 1 {
			return protoLegacy
		}
	}
	return protoModern
}

func (c *soakClient) runSDK(ctx context.Context, stop <-chan struct{}, tick *time.Ticker) {
	version := c.protocol()
	var cs *mcp.ClientSession
	left := 0 // requests before a cycling client closes its session
	defer func() {
		if cs != nil {
			c.closeSession(cs, version)
		}
	}()
	for c.next(ctx, stop, tick) {
		if cs == nil {
			cs = c.connect(ctx, version)
			left = 3 + c.rng.IntN(6)
			continue
		}
		o, answered := c.sdkOp(ctx, cs, c.pickOp())
		if !answered {
			return // interrupted
		}
		if o == outLost || o == outWrong {
			// A real client starts over with a new connection (and session).
			c.s.stats.reconnects.Add(1)
			c.closeSession(cs, version)
			cs = nil
			continue
		}
		if c.kind == kindCycle {
			if left--; left <= 0 {
				c.closeSession(cs, version)
				cs = nil
			}
		}
	}
}

// connect opens a go-sdk client session: initialize (2025-11-25, a session
// and its GET stream) or server/discover (2026-07-28). nil on failure,
// which is recorded.
func (c *soakClient) connect(ctx context.Context, version string) *mcp.ClientSession {
	st := &c.s.stats
	opts := &mcp.ClientOptions{
		ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { st.progress.Add(1) },
		LoggingMessageHandler:       func(context.Context, *mcp.LoggingMessageRequest) { st.logs.Add(1) },
		ToolListChangedHandler:      func(context.Context, *mcp.ToolListChangedRequest) { st.listChanged.Add(1) },
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "mcpbench-soak", Version: "1"}, opts)
	op := "initialize"
	if version == protoModern {
		op = "server/discover"
	}
	tctx, cancel := context.WithTimeout(ctx, c.s.callTimeout)
	defer cancel()
	cs, err := client.Connect(tctx, &mcp.StreamableClientTransport{Endpoint: c.s.base + "/mcp", HTTPClient: c.sdkHC}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		if ctx.Err() == nil {
			o, detail := c.s.judgeSDK(err)
			st.add(op, o, detail)
		}
		return nil
	}
	st.add(op, outOK, "")
	if version == protoLegacy {
		st.sessOpened.Add(1)
		// Progress calls log a line: let it through to this session.
		err := cs.SetLoggingLevel(tctx, &mcp.SetLoggingLevelParams{Level: "info"})
		o, detail := outOK, ""
		if err != nil {
			o, detail = c.s.judgeSDK(err)
		}
		st.add("logging/setLevel", o, detail)
	}
	return cs
}

// closeSession ends a session: DELETE on 2025-11-25.
func (c *soakClient) closeSession(cs *mcp.ClientSession, version string) {
	_ = cs.Close()
	if version == protoLegacy {
		c.s.stats.sessClosed.Add(1)
	}
}

// sdkOp is one of the requests a go-sdk client makes.
type sdkOp int

const (
	opEcho sdkOp = iota
	opWhoami
	opDocuments
	opAdmin
	opProgress
	opList
	opCounter
	opItem
	opSlow
)

// opWeights is the mix of an ordinary client; a slow client makes opSlow
// seven times in ten and opEcho otherwise.
var opWeights = []struct {
	op sdkOp
	w  int
}{
	{opEcho, 30}, {opWhoami, 15}, {opDocuments, 10}, {opAdmin, 5}, {opProgress, 10},
	{opList, 10}, {opCounter, 10}, {opItem, 5}, {opSlow, 5},
}

func (c *soakClient) pickOp() sdkOp {
	if c.kind == kindSlow {
		if c.rng.IntN(10) < 7 {
			return opSlow
		}
		return opEcho
	}
	total := 0
	for _, w := range opWeights {
		total += w.w
	}
	n := c.rng.IntN(total)
	for _, w := range opWeights {
		if n < w.w {
			if w.op == opAdmin && !c.user.admin {
				return opWhoami // hidden from non-admins; raw clients check that
			}
			return w.op
		}
		n -= w.w
	}
	return opEcho
}

// sdkOp makes one request and records its outcome. answered is false when
// the soak was interrupted meanwhile (nothing is recorded then).
func (c *soakClient) sdkOp(ctx context.Context, cs *mcp.ClientSession, op sdkOp) (o outcome, answered bool) {
	c.seq++
	tctx, cancel := context.WithTimeout(ctx, c.s.callTimeout)
	defer cancel()
	var (
		name  string
		err   error
		res   *mcp.CallToolResult
		check func() string
	)
	call := func(tool string, args any, want func(text string, res *mcp.CallToolResult) string) {
		name = "tools/call " + tool
		p := &mcp.CallToolParams{Name: tool, Arguments: args}
		if tool == "progress" {
			p.SetProgressToken(fmt.Sprintf("p%d-%d", c.i, c.seq))
		}
		res, err = cs.CallTool(tctx, p)
		check = func() string { return want(sdkText(res), res) }
	}
	switch op {
	case opEcho:
		want := fmt.Sprintf("c%d-%d", c.i, c.seq)
		call("echo", map[string]any{"text": want}, func(text string, _ *mcp.CallToolResult) string {
			if text != "A:"+want && text != "B:"+want {
				return fmt.Sprintf("echo answered %q, want A:%s or B:%s", text, want, want)
			}
			return ""
		})
	case opWhoami:
		call("whoami", nil, func(_ string, res *mcp.CallToolResult) string {
			sc, _ := res.StructuredContent.(map[string]any)
			if sc["user_id"] != c.user.sub || sc["organization_id"] != c.user.org {
				return fmt.Sprintf("whoami answered user %v of %v, want %s of %s", sc["user_id"], sc["organization_id"], c.user.sub, c.user.org)
			}
			return ""
		})
	case opDocuments:
		call("get-documents", map[string]any{"limit": 5}, func(string, *mcp.CallToolResult) string { return "" })
	case opAdmin:
		call("admin-action", map[string]any{"action": "ping"}, func(string, *mcp.CallToolResult) string { return "" })
	case opProgress:
		call("progress", nil, func(text string, _ *mcp.CallToolResult) string {
			if text != "done" {
				return fmt.Sprintf("progress answered %q, want done", text)
			}
			return ""
		})
	case opSlow:
		ms := 50
		if c.kind == kindSlow {
			ms = 200 + c.rng.IntN(1300)
		}
		call("slow", map[string]any{"ms": ms}, func(text string, _ *mcp.CallToolResult) string {
			if text != "slept" {
				return fmt.Sprintf("slow answered %q, want slept", text)
			}
			return ""
		})
	case opList:
		name = "tools/list"
		var names []string
		for t, e := range cs.Tools(tctx, nil) {
			if e != nil {
				err = e
				break
			}
			names = append(names, t.Name)
		}
		check = func() string {
			for _, want := range []string{"echo", "whoami", "get-documents", "slow"} {
				if !slices.Contains(names, want) {
					return fmt.Sprintf("tools/list lacks %s: %v", want, names)
				}
			}
			// Policy: admin-action is listed to admins only (invariant 4).
			if slices.Contains(names, "admin-action") != c.user.admin {
				return fmt.Sprintf("tools/list of a user with admin=%t: admin-action listed=%t", c.user.admin, !c.user.admin)
			}
			return ""
		}
	case opCounter, opItem:
		name = "resources/read"
		uri, want := "test://counter", "count for "+c.user.sub
		if op == opItem {
			id := strconv.Itoa(c.seq)
			uri, want = "test://items/"+id, `{"id":"`+id+`"}`
		}
		var rr *mcp.ReadResourceResult
		rr, err = cs.ReadResource(tctx, &mcp.ReadResourceParams{URI: uri})
		check = func() string {
			if len(rr.Contents) != 1 || rr.Contents[0].Text != want {
				return fmt.Sprintf("resources/read %s answered %d contents, want one with %q", uri, len(rr.Contents), want)
			}
			return ""
		}
	}
	if err != nil && ctx.Err() != nil {
		return 0, false
	}
	detail := ""
	switch {
	case err != nil:
		o, detail = c.s.judgeSDK(err)
	case res != nil && res.IsError:
		o, detail = c.s.judgeToolError(sdkText(res))
	default:
		if detail = check(); detail != "" {
			o = outWrong
		}
	}
	c.s.stats.add(name, o, detail)
	return o, true
}

func sdkText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// judgeSDK classifies a go-sdk error. A JSON-RPC error is an answer (one
// naming a plugin is the host speaking for a plugin that is down); a session
// the host no longer knows is a wrong answer; anything else (transport
// failures, deadlines, responses the SDK could not read) is lost.
func (s *soak) judgeSDK(err error) (outcome, string) {
	if errors.Is(err, mcp.ErrSessionMissing) {
		return outWrong, "session lost: " + err.Error()
	}
	var we *jsonrpc.Error
	if errors.As(err, &we) {
		if p := namesPlugin(we.Message); p != "" {
			return outPluginErr, p
		}
		return outWrong, err.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return outLost, fmt.Sprintf("no answer within %s", s.callTimeout)
	}
	return outLost, err.Error()
}

// judgeToolError classifies a tool error result: one naming a plugin is the
// host's answer for a killed or restarting plugin; any other is wrong.
func (s *soak) judgeToolError(text string) (outcome, string) {
	if p := namesPlugin(text); p != "" {
		return outPluginErr, p
	}
	return outWrong, "tool error: " + text
}

// namesPlugin is the soak plugin a host error message names ("plugin whoami
// failed running tool whoami", "plugin admin is unavailable (restarting)"),
// or "".
func namesPlugin(msg string) string {
	for _, p := range append(slices.Clone(killTargets), swapTarget) {
		if strings.Contains(msg, "plugin "+p+" ") || strings.Contains(msg, "(plugin "+p+")") {
			return p
		}
	}
	return ""
}

// --- hand-made requests --------------------------------------------------

// rawResponse is a hand-made request's response, read to its end.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// post sends one JSON-RPC message to /mcp with the given extra headers
// (auth: the bearer token, or "" for none).
func (c *soakClient) post(ctx context.Context, body, auth string, hdr ...string) (*rawResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.s.base+"/mcp", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	return &rawResponse{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// judgeRaw classifies a hand-made request that should succeed; check looks
// at its tool result.
func (c *soakClient) judgeRaw(resp *rawResponse, err error, id string, check func(*loadgen.ToolResult) string) (outcome, string) {
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return outLost, fmt.Sprintf("no answer within %s", c.s.callTimeout)
		}
		return outLost, err.Error()
	}
	tr, perr := loadgen.ParseResponse(resp.status, resp.header.Get("Content-Type"), resp.body, []byte(id))
	if perr != nil {
		var re *loadgen.RPCError
		switch {
		case errors.As(perr, &re):
			if p := namesPlugin(re.Message); p != "" {
				return outPluginErr, p
			}
			return outWrong, perr.Error()
		case resp.status != http.StatusOK:
			return outWrong, perr.Error() // an answer, though not JSON-RPC
		}
		return outLost, "malformed response: " + perr.Error()
	}
	if tr.IsError {
		return c.s.judgeToolError(tr.Text())
	}
	if msg := check(tr); msg != "" {
		return outWrong, msg
	}
	return outOK, ""
}

func meta2026() string {
	return `"_meta":{"io.modelcontextprotocol/protocolVersion":"` + protoModern + `","io.modelcontextprotocol/clientCapabilities":{}}`
}

// rawEcho2026 is a well-formed 2026-07-28 echo call.
func (c *soakClient) rawEcho2026(ctx context.Context) {
	c.seq++
	id, text := strconv.Itoa(c.seq), fmt.Sprintf("r%d-%d", c.i, c.seq)
	body := `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + text + `"},` + meta2026() + `}}`
	tctx, cancel := context.WithTimeout(ctx, c.s.callTimeout)
	defer cancel()
	resp, err := c.post(tctx, body, c.token, "MCP-Protocol-Version", protoModern, "Mcp-Method", "tools/call", "Mcp-Name", "echo")
	if err != nil && ctx.Err() != nil {
		return // interrupted
	}
	o, detail := c.judgeRaw(resp, err, id, func(tr *loadgen.ToolResult) string {
		if got := tr.Text(); got != "A:"+text && got != "B:"+text {
			return fmt.Sprintf("echo answered %q, want A:%s or B:%s", got, text, text)
		}
		return ""
	})
	c.s.stats.add("raw tools/call echo", o, detail)
}

// badRequest is a request the host must refuse in one exact way.
type badRequest struct {
	name   string
	status int
	code   int // the JSON-RPC error code; 0 for a 401 from the auth gate
	send   func(c *soakClient, ctx context.Context) (*rawResponse, error)
}

var badRequests = []badRequest{
	{"parse error", http.StatusBadRequest, -32700, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,`, c.token, "MCP-Protocol-Version", protoModern)
	}},
	{"unknown method", http.StatusNotFound, -32601, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"nope/never","params":{`+meta2026()+`}}`, c.token,
			"MCP-Protocol-Version", protoModern, "Mcp-Method", "nope/never")
	}},
	{"Mcp-Name header mismatch", http.StatusBadRequest, -32020, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x"},`+meta2026()+`}}`, c.token,
			"MCP-Protocol-Version", protoModern, "Mcp-Method", "tools/call", "Mcp-Name", "whoami")
	}},
	{"unknown tool", http.StatusOK, -32602, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"no-such-tool","arguments":{},`+meta2026()+`}}`, c.token,
			"MCP-Protocol-Version", protoModern, "Mcp-Method", "tools/call", "Mcp-Name", "no-such-tool")
	}},
	// A tool the caller's policy hides answers exactly like a missing one.
	{"tool hidden by policy", http.StatusOK, -32602, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"admin-action","arguments":{"action":"ping"},`+meta2026()+`}}`, c.token,
			"MCP-Protocol-Version", protoModern, "Mcp-Method", "tools/call", "Mcp-Name", "admin-action")
	}},
	{"no token", http.StatusUnauthorized, 0, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+meta2026()+`}}`, "", "MCP-Protocol-Version", protoModern, "Mcp-Method", "tools/list")
	}},
	{"forged token", http.StatusUnauthorized, 0, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		forged := c.token[:strings.LastIndexByte(c.token, '.')+1] + "AAAA" // the signature replaced
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{`+meta2026()+`}}`, forged, "MCP-Protocol-Version", protoModern, "Mcp-Method", "tools/list")
	}},
	{"unknown session", http.StatusNotFound, -32600, func(c *soakClient, ctx context.Context) (*rawResponse, error) {
		return c.post(ctx, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, c.token, "MCP-Protocol-Version", protoLegacy, "Mcp-Session-Id", "soak-no-such-session")
	}},
}

// rawTurn is a kindRaw client's turn: every third one a bad request, in
// turn, else a good 2026-07-28 call.
func (c *soakClient) rawTurn(ctx context.Context) {
	if c.seq%3 != 2 {
		c.rawEcho2026(ctx)
		return
	}
	c.seq++
	b := badRequests[(c.seq/3)%len(badRequests)]
	if b.name == "tool hidden by policy" && c.user.admin {
		b = badRequests[0]
	}
	tctx, cancel := context.WithTimeout(ctx, c.s.callTimeout)
	defer cancel()
	resp, err := b.send(c, tctx)
	if err != nil && ctx.Err() != nil {
		return
	}
	op := "bad request: " + b.name
	switch {
	case err != nil:
		if errors.Is(err, context.DeadlineExceeded) {
			c.s.stats.add(op, outLost, fmt.Sprintf("no answer within %s", c.s.callTimeout))
		} else {
			c.s.stats.add(op, outLost, err.Error())
		}
	case resp.status != b.status:
		c.s.stats.add(op, outWrong, fmt.Sprintf("HTTP %d, want %d: %.160s", resp.status, b.status, bytes.TrimSpace(resp.body)))
	case b.code == 0:
		if resp.header.Get("WWW-Authenticate") == "" {
			c.s.stats.add(op, outWrong, "401 without a WWW-Authenticate challenge")
		} else {
			c.s.stats.add(op, outBadOK, "")
		}
	default:
		_, perr := loadgen.ParseResponse(resp.status, resp.header.Get("Content-Type"), resp.body, []byte("1"))
		var re *loadgen.RPCError
		if !errors.As(perr, &re) || re.Code != b.code {
			c.s.stats.add(op, outWrong, fmt.Sprintf("want JSON-RPC error %d, got %v", b.code, perr))
		} else {
			c.s.stats.add(op, outBadOK, "")
		}
	}
}

// abandonTurn is one step of a kindAbandon client's session: initialize,
// notifications/initialized, a call, on every other session a GET stream
// whose connection is dropped; then the session is forgotten.
func (c *soakClient) abandonTurn(ctx context.Context) {
	st := &c.s.stats
	tctx, cancel := context.WithTimeout(ctx, c.s.callTimeout)
	defer cancel()
	c.seq++
	interrupted := func(err error) bool { return err != nil && ctx.Err() != nil }
	switch c.step {
	case 0:
		resp, err := c.post(tctx, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"`+protoLegacy+
			`","capabilities":{},"clientInfo":{"name":"mcpbench-soak","version":"1"}}}`, c.token)
		if interrupted(err) {
			return
		}
		o, detail := c.judgeRaw(resp, err, "0", func(*loadgen.ToolResult) string { return "" })
		if o == outOK {
			if c.sid = resp.header.Get("Mcp-Session-Id"); c.sid == "" {
				o, detail = outWrong, "initialize answered without an Mcp-Session-Id"
			} else {
				st.sessOpened.Add(1)
				c.step = 1
			}
		}
		st.add("raw initialize", o, detail)
	case 1:
		resp, err := c.post(tctx, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, c.token,
			"MCP-Protocol-Version", protoLegacy, "Mcp-Session-Id", c.sid)
		if interrupted(err) {
			return
		}
		switch {
		case err != nil:
			st.add("raw notifications/initialized", outLost, err.Error())
		case resp.status != http.StatusAccepted:
			st.add("raw notifications/initialized", outWrong, fmt.Sprintf("HTTP %d, want 202: %.160s", resp.status, bytes.TrimSpace(resp.body)))
		default:
			st.add("raw notifications/initialized", outOK, "")
			c.step = 2
			return
		}
		c.step = 0 // start over with a new session
	case 2:
		id, text := strconv.Itoa(c.seq), fmt.Sprintf("a%d-%d", c.i, c.seq)
		resp, err := c.post(tctx, `{"jsonrpc":"2.0","id":`+id+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":"`+text+`"}}}`, c.token,
			"MCP-Protocol-Version", protoLegacy, "Mcp-Session-Id", c.sid)
		if interrupted(err) {
			return
		}
		o, detail := c.judgeRaw(resp, err, id, func(tr *loadgen.ToolResult) string {
			if got := tr.Text(); got != "A:"+text && got != "B:"+text {
				return fmt.Sprintf("echo answered %q, want A:%s or B:%s", got, text, text)
			}
			return ""
		})
		st.add("raw tools/call echo (legacy)", o, detail)
		if o == outOK && c.seq%2 == 0 {
			c.step = 3
			return
		}
		c.forget()
	case 3:
		o, detail := c.dropStream(tctx)
		if o >= 0 {
			st.add("raw GET stream (dropped)", o, detail)
		}
		c.forget()
	}
}

// forget abandons the session: no DELETE; the host keeps it until its idle
// timeout or the per-user cap closes it.
func (c *soakClient) forget() {
	c.s.stats.sessAbandoned.Add(1)
	c.sid, c.step = "", 0
}

// dropStream opens the session's GET event stream and drops its connection
// once the host has answered: the host must give the stream's slot (and its
// descriptor) back. -1 when interrupted.
func (c *soakClient) dropStream(ctx context.Context) (outcome, string) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.s.base+"/mcp", nil)
	if err != nil {
		return outLost, err.Error()
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("MCP-Protocol-Version", protoLegacy)
	req.Header.Set("Mcp-Session-Id", c.sid)
	resp, err := c.hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return -1, "" // interrupted
		}
		return outLost, err.Error()
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return outWrong, fmt.Sprintf("HTTP %d %s, want 200 text/event-stream: %.160s", resp.StatusCode, ct, bytes.TrimSpace(data))
	}
	// Closing an unfinished body closes the connection: the client is gone.
	resp.Body.Close()
	c.s.stats.streamsDropped.Add(1)
	return outOK, ""
}
