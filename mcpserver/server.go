// Package mcpserver is mcphost's MCP protocol engine: the JSON-RPC codec, the
// Streamable HTTP transport, and both protocol eras on one endpoint, chosen per
// request: 2026-07-28 (stateless, per-request _meta, server/discover,
// input-required results, subscriptions/listen) and the session-based
// 2024-11-05 to 2025-11-25 versions (initialize, Mcp-Session-Id, the GET stream,
// resumable SSE, server-to-client requests).
//
// It serves a Backend (what to list, call, read, get and complete, for a
// verified caller) and keeps per-session state behind small interfaces
// (SessionStore, EventStore, Broker) with in-memory defaults, so a shared store
// can replace them without touching the engine.
//
// One file per protocol concept: jsonrpc.go (envelope codec), transport.go
// (HTTP), session.go, events.go, broker.go, stream.go (SSE), discover.go
// (initialize and server/discover), tools.go, resources.go, prompts.go,
// completion.go, logging.go, subscriptions.go, inputstate.go (signed request
// state), call.go (what a backend may do during a call).
package mcpserver

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/auth"
)

// Options configure a Server. Zero values give a working single-process server.
type Options struct {
	// Name and Version identify the server (serverInfo).
	Name, Version string
	// Instructions, if set, are returned by initialize and server/discover.
	Instructions string
	// Stateless serves legacy clients without sessions (no Mcp-Session-Id, no
	// server-to-client requests, no GET stream).
	Stateless bool
	// JSONResponse answers POSTs with application/json instead of SSE.
	JSONResponse bool
	// MaxBodyBytes caps a POST body (default 4 MiB).
	MaxBodyBytes int64
	// SessionTimeout closes idle legacy sessions (0: never).
	SessionTimeout time.Duration
	// SessionCaps bound the legacy sessions the store holds, per user and in
	// total (zero: no cap).
	SessionCaps SessionCaps
	// MaxStreams and MaxStreamsPerUser cap the long-lived event streams (a
	// legacy session's GET stream, subscriptions/listen) open on this server
	// (0: no cap).
	MaxStreams, MaxStreamsPerUser int
	// WriteTimeout bounds each write to a client (the deadline is extended
	// before every write, so a long stream lives on while a client that stops
	// reading is let go). 0: the http.Server's own deadline applies.
	WriteTimeout time.Duration
	// Sessions stores legacy sessions (default: in memory).
	Sessions SessionStore
	// Events keeps SSE events so legacy clients can resume with Last-Event-ID;
	// nil disables resumption.
	Events EventStore
	// Broker carries messages between the code that raises them and the stream
	// that delivers them (default: in process).
	Broker Broker
	// StateSecret signs input-required request state; replicas must share it.
	// Empty: a random per-process secret.
	StateSecret []byte
	// StateTTL bounds how long an input-required round may take (default 15m).
	StateTTL time.Duration
	// ListTTL is the ttlMs hint on list results (2026-07-28).
	ListTTL time.Duration
	// OriginAllowed decides requests with an Origin header (nil: only
	// loopback origins on a loopback listener).
	OriginAllowed func(origin string) bool
	// KeepAlive is the interval of SSE comments on long-lived streams (default 25s).
	KeepAlive time.Duration
	// CallerKey names the owner of a session or request state for a caller
	// (default: the user id).
	CallerKey func(*auth.Caller) string
	Logger    *slog.Logger
	// Tracer, when set, records a span per MCP request (OpenTelemetry's MCP
	// conventions); nil records none.
	Tracer trace.Tracer
	// Now is the clock (tests inject one).
	Now func() time.Time
}

// Server is the MCP engine. It is an http.Handler for the MCP endpoint.
type Server struct {
	b        Backend
	o        Options
	log      *slog.Logger
	state    *stateCodec
	sessions SessionStore
	events   EventStore
	broker   Broker

	serverInfo []byte // {"name":..,"version":..}

	mu        sync.Mutex
	listeners map[*listener]struct{} // subscriptions/listen streams (2026-07-28)
	getters   map[string]int         // legacy sessions with an open GET stream here
	streams   map[string]int         // open long-lived streams by owner
	nStreams  int
	inflight  map[string]context.CancelFunc
	closed    bool
	done      chan struct{}
	nextReq   atomic.Uint64 // server-to-client request ids
}

// New returns an engine serving b.
func New(b Backend, o Options) *Server {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.StateTTL <= 0 {
		o.StateTTL = 15 * time.Minute
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 25 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CallerKey == nil {
		o.CallerKey = func(c *auth.Caller) string {
			if c == nil {
				return ""
			}
			return c.UserID
		}
	}
	if o.Name == "" {
		o.Name = "mcphost"
	}
	// A session that expires is forgotten by the session store without a word
	// to the event store: its streams go once idle that long.
	if me, ok := o.Events.(*MemoryEvents); ok && o.SessionTimeout > 0 {
		me.expireIdle(o.SessionTimeout)
	}
	s := &Server{
		b: b, o: o, log: o.Logger,
		state:     newStateCodec(o.StateSecret, o.StateTTL, o.Now),
		sessions:  o.Sessions,
		events:    o.Events,
		broker:    o.Broker,
		listeners: map[*listener]struct{}{},
		getters:   map[string]int{},
		streams:   map[string]int{},
		inflight:  map[string]context.CancelFunc{},
		done:      make(chan struct{}),
	}
	if s.sessions == nil {
		s.sessions = NewMemorySessions(o.SessionTimeout, o.Now)
	}
	if m, ok := s.sessions.(*MemorySessions); ok {
		// Redis expires a session's events with it; in memory, say when.
		m.onEnd(func(id string) { s.endSession(context.Background(), id) })
	}
	if s.broker == nil {
		s.broker = NewMemoryBroker()
	}
	info := appendString([]byte(`{"name":`), o.Name)
	info = append(info, `,"version":`...)
	info = appendString(info, o.Version)
	s.serverInfo = append(info, '}')
	go s.listenCancels(time.Second)
	return s
}

// Close ends every long-lived stream (subscriptions/listen streams get their
// graceful final response) and stops background work. Requests in flight are
// not interrupted.
// SessionCount reports the live legacy sessions in the store (with a shared
// store, those of every replica); ok is false when the store cannot count.
func (s *Server) SessionCount(ctx context.Context) (n int, ok bool) {
	c, can := s.sessions.(SessionCounter)
	if !can {
		return 0, false
	}
	n, err := c.Count(ctx)
	return n, err == nil
}

func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	if c, ok := s.sessions.(interface{ Close() }); ok {
		c.Close()
	}
}

// Notify tells connected clients that something changed: legacy sessions on
// their GET stream, 2026-07-28 clients on subscriptions/listen streams that
// asked for that kind of change. It never blocks on a slow client.
func (s *Server) Notify(ch Change) {
	method, params := changeNotification(ch)
	if method == "" {
		return
	}
	s.notifyListeners(ch, method, params)
	s.notifySessions(ch, method, params)
}

func changeNotification(ch Change) (string, []byte) {
	switch ch.Kind {
	case ToolsChanged:
		return "notifications/tools/list_changed", nil
	case PromptsChanged:
		return "notifications/prompts/list_changed", nil
	case ResourcesChanged:
		return "notifications/resources/list_changed", nil
	case ResourceUpdated:
		p := appendString([]byte(`{"uri":`), ch.URI)
		return "notifications/resources/updated", append(p, '}')
	}
	return "", nil
}

// bufPool recycles request and response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 {
		return // let big ones go
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
