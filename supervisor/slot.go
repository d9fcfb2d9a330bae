// Package supervisor runs plugin processes: it starts each one through the
// go-plugin handshake (sandboxed, with only its configured environment),
// restarts it with backoff when it dies, swaps in a changed binary beside the
// running one, drains a replaced instance's calls, and reports status. What
// the plugins serve, and who may call it, is the router's business: a Slot
// tells its Owner about new instances and events and never looks at routes.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcphost/mcphost/config"
)

// State is where a plugin is in its lifecycle.
type State string

const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	// StateRestarting: the process died and a restart is pending (with backoff).
	StateRestarting State = "restarting"
	// StateFailed: restarts kept failing; the host keeps trying at the capped
	// interval. Its tools stay listed and calls to them answer with a tool error
	// naming the plugin, so clients see a stable tool list while it recovers.
	StateFailed  State = "failed"
	StateStopped State = "stopped"
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

// ErrRetired means the slot was replaced or removed by a config reload; the
// call should look its tool up again.
var ErrRetired = errors.New("plugin was replaced")

// Owner is told what happens in a slot: the host, which keeps every plugin's
// routes. Its methods may be called concurrently from the slot's goroutines.
type Owner interface {
	// Install makes next the live instance of s if what it describes fits
	// beside the other plugins (calling s.SetCurrent), and returns the
	// instance it replaced (nil if none). An error leaves s as it was.
	Install(s *Slot, next *Instance) (old *Instance, err error)
	// DescriptionChanged: inst, live in s, announced a new description.
	DescriptionChanged(s *Slot, inst *Instance)
	// ResourceUpdated: s's live instance says the resource at uri changed.
	ResourceUpdated(s *Slot, uri string)
}

// Options are what a slot needs beside its plugin's config.
type Options struct {
	DataDir string // data_dir: the plugin gets DataDir/plugins/<name>
	Logger  *slog.Logger
	Owner   Owner
	// After is the timer restart backoff waits on; nil means time.After.
	// Tests pass their own to drive restarts without waiting.
	After func(time.Duration) <-chan time.Time
	// Now is the clock that decides when a restarted plugin has been up long
	// enough to reset its backoff; nil means time.Now.
	Now func() time.Time
}

// Slot supervises one configured plugin: it holds the live instance, restarts it
// with backoff when it dies, swaps in a new binary without losing calls, and
// bounds its concurrent calls.
type Slot struct {
	cfg          *config.Plugin
	dataDir      string
	log          *slog.Logger
	sem          chan struct{}
	drainTimeout time.Duration
	owner        Owner
	after        func(time.Duration) <-chan time.Time
	now          func() time.Time

	// replaceMu serializes everything that brings up a new instance (restart, swap).
	replaceMu sync.Mutex
	stopOnce  sync.Once

	mu          sync.Mutex
	supervising bool
	cur         *Instance
	state       State
	restarts    int
	swaps       int    // hot swaps done
	installing  string // why the instance being installed replaces the current one
	failures    int    // consecutive failed restarts
	lastError   string
	retired     bool
	draining    map[*Instance]bool // replaced instances finishing their calls
	wake        chan struct{}      // poked when a call sees the plugin die
	done        chan struct{}
	// ctx ends when the slot stops (retire): supervision ends, and a restart
	// starting then gives up rather than wait out its start timeout.
	ctx    context.Context
	cancel context.CancelFunc
}

// New prepares the slot of plugin cfg; Start launches it.
func New(cfg *config.Plugin, o Options) *Slot {
	ctx, cancel := context.WithCancel(context.Background())
	return &Slot{
		ctx:          ctx,
		cancel:       cancel,
		cfg:          cfg,
		dataDir:      o.DataDir,
		log:          o.Logger.With("plugin", cfg.Name),
		sem:          make(chan struct{}, cfg.MaxConcurrency),
		drainTimeout: cfg.DrainTimeout,
		owner:        o.Owner,
		after:        o.After,
		now:          o.Now,
		state:        StateStarting,
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
}

// Config is the plugin's configuration (never changed: a reload that changes
// it makes a new slot).
func (s *Slot) Config() *config.Plugin { return s.cfg }

// Start launches the first instance. A required plugin's failure is returned
// (the caller gives up: the host does not start, a reload changes nothing).
// An optional plugin that cannot start only degrades itself: it is marked
// failed and retried with the usual backoff, and its tools are absent until
// an attempt succeeds (the host never learned what they are).
func (s *Slot) Start(ctx context.Context) error {
	inst, err := s.startInstance(ctx)
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
	s.log.Info("plugin started", "version", inst.Desc().GetVersion(), "pid", inst.pid, "tools", len(inst.Desc().GetTools()))
	if !s.cfg.Sandboxed() {
		s.log.Warn("plugin runs without the sandbox (sandbox: off): it can read every file its user can")
	}
	s.listen(inst)
	go s.supervise(false)
	return nil
}

// Current is the live instance (nil before one started).
func (s *Slot) Current() *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Enter returns the live instance with a call registered on it (release with
// inst.Leave). During a swap it returns the new instance; it never waits.
func (s *Slot) Enter() (*Instance, error) {
	for {
		s.mu.Lock()
		inst, state, retired := s.cur, s.state, s.retired
		s.mu.Unlock()
		if retired {
			return nil, ErrRetired
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
		if s.Current() == inst {
			return nil, ErrRetired
		}
	}
}

// Acquire takes one of the plugin's concurrency slots, waiting at most until ctx ends.
func (s *Slot) Acquire(ctx context.Context) (release func(), err error) {
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// CheckAlive asks the supervisor to look at the process now (a call just failed).
func (s *Slot) CheckAlive() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// SetCurrent makes next the live instance and returns the one it replaces.
// Only the Owner calls it, from Install.
func (s *Slot) SetCurrent(next *Instance) *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur
	s.cur, s.state, s.lastError = next, StateRunning, ""
	// Counted here, not after Install returns, so the status never shows the
	// new instance with the old counts.
	switch s.installing {
	case swapReason:
		s.swaps++
	case restartReason:
		s.restarts++
	}
	s.installing = ""
	return old
}

// replace starts a new instance from the binary on disk and installs it; the old
// instance finishes its in-flight calls (up to the drain timeout) and stops. On any
// failure the old instance keeps serving and the error is returned.
//
// needed, checked under the replace lock against the current instance, lets a
// caller skip work another path already did (a swap installed the same binary, or
// replaced the instance a restart meant to replace).
func (s *Slot) replace(ctx context.Context, why string, needed func(cur *Instance) bool) error {
	s.replaceMu.Lock()
	defer s.replaceMu.Unlock()
	if s.isStopping() {
		return ErrRetired
	}
	if needed != nil && !needed(s.Current()) {
		return nil
	}
	next, err := s.startInstance(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.installing = why
	s.mu.Unlock()
	old, err := s.owner.Install(s, next)
	s.mu.Lock()
	s.installing = ""
	s.mu.Unlock()
	if err != nil {
		next.stop()
		return err
	}
	s.listen(next)
	s.log.Info("plugin instance replaced", "reason", why, "version", next.Desc().GetVersion(), "pid", next.pid, "sha256", next.sha256)
	if old != nil {
		s.mu.Lock()
		if s.draining == nil {
			s.draining = map[*Instance]bool{}
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

// listen relays inst's notifications to the owner while inst lives.
func (s *Slot) listen(inst *Instance) {
	go inst.watchNotifications(func(uri string) { s.owner.ResourceUpdated(s, uri) }, func() {
		s.owner.DescriptionChanged(s, inst)
	}, s.log)
}

// Kill stops every process of the slot now, draining ones included.
func (s *Slot) Kill() {
	s.mu.Lock()
	insts := []*Instance{s.cur}
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

func (s *Slot) isStopping() bool {
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
func (s *Slot) supervise(down bool) {
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
			inst := s.Current()
			if inst == nil || !inst.exited() {
				s.replaceMu.Unlock()
				if inst != nil && s.clock().Sub(inst.started) > stableAfter {
					backoff = backoffMin
					s.mu.Lock()
					s.failures = 0
					s.mu.Unlock()
				}
				continue
			}
			s.mu.Lock()
			if s.clock().Sub(inst.started) < stableAfter {
				s.failures++
			}
			s.markDownLocked()
			s.mu.Unlock()
			s.replaceMu.Unlock()
			inst.stop() // reap go-plugin's bookkeeping for the dead process
			s.log.Warn("plugin exited; restarting", "backoff", backoff, "consecutive_failures", s.Status().Failures)
		}
		down = false
		if !s.restart(&backoff) {
			return
		}
	}
}

// restart brings up a new instance, retrying with growing backoff until one
// is running (true) or the slot stops (false).
func (s *Slot) restart(backoff *time.Duration) bool {
	for {
		select {
		case <-s.ctx.Done():
			return false
		case <-s.wait(*backoff):
		}
		*backoff = min(*backoff*2, backoffMax)
		err := s.replace(s.ctx, restartReason, func(cur *Instance) bool {
			return cur == nil || cur.exited() // a swap may have brought a new one meanwhile
		})
		if s.isStopping() {
			return false
		}
		if errors.Is(err, ErrRetired) {
			continue // a reload has not installed this slot yet: try again
		}
		if err == nil {
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
func (s *Slot) markDownLocked() {
	s.state = StateRestarting
	if s.failures >= failedAfter || s.cur == nil {
		s.state = StateFailed
	}
}

// Shutdown stops supervision and every process at once. It waits for a restart
// in progress, so no process outlives it.
func (s *Slot) Shutdown() {
	s.Retire(0)
	s.Kill()
}

// Retire stops supervision, lets in-flight calls finish for up to drain, then
// stops the process. Calls that arrive afterwards are told to look again.
func (s *Slot) Retire(drain time.Duration) {
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

// Status is what /readyz and `mcphost tools` report about a plugin.
type Status struct {
	Name      string    `json:"name"`
	Version   string    `json:"version"`
	State     State     `json:"state"`
	PID       int       `json:"pid"`
	SHA256    string    `json:"sha256"`
	StartedAt time.Time `json:"started_at"`
	Restarts  int       `json:"restarts"`
	Swaps     int       `json:"swaps"` // hot swaps to a new binary
	// Failures counts crashes and failed restarts in a row (reset after a minute up).
	Failures  int      `json:"consecutive_failures"`
	Tools     []string `json:"tools"`
	LastError string   `json:"last_error,omitempty"`
}

// Status reports the plugin's state now.
func (s *Slot) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Name: s.cfg.Name, State: s.state, Restarts: s.restarts, Swaps: s.swaps, Failures: s.failures, LastError: s.lastError, Tools: []string{}}
	if s.cur != nil {
		st.Version = s.cur.Desc().GetVersion()
		st.PID = s.cur.pid
		st.SHA256 = s.cur.sha256
		st.StartedAt = s.cur.started
		for _, t := range s.cur.Desc().GetTools() {
			st.Tools = append(st.Tools, s.cfg.Prefix+t.GetName())
		}
	}
	return st
}

// startInstance starts a new process of the plugin, its start time on the
// slot's clock.
func (s *Slot) startInstance(ctx context.Context) (*Instance, error) {
	inst, err := startInstance(ctx, s.cfg, s.dataDir, s.log)
	if err == nil {
		inst.started = s.clock()
	}
	return inst, err
}

func (s *Slot) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// wait is a restart backoff timer of d, on the slot's clock.
func (s *Slot) wait(d time.Duration) <-chan time.Time {
	if s.after != nil {
		return s.after(d)
	}
	return time.After(d)
}
