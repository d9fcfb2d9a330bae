package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcphost/mcphost/config"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// The supervisor alone: real plugin processes (internal/testplugin), an Owner
// that records what the slot tells it, and the slot's timer and clock in the
// test's hands, so no backoff is waited out in real time.

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcphost-supervisor-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, b := range []struct{ name, ldflags string }{
		{"testplugin-a", "-X main.buildVersion=A"},
		{"testplugin-b", "-X main.buildVersion=B -X main.extraTool=added"},
	} {
		cmd := exec.Command("go", "build", "-ldflags", b.ldflags, "-o", filepath.Join(dir, b.name), "../internal/testplugin")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building testplugin: %v\n", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pluginConfig loads a one-plugin config the way the host does, so every
// default (timeouts, concurrency, sandbox) is the real one.
func pluginConfig(t *testing.T, body string) *config.Plugin {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mcphost.yaml")
	yaml := "auth: {provider: none}\nplugins:\n  p: " + strings.ReplaceAll(body, "{{bin}}", binDir) + "\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg.Plugins["p"]
}

// owner records what a slot tells it; refuse makes Install fail.
type owner struct {
	mu       sync.Mutex
	refuse   error
	installs chan *Instance // every instance offered, accepted or not
	updated  chan string
}

func newOwner() *owner {
	return &owner{installs: make(chan *Instance, 16), updated: make(chan string, 16)}
}

func (o *owner) Install(s *Slot, next *Instance) (*Instance, error) {
	o.mu.Lock()
	refuse := o.refuse
	o.mu.Unlock()
	if refuse != nil {
		o.installs <- next
		return nil, refuse
	}
	old := s.SetCurrent(next)
	o.installs <- next
	return old, nil
}
func (o *owner) DescriptionChanged(*Slot, *Instance) {}
func (o *owner) ResourceUpdated(_ *Slot, uri string) { o.updated <- uri }

func (o *owner) setRefuse(err error) {
	o.mu.Lock()
	o.refuse = err
	o.mu.Unlock()
}

func (o *owner) nextInstall(t *testing.T) *Instance {
	t.Helper()
	select {
	case inst := <-o.installs:
		return inst
	case <-time.After(20 * time.Second):
		t.Fatal("the slot never offered a new instance")
		return nil
	}
}

// timer hands each backoff wait the slot starts to the test.
type timer struct{ waits chan wait }

type wait struct {
	d    time.Duration
	fire func()
}

func newTimer() *timer { return &timer{waits: make(chan wait, 64)} }

func (tm *timer) after(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	tm.waits <- wait{d: d, fire: func() { ch <- time.Now() }}
	return ch
}

func (tm *timer) next(t *testing.T) wait {
	t.Helper()
	select {
	case w := <-tm.waits:
		return w
	case <-time.After(20 * time.Second):
		t.Fatal("the slot never began a restart backoff")
		return wait{}
	}
}

// clock is a settable time for the slot's stable-uptime rule.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startSlot(t *testing.T, cfg *config.Plugin, o Options) *Slot {
	t.Helper()
	if o.Logger == nil {
		o.Logger = quietLogger()
	}
	o.DataDir = t.TempDir()
	s := New(cfg, o)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// echo calls the echo tool on inst and returns its text.
func echo(t *testing.T, inst *Instance, text string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := inst.OpenCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.End()
	args := fmt.Sprintf(`{"text": %q}`, text)
	if err := stream.Send(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_Start{Start: &pluginv1.CallToolStart{Tool: "echo", ArgumentsJson: []byte(args)}}}); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if res := msg.GetResult(); res != nil {
			if len(res.GetContent()) == 0 {
				t.Fatalf("echo answered no content: %v", res)
			}
			return res.GetContent()[0].GetText().GetText()
		}
	}
}

func TestSlotStartsAndServes(t *testing.T) {
	s := startSlot(t, pluginConfig(t, `{path: "{{bin}}/testplugin-a", prefix: "a."}`), Options{Owner: newOwner()})
	st := s.Status()
	if st.State != StateRunning || st.PID == 0 || st.Version != "A" || len(st.SHA256) != 64 {
		t.Fatalf("status after start: %+v", st)
	}
	found := false
	for _, name := range st.Tools {
		found = found || name == "a.echo"
	}
	if !found {
		t.Errorf("status lists tools %v, want a.echo (with the prefix) among them", st.Tools)
	}
	inst, err := s.Enter()
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Leave()
	if got := echo(t, inst, "hi"); got != "A:hi" {
		t.Errorf("echo = %q, want A:hi", got)
	}
}

// TestSlotRestartsWithBackoff: a plugin killed from outside is restarted
// after the first backoff; one that dies again before it was up a minute
// waits twice as long; once a restarted one has been up a minute (on the
// slot's clock), the backoff starts over.
func TestSlotRestartsWithBackoff(t *testing.T) {
	tm, clk, own := newTimer(), &clock{now: time.Unix(1_000_000, 0)}, newOwner()
	s := startSlot(t, pluginConfig(t, `{path: "{{bin}}/testplugin-a"}`), Options{Owner: own, After: tm.after, Now: clk.Now})

	kill := func() {
		t.Helper()
		pid := s.Status().PID
		if pid <= 0 { // 0 or less would signal the test's own process group
			t.Fatalf("no plugin process to kill (pid %d)", pid)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	restartAfter := func(want time.Duration) {
		t.Helper()
		w := tm.next(t)
		if w.d != want {
			t.Errorf("backoff %s, want %s", w.d, want)
		}
		if st := s.Status(); st.State != StateRestarting {
			t.Errorf("state while waiting to restart: %s, want %s", st.State, StateRestarting)
		}
		if _, err := s.Enter(); err == nil || !strings.Contains(err.Error(), "plugin p is unavailable") {
			t.Errorf("Enter while the plugin is down: %v, want an error naming it", err)
		}
		w.fire()
		if inst := own.nextInstall(t); s.Current() != inst {
			t.Error("the restarted instance is not the current one")
		}
	}

	kill()
	restartAfter(backoffMin)
	kill()
	restartAfter(2 * backoffMin)
	if st := s.Status(); st.Restarts != 2 || st.Failures != 2 || st.State != StateRunning {
		t.Errorf("status after two quick crashes: %+v", st)
	}

	clk.advance(stableAfter + time.Second)
	for s.Status().Failures != 0 { // the supervisor's next look at the process resets it
		s.CheckAlive()
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
			return
		}
	}
	kill()
	restartAfter(backoffMin)
	inst, err := s.Enter()
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Leave()
	if got := echo(t, inst, "back"); got != "A:back" {
		t.Errorf("echo after restarts = %q", got)
	}
}

// TestSlotStartFailure: an optional plugin that cannot start is marked failed
// with its own last words and retried; a required one fails Start.
func TestSlotStartFailure(t *testing.T) {
	tm := newTimer()
	s := startSlot(t, pluginConfig(t, `{path: "{{bin}}/testplugin-a", env: {TESTPLUGIN_MODE: crash-at-start}}`), Options{Owner: newOwner(), After: tm.after})
	st := s.Status()
	if st.State != StateFailed || !strings.Contains(st.LastError, "failing at start on purpose") {
		t.Errorf("status of a plugin that cannot start: %+v", st)
	}
	if w := tm.next(t); w.d != backoffMin {
		t.Errorf("first retry after %s, want %s", w.d, backoffMin)
	}

	req := New(pluginConfig(t, `{path: "{{bin}}/testplugin-a", required: true, env: {TESTPLUGIN_MODE: crash-at-start}}`), Options{Owner: newOwner(), Logger: quietLogger(), DataDir: t.TempDir()})
	err := req.Start(context.Background())
	if err == nil {
		req.Shutdown()
		t.Fatal("a required plugin that cannot start: Start succeeded")
	}
	msg := err.Error()
	if i, j := strings.Index(msg, "failing at start on purpose"), strings.Index(msg, "plugin exited before we could connect"); i < 0 || (j >= 0 && j < i) {
		t.Errorf("Start error %q: want the plugin's own output first", msg)
	}
}

// TestSlotSwap: a changed binary is offered to the owner; refused, the old
// instance keeps serving and the candidate is stopped; accepted, calls go to
// the new one and the old one is retired.
func TestSlotSwap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "plugin")
	copyFile(t, filepath.Join(binDir, "testplugin-a"), path)
	own := newOwner()
	s := startSlot(t, pluginConfig(t, fmt.Sprintf(`{path: %q}`, path)), Options{Owner: own})
	first := s.Current()

	copyFile(t, filepath.Join(binDir, "testplugin-b"), path)
	own.setRefuse(errors.New("tool collides"))
	s.Swap(context.Background())
	refused := own.nextInstall(t)
	if s.Current() != first {
		t.Fatal("a refused swap changed the current instance")
	}
	if !refused.exited() {
		t.Error("the refused candidate's process is still running")
	}
	if got := echo(t, first, "x"); got != "A:x" {
		t.Errorf("after a refused swap echo = %q, want A:x", got)
	}

	own.setRefuse(nil)
	s.Swap(context.Background())
	next := own.nextInstall(t)
	if s.Current() != next || next.Desc().GetVersion() != "B" {
		t.Fatalf("after an accepted swap: current %p (offered %p), version %q", s.Current(), next, next.Desc().GetVersion())
	}
	if next.SHA256() == first.SHA256() {
		t.Error("the new instance reports the old binary's checksum")
	}
	select {
	case <-first.Context().Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the replaced instance was never stopped")
	}
	if st := s.Status(); st.Swaps != 1 || st.Version != "B" {
		t.Errorf("status after a swap: %+v", st)
	}

	// The same binary again is no change: nothing is offered.
	s.Swap(context.Background())
	select {
	case inst := <-own.installs:
		t.Errorf("an unchanged binary was offered again (%p)", inst)
	default:
	}
}

func TestSlotRetire(t *testing.T) {
	s := startSlot(t, pluginConfig(t, `{path: "{{bin}}/testplugin-a"}`), Options{Owner: newOwner()})
	inst := s.Current()
	s.Retire(0)
	if _, err := s.Enter(); !errors.Is(err, ErrRetired) {
		t.Errorf("Enter after Retire: %v, want ErrRetired", err)
	}
	if st := s.Status(); st.State != StateStopped {
		t.Errorf("state after Retire: %s", st.State)
	}
	if !inst.exited() {
		t.Error("the retired instance's process is still running")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}
