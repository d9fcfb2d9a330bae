package host

import "time"

// SetRestartTimer makes h's supervisors wait out restart backoff on after
// instead of real time, so a test sees each wait and ends it when it likes.
// Call it before Start; plugins a reload adds use it too.
func SetRestartTimer(h *Host, after func(time.Duration) <-chan time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restartAfter = after
}
