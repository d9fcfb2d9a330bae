package redisstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcphost/mcphost/mcpserver"
)

// Events is the mcpserver.EventStore in Redis, bounded like the memory store
// (mcpserver.MemoryEvents) and atomically across replicas: every change is one
// Lua script, so the bounds hold however many replicas append at once. Bytes
// count data and bookkeeping (an estimate of what Redis spends on a stream and
// an event beyond their data), per stream (data only), per session and in all.
//
// Keys (P is the prefix, S a session, T a stream; stream names never hold ':'):
//
//	P evl:S:T  list of "<seq>:<data>" events, oldest first
//	P evm:S    hash T -> the stream's meta (next and first seq, data bytes,
//	           bytes, last touched), and ":at" -> when the session's keys
//	           were last renewed
//	P evz:S    sorted set of the session's streams, in eviction order
//	P evall    sorted set "T:S" of every stream, in the same order
//	P evc      hash of counters: S -> the session's bytes, ":total" -> all
//
// The score is the eviction order: a finished stream scores its done time
// minus 2^45, so finished streams sort before live ones, oldest first; a live
// stream scores the time of its last touch. Over a bound, a script drops
// finished streams first, then the oldest events of the least recently used
// live streams, then whole live streams, never the one being appended to.
//
// Why the counters are one hash, and how TTLs keep them honest: Redis expires
// keys on its own, and a count kept beside an expired key would drift (count
// bytes no longer held) forever. So a count lives where it outlives what it
// counts. A stream's list has its exact TTL (the grace period once finished,
// the session timeout while live), so its data goes on time; its meta, in the
// session's hash, outlives it and says what to subtract when a sweep (each new
// stream sweeps finished streams past the grace period, each session renewal
// live streams idle past the session timeout, from the head of evall)
// forgets it. A session's hash and index expire with the session (nothing
// appended for the session timeout); its count is then still in evc, the
// shared hash, and the sweep (or the session's next stream) subtracts it
// from the total. evc and evall are renewed with every session's keys, so
// they outlive them all: when nothing at all has been appended for a session
// timeout everything is gone together, counters included, and a replica that
// died mid-stream leaks nothing. Between an expiry and the next sweep the
// counts may exceed what Redis holds, never the other way round, so the
// bounds hold. Sessions' counts sit in one hash beside the total (rather
// than in each session's keys) so that both expire at the same instant.
//
// The scripts name keys of other sessions themselves (eviction), so the store
// needs one Redis, not a cluster, as the session caps do.
type Events struct {
	s   *Store
	now func() time.Time // tests inject a clock; TTLs run on Redis's
}

// Events returns the event store.
func (s *Store) Events() *Events { return &Events{s: s, now: time.Now} }

var _ mcpserver.EventStore = (*Events)(nil)

// Estimated Redis cost (measured with MEMORY USAGE: see
// TestRedisEventsCountOverhead) of a session (its hash and index keys,
// counter field) beyond its name, of a stream (list key, meta field, two
// sorted-set members) beyond its session's and its own name, and of an
// event (list entry) beyond its "<seq>:<data>".
const (
	redisSessionOverhead = 160
	redisStreamOverhead  = 480
	redisEventOverhead   = 16
)

func (e *Events) listKey(session, stream string) string {
	return e.s.o.Prefix + "evl:" + session + ":" + stream
}
func (e *Events) metaKey(session string) string { return e.s.o.Prefix + "evm:" + session }
func (e *Events) zKey(session string) string    { return e.s.o.Prefix + "evz:" + session }
func (e *Events) countKey() string              { return e.s.o.Prefix + "evc" }

// idle is how long a stream no event was appended to is kept: the session
// timeout, or an hour when sessions never expire (a stream whose replica died
// must not stay forever).
func (e *Events) idle() time.Duration {
	if t := e.s.o.SessionTimeout; t > 0 {
		return t
	}
	return time.Hour
}

// doneOffset is subtracted from a finished stream's done time (ms) for its
// score, so that finished streams sort before live ones (scored by their
// last event's time, at least 0) until the year 3084.
const doneOffset = 1 << 45

// eventsLua is shared by the scripts. Numbers go in and out as strings or
// struct-packed bytes: formatting numbers in Lua (printf) was a large part of
// a script's cost. ARGV: 1 prefix, 2 session, 3 now (ms), 4 idle (ms), 5
// grace (ms), 6 the TTL of session and shared keys (ms), 7 TOUCH (ms), 8 and
// 9 the sweep's exclusive bounds for finished and idle streams, 10 the score
// of a stream finishing now; the scripts' own from 11.
var eventsLua = fmt.Sprintf(`
local prefix, S, nowS, idleS, graceS, ttlS = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local now, TOUCH = tonumber(nowS), tonumber(ARGV[7])
local SESSION_OVH, STREAM_OVH, EVENT_OVH, BATCH = %d, %d, %d, 32
local allKey, cKey = prefix .. 'evall', prefix .. 'evc'
local function listKey(s, t) return prefix .. 'evl:' .. s .. ':' .. t end
local function metaKey(s) return prefix .. 'evm:' .. s end
local function zKey(s) return prefix .. 'evz:' .. s end

-- A stream's meta: next seq, first seq kept, data bytes, bytes (data and
-- bookkeeping), when it was last touched (ms). Whether it is finished is
-- its score (negative).
local META = '<i8i8i8i8i8'
local function unpackMeta(m)
  if not m or #m ~= 40 then return nil end
  local n, f, d, b, at = struct.unpack(META, m)
  return {next = n, first = f, data = d, bytes = b, at = at}
end
local function getMeta(s, t) return unpackMeta(redis.call('HGET', metaKey(s), t)) end
local function putMeta(s, t, st)
  redis.call('HSET', metaKey(s), t, struct.pack(META, st.next, st.first, st.data, st.bytes, st.at))
end
-- addTotal adds n (a string) to the total; an empty store has no evc.
local function addTotal(ns)
  local tb = redis.call('HINCRBY', cKey, ':total', ns)
  if tb == 0 then redis.call('HDEL', cKey, ':total') end
  return tb
end
-- charge adds n bytes to the session's count and the total, returns both.
-- ('%%d': tostring(-0) is "-0", which HINCRBY refuses.)
local function charge(s, n)
  local ns = string.format('%%d', n)
  return redis.call('HINCRBY', cKey, s, ns), addTotal(ns)
end
local function sessionBytes(s) return tonumber(redis.call('HGET', cKey, s) or '0') end
local function totalBytes() return tonumber(redis.call('HGET', cKey, ':total') or '0') end

-- forgetCount drops a session's count (its meta expired, or it has no
-- streams left) from the total.
local function forgetCount(s)
  local sb = redis.call('HGET', cKey, s)
  if sb then
    redis.call('HDEL', cKey, s)
    addTotal(string.format('%%d', -tonumber(sb)))
  end
end

local function dropStream(s, t)
  redis.call('DEL', listKey(s, t))
  redis.call('ZREM', allKey, t .. ':' .. s)
  if redis.call('EXISTS', metaKey(s)) == 0 then
    forgetCount(s)
    redis.call('DEL', zKey(s))
    return
  end
  local st = getMeta(s, t)
  if st then
    redis.call('HDEL', metaKey(s), t)
    charge(s, -st.bytes)
  end
  redis.call('ZREM', zKey(s), t)
  if redis.call('ZCARD', zKey(s)) == 0 then
    redis.call('DEL', metaKey(s), zKey(s))
    forgetCount(s)
  end
end

-- trimFirst drops the oldest event of a stream (the caller checked it has
-- more than one) and returns the bytes freed, uncharged; false when the list
-- is gone (expired under its meta).
local function trimFirst(s, t, st)
  local e = redis.call('LPOP', listKey(s, t))
  if not e then return false end
  local freed = EVENT_OVH + #e
  st.first = st.first + 1
  st.data = st.data - (#e - string.find(e, ':', 1, true))
  st.bytes = st.bytes - freed
  return freed
end

local function split(m)
  local i = string.find(m, ':', 1, true)
  return string.sub(m, i + 1), string.sub(m, 1, i - 1)
end

-- sweep forgets the streams with scores below bound, oldest first, a batch
-- per call: finished streams past the grace period (each new stream sweeps
-- them, and adds at most one, so the sweep keeps up), or live streams idle
-- past the session timeout (once per TOUCH per session: streams nobody
-- finished, their replica gone, are rare).
local function sweep(from, bound)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', allKey, from, bound, 'LIMIT', 0, BATCH)) do
    dropStream(split(m))
  end
end

-- shrink brings bytes() under limit in the order of the sorted set z
-- (member(m) -> session, stream): finished streams first, oldest first; then
-- the oldest events of the BATCH least recently used live streams (keep's
-- too, down to its newest); then whole live streams, never keep. Each step
-- frees bytes, so the work is what the bound needs.
local function shrink(z, member, bytes, limit, keep)
  while bytes() > limit do
    local ms = redis.call('ZRANGEBYSCORE', z, '-inf', '(0', 'LIMIT', 0, BATCH)
    if #ms == 0 then break end
    for _, m in ipairs(ms) do
      dropStream(member(m))
      if bytes() <= limit then return end
    end
  end
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', z, '0', '+inf', 'LIMIT', 0, BATCH)) do
    local s, t = member(m)
    local st = getMeta(s, t)
    while st and bytes() > limit and st.next - st.first > 1 do
      local freed = trimFirst(s, t, st)
      if freed then
        charge(s, -freed)
        putMeta(s, t, st)
      else
        dropStream(s, t)
        st = nil
      end
    end
    if bytes() <= limit then return end
  end
  local skip = 0
  while bytes() > limit do
    local ms = redis.call('ZRANGEBYSCORE', z, '0', '+inf', 'LIMIT', skip, BATCH)
    if #ms == 0 then return end
    for _, m in ipairs(ms) do
      if m == keep then
        skip = 1
      else
        dropStream(member(m))
        if bytes() <= limit then return end
      end
    end
  end
end

-- renew renews a session's keys and the shared ones, at most once per
-- TOUCH per session (when, is in the meta's ':at'; at is its value, -1 for
-- none), so their TTL has TOUCH to spare: they always outlive the lists.
local function renew(s, at)
  if now - at >= TOUCH or now < at then
    redis.call('HSET', metaKey(s), ':at', nowS)
    redis.call('PEXPIRE', metaKey(s), ttlS)
    redis.call('PEXPIRE', zKey(s), ttlS)
    redis.call('PEXPIRE', allKey, ttlS)
    redis.call('PEXPIRE', cKey, ttlS)
    sweep('0', ARGV[9])
  end
end
`, redisSessionOverhead, redisStreamOverhead, redisEventOverhead)

// appendScript stores one event (ARGV[12], empty for the priming event) of
// stream ARGV[11] within the bounds ARGV[13..15] (bytes of data per stream,
// bytes per session, bytes in all) and returns its sequence number. Only a
// new stream sweeps, and an event less than TOUCH (a second, less for short
// session timeouts) after the stream's last touch does not touch it again: a
// tool call's result follows its priming event within milliseconds, and its
// append is five commands. (An event appended after Done, which the engine
// never does, makes the stream live again.)
var appendScript = redis.NewScript(eventsLua + `
local T, data = ARGV[11], ARGV[12]
local maxStream, maxSession, maxTotal = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
local list, base = listKey(S, T), STREAM_OVH + #S + #T
local got = redis.call('HMGET', metaKey(S), T, ':at')
local st, sessAt = unpackMeta(got[1]), tonumber(got[2] or '-1')
local delta = 0
if not st then
  sweep('-inf', ARGV[8])
  st = {next = 0, first = 0, data = 0, bytes = base, at = -1}
  delta = base
  if not got[2] then
    -- a new session, or one whose keys expired: what evc counts for it is gone
    forgetCount(S)
    redis.call('DEL', zKey(S))
    delta = delta + SESSION_OVH + #S
  end
end
local seq = st.next
local entry = tostring(seq) .. ':' .. data
if redis.call('RPUSH', list, entry) ~= seq - st.first + 1 then
  -- its older events expired before a sweep came by: they are gone
  redis.call('DEL', list)
  redis.call('RPUSH', list, entry)
  delta = delta - (st.bytes - base)
  st.bytes, st.data, st.first = base, 0, seq
end
st.next = seq + 1
st.data = st.data + #data
st.bytes = st.bytes + EVENT_OVH + #entry
delta = delta + EVENT_OVH + #entry
while st.data > maxStream and st.next - st.first > 1 do
  delta = delta - trimFirst(S, T, st)
end
local sb, tb = charge(S, delta) -- before renew: evc must exist to get its TTL
if now - st.at >= TOUCH or now < st.at then
  st.at = now
  redis.call('ZADD', zKey(S), nowS, T)
  redis.call('ZADD', allKey, nowS, T .. ':' .. S)
  redis.call('PEXPIRE', list, idleS)
  renew(S, sessAt)
end
putMeta(S, T, st)
if sb > maxSession then
  shrink(zKey(S), function(m) return S, m end, function() return sessionBytes(S) end, maxSession, T)
  tb = totalBytes()
end
if tb > maxTotal then
  shrink(allKey, split, totalBytes, maxTotal, T .. ':' .. S)
end
return seq
`)

// doneScript marks stream ARGV[11] finished: it scores with the finished
// ones (XX: a stream already dropped stays dropped) and its events expire
// after the grace period.
var doneScript = redis.NewScript(eventsLua + `
local T = ARGV[11]
if redis.call('ZADD', zKey(S), 'XX', 'CH', ARGV[10], T) > 0 then
  redis.call('ZADD', allKey, 'XX', ARGV[10], T .. ':' .. S)
  redis.call('PEXPIRE', listKey(S, T), graceS)
  renew(S, tonumber(redis.call('HGET', metaKey(S), ':at') or '-1'))
end
return 0
`)

// deleteScript drops every stream of a session and its count.
var deleteScript = redis.NewScript(eventsLua + `
for _, t in ipairs(redis.call('ZRANGE', zKey(S), 0, -1)) do
  redis.call('DEL', listKey(S, t))
  redis.call('ZREM', allKey, t .. ':' .. S)
end
redis.call('DEL', metaKey(S), zKey(S))
forgetCount(S)
return 0
`)

func (e *Events) args(session string, extra ...any) []any {
	now := e.now().UnixMilli()
	idle, grace := e.idle().Milliseconds(), e.s.o.Grace.Milliseconds()
	touch := min(1000, idle/8)
	return append([]any{e.s.o.Prefix, session, now, idle, grace, max(idle, grace) + touch, touch,
		"(" + strconv.FormatInt(now-grace-doneOffset, 10), "(" + strconv.FormatInt(now-idle, 10), now - doneOffset}, extra...)
}

// maxSession is each session's share: a sixteenth of the total, at least a
// stream's worth (as the memory store).
func (e *Events) maxSession() int {
	return max(e.s.o.MaxStreamBytes, e.s.o.MaxEventBytes/16)
}

func (e *Events) Append(ctx context.Context, session, stream string, data []byte) (string, error) {
	if strings.ContainsRune(stream, ':') {
		return "", fmt.Errorf("event store: stream name %q contains ':'", stream)
	}
	ctx, cancel := e.s.ctx(ctx)
	defer cancel()
	n, err := appendScript.Run(ctx, e.s.rdb, nil, e.args(session, stream, data,
		e.s.o.MaxStreamBytes, e.maxSession(), e.s.o.MaxEventBytes)...).Int64()
	if err != nil {
		return "", unavailable(err)
	}
	return stream + "_" + strconv.FormatInt(n, 10), nil
}

// streamMeta is what Replay needs of a stream's meta (evm:S), which the
// scripts pack as five little-endian int64: next, first, data bytes, bytes,
// last touched.
type streamMeta struct{ next, first int64 }

func parseMeta(m string) (streamMeta, bool) {
	if len(m) != 40 {
		return streamMeta{}, false
	}
	b := []byte(m)
	return streamMeta{next: int64(binary.LittleEndian.Uint64(b[0:])), first: int64(binary.LittleEndian.Uint64(b[8:]))}, true
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
	var meta *redis.StringCmd
	var score *redis.FloatCmd
	_, err = e.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		entries = p.LRange(ctx, e.listKey(session, stream), 0, -1)
		meta = p.HGet(ctx, e.metaKey(session), stream)
		score = p.ZScore(ctx, e.zKey(session), stream)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", nil, false, unavailable(err)
	}
	m, ok := parseMeta(meta.Val())
	list := entries.Val()
	// Gone: unknown, dropped, expired (the list goes on time, its meta at
	// the next sweep), or older than the oldest event kept.
	if !ok || len(list) == 0 || seq < m.first-1 || seq >= m.next {
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
	return stream, out, score.Val() < 0, nil // finished streams score below 0
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
	_ = doneScript.Run(ctx, e.s.rdb, nil, e.args(session, stream)...).Err()
}

func (e *Events) DeleteSession(ctx context.Context, session string) {
	ctx, cancel := e.s.ctx(ctx)
	defer cancel()
	_ = deleteScript.Run(ctx, e.s.rdb, nil, e.args(session)...).Err()
}

// counts reports the bytes the store counts in all (every replica's
// streams) and for session, for tests and the benchmark.
func (e *Events) counts(ctx context.Context, session string) (total, sess int64, err error) {
	vals, err := e.s.rdb.HMGet(ctx, e.countKey(), ":total", session).Result()
	if err != nil {
		return 0, 0, err
	}
	n := func(v any) int64 {
		s, _ := v.(string)
		x, _ := strconv.ParseInt(s, 10, 64)
		return x
	}
	return n(vals[0]), n(vals[1]), nil
}
