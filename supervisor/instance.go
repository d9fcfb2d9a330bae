package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Instance is one running plugin process.
type Instance struct {
	cfg     *config.Plugin
	cmd     *exec.Cmd
	client  *plugin.Client
	rpc     pluginv1.PluginServiceClient
	descP   atomic.Pointer[pluginv1.DescribeResponse] // replaced when the plugin re-describes
	pid     int
	sha256  string
	started time.Time
	cleanup func() // removes what pluginCommand made, once the process is gone

	// ctx ends when the instance is stopped (ends its notification stream).
	ctx      context.Context
	cancel   context.CancelFunc
	stopOnce sync.Once

	// calls carries tool calls to plugins with a call channel.
	calls callChannel

	// In-flight calls, so a replaced instance can finish them before it stops.
	mu       sync.Mutex
	active   int
	draining bool
	idle     chan struct{} // closed when draining and active reaches 0
}

// DataDirEnv names the per-plugin data directory the host creates and passes to
// every plugin, so plugins with state (documents) know where to keep it.
const DataDirEnv = "MCPHOST_PLUGIN_DATA_DIR"

// startInstance checks the binary, starts it, completes the handshake and asks the
// plugin to describe itself. On any failure the process is gone when it returns.
func startInstance(ctx context.Context, p *config.Plugin, dataDir string, logger *slog.Logger) (*Instance, error) {
	sum, err := fileSHA256(p.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	if p.SHA256 != "" && p.SHA256 != sum {
		return nil, fmt.Errorf("plugin %s: binary %s has sha256 %s but plugins.%s.sha256 pins %s; refusing to start it", p.Name, p.Path, sum, p.Name, p.SHA256)
	}
	pluginData := filepath.Join(dataDir, "plugins", p.Name)
	if err := os.MkdirAll(pluginData, 0o700); err != nil {
		return nil, fmt.Errorf("plugin %s: data directory: %w", p.Name, err)
	}

	stderrTail := &tailBuffer{max: 8 << 10} // room for a panic's message above its stack
	// The process lives until stop, but while it starts, ctx ending (the host
	// shutting down) kills it: go-plugin's handshake wait cannot be cancelled
	// otherwise and would hold shutdown for the whole start timeout.
	proc, killProc := context.WithCancel(context.Background())
	cmd, cleanup, err := pluginCommand(proc, p, dataDir, pluginData)
	if err != nil {
		killProc()
		return nil, fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	abortStart := context.AfterFunc(ctx, killProc)

	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginrpc.Handshake,
		Plugins:          pluginrpc.PluginSet(nil),
		Cmd:              cmd,
		SkipHostEnv:      true, // invariant 3: the plugin sees only what its config names
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     p.StartTimeout,
		Logger:           newHCLogAdapter(logger),
		Stderr:           stderrTail, // raw lines; the logger above gets them parsed
	})
	inst := &Instance{cfg: p, cmd: cmd, client: client, sha256: sum, started: time.Now(), cleanup: func() { cleanup(); killProc() }}
	inst.ctx, inst.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			abortStart()
			inst.stop()
		}
	}()
	startErr := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("plugin %s: start given up: %w", p.Name, context.Cause(ctx))
		}
		return err
	}

	proto, err := client.Client()
	if err != nil {
		// What the plugin said (a panic, a missing setting) is the cause; go-plugin's
		// account of the failed handshake comes after it.
		why := handshakeFailure(err)
		// go-plugin may report the exit before it has read all the plugin
		// wrote to stderr; stopping the client waits for that reader.
		abortStart()
		inst.stop()
		if words := stderrTail.lastWords(); words != "" {
			return nil, startErr(fmt.Errorf("plugin %s did not start: %s (%s: %s)", p.Name, words, p.Path, why))
		}
		return nil, startErr(fmt.Errorf("plugin %s did not start: %s: %s", p.Name, p.Path, why))
	}
	raw, err := proto.Dispense(pluginrpc.PluginName)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	inst.rpc = raw.(pluginv1.PluginServiceClient)
	if rc := client.ReattachConfig(); rc != nil {
		inst.pid = rc.Pid
	}

	dctx, cancel := context.WithTimeout(ctx, p.StartTimeout)
	defer cancel()
	desc, err := inst.rpc.Describe(dctx, &pluginv1.DescribeRequest{HostProtocolVersion: pluginrpc.ProtocolVersion})
	if err != nil {
		return nil, startErr(fmt.Errorf("plugin %s: describe: %w", p.Name, err))
	}
	if desc.GetProtocolVersion() != pluginrpc.ProtocolVersion {
		return nil, fmt.Errorf("plugin %s: speaks plugin protocol %d, this host speaks %d", p.Name, desc.GetProtocolVersion(), pluginrpc.ProtocolVersion)
	}
	if err := checkDescription(p, desc); err != nil {
		return nil, err
	}
	if !abortStart() {
		return nil, startErr(ctx.Err()) // ctx ended just now: the process is being killed
	}
	inst.descP.Store(desc)
	ok = true
	return inst, nil
}

// pluginEnv is the plugin's whole environment: its configured env and its data
// directory. Nothing of the host's own environment leaks in.
func pluginEnv(p *config.Plugin, dataDir string) []string {
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	env := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		env = append(env, k+"="+p.Env[k])
	}
	return append(env, DataDirEnv+"="+dataDir)
}

func (i *Instance) exited() bool { return i.client.Exited() }

// RPC is the plugin's gRPC client.
func (i *Instance) RPC() pluginv1.PluginServiceClient { return i.rpc }

// SHA256 is the checksum of the binary the instance runs.
func (i *Instance) SHA256() string { return i.sha256 }

// Redescribe asks the plugin for its description again (it announced a
// change) and checks it; the capabilities stay those it started with.
// UseDescription makes it current once it fits beside the other plugins.
func (i *Instance) Redescribe(ctx context.Context) (*pluginv1.DescribeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, i.cfg.StartTimeout)
	defer cancel()
	desc, err := i.rpc.Describe(ctx, &pluginv1.DescribeRequest{HostProtocolVersion: pluginrpc.ProtocolVersion})
	if err != nil {
		return nil, err
	}
	if err := checkDescription(i.cfg, desc); err != nil {
		return nil, err
	}
	desc.Capabilities = i.Desc().GetCapabilities()
	return desc, nil
}

// UseDescription replaces what the instance is known to serve.
func (i *Instance) UseDescription(desc *pluginv1.DescribeResponse) { i.descP.Store(desc) }

// Context ends when the instance is stopped.
func (i *Instance) Context() context.Context { return i.ctx }

// stopGrace is how long a plugin gets to exit after the host closes its connection.
const stopGrace = 2 * time.Second

// stop ends the process: gracefully through go-plugin first, then by killing its
// process group, which also takes any children it started (they could otherwise
// hold its output pipes open and outlive it).
//
// It runs once: the group kill must follow the plugin's exit closely, before its
// pid (which names the group) can be reused.
func (i *Instance) stop() {
	i.stopOnce.Do(func() {
		i.cancel()
		done := make(chan struct{})
		go func() { i.client.Kill(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopGrace + time.Second):
		}
		killProcessGroup(i.cmd)
		<-done
		i.cleanup()
	})
}

// Desc is the instance's current description.
func (i *Instance) Desc() *pluginv1.DescribeResponse { return i.descP.Load() }

// Has reports whether the plugin declared a capability ("resources", ...).
func (i *Instance) Has(capability string) bool {
	return slices.Contains(i.Desc().GetCapabilities(), capability)
}

// watchNotifications relays the plugin's own events to onNotify (a resource
// updated) and onChange (its description changed) until the instance stops.
func (i *Instance) watchNotifications(onNotify func(uri string), onChange func(), log *slog.Logger) {
	if !i.Has("notifications") {
		return
	}
	stream, err := i.rpc.Notifications(i.ctx, &pluginv1.NotificationsRequest{})
	if err != nil {
		log.Warn("plugin notifications unavailable", "error", err)
		return
	}
	for {
		n, err := stream.Recv()
		if err != nil {
			return // the instance stopped or died; a new one opens its own stream
		}
		if u := n.GetResourceUpdated(); u != nil {
			onNotify(u.GetUri())
		}
		if n.GetDescriptionChanged() != nil && onChange != nil {
			onChange()
		}
	}
}

// enter registers a call on the instance; false once it is draining (replaced).
func (i *Instance) enter() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.draining {
		return false
	}
	i.active++
	return true
}

// Leave ends a call registered by Slot.Enter.
func (i *Instance) Leave() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.active--
	if i.draining && i.active == 0 {
		close(i.idle)
	}
}

// retire refuses new calls, waits up to timeout for in-flight ones, then stops
// the process. It reports how many calls were still running when it gave up.
func (i *Instance) retire(timeout time.Duration) (abandoned int) {
	i.mu.Lock()
	if !i.draining {
		i.draining = true
		i.idle = make(chan struct{})
		if i.active == 0 {
			close(i.idle)
		}
	}
	idle := i.idle
	i.mu.Unlock()
	select {
	case <-idle:
	case <-time.After(timeout):
		i.mu.Lock()
		abandoned = i.active
		i.mu.Unlock()
	}
	i.stop()
	return abandoned
}

// tailBuffer keeps the end of a plugin's stderr, so a plugin that dies at start
// can say why in the host's error instead of only in debug logs.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

// handshakeFailure is go-plugin's start error on one line, without its notes
// on the executable (which describe the sandbox trampoline, not the plugin).
func handshakeFailure(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "Additional notes about plugin:")
	return strings.Join(strings.Fields(msg), " ")
}

// lastWords is the plugin's last few lines of output, joined with " | ", or
// "". A Go panic or fatal error is shown from its first line (the message),
// not by the stack's last frames.
func (t *tailBuffer) lastWords() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.Join(lines[i:min(i+3, len(lines))], " | ")
		}
	}
	return strings.Join(lines[max(len(lines)-3, 0):], " | ")
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("binary %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("binary %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
