package filewatch

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(p string) { r.mu.Lock(); r.calls = append(r.calls, p); r.mu.Unlock() }
func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func waitFor(t *testing.T, r *recorder, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.get()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %v, want %d calls", r.get(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.get()
}

func TestReplaceStylesAndDebounce(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "plugin")
	other := filepath.Join(dir, "unrelated")
	if err := os.WriteFile(target, []byte("v1"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	w, err := New(50*time.Millisecond, r.add)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Set([]string{target}, nil); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
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
			time.Sleep(10 * time.Millisecond)
			_ = os.WriteFile(target, []byte("v3"), 0o755)
		}},
	}
	for i, st := range steps {
		st.do()
		calls := waitFor(t, r, i+1)
		time.Sleep(150 * time.Millisecond) // a second call would show up here
		if calls = r.get(); len(calls) != i+1 || calls[i] != target {
			t.Fatalf("%s: calls %v, want exactly one more for %s", st.name, calls, target)
		}
	}
	// A sibling file is not reported.
	_ = os.WriteFile(other, []byte("x"), 0o644)
	time.Sleep(200 * time.Millisecond)
	if got := r.get(); len(got) != len(steps) {
		t.Fatalf("unrelated file reported: %v", got)
	}
}

func TestDirectoryEntries(t *testing.T) {
	dir := t.TempDir()
	r := &recorder{}
	w, err := New(30*time.Millisecond, r.add)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Set(nil, []string{dir}); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(dir, "new-plugin"), []byte("x"), 0o755)
	if got := waitFor(t, r, 1); got[0] != dir {
		t.Fatalf("calls %v", got)
	}
	if err := w.Set(nil, []string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("watching a missing directory: no error")
	}
}

func TestNoCallAfterClose(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	r := &recorder{}
	w, _ := New(100*time.Millisecond, r.add)
	_ = w.Set([]string{f}, nil)
	_ = os.WriteFile(f, []byte("x"), 0o644)
	time.Sleep(20 * time.Millisecond)
	_ = w.Close()
	time.Sleep(200 * time.Millisecond)
	if got := r.get(); len(got) != 0 {
		t.Fatalf("calls after Close: %v", got)
	}
}
