package host

import (
	"context"
	"fmt"
	"time"

	"github.com/mcphost/mcphost/internal/filewatch"
)

// Binary watching: a plugin whose file changes on disk is hot-swapped by its
// slot (supervisor.Slot.Swap).

// WatchBinaries swaps each plugin whose binary changes, until ctx ends. The watched
// set follows config reloads.
func (h *Host) WatchBinaries(ctx context.Context, debounce time.Duration) error {
	w, err := filewatch.New(debounce, func(path string) { h.binaryChanged(ctx, path) })
	if err != nil {
		return fmt.Errorf("watch plugin binaries: %w", err)
	}
	h.mu.Lock()
	h.binWatch = w
	h.mu.Unlock()
	h.updateBinaryWatch()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		h.binWatch = nil
		h.mu.Unlock()
		_ = w.Close()
	}()
	return nil
}

// updateBinaryWatch points the watcher at the current plugins' binaries.
func (h *Host) updateBinaryWatch() {
	h.mu.Lock()
	w := h.binWatch
	paths := make([]string, 0, len(h.slots))
	for _, s := range h.slots {
		paths = append(paths, s.Config().Path)
	}
	h.mu.Unlock()
	if w != nil {
		if err := w.Set(paths, nil); err != nil {
			h.log.Warn("cannot watch every plugin binary", "error", err)
		}
	}
}

func (h *Host) binaryChanged(ctx context.Context, path string) {
	for _, s := range h.currentSlots() {
		if s.Config().Path == path {
			go s.Swap(ctx)
		}
	}
}
