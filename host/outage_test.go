package host_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcphost/mcphost/bench/loadgen"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/internal/testredis"
)

// outageLength is how long Redis stays down in TestRedisOutageUnderLoad.
const outageLength = 5 * time.Second

// storeCommandTimeout is redisstore's default per-command timeout: during an
// outage no call may take much longer than a couple of them.
const storeCommandTimeout = 2 * time.Second

// TestRedisOutageUnderLoad: 16 session clients call through three replicas
// sharing Redis; Redis is killed for outageLength, then started again
// (empty). During the outage calls fail fast with an error naming the
// session store, never hang; afterwards clients that open a new session
// succeed again on the same replicas, with no restart.
func TestRedisOutageUnderLoad(t *testing.T) {
	redis := testredis.Start(t)
	yaml := replicasYAML(redis.URL())
	lb := newRoundRobin(t, startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{}))

	const (
		before = iota
		down
		after
	)
	var (
		phase       atomic.Int32
		mu          sync.Mutex
		ok          [3]int
		failed      [3]int
		kinds       [3]map[string]int
		slowestFail time.Duration
		restarted   time.Time             // Redis answers again
		recovered   time.Time             // the first call succeeded after that
		wants       = [3]int{100, 0, 100} // successes that end the phase
		reached     = [3]chan struct{}{make(chan struct{}), nil, make(chan struct{})}
	)
	for i := range kinds {
		kinds[i] = map[string]int{}
	}
	failedDuringOutage := make(chan struct{})
	onCall := func(d time.Duration, err error) {
		p := phase.Load()
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[p]++
			kinds[p][err.Error()]++
			if p == down {
				slowestFail = max(slowestFail, d)
				if failed[p] == 16 {
					close(failedDuringOutage)
				}
			}
			return
		}
		ok[p]++
		if p == after && recovered.IsZero() {
			recovered = time.Now()
		}
		if reached[p] != nil && ok[p] == wants[p] {
			close(reached[p])
		}
	}
	until := make(chan struct{})
	done := make(chan error, 1)
	var rep *loadgen.Report
	go func() {
		var err error
		rep, err = loadgen.Run(context.Background(), loadgen.Config{
			URL: lb.url + "/mcp", Concurrency: 16, Duration: 2 * time.Minute, Until: until,
			Protocol: loadgen.Protocol2025, Tool: "echo", Args: []byte(`{"text":"o"}`),
			Check:  func(*loadgen.ToolResult) error { return nil },
			OnCall: onCall,
		})
		done <- err
	}()
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case err := <-done:
			t.Fatalf("the load ended (%v) before %s", err, what)
		}
	}

	wait("100 calls succeeded", reached[before])
	phase.Store(down)
	redis.Stop()
	outage := time.After(outageLength) // the scenario's length, not a wait for an event
	wait("calls failed during the outage", failedDuringOutage)
	<-outage
	redis.Restart(t)
	mu.Lock()
	restarted = time.Now()
	mu.Unlock()
	phase.Store(after)
	wait("100 calls succeeded after Redis returned", reached[after])
	close(until)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	for msg, n := range kinds[down] {
		// 503 from the engine ("the session store is unavailable; try
		// again"); a session being opened fails the same way.
		if !strings.Contains(msg, "HTTP 503") || !strings.Contains(msg, "session store is unavailable") {
			t.Errorf("%d calls during the outage failed with %q, want HTTP 503 naming the session store", n, msg)
		}
	}
	if slowestFail > 2*storeCommandTimeout+time.Second {
		t.Errorf("the slowest failed call during the outage took %s: calls must fail fast, not hang", slowestFail)
	}
	for msg, n := range kinds[after] {
		// Redis came back empty: a session opened before it is gone, which
		// the client hears as 404 and answers by opening a new one. A call
		// under way as Redis returned may still have hit the outage.
		if !strings.Contains(msg, "session not found") && !strings.Contains(msg, "session store is unavailable") {
			t.Errorf("%d calls after Redis returned failed with %q", n, msg)
		}
	}
	t.Logf("before: %d ok; outage (%s): %d ok, %d failed, slowest failure %s; after: first success %s after Redis returned, %d ok, %d failed (%v); run: %d calls, %d errors",
		ok[before], outageLength, ok[down], failed[down], slowestFail, recovered.Sub(restarted).Round(time.Millisecond), ok[after], failed[after], kinds[after], rep.Calls, rep.Errors)
}
