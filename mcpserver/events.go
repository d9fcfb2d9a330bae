package mcpserver

import (
	"context"
	"errors"
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

// MemoryEvents is the in-process EventStore, bounded per stream and in total.
type MemoryEvents struct {
	maxStream int           // bytes per stream
	maxTotal  int           // bytes in all
	grace     time.Duration // how long a finished stream stays resumable
	now       func() time.Time

	mu      sync.Mutex
	streams map[string]*memStream // by session + "\x00" + stream
	done    []string              // keys of finished streams, oldest first
	total   int
}

type memStream struct {
	session, name string
	first         int // seq of events[0]
	next          int
	events        [][]byte
	bytes         int
	doneAt        time.Time
}

// NewMemoryEvents returns a store keeping at most maxStream bytes of events per
// stream and maxTotal bytes in all (0 picks 1 MiB and 64 MiB); finished streams
// stay resumable for grace (0 picks 1 minute).
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
	return &MemoryEvents{maxStream: maxStream, maxTotal: maxTotal, grace: grace, now: now, streams: map[string]*memStream{}}
}

func streamKey(session, stream string) string { return session + "\x00" + stream }

func (m *MemoryEvents) Append(_ context.Context, session, stream string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := streamKey(session, stream)
	st := m.streams[k]
	if st == nil {
		m.expireLocked()
		st = &memStream{session: session, name: stream}
		m.streams[k] = st
	}
	seq := st.next
	st.next++
	st.events = append(st.events, append([]byte(nil), data...))
	st.bytes += len(data)
	m.total += len(data)
	for st.bytes > m.maxStream && len(st.events) > 1 {
		m.dropFirstLocked(st)
	}
	if m.total > m.maxTotal {
		m.shrinkLocked()
	}
	return stream + "_" + strconv.Itoa(seq), nil
}

func (m *MemoryEvents) dropFirstLocked(st *memStream) {
	n := len(st.events[0])
	st.events[0] = nil
	st.events = st.events[1:]
	st.first++
	st.bytes -= n
	m.total -= n
}

// shrinkLocked drops finished streams first, then the oldest events anywhere.
func (m *MemoryEvents) shrinkLocked() {
	for k, st := range m.streams {
		if m.total <= m.maxTotal {
			return
		}
		if !st.doneAt.IsZero() {
			m.total -= st.bytes
			delete(m.streams, k)
		}
	}
	for _, st := range m.streams {
		for m.total > m.maxTotal && len(st.events) > 1 {
			m.dropFirstLocked(st)
		}
	}
}

// expireLocked drops finished streams past their grace period, oldest first
// (constant work per call, however many streams there are).
func (m *MemoryEvents) expireLocked() {
	now := m.now()
	for len(m.done) > 0 {
		st := m.streams[m.done[0]]
		if st != nil && !st.doneAt.IsZero() && now.Sub(st.doneAt) <= m.grace {
			return
		}
		if st != nil && !st.doneAt.IsZero() {
			m.total -= st.bytes
			delete(m.streams, m.done[0])
		}
		m.done[0] = ""
		m.done = m.done[1:]
	}
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
	st := m.streams[streamKey(session, stream)]
	if st == nil || seq < st.first-1 || seq >= st.next {
		return "", nil, false, ErrEventsGone
	}
	var out []Event
	for s := seq + 1; s < st.next; s++ {
		data := st.events[s-st.first]
		if data == nil || len(data) == 0 {
			continue // the priming event carries nothing to replay
		}
		out = append(out, Event{ID: stream + "_" + strconv.Itoa(s), Data: data})
	}
	return stream, out, !st.doneAt.IsZero(), nil
}

func (m *MemoryEvents) Done(_ context.Context, session, stream string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := streamKey(session, stream)
	if st := m.streams[k]; st != nil && st.doneAt.IsZero() {
		st.doneAt = m.now()
		m.done = append(m.done, k)
	}
}

func (m *MemoryEvents) DeleteSession(_ context.Context, session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, st := range m.streams {
		if st.session == session {
			m.total -= st.bytes
			delete(m.streams, k)
		}
	}
}

// Bytes reports the bytes held (for tests and metrics).
func (m *MemoryEvents) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.total
}
