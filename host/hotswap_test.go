package host_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcphost/mcphost/host"
)

// install copies the binary src over dst the way `go build -o` or a deploy does:
// write a temporary file beside it, then rename it over the old one.
func install(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// swapHost serves one plugin "swap" from a copy of testplugin-a and watches it.
func swapHost(t testing.TB, extra string) (*running, string) {
	t.Helper()
	r, plug, _ := swapHostLogged(t, extra)
	return r, plug
}

// swapHostLogged is swapHost with the host's log recorded.
func swapHostLogged(t testing.TB, extra string) (*running, string, *lineLog) {
	t.Helper()
	dir := t.TempDir()
	plug := filepath.Join(dir, "plug")
	install(t, bin("testplugin-a"), plug)
	r, log := startHostLogged(t, fmt.Sprintf(`
auth: {provider: none}
hot_reload: {debounce: 50ms}
plugins:
  swap: {path: %q, max_concurrency: 64, drain_timeout: 10s, start_timeout: 2s}
  whoami: {path: "{{bin}}/whoami"}
%s`, plug, extra), host.ServerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := r.host.WatchBinaries(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	return r, plug, log
}

// waitForAnswer calls echo until it answers want; it returns how many calls that took.
func waitForAnswer(t testing.TB, cs *mcp.ClientSession, want string, maxCalls int) int {
	t.Helper()
	for n := 1; n <= maxCalls; n++ {
		text, isErr := callText(t, cs, "echo", map[string]any{"text": "x"})
		if isErr {
			t.Fatalf("echo failed while waiting for %q: %s", want, text)
		}
		if text == want {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("echo never answered %q within %d calls", want, maxCalls)
	return 0
}

func TestHotSwapUnderLoadLosesNoCall(t *testing.T) {
	r, plug := swapHost(t, "")
	l := startLoad(t, r, 8, func(res *mcp.CallToolResult, err error) bool {
		return err == nil && !res.IsError && (resultText(res) == "A:x" || resultText(res) == "B:x")
	})
	probe := connect(t, r, nil, nil)
	waitForAnswer(t, probe, "A:x", 1)
	var worst int
	for i := 0; i < 20; i++ {
		variant, want := "testplugin-b", "B:x"
		if i%2 == 1 {
			variant, want = "testplugin-a", "A:x"
		}
		install(t, bin(variant), plug)
		// Bounded: the debounce plus a plugin start is far below 2000 probe calls.
		if n := waitForAnswer(t, probe, want, 2000); n > worst {
			worst = n
		}
	}
	l.end()
	t.Logf("20 swaps under load: %d calls, %d failed, at most %d probe calls until a new version answered", l.calls.Load(), l.failures.Load(), worst)
	if l.failures.Load() != 0 {
		t.Fatalf("%d of %d calls failed during swaps; first: %v", l.failures.Load(), l.calls.Load(), l.firstFailure.Load())
	}
	if l.calls.Load() < 100 {
		t.Fatalf("only %d calls ran during the swaps; the load did not overlap them", l.calls.Load())
	}
	if st := pluginStatus(t, r.host, "swap"); st.Version != "A" || st.Restarts != 0 {
		t.Errorf("after 20 swaps status = %+v", st)
	}
}

// TestBrokenBinaryKeepsOldInstance: a binary that is no plugin is tried and
// refused (the host says so), and the old instance keeps serving throughout.
func TestBrokenBinaryKeepsOldInstance(t *testing.T) {
	r, plug, log := swapHostLogged(t, "")
	cs := connect(t, r, nil, nil)
	before := pluginStatus(t, r.host, "swap")

	for _, broken := range []struct{ name, content string }{
		{"exits at once", "#!/bin/sh\nexit 1\n"},
		{"not a plugin, keeps running", "#!/bin/sh\nsleep 30\n"},
	} {
		tmp := filepath.Join(t.TempDir(), "broken")
		if err := os.WriteFile(tmp, []byte(broken.content), 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(broken.content))
		install(t, tmp, plug)
		log.wait(t, 20*time.Second, `msg="new plugin binary rejected`, "plugin=swap", "sha256="+hex.EncodeToString(sum[:]))
		if st := pluginStatus(t, r.host, "swap"); st.PID != before.PID || st.State != host.StateRunning || st.Swaps != 0 || st.SHA256 != before.SHA256 {
			t.Fatalf("%s: after the refusal status = %+v, want the old instance %+v", broken.name, st, before)
		}
		for i := 0; i < 5; i++ {
			if text, isErr := callText(t, cs, "echo", map[string]any{"text": "x"}); isErr || text != "A:x" {
				t.Fatalf("%s: echo = %q (isError %v), want the old instance's A:x", broken.name, text, isErr)
			}
		}
	}
	// A good binary after the broken ones is picked up.
	install(t, bin("testplugin-b"), plug)
	waitForAnswer(t, cs, "B:x", 2000)
	if st := pluginStatus(t, r.host, "swap"); st.Swaps != 1 || st.PID == before.PID {
		t.Errorf("after the good binary status = %+v, want one swap to a new process", st)
	}
}

func TestSwapSendsToolListChanged(t *testing.T) {
	r, plug := swapHost(t, "")
	changed := make(chan struct{}, 10)
	cs := connect(t, r, nil, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	})
	names := func() string { return toolNames(t, cs) }
	if strings.Contains(names(), ",added,") {
		t.Fatal("tool 'added' listed before the swap")
	}
	install(t, bin("testplugin-b"), plug) // B adds the tool "added"
	select {
	case <-changed:
	case <-time.After(15 * time.Second):
		t.Fatal("no tools/list_changed after a tool was added")
	}
	eventually(t, 5*time.Second, "tool 'added' listed", func() bool { return strings.Contains(names(), ",added,") })

	drain(changed)
	install(t, bin("testplugin-a"), plug)
	select {
	case <-changed:
	case <-time.After(15 * time.Second):
		t.Fatal("no tools/list_changed after a tool was removed")
	}
	eventually(t, 5*time.Second, "tool 'added' gone", func() bool { return !strings.Contains(names(), ",added,") })
}

func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// toolNames lists the session's tools as ",a,b,c," for easy matching.
func toolNames(t testing.TB, cs *mcp.ClientSession) string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(",")
	for _, tl := range res.Tools {
		b.WriteString(tl.Name + ",")
	}
	return b.String()
}

// load keeps sessions calling echo until stop; ok judges each answer.
type load struct {
	stop            chan struct{}
	wg              sync.WaitGroup
	calls, failures atomic.Int64
	firstFailure    atomic.Value
}

func startLoad(t testing.TB, r *running, sessions int, ok func(*mcp.CallToolResult, error) bool) *load {
	return startLoadOf(t, sessions, func(int) *mcp.ClientSession { return connect(t, r, nil, nil) },
		func(int) (string, map[string]any) { return "echo", map[string]any{"text": "x"} }, ok)
}

// startLoadOf is startLoad with each session from connectN and its n-th call
// from nth (tool name and arguments).
func startLoadOf(t testing.TB, sessions int, connectN func(i int) *mcp.ClientSession, nth func(n int) (string, map[string]any), ok func(*mcp.CallToolResult, error) bool) *load {
	l := &load{stop: make(chan struct{})}
	for i := range sessions {
		cs := connectN(i)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				name, args := nth(n)
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
				l.calls.Add(1)
				if !ok(res, err) {
					l.failures.Add(1)
					l.firstFailure.CompareAndSwap(nil, fmt.Sprintf("%s: err=%v res=%v", name, err, res))
				}
			}
		}()
	}
	return l
}

// succeeded is the ok of a load whose every call must succeed.
func succeeded(res *mcp.CallToolResult, err error) bool { return err == nil && !res.IsError }

// end stops the sessions and waits for their last calls.
func (l *load) end() {
	close(l.stop)
	l.wg.Wait()
}
