package host

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/supervisor"
)

// Reload applies a new configuration while serving. Plugins that were added,
// removed or changed in any way are started or stopped; unchanged plugins are
// left alone. New and changed plugins start beside the running ones and the tool
// table switches in one step, so either the whole change applies or none of it
// does: a changed or required plugin that fails to start, or a tool-name
// collision, changes nothing. An added optional plugin that fails to start
// is added as failed and retried, as at startup.
// Replaced plugins finish their in-flight calls within their drain timeout.
//
// Settings outside plugins (server, auth, log, data_dir, audit, metrics,
// limits, dev) need a restart; Reload
// logs which of them differ and otherwise ignores them.
func (h *Host) Reload(ctx context.Context, next *config.Config) error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	h.mu.Lock()
	prev, current := h.cfg, slices.Clone(h.slots)
	h.mu.Unlock()
	for _, key := range restartOnlyChanges(prev, next) {
		h.log.Warn("config change needs a restart to take effect", "key", key)
	}
	// What is in effect: the new plugins, the old everything else.
	applied := *prev
	applied.Plugins, applied.PluginDir = next.Plugins, next.PluginDir
	next = &applied

	byName := map[string]*supervisor.Slot{}
	for _, s := range current {
		byName[s.Config().Name] = s
	}
	var keep, started, retire, replacing []*supervisor.Slot
	var added, changed, removed []string
	for _, name := range sortedPluginNames(next) {
		p := next.Plugins[name]
		old, ok := byName[name]
		switch {
		case ok && reflect.DeepEqual(old.Config(), p):
			keep = append(keep, old)
			continue
		case ok:
			changed = append(changed, name)
			retire = append(retire, old)
		default:
			added = append(added, name)
		}
		s := h.newSlot(next, p)
		started = append(started, s)
		if ok {
			replacing = append(replacing, s)
		}
	}
	for _, s := range current {
		if _, ok := next.Plugins[s.Config().Name]; !ok {
			removed = append(removed, s.Config().Name)
			retire = append(retire, s)
		}
	}
	if len(started) == 0 && len(retire) == 0 {
		h.mu.Lock()
		h.cfg = next
		h.mu.Unlock()
		return nil
	}
	if h.closing.Load() {
		return fmt.Errorf("config reload changed nothing: %w", ErrShuttingDown)
	}
	if err := startSlots(ctx, started); err != nil {
		return fmt.Errorf("config reload changed nothing: %w", err)
	}
	// An added optional plugin that cannot start joins as failed (retried);
	// a changed one must not take the place of an instance that works.
	for _, s := range replacing {
		if st := s.Status(); st.State != StateRunning {
			stopSlots(started)
			return fmt.Errorf("config reload changed nothing: the changed plugin %s did not start, so the running one keeps serving: %s", s.Config().Name, st.LastError)
		}
	}

	h.mu.Lock()
	if h.stopped || h.closing.Load() {
		h.mu.Unlock()
		stopSlots(started)
		return fmt.Errorf("config reload changed nothing: %w", ErrShuttingDown)
	}
	slots := append(keep, started...)
	slices.SortFunc(slots, func(a, b *supervisor.Slot) int { return strings.Compare(a.Config().Name, b.Config().Name) })
	table, err := buildRoutes(slots, descriptions(slots, nil, nil))
	if err != nil {
		h.mu.Unlock()
		stopSlots(started)
		return fmt.Errorf("config reload changed nothing: %w", err)
	}
	h.cfg, h.slots = next, slots
	h.setRoutesLocked(table)
	for _, s := range retire {
		h.retiring.Add(1)
		h.draining[s] = true
		go func() {
			defer h.retiring.Done()
			s.Retire(s.Config().DrainTimeout)
			h.mu.Lock()
			delete(h.draining, s)
			h.mu.Unlock()
		}()
	}
	h.mu.Unlock()
	h.flushRouteChanges()

	h.updateBinaryWatch()
	h.log.Info("config reloaded", "added", added, "changed", changed, "removed", removed)
	return nil
}

// restartOnlyChanges lists the top-level settings that differ and that a running
// host cannot apply.
func restartOnlyChanges(a, b *config.Config) []string {
	var keys []string
	if !reflect.DeepEqual(a.Server, b.Server) {
		keys = append(keys, "server")
	}
	if !reflect.DeepEqual(a.Auth, b.Auth) {
		keys = append(keys, "auth")
	}
	if a.Log != b.Log {
		keys = append(keys, "log")
	}
	if a.DataDir != b.DataDir {
		keys = append(keys, "data_dir")
	}
	if a.HotReload != b.HotReload {
		keys = append(keys, "hot_reload")
	}
	for _, k := range []struct {
		name string
		same bool
	}{{"audit", a.Audit == b.Audit}, {"metrics", a.Metrics == b.Metrics}, {"limits", a.Limits == b.Limits}, {"tracing", a.Tracing == b.Tracing}, {"dev", reflect.DeepEqual(a.Dev, b.Dev)}} {
		if !k.same {
			keys = append(keys, k.name)
		}
	}
	return keys
}
