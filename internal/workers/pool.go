// Package workers runs short tasks on goroutines that outlive them. A fresh
// goroutine starts with a small stack and grows it, by copying, through a
// deep call path (a tool call through gRPC and back); a reused one has grown
// already, which measurably cuts the cost of each task.
package workers

import "sync"

// Pool keeps up to Max goroutines; tasks beyond them get their own goroutine.
// The zero value is not ready: use New.
type Pool struct {
	work chan func()
	max  int

	mu sync.Mutex
	n  int
}

// New returns a pool that keeps at most max goroutines.
func New(max int) *Pool { return &Pool{work: make(chan func()), max: max} }

// Go runs f on an idle worker, a new kept worker, or (the pool full) a
// goroutine of its own. It never waits for f.
func (p *Pool) Go(f func()) {
	select {
	case p.work <- f:
		return
	default:
	}
	p.mu.Lock()
	keep := p.n < p.max
	if keep {
		p.n++
	}
	p.mu.Unlock()
	if !keep {
		go f()
		return
	}
	go func() {
		f()
		for f := range p.work {
			f()
		}
	}()
}
