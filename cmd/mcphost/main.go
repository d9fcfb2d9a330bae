// Command mcphost serves MCP tools that run as plugin executables. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/sandbox"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// First thing: close this process's environment (WORKOS_API_KEY, state
	// secrets) and memory to plugins, which run as the same user.
	if err := sandbox.ProtectSelf(); err != nil {
		fmt.Fprintln(os.Stderr, "mcphost: warning:", err)
	}
	os.Exit(run(os.Args[1:]))
}

// Exit codes: 2 for bad configuration or usage, 1 for any other failure.
const (
	exitFailure = 1
	exitConfig  = 2
)

// run executes the CLI and returns the process exit code.
func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintln(os.Stderr, "mcphost: "+errorLines(err))
	var ce *config.Error
	var ue usageError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return exitConfig
	}
	return exitFailure
}

// errorLines prints joined errors one per line, each prefixed for grep-ability.
func errorLines(err error) string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		s := ""
		for i, e := range joined.Unwrap() {
			if i > 0 {
				s += "\nmcphost: "
			}
			s += e.Error()
		}
		return s
	}
	return err.Error()
}

// usageError marks a bad flag or argument (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
