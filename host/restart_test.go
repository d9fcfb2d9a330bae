package host_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcphost/mcphost/host"
)

// restartTimer stands in for the supervisor's backoff timer: every wait the
// supervisor starts is handed to the test, which ends it with fire.
type restartTimer struct{ waits chan restartWait }

type restartWait struct {
	d    time.Duration
	fire func()
}

func newRestartTimer() *restartTimer {
	// Buffered so a supervisor never blocks handing over a wait the test has
	// stopped reading (it returns on shutdown either way).
	return &restartTimer{waits: make(chan restartWait, 64)}
}

func (rt *restartTimer) after(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	rt.waits <- restartWait{d: d, fire: func() { ch <- time.Now() }}
	return ch
}

// next is the wait the supervisor starts next.
func (rt *restartTimer) next(t *testing.T) restartWait {
	t.Helper()
	select {
	case w := <-rt.waits:
		return w
	case <-time.After(20 * time.Second):
		t.Fatal("the supervisor never began a restart backoff")
		return restartWait{}
	}
}

// TestCrashLoopBacksOff: a plugin that keeps dying is restarted after waits
// that double, is marked failed after a few quick crashes in a row and stays
// failed while it is down, and costs the other plugins nothing. The test owns
// the backoff timer, so no real second is waited.
func TestCrashLoopBacksOff(t *testing.T) {
	timer := newRestartTimer()
	r := startHostWith(t, `
auth: {provider: none}
plugins:
  flappy: {path: "{{bin}}/testplugin", prefix: "f."}
  whoami: {path: "{{bin}}/whoami"}`, host.ServerOptions{}, "127.0.0.1:0", func(h *host.Host) {
		host.SetRestartTimer(h, timer.after)
	})
	cs := connect(t, r, nil, nil)
	const crashes = 8
	var waits []time.Duration
	pids := map[int]bool{}
	failedAt := 0
	for i := 1; i <= crashes; i++ {
		before := pluginStatus(t, r.host, "flappy")
		pids[before.PID] = true
		// Killed from outside, not in a call: the supervisor must notice alone.
		if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		w := timer.next(t)
		waits = append(waits, w.d)
		// While the supervisor waits, the plugin is down and says so.
		switch st := pluginStatus(t, r.host, "flappy"); {
		case st.State == host.StateFailed && failedAt == 0:
			failedAt = i
		case st.State == host.StateFailed:
		case failedAt != 0:
			t.Fatalf("crash %d: state %s after the plugin was marked failed at crash %d", i, st.State, failedAt)
		case st.State != host.StateRestarting:
			t.Fatalf("crash %d: state %s while a restart is pending", i, st.State)
		}
		if _, isErr := callText(t, cs, "whoami", nil); isErr {
			t.Fatal("whoami failed during another plugin's crash loop")
		}
		w.fire()
		eventually(t, 20*time.Second, "flappy restarted", func() bool {
			st := pluginStatus(t, r.host, "flappy")
			return st.State == host.StateRunning && st.PID != before.PID && st.Restarts == i
		})
	}
	t.Logf("backoff waits %v; marked failed at crash %d", waits, failedAt)
	if waits[0] <= 0 {
		t.Fatalf("first restart waited %v", waits[0])
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] != 2*waits[i-1] && waits[i] != waits[i-1] {
			t.Fatalf("backoff waits %v: each should double the last (or stay at the cap)", waits)
		}
	}
	if waits[len(waits)-1] <= waits[0] {
		t.Errorf("no backoff: waits %v", waits)
	}
	if failedAt == 0 {
		t.Errorf("after %d quick crashes in a row the plugin was never marked failed", crashes)
	}
	if text, isErr := callText(t, cs, "f.echo", map[string]any{"text": "back"}); isErr || text != "1.0.0:back" {
		t.Fatalf("after the crash loop f.echo = %q (isError %v)", text, isErr)
	}
	_ = r.srv.Shutdown(t.Context())
	for pid := range pids {
		if processAlive(pid) {
			t.Errorf("pid %d outlived shutdown", pid)
		}
	}
	if st := pluginStatus(t, r.host, "flappy"); processAlive(st.PID) {
		t.Errorf("pid %d outlived shutdown", st.PID)
	}
}

// TestPluginAddedByReloadIsSupervised: a plugin that a reload adds and that
// crashes before the reload finishes is still restarted afterwards.
func TestPluginAddedByReloadIsSupervised(t *testing.T) {
	log, timer := newLineLog(), newRestartTimer()
	r := startHostLogging(t, basicYAML, host.ServerOptions{}, "127.0.0.1:0", func(h *host.Host) {
		host.SetRestartTimer(h, timer.after)
	}, log.logger())
	hold := filepath.Join(r.cfg.Dir, "hold.fifo")
	if err := syscall.Mkfifo(hold, 0o600); err != nil {
		t.Fatal(err)
	}
	// sleepy holds the reload open until the test lets it start.
	next := reloadConfig(t, r, strings.ReplaceAll(`
auth: {provider: none}
plugins:
  whoami: {path: "{{bin}}/whoami"}
  test: {path: "{{bin}}/testplugin", prefix: "t.", sandbox: "off", env: {TESTPLUGIN_DIR: "{{dir}}"}}
  flappy: {path: "{{bin}}/testplugin", prefix: "f."}
  sleepy: {path: "{{bin}}/testplugin", prefix: "s.", sandbox: "off", env: {TESTPLUGIN_MODE: "hold-start", TESTPLUGIN_DIR: "{{dir}}"}}`, "{{dir}}", r.cfg.Dir))
	reloaded := make(chan error, 1)
	go func() { reloaded <- r.host.Reload(context.Background(), next) }()

	// The host's own line, once flappy has described itself (go-plugin logs
	// another "plugin started" when the process merely began).
	line := log.wait(t, 20*time.Second, "level=INFO", `msg="plugin started"`, "plugin=flappy", "tools=")
	pid, err := strconv.Atoi(regexp.MustCompile(` pid=(\d+)`).FindStringSubmatch(line)[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The first restart comes while the reload still runs, so it has no
	// place in the table yet: the supervisor must try again later.
	timer.next(t).fire()
	again := timer.next(t)
	// Opening the FIFO waits for sleepy to read it: a rendezvous, not a guess.
	release, err := os.OpenFile(hold, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = release.WriteString("go\n")
	release.Close()
	select {
	case err := <-reloaded:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reload did not finish")
	}
	again.fire()
	eventually(t, 20*time.Second, "the reload-added plugin restarted", func() bool {
		st := pluginStatus(t, r.host, "flappy")
		return st.Restarts >= 1 && st.State == host.StateRunning && st.PID != pid
	})
}
