package mcpserver

import (
	"context"
	"sync"
)

// Broker carries messages from where they are raised to the stream that
// delivers them: a notification for a session's GET stream, a client's answer
// to a server-to-client request, the continuation of a resumed stream. In one
// process that is a channel; replicas share a broker (for example Redis pub/sub)
// so a message raised on one reaches a stream held by another.
//
// Delivery is best effort and never blocks the publisher: a subscriber that
// falls behind loses messages.
type Broker interface {
	Publish(ctx context.Context, topic string, msg []byte) error
	// Subscribe returns a channel of the topic's messages until cancel is called.
	Subscribe(ctx context.Context, topic string) (msgs <-chan []byte, cancel func(), err error)
}

// MemoryBroker is the in-process Broker.
type MemoryBroker struct {
	mu   sync.Mutex
	subs map[string]map[chan []byte]struct{}
}

// NewMemoryBroker returns an empty in-process broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{subs: map[string]map[chan []byte]struct{}{}}
}

// subscriberBuffer is how many messages a subscriber may fall behind.
const subscriberBuffer = 64

func (b *MemoryBroker) Publish(_ context.Context, topic string, msg []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs[topic] {
		select {
		case ch <- msg:
		default: // a stalled subscriber loses the message rather than stall us
		}
	}
	return nil
}

func (b *MemoryBroker) Subscribe(_ context.Context, topic string) (<-chan []byte, func(), error) {
	ch := make(chan []byte, subscriberBuffer)
	b.mu.Lock()
	if b.subs[topic] == nil {
		b.subs[topic] = map[chan []byte]struct{}{}
	}
	b.subs[topic][ch] = struct{}{}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs[topic], ch)
			if len(b.subs[topic]) == 0 {
				delete(b.subs, topic)
			}
			b.mu.Unlock()
		})
	}, nil
}

// Topics.
func topicGet(session string) string            { return "mcp/s/" + session + "/get" }
func topicReply(session, id string) string      { return "mcp/s/" + session + "/reply/" + id }
func topicStream(session, stream string) string { return "mcp/s/" + session + "/stream/" + stream }
func topicClose(session string) string          { return "mcp/s/" + session + "/close" }

// topicCancel carries "<session>\x00<request id>" (or "<session>\x00": all of
// its requests) to the replica running the request.
const topicCancel = "mcp/cancel"
