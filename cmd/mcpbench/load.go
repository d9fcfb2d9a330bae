package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/mcphost/mcphost/bench/loadgen"
)

// loadFlags are the load generator's flags, shared by load and compare.
type loadFlags struct {
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	count       int
	timeout     time.Duration
	tool        string
	args        string
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&l.concurrency, "c", 16, "concurrent clients (one connection each, one call in flight each)")
	fs.DurationVar(&l.duration, "d", 10*time.Second, "measured duration")
	fs.DurationVar(&l.warmup, "warmup", 2*time.Second, "calls before measuring starts")
	fs.IntVar(&l.count, "n", 0, "measure this many calls instead of a duration")
	fs.DurationVar(&l.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&l.tool, "tool", "add", "tool to call")
	fs.StringVar(&l.args, "args", `{"a":2,"b":3}`, "tool arguments (a JSON object)")
}

func (l *loadFlags) config(url, token, protocol string) (loadgen.Config, error) {
	if !json.Valid([]byte(l.args)) {
		return loadgen.Config{}, usageError(fmt.Errorf("-args: not JSON: %s", l.args))
	}
	return loadgen.Config{
		URL:         url,
		Token:       token,
		Concurrency: l.concurrency,
		Duration:    l.duration,
		Warmup:      l.warmup,
		Count:       l.count,
		Timeout:     l.timeout,
		Protocol:    protocol,
		Tool:        l.tool,
		Args:        json.RawMessage(l.args),
	}, nil
}

func runLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("mcpbench load", flag.ContinueOnError)
	var lf loadFlags
	lf.register(fs)
	url := fs.String("url", "http://127.0.0.1:8080/mcp", "MCP endpoint")
	token := fs.String("token", os.Getenv("MCPHOST_TOKEN"), "bearer token (default $MCPHOST_TOKEN)")
	protocol := fs.String("protocol", loadgen.Protocol2025, "protocol version: "+loadgen.Protocol2025+" (initialize once, then a session) or "+loadgen.Protocol2026+" (sessionless, _meta on every request)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the load generator to this file")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Errorf("load: unexpected argument %q", fs.Arg(0)))
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := lf.config(*url, *token, *protocol)
	if err != nil {
		return err
	}
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		return err
	}
	printReport(os.Stdout, *url, rep)
	return nil
}

func printReport(w io.Writer, url string, r *loadgen.Report) {
	fmt.Fprintf(w, "%s  protocol %s  c=%d  %s measured\n", url, r.Protocol, r.Concurrency, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  calls/s %.0f  calls %d  errors %d\n", r.CallsPerSec(), r.Calls, r.Errors)
	if r.Calls > 0 {
		fmt.Fprintf(w, "  latency p50 %s  p90 %s  p99 %s  max %s\n", ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max))
		fmt.Fprintf(w, "  load generator CPU %.1f µs/call\n", float64(r.ClientCPU.Microseconds())/float64(r.Calls))
	}
	kinds := make([]string, 0, len(r.ErrorKinds))
	for k := range r.ErrorKinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return r.ErrorKinds[kinds[i]] > r.ErrorKinds[kinds[j]] })
	for _, k := range kinds {
		fmt.Fprintf(w, "  error x%d: %s\n", r.ErrorKinds[k], k)
	}
	if r.Errors == 0 && r.SetupErrors > 0 {
		fmt.Fprintf(w, "  %d failed session setups before measuring: %s\n", r.SetupErrors, r.FirstError())
	}
}

// ms formats a latency in milliseconds with two decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
