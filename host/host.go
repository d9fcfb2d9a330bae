// Package host runs mcphost's plugins and routes MCP tool calls to them: it starts
// and supervises plugin processes, keeps the table of exposed tools, enforces
// per-tool policy, and serves it all over HTTP (see Server). The MCP transport is a
// thin layer over Host (mcp.go), so it can be replaced without touching plugins.
package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// ErrUnknownTool is returned for a tool that does not exist or that the caller may
// not call: the two must be indistinguishable (invariant 4).
var ErrUnknownTool = errors.New("unknown tool")

// ErrShuttingDown is returned for calls that arrive after shutdown began.
var ErrShuttingDown = errors.New("mcphost is shutting down")

// Host owns the plugins and the tool routing table.
type Host struct {
	cfg   *config.Config
	log   *slog.Logger
	slots []*slot

	routes atomic.Pointer[routeTable]
	// routesMu serializes rebuilds and listener notification.
	routesMu  sync.Mutex
	listeners []func(old, new routeTable)

	inflight sync.WaitGroup
	closing  atomic.Bool
	closeMu  sync.Mutex // guards inflight.Add against Wait during shutdown
	ready    atomic.Bool
}

// New prepares a host for cfg; Start launches the plugins.
func New(cfg *config.Config, logger *slog.Logger) *Host {
	h := &Host{cfg: cfg, log: logger}
	empty := routeTable{}
	h.routes.Store(&empty)
	for _, name := range sortedPluginNames(cfg) {
		s := newSlot(cfg.Plugins[name], cfg.DataDir, logger)
		s.onRestart = h.pluginRestarted
		h.slots = append(h.slots, s)
	}
	return h
}

func sortedPluginNames(cfg *config.Config) []string {
	names := make([]string, 0, len(cfg.Plugins))
	for n := range cfg.Plugins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Start launches every plugin concurrently, validates what they describe and
// builds the routing table. On any error every started plugin is stopped again
// and the errors (one per failing plugin) are returned: nothing half-started.
func (h *Host) Start(ctx context.Context) error {
	errs := make([]error, len(h.slots))
	var wg sync.WaitGroup
	for i, s := range h.slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.stopPlugins()
		return err
	}
	table, err := buildRoutes(h.slots, h.descriptions())
	if err != nil {
		h.stopPlugins()
		return err
	}
	h.setRoutes(table)
	h.ready.Store(true)
	return nil
}

// descriptions returns each slot's current plugin description.
func (h *Host) descriptions() map[*slot]*pluginv1.DescribeResponse {
	out := map[*slot]*pluginv1.DescribeResponse{}
	for _, s := range h.slots {
		s.mu.Lock()
		if s.cur != nil {
			out[s] = s.cur.desc
		}
		s.mu.Unlock()
	}
	return out
}

// OnRoutesChanged registers fn to be told about every change of the tool table,
// after the change. The MCP layer uses it to add and remove tools.
func (h *Host) OnRoutesChanged(fn func(old, new routeTable)) {
	h.routesMu.Lock()
	defer h.routesMu.Unlock()
	h.listeners = append(h.listeners, fn)
}

func (h *Host) setRoutes(table routeTable) {
	h.routesMu.Lock()
	defer h.routesMu.Unlock()
	old := *h.routes.Load()
	h.routes.Store(&table)
	for _, fn := range h.listeners {
		fn(old, table)
	}
}

// pluginRestarted refreshes the routes in case the restarted plugin (a new binary,
// perhaps) describes different tools. A collision keeps the old table and says why.
func (h *Host) pluginRestarted(s *slot, _ *instance) {
	table, err := buildRoutes(h.slots, h.descriptions())
	if err != nil {
		h.log.Error("tool table unchanged after plugin restart", "plugin", s.cfg.Name, "error", err)
		return
	}
	h.setRoutes(table)
}

// Tools lists the tools caller may see, in name order.
func (h *Host) Tools(caller *auth.Caller) []*route {
	table := *h.routes.Load()
	var out []*route
	for _, n := range table.sortedNames() {
		if r := table[n]; allowed(caller, r.policies) {
			out = append(out, r)
		}
	}
	return out
}

// lookup finds the route for a tool the caller may call.
func (h *Host) lookup(caller *auth.Caller, name string) (*route, error) {
	r, ok := (*h.routes.Load())[name]
	if !ok || !allowed(caller, r.policies) {
		return nil, ErrUnknownTool
	}
	return r, nil
}

// Status reports every plugin's state, in name order.
func (h *Host) Status() []PluginStatus {
	out := make([]PluginStatus, 0, len(h.slots))
	for _, s := range h.slots {
		out = append(out, s.status())
	}
	return out
}

// Ready reports whether the host started and every plugin is running.
func (h *Host) Ready() bool {
	if !h.ready.Load() || h.closing.Load() {
		return false
	}
	for _, s := range h.slots {
		if s.status().State != StateRunning {
			return false
		}
	}
	return true
}

// beginCall registers an in-flight call unless shutdown has begun.
func (h *Host) beginCall() error {
	h.closeMu.Lock()
	defer h.closeMu.Unlock()
	if h.closing.Load() {
		return ErrShuttingDown
	}
	h.inflight.Add(1)
	return nil
}

// Shutdown refuses new calls, waits for in-flight calls until ctx ends, then stops
// every plugin process. It returns an error if calls were still running.
func (h *Host) Shutdown(ctx context.Context) error {
	err := h.drain(ctx)
	h.stopPlugins()
	return err
}

// drain refuses new calls and waits for in-flight ones until ctx ends.
func (h *Host) drain(ctx context.Context) error {
	h.closeMu.Lock()
	h.closing.Store(true)
	h.closeMu.Unlock()
	drained := make(chan struct{})
	go func() { h.inflight.Wait(); close(drained) }()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("in-flight calls still running at shutdown: %w", ctx.Err())
	}
}

func (h *Host) stopPlugins() {
	var wg sync.WaitGroup
	for _, s := range h.slots {
		wg.Add(1)
		go func() { defer wg.Done(); s.shutdown() }()
	}
	wg.Wait()
}

// ToolInfo describes one exposed tool for listings (mcphost tools).
type ToolInfo struct {
	Plugin        string          `json:"plugin"`
	PluginVersion string          `json:"plugin_version"`
	Name          string          `json:"name"`
	Title         string          `json:"title,omitempty"`
	Description   string          `json:"description"`
	InputSchema   json.RawMessage `json:"input_schema"`
	OutputSchema  json.RawMessage `json:"output_schema,omitempty"`
}

// Catalog lists every exposed tool regardless of policy, in name order.
func (h *Host) Catalog() []ToolInfo {
	table := *h.routes.Load()
	out := make([]ToolInfo, 0, len(table))
	for _, n := range table.sortedNames() {
		r := table[n]
		info := ToolInfo{
			Plugin:      r.slot.cfg.Name,
			Name:        r.name,
			Title:       r.tool.GetTitle(),
			Description: r.tool.GetDescription(),
			InputSchema: r.tool.GetInputSchemaJson(),
		}
		if out := r.tool.GetOutputSchemaJson(); len(out) > 0 {
			info.OutputSchema = out
		}
		if st := r.slot.status(); st.Version != "" {
			info.PluginVersion = st.Version
		}
		out = append(out, info)
	}
	return out
}
