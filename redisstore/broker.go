package redisstore

import (
	"context"
	"errors"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/mcphost/mcphost/mcpserver"
)

// Broker is the mcpserver.Broker over Redis pub/sub: a message published on
// one replica reaches the subscribers of its topic on every replica. One
// pub/sub connection per process carries all of its topics; the topics are
// subscribed while a local subscriber wants them.
//
// A message is the engine's bytes behind a one-byte tag, so the nil message
// that ends a stream survives the trip.
type Broker struct {
	s *Store

	mu      sync.Mutex
	ps      *redis.PubSub
	subs    map[string]map[chan []byte]struct{}
	confirm map[string]chan struct{} // topics waiting for Redis to confirm
}

// Broker returns the store's broker (one per Store); it connects with its
// first subscription, and Store.Close closes it.
func (s *Store) Broker() *Broker {
	s.brokerOnce.Do(func() {
		s.broker = &Broker{s: s, subs: map[string]map[chan []byte]struct{}{}, confirm: map[string]chan struct{}{}}
	})
	return s.broker
}

var _ mcpserver.Broker = (*Broker)(nil)

const (
	tagMessage = 'm'
	tagEnd     = 'e'
)

func (b *Broker) channel(topic string) string { return b.s.o.Prefix + "topic:" + topic }

func (b *Broker) Publish(ctx context.Context, topic string, msg []byte) error {
	ctx, cancel := b.s.ctx(ctx)
	defer cancel()
	payload := []byte{tagEnd}
	if msg != nil {
		payload = append(append(make([]byte, 0, len(msg)+1), tagMessage), msg...)
	}
	if err := b.s.rdb.Publish(ctx, b.channel(topic), payload).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

// subscriberBuffer is how far a subscriber may fall behind before it loses
// messages (delivery never blocks the reader).
const subscriberBuffer = 64

// Subscribe returns once Redis confirmed the subscription, so a message
// published after it returns is delivered.
func (b *Broker) Subscribe(ctx context.Context, topic string) (<-chan []byte, func(), error) {
	ch := make(chan []byte, subscriberBuffer)
	name := b.channel(topic)
	b.mu.Lock()
	if b.ps == nil {
		b.ps = b.s.rdb.Subscribe(context.Background())
		go b.read(b.ps)
	}
	set := b.subs[name]
	first := set == nil
	if first {
		set = map[chan []byte]struct{}{}
		b.subs[name] = set
	}
	set[ch] = struct{}{}
	wait := b.confirm[name]
	if first {
		wait = make(chan struct{})
		b.confirm[name] = wait
	}
	ps := b.ps
	b.mu.Unlock()

	cancel := func() { b.unsubscribe(name, ch) }
	if first {
		sctx, done := b.s.ctx(ctx)
		err := ps.Subscribe(sctx, name)
		done()
		if err != nil {
			cancel()
			return nil, nil, unavailable(err)
		}
	}
	if wait != nil {
		tctx, done := b.s.ctx(ctx)
		defer done()
		select {
		case <-wait:
		case <-tctx.Done():
			cancel()
			return nil, nil, unavailable(errors.New("no subscription confirmation from Redis"))
		}
	}
	return ch, cancel, nil
}

func (b *Broker) unsubscribe(name string, ch chan []byte) {
	b.mu.Lock()
	set := b.subs[name]
	delete(set, ch)
	last := set != nil && len(set) == 0
	if last {
		delete(b.subs, name)
		delete(b.confirm, name)
	}
	ps := b.ps
	b.mu.Unlock()
	if last && ps != nil {
		ctx, done := b.s.ctx(context.Background())
		_ = ps.Unsubscribe(ctx, name)
		done()
	}
}

// read hands each message to the topic's local subscribers and releases the
// subscribers waiting for a confirmation. go-redis reconnects and
// resubscribes by itself after a connection loss; messages published
// meanwhile are lost, as the Broker contract allows.
func (b *Broker) read(ps *redis.PubSub) {
	for m := range ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)) {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			b.mu.Lock()
			if c := b.confirm[m.Channel]; c != nil {
				close(c)
				b.confirm[m.Channel] = nil
			}
			b.mu.Unlock()
		case *redis.Message:
			var msg []byte
			if len(m.Payload) > 0 && m.Payload[0] == tagMessage {
				msg = []byte(m.Payload[1:])
			}
			b.mu.Lock()
			for ch := range b.subs[m.Channel] {
				select {
				case ch <- msg:
				default: // a subscriber that fell behind loses the message
				}
			}
			b.mu.Unlock()
		}
	}
}

// Close ends the pub/sub connection.
func (b *Broker) Close() error {
	b.mu.Lock()
	ps := b.ps
	b.ps = nil
	b.mu.Unlock()
	if ps != nil {
		return ps.Close()
	}
	return nil
}
