package host_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcphost/mcphost/bench/loadgen"
	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/internal/testredis"
)

// failover is a load balancer that, like production ones, sends a request to
// the next backend when one refuses or drops the connection before
// answering (a draining replica): the request never reached a handler.
type failover struct {
	backends []string
	next     atomic.Uint64
	tr       *http.Transport
	mu       sync.Mutex
	served   map[string]int
	waiters  []servedWaiter
}

// servedWaiter is closed once backend has answered n requests.
type servedWaiter struct {
	backend string
	n       int
	ch      chan struct{}
}

// once returns a channel closed when backend has answered n requests in all.
func (f *failover) once(backend string, n int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	if f.served[backend] >= n {
		close(ch)
		return ch
	}
	f.waiters = append(f.waiters, servedWaiter{backend, n, ch})
	return ch
}

func (f *failover) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	start := int(f.next.Add(1))
	for i := range f.backends {
		b := f.backends[(start+i)%len(f.backends)]
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, b+r.URL.Path, bytes.NewReader(body))
		out.Header = r.Header.Clone()
		resp, err := f.tr.RoundTrip(out)
		if err != nil {
			continue // not answered: try the next replica
		}
		f.mu.Lock()
		f.served[b]++
		f.waiters = slices.DeleteFunc(f.waiters, func(w servedWaiter) bool {
			if w.backend == b && f.served[b] >= w.n {
				close(w.ch)
				return true
			}
			return false
		})
		f.mu.Unlock()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				_, _ = w.Write(buf[:n])
				w.(http.Flusher).Flush()
			}
			if rerr != nil {
				break
			}
		}
		resp.Body.Close()
		return
	}
	http.Error(w, "no replica answered", http.StatusBadGateway)
}

func (f *failover) count(b string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served[b]
}

// TestDrainingReplicaLosesNoCalls: 16 clients with 2025-11-25 sessions call
// through a balancer over three replicas sharing Redis while one replica is
// shut down (as on SIGTERM) and later started again on its address: not one
// call fails, and the restarted replica takes its share again.
func TestDrainingReplicaLosesNoCalls(t *testing.T) {
	redis := testredis.Start(t)
	yaml := replicasYAML(redis.URL())
	yaml = strings.Replace(yaml, `testplugin"}`, `testplugin", max_concurrency: 64}`, 1)
	replicas := []*running{startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{})}
	f := &failover{tr: &http.Transport{MaxIdleConnsPerHost: 64}, served: map[string]int{}}
	for _, r := range replicas {
		f.backends = append(f.backends, r.url)
	}
	lb := &http.Server{Handler: f}
	ln := listen(t)
	go lb.Serve(ln)
	t.Cleanup(func() { _ = lb.Close() })

	first := replicas[0].url
	busy := f.once(first, 50) // drain once the first replica is carrying load
	measuring := make(chan struct{})
	until := make(chan struct{})
	type result struct {
		rep *loadgen.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := loadgen.Run(context.Background(), loadgen.Config{
			URL: "http://" + ln.Addr().String() + "/mcp", Concurrency: 16, Duration: time.Minute, Until: until,
			Protocol: loadgen.Protocol2025, Tool: "echo", Args: []byte(`{"text":"d"}`),
			Check:     func(res *loadgen.ToolResult) error { return nil },
			OnMeasure: func() { close(measuring) },
		})
		done <- result{rep, err}
	}()
	<-measuring
	<-busy
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := replicas[0].srv.Shutdown(ctx); err != nil {
		close(until)
		t.Fatalf("drain: %v", err)
	}
	before := f.count(first)
	// The replacement listens where the drained one did, as a restarted pod
	// behind the same Service; the balancer finds it again on its own.
	restarted := startHostAt(t, yaml, host.ServerOptions{}, strings.TrimPrefix(first, "http://"))
	<-f.once(first, before+50)
	close(until)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	rep := res.rep
	if rep.Errors != 0 || rep.SetupErrors != 0 || rep.Calls < 100 {
		t.Fatalf("%d calls, %d errors (%s), %d setup errors", rep.Calls, rep.Errors, rep.FirstError(), rep.SetupErrors)
	}
	for _, r := range replicas[1:] {
		if f.count(r.url) == 0 {
			t.Errorf("replica %s served nothing", r.url)
		}
	}
	t.Logf("%d calls, %.0f/s, p99 %s; drained replica served %d requests before it stopped, %d after its restart at %s",
		rep.Calls, rep.CallsPerSec(), rep.P99, before, f.count(first)-before, restarted.url)
}
