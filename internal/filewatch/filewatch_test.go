package filewatch

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// calls records the watcher's OnChange calls as they happen.
type calls chan string

func newCalls() calls { return make(chan string, 64) }

func (c calls) add(p string) { c <- p }

// next waits for the next call.
func (c calls) next(t *testing.T) string {
	t.Helper()
	select {
	case p := <-c:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no OnChange call within 5s")
		return ""
	}
}

// none checks that no call comes within window. Proving that nothing happens
// takes time, so window is a few debounce periods and no more.
func (c calls) none(t *testing.T, window time.Duration, what string) {
	t.Helper()
	select {
	case p := <-c:
		t.Fatalf("%s: unexpected call for %s", what, p)
	case <-time.After(window):
	}
}

func TestReplaceStylesAndDebounce(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "plugin")
	other := filepath.Join(dir, "unrelated")
	if err := os.WriteFile(target, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	const debounce = 50 * time.Millisecond
	c := newCalls()
	w, err := New(debounce, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Set([]string{target}, nil); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		name string
		do   func()
	}{
		{"in-place write in a burst", func() {
			for i := 0; i < 5; i++ {
				_ = os.WriteFile(target, []byte{byte(i)}, 0o755)
			}
		}},
		{"rename over", func() {
			tmp := filepath.Join(dir, ".plugin.tmp")
			_ = os.WriteFile(tmp, []byte("v2"), 0o755)
			_ = os.Rename(tmp, target)
		}},
		{"remove then create", func() {
			_ = os.Remove(target)
			// A gap shorter than the debounce, as a deploy script leaves:
			// still one burst.
			time.Sleep(debounce / 5)
			_ = os.WriteFile(target, []byte("v3"), 0o755)
		}},
		{"a sibling changes, then the file", func() {
			// Events of one directory arrive in order: once the file's is
			// handled, the sibling's was too, so a call for it would show.
			_ = os.WriteFile(other, []byte("x"), 0o644)
			_ = os.WriteFile(target, []byte("v4"), 0o755)
		}},
	} {
		st.do()
		if p := c.next(t); p != target {
			t.Fatalf("%s: call for %s, want %s", st.name, p, target)
		}
		c.none(t, 3*debounce, st.name+": a second call")
	}
}

func TestDirectoryEntries(t *testing.T) {
	dir := t.TempDir()
	c := newCalls()
	w, err := New(30*time.Millisecond, c.add)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Set(nil, []string{dir}); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "new-plugin"), []byte("x"), 0o755)
	if p := c.next(t); p != dir {
		t.Fatalf("call for %s, want %s", p, dir)
	}
	if err := w.Set(nil, []string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("watching a missing directory: no error")
	}
}

// TestNoCallAfterClose: a change whose debounce is still running when Close
// is called is never reported.
func TestNoCallAfterClose(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	const debounce = 300 * time.Millisecond
	c := newCalls()
	w, err := New(debounce, c.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Set([]string{f}, nil); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(f, []byte("x"), 0o644)
	// The change was seen once its debounce timer is armed.
	for deadline := time.Now().Add(5 * time.Second); !w.pending(f); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the write was never seen")
		}
	}
	_ = w.Close()
	c.none(t, debounce+debounce/2, "after Close")
}

// pending reports whether a change of path waits out its debounce.
func (w *Watcher) pending(path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.timers[path] != nil
}
