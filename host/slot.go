package host

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mcphost/mcphost/config"
)

// PluginState is where a plugin is in its lifecycle.
type PluginState string

const (
	StateStarting PluginState = "starting"
	StateRunning  PluginState = "running"
	// StateRestarting: the process died and a restart is pending (with backoff).
	StateRestarting PluginState = "restarting"
	StateStopped    PluginState = "stopped"
)

// Restart backoff: the first restart is quick, repeated crashes wait longer.
const (
	backoffMin = 200 * time.Millisecond
	backoffMax = 30 * time.Second
	// stableAfter resets the backoff once a restarted plugin has stayed up this long.
	stableAfter = time.Minute
	// exitPoll is how often a slot checks whether its process is still alive.
	exitPoll = 100 * time.Millisecond
)

// slot supervises one configured plugin: it holds the live instance, restarts it
// with backoff when it dies, and bounds its concurrent calls.
type slot struct {
	cfg     *config.Plugin
	dataDir string
	log     *slog.Logger
	sem     chan struct{}
	// onRestart is told about each new instance after a restart (for the registry).
	onRestart func(*slot, *instance)

	stopOnce sync.Once

	mu          sync.Mutex
	supervising bool
	cur         *instance
	state       PluginState
	restarts    int
	lastError   string
	wake        chan struct{} // poked when a call sees the plugin die
	stop        chan struct{}
	done        chan struct{}
}

func newSlot(cfg *config.Plugin, dataDir string, log *slog.Logger) *slot {
	return &slot{
		cfg:     cfg,
		dataDir: dataDir,
		log:     log.With("plugin", cfg.Name),
		sem:     make(chan struct{}, cfg.MaxConcurrency),
		state:   StateStarting,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// start launches the first instance; failure here is a startup error.
func (s *slot) start(ctx context.Context) error {
	inst, err := startInstance(ctx, s.cfg, s.dataDir, s.log)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cur, s.state, s.supervising = inst, StateRunning, true
	s.mu.Unlock()
	s.log.Info("plugin started", "version", inst.desc.GetVersion(), "pid", inst.pid, "tools", len(inst.desc.GetTools()))
	go s.supervise()
	return nil
}

// instance returns the live instance, or an error naming the plugin when it is down.
func (s *slot) instance() (*instance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.state != StateRunning {
		return nil, fmt.Errorf("plugin %s is not running (%s)", s.cfg.Name, s.state)
	}
	return s.cur, nil
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

// supervise watches the process and restarts it with exponential backoff.
func (s *slot) supervise() {
	defer close(s.done)
	ticker := time.NewTicker(exitPoll)
	defer ticker.Stop()
	backoff := backoffMin
	for {
		select {
		case <-s.stop:
			return
		case <-ticker.C:
		case <-s.wake:
		}
		s.mu.Lock()
		inst := s.cur
		s.mu.Unlock()
		if inst != nil && !inst.exited() {
			if time.Since(inst.started) > stableAfter {
				backoff = backoffMin
			}
			continue
		}
		s.mu.Lock()
		s.state = StateRestarting
		s.mu.Unlock()
		if inst != nil {
			inst.stop() // reap go-plugin's bookkeeping for the dead process
			s.log.Warn("plugin exited; restarting", "backoff", backoff)
		}
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, backoffMax)
			next, err := startInstance(context.Background(), s.cfg, s.dataDir, s.log)
			s.mu.Lock()
			if err != nil {
				s.lastError = err.Error()
				s.mu.Unlock()
				s.log.Error("plugin restart failed", "error", err, "next_attempt", backoff)
				continue
			}
			s.cur, s.state, s.lastError = next, StateRunning, ""
			s.restarts++
			s.mu.Unlock()
			s.log.Info("plugin restarted", "pid", next.pid, "restarts", s.restarts)
			if s.onRestart != nil {
				s.onRestart(s, next)
			}
			break
		}
	}
}

// shutdown stops supervision and the process. It waits for a restart in progress,
// so no process outlives it.
func (s *slot) shutdown() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.mu.Lock()
		supervising := s.supervising
		s.mu.Unlock()
		if supervising {
			<-s.done
		}
		s.mu.Lock()
		inst := s.cur
		s.state = StateStopped
		s.mu.Unlock()
		if inst != nil {
			inst.stop()
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
	Tools     []string    `json:"tools"`
	LastError string      `json:"last_error,omitempty"`
}

func (s *slot) status() PluginStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := PluginStatus{Name: s.cfg.Name, State: s.state, Restarts: s.restarts, LastError: s.lastError, Tools: []string{}}
	if s.cur != nil {
		st.Version = s.cur.desc.GetVersion()
		st.PID = s.cur.pid
		st.SHA256 = s.cur.sha256
		st.StartedAt = s.cur.started
		for _, t := range s.cur.desc.GetTools() {
			st.Tools = append(st.Tools, s.cfg.Prefix+t.GetName())
		}
	}
	return st
}
