package workers

import (
	"sync"
	"testing"
)

// TestPoolRunsEveryTaskAtOnce: tasks never wait for each other, even beyond
// the kept goroutines, and the pool keeps no more than its bound.
func TestPoolRunsEveryTaskAtOnce(t *testing.T) {
	p := New(2)
	const n = 10
	var started, release sync.WaitGroup
	started.Add(n)
	release.Add(1)
	var done sync.WaitGroup
	done.Add(n)
	for range n {
		p.Go(func() {
			started.Done()
			release.Wait() // every task holds its goroutine until all have started
			done.Done()
		})
	}
	started.Wait()
	release.Done()
	done.Wait()
	p.mu.Lock()
	kept := p.n
	p.mu.Unlock()
	if kept != 2 {
		t.Fatalf("pool keeps %d goroutines, want 2", kept)
	}
	// Kept workers take later tasks.
	var again sync.WaitGroup
	again.Add(3)
	for range 3 {
		p.Go(again.Done)
	}
	again.Wait()
}
