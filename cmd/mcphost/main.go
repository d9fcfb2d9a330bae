// Command mcphost serves MCP tools that run as plugin executables. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

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
	fmt.Fprintln(os.Stderr, errorLines(err))
	var ce *config.Error
	var ue usageError
	if errors.As(err, &ce) || errors.As(err, &ue) {
		return exitConfig
	}
	return exitFailure
}

// errorLines renders err one problem per line: a config problem as
// "file:line: key: problem" (the form editors and grep jump to), anything
// else after "mcphost: ".
func errorLines(err error) string {
	parts := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		parts = joined.Unwrap()
	}
	lines := make([]string, len(parts))
	for i, e := range parts {
		var ce *config.Error
		if errors.As(e, &ce) && ce.Error() == e.Error() {
			lines[i] = e.Error()
		} else {
			lines[i] = "mcphost: " + e.Error()
		}
	}
	return strings.Join(lines, "\n")
}

// usageError marks a bad flag or argument (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }
