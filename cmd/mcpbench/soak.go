package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// mcpbench soak runs the real `mcphost dev`, in its default configuration, for
// a long while under mixed traffic (both protocol eras, sessions kept, cycled
// and abandoned, progress, resources, bad requests) while plugins are killed,
// hot-swapped and the listener is flooded, and fails on any call that got no
// answer or on memory or descriptors that keep growing.

// soak is one soak run: its settings, the host it drives and what it saw.
type soak struct {
	duration, warmup, interval time.Duration
	clients                    int
	rate                       float64 // ops per second per client
	killEvery, swapEvery       time.Duration
	floodEvery                 time.Duration
	floodConns                 int
	floodAddr                  string // local address the floods come from
	callTimeout                time.Duration
	// readTimeout and idleTimeout override the host's server.read_timeout
	// and server.idle_timeout (0: its defaults). Only short runs (the test)
	// set them, so a flood drains in seconds instead of a minute.
	readTimeout, idleTimeout time.Duration
	mcphost, pluginDir       string
	tpBuilds                 [2]string // testplugin builds A and B, swapped in turn
	workdir                  string
	keep, verbose            bool
	growthCheck              bool // judge RSS growth (the test's seconds-long run cannot)
	out, progress            io.Writer

	// Set up by start.
	srv       *server
	started   time.Time // when traffic began
	base      string    // http://127.0.0.1:PORT
	tpPath    string    // the live binary of the swap target
	tpSHA     [2]string
	tokens    []string // one per client
	users     []soakUser
	floodTok  string
	scrape    *http.Client
	logf      func(format string, args ...any)
	stats     soakStats
	samples   []soakSample
	chaos     chaosLog
	transMu   sync.Mutex
	transport []*http.Transport // every client's, closed at the end
}

// soakUser is the identity of one client: its own user and organization.
type soakUser struct {
	sub, org string
	admin    bool
}

// Plugins the soak configures: kill targets in the order they are killed,
// and the swap target (the test plugin, with resources).
var killTargets = []string{"whoami", "documents", "admin"}

const swapTarget = "tp"

// Slack and bounds of the verdict.
const (
	// fdSlack is how many more descriptors the host may hold at the quiet end
	// than at the quiet start: a few keep-alive or plugin connections that
	// are between states, never hundreds (a flood's) or one per call.
	fdSlack = 16
	// RSS after warm-up (see rssVerdict): the peak may exceed the early
	// median by a quarter plus rssPeakSlack (GC cycles, a flood's buffers),
	// and the late median may exceed it by a tenth plus rssGrowthSlack.
	rssPeakSlack   = 16 << 20
	rssGrowthSlack = 8 << 20
)

func runSoak(ctx context.Context, args []string) error {
	return soakMain(ctx, args, os.Stdout, os.Stderr)
}

// soakMain is runSoak writing the table to out and progress to progress.
func soakMain(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("mcpbench soak", flag.ContinueOnError)
	fs.SetOutput(progress)
	s := &soak{out: out, progress: progress}
	fs.DurationVar(&s.duration, "duration", 10*time.Minute, "how long traffic runs")
	fs.IntVar(&s.clients, "clients", 32, "concurrent clients, each its own user and organization")
	fs.DurationVar(&s.warmup, "warmup", 2*time.Minute, "growth is judged on the samples after this (default at most a fifth of -duration)")
	fs.DurationVar(&s.interval, "interval", 30*time.Second, "print a line (and take a sample) this often (default at most a twentieth of -duration)")
	fs.Float64Var(&s.rate, "rate", 20, "operations per second of each client at most (slow calls make fewer)")
	fs.DurationVar(&s.killEvery, "kill-every", 25*time.Second, "kill -9 a plugin this often ("+strings.Join(killTargets, ", ")+" in turn; 0: never)")
	fs.DurationVar(&s.swapEvery, "swap-every", 40*time.Second, "hot-swap the test plugin this often (0: never)")
	fs.DurationVar(&s.floodEvery, "flood-every", 90*time.Second, "start a connection flood this often (0: never)")
	fs.IntVar(&s.floodConns, "flood-conns", 300, "connections per flood: slow bodies, slow headers and idle keep-alives")
	fs.StringVar(&s.floodAddr, "flood-from", "127.0.0.2", "loopback address the floods come from, so the per-peer cap they hit is not the clients'")
	fs.DurationVar(&s.callTimeout, "call-timeout", 20*time.Second, "a request not answered within this is lost")
	fs.DurationVar(&s.readTimeout, "read-timeout", 0, "server.read_timeout for the host (0: its default; for short runs)")
	fs.DurationVar(&s.idleTimeout, "idle-timeout", 0, "server.idle_timeout for the host (0: its default; for short runs)")
	fs.StringVar(&s.mcphost, "mcphost", "bin/mcphost", "the mcphost binary (make build)")
	fs.StringVar(&s.pluginDir, "plugins", "bin/plugins", "directory with the whoami, documents and admin plugins (make build)")
	fs.StringVar(&s.tpBuilds[0], "testplugin-a", "bin/soak/testplugin-a", "internal/testplugin built with -X main.buildVersion=A (make soak)")
	fs.StringVar(&s.tpBuilds[1], "testplugin-b", "bin/soak/testplugin-b", "internal/testplugin built with -X main.buildVersion=B (make soak)")
	fs.StringVar(&s.workdir, "workdir", "", "directory for the config, plugins, data and host log (default: a temporary one, removed after a pass)")
	fs.BoolVar(&s.keep, "keep", false, "keep the work directory after a pass")
	fs.BoolVar(&s.verbose, "v", false, "log every kill, swap and flood as it happens")
	fs.BoolVar(&s.growthCheck, "growth-check", true, "fail on RSS growth after warm-up (false only for runs too short for the host's heap to find its size)")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("soak: unexpected argument %q", fs.Arg(0)))
	}
	// Defaults that fit a shorter -duration (make soak SOAK_DURATION=3m).
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["warmup"] {
		s.warmup = min(s.warmup, s.duration/5)
	}
	if !set["interval"] {
		s.interval = min(s.interval, s.duration/20)
	}
	if err := s.validate(); err != nil {
		return usageError(err)
	}
	var logMu sync.Mutex // chaos steps log from their own goroutines
	s.logf = func(format string, args ...any) {
		if s.verbose {
			logMu.Lock()
			defer logMu.Unlock()
			fmt.Fprintf(s.progress, "soak: "+format+"\n", args...)
		}
	}
	if err := s.findBinaries(); err != nil {
		return err
	}
	cleanup, err := s.prepareWorkdir()
	if err != nil {
		return err
	}
	err = s.run(ctx)
	if err == nil && !s.keep {
		cleanup()
	} else {
		fmt.Fprintf(s.progress, "soak: work directory kept: %s (host log: %s)\n", s.workdir, filepath.Join(s.workdir, "mcphost.log"))
	}
	return err
}

func (s *soak) validate() error {
	switch {
	case s.clients < 1:
		return errors.New("-clients must be at least 1")
	case s.duration <= 0 || s.interval <= 0:
		return errors.New("-duration and -interval must be positive")
	case s.warmup < 0 || s.warmup >= s.duration:
		return fmt.Errorf("-warmup %s must be shorter than -duration %s", s.warmup, s.duration)
	case int((s.duration-s.warmup)/s.interval) < 3:
		return fmt.Errorf("-duration %s, -warmup %s and -interval %s leave fewer than 3 samples after warm-up to judge growth on", s.duration, s.warmup, s.interval)
	case s.rate <= 0:
		return errors.New("-rate must be positive")
	case s.floodConns < 0:
		return errors.New("-flood-conns must not be negative")
	case s.callTimeout <= 0:
		return errors.New("-call-timeout must be positive")
	}
	return nil
}

func (s *soak) findBinaries() error {
	hint := "; run make soak (it builds bin/mcphost, bin/plugins/* and bin/soak/testplugin-{a,b})"
	paths := []*string{&s.mcphost, &s.tpBuilds[0], &s.tpBuilds[1]}
	for _, name := range killTargets {
		p := filepath.Join(s.pluginDir, name)
		paths = append(paths, &p)
	}
	for _, p := range paths {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: not an executable%s", *p, hint)
		}
		*p = abs
	}
	abs, err := filepath.Abs(s.pluginDir)
	if err != nil {
		return err
	}
	s.pluginDir = abs
	for i, b := range s.tpBuilds {
		sum, err := fileSHA256(b)
		if err != nil {
			return err
		}
		s.tpSHA[i] = sum
	}
	if s.tpSHA[0] == s.tpSHA[1] {
		return fmt.Errorf("%s and %s are the same binary: a swap between them changes nothing (build them with different -ldflags)", s.tpBuilds[0], s.tpBuilds[1])
	}
	return nil
}

func (s *soak) prepareWorkdir() (cleanup func(), err error) {
	if s.workdir != "" {
		abs, err := filepath.Abs(s.workdir)
		if err != nil {
			return nil, err
		}
		s.workdir = abs
		return func() {}, os.MkdirAll(s.workdir, 0o700)
	}
	dir, err := os.MkdirTemp("", "mcpbench-soak-")
	if err != nil {
		return nil, err
	}
	s.workdir = dir
	return func() { os.RemoveAll(dir) }, nil
}

// run starts the host, drives it for the duration, drains it, and judges.
func (s *soak) run(ctx context.Context) error {
	if err := s.start(ctx); err != nil {
		return err
	}
	defer s.srv.stop()
	quietStart, err := s.quietSample(ctx, -1)
	if err != nil {
		return err
	}
	s.printHeader(quietStart)

	start := time.Now()
	s.started = start
	clientsStop := make(chan struct{})
	var clients sync.WaitGroup
	for i := range s.clients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			s.runClient(ctx, i, clientsStop)
		}()
	}
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var chaos sync.WaitGroup
	s.startChaos(ctx, chaosCtx, &chaos)

	deadline := start.Add(s.duration)
	for next := start; ; {
		next = next.Add(s.interval)
		if next.After(deadline) {
			next = deadline
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			stopChaos()
			close(clientsStop)
			return fmt.Errorf("soak interrupted after %s", time.Since(start).Round(time.Second))
		case <-s.srv.exited:
			t.Stop()
			stopChaos()
			close(clientsStop)
			return fmt.Errorf("mcphost exited during the soak; its log:\n%s", tail(s.srv.logPath, 30))
		case <-t.C:
		}
		smp := s.sample(ctx, time.Since(start))
		s.samples = append(s.samples, smp)
		s.printSample(smp)
		if !next.Before(deadline) {
			break
		}
	}

	// Drain: no new kills or swaps, clients finish their last request and
	// close what they keep open, the flood in progress runs until the host
	// has shed it. Then the host should be back where it started.
	stopChaos()
	close(clientsStop)
	clients.Wait()
	chaos.Wait()
	s.closeIdle()
	if s.srv.exitedEarly() {
		return fmt.Errorf("mcphost exited while the soak drained; its log:\n%s", tail(s.srv.logPath, 30))
	}
	quietEnd, err := s.quietSample(ctx, quietStart.fds+fdSlack)
	if err != nil {
		return err
	}
	quietEnd.elapsed = time.Since(start)
	return s.verdict(quietStart, quietEnd)
}

// start writes the config, copies the plugins, runs `mcphost dev` on a free
// loopback port and mints a token per client.
func (s *soak) start(ctx context.Context) error {
	plugDir := filepath.Join(s.workdir, "plugins")
	if err := os.MkdirAll(plugDir, 0o755); err != nil {
		return err
	}
	// Copies, so that a `make build` during the soak swaps nothing, and the
	// swap target can be replaced without touching bin/.
	for _, name := range killTargets {
		if err := copyExecutable(filepath.Join(s.pluginDir, name), filepath.Join(plugDir, name)); err != nil {
			return err
		}
	}
	s.tpPath = filepath.Join(plugDir, swapTarget)
	if err := copyExecutable(s.tpBuilds[0], s.tpPath); err != nil {
		return err
	}
	cfgDir := filepath.Join(s.workdir, "etc") // apart from the log, which the config watcher need not see
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return err
	}
	var lastErr error
	for range 3 { // a port taken between choosing and binding: try another
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		srv := &server{addr: addr, config: filepath.Join(cfgDir, "mcphost.yaml"), logPath: filepath.Join(s.workdir, "mcphost.log"), exited: make(chan struct{})}
		if err := os.WriteFile(srv.config, []byte(s.configYAML(addr, plugDir)), 0o600); err != nil {
			return err
		}
		logf, err := os.Create(srv.logPath)
		if err != nil {
			return err
		}
		// stdout is the audit log (a line per call): discarded, but written,
		// as in the default configuration.
		srv.cmd = exec.Command(s.mcphost, "dev", "--config", srv.config)
		srv.cmd.Env = childEnv(0)
		srv.cmd.Stderr = logf
		if err := srv.cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("starting %s: %w", s.mcphost, err)
		}
		go func() { _ = srv.cmd.Wait(); logf.Close(); close(srv.exited) }()
		if lastErr = waitReady(ctx, srv, 60*time.Second); lastErr == nil {
			s.srv, s.base = srv, "http://"+addr
			break
		}
		srv.stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if s.srv == nil {
		return lastErr
	}
	s.scrape = &http.Client{Transport: s.newTransport(), Timeout: 10 * time.Second}
	s.users = make([]soakUser, s.clients)
	s.tokens = make([]string, s.clients)
	for i := range s.clients {
		u := soakUser{sub: fmt.Sprintf("soak_user_%02d", i), org: fmt.Sprintf("soak_org_%02d", i), admin: i%4 == 0}
		roles := "member"
		if u.admin {
			roles = "admin,member"
		}
		tok, err := s.token(ctx, "--sub", u.sub, "--org", u.org, "--roles", roles)
		if err != nil {
			return err
		}
		s.users[i], s.tokens[i] = u, tok
	}
	tok, err := s.token(ctx, "--sub", "soak_flood", "--org", "soak_flood")
	if err != nil {
		return err
	}
	s.floodTok = tok
	return nil
}

// configYAML is the host's config: its defaults (memory event store, legacy
// sessions, sandboxed plugins, metrics, audit, hot reload) with the soak's
// plugins. Only -read-timeout and -idle-timeout change a server key.
func (s *soak) configYAML(addr, plugDir string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by mcpbench soak: mcphost's defaults, the soak's plugins\nserver:\n  listen: %s\n", addr)
	if s.readTimeout > 0 {
		fmt.Fprintf(&b, "  read_timeout: %s\n", s.readTimeout)
	}
	if s.idleTimeout > 0 {
		fmt.Fprintf(&b, "  idle_timeout: %s\n", s.idleTimeout)
	}
	fmt.Fprintf(&b, "data_dir: %s\nauth:\n  provider: dev\nplugins:\n", strconv.Quote(filepath.Join(s.workdir, "data")))
	fmt.Fprintf(&b, "  whoami:\n    path: %s\n", strconv.Quote(filepath.Join(plugDir, "whoami")))
	fmt.Fprintf(&b, "  documents:\n    path: %s\n", strconv.Quote(filepath.Join(plugDir, "documents")))
	fmt.Fprintf(&b, "  admin:\n    path: %s\n    require_roles: [admin]\n", strconv.Quote(filepath.Join(plugDir, "admin")))
	fmt.Fprintf(&b, "  %s:\n    path: %s\n    env: {TESTPLUGIN_FEATURES: \"1\"}\n", swapTarget, strconv.Quote(s.tpPath))
	return b.String()
}

func (s *soak) token(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.mcphost, append([]string{"token", "--config", s.srv.config, "--ttl", "24h"}, args...)...)
	cmd.Env = childEnv(0)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("mcphost token %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

// newTransport is a client's own connection pool. Idle connections are
// dropped well before the host's idle_timeout would close them: otherwise a
// request sent on a connection the host is closing fails, the classic
// keep-alive race that any well-configured client avoids.
func (s *soak) newTransport() *http.Transport {
	idle := 60 * time.Second
	if s.idleTimeout > 0 {
		idle = s.idleTimeout
	}
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     idle / 2,
		DisableCompression:  true,
	}
	s.transMu.Lock()
	s.transport = append(s.transport, tr)
	s.transMu.Unlock()
	return tr
}

// closeIdle closes every client's idle connections, so that the host holds
// none of them at the quiet end.
func (s *soak) closeIdle() {
	s.transMu.Lock()
	defer s.transMu.Unlock()
	for _, tr := range s.transport {
		tr.CloseIdleConnections()
	}
}

// soakSample is one line of the table.
type soakSample struct {
	elapsed                   time.Duration
	counts                    [numOutcomes]int64
	rss, heap                 int64 // bytes; heap from go_memstats_heap_inuse_bytes
	fds, goroutines           int
	sessions, streams         int
	restarts, swaps           int
	floodOpen                 int
	rssFromProc, fdsFromProc  bool
	metricsErr, readyzErr     string
	haveMetrics, haveRestarts bool
}

// sample reads the host's RSS and descriptors from /proc (falling back to
// its process_* metrics) and the rest from /metrics and /readyz.
func (s *soak) sample(ctx context.Context, elapsed time.Duration) soakSample {
	smp := soakSample{elapsed: elapsed, floodOpen: int(s.stats.floodOpen.Load())}
	for i := range smp.counts {
		smp.counts[i] = s.stats.counts[i].Load()
	}
	m, err := s.metrics(ctx)
	if err != nil {
		smp.metricsErr = err.Error()
	} else {
		smp.haveMetrics = true
		smp.heap = int64(m["go_memstats_heap_inuse_bytes"])
		smp.goroutines = int(m["go_goroutines"])
		smp.sessions = int(m["mcphost_sessions_active"])
		smp.streams = int(m["mcphost_sse_streams_active"])
		smp.rss = int64(m["process_resident_memory_bytes"])
		smp.fds = int(m["process_open_fds"])
	}
	if rss, ok := procRSS(s.srv.pid()); ok {
		smp.rss, smp.rssFromProc = rss, true
	}
	if fds, ok := procFDs(s.srv.pid()); ok {
		smp.fds, smp.fdsFromProc = fds, true
	}
	if st, err := s.readyz(ctx); err != nil {
		smp.readyzErr = err.Error()
	} else {
		smp.haveRestarts = true
		for _, p := range st {
			smp.restarts += p.Restarts
			smp.swaps += p.Swaps
		}
	}
	return smp
}

// quietSample samples the host with no traffic. With settle > 0 it first
// waits (up to 20s, or the host's idle timeout and a bit) for the host's
// descriptors to fall to settle: connections the clients just closed are
// closed on the host's side a moment later.
func (s *soak) quietSample(ctx context.Context, settle int) (soakSample, error) {
	if settle > 0 {
		limit := 20 * time.Second
		deadline := time.Now().Add(limit)
		for {
			if smp := s.sample(ctx, 0); smp.fds <= settle || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				return soakSample{}, ctx.Err()
			case <-s.srv.exited:
				return soakSample{}, fmt.Errorf("mcphost exited; its log:\n%s", tail(s.srv.logPath, 30))
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	smp := s.sample(ctx, 0)
	if !smp.haveMetrics {
		return smp, fmt.Errorf("reading %s/metrics: %s", s.base, smp.metricsErr)
	}
	return smp, nil
}

// metrics scrapes the host's unlabelled gauges (loopback peers may read
// /metrics in the default configuration).
func (s *soak) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.scrape.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("/metrics: %w", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) > 0 {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				out[name] = m.GetUntyped().GetValue()
			}
		}
	}
	return out, nil
}

// pluginStatus is the part of a plugin's /readyz entry the soak reads.
type pluginStatus struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	State     string `json:"state"`
	PID       int    `json:"pid"`
	SHA256    string `json:"sha256"`
	Restarts  int    `json:"restarts"`
	Swaps     int    `json:"swaps"`
	LastError string `json:"last_error"`
}

// readyz reads every plugin's status (listed to loopback peers, on 200 and
// on 503 alike: a killed plugin makes the host unready until it is back).
func (s *soak) readyz(ctx context.Context) (map[string]pluginStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.scrape.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Plugins []pluginStatus `json:"plugins"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("/readyz (%s): %w", resp.Status, err)
	}
	if len(body.Plugins) == 0 {
		return nil, fmt.Errorf("/readyz (%s) lists no plugins", resp.Status)
	}
	out := make(map[string]pluginStatus, len(body.Plugins))
	for _, p := range body.Plugins {
		out[p.Name] = p
	}
	return out, nil
}

func (s *soak) printHeader(q soakSample) {
	kinds := map[clientKind]int{}
	for i := range s.clients {
		kinds[kindOf(i)]++
	}
	var mix []string
	for _, k := range allKinds {
		if kinds[k] > 0 {
			mix = append(mix, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	w := s.out
	fmt.Fprintf(w, "mcpbench soak: %s; %d CPUs; %d clients (%s), at most %.0f ops/s each\n",
		mcphostVersion(s.mcphost), runtime.NumCPU(), s.clients, strings.Join(mix, ", "), s.rate)
	fmt.Fprintf(w, "%s of traffic, judged after a %s warm-up, a line every %s; a request unanswered after %s is lost\n",
		s.duration, s.warmup, s.interval, s.callTimeout)
	timeouts := "server defaults (memory event store, legacy sessions, plugin sandbox, metrics, audit, hot reload)"
	if s.readTimeout > 0 || s.idleTimeout > 0 {
		timeouts += fmt.Sprintf(" except read_timeout %s, idle_timeout %s", orDefault(s.readTimeout, "30s"), orDefault(s.idleTimeout, "1m0s"))
	}
	fmt.Fprintf(w, "mcphost dev (pid %d) at %s: %s\n", s.srv.pid(), s.base, timeouts)
	fmt.Fprintf(w, "chaos: kill -9 a plugin every %s (%s in turn), swap %s between two builds every %s, %d-connection flood from %s every %s\n",
		orDefault(s.killEvery, "never"), strings.Join(killTargets, ", "), swapTarget, orDefault(s.swapEvery, "never"), s.floodConns, s.floodAddr, orDefault(s.floodEvery, "never"))
	fmt.Fprintf(w, "quiet start: rss %.1f MiB, heap %.1f MiB, %d fds, %d goroutines\n\n", mib(q.rss), mib(q.heap), q.fds, q.goroutines)
	fmt.Fprintf(w, "%8s %9s %10s %7s %5s %6s %8s %8s %5s %6s %8s %7s %8s %5s %5s\n",
		"elapsed", "ok", "plugin-err", "bad-ok", "lost", "wrong", "rss MiB", "heap MiB", "fds", "gorout", "sessions", "streams", "restarts", "swaps", "flood")
}

func (s *soak) printSample(smp soakSample) {
	c := smp.counts
	fmt.Fprintf(s.out, "%8s %9d %10d %7d %5d %6d %8.1f %8.1f %5d %6d %8d %7d %8d %5d %5d\n",
		clock(smp.elapsed), c[outOK], c[outPluginErr], c[outBadOK], c[outLost], c[outWrong],
		mib(smp.rss), mib(smp.heap), smp.fds, smp.goroutines, smp.sessions, smp.streams, smp.restarts, smp.swaps, smp.floodOpen)
	if smp.metricsErr != "" || smp.readyzErr != "" {
		fmt.Fprintf(s.out, "         (sample incomplete: metrics %q, readyz %q)\n", smp.metricsErr, smp.readyzErr)
	}
}

// rssVerdict judges the RSS samples taken after warm-up. The early level is
// the median of the first third of them and the late level the median of the
// last third: medians, so one sample taken during a flood or just before a
// GC cycle does not decide. It fails when
//   - any sample exceeds the early level by a quarter plus 16 MiB (a fast
//     leak, like the 28 -> 214 MB in five minutes this soak was written
//     against, trips this within a minute), or
//   - the late level exceeds the early level by a tenth plus 8 MiB. The two
//     medians are about 5 minutes apart in a 10-minute soak, so this trips on
//     a steady climb of about 2.5 MiB a minute or more, a leak at this
//     traffic; a Go heap that has found its size moves by a few MiB either
//     way. Slower leaks need a longer soak to tell from noise.
func rssVerdict(rss []int64) (early, late, peak int64, problems []string) {
	n := len(rss)
	third := max(1, n/3)
	early, late = medianInt(rss[:third]), medianInt(rss[n-third:])
	peak = slices.Max(rss)
	if bound := early + early/4 + rssPeakSlack; peak > bound {
		problems = append(problems, fmt.Sprintf("RSS peaked at %.1f MiB after warm-up, over the bound of %.1f MiB (early median %.1f MiB + 25%% + 16 MiB)", mib(peak), mib(bound), mib(early)))
	}
	if bound := early + early/10 + rssGrowthSlack; late > bound {
		problems = append(problems, fmt.Sprintf("RSS grew from a median of %.1f MiB early after warm-up to %.1f MiB late, over the bound of %.1f MiB (+10%% + 8 MiB)", mib(early), mib(late), mib(bound)))
	}
	return early, late, peak, problems
}

func medianInt(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// verdict prints the totals and the checks, and fails the run on any lost
// or wrong answer, failed chaos step, or growth.
func (s *soak) verdict(q0, q1 soakSample) error {
	w := s.out
	var problems []string
	st := &s.stats
	c := [numOutcomes]int64{}
	for i := range c {
		c[i] = st.counts[i].Load()
	}
	fmt.Fprintf(w, "\ntotals: %d answered ok, %d plugin errors (%s), %d bad requests answered as they should be, %d lost, %d wrong\n",
		c[outOK], c[outPluginErr], st.pluginErrSummary(), c[outBadOK], c[outLost], c[outWrong])
	fmt.Fprintf(w, "operations: %s\n", st.opSummary())
	fmt.Fprintf(w, "sessions: %d legacy sessions opened, %d closed with DELETE, %d abandoned; %d abandoned GET streams; %d reconnects after a failure\n",
		st.sessOpened.Load(), st.sessClosed.Load(), st.sessAbandoned.Load(), st.streamsDropped.Load(), st.reconnects.Load())
	fmt.Fprintf(w, "notifications: %d progress, %d log messages, %d tools/list_changed\n", st.progress.Load(), st.logs.Load(), st.listChanged.Load())
	s.chaos.print(w)
	if c[outLost] > 0 {
		problems = append(problems, fmt.Sprintf("%d requests got no answer: %s", c[outLost], st.kinds(outLost)))
	}
	if c[outWrong] > 0 {
		problems = append(problems, fmt.Sprintf("%d requests got a wrong answer: %s", c[outWrong], st.kinds(outWrong)))
	}
	if c[outOK] == 0 {
		problems = append(problems, "no request was answered ok")
	}
	problems = append(problems, s.chaos.problems()...)

	var rss []int64
	for _, smp := range s.samples {
		if smp.elapsed >= s.warmup {
			rss = append(rss, smp.rss)
		}
	}
	early, late, peak, rssProblems := rssVerdict(rss)
	judged := "bounds"
	if s.growthCheck {
		problems = append(problems, rssProblems...)
	} else {
		judged = "not judged (-growth-check=false); bounds would be"
	}
	fmt.Fprintf(w, "RSS after warm-up (%d samples): early median %.1f MiB, late median %.1f MiB, peak %.1f MiB; %s: peak <= %.1f MiB, late <= %.1f MiB\n",
		len(rss), mib(early), mib(late), mib(peak), judged, mib(early+early/4+rssPeakSlack), mib(early+early/10+rssGrowthSlack))
	fmt.Fprintf(w, "quiet end (traffic stopped, floods shed, clients disconnected): rss %.1f MiB, heap %.1f MiB, %d fds (start %d, bound %d), %d goroutines (start %d), %d sessions left (abandoned ones wait for server.session_timeout)\n",
		mib(q1.rss), mib(q1.heap), q1.fds, q0.fds, q0.fds+fdSlack, q1.goroutines, q0.goroutines, q1.sessions)
	if q1.fds > q0.fds+fdSlack {
		problems = append(problems, fmt.Sprintf("the host holds %d file descriptors with no traffic at the end, %d more than at the start (slack %d)", q1.fds, q1.fds-q0.fds, fdSlack))
	}
	if !q1.fdsFromProc {
		fmt.Fprintln(w, "(fds from the host's process_open_fds metric: /proc/<pid>/fd of the non-dumpable host needs root)")
	}
	if len(problems) > 0 {
		fmt.Fprintln(w, "\nFAIL")
		for _, p := range problems {
			fmt.Fprintln(w, "  - "+p)
		}
		return fmt.Errorf("soak failed: %d problem(s)", len(problems))
	}
	fmt.Fprintln(w, "\nPASS")
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// clock formats an elapsed time as 12m30s.
func clock(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func orDefault(d time.Duration, zero string) string {
	if d <= 0 {
		return zero
	}
	return d.String()
}

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(data)), nil
}

// copyExecutable copies src to dst (mode 0755) through a temporary file
// renamed into place, so a watcher never sees dst half-written.
func copyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".new")
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // WriteFile's mode is subject to the umask
		return err
	}
	return os.Rename(tmp, dst)
}
