package mcpserver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Session is a legacy (2024-11-05 .. 2025-11-25) MCP session: opened by
// initialize, named by Mcp-Session-Id, and owned by the verified user who
// opened it. Only that user can use it (invariant 9).
type Session struct {
	ID    string
	Owner string
	// ProtocolVersion is the version initialize negotiated.
	ProtocolVersion string
	// ClientCapabilities and ClientInfo are the raw objects of initialize.
	ClientCapabilities []byte
	ClientInfo         []byte
	// LogLevel is the level logging/setLevel chose ("" until then: no logs).
	LogLevel string
	// Subscriptions are the resource URIs the client subscribed to.
	Subscriptions []string
	Created       time.Time
}

// ErrNoSession is returned by a SessionStore for an unknown or expired session.
var ErrNoSession = errors.New("session not found")

// ErrTooManySessions is returned by Create when the store holds SessionCaps.Total.
var ErrTooManySessions = errors.New("too many sessions")

// SessionCaps bound the sessions a store holds, so one token cannot fill
// memory (or Redis) with sessions it never closes. Zero fields are no cap.
type SessionCaps struct {
	// PerOwner is how many sessions one owner may hold: Create closes the
	// owner's least recently used ones to stay within it. An empty owner
	// (unauthenticated serving) is not capped per owner.
	PerOwner int
	// Total is how many sessions the store may hold: Create refuses more.
	Total int
}

// SessionStore keeps legacy sessions. Implementations must be safe for
// concurrent use; one shared by several replicas lets any of them serve any
// session. Get returns a value the caller must not modify; changes go through
// the other methods.
type SessionStore interface {
	// Create stores s within caps. It returns the ids of the sessions it
	// closed to make room (the caller drops what else they held), or
	// ErrTooManySessions, having changed nothing.
	Create(ctx context.Context, s *Session, caps SessionCaps) (closed []string, err error)
	// Get returns the session and marks it used (for the idle timeout).
	Get(ctx context.Context, id string) (*Session, error)
	SetLogLevel(ctx context.Context, id, level string) error
	Subscribe(ctx context.Context, id, uri string) error
	Unsubscribe(ctx context.Context, id, uri string) error
	// SubscribersOf lists the sessions subscribed to uri.
	SubscribersOf(ctx context.Context, uri string) ([]string, error)
	Delete(ctx context.Context, id string) error
}

// MemorySessions is the in-process SessionStore. Sessions idle for longer than
// the timeout are gone (checked on use, and swept once a minute).
type MemorySessions struct {
	timeout time.Duration
	now     func() time.Time

	mu       sync.Mutex
	sessions map[string]*memSession
	byOwner  map[string]map[string]*memSession
	ended    func(id string) // told of sessions that expired (see onEnd)
	stop     chan struct{}
	once     sync.Once
}

type memSession struct {
	s        *Session
	lastUsed time.Time
}

// NewMemorySessions returns an in-memory store; timeout 0 keeps sessions until
// they are deleted.
func NewMemorySessions(timeout time.Duration, now func() time.Time) *MemorySessions {
	if now == nil {
		now = time.Now
	}
	m := &MemorySessions{timeout: timeout, now: now, sessions: map[string]*memSession{}, byOwner: map[string]map[string]*memSession{}, stop: make(chan struct{})}
	if timeout > 0 {
		go m.sweep()
	}
	return m
}

func (m *MemorySessions) sweep() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.mu.Lock()
			gone := m.sweepLocked()
			m.mu.Unlock()
			m.tellEnded(gone)
		}
	}
}

// onEnd makes the store tell fn of each session that expires, so the engine
// can drop what it keeps for it (events, in-flight calls, streams).
func (m *MemorySessions) onEnd(fn func(id string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ended = fn
}

func (m *MemorySessions) sweepLocked() []string {
	var gone []string
	for id, ms := range m.sessions {
		if m.expired(ms) {
			m.removeLocked(id)
			gone = append(gone, id)
		}
	}
	return gone
}

// tellEnded runs outside the lock: the engine's cleanup takes its own.
func (m *MemorySessions) tellEnded(ids []string) {
	m.mu.Lock()
	fn := m.ended
	m.mu.Unlock()
	if fn == nil {
		return
	}
	for _, id := range ids {
		fn(id)
	}
}

func (m *MemorySessions) removeLocked(id string) {
	ms := m.sessions[id]
	if ms == nil {
		return
	}
	delete(m.sessions, id)
	if own := m.byOwner[ms.s.Owner]; own != nil {
		delete(own, id)
		if len(own) == 0 {
			delete(m.byOwner, ms.s.Owner)
		}
	}
}

// Close stops the sweeper.
func (m *MemorySessions) Close() { m.once.Do(func() { close(m.stop) }) }

func (m *MemorySessions) expired(ms *memSession) bool {
	return m.timeout > 0 && m.now().Sub(ms.lastUsed) > m.timeout
}

// SessionCounter is implemented by stores that can say how many live
// sessions they hold (for the sessions gauge).
type SessionCounter interface {
	Count(ctx context.Context) (int, error)
}

// Count reports the live sessions, leaving out idle ones the sweep has not
// removed yet.
func (m *MemorySessions) Count(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, ms := range m.sessions {
		if !m.expired(ms) {
			n++
		}
	}
	return n, nil
}

// Len reports how many sessions are live.
func (m *MemorySessions) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

func (m *MemorySessions) Create(_ context.Context, s *Session, caps SessionCaps) ([]string, error) {
	m.mu.Lock()
	var closed []string
	own := m.byOwner[s.Owner]
	if caps.PerOwner > 0 && s.Owner != "" && len(own) >= caps.PerOwner {
		// Least recently used first; expired ones are the least of all.
		list := make([]*memSession, 0, len(own))
		for _, ms := range own {
			list = append(list, ms)
		}
		slices.SortFunc(list, func(a, b *memSession) int { return a.lastUsed.Compare(b.lastUsed) })
		for _, ms := range list[:len(own)-caps.PerOwner+1] {
			closed = append(closed, ms.s.ID)
		}
	}
	if caps.Total > 0 && len(m.sessions)-len(closed) >= caps.Total {
		// Full: the expired ones may still be here, waiting for the sweep.
		expired := m.sweepLocked()
		closed = slices.DeleteFunc(closed, func(id string) bool { return slices.Contains(expired, id) })
		if len(m.sessions)-len(closed) >= caps.Total {
			m.mu.Unlock()
			m.tellEnded(expired)
			return nil, ErrTooManySessions
		}
		defer m.tellEnded(expired)
	}
	for _, id := range closed {
		m.removeLocked(id)
	}
	ms := &memSession{s: s, lastUsed: m.now()}
	m.sessions[s.ID] = ms
	if m.byOwner[s.Owner] == nil {
		m.byOwner[s.Owner] = map[string]*memSession{}
	}
	m.byOwner[s.Owner][s.ID] = ms
	m.mu.Unlock()
	return closed, nil
}

func (m *MemorySessions) Get(_ context.Context, id string) (*Session, error) {
	m.mu.Lock()
	ms := m.sessions[id]
	if ms == nil {
		m.mu.Unlock()
		return nil, ErrNoSession
	}
	if m.expired(ms) {
		m.removeLocked(id)
		m.mu.Unlock()
		m.tellEnded([]string{id})
		return nil, ErrNoSession
	}
	ms.lastUsed = m.now()
	m.mu.Unlock()
	return ms.s, nil
}

// update replaces the session with a changed copy, so values handed out by Get
// never change under their readers.
func (m *MemorySessions) update(id string, fn func(*Session)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms := m.sessions[id]
	if ms == nil {
		return ErrNoSession
	}
	c := *ms.s
	c.Subscriptions = slices.Clone(c.Subscriptions)
	fn(&c)
	ms.s = &c
	return nil
}

func (m *MemorySessions) SetLogLevel(_ context.Context, id, level string) error {
	return m.update(id, func(s *Session) { s.LogLevel = level })
}

func (m *MemorySessions) Subscribe(_ context.Context, id, uri string) error {
	return m.update(id, func(s *Session) {
		if !slices.Contains(s.Subscriptions, uri) {
			s.Subscriptions = append(s.Subscriptions, uri)
		}
	})
}

func (m *MemorySessions) Unsubscribe(_ context.Context, id, uri string) error {
	return m.update(id, func(s *Session) {
		s.Subscriptions = slices.DeleteFunc(s.Subscriptions, func(u string) bool { return u == uri })
	})
}

func (m *MemorySessions) SubscribersOf(_ context.Context, uri string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id, ms := range m.sessions {
		if !m.expired(ms) && slices.Contains(ms.s.Subscriptions, uri) {
			out = append(out, id)
		}
	}
	return out, nil
}

func (m *MemorySessions) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions[id] == nil {
		return ErrNoSession
	}
	m.removeLocked(id)
	return nil
}
