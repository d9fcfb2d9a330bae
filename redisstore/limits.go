package redisstore

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcphost/mcphost/ratelimit"
)

// limitScript is GCRA (a token bucket kept as one "theoretical arrival
// time" per key, <prefix>rl:<key>), all or nothing: the call passes only if
// every bucket has room, and only then are they all charged. ARGV[1] is now
// in ms; each key then has its emission interval (ms per call) and burst.
// It returns the wait in ms as a string, "0" when allowed.
var limitScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local tats = {}
local wait = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2*i])
  local burst = tonumber(ARGV[2*i+1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new = tat + interval
  local over = new - now - burst * interval
  if over > wait then wait = over end
  tats[i] = new
end
if wait > 0 then return tostring(wait) end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.ceil(tats[i] - now) + 1)
end
return "0"
`)

// Limiter holds call limits in Redis, so every replica draws on the same
// buckets. While Redis is unreachable it falls back to the replica's own
// in-memory limiter (limits then hold per replica, as without a shared
// store) rather than refusing or freely admitting every call.
type Limiter struct {
	s        *Store
	fallback *ratelimit.Limiter
	now      func() time.Time
	log      *slog.Logger

	mu       sync.Mutex
	lastWarn time.Time
}

// Limiter returns the shared limiter, falling back to fallback.
func (s *Store) Limiter(fallback *ratelimit.Limiter, now func() time.Time, log *slog.Logger) *Limiter {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{s: s, fallback: fallback, now: now, log: log}
}

// Allow charges one call to every check's bucket if all have room; else it
// charges none and says how long until they would.
func (l *Limiter) Allow(checks ...ratelimit.Check) (bool, time.Duration) {
	if len(checks) == 0 {
		return true, 0
	}
	keys := make([]string, len(checks))
	args := make([]any, 1, 1+2*len(checks))
	now := l.now()
	args[0] = strconv.FormatFloat(float64(now.UnixNano())/1e6, 'f', 3, 64)
	for i, c := range checks {
		// The limit is part of the key: a changed limit starts a fresh bucket,
		// as the in-memory limiter does.
		keys[i] = l.s.o.Prefix + "rl:" + c.Key + "|" + strconv.FormatFloat(c.Limit.PerSecond, 'g', -1, 64) + "/" + strconv.Itoa(c.Limit.Burst)
		args = append(args, strconv.FormatFloat(1000/c.Limit.PerSecond, 'f', 3, 64), c.Limit.Burst)
	}
	ctx, cancel := l.s.ctx(context.Background())
	defer cancel()
	res, err := limitScript.Run(ctx, l.s.rdb, keys, args...).Text()
	if err != nil {
		l.warn(err)
		return l.fallback.Allow(checks...)
	}
	ms, err := strconv.ParseFloat(res, 64)
	if err != nil || ms <= 0 {
		return true, 0
	}
	return false, time.Duration(math.Ceil(ms * float64(time.Millisecond)))
}

// warn logs an unreachable Redis at most once a minute.
func (l *Limiter) warn(err error) {
	l.mu.Lock()
	now := time.Now()
	quiet := !l.lastWarn.IsZero() && now.Sub(l.lastWarn) < time.Minute
	if !quiet {
		l.lastWarn = now
	}
	l.mu.Unlock()
	if !quiet {
		l.log.Warn("call limits: the shared store (Redis) is unavailable; limits hold per replica until it is back", "error", err)
	}
}
