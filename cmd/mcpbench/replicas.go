package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/mcphost/mcphost/bench/baseline"
	"github.com/mcphost/mcphost/bench/loadgen"
)

// replicaRow is one measured configuration of `mcpbench replicas`.
type replicaRow struct {
	replicas int
	store    string // "memory" or the shared Redis URL
	protocol string
}

func (r replicaRow) label() string {
	store := "memory"
	if r.store != "memory" {
		store = "redis"
	}
	return fmt.Sprintf("%d replica(s) %s %s", r.replicas, store, r.protocol)
}

type replicaResult struct {
	row    replicaRow
	rep    *loadgen.Report
	srvCPU time.Duration // all replicas' process trees
	srvOK  bool
}

func (r *replicaResult) srvPerCall() float64 {
	if !r.srvOK || r.rep.Calls == 0 {
		return 0
	}
	return float64(r.srvCPU.Microseconds()) / float64(r.rep.Calls)
}

// runReplicas measures mcphost as one replica and as several sharing Redis,
// every row through the same round-robin balancer (in this process), so the
// rows differ only in what is behind it.
func runReplicas(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mcpbench replicas", flag.ContinueOnError)
	cmp := &compare{out: os.Stdout, progress: os.Stderr, eventStore: "memory"}
	cmp.load.register(fs)
	n := fs.Int("replicas", 3, "replicas of the largest row")
	store := fs.String("store", "", "the Redis URL the replicas share (required), e.g. redis://127.0.0.1:6379/0")
	rounds := fs.Int("rounds", 1, "measure every row this many times and report the median (by calls/s)")
	fs.StringVar(&cmp.mcphost, "mcphost", "bin/mcphost", "the mcphost binary (make build)")
	fs.StringVar(&cmp.plugin, "plugin", "bin/bench/addplugin", "the add plugin binary (make bench-http builds it)")
	fs.StringVar(&cmp.workdir, "workdir", "", "directory for configs, the dev issuer key and server logs (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&cmp.logLevel, "log-level", "info", "log.level of the servers")
	fs.DurationVar(&cmp.waitIdle, "wait-idle", time.Minute, "before each row, wait up to this long for the machine to be idle; 0: don't")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("replicas: unexpected argument %q", fs.Arg(0)))
	}
	if !strings.HasPrefix(*store, "redis://") && !strings.HasPrefix(*store, "rediss://") {
		return usageError(fmt.Errorf("-store: want the redis:// URL the replicas share, got %q", redactStore(*store)))
	}
	if *n < 2 {
		return usageError(errors.New("-replicas must be at least 2"))
	}
	if *rounds < 1 {
		return usageError(errors.New("-rounds must be at least 1"))
	}
	if err := cmp.findBinaries(); err != nil {
		return err
	}
	cleanup, err := cmp.prepareWorkdir("mcpbench-replicas-")
	if err != nil {
		return err
	}
	defer cleanup()
	var rows []replicaRow
	for _, p := range []string{loadgen.Protocol2025, loadgen.Protocol2026} {
		rows = append(rows, replicaRow{1, "memory", p}, replicaRow{1, *store, p}, replicaRow{*n, *store, p})
	}
	all := map[replicaRow][]*replicaResult{}
	for round := 1; round <= *rounds; round++ {
		for _, row := range rows {
			r, err := cmp.runReplicaRow(ctx, row)
			if err != nil {
				return fmt.Errorf("%s: %w", row.label(), err)
			}
			all[row] = append(all[row], r)
			fmt.Fprintf(cmp.progress, "[%d/%d] %-36s %8.0f calls/s  p50 %s  p99 %s  errors %d\n",
				round, *rounds, row.label(), r.rep.CallsPerSec(), ms(r.rep.P50), ms(r.rep.P99), r.rep.Errors)
		}
	}
	final := make([]*replicaResult, 0, len(rows))
	for _, row := range rows {
		rs := slices.Clone(all[row])
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].rep.CallsPerSec() < rs[j].rep.CallsPerSec() })
		best := rs[(len(rs)-1)/2] // the median by calls/s
		final = append(final, best)
	}
	cmp.printReplicas(final, *rounds, *store)
	return nil
}

// runReplicaRow starts row.replicas mcphost processes behind a fresh
// balancer, drives load through it, and stops them.
func (cmp *compare) runReplicaRow(ctx context.Context, row replicaRow) (*replicaResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lbURL := "http://" + ln.Addr().String()
	cmp.store, cmp.publicURL = row.store, lbURL
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	lb := &balancer{}
	for i := range row.replicas {
		s, err := cmp.start(ctx, instance{target: targetMCPHost, json: true, replica: i + 1})
		if err != nil {
			ln.Close()
			return nil, err
		}
		servers = append(servers, s)
		u, _ := url.Parse("http://" + s.addr)
		p := httputil.NewSingleHostReverseProxy(u)
		p.Transport = loadgen.NewTransport(cmp.load.concurrency)
		lb.backends = append(lb.backends, p)
	}
	front := &http.Server{Handler: lb}
	go front.Serve(ln)
	defer front.Close()

	token, err := cmp.token(ctx, servers[0].config)
	if err != nil {
		return nil, err
	}
	cfg, err := cmp.load.config(lbURL+baseline.MCPPath, token, row.protocol)
	if err != nil {
		return nil, err
	}
	if err := cmp.awaitIdle(ctx); err != nil {
		return nil, err
	}
	r := &replicaResult{row: row}
	var cpu0 time.Duration
	cpuOf := func() (time.Duration, bool) {
		var sum time.Duration
		for _, s := range servers {
			c, ok := treeCPU(s.pid())
			if !ok {
				return 0, false
			}
			sum += c
		}
		return sum, true
	}
	cfg.OnMeasure = func() { cpu0, r.srvOK = cpuOf() }
	cfg.OnDone = func() {
		cpu1, ok := cpuOf()
		r.srvCPU, r.srvOK = cpu1-cpu0, r.srvOK && ok
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.rep = rep
	for _, s := range servers {
		if s.exitedEarly() {
			return r, fmt.Errorf("a replica exited during the run; its log:\n%s", tail(s.logPath, 20))
		}
	}
	return r, nil
}

// balancer sends request n to backend n mod len: no stickiness, so every
// replica serves every session.
type balancer struct {
	backends []*httputil.ReverseProxy
	next     atomic.Uint64
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.backends[int(b.next.Add(1)-1)%len(b.backends)].ServeHTTP(w, r)
}

func (cmp *compare) printReplicas(rows []*replicaResult, rounds int, store string) {
	w := cmp.out
	fmt.Fprintf(w, "\nmcpbench replicas: %s; %d CPUs; warmup %s, %s per row, median of %d round(s); c=%d; JSON responses\n",
		mcphostVersion(cmp.mcphost), runtime.NumCPU(), cmp.load.warmup, measureLabel(cmp.load), rounds, cmp.load.concurrency)
	fmt.Fprintf(w, "every row through the same round-robin balancer in the load generator's process; shared store %s\n\n", redactStore(store))
	base := map[string]*replicaResult{}
	for _, r := range rows {
		if r.row.replicas == 1 && r.row.store == "memory" {
			base[r.row.protocol] = r
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "replicas\tstore\tprotocol\tcalls/s\tp50\tp99\terrors\tvs 1 memory\tp50 added\tsrv µs/call\t")
	for _, r := range rows {
		b := base[r.row.protocol]
		vs, added := "-", "-"
		if b != nil && b.rep.CallsPerSec() > 0 && r.rep.Calls > 0 {
			vs = fmt.Sprintf("%.2fx", r.rep.CallsPerSec()/b.rep.CallsPerSec())
			added = fmt.Sprintf("%+.2fms", float64(r.rep.P50-b.rep.P50)/float64(time.Millisecond))
		}
		store := "memory"
		if r.row.store != "memory" {
			store = "redis"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t\n", r.row.replicas, store, r.row.protocol,
			r.rep.CallsPerSec(), ms(r.rep.P50), ms(r.rep.P99), r.rep.Errors, vs, added, perCall(r.srvPerCall()))
	}
	tw.Flush()
	for _, r := range rows {
		if r.rep.Errors > 0 {
			fmt.Fprintf(w, "  %s: %d failed calls: %s\n", r.row.label(), r.rep.Errors, r.rep.FirstError())
		}
	}
	fmt.Fprintln(w, `
vs 1 memory: calls/s over one replica with the in-process store, same protocol; p50 added: its median
latency minus that row's. srv µs/call: CPU of every replica's process tree (mcphost + plugin) per call.
All replicas, Redis and the load generator share this machine's cores: on a small machine more
replicas add capacity only where cores are idle; the rows show the cost of sharing state.`)
}
