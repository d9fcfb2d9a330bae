// Package loadgen drives a running MCP endpoint over Streamable HTTP with N
// concurrent clients and measures tools/call throughput and latency.
//
// It speaks HTTP with net/http directly, not through an MCP client library, so
// that the client's own cost stays small and the same for every server measured:
// request bodies are built once per client (only the id changes), connections are
// kept alive (one per client), and a response is decoded only far enough to find
// the JSON-RPC answer and check it.
//
// Two protocol eras are supported, chosen by Config.Protocol:
//   - session-based (2025-11-25 and earlier): each client sends initialize and
//     notifications/initialized once, then repeats tools/call with the
//     Mcp-Session-Id and MCP-Protocol-Version headers;
//   - sessionless (2026-07-28 and later): no initialize; every request carries
//     params._meta with the protocol version and client capabilities, and the
//     MCP-Protocol-Version, Mcp-Method and Mcp-Name headers.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol versions with a name in this package.
const (
	Protocol2025 = "2025-11-25"
	Protocol2026 = "2026-07-28"
)

// Sessionless reports whether protocol version v is of the sessionless era
// (2026-07-28 or later), in which requests carry _meta instead of a session.
func Sessionless(v string) bool { return v >= Protocol2026 }

// Config describes one load run.
type Config struct {
	// URL is the MCP endpoint, e.g. http://127.0.0.1:8080/mcp.
	URL string
	// Token, if set, is sent as Authorization: Bearer <Token> on every request.
	Token string
	// Concurrency is the number of clients, each with its own connection and
	// at most one request in flight. Default 1.
	Concurrency int
	// Warmup is how long the clients call before measuring starts.
	Warmup time.Duration
	// Duration is how long calls are measured. Ignored when Count is set.
	Duration time.Duration
	// Count, if positive, measures exactly this many calls (over all clients)
	// instead of a duration.
	Count int
	// Protocol is the MCP protocol version to speak. Default Protocol2025.
	Protocol string
	// Tool and Args are the tool called and its arguments (a JSON object).
	// Default: add with {"a":2,"b":3}.
	Tool string
	Args json.RawMessage
	// Check decides whether a result that is not a tool error counts as a
	// success. Default: CheckFor(Tool, Args).
	Check func(*ToolResult) error
	// Timeout bounds each HTTP request. Default 10s.
	Timeout time.Duration
	// OnMeasure, if set, is called just before measuring starts and OnDone just
	// after the last measured call ends (to sample server CPU, for example).
	OnMeasure, OnDone func()
	// OnCall, if set, is called after each measured call with its latency and
	// its error (nil on success), from the calling client's goroutine.
	OnCall func(latency time.Duration, err error)
	// Until, if set, ends the measured period when it is closed, before
	// Duration elapses (tests that end a run on an event).
	Until <-chan struct{}
	// Transport overrides the HTTP transport (tests). Default: a keep-alive
	// transport with one idle connection per client.
	Transport http.RoundTripper
}

// Report is the outcome of a run. Latencies are of successful measured calls.
type Report struct {
	Protocol    string
	Concurrency int
	// Calls succeeded and Errors failed during the measured period.
	Calls, Errors int
	// ErrorKinds counts failures by their message (at most maxErrorKinds kinds).
	ErrorKinds map[string]int
	// Elapsed is the measured period: from measuring start to the end of the
	// last measured call.
	Elapsed            time.Duration
	P50, P90, P99, Max time.Duration
	// ClientCPU is this process's CPU time (user+system) while measuring.
	ClientCPU time.Duration
	// SetupErrors counts failed session openings (session era), before or
	// during the measured period; those during it are also in Errors.
	SetupErrors int

	sorted     []time.Duration // successful latencies, ascending
	setupError string          // the first setup failure, for FirstError
}

// CallsPerSec is successful measured calls per second.
func (r *Report) CallsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Calls) / r.Elapsed.Seconds()
}

// FirstError returns the most frequent failure message, or "".
func (r *Report) FirstError() string {
	best, n := r.setupError, 0
	for k, v := range r.ErrorKinds {
		if k == otherErrors && len(r.ErrorKinds) > 1 {
			continue
		}
		if v > n || (v == n && k < best) {
			best, n = k, v
		}
	}
	return best
}

// Percentile returns the latency below which fraction q (0..1) of the
// successful calls fall.
func (r *Report) Percentile(q float64) time.Duration {
	return percentile(r.sorted, q)
}

const (
	maxErrorKinds = 16
	otherErrors   = "(other errors)"
)

// phases of a run, shared by the clients.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// Run drives cfg.URL until the measured period ends or ctx is cancelled. It
// returns an error only for a bad Config; failed calls are counted in the
// Report, never fatal, so a server that answers every call with an error still
// gets a row.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	rt := cfg.Transport
	if rt == nil {
		tr := NewTransport(cfg.Concurrency)
		defer tr.CloseIdleConnections()
		rt = tr
	}
	hc := &http.Client{Transport: rt, Timeout: cfg.Timeout}

	var (
		phase     atomic.Int32
		remaining atomic.Int64
		ready     sync.WaitGroup // every client tried to open its session
		measured  sync.WaitGroup // every client made its last call
		done      sync.WaitGroup // every client closed its session
	)
	remaining.Store(int64(cfg.Count))
	clients := make([]*client, cfg.Concurrency)
	for i := range clients {
		clients[i] = newClient(&cfg, hc)
	}
	ready.Add(len(clients))
	measured.Add(len(clients))
	done.Add(len(clients))
	for _, c := range clients {
		go func() {
			defer done.Done()
			_ = c.setup(ctx) // a failure is retried in the loop
			ready.Done()
			for ctx.Err() == nil {
				p := phase.Load()
				if p == phaseStop {
					break
				}
				counted := p == phaseMeasure
				if counted && cfg.Count > 0 && remaining.Add(-1) < 0 {
					break
				}
				c.once(ctx, counted)
			}
			measured.Done()
			c.teardown() // outside the measured period
		}()
	}
	ready.Wait()
	sleep(ctx, cfg.Warmup)
	if cfg.OnMeasure != nil {
		cfg.OnMeasure()
	}
	cpu0 := processCPU()
	start := time.Now()
	phase.Store(phaseMeasure)
	if cfg.Count <= 0 {
		t := time.NewTimer(cfg.Duration)
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-cfg.Until:
		}
		t.Stop()
		phase.Store(phaseStop)
	}
	// In count mode the clients stop by themselves; stop also on cancel.
	stop := context.AfterFunc(ctx, func() { phase.Store(phaseStop) })
	defer stop()
	measured.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if cfg.OnDone != nil {
		cfg.OnDone()
	}
	done.Wait()

	rep := &Report{Protocol: cfg.Protocol, Concurrency: cfg.Concurrency, Elapsed: elapsed, ClientCPU: cpu, ErrorKinds: map[string]int{}}
	var lat []time.Duration
	for _, c := range clients {
		rep.Calls += len(c.latencies)
		rep.Errors += c.errors
		rep.SetupErrors += c.setupErrors
		lat = append(lat, c.latencies...)
		for k, v := range c.errorKinds {
			addKind(rep.ErrorKinds, k, v)
		}
		if rep.setupError == "" {
			rep.setupError = c.firstError
		}
	}
	slices.Sort(lat)
	rep.sorted = lat
	rep.P50, rep.P90, rep.P99 = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	if len(lat) > 0 {
		rep.Max = lat[len(lat)-1]
	}
	return rep, nil
}

func (cfg *Config) defaults() error {
	if cfg.URL == "" {
		return errors.New("loadgen: URL is required")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.Count <= 0 && cfg.Duration <= 0 {
		return errors.New("loadgen: set a Duration or a Count")
	}
	if cfg.Protocol == "" {
		cfg.Protocol = Protocol2025
	}
	if cfg.Tool == "" {
		cfg.Tool = "add"
		if cfg.Args == nil {
			cfg.Args = json.RawMessage(`{"a":2,"b":3}`)
		}
	}
	if cfg.Args == nil {
		cfg.Args = json.RawMessage(`{}`)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(cfg.Args, &obj); err != nil || obj == nil {
		return fmt.Errorf("loadgen: Args must be a JSON object: %s", cfg.Args)
	}
	if cfg.Check == nil {
		cfg.Check = CheckFor(cfg.Tool, cfg.Args)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return nil
}

// NewTransport is a keep-alive HTTP/1.1 transport for n concurrent clients on
// one host: at least n idle connections are kept, no proxy, no compression.
func NewTransport(n int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * n,
		MaxIdleConnsPerHost: n,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// client is one simulated MCP client: one connection, one request at a time.
type client struct {
	cfg     *Config
	hc      *http.Client
	session string // Mcp-Session-Id, session era only
	ready   bool   // initialized (always true when sessionless)
	nextID  int64
	// prefix and suffix surround the id in every tools/call body.
	prefix, suffix []byte
	body, idText   []byte
	header         http.Header
	resp           bytes.Buffer

	latencies   []time.Duration
	errors      int
	setupErrors int
	errorKinds  map[string]int
	firstError  string
}

func newClient(cfg *Config, hc *http.Client) *client {
	c := &client{cfg: cfg, hc: hc, errorKinds: map[string]int{}, nextID: 1}
	name, _ := json.Marshal(cfg.Tool)
	params := `{"name":` + string(name) + `,"arguments":` + string(compact(cfg.Args))
	if Sessionless(cfg.Protocol) {
		params += `,"_meta":{"io.modelcontextprotocol/protocolVersion":` + strconv.Quote(cfg.Protocol) +
			`,"io.modelcontextprotocol/clientCapabilities":{}}`
	}
	params += `}`
	c.prefix = []byte(`{"jsonrpc":"2.0","id":`)
	c.suffix = []byte(`,"method":"tools/call","params":` + params + `}`)
	c.header = c.baseHeader()
	if Sessionless(cfg.Protocol) {
		c.ready = true
		c.header.Set("Mcp-Method", "tools/call")
		c.header.Set("Mcp-Name", cfg.Tool)
	}
	return c
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func (c *client) baseHeader() http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("MCP-Protocol-Version", c.cfg.Protocol)
	if c.cfg.Token != "" {
		h.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	return h
}

// setup opens a session (session era): initialize, then notifications/initialized.
func (c *client) setup(ctx context.Context) error {
	if c.ready {
		return nil
	}
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":` + strconv.Quote(c.cfg.Protocol) +
		`,"capabilities":{},"clientInfo":{"name":"mcpbench","version":"1.0.0"}}}`
	h := c.baseHeader()
	h.Del("MCP-Protocol-Version") // not known before initialize
	resp, err := c.post(ctx, []byte(init), h)
	if err != nil {
		return c.setupFailed(err)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if _, err := parseResponse(resp.StatusCode, resp.Header.Get("Content-Type"), c.resp.Bytes(), []byte("0")); err != nil {
		return c.setupFailed(fmt.Errorf("initialize: %w", err))
	}
	h = c.baseHeader()
	if sid != "" {
		h.Set("Mcp-Session-Id", sid)
	}
	resp, err = c.post(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`), h)
	if err != nil {
		return c.setupFailed(err)
	}
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		body := bytes.TrimSpace(c.resp.Bytes())
		return c.setupFailed(fmt.Errorf("notifications/initialized: HTTP %d: %.200s", resp.StatusCode, body))
	}
	c.session, c.header, c.ready = sid, h, true
	return nil
}

func (c *client) setupFailed(err error) error {
	c.setupErrors++
	if c.firstError == "" {
		c.firstError = err.Error()
	}
	return err
}

// teardown ends the session (DELETE), as a well-behaved client does.
func (c *client) teardown() {
	if c.session == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.cfg.URL, nil)
	if err != nil {
		return
	}
	req.Header = c.header.Clone()
	if resp, err := c.hc.Do(req); err == nil {
		resp.Body.Close()
	}
}

// once makes one tools/call (opening the session first if need be) and
// records it when measured.
func (c *client) once(ctx context.Context, measured bool) {
	start := time.Now()
	var err error
	if !c.ready {
		err = c.setup(ctx)
	}
	if err == nil {
		err = c.call(ctx)
	}
	if !measured {
		return
	}
	if c.cfg.OnCall != nil {
		c.cfg.OnCall(time.Since(start), err)
	}
	if err != nil {
		c.errors++
		addKind(c.errorKinds, err.Error(), 1)
		return
	}
	c.latencies = append(c.latencies, time.Since(start))
}

func (c *client) call(ctx context.Context) error {
	id := c.nextID
	c.nextID++
	c.body = append(c.body[:0], c.prefix...)
	c.body = strconv.AppendInt(c.body, id, 10)
	c.body = append(c.body, c.suffix...)
	resp, err := c.post(ctx, c.body, c.header)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotFound && c.session != "" {
		c.session, c.ready = "", false // the session is gone: open a new one
	}
	c.idText = strconv.AppendInt(c.idText[:0], id, 10)
	tr, err := parseResponse(resp.StatusCode, resp.Header.Get("Content-Type"), c.resp.Bytes(), c.idText)
	if err != nil {
		return err
	}
	if tr.Content == nil {
		return errors.New("tools/call result has no content")
	}
	if tr.IsError {
		return fmt.Errorf("tool error: %s", tr.Text())
	}
	return c.cfg.Check(tr)
}

// post sends body and reads the whole response into c.resp. The response is
// always read to its end, so the connection is reused.
func (c *client) post(ctx context.Context, body []byte, h http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = h
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	c.resp.Reset()
	if _, err := c.resp.ReadFrom(resp.Body); err != nil {
		return nil, fmt.Errorf("reading response: %w", err)
	}
	return resp, nil
}

func addKind(m map[string]int, k string, n int) {
	if len(k) > 200 {
		k = k[:200] + "..."
	}
	if _, ok := m[k]; !ok && len(m) >= maxErrorKinds {
		k = otherErrors
	}
	m[k] += n
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1 // nearest rank
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
