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
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mcphost/mcphost/audit"
	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/internal/filewatch"
	"github.com/mcphost/mcphost/metrics"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
	"github.com/mcphost/mcphost/ratelimit"
	"github.com/mcphost/mcphost/supervisor"
)

// maxLimitBuckets bounds the rate-limit buckets kept (one per limited user,
// organization, or user and tool).
const maxLimitBuckets = 100_000

// ErrUnknownTool is returned for a tool that does not exist or that the caller may
// not call: the two must be indistinguishable (invariant 4).
var ErrUnknownTool = errors.New("unknown tool")

// ErrShuttingDown is returned for calls that arrive after shutdown began.
var ErrShuttingDown = errors.New("mcphost is shutting down")

// Host owns the plugins and the tool routing table.
type Host struct {
	log *slog.Logger

	// mu serializes every change of the plugin set and the tool table, and
	// guards cfg and slots. Routes are read lock-free on the hot path.
	mu    sync.Mutex
	cfg   *config.Config
	slots []*supervisor.Slot
	// observers hear about changes, outside mu: route changes wait in
	// pending (under mu) until flushRouteChanges, serialized by notifyMu,
	// delivers them in order.
	observers []Observer
	pending   []RouteChange
	notifyMu  sync.Mutex
	routes    atomic.Pointer[routeTable]
	binWatch  *filewatch.Watcher        // nil unless WatchBinaries runs
	stopped   bool                      // the plugins were stopped for good (shutdown)
	reloadMu  sync.Mutex                // one Reload at a time
	retiring  sync.WaitGroup            // slots a reload replaced, still draining
	draining  map[*supervisor.Slot]bool // the same slots, so shutdown can stop them now

	limits  config.Limits                   // limits.per_user/per_org (a restart applies changes)
	limiter callLimiter                     // in memory, or shared through the Redis store
	audit   atomic.Pointer[audit.Log]       // nil: no audit log
	metrics atomic.Pointer[metrics.Metrics] // nil: no metrics
	tracer  trace.Tracer                    // nil: no spans (SetTracer)
	// restartAfter is the timer plugin restart backoff waits on (nil:
	// time.After); tests set it to drive restarts without waiting.
	restartAfter func(time.Duration) <-chan time.Time

	inflight sync.WaitGroup
	closing  atomic.Bool
	closeMu  sync.Mutex // guards inflight.Add against Wait during shutdown
	ready    atomic.Bool
}

// callLimiter decides whether a call fits the limits (ratelimit.Limiter, or
// redisstore.Limiter across replicas).
type callLimiter interface {
	Allow(checks ...ratelimit.Check) (bool, time.Duration)
}

// New prepares a host for cfg; Start launches the plugins.
func New(cfg *config.Config, logger *slog.Logger) *Host {
	h := &Host{cfg: cfg, log: logger, draining: map[*supervisor.Slot]bool{}, limits: cfg.Limits, limiter: ratelimit.New(maxLimitBuckets, nil)}
	h.routes.Store(emptyRoutes())
	for _, name := range sortedPluginNames(cfg) {
		h.slots = append(h.slots, h.newSlot(cfg, cfg.Plugins[name]))
	}
	return h
}

func (h *Host) newSlot(cfg *config.Config, p *config.Plugin) *supervisor.Slot {
	return supervisor.New(p, supervisor.Options{DataDir: cfg.DataDir, Logger: h.log, Owner: slotOwner{h}, After: h.restartTimer})
}

// restartTimer is the timer every slot's restart backoff waits on: real time,
// unless a test set restartAfter.
func (h *Host) restartTimer(d time.Duration) <-chan time.Time {
	h.mu.Lock()
	after := h.restartAfter
	h.mu.Unlock()
	if after == nil {
		return time.After(d)
	}
	return after(d)
}

// slotOwner is how the host's slots reach it (supervisor.Owner), kept off
// Host's own API.
type slotOwner struct{ h *Host }

func (o slotOwner) Install(s *supervisor.Slot, next *supervisor.Instance) (*supervisor.Instance, error) {
	return o.h.installInstance(s, next)
}
func (o slotOwner) DescriptionChanged(s *supervisor.Slot, inst *supervisor.Instance) {
	o.h.redescribe(s, inst)
}
func (o slotOwner) ResourceUpdated(s *supervisor.Slot, uri string) { o.h.resourceUpdated(s, uri) }

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
	slots := h.currentSlots()
	cfgs := make([]*config.Plugin, len(slots))
	for i, s := range slots {
		cfgs[i] = s.Config()
	}
	supervisor.ProtectHost(h.log, cfgs)
	if err := startSlots(ctx, slots); err != nil {
		return err
	}
	h.mu.Lock()
	table, err := buildRoutes(h.slots, descriptions(h.slots, nil, nil))
	if err == nil {
		h.setRoutesLocked(table)
	}
	h.mu.Unlock()
	h.flushRouteChanges()
	if err != nil {
		// Not under h.mu: a supervisor restarting a plugin right now needs it.
		stopSlots(slots)
		return err
	}
	h.ready.Store(true)
	return nil
}

// startSlots starts slots concurrently; if any fails, all are stopped again.
func startSlots(ctx context.Context, slots []*supervisor.Slot) error {
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stopSlots(slots)
		return err
	}
	return nil
}

func (h *Host) currentSlots() []*supervisor.Slot {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.slots)
}

// descriptions maps each slot to its current description; override, when
// non-nil, stands in for one slot's (a candidate instance not yet installed).
func descriptions(slots []*supervisor.Slot, override *supervisor.Slot, desc *pluginv1.DescribeResponse) map[*supervisor.Slot]*pluginv1.DescribeResponse {
	out := map[*supervisor.Slot]*pluginv1.DescribeResponse{}
	for _, s := range slots {
		if s == override {
			out[s] = desc
		} else if inst := s.Current(); inst != nil {
			out[s] = inst.Desc()
		}
	}
	return out
}

// installInstance switches slot s to next if next's tools fit the table (no
// name collision). The switch and the table change happen together under h.mu,
// so a call sees either the old instance and old tools or the new ones.
func (h *Host) installInstance(s *supervisor.Slot, next *supervisor.Instance) (*supervisor.Instance, error) {
	h.mu.Lock()
	if !slices.Contains(h.slots, s) {
		h.mu.Unlock()
		return nil, supervisor.ErrRetired
	}
	table, err := buildRoutes(h.slots, descriptions(h.slots, s, next.Desc()))
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	old := s.SetCurrent(next)
	h.setRoutesLocked(table)
	h.mu.Unlock()
	h.flushRouteChanges()
	return old, nil
}

// redescribe asks a plugin that announced a change for its description again
// and, if it is valid and fits the table, routes by it. A bad one is logged and
// the old routes stay.
func (h *Host) redescribe(s *supervisor.Slot, inst *supervisor.Instance) {
	desc, err := inst.Redescribe(inst.Context())
	if err != nil {
		h.log.Warn("plugin changed its description; keeping the old one", "plugin", s.Config().Name, "error", err)
		return
	}
	h.mu.Lock()
	if s.Current() != inst || !slices.Contains(h.slots, s) {
		h.mu.Unlock()
		return
	}
	table, err := buildRoutes(h.slots, descriptions(h.slots, s, desc))
	if err != nil {
		h.mu.Unlock()
		h.log.Warn("plugin changed its description; keeping the old one", "plugin", s.Config().Name, "error", err)
		return
	}
	inst.UseDescription(desc)
	h.setRoutesLocked(table)
	h.mu.Unlock()
	h.flushRouteChanges()
	h.log.Info("plugin description changed", "plugin", s.Config().Name, "tools", len(desc.GetTools()))
}

// Observer hears what changes in the host. Its methods run outside the
// host's lock, in the order the changes happened; the MCP engine is one.
type Observer interface {
	// RoutesChanged: tools, prompts or resources came, went or changed.
	RoutesChanged(RouteChange)
	// ResourceUpdated: the plugin serving uri says its content changed.
	ResourceUpdated(uri string)
}

// RouteChange says which lists a change of the routing table touched.
type RouteChange struct{ Tools, Prompts, Resources bool }

// Observe registers o for every later change.
func (h *Host) Observe(o Observer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.observers = append(h.observers, o)
}

// setRoutesLocked switches the table and queues the change for observers;
// whoever holds mu calls flushRouteChanges once it has let go.
func (h *Host) setRoutesLocked(table *routeTable) {
	old := h.routes.Load()
	h.routes.Store(table)
	if c := diffRoutes(old, table); c != (RouteChange{}) {
		h.pending = append(h.pending, c)
	}
}

// flushRouteChanges delivers queued route changes. It must not be called
// with mu held: observers may call back into the host.
func (h *Host) flushRouteChanges() {
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	h.mu.Lock()
	changes, observers := h.pending, slices.Clone(h.observers)
	h.pending = nil
	h.mu.Unlock()
	for _, c := range changes {
		for _, o := range observers {
			o.RoutesChanged(c)
		}
	}
}

func diffRoutes(old, new *routeTable) RouteChange {
	return RouteChange{
		Tools:     !maps.EqualFunc(old.tools, new.tools, func(a, b *route) bool { return a.tool == b.tool && a.slot == b.slot }),
		Prompts:   !maps.EqualFunc(old.prompts, new.prompts, sameFeature),
		Resources: !maps.EqualFunc(old.resources, new.resources, sameFeature) || !maps.EqualFunc(old.templates, new.templates, sameFeature),
	}
}

func sameFeature(a, b *featureRoute) bool {
	return a.slot == b.slot && a.prompt == b.prompt && a.resource == b.resource && a.template == b.template
}

// lookup finds the route for a tool the caller may call.
func (h *Host) lookup(caller *auth.Caller, name string) (*route, error) {
	r, ok := h.routes.Load().tools[name]
	if !ok || !allowed(caller, r.policies) {
		return nil, ErrUnknownTool
	}
	return r, nil
}

// Status reports every plugin's state, in name order.
func (h *Host) Status() []PluginStatus {
	slots := h.currentSlots()
	out := make([]PluginStatus, 0, len(slots))
	for _, s := range slots {
		out = append(out, s.Status())
	}
	return out
}

// Ready reports whether the host serves: started, not shutting down, and
// the plugins server.ready_requires names running (those with required:
// true, or all). An optional plugin that is down degrades only its tools.
func (h *Host) Ready() bool {
	if !h.ready.Load() || h.closing.Load() {
		return false
	}
	h.mu.Lock()
	all := h.cfg.Server.ReadyRequires == "all"
	h.mu.Unlock()
	for _, s := range h.currentSlots() {
		if (all || s.Config().Required) && s.Status().State != StateRunning {
			return false
		}
	}
	return true
}

// pluginsDown counts the plugins not running now.
func (h *Host) pluginsDown() int {
	n := 0
	for _, s := range h.currentSlots() {
		if s.Status().State != StateRunning {
			n++
		}
	}
	return n
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
	h.mu.Lock()
	h.stopped = true // from now on Reload installs nothing and retires nothing
	draining := slices.Collect(maps.Keys(h.draining))
	h.mu.Unlock()
	for _, s := range draining {
		s.Kill() // their calls lose to shutdown; retire then returns at once
	}
	stopSlots(h.currentSlots())
	h.retiring.Wait()
}

// stopSlots stops slots concurrently and waits for every process to be gone.
func stopSlots(slots []*supervisor.Slot) {
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Add(1)
		go func() { defer wg.Done(); s.Shutdown() }()
	}
	wg.Wait()
}

// CatalogEntry describes one exposed tool, prompt, resource or resource
// template for listings (mcphost tools).
type CatalogEntry struct {
	// Kind is "tool", "prompt", "resource" or "resource-template".
	Kind          string `json:"kind"`
	Plugin        string `json:"plugin"`
	PluginVersion string `json:"plugin_version"`
	// Name is the tool or prompt name, the resource URI, or the URI template.
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
}

// Catalog lists everything exposed regardless of policy: tools, then prompts,
// resources and resource templates, each in name order.
func (h *Host) Catalog() []CatalogEntry {
	table := h.routes.Load()
	var out []CatalogEntry
	entry := func(kind string, s *supervisor.Slot, name, title, desc string) CatalogEntry {
		return CatalogEntry{Kind: kind, Plugin: s.Config().Name, PluginVersion: s.Status().Version, Name: name, Title: title, Description: desc}
	}
	for _, n := range slices.Sorted(maps.Keys(table.tools)) {
		r := table.tools[n]
		e := entry("tool", r.slot, r.name, r.tool.GetTitle(), r.tool.GetDescription())
		e.InputSchema = r.tool.GetInputSchemaJson()
		if o := r.tool.GetOutputSchemaJson(); len(o) > 0 {
			e.OutputSchema = o
		}
		out = append(out, e)
	}
	for _, n := range slices.Sorted(maps.Keys(table.prompts)) {
		fr := table.prompts[n]
		out = append(out, entry("prompt", fr.slot, fr.key, fr.prompt.GetTitle(), fr.prompt.GetDescription()))
	}
	for _, n := range slices.Sorted(maps.Keys(table.resources)) {
		fr := table.resources[n]
		out = append(out, entry("resource", fr.slot, fr.key, fr.resource.GetTitle(), fr.resource.GetDescription()))
	}
	for _, n := range slices.Sorted(maps.Keys(table.templates)) {
		fr := table.templates[n]
		out = append(out, entry("resource-template", fr.slot, fr.key, fr.template.GetTitle(), fr.template.GetDescription()))
	}
	return out
}
