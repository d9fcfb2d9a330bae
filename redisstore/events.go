package redisstore

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcphost/mcphost/mcpserver"
)

// Events is the mcpserver.EventStore in Redis. A stream is a list of
// "<seq>:<data>" entries (<prefix>ev:<session>:<stream>), trimmed to the last
// MaxStreamEvents, with its sequence counter beside it; a session's streams
// are in a set, for DeleteSession. Live streams expire with the session
// timeout (an hour when sessions never expire), finished ones after Grace.
type Events struct{ s *Store }

// Events returns the event store.
func (s *Store) Events() *Events { return &Events{s} }

var _ mcpserver.EventStore = (*Events)(nil)

func (e *Events) listKey(session, stream string) string {
	return e.s.o.Prefix + "ev:" + session + ":" + stream
}
func (e *Events) seqKey(session, stream string) string  { return e.listKey(session, stream) + ":n" }
func (e *Events) doneKey(session, stream string) string { return e.listKey(session, stream) + ":done" }
func (e *Events) streamsKey(session string) string      { return e.s.o.Prefix + "evs:" + session }

// liveTTL keeps a stream no one finishes (a replica died) from staying forever.
func (e *Events) liveTTL() time.Duration {
	if t := e.s.o.SessionTimeout; t > 0 {
		return t
	}
	return time.Hour
}

// appendScript adds one event atomically and returns its sequence number.
var appendScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1]) - 1
redis.call('RPUSH', KEYS[2], n .. ':' .. ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('SADD', KEYS[3], ARGV[4])
local ttl = tonumber(ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('PEXPIRE', KEYS[3], ttl)
return n
`)

func (e *Events) Append(ctx context.Context, session, stream string, data []byte) (string, error) {
	ctx, cancel := e.s.ctx(ctx)
	defer cancel()
	keys := []string{e.seqKey(session, stream), e.listKey(session, stream), e.streamsKey(session)}
	n, err := appendScript.Run(ctx, e.s.rdb, keys, data, e.s.o.MaxStreamEvents, e.liveTTL().Milliseconds(), stream).Int64()
	if err != nil {
		return "", unavailable(err)
	}
	return stream + "_" + strconv.FormatInt(n, 10), nil
}

func (e *Events) Replay(ctx context.Context, session, lastID string) (string, []mcpserver.Event, bool, error) {
	i := strings.LastIndexByte(lastID, '_')
	if i <= 0 {
		return "", nil, false, mcpserver.ErrEventsGone
	}
	stream := lastID[:i]
	seq, err := strconv.ParseInt(lastID[i+1:], 10, 64)
	if err != nil || strings.ContainsAny(stream, ": ") {
		return "", nil, false, mcpserver.ErrEventsGone
	}
	ctx, cancel := e.s.ctx(ctx)
	defer cancel()
	var entries *redis.StringSliceCmd
	var next *redis.StringCmd
	var done *redis.IntCmd
	_, err = e.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		entries = p.LRange(ctx, e.listKey(session, stream), 0, -1)
		next = p.Get(ctx, e.seqKey(session, stream))
		done = p.Exists(ctx, e.doneKey(session, stream))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", nil, false, unavailable(err)
	}
	list := entries.Val()
	end, perr := strconv.ParseInt(next.Val(), 10, 64) // the next sequence number
	if len(list) == 0 || perr != nil {
		return "", nil, false, mcpserver.ErrEventsGone
	}
	first, _, _ := parseEntry(list[0])
	if seq < first-1 || seq >= end {
		return "", nil, false, mcpserver.ErrEventsGone
	}
	var out []mcpserver.Event
	for _, entry := range list {
		n, data, ok := parseEntry(entry)
		if !ok || n <= seq || len(data) == 0 {
			continue // the priming event carries nothing to replay
		}
		out = append(out, mcpserver.Event{ID: stream + "_" + strconv.FormatInt(n, 10), Data: data})
	}
	return stream, out, done.Val() > 0, nil
}

func parseEntry(entry string) (int64, []byte, bool) {
	head, data, ok := strings.Cut(entry, ":")
	if !ok {
		return -1, nil, false
	}
	n, err := strconv.ParseInt(head, 10, 64)
	if err != nil {
		return -1, nil, false
	}
	return n, bytes.Clone([]byte(data)), true
}

func (e *Events) Done(ctx context.Context, session, stream string) {
	ctx, cancel := e.s.ctx(ctx)
	defer cancel()
	grace := e.s.o.Grace
	_, _ = e.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, e.doneKey(session, stream), "1", grace)
		p.PExpire(ctx, e.listKey(session, stream), grace)
		p.PExpire(ctx, e.seqKey(session, stream), grace)
		return nil
	})
}

func (e *Events) DeleteSession(ctx context.Context, session string) {
	ctx, cancel := e.s.ctx(ctx)
	defer cancel()
	streams, err := e.s.rdb.SMembers(ctx, e.streamsKey(session)).Result()
	if err != nil {
		return
	}
	keys := []string{e.streamsKey(session)}
	for _, st := range streams {
		keys = append(keys, e.listKey(session, st), e.seqKey(session, st), e.doneKey(session, st))
	}
	_ = e.s.rdb.Del(ctx, keys...).Err()
}
