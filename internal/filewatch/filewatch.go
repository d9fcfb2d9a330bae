// Package filewatch reports changes to a set of files and directories, once per
// burst of events. It watches parent directories rather than the files, because
// the usual ways of replacing a file (rename over it, delete and recreate, an
// editor's save) replace the inode a file watch would be attached to.
package filewatch

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher calls OnChange(path) after a watched path changes and then stays quiet
// for the debounce period. For a watched directory, path is the directory and any
// change of its entries counts.
type Watcher struct {
	w        *fsnotify.Watcher
	debounce time.Duration
	onChange func(path string)

	mu     sync.Mutex
	files  map[string]bool // watched files (clean absolute paths)
	dirs   map[string]bool // watched directories whose entries matter
	parent map[string]bool // directories registered with fsnotify
	timers map[string]*time.Timer
	closed bool
	done   chan struct{}
}

// New starts a watcher; call Set to choose what it watches and Close to stop it.
func New(debounce time.Duration, onChange func(path string)) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &Watcher{
		w: fw, debounce: debounce, onChange: onChange,
		files: map[string]bool{}, dirs: map[string]bool{}, parent: map[string]bool{},
		timers: map[string]*time.Timer{}, done: make(chan struct{}),
	}
	go w.loop()
	return w, nil
}

// Set replaces the watched files and directories. Paths that cannot be watched
// (a missing directory) are reported in the error; the rest are watched.
func (w *Watcher) Set(files, dirs []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	want := map[string]bool{}
	w.files, w.dirs = map[string]bool{}, map[string]bool{}
	for _, f := range files {
		f = filepath.Clean(f)
		w.files[f] = true
		want[filepath.Dir(f)] = true
	}
	for _, d := range dirs {
		d = filepath.Clean(d)
		w.dirs[d] = true
		want[d] = true
	}
	for d := range w.parent {
		if !want[d] {
			_ = w.w.Remove(d)
			delete(w.parent, d)
		}
	}
	var firstErr error
	for d := range want {
		if w.parent[d] {
			continue
		}
		if err := w.w.Add(d); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		w.parent[d] = true
	}
	return firstErr
}

// Close stops the watcher; no OnChange call starts afterwards.
func (w *Watcher) Close() error {
	w.mu.Lock()
	w.closed = true
	for _, t := range w.timers {
		t.Stop()
	}
	w.mu.Unlock()
	err := w.w.Close()
	<-w.done
	return err
}

func (w *Watcher) loop() {
	defer close(w.done)
	for {
		select {
		case ev, ok := <-w.w.Events:
			if !ok {
				return
			}
			w.event(filepath.Clean(ev.Name))
		case _, ok := <-w.w.Errors:
			if !ok {
				return
			}
		}
	}
}

// event (re)arms the debounce timer of the watched path that name belongs to.
func (w *Watcher) event(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := ""
	switch {
	case w.files[name]:
		key = name
	case w.dirs[filepath.Dir(name)]:
		key = filepath.Dir(name)
	case w.dirs[name]:
		key = name
	default:
		return
	}
	if t, ok := w.timers[key]; ok {
		t.Reset(w.debounce)
		return
	}
	w.timers[key] = time.AfterFunc(w.debounce, func() {
		w.mu.Lock()
		delete(w.timers, key)
		closed := w.closed
		w.mu.Unlock()
		if !closed {
			w.onChange(key)
		}
	})
}
