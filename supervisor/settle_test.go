package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// settledSHA256 decides when a changed plugin binary is complete enough to
// start; these tests give it files in the states a deploy leaves them in.

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type settled struct {
	sum string
	err error
}

func settle(ctx context.Context, path string) <-chan settled {
	ch := make(chan settled, 1)
	go func() {
		sum, err := settledSHA256(ctx, path)
		ch <- settled{sum, err}
	}()
	return ch
}

func result(t *testing.T, ch <-chan settled) settled {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("settledSHA256 did not return")
		return settled{}
	}
}

func TestSettledSHA256(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	t.Run("a complete executable", func(t *testing.T) {
		path := filepath.Join(dir, "ready")
		content := []byte("#!/bin/sh\necho ready\n")
		if err := os.WriteFile(path, content, 0o755); err != nil {
			t.Fatal(err)
		}
		if r := result(t, settle(ctx, path)); r.err != nil || r.sum != sumOf(content) {
			t.Fatalf("got %q, %v; want %s", r.sum, r.err, sumOf(content))
		}
	})

	t.Run("removed", func(t *testing.T) {
		r := result(t, settle(ctx, filepath.Join(dir, "gone")))
		if !errors.Is(r.err, fs.ErrNotExist) {
			t.Fatalf("got %q, %v; want a not-exist error (its re-creation is another event)", r.sum, r.err)
		}
	})

	t.Run("not executable until replaced", func(t *testing.T) {
		path := filepath.Join(dir, "copying")
		if err := os.WriteFile(path, []byte("half a copy"), 0o644); err != nil {
			t.Fatal(err)
		}
		ch := settle(ctx, path)
		// Proving that it does not settle takes time: a few read intervals,
		// each of which would have been enough to settle on a stable file.
		select {
		case r := <-ch:
			t.Fatalf("settled on a file that is not executable: %q, %v", r.sum, r.err)
		case <-time.After(3 * settleInterval):
		}
		// The copy completes the usual way: an executable renamed over it.
		done := []byte("#!/bin/sh\necho complete\n")
		tmp := filepath.Join(dir, ".copying.tmp")
		if err := os.WriteFile(tmp, done, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if r := result(t, ch); r.err != nil || r.sum != sumOf(done) {
			t.Fatalf("got %q, %v; want the completed file's %s", r.sum, r.err, sumOf(done))
		}
	})

	t.Run("a directory", func(t *testing.T) {
		path := filepath.Join(dir, "adir")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		ch := settle(cctx, path)
		select {
		case r := <-ch:
			t.Fatalf("settled on a directory: %q, %v", r.sum, r.err)
		case <-time.After(3 * settleInterval):
		}
		// Waiting ends with the host's context.
		cancel()
		if r := result(t, ch); !errors.Is(r.err, context.Canceled) {
			t.Fatalf("after cancel got %q, %v", r.sum, r.err)
		}
	})
}
