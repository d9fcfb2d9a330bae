package redisstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcphost/mcphost/mcpserver"
)

// Sessions is the mcpserver.SessionStore in Redis. A session is a hash
// (<prefix>sess:<id>) with its subscriptions in a set beside it; each
// subscribed URI has a set of its sessions (<prefix>sub:<uri>). Keys expire
// after the idle timeout, which every Get renews. For the caps, every session
// is in a sorted set by last use (<prefix>sessions) and in its owner's set
// (<prefix>owner:<owner>), which Create prunes of the expired.
type Sessions struct{ s *Store }

// Sessions returns the session store.
func (s *Store) Sessions() *Sessions { return &Sessions{s} }

var _ mcpserver.SessionStore = (*Sessions)(nil)

func (ss *Sessions) key(id string) string     { return ss.s.o.Prefix + "sess:" + id }
func (ss *Sessions) subsKey(id string) string { return ss.s.o.Prefix + "sess:" + id + ":subs" }
func (ss *Sessions) uriKey(uri string) string { return ss.s.o.Prefix + "sub:" + uri }
func (ss *Sessions) allKey() string           { return ss.s.o.Prefix + "sessions" }
func (ss *Sessions) ownerKey(o string) string { return ss.s.o.Prefix + "owner:" + o }

func (ss *Sessions) expire(p redis.Pipeliner, ctx context.Context, id string) {
	if t := ss.s.o.SessionTimeout; t > 0 {
		p.PExpire(ctx, ss.key(id), t)
		p.PExpire(ctx, ss.subsKey(id), t)
	}
}

// capScript makes room for a new session within the caps, atomically across
// replicas: it drops expired entries from the sorted sets, picks the owner's
// least recently used sessions beyond the per-owner cap, refuses (returns
// false) when the store would still be over the total, else deletes the
// picked sessions and registers the new one. It names the picked sessions'
// keys itself, so it needs a single Redis (not a cluster), as the store does.
var capScript = redis.NewScript(`
local all, own = KEYS[1], KEYS[2]
local id, now, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local per, total, prefix = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
if ttl > 0 then
  redis.call('ZREMRANGEBYSCORE', all, '-inf', now - ttl)
end
local closed = {}
if per > 0 then
  local members = redis.call('ZRANGE', own, 0, -1)
  local live = {}
  if #members > 0 then
    local scores = redis.call('ZMSCORE', all, unpack(members))
    for i, m in ipairs(members) do
      if scores[i] then
        table.insert(live, {m, tonumber(scores[i])})
      else
        redis.call('ZREM', own, m)
      end
    end
  end
  if #live >= per then
    table.sort(live, function(a, b) return a[2] < b[2] end)
    for i = 1, #live - per + 1 do
      table.insert(closed, live[i][1])
    end
  end
end
if total > 0 and redis.call('ZCARD', all) - #closed >= total then
  return false
end
for _, c in ipairs(closed) do
  redis.call('DEL', prefix .. 'sess:' .. c, prefix .. 'sess:' .. c .. ':subs')
  redis.call('ZREM', all, c)
  redis.call('ZREM', own, c)
end
redis.call('ZADD', all, now, id)
if own ~= '' then
  redis.call('ZADD', own, now, id)
  if ttl > 0 then
    redis.call('PEXPIRE', own, ttl)
  end
end
return closed
`)

func (ss *Sessions) Create(ctx context.Context, s *mcpserver.Session, caps mcpserver.SessionCaps) ([]string, error) {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	own, per := "", caps.PerOwner
	if s.Owner != "" {
		own = ss.ownerKey(s.Owner)
	} else {
		per = 0 // unauthenticated serving: one anonymous owner is everyone
	}
	res, err := capScript.Run(ctx, ss.s.rdb, []string{ss.allKey(), own}, s.ID, time.Now().UnixMilli(),
		ss.s.o.SessionTimeout.Milliseconds(), per, caps.Total, ss.s.o.Prefix).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, mcpserver.ErrTooManySessions
	}
	if err != nil {
		return nil, unavailable(err)
	}
	_, err = ss.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, ss.key(s.ID), map[string]any{
			"owner":   s.Owner,
			"version": s.ProtocolVersion,
			"caps":    s.ClientCapabilities,
			"info":    s.ClientInfo,
			"level":   s.LogLevel,
			"created": s.Created.UnixMilli(),
		})
		for _, uri := range s.Subscriptions {
			p.SAdd(ctx, ss.subsKey(s.ID), uri)
			p.SAdd(ctx, ss.uriKey(uri), s.ID)
		}
		ss.expire(p, ctx, s.ID)
		return nil
	})
	if err != nil {
		return res, unavailable(err)
	}
	return res, nil
}

func (ss *Sessions) Get(ctx context.Context, id string) (*mcpserver.Session, error) {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	var fields *redis.MapStringStringCmd
	var subs *redis.StringSliceCmd
	_, err := ss.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HGetAll(ctx, ss.key(id))
		subs = p.SMembers(ctx, ss.subsKey(id))
		ss.expire(p, ctx, id)
		// Last use orders sessions for the per-owner cap (XX: never re-adds one).
		p.ZAddXX(ctx, ss.allKey(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: id})
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable(err)
	}
	f := fields.Val()
	if len(f) == 0 || f["owner"] == "" && f["version"] == "" {
		return nil, mcpserver.ErrNoSession
	}
	created, _ := strconv.ParseInt(f["created"], 10, 64)
	s := &mcpserver.Session{
		ID:              id,
		Owner:           f["owner"],
		ProtocolVersion: f["version"],
		LogLevel:        f["level"],
		Subscriptions:   subs.Val(),
		Created:         time.UnixMilli(created),
	}
	if c := f["caps"]; c != "" {
		s.ClientCapabilities = []byte(c)
	}
	if i := f["info"]; i != "" {
		s.ClientInfo = []byte(i)
	}
	return s, nil
}

// exists fails with ErrNoSession for a session that is gone.
func (ss *Sessions) exists(ctx context.Context, id string) error {
	n, err := ss.s.rdb.Exists(ctx, ss.key(id)).Result()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return mcpserver.ErrNoSession
	}
	return nil
}

func (ss *Sessions) SetLogLevel(ctx context.Context, id, level string) error {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	if err := ss.exists(ctx, id); err != nil {
		return err
	}
	if err := ss.s.rdb.HSet(ctx, ss.key(id), "level", level).Err(); err != nil {
		return unavailable(err)
	}
	return nil
}

func (ss *Sessions) Subscribe(ctx context.Context, id, uri string) error {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	if err := ss.exists(ctx, id); err != nil {
		return err
	}
	_, err := ss.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, ss.subsKey(id), uri)
		p.SAdd(ctx, ss.uriKey(uri), id)
		ss.expire(p, ctx, id)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

func (ss *Sessions) Unsubscribe(ctx context.Context, id, uri string) error {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	if err := ss.exists(ctx, id); err != nil {
		return err
	}
	_, err := ss.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SRem(ctx, ss.subsKey(id), uri)
		p.SRem(ctx, ss.uriKey(uri), id)
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// SubscribersOf lists the live sessions subscribed to uri, and drops the
// expired ones it finds from the URI's set.
func (ss *Sessions) SubscribersOf(ctx context.Context, uri string) ([]string, error) {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	ids, err := ss.s.rdb.SMembers(ctx, ss.uriKey(uri)).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds, err := ss.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			p.Exists(ctx, ss.key(id))
		}
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	var live, gone []string
	for i, c := range cmds {
		if c.(*redis.IntCmd).Val() > 0 {
			live = append(live, ids[i])
		} else {
			gone = append(gone, ids[i])
		}
	}
	if len(gone) > 0 {
		_ = ss.s.rdb.SRem(ctx, ss.uriKey(uri), toAny(gone)...).Err()
	}
	return live, nil
}

// Count reports the sessions not idle past the timeout, across replicas.
func (ss *Sessions) Count(ctx context.Context) (int, error) {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	from := "-inf"
	if t := ss.s.o.SessionTimeout; t > 0 {
		from = strconv.FormatInt(time.Now().Add(-t).UnixMilli(), 10)
	}
	n, err := ss.s.rdb.ZCount(ctx, ss.allKey(), from, "+inf").Result()
	if err != nil {
		return 0, unavailable(err)
	}
	return int(n), nil
}

func (ss *Sessions) Delete(ctx context.Context, id string) error {
	ctx, cancel := ss.s.ctx(ctx)
	defer cancel()
	var subsCmd *redis.StringSliceCmd
	var ownerCmd *redis.StringCmd
	if _, err := ss.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		subsCmd = p.SMembers(ctx, ss.subsKey(id))
		ownerCmd = p.HGet(ctx, ss.key(id), "owner")
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable(err)
	}
	subs, owner := subsCmd.Val(), ownerCmd.Val()
	var deleted *redis.IntCmd
	_, err := ss.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		deleted = p.Del(ctx, ss.key(id))
		p.Del(ctx, ss.subsKey(id))
		for _, uri := range subs {
			p.SRem(ctx, ss.uriKey(uri), id)
		}
		p.ZRem(ctx, ss.allKey(), id)
		if owner != "" {
			p.ZRem(ctx, ss.ownerKey(owner), id)
		}
		return nil
	})
	if err != nil {
		return unavailable(err)
	}
	if deleted.Val() == 0 {
		return mcpserver.ErrNoSession
	}
	return nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
