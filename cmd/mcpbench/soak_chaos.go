package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Chaos during a soak: plugins killed with SIGKILL (the host must restart
// them), the test plugin's binary replaced (the host must swap it in), and
// floods of connections that never finish a request or sit idle (the host
// must shed them and give their descriptors back).

// chaosWait bounds how long a restart or a swap may take to show on /readyz.
const chaosWait = 30 * time.Second

// chaosLog is what the chaos steps did, for the summary and the verdict.
type chaosLog struct {
	mu       sync.Mutex
	kills    map[string][]time.Duration // plugin -> time until running again
	swaps    []time.Duration            // time until the new binary serves
	skipped  int                        // kills not made: the plugin was not running
	floods   []floodResult
	failures []string
}

func (l *chaosLog) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
}

func (l *chaosLog) problems() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.failures)
}

// startChaos runs kills, swaps and floods on their own tickers until
// chaosCtx ends. A step in progress then still completes (under ctx): a
// restart is waited for, a flood until the host has shed it.
func (s *soak) startChaos(ctx, chaosCtx context.Context, wg *sync.WaitGroup) {
	every := func(d time.Duration, step func(n int)) {
		if d <= 0 {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for n := 0; ; n++ {
				select {
				case <-chaosCtx.Done():
					return
				case <-t.C:
				}
				step(n)
			}
		}()
	}
	every(s.killEvery, func(n int) { s.kill(ctx, killTargets[n%len(killTargets)]) })
	every(s.swapEvery, func(n int) { s.swap(ctx, n) })
	if s.floodConns > 0 {
		every(s.floodEvery, func(n int) { s.flood(ctx, n+1) })
	}
}

// kill sends SIGKILL to a plugin's process and waits until /readyz shows it
// running again under a new pid.
func (s *soak) kill(ctx context.Context, name string) {
	st, err := s.readyz(ctx)
	if err != nil {
		s.chaos.fail("kill %s: %v", name, err)
		return
	}
	p, ok := st[name]
	if !ok || p.State != "running" || p.PID <= 0 {
		s.chaos.mu.Lock()
		s.chaos.skipped++
		s.chaos.mu.Unlock()
		return
	}
	// The pid must still be the host's child: never signal a stranger.
	if ppid, ok := procParent(p.PID); ok && ppid != s.srv.pid() {
		s.chaos.fail("kill %s: pid %d from /readyz is not a child of mcphost (pid %d) but of %d", name, p.PID, s.srv.pid(), ppid)
		return
	}
	proc, err := os.FindProcess(p.PID)
	if err == nil {
		err = proc.Signal(os.Kill)
	}
	if err != nil {
		s.chaos.fail("kill %s (pid %d): %v", name, p.PID, err)
		return
	}
	start := time.Now()
	q, err := s.awaitPlugin(ctx, name, func(q pluginStatus) bool { return q.State == "running" && q.PID > 0 && q.PID != p.PID })
	if err != nil {
		s.chaos.fail("plugin %s killed (pid %d) but not running again: %v", name, p.PID, err)
		return
	}
	took := time.Since(start)
	s.logf("killed %s (pid %d): running again as pid %d after %s", name, p.PID, q.PID, took.Round(time.Millisecond))
	s.chaos.mu.Lock()
	if s.chaos.kills == nil {
		s.chaos.kills = map[string][]time.Duration{}
	}
	s.chaos.kills[name] = append(s.chaos.kills[name], took)
	s.chaos.mu.Unlock()
}

// swap replaces the test plugin's binary with the other build (a rename, as
// a deployment does) and waits until /readyz shows the new one serving.
func (s *soak) swap(ctx context.Context, n int) {
	next := (n + 1) % 2 // the run starts on build A
	if err := copyExecutable(s.tpBuilds[next], s.tpPath); err != nil {
		s.chaos.fail("swap %s: %v", swapTarget, err)
		return
	}
	start := time.Now()
	_, err := s.awaitPlugin(ctx, swapTarget, func(q pluginStatus) bool { return q.State == "running" && q.SHA256 == s.tpSHA[next] })
	if err != nil {
		s.chaos.fail("swap %s to %s: %v", swapTarget, s.tpBuilds[next], err)
		return
	}
	took := time.Since(start)
	s.logf("swapped %s to build %c after %s", swapTarget, 'A'+next, took.Round(time.Millisecond))
	s.chaos.mu.Lock()
	s.chaos.swaps = append(s.chaos.swaps, took)
	s.chaos.mu.Unlock()
}

// awaitPlugin polls /readyz until plugin name satisfies ok, for chaosWait.
func (s *soak) awaitPlugin(ctx context.Context, name string, ok func(pluginStatus) bool) (pluginStatus, error) {
	deadline := time.Now().Add(chaosWait)
	var last pluginStatus
	var lastErr error
	for {
		st, err := s.readyz(ctx)
		if err == nil {
			if last = st[name]; ok(last) {
				return last, nil
			}
		}
		lastErr = err
		if time.Now().After(deadline) {
			if lastErr != nil {
				return last, fmt.Errorf("after %s: %w", chaosWait, lastErr)
			}
			return last, fmt.Errorf("after %s it is %s (pid %d, sha256 %.12s, last error %q)", chaosWait, last.State, last.PID, last.SHA256, last.LastError)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-s.srv.exited:
			return last, errors.New("mcphost exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kinds of flood connection.
const (
	floodBody   = iota // a POST whose body arrives a byte at a time
	floodHeader        // a request whose headers arrive a line at a time
	floodIdle          // a keep-alive connection idle after one request
	numFloodKinds
)

var floodKindNames = [numFloodKinds]string{"slow bodies", "slow headers", "idle keep-alives"}

// floodResult is what became of one flood's connections.
type floodResult struct {
	n         int
	at, took  time.Duration
	conns     int
	kinds     [numFloodKinds]int
	refused   int                          // closed unanswered within a second: over a connection cap
	shed      [numFloodKinds]int           // closed by the host's timeouts
	life      [numFloodKinds]time.Duration // the longest such a connection lived
	held      int                          // still open at the deadline
	dialErr   int
	firstErr  string
	fdsBefore int
	fdsPeak   int
	fdsAfter  int
}

// connEnd is how one flood connection ended.
type connEnd struct {
	kind     int
	life     time.Duration
	answered bool // the host wrote something (a response) before closing
	held     bool
	dialErr  error
}

// effective host timeouts, for the flood's deadline and drip pace.
func (s *soak) hostTimeouts() (read, idle time.Duration) {
	read, idle = 30*time.Second, 60*time.Second
	if s.readTimeout > 0 {
		read = s.readTimeout
	}
	if s.idleTimeout > 0 {
		idle = s.idleTimeout
	}
	return read, idle
}

// flood opens s.floodConns connections from s.floodAddr at once, a third of
// each kind, and waits until the host has closed every one (or the
// deadline: longest host timeout + 15s). The clients come from 127.0.0.1,
// so the flood's per-peer cap is not theirs.
func (s *soak) flood(ctx context.Context, n int) {
	read, idle := s.hostTimeouts()
	start := time.Now()
	deadline := start.Add(max(read, idle) + 15*time.Second)
	drip := min(time.Second, read/4)
	// A connection closed unanswered this soon was refused at accept (a
	// connection cap), not shed by a timeout.
	refusedWithin := min(time.Second, read/2)
	res := floodResult{n: n, conns: s.floodConns, at: start.Sub(s.started)}
	res.fdsBefore = s.hostFDs(ctx)
	res.fdsPeak = res.fdsBefore
	ends := make(chan connEnd, s.floodConns)
	for i := range s.floodConns {
		kind := i % numFloodKinds
		res.kinds[kind]++
		go func() { ends <- s.floodConn(ctx, kind, deadline, drip) }()
	}
	tick := time.NewTicker(250 * time.Millisecond) // to see the peak of descriptors
	defer tick.Stop()
	for left := s.floodConns; left > 0; {
		select {
		case e := <-ends:
			left--
			switch {
			case errors.Is(e.dialErr, syscall.ECONNRESET) || errors.Is(e.dialErr, syscall.ECONNREFUSED):
				// The host closed it as it accepted it, before connect
				// returned here.
				res.refused++
			case e.dialErr != nil:
				res.dialErr++
				if res.firstErr == "" {
					res.firstErr = e.dialErr.Error()
				}
			case e.held:
				res.held++
			case !e.answered && e.life < refusedWithin:
				res.refused++
			default:
				res.shed[e.kind]++
				res.life[e.kind] = max(res.life[e.kind], e.life)
			}
		case <-tick.C:
			res.fdsPeak = max(res.fdsPeak, s.hostFDs(ctx))
		}
	}
	res.took = time.Since(start)
	res.fdsAfter = s.hostFDs(ctx)
	s.logf("flood %d done after %s: %d refused, %v shed, %d held; fds %d -> %d -> %d", n, res.took.Round(time.Millisecond), res.refused, res.shed, res.held, res.fdsBefore, res.fdsPeak, res.fdsAfter)
	if res.held > 0 {
		s.chaos.fail("flood %d: %d of %d connections still open %s after it began: the host did not shed them", n, res.held, res.conns, deadline.Sub(start))
	}
	if res.dialErr == res.conns {
		s.chaos.fail("flood %d: no connection from %s could be made: %s", n, s.floodAddr, res.firstErr)
	}
	s.chaos.mu.Lock()
	s.chaos.floods = append(s.chaos.floods, res)
	s.chaos.mu.Unlock()
}

// floodConn is one flood connection: it misbehaves as its kind says until
// the host closes it or the deadline passes.
func (s *soak) floodConn(ctx context.Context, kind int, deadline time.Time, drip time.Duration) connEnd {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(s.floodAddr)}, Timeout: 5 * time.Second}
	host := strings.TrimPrefix(s.base, "http://")
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return connEnd{kind: kind, dialErr: err}
	}
	s.stats.floodOpen.Add(1)
	defer s.stats.floodOpen.Add(-1)
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	start := time.Now()
	var first string
	var next func(i int) string // what to send on the i-th drip ("" for nothing)
	switch kind {
	case floodBody:
		first = "POST /mcp HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + s.floodTok +
			"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMCP-Protocol-Version: " + protoModern +
			"\r\nContent-Length: 65536\r\n\r\n{"
		next = func(int) string { return " " }
	case floodHeader:
		first = "POST /mcp HTTP/1.1\r\nHost: " + host + "\r\n"
		next = func(i int) string { return fmt.Sprintf("X-Soak-%d: slow\r\n", i) }
	default:
		first = "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
		next = func(int) string { return "" }
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		if _, err := io.WriteString(conn, first); err != nil {
			return
		}
		t := time.NewTicker(drip)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if b := next(i); b != "" {
				if _, err := io.WriteString(conn, b); err != nil {
					return // closed by the host
				}
			}
		}
	}()
	n, err := io.Copy(io.Discard, conn) // until the host closes it
	e := connEnd{kind: kind, life: time.Since(start), answered: n > 0}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		e.held = true
	}
	return e
}

func (s *soak) hostFDs(ctx context.Context) int {
	if n, ok := procFDs(s.srv.pid()); ok {
		return n
	}
	if m, err := s.metrics(ctx); err == nil {
		return int(m["process_open_fds"])
	}
	return 0
}

// print writes the chaos summary.
func (l *chaosLog) print(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []time.Duration
	var per []string
	for _, name := range killTargets {
		if k := l.kills[name]; len(k) > 0 {
			all = append(all, k...)
			per = append(per, fmt.Sprintf("%s %d", name, len(k)))
		}
	}
	if len(all) > 0 {
		fmt.Fprintf(w, "kills: %d (%s), each running again under a new pid after %s\n", len(all), strings.Join(per, ", "), spread(all))
	} else {
		fmt.Fprintln(w, "kills: none")
	}
	if l.skipped > 0 {
		fmt.Fprintf(w, "  (%d kills skipped: the plugin was not running at the time)\n", l.skipped)
	}
	if len(l.swaps) > 0 {
		fmt.Fprintf(w, "swaps: %d, each serving the new binary (its sha256 on /readyz) after %s\n", len(l.swaps), spread(l.swaps))
	} else {
		fmt.Fprintln(w, "swaps: none")
	}
	for _, f := range l.floods {
		var kinds, shed []string
		for k := range numFloodKinds {
			kinds = append(kinds, fmt.Sprintf("%d %s", f.kinds[k], floodKindNames[k]))
			if f.shed[k] > 0 {
				shed = append(shed, fmt.Sprintf("%d %s within %.1fs", f.shed[k], floodKindNames[k], f.life[k].Seconds()))
			}
		}
		fmt.Fprintf(w, "flood %d at %s: %d connections (%s): %d refused at accept, shed by timeouts: %s; %d left open",
			f.n, clock(f.at), f.conns, strings.Join(kinds, ", "), f.refused, strings.Join(shed, ", "), f.held)
		if f.dialErr > 0 {
			fmt.Fprintf(w, "; %d could not connect (%s)", f.dialErr, f.firstErr)
		}
		fmt.Fprintf(w, "; host fds %d before, %d at most, %d after (%.1fs)\n", f.fdsBefore, f.fdsPeak, f.fdsAfter, f.took.Seconds())
	}
}

// spread is "min 0.21s, median 0.25s, max 0.40s".
func spread(d []time.Duration) string {
	s := slices.Clone(d)
	slices.Sort(s)
	return fmt.Sprintf("min %.2fs, median %.2fs, max %.2fs", s[0].Seconds(), s[(len(s)-1)/2].Seconds(), s[len(s)-1].Seconds())
}
