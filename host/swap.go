package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mcphost/mcphost/internal/filewatch"
)

// Binary watching: when a plugin's file changes on disk, the host waits until the
// new file is complete, starts it beside the running instance, and switches calls
// over only once it has described valid tools (see slot.replace).

const (
	// settleInterval is the gap between the two reads that must agree before a
	// changed binary counts as completely written.
	settleInterval = 100 * time.Millisecond
	// settleLimit bounds how long a binary may keep changing before the host
	// gives up on this change (the next change event tries again).
	settleLimit = 30 * time.Second
)

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
		paths = append(paths, s.cfg.Path)
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
		if s.cfg.Path == path {
			go h.swapBinary(ctx, s)
		}
	}
}

// swapReason is why a swap replaced an instance (counted as a hot swap).
const swapReason = "binary changed"

// swapBinary replaces s's instance with the binary now on disk, if it differs.
// A binary that fails to start or to fit leaves the old instance serving.
func (h *Host) swapBinary(ctx context.Context, s *slot) {
	sum, err := settledSHA256(ctx, s.cfg.Path)
	if err != nil {
		h.log.Info("plugin binary changed but is not ready; waiting for the next change", "plugin", s.cfg.Name, "reason", err)
		return
	}
	changed := func(cur *instance) bool { return cur == nil || cur.exited() || cur.sha256 != sum }
	if err := s.replace(ctx, swapReason, changed); err != nil {
		if !errors.Is(err, errSlotRetired) {
			h.log.Error("new plugin binary rejected; the running instance keeps serving", "plugin", s.cfg.Name, "sha256", sum, "error", err)
		}
	}
}

// settledSHA256 waits until path exists, is executable, and reads the same twice
// in a row, and returns its checksum.
func settledSHA256(ctx context.Context, path string) (string, error) {
	deadline := time.Now().Add(settleLimit)
	prev := ""
	for {
		st, err := os.Stat(path)
		switch {
		case err != nil:
			return "", err // removed: its re-creation is another event
		case !st.Mode().IsRegular() || st.Mode()&0o111 == 0:
			prev = "" // not yet executable (a copy in progress, chmod to come)
		default:
			sum, err := fileSHA256(path)
			if err != nil {
				return "", err
			}
			if sum == prev {
				return sum, nil
			}
			prev = sum
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s kept changing for %s", path, settleLimit)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(settleInterval):
		}
	}
}
