package host_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
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
	// busy is closed once backends[0] has answered busyAt requests.
	busy   chan struct{}
	busyAt int
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
		if b == f.backends[0] && f.served[b] == f.busyAt {
			close(f.busy)
		}
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
// shut down (as on SIGTERM): not one call fails.
func TestDrainingReplicaLosesNoCalls(t *testing.T) {
	redis := testredis.Start(t)
	yaml := replicasYAML(redis.URL())
	yaml = strings.Replace(yaml, `testplugin"}`, `testplugin", max_concurrency: 64}`, 1)
	replicas := []*running{startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{}), startHost(t, yaml, host.ServerOptions{})}
	f := &failover{tr: &http.Transport{MaxIdleConnsPerHost: 64}, served: map[string]int{}, busy: make(chan struct{}), busyAt: 50}
	for _, r := range replicas {
		f.backends = append(f.backends, r.url)
	}
	lb := &http.Server{Handler: f}
	ln := listen(t)
	go lb.Serve(ln)
	t.Cleanup(func() { _ = lb.Close() })

	drained := make(chan error, 1)
	rep, err := loadgen.Run(context.Background(), loadgen.Config{
		URL: "http://" + ln.Addr().String() + "/mcp", Concurrency: 16, Duration: 3 * time.Second,
		Protocol: loadgen.Protocol2025, Tool: "echo", Args: []byte(`{"text":"d"}`),
		Check: func(res *loadgen.ToolResult) error { return nil },
		OnMeasure: func() {
			go func() {
				<-f.busy // drain once the first replica is carrying load
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				drained <- replicas[0].srv.Shutdown(ctx)
			}()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
	if rep.Errors != 0 || rep.SetupErrors != 0 || rep.Calls < 100 {
		t.Fatalf("%d calls, %d errors (%s), %d setup errors", rep.Calls, rep.Errors, rep.FirstError(), rep.SetupErrors)
	}
	before := f.count(replicas[0].url)
	for _, r := range replicas[1:] {
		if f.count(r.url) == 0 {
			t.Errorf("replica %s served nothing", r.url)
		}
	}
	t.Logf("%d calls, %.0f/s, p99 %s; drained replica served %d requests before it stopped", rep.Calls, rep.CallsPerSec(), rep.P99, before)
}
