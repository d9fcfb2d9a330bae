package mcpserver

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The in-memory event store replays after an id, stays within its byte bounds,
// and forgets finished streams once their grace period is over (clock injected).
func TestMemoryEventsBoundsAndExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	m := NewMemoryEvents(64, 1<<20, time.Minute, func() time.Time { return now })
	prime, _ := m.Append(ctx, "s", "a", nil)
	id1, _ := m.Append(ctx, "s", "a", []byte(`{"n":1}`))
	m.Append(ctx, "s", "a", []byte(`{"n":2}`))
	stream, evs, done, err := m.Replay(ctx, "s", prime)
	if err != nil || stream != "a" || done || len(evs) != 2 || string(evs[1].Data) != `{"n":2}` {
		t.Fatalf("replay after priming: %q %v %v %v", stream, evs, done, err)
	}
	if _, evs, _, _ = m.Replay(ctx, "s", id1); len(evs) != 1 {
		t.Fatalf("replay after %s: %v", id1, evs)
	}
	if _, _, _, err := m.Replay(ctx, "other-session", id1); !errors.Is(err, ErrEventsGone) {
		t.Fatalf("another session's id: %v", err)
	}
	// Over 64 bytes per stream the oldest events go.
	for i := 0; i < 20; i++ {
		m.Append(ctx, "s", "a", []byte(`{"n":"0123456789"}`))
	}
	if _, _, _, err := m.Replay(ctx, "s", id1); !errors.Is(err, ErrEventsGone) {
		t.Fatalf("replay of a dropped id: %v", err)
	}
	if st := m.lookupLocked("s", "a"); st.data > 64 {
		t.Fatalf("holds %d bytes of data, bound 64", st.data)
	}
	m.Done(ctx, "s", "a")
	now = now.Add(2 * time.Minute)
	m.Append(ctx, "s", "b", nil) // a new stream sweeps expired ones
	if _, _, _, err := m.Replay(ctx, "s", "a_5"); !errors.Is(err, ErrEventsGone) || m.streamCount() != 1 {
		t.Fatalf("finished stream after its grace: %v, %d streams", err, m.streamCount())
	}
}
