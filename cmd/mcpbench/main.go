// Command mcpbench measures MCP tools/call throughput and latency over HTTP.
//
//	mcpbench load    -url URL -token T [-c 16] [-d 10s] ...   drive one running endpoint
//	mcpbench serve   gosdk|bare -config FILE [-response json|sse]  serve a baseline
//	mcpbench compare [-c 16] [-d 10s] ...                      mcphost vs the baselines, one table
//	mcpbench replicas -store redis://... [-replicas 3] ...      one replica vs several sharing Redis
//	mcpbench soak    [-duration 10m] [-clients 32] ...          mixed traffic, plugin kills, swaps and floods; fails on lost calls or growth
//
// It talks HTTP only, so it measures any engine behind /mcp the same way. See
// bench/README.md for what is measured and how fairly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `mcpbench measures MCP tools/call over Streamable HTTP.

Usage:
  mcpbench load [flags]                  drive a running MCP endpoint (mcpbench load -h)
  mcpbench serve gosdk|bare [flags]      serve a baseline behind the dev-issuer gate (mcpbench serve -h)
  mcpbench compare [flags]               run mcphost and the baselines side by side (mcpbench compare -h)
  mcpbench replicas -store URL [flags]   one mcphost vs several sharing Redis, behind one balancer (mcpbench replicas -h)
  mcpbench soak [flags]                  mcphost dev under mixed traffic, kills, swaps and floods; fails on lost calls or growth (mcpbench soak -h)

make bench-http builds everything and runs compare; make soak builds and runs soak.
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "load":
		err = runLoad(ctx, args[1:])
	case "serve":
		err = runServe(ctx, args[1:])
	case "compare":
		err = runCompare(ctx, args[1:])
	case "replicas":
		err = runReplicas(ctx, args[1:])
	case "soak":
		err = runSoak(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		err = usageError(fmt.Errorf("unknown command %q", args[0]))
	}
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(os.Stderr, "mcpbench: "+err.Error())
	var ue badUsage
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

// badUsage marks a bad command line (exit code 2).
type badUsage struct{ error }

func (b badUsage) Unwrap() error { return b.error }

func usageError(err error) error { return badUsage{err} }
