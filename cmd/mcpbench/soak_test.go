package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// buildSoakBinaries builds what a soak starts (mcphost, the three kill
// targets, two builds of the test plugin that answer differently) into dir,
// in three concurrent go builds.
func buildSoakBinaries(t *testing.T, dir string) {
	t.Helper()
	builds := [][]string{
		{"-o", dir + "/", "./cmd/mcphost", "./plugins/whoami", "./plugins/documents", "./plugins/admin"},
		{"-ldflags", "-X main.buildVersion=A", "-o", filepath.Join(dir, "testplugin-a"), "./internal/testplugin"},
		{"-ldflags", "-X main.buildVersion=B -X main.extraTool=added", "-o", filepath.Join(dir, "testplugin-b"), "./internal/testplugin"},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(builds))
	for i, args := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command("go", append([]string{"build"}, args...)...)
			cmd.Dir = "../.."
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestSoakShort runs the soak for a few seconds with every kind of client
// and chaos, against real binaries: the host must lose no call, restart
// every killed plugin, take every swap, shed every flood and end with the
// descriptors it started with. Timeouts are shortened so that a flood drains
// in seconds.
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts mcphost and plugins for about 30 seconds")
	}
	dir := t.TempDir()
	buildSoakBinaries(t, dir)
	var out, progress bytes.Buffer
	args := []string{
		"-duration", "10s", "-warmup", "4s", "-interval", "2s", "-clients", "8", "-rate", "10",
		"-kill-every", "2500ms", "-swap-every", "3s", "-flood-every", "4s", "-flood-conns", "300",
		"-read-timeout", "2s", "-idle-timeout", "3s",
		"-mcphost", filepath.Join(dir, "mcphost"), "-plugins", dir,
		"-testplugin-a", filepath.Join(dir, "testplugin-a"), "-testplugin-b", filepath.Join(dir, "testplugin-b"),
		"-workdir", filepath.Join(dir, "work"), "-v",
		// Seconds are too few for the heap to find its size; TestRSSVerdict
		// covers the rule.
		"-growth-check=false",
	}
	err := soakMain(context.Background(), args, &out, &progress)
	t.Logf("soak output:\n%s\nprogress:\n%s", out.String(), progress.String())
	if err != nil {
		t.Fatalf("soak: %v; host log:\n%s", err, tail(filepath.Join(dir, "work", "mcphost.log"), 40))
	}
	text := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^PASS$`),
		regexp.MustCompile(`, 0 lost, 0 wrong`),
		regexp.MustCompile(`kills: [1-9]\d* \(`),
		regexp.MustCompile(`swaps: [1-9]\d*, each serving`),
		regexp.MustCompile(`flood 1 at .*: [1-9]\d* refused at accept`),
		regexp.MustCompile(`bad request: unknown tool [1-9]`),
		regexp.MustCompile(`[1-9]\d* abandoned; [1-9]\d* abandoned GET streams`),
		regexp.MustCompile(`[1-9]\d* tools/list_changed`),
	} {
		if !want.MatchString(text) {
			t.Errorf("soak output lacks %s", want)
		}
	}
}

// TestRSSVerdict: noise around a level and one flood's spike pass; a leak
// like the one this soak was written against (28 -> 214 MB in five minutes)
// and a slow steady climb fail.
func TestRSSVerdict(t *testing.T) {
	const m = 1 << 20
	series := func(n int, f func(i int) float64) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(f(i) * m)
		}
		return out
	}
	noise := []float64{0, 3, -2, 4, -1, 2, -3, 1, 0, 2, -2, 3, 1, -1, 2, 0}
	for _, tc := range []struct {
		name string
		rss  []int64
		fail int // problems expected
	}{
		{"flat with noise", series(16, func(i int) float64 { return 60 + noise[i] }), 0},
		{"a flood's spike", series(16, func(i int) float64 {
			if i == 7 {
				return 80
			}
			return 60 + noise[i]
		}), 0},
		{"a heap finding its size", series(16, func(i int) float64 { return 60 + 6*float64(min(i, 4))/4 + noise[i] }), 0},
		{"the old leak: 37 MiB a minute, sampled every 30s", series(16, func(i int) float64 { return 60 + 18.5*float64(i) }), 2},
		{"4 MiB a minute", series(16, func(i int) float64 { return 60 + 2*float64(i) + noise[i] }), 1},
	} {
		_, _, _, problems := rssVerdict(tc.rss)
		if len(problems) != tc.fail {
			t.Errorf("%s: %d problems %q, want %d", tc.name, len(problems), problems, tc.fail)
		}
	}
}

// TestSoakJudges: what counts as an answer. A JSON-RPC error naming a
// plugin is the host speaking for a plugin that is down; a transport
// failure or a deadline is a lost call; a forgotten session is wrong.
func TestSoakJudges(t *testing.T) {
	s := &soak{callTimeout: time.Second}
	for _, tc := range []struct {
		err  error
		want outcome
		what string
	}{
		{&jsonrpc.Error{Code: -32603, Message: "plugin whoami failed running tool whoami"}, outPluginErr, "whoami"},
		{fmt.Errorf("calling tools/call: %w", &jsonrpc.Error{Code: -32603, Message: "tool slow (plugin tp) timed out after 30s"}), outPluginErr, "tp"},
		{&jsonrpc.Error{Code: -32602, Message: "unknown tool \"echo\""}, outWrong, ""},
		{fmt.Errorf("x: %w", mcp.ErrSessionMissing), outWrong, ""},
		{errors.New("connection reset by peer"), outLost, ""},
		{fmt.Errorf("calling: %w", context.DeadlineExceeded), outLost, "no answer within 1s"},
	} {
		o, detail := s.judgeSDK(tc.err)
		if o != tc.want || (tc.what != "" && detail != tc.what) {
			t.Errorf("judgeSDK(%v) = %d %q, want %d %q", tc.err, o, detail, tc.want, tc.what)
		}
	}
	if o, _ := s.judgeToolError("plugin documents is unavailable (restarting); try again shortly"); o != outPluginErr {
		t.Errorf("a restarting plugin's tool error: %d, want plugin error", o)
	}
	if o, _ := s.judgeToolError("Forbidden: admin role required"); o != outWrong {
		t.Errorf("a tool's own error: %d, want wrong", o)
	}
}

// TestSoakUsageErrors: bad flags are refused, naming the flag, before
// anything starts.
func TestSoakUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-clients", "0"}, "-clients must be at least 1"},
		{[]string{"-duration", "1m", "-warmup", "1m"}, "must be shorter than -duration"},
		{[]string{"-duration", "1m", "-warmup", "50s", "-interval", "5s"}, "fewer than 3 samples after warm-up"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-mcphost", "/nonexistent/mcphost"}, "run make soak"},
	} {
		err := soakMain(context.Background(), tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
