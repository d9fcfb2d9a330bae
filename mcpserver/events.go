package mcpserver

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EventStore keeps the events of legacy SSE streams so a client that lost its
// connection can resume with Last-Event-ID (2025-11-25). Event ids are
// "<stream>_<seq>". Implementations must be bounded: they may drop old events,
// and Replay then reports ErrEventsGone.
type EventStore interface {
	// Append stores data as the next event of stream and returns its id. A nil
	// data is the priming event that opens a stream.
	Append(ctx context.Context, session, stream string, data []byte) (string, error)
	// Replay returns the stream an event id belongs to and the events after it.
	// done reports that the stream has ended (nothing more will be appended).
	Replay(ctx context.Context, session, lastID string) (stream string, events []Event, done bool, err error)
	// Done marks a stream finished; its events go once they can no longer be
	// resumed (after the store's grace period).
	Done(ctx context.Context, session, stream string)
	// DeleteSession drops every stream of a session.
	DeleteSession(ctx context.Context, session string)
}

// Event is one stored SSE event.
type Event struct {
	ID   string
	Data []byte
}

// ErrEventsGone is returned by Replay for an id it does not have (unknown, or
// dropped to stay within bounds).
var ErrEventsGone = errors.New("events no longer available")

// MemoryEvents is the in-process EventStore, bounded in bytes per stream (its
// events' data: how much of one response stays resumable), per session and in
// total (memory: data and bookkeeping). The latter count what a stream and an event cost in memory
// (bookkeeping included, estimated), not only their data: a legacy SSE tool
// call leaves a stream with an empty priming event and a small result, and
// without the overhead counted, a busy host held hundreds of MB of such
// streams while their data stayed under the bound.
type MemoryEvents struct {
	maxStream  int           // bytes per stream
	maxSession int           // bytes per session
	maxTotal   int           // bytes in all
	grace      time.Duration // how long a finished stream stays resumable
	now        func() time.Time

	mu       sync.Mutex
	sessions map[string]*eventSession
	done     []*memStream // finished streams, oldest first; dropped ones linger until compacted
	dropped  int          // dropped streams still in done
	total    int
	// idle drops streams nothing appended to for this long: their session
	// expired (the session store forgets it without telling us). 0: never.
	idle  time.Duration
	swept time.Time
}

type eventSession struct {
	id      string
	streams map[string]*memStream
	order   []*memStream // creation order, oldest first; dropped ones linger until compacted
	bytes   int
}

type memStream struct {
	sess    *eventSession
	name    string
	first   int // seq of events[0]
	next    int
	events  [][]byte
	data    int // bytes of event data, for maxStream
	bytes   int // data and bookkeeping, for the session and total bounds
	doneAt  time.Time
	lastAt  time.Time
	dropped bool
}

// Estimated heap cost of a stream (struct, map entries, name) and of an event
// (slice header and allocation rounding) beyond its data.
const (
	streamOverhead = 256
	eventOverhead  = 48
)

// NewMemoryEvents returns a store keeping at most maxStream bytes of events per
// stream and maxTotal bytes in all (0 picks 1 MiB and 64 MiB), and per session
// a sixteenth of the total (at least maxStream); finished streams stay
// resumable for grace (0 picks 1 minute).
func NewMemoryEvents(maxStream, maxTotal int, grace time.Duration, now func() time.Time) *MemoryEvents {
	if maxStream <= 0 {
		maxStream = 1 << 20
	}
	if maxTotal <= 0 {
		maxTotal = 64 << 20
	}
	if grace <= 0 {
		grace = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryEvents{maxStream: maxStream, maxSession: max(maxStream, maxTotal/16), maxTotal: maxTotal,
		grace: grace, now: now, sessions: map[string]*eventSession{}}
}

// expireIdle makes streams idle for d go (the engine sets its session timeout).
func (m *MemoryEvents) expireIdle(d time.Duration) {
	m.mu.Lock()
	m.idle = d
	m.mu.Unlock()
}

func (m *MemoryEvents) charge(st *memStream, n int) {
	st.bytes += n
	st.sess.bytes += n
	m.total += n
}

func (m *MemoryEvents) Append(_ context.Context, session, stream string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expireLocked(now)
	sess := m.sessions[session]
	if sess == nil {
		sess = &eventSession{id: session, streams: map[string]*memStream{}}
		m.sessions[session] = sess
	}
	st := sess.streams[stream]
	if st == nil {
		st = &memStream{sess: sess, name: stream}
		sess.streams[stream] = st
		sess.order = append(sess.order, st)
		m.charge(st, streamOverhead+len(stream))
	}
	st.lastAt = now
	seq := st.next
	st.next++
	st.events = append(st.events, append([]byte(nil), data...))
	st.data += len(data)
	m.charge(st, eventOverhead+len(data))
	for st.data > m.maxStream && len(st.events) > 1 {
		m.dropFirstLocked(st)
	}
	if sess.bytes > m.maxSession {
		m.shrinkSessionLocked(sess, st)
	}
	if m.total > m.maxTotal {
		m.shrinkLocked(st)
	}
	return stream + "_" + strconv.Itoa(seq), nil
}

func (m *MemoryEvents) dropFirstLocked(st *memStream) {
	n := len(st.events[0])
	st.events[0] = nil
	st.events = st.events[1:]
	st.first++
	st.data -= n
	m.charge(st, -(n + eventOverhead))
}

func (m *MemoryEvents) dropStreamLocked(st *memStream) {
	if st.dropped {
		return
	}
	st.dropped = true
	sess := st.sess
	m.total -= st.bytes
	sess.bytes -= st.bytes
	st.bytes, st.events = 0, nil
	delete(sess.streams, st.name)
	if len(sess.streams) == 0 {
		delete(m.sessions, sess.id)
	} else if len(sess.order) > 2*len(sess.streams)+8 {
		sess.order = slices.DeleteFunc(sess.order, func(o *memStream) bool { return o.dropped })
	}
	if !st.doneAt.IsZero() {
		m.dropped++
		if m.dropped > len(m.done)/2+32 {
			m.done = slices.DeleteFunc(m.done, func(o *memStream) bool { return o.dropped })
			m.dropped = 0
		}
	}
}

// shrinkSessionLocked brings a session under its bound: its finished streams
// go first, then the oldest events of its live ones, then its oldest live
// streams, never keep (the stream being appended to).
func (m *MemoryEvents) shrinkSessionLocked(sess *eventSession, keep *memStream) {
	over := func() bool { return sess.bytes > m.maxSession }
	for _, st := range slices.Clone(sess.order) {
		if !over() {
			return
		}
		if !st.doneAt.IsZero() {
			m.dropStreamLocked(st)
		}
	}
	for _, st := range sess.order {
		for over() && !st.dropped && len(st.events) > 1 {
			m.dropFirstLocked(st)
		}
	}
	for _, st := range slices.Clone(sess.order) {
		if !over() {
			return
		}
		if st != keep {
			m.dropStreamLocked(st)
		}
	}
}

// shrinkLocked brings the store under its total: finished streams go first,
// oldest first, then the oldest events anywhere, then whole live streams.
func (m *MemoryEvents) shrinkLocked(keep *memStream) {
	for m.total > m.maxTotal && len(m.done) > 0 {
		st := m.done[0]
		m.done[0] = nil
		m.done = m.done[1:]
		if st.dropped {
			m.dropped--
			continue
		}
		st.doneAt = time.Time{} // no longer in done
		m.dropStreamLocked(st)
	}
	for _, sess := range m.sessions {
		for _, st := range sess.order {
			for m.total > m.maxTotal && !st.dropped && len(st.events) > 1 {
				m.dropFirstLocked(st)
			}
		}
	}
	for _, sess := range m.sessions {
		for _, st := range slices.Clone(sess.order) {
			if m.total <= m.maxTotal {
				return
			}
			if st != keep {
				m.dropStreamLocked(st)
			}
		}
	}
}

// expireLocked drops finished streams past their grace period, oldest first
// (constant work per call, however many streams there are), and, every
// quarter of the idle timeout, streams idle past it.
func (m *MemoryEvents) expireLocked(now time.Time) {
	for len(m.done) > 0 {
		st := m.done[0]
		if !st.dropped && now.Sub(st.doneAt) <= m.grace {
			break
		}
		m.done[0] = nil
		m.done = m.done[1:]
		if st.dropped {
			m.dropped--
			continue
		}
		st.doneAt = time.Time{}
		m.dropStreamLocked(st)
	}
	if m.idle <= 0 || now.Sub(m.swept) < m.idle/4 {
		return
	}
	m.swept = now
	for _, sess := range m.sessions {
		for _, st := range slices.Clone(sess.order) {
			if !st.dropped && now.Sub(st.lastAt) > m.idle {
				m.dropStreamLocked(st)
			}
		}
	}
}

func (m *MemoryEvents) lookupLocked(session, stream string) *memStream {
	if sess := m.sessions[session]; sess != nil {
		return sess.streams[stream]
	}
	return nil
}

func (m *MemoryEvents) Replay(_ context.Context, session, lastID string) (string, []Event, bool, error) {
	i := strings.LastIndexByte(lastID, '_')
	if i <= 0 {
		return "", nil, false, ErrEventsGone
	}
	stream := lastID[:i]
	seq, err := strconv.Atoi(lastID[i+1:])
	if err != nil {
		return "", nil, false, ErrEventsGone
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.lookupLocked(session, stream)
	if st == nil || seq < st.first-1 || seq >= st.next {
		return "", nil, false, ErrEventsGone
	}
	var out []Event
	for s := seq + 1; s < st.next; s++ {
		data := st.events[s-st.first]
		if len(data) == 0 {
			continue // the priming event carries nothing to replay
		}
		out = append(out, Event{ID: stream + "_" + strconv.Itoa(s), Data: data})
	}
	return stream, out, !st.doneAt.IsZero(), nil
}

func (m *MemoryEvents) Done(_ context.Context, session, stream string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.lookupLocked(session, stream); st != nil && st.doneAt.IsZero() {
		st.doneAt = m.now()
		m.done = append(m.done, st)
	}
}

func (m *MemoryEvents) DeleteSession(_ context.Context, session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sess := m.sessions[session]; sess != nil {
		for _, st := range slices.Clone(sess.order) {
			m.dropStreamLocked(st)
		}
	}
}

// Bytes reports the bytes held, bookkeeping included (for tests and metrics).
func (m *MemoryEvents) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}

// streamCount and sessionBytes are for tests.
func (m *MemoryEvents) streamCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, sess := range m.sessions {
		n += len(sess.streams)
	}
	return n
}

func (m *MemoryEvents) sessionBytes(session string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sess := m.sessions[session]; sess != nil {
		return sess.bytes
	}
	return 0
}
