package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mcphost/mcphost/bench/baseline"
	"github.com/mcphost/mcphost/bench/loadgen"
)

// Targets of a comparison.
const (
	targetMCPHost = "mcphost"
	targetGoSDK   = "go-sdk"
	targetBare    = "bare"
)

// rowSpec is one measured row: a target instance and the load run against it.
type rowSpec struct {
	target   string
	json     bool // the target answers application/json (else SSE)
	protocol string
	c        int
}

func (r rowSpec) mode() string {
	if r.json {
		return "JSON"
	}
	return "SSE"
}

func (r rowSpec) label() string {
	return fmt.Sprintf("%s %s %s c=%d", r.target, r.protocol, r.mode(), r.c)
}

// instance is one server process; all its rows run while it is up.
type instance struct {
	target string
	json   bool
	// replica numbers the processes of one replica set (1, 2, ...); 0 is a
	// lone server. It keeps their configs and logs apart.
	replica int
}

// result is one row measured once.
type result struct {
	spec   rowSpec
	rep    *loadgen.Report
	srvCPU time.Duration
	srvOK  bool // srvCPU was measured
	// sysCPU is all busy CPU time of the machine while measuring (every
	// process, interrupts, steal); what is left after srvCPU and the load
	// generator's CPU is noise from elsewhere.
	sysCPU time.Duration
	sysOK  bool
}

// otherShare is the share of the machine's CPU capacity used by neither the
// server nor the load generator while measuring, or -1 if unknown.
func (r *result) otherShare() float64 {
	if !r.srvOK || !r.sysOK || r.rep.Elapsed <= 0 {
		return -1
	}
	other := r.sysCPU - r.srvCPU - r.rep.ClientCPU
	return max(0, float64(other)/(float64(r.rep.Elapsed)*float64(runtime.NumCPU())))
}

func (r *result) srvPerCall() float64 {
	if !r.srvOK || r.rep.Calls == 0 {
		return 0
	}
	return float64(r.srvCPU.Microseconds()) / float64(r.rep.Calls)
}

func (r *result) genPerCall() float64 {
	if r.rep.Calls == 0 || r.rep.ClientCPU == 0 {
		return 0
	}
	return float64(r.rep.ClientCPU.Microseconds()) / float64(r.rep.Calls)
}

type compare struct {
	load        loadFlags
	mcphost     string
	plugin      string
	self        string
	workdir     string
	eventStore  string
	store       string
	publicURL   string // server.public_url, when the servers sit behind a balancer
	serverProcs int
	logLevel    string
	waitIdle    time.Duration
	out         io.Writer
	progress    io.Writer
}

func runCompare(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mcpbench compare", flag.ContinueOnError)
	cmp := &compare{out: os.Stdout, progress: os.Stderr}
	cmp.load.register(fs)
	highC := fs.Int("p99c", 50, "concurrency of the extra mcphost latency rows (0: none)")
	rounds := fs.Int("rounds", 1, "measure every row this many times and report the median (by calls/s)")
	only := fs.String("only", "", "run only rows whose label (e.g. \"mcphost 2025-11-25 JSON c=16\") matches this regexp; ratios need the go-sdk and bare rows")
	fs.StringVar(&cmp.mcphost, "mcphost", "bin/mcphost", "the mcphost binary (make build)")
	fs.StringVar(&cmp.plugin, "plugin", "bin/bench/addplugin", "the add plugin binary (make bench-http builds it)")
	fs.StringVar(&cmp.workdir, "workdir", "", "directory for configs, the dev issuer key and server logs (default: a new temporary directory, removed afterwards)")
	fs.StringVar(&cmp.eventStore, "event-store", "memory", "server.event_store for mcphost and the go-sdk baseline: memory (mcphost's default) or none")
	fs.StringVar(&cmp.store, "store", "memory", "server.store for mcphost: memory, or a Redis URL (sessions and events in Redis, as replicas share them)")
	fs.IntVar(&cmp.serverProcs, "server-procs", 0, "GOMAXPROCS for the server processes (0: Go's default, all cores)")
	genProcs := fs.Int("gen-procs", 0, "GOMAXPROCS for the load generator, this process (0: Go's default, all cores)")
	fs.StringVar(&cmp.logLevel, "log-level", "info", "log.level of the servers")
	fs.DurationVar(&cmp.waitIdle, "wait-idle", time.Minute, "before each row, wait up to this long for the machine to be idle (under 10% busy for a second); 0: don't")
	jsonOut := fs.String("json-out", "", "also write the results as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("compare: unexpected argument %q", fs.Arg(0)))
	}
	if cmp.eventStore != "memory" && cmp.eventStore != "none" {
		return usageError(fmt.Errorf("-event-store: %q is not memory or none", cmp.eventStore))
	}
	if cmp.store != "memory" && !strings.HasPrefix(cmp.store, "redis://") && !strings.HasPrefix(cmp.store, "rediss://") {
		return usageError(fmt.Errorf("-store: %q is not memory or a redis:// URL", redactStore(cmp.store)))
	}
	if *rounds < 1 {
		return usageError(errors.New("-rounds must be at least 1"))
	}
	var filter *regexp.Regexp
	if *only != "" {
		var err error
		if filter, err = regexp.Compile(*only); err != nil {
			return usageError(fmt.Errorf("-only: %w", err))
		}
	}
	if *genProcs > 0 {
		runtime.GOMAXPROCS(*genProcs)
	}
	if err := cmp.findBinaries(); err != nil {
		return err
	}
	cleanup, err := cmp.prepareWorkdir("mcpbench-")
	if err != nil {
		return err
	}
	defer cleanup()

	specs := defaultRows(cmp.load.concurrency, *highC)
	if filter != nil {
		specs = slices.DeleteFunc(specs, func(r rowSpec) bool { return !filter.MatchString(r.label()) })
		if len(specs) == 0 {
			return usageError(fmt.Errorf("-only %q matches no row", *only))
		}
	}
	all := map[string][]*result{}
	for round := 1; round <= *rounds; round++ {
		for _, inst := range instancesOf(specs) {
			res, err := cmp.runInstance(ctx, inst, rowsOf(specs, inst), round, *rounds)
			for _, r := range res {
				all[r.spec.label()] = append(all[r.spec.label()], r)
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	final := make([]*result, 0, len(specs))
	for _, s := range specs {
		if rs := all[s.label()]; len(rs) > 0 {
			final = append(final, median(rs))
		}
	}
	cmp.printTable(final, *rounds)
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, final); err != nil {
			return err
		}
	}
	return nil
}

// defaultRows are the rows of the table, in display order.
func defaultRows(c, highC int) []rowSpec {
	p25, p26 := loadgen.Protocol2025, loadgen.Protocol2026
	rows := []rowSpec{
		{targetMCPHost, true, p25, c},
		{targetMCPHost, false, p25, c},
		{targetMCPHost, true, p26, c},
		{targetMCPHost, false, p26, c},
		{targetGoSDK, true, p25, c},
		{targetGoSDK, false, p25, c},
		{targetBare, true, p25, c},
	}
	if highC > 0 && highC != c {
		rows = append(rows, rowSpec{targetMCPHost, true, p25, highC}, rowSpec{targetMCPHost, true, p26, highC})
	}
	return rows
}

// instancesOf orders the server processes: the baselines first, then mcphost.
func instancesOf(specs []rowSpec) []instance {
	order := []instance{{target: targetGoSDK, json: true}, {target: targetGoSDK}, {target: targetBare, json: true}, {target: targetMCPHost, json: true}, {target: targetMCPHost}}
	return slices.DeleteFunc(order, func(in instance) bool { return len(rowsOf(specs, in)) == 0 })
}

func rowsOf(specs []rowSpec, in instance) []rowSpec {
	var out []rowSpec
	for _, s := range specs {
		if s.target == in.target && s.json == in.json {
			out = append(out, s)
		}
	}
	return out
}

// median is the result with the median calls/s (the lower middle for an even count).
func median(rs []*result) *result {
	s := slices.Clone(rs)
	sort.SliceStable(s, func(i, j int) bool { return s[i].rep.CallsPerSec() < s[j].rep.CallsPerSec() })
	return s[(len(s)-1)/2]
}

// prepareWorkdir makes -workdir, or a temporary directory that cleanup removes.
func (cmp *compare) prepareWorkdir(prefix string) (cleanup func(), err error) {
	if cmp.workdir != "" {
		return func() {}, os.MkdirAll(cmp.workdir, 0o700)
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	cmp.workdir = dir
	return func() { os.RemoveAll(dir) }, nil
}

func (cmp *compare) findBinaries() error {
	for _, p := range []*string{&cmp.mcphost, &cmp.plugin} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s: not an executable; run make bench-http (or make build and go build -o bin/bench/addplugin ./bench/addplugin)", *p)
		}
		*p = abs
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find my own binary to serve the baselines: %w", err)
	}
	cmp.self = self
	return nil
}

// runInstance starts the server for in, runs its rows, and stops it.
func (cmp *compare) runInstance(ctx context.Context, in instance, rows []rowSpec, round, rounds int) ([]*result, error) {
	p, err := cmp.start(ctx, in)
	if err != nil {
		return nil, err
	}
	defer p.stop()
	token, err := cmp.token(ctx, p.config)
	if err != nil {
		return nil, err
	}
	var out []*result
	for _, spec := range rows {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		cfg, err := cmp.load.config("http://"+p.addr+baseline.MCPPath, token, spec.protocol)
		if err != nil {
			return out, err
		}
		cfg.Concurrency = spec.c
		if err := cmp.awaitIdle(ctx); err != nil {
			return out, err
		}
		r := &result{spec: spec}
		var cpu0, sys0 time.Duration
		cfg.OnMeasure = func() {
			cpu0, r.srvOK = treeCPU(p.pid())
			sys0, r.sysOK = systemCPU()
		}
		cfg.OnDone = func() {
			cpu1, ok := treeCPU(p.pid())
			r.srvCPU, r.srvOK = cpu1-cpu0, r.srvOK && ok
			sys1, ok := systemCPU()
			r.sysCPU, r.sysOK = sys1-sys0, r.sysOK && ok
		}
		rep, err := loadgen.Run(ctx, cfg)
		if err != nil {
			return out, err
		}
		r.rep = rep
		out = append(out, r)
		fmt.Fprintf(cmp.progress, "[%d/%d] %-32s %8.0f calls/s  p50 %s  p99 %s  errors %d  other %s\n",
			round, rounds, spec.label(), rep.CallsPerSec(), ms(rep.P50), ms(rep.P99), rep.Errors, pct(r.otherShare()))
		if p.exitedEarly() {
			return out, fmt.Errorf("%s exited during %s; its log:\n%s", in.target, spec.label(), tail(p.logPath, 20))
		}
	}
	return out, nil
}

// awaitIdle waits, up to cmp.waitIdle, until the machine's CPUs are under
// 10% busy for a second, so other work (a build, a test run) does not land in
// a measurement. It goes on anyway after the limit; the other column tells.
func (cmp *compare) awaitIdle(ctx context.Context) error {
	if cmp.waitIdle <= 0 {
		return nil
	}
	deadline := time.Now().Add(cmp.waitIdle)
	for said := false; ; {
		s0, ok := systemCPU()
		t0 := time.Now()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		s1, _ := systemCPU()
		busy := float64(s1-s0) / (float64(time.Since(t0)) * float64(runtime.NumCPU()))
		if !ok || busy < 0.10 {
			return nil
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(cmp.progress, "machine still %.0f%% busy after %s: measuring anyway\n", 100*busy, cmp.waitIdle)
			return nil
		}
		if !said {
			fmt.Fprintf(cmp.progress, "waiting for the machine to be idle (%.0f%% busy)...\n", 100*busy)
			said = true
		}
	}
}

// server is one running target process.
type server struct {
	cmd     *exec.Cmd
	addr    string
	config  string
	logPath string
	exited  chan struct{}
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) exitedEarly() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// stop asks the server to shut down (SIGTERM) and kills it if it lingers.
func (s *server) stop() {
	if s.exitedEarly() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// start launches the target on a free loopback port and waits until it is
// ready. A port taken between choosing and binding makes it retry.
func (cmp *compare) start(ctx context.Context, in instance) (*server, error) {
	var lastErr error
	for attempt := range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		name := strings.ReplaceAll(fmt.Sprintf("%s-%s", in.target, strings.ToLower(rowSpec{json: in.json}.mode())), "/", "-")
		if in.replica > 0 {
			name += fmt.Sprintf("-r%d", in.replica)
		}
		s := &server{addr: addr, config: filepath.Join(cmp.workdir, name+".yaml"), logPath: filepath.Join(cmp.workdir, fmt.Sprintf("%s.%d.log", name, attempt)), exited: make(chan struct{})}
		if err := os.WriteFile(s.config, []byte(cmp.configYAML(in, addr)), 0o600); err != nil {
			return nil, err
		}
		var argv []string
		switch in.target {
		case targetMCPHost:
			argv = []string{cmp.mcphost, "serve", "--config", s.config}
		case targetGoSDK:
			argv = []string{cmp.self, "serve", "gosdk", "-config", s.config}
		case targetBare:
			argv = []string{cmp.self, "serve", "bare", "-config", s.config}
		}
		logf, err := os.Create(s.logPath)
		if err != nil {
			return nil, err
		}
		s.cmd = exec.Command(argv[0], argv[1:]...)
		s.cmd.Env = cmp.childEnv()
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		if err := s.cmd.Start(); err != nil {
			logf.Close()
			return nil, fmt.Errorf("starting %s: %w", in.target, err)
		}
		go func() { _ = s.cmd.Wait(); logf.Close(); close(s.exited) }()
		if lastErr = waitReady(ctx, s, 60*time.Second); lastErr == nil {
			return s, nil
		}
		s.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, lastErr
}

// configYAML is the config of one target: mcphost as `mcphost dev` would serve
// it (provider dev), with the add plugin; the baselines read the same keys.
// Hot reload is off (nothing changes during a run; no watcher wakes up).
func (cmp *compare) configYAML(in instance, addr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by mcpbench compare\nserver:\n  listen: %s\n  json_response: %t\n  stateless: false\n  event_store: %s\n",
		addr, in.json, cmp.eventStore)
	if cmp.publicURL != "" {
		// Replicas behind a balancer: tokens name the balancer's URL.
		fmt.Fprintf(&b, "  public_url: %s\n", strconv.Quote(cmp.publicURL))
	}
	if in.target == targetMCPHost && cmp.store != "memory" {
		// Replicas sharing a store must share the request-state secret.
		fmt.Fprintf(&b, "  store: %s\n  state_secret: %s\n", strconv.Quote(cmp.store), strconv.Quote("mcpbench-shared-state-secret-0123456789abcdef"))
	}
	fmt.Fprintf(&b, "log:\n  level: %s\ndata_dir: %s\nauth:\n  provider: dev\nhot_reload:\n  plugins: false\n  config: false\n",
		cmp.logLevel, strconv.Quote(filepath.Join(cmp.workdir, "data")))
	if in.target == targetMCPHost {
		// max_concurrency above any -c, so the plugin's call limit never queues.
		fmt.Fprintf(&b, "plugins:\n  add:\n    path: %s\n    max_concurrency: 1024\n", strconv.Quote(cmp.plugin))
	}
	return b.String()
}

// childEnv is the environment of a target (see childEnv).
func (cmp *compare) childEnv() []string { return childEnv(cmp.serverProcs) }

// childEnv is this environment without the variables that would change a
// target's config behind our back (MCPHOST_* overrides, MCP_URL), and with
// GOMAXPROCS=procs when procs > 0.
func childEnv(procs int) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.HasPrefix(k, "MCPHOST_") || k == "MCP_URL" || k == "MCP_USE_OAUTH_WORKOS_SUBDOMAIN" || k == "GOMAXPROCS"
	})
	if procs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	return env
}

// token mints a dev-issuer token valid for the target configured by cfgPath.
func (cmp *compare) token(ctx context.Context, cfgPath string) (string, error) {
	cmd := exec.CommandContext(ctx, cmp.mcphost, "token", "--config", cfgPath, "--sub", "user_mcpbench", "--org", "org_mcpbench", "--ttl", "24h")
	cmd.Env = cmp.childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("mcphost token: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(string(out)), nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /readyz until it answers 200 (mcphost: every plugin running).
func waitReady(ctx context.Context, s *server, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready; its log:\n%s", filepath.Base(s.config), tail(s.logPath, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; its log:\n%s", filepath.Base(s.config), limit, tail(s.logPath, 20))
		}
	}
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// printTable prints the comparison. Ratios divide calls/s by the go-sdk row of
// the same response mode and by the bare row, at the same concurrency; the
// cpu ratios divide the reference's server CPU per call by the row's, so
// above 1 means the row spends less CPU per call than the reference.
func (cmp *compare) printTable(rows []*result, rounds int) {
	ref := func(target string, json bool, c int) *result {
		for _, r := range rows {
			if r.spec.target == target && r.spec.json == json && r.spec.c == c && r.rep.Calls > 0 {
				return r
			}
		}
		return nil
	}
	ratio := func(num, den float64) string {
		if num <= 0 || den <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", num/den)
	}
	w := cmp.out
	fmt.Fprintf(w, "\nmcpbench compare: %s; %d CPUs, load generator GOMAXPROCS %d, server GOMAXPROCS %s; warmup %s, %s per row, median of %d round(s)\n",
		mcphostVersion(cmp.mcphost), runtime.NumCPU(), runtime.GOMAXPROCS(0), procsLabel(cmp.serverProcs), cmp.load.warmup, measureLabel(cmp.load), rounds)
	fmt.Fprintf(w, "tool %s %s, one dev-issuer JWT through the mcphost gate on every request; event_store %s; mcphost store %s\n\n", cmp.load.tool, cmp.load.args, cmp.eventStore, redactStore(cmp.store))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tprotocol\tresp\tc\tcalls/s\tp50\tp99\terrors\tvs go-sdk\tvs bare\tsrv µs/call\tgen µs/call\tcpu vs go-sdk\tcpu vs bare\tother\t")
	for _, r := range rows {
		s, rep := r.spec, r.rep
		g, b := ref(targetGoSDK, s.json, s.c), ref(targetBare, true, s.c)
		p50, p99 := "-", "-"
		if rep.Calls > 0 {
			p50, p99 = ms(rep.P50), ms(rep.P99)
		}
		gr, br, gcpu, bcpu := "-", "-", "-", "-"
		if g != nil {
			gr, gcpu = ratio(rep.CallsPerSec(), g.rep.CallsPerSec()), ratio(g.srvPerCall(), r.srvPerCall())
		}
		if b != nil {
			br, bcpu = ratio(rep.CallsPerSec(), b.rep.CallsPerSec()), ratio(b.srvPerCall(), r.srvPerCall())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			s.target, s.protocol, s.mode(), s.c, rep.CallsPerSec(), p50, p99, rep.Errors, gr, br,
			perCall(r.srvPerCall()), perCall(r.genPerCall()), gcpu, bcpu, pct(r.otherShare()))
	}
	tw.Flush()
	printed := false
	for _, r := range rows {
		if r.rep.Errors == 0 {
			continue
		}
		if !printed {
			fmt.Fprintln(w, "\nerrors (most frequent message per row):")
			printed = true
		}
		fmt.Fprintf(w, "  %s: %d failed calls: %s\n", r.spec.label(), r.rep.Errors, r.rep.FirstError())
	}
	fmt.Fprintln(w, `
vs go-sdk, vs bare: calls/s over that of the go-sdk row of the same response mode (the go-sdk speaks
2025-11-25) and of the bare row, at the same concurrency. srv µs/call: CPU (user+system) of the server
process tree (mcphost + plugin, or the baseline process) per successful call, from /proc; gen µs/call:
the load generator's own. Both compete for the same cores, so calls/s ratios understate server-side
differences; the cpu columns (reference's srv µs/call over the row's) compare the servers alone.
other: CPU used by anything else while the row was measured (other processes, interrupts, hypervisor
steal), as a share of all cores; above a few percent the row was disturbed: rerun it.`)
}

func pct(share float64) string {
	if share < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*share)
}

func perCall(us float64) string {
	if us <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", us)
}

func procsLabel(n int) string {
	if n > 0 {
		return strconv.Itoa(n)
	}
	return "default (" + strconv.Itoa(runtime.NumCPU()) + ")"
}

func measureLabel(l loadFlags) string {
	if l.count > 0 {
		return strconv.Itoa(l.count) + " calls"
	}
	return l.duration.String()
}

func mcphostVersion(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "mcphost (version unknown)"
	}
	return strings.TrimSpace(string(out))
}

// writeJSON writes the rows for scripts: one object per row.
func writeJSON(path string, rows []*result) error {
	type row struct {
		Target      string  `json:"target"`
		Protocol    string  `json:"protocol"`
		Response    string  `json:"response"`
		Concurrency int     `json:"concurrency"`
		CallsPerSec float64 `json:"calls_per_sec"`
		Calls       int     `json:"calls"`
		Errors      int     `json:"errors"`
		FirstError  string  `json:"first_error,omitempty"`
		P50Ms       float64 `json:"p50_ms"`
		P90Ms       float64 `json:"p90_ms"`
		P99Ms       float64 `json:"p99_ms"`
		MaxMs       float64 `json:"max_ms"`
		ServerCPUUs float64 `json:"server_cpu_us_per_call"`
		GenCPUUs    float64 `json:"loadgen_cpu_us_per_call"`
	}
	msf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		out = append(out, row{
			Target: r.spec.target, Protocol: r.spec.protocol, Response: r.spec.mode(), Concurrency: r.spec.c,
			CallsPerSec: r.rep.CallsPerSec(), Calls: r.rep.Calls, Errors: r.rep.Errors, FirstError: r.rep.FirstError(),
			P50Ms: msf(r.rep.P50), P90Ms: msf(r.rep.P90), P99Ms: msf(r.rep.P99), MaxMs: msf(r.rep.Max),
			ServerCPUUs: r.srvPerCall(), GenCPUUs: r.genPerCall(),
		})
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// redactStore is a store URL without its password, for the table's header.
func redactStore(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		return u.Redacted()
	}
	return s
}
