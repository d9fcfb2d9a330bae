package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/yosida95/uritemplate/v3"

	"github.com/mcphost/mcphost/config"
)

// PluginState is where a plugin is in its lifecycle.
type PluginState string

const (
	StateStarting PluginState = "starting"
	StateRunning  PluginState = "running"
	// StateRestarting: the process died and a restart is pending (with backoff).
	StateRestarting PluginState = "restarting"
	// StateFailed: restarts kept failing; the host keeps trying at the capped
	// interval. Its tools stay listed and calls to them answer with a tool error
	// naming the plugin, so clients see a stable tool list while it recovers.
	StateFailed  PluginState = "failed"
	StateStopped PluginState = "stopped"
)

// Restart backoff: the first restart is quick, repeated crashes wait longer.
const (
	backoffMin = 200 * time.Millisecond
	backoffMax = 30 * time.Second
	// failedAfter consecutive failed restarts mark a plugin failed.
	failedAfter = 5
	// stableAfter resets the backoff once a restarted plugin has stayed up this long.
	stableAfter = time.Minute
	// exitPoll is how often a slot checks whether its process is still alive.
	exitPoll = 100 * time.Millisecond
)

// errSlotRetired means the slot was replaced or removed by a config reload; the
// call should look its tool up again.
var errSlotRetired = errors.New("plugin was replaced")

// installFunc validates a new instance of s against the whole tool table and, if
// it fits, makes it current, returning the instance it replaced (nil if none).
type installFunc func(s *slot, next *instance) (old *instance, err error)

// slot supervises one configured plugin: it holds the live instance, restarts it
// with backoff when it dies, swaps in a new binary without losing calls, and
// bounds its concurrent calls.
type slot struct {
	cfg          *config.Plugin
	dataDir      string
	log          *slog.Logger
	sem          chan struct{}
	drainTimeout time.Duration
	install      installFunc
	// onNotify hears the live instance's resource-updated events, onChange its
	// description-changed events.
	onNotify func(s *slot, uri string)
	onChange func(s *slot, inst *instance)
	// after is the timer restart backoff waits on; nil means time.After.
	after func(time.Duration) <-chan time.Time

	// replaceMu serializes everything that brings up a new instance (restart, swap).
	replaceMu sync.Mutex
	stopOnce  sync.Once

	mu          sync.Mutex
	supervising bool
	cur         *instance
	state       PluginState
	restarts    int
	swaps       int // hot swaps done
	failures    int // consecutive failed restarts
	lastError   string
	retired     bool
	draining    map[*instance]bool // replaced instances finishing their calls
	wake        chan struct{}      // poked when a call sees the plugin die
	done        chan struct{}
	// ctx ends when the slot stops (retire): supervision ends, and a restart
	// starting then gives up rather than wait out its start timeout.
	ctx    context.Context
	cancel context.CancelFunc
}

func newSlot(cfg *config.Plugin, dataDir string, drainTimeout time.Duration, log *slog.Logger, install installFunc) *slot {
	ctx, cancel := context.WithCancel(context.Background())
	return &slot{
		ctx:          ctx,
		cancel:       cancel,
		cfg:          cfg,
		dataDir:      dataDir,
		log:          log.With("plugin", cfg.Name),
		sem:          make(chan struct{}, cfg.MaxConcurrency),
		drainTimeout: drainTimeout,
		install:      install,
		state:        StateStarting,
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
}

// start launches the first instance. A required plugin's failure is returned
// (the caller gives up: the host does not start, a reload changes nothing).
// An optional plugin that cannot start only degrades itself: it is marked
// failed and retried with the usual backoff, and its tools are absent until
// an attempt succeeds (the host never learned what they are).
func (s *slot) start(ctx context.Context) error {
	inst, err := startInstance(ctx, s.cfg, s.dataDir, s.log)
	if err != nil && (s.cfg.Required || ctx.Err() != nil) {
		return err
	}
	if err != nil {
		s.mu.Lock()
		s.state, s.failures, s.lastError, s.supervising = StateFailed, 1, err.Error(), true
		s.mu.Unlock()
		s.log.Error("plugin failed to start; its tools are unavailable while it is retried (plugins."+s.cfg.Name+".required: true makes this fatal)", "error", err, "next_attempt", backoffMin)
		go s.supervise(true)
		return nil
	}
	s.mu.Lock()
	s.cur, s.state, s.supervising = inst, StateRunning, true
	s.mu.Unlock()
	s.log.Info("plugin started", "version", inst.desc().GetVersion(), "pid", inst.pid, "tools", len(inst.desc().GetTools()))
	if !s.cfg.Sandboxed() {
		s.log.Warn("plugin runs without the sandbox (sandbox: off): it can read every file its user can")
	}
	s.listen(inst)
	go s.supervise(false)
	return nil
}

// description is the current instance's description (nil before start).
func (s *slot) current() *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// enter returns the live instance with a call registered on it (release with
// inst.leave). During a swap it returns the new instance; it never waits.
func (s *slot) enter() (*instance, error) {
	for {
		s.mu.Lock()
		inst, state, retired := s.cur, s.state, s.retired
		s.mu.Unlock()
		if retired {
			return nil, errSlotRetired
		}
		if inst == nil || state != StateRunning {
			// The reason (lastError, possibly plugin output) is for operators, in
			// the log and on /readyz from loopback, not for MCP clients.
			return nil, fmt.Errorf("plugin %s is unavailable (%s); try again shortly", s.cfg.Name, state)
		}
		if inst.enter() {
			return inst, nil
		}
		// inst was replaced between reading it and entering it: read again.
		if s.current() == inst {
			return nil, errSlotRetired
		}
	}
}

// acquire takes one of the plugin's concurrency slots, waiting at most until ctx ends.
func (s *slot) acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// checkAlive asks the supervisor to look at the process now (a call just failed).
func (s *slot) checkAlive() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// setCurrent makes next the live instance and returns the one it replaces.
func (s *slot) setCurrent(next *instance) *instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur
	s.cur, s.state, s.lastError = next, StateRunning, ""
	return old
}

// replace starts a new instance from the binary on disk and installs it; the old
// instance finishes its in-flight calls (up to the drain timeout) and stops. On any
// failure the old instance keeps serving and the error is returned.
//
// needed, checked under the replace lock against the current instance, lets a
// caller skip work another path already did (a swap installed the same binary, or
// replaced the instance a restart meant to replace).
func (s *slot) replace(ctx context.Context, why string, needed func(cur *instance) bool) error {
	s.replaceMu.Lock()
	defer s.replaceMu.Unlock()
	if s.isStopping() {
		return errSlotRetired
	}
	if needed != nil && !needed(s.current()) {
		return nil
	}
	next, err := startInstance(ctx, s.cfg, s.dataDir, s.log)
	if err != nil {
		return err
	}
	old, err := s.install(s, next)
	if err != nil {
		next.stop()
		return err
	}
	s.listen(next)
	s.log.Info("plugin instance replaced", "reason", why, "version", next.desc().GetVersion(), "pid", next.pid, "sha256", next.sha256)
	if why == swapReason {
		s.mu.Lock()
		s.swaps++
		s.mu.Unlock()
	}
	if old != nil {
		s.mu.Lock()
		if s.draining == nil {
			s.draining = map[*instance]bool{}
		}
		s.draining[old] = true
		s.mu.Unlock()
		go func() {
			if n := old.retire(s.drainTimeout); n > 0 {
				s.log.Warn("old plugin instance stopped with calls still running", "calls", n, "drain_timeout", s.drainTimeout)
			}
			s.mu.Lock()
			delete(s.draining, old)
			s.mu.Unlock()
		}()
	}
	return nil
}

// listen relays inst's notifications while it lives.
func (s *slot) listen(inst *instance) {
	if s.onNotify != nil {
		go inst.watchNotifications(func(uri string) { s.onNotify(s, uri) }, func() {
			if s.onChange != nil {
				s.onChange(s, inst)
			}
		}, s.log)
	}
}

// servesTemplateURI reports whether uri matches one of s's resource templates.
func (s *slot) servesTemplateURI(table *routeTable, uri string) bool {
	for _, fr := range table.templates {
		if fr.slot != s {
			continue
		}
		if t, err := uritemplate.New(fr.key); err == nil && t.Match(uri) != nil {
			return true
		}
	}
	return false
}

// kill stops every process of the slot now, draining ones included.
func (s *slot) kill() {
	s.mu.Lock()
	insts := []*instance{s.cur}
	for i := range s.draining {
		insts = append(insts, i)
	}
	s.mu.Unlock()
	for _, i := range insts {
		if i != nil {
			i.stop()
		}
	}
}

func (s *slot) isStopping() bool {
	select {
	case <-s.ctx.Done():
		return true
	default:
		return false
	}
}

// supervise watches the process and restarts it with exponential backoff. An
// instance that dies before it was stable for a minute counts as a failure, as
// does a restart that does not come up; failedAfter of them in a row mark the
// plugin failed while it is down (it keeps being retried at the capped backoff).
// down: there is no live instance yet (the first start failed), so it begins
// by retrying.
func (s *slot) supervise(down bool) {
	defer close(s.done)
	ticker := time.NewTicker(exitPoll)
	defer ticker.Stop()
	backoff := backoffMin
	for {
		if !down {
			select {
			case <-s.ctx.Done():
				return
			case <-ticker.C:
			case <-s.wake:
			}
			s.replaceMu.Lock() // a swap in progress decides what is current
			inst := s.current()
			if inst == nil || !inst.exited() {
				s.replaceMu.Unlock()
				if inst != nil && time.Since(inst.started) > stableAfter {
					backoff = backoffMin
					s.mu.Lock()
					s.failures = 0
					s.mu.Unlock()
				}
				continue
			}
			s.mu.Lock()
			if time.Since(inst.started) < stableAfter {
				s.failures++
			}
			s.markDownLocked()
			s.mu.Unlock()
			s.replaceMu.Unlock()
			inst.stop() // reap go-plugin's bookkeeping for the dead process
			s.log.Warn("plugin exited; restarting", "backoff", backoff, "consecutive_failures", s.status().Failures)
		}
		down = false
		if !s.restart(&backoff) {
			return
		}
	}
}

// restart brings up a new instance, retrying with growing backoff until one
// is running (true) or the slot stops (false).
func (s *slot) restart(backoff *time.Duration) bool {
	for {
		select {
		case <-s.ctx.Done():
			return false
		case <-s.wait(*backoff):
		}
		*backoff = min(*backoff*2, backoffMax)
		err := s.replace(s.ctx, "restart after exit", func(cur *instance) bool {
			return cur == nil || cur.exited() // a swap may have brought a new one meanwhile
		})
		if s.isStopping() {
			return false
		}
		if errors.Is(err, errSlotRetired) {
			continue // a reload has not installed this slot yet: try again
		}
		if err == nil {
			s.mu.Lock()
			s.restarts++
			s.mu.Unlock()
			return true
		}
		s.mu.Lock()
		s.failures++
		s.lastError = err.Error()
		s.markDownLocked()
		s.mu.Unlock()
		s.log.Error("plugin restart failed", "error", err, "next_attempt", *backoff)
	}
}

// markDownLocked sets the state of a plugin whose process is gone.
func (s *slot) markDownLocked() {
	s.state = StateRestarting
	if s.failures >= failedAfter || s.cur == nil {
		s.state = StateFailed
	}
}

// shutdown stops supervision and every process at once. It waits for a restart
// in progress, so no process outlives it.
func (s *slot) shutdown() {
	s.retire(0)
	s.kill()
}

// retire stops supervision, lets in-flight calls finish for up to drain, then
// stops the process. Calls that arrive afterwards are told to look again.
func (s *slot) retire(drain time.Duration) {
	s.stopOnce.Do(func() {
		s.cancel()
		s.mu.Lock()
		supervising := s.supervising
		s.retired = true
		s.mu.Unlock()
		if supervising {
			<-s.done
		}
		s.replaceMu.Lock() // wait out a swap in progress
		s.mu.Lock()
		inst := s.cur
		s.state = StateStopped
		s.mu.Unlock()
		s.replaceMu.Unlock()
		if inst != nil {
			inst.retire(drain)
		}
	})
}

// PluginStatus is what /readyz and `mcphost tools` report about a plugin.
type PluginStatus struct {
	Name      string      `json:"name"`
	Version   string      `json:"version"`
	State     PluginState `json:"state"`
	PID       int         `json:"pid"`
	SHA256    string      `json:"sha256"`
	StartedAt time.Time   `json:"started_at"`
	Restarts  int         `json:"restarts"`
	Swaps     int         `json:"swaps"` // hot swaps to a new binary
	// Failures counts crashes and failed restarts in a row (reset after a minute up).
	Failures  int      `json:"consecutive_failures"`
	Tools     []string `json:"tools"`
	LastError string   `json:"last_error,omitempty"`
}

func (s *slot) status() PluginStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := PluginStatus{Name: s.cfg.Name, State: s.state, Restarts: s.restarts, Swaps: s.swaps, Failures: s.failures, LastError: s.lastError, Tools: []string{}}
	if s.cur != nil {
		st.Version = s.cur.desc().GetVersion()
		st.PID = s.cur.pid
		st.SHA256 = s.cur.sha256
		st.StartedAt = s.cur.started
		for _, t := range s.cur.desc().GetTools() {
			st.Tools = append(st.Tools, s.cfg.Prefix+t.GetName())
		}
	}
	return st
}

// wait is a restart backoff timer of d, on the slot's clock.
func (s *slot) wait(d time.Duration) <-chan time.Time {
	if s.after != nil {
		return s.after(d)
	}
	return time.After(d)
}
