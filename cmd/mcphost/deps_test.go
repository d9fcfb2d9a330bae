package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServingPathWithoutGoSDK: mcphost serves MCP with its own engine; the
// go-sdk is a client for tests and a benchmark baseline, never linked into
// the binary.
func TestServingPathWithoutGoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/modelcontextprotocol/go-sdk") {
			t.Errorf("mcphost links %s", pkg)
		}
	}
}
