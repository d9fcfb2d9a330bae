package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Hot swap: when a plugin's file changes on disk, the slot waits until the new
// file is complete, starts it beside the running instance, and switches calls
// over only once it has described valid tools that fit (see replace).

const (
	// settleInterval is the gap between the two reads that must agree before a
	// changed binary counts as completely written.
	settleInterval = 100 * time.Millisecond
	// settleLimit bounds how long a binary may keep changing before the slot
	// gives up on this change (the next change event tries again).
	settleLimit = 30 * time.Second
)

// Why replace brings up a new instance: counted as a hot swap or a restart.
const (
	swapReason    = "binary changed"
	restartReason = "restart after exit"
)

// Swap replaces the instance with the binary now on disk, if it differs. A
// binary that is still being written, fails to start or does not fit leaves
// the old instance serving; the next change tries again.
func (s *Slot) Swap(ctx context.Context) {
	sum, err := settledSHA256(ctx, s.cfg.Path)
	if err != nil {
		s.log.Info("plugin binary changed but is not ready; waiting for the next change", "reason", err)
		return
	}
	changed := func(cur *Instance) bool { return cur == nil || cur.exited() || cur.sha256 != sum }
	if err := s.replace(ctx, swapReason, changed); err != nil && !errors.Is(err, ErrRetired) {
		s.log.Error("new plugin binary rejected; the running instance keeps serving", "sha256", sum, "error", err)
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
