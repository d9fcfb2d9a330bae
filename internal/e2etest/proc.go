//go:build unix

package e2etest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Proc is a server an e2e test runs in the background (see Start).
type Proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Start runs bin with args in dir as a background server, in its own process
// group, with env added to this process's environment (nil adds nothing). Its
// output goes to the test log line by line, prefixed with name. When the test
// ends it gets SIGTERM, then the whole group SIGKILL, so neither it nor the
// plugins it started outlive the test.
func Start(t testing.TB, name, dir string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	lw := NewLineLogger(t, name)
	cmd.Stdout, cmd.Stderr = lw, lw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			t.Logf("%s did not stop on SIGTERM; killing it", name)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // plugins or other leftovers
		<-p.exited
		lw.Close()
	})
	return p
}

// WaitHTTP polls u until it answers 200, so a test talks to a server only
// once it is ready; it fails early if p exits, and after a generous timeout.
func WaitHTTP(t testing.TB, p *Proc, u string) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(u)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited before %s answered: %v", p.name, u, p.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			t.Fatalf("%s: %s not ready within %v (last error: %v)", p.name, u, readyTimeout, err)
		}
	}
}
