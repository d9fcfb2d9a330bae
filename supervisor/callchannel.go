package supervisor

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// CallStream is one tool call's conversation with its plugin: a CallTool
// stream of its own, or a call on the instance's shared Calls stream.
type CallStream interface {
	Send(*pluginv1.CallToolRequest) error
	Recv() (*pluginv1.CallToolResponse, error)
	CloseSend() error
	// End lets go of the call; one still running is cancelled.
	End()
}

// OpenCall starts a call on i: on its call channel when the plugin has one
// (one stream for all calls), else on a stream of its own. The caller must
// End it (a call abandoned early is then cancelled in the plugin).
func (i *Instance) OpenCall(ctx context.Context) (CallStream, error) {
	if !i.Has(pluginrpc.CapabilityCallChannel) {
		s, err := i.rpc.CallTool(ctx)
		if err != nil {
			return nil, err
		}
		return ownStream{s}, nil
	}
	return i.calls.open(ctx, i)
}

// ownStream is a call on a CallTool stream of its own: ending ctx ends it.
type ownStream struct {
	pluginv1.PluginService_CallToolClient
}

func (ownStream) End() {}

// callChannel multiplexes an instance's tool calls over one Calls stream. It
// is opened with the first call and again after it breaks (the calls on a
// broken stream fail as a broken CallTool stream would).
type callChannel struct {
	mu     sync.Mutex
	stream pluginv1.PluginService_CallsClient
	calls  map[uint64]*channelCall
	next   uint64

	sendMu sync.Mutex // a gRPC stream takes one Send at a time
}

func (cc *callChannel) open(ctx context.Context, inst *Instance) (*channelCall, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.stream == nil {
		stream, err := inst.rpc.Calls(inst.ctx)
		if err != nil {
			return nil, err
		}
		cc.stream, cc.calls = stream, map[uint64]*channelCall{}
		go cc.demux(stream)
	}
	cc.next++
	c := &channelCall{cc: cc, stream: cc.stream, id: cc.next, ctx: ctx, ready: make(chan struct{}, 1)}
	cc.calls[c.id] = c
	return c, nil
}

// demux hands each message of the plugin to its call until the stream ends.
func (cc *callChannel) demux(stream pluginv1.PluginService_CallsClient) {
	for {
		msg, err := stream.Recv()
		if err != nil {
			cc.fail(stream, err)
			return
		}
		cc.mu.Lock()
		c := cc.calls[msg.GetCallId()]
		cc.mu.Unlock()
		if c != nil && msg.GetResponse() != nil { // else a call that ended: drop it
			c.push(msg.GetResponse(), nil)
		}
	}
}

// fail ends every call on a stream that broke, and lets the next call open a
// new one.
func (cc *callChannel) fail(stream pluginv1.PluginService_CallsClient, err error) {
	if errors.Is(err, io.EOF) {
		err = status.Error(status.Code(err), "plugin closed the call channel")
	}
	cc.mu.Lock()
	if cc.stream != stream {
		cc.mu.Unlock()
		return
	}
	calls := cc.calls
	cc.stream, cc.calls = nil, nil
	cc.mu.Unlock()
	for _, c := range calls {
		c.push(nil, err)
	}
}

func (cc *callChannel) send(stream pluginv1.PluginService_CallsClient, m *pluginv1.CallsRequest) error {
	cc.sendMu.Lock()
	defer cc.sendMu.Unlock()
	return stream.Send(m)
}

// forget removes a call that ended; it reports whether it was still there.
func (cc *callChannel) forget(c *channelCall) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.stream != c.stream || cc.calls[c.id] != c {
		return false
	}
	delete(cc.calls, c.id)
	return true
}

// channelCall is one call on a call channel; it behaves as a CallTool stream.
type channelCall struct {
	cc     *callChannel
	stream pluginv1.PluginService_CallsClient
	id     uint64
	ctx    context.Context

	mu       sync.Mutex
	queue    []*pluginv1.CallToolResponse // unbounded: the demuxer never waits for a call
	err      error
	ready    chan struct{} // signalled when queue or err changes
	finished bool          // the result arrived
	closed   bool
}

func (c *channelCall) push(m *pluginv1.CallToolResponse, err error) {
	c.mu.Lock()
	if err != nil {
		c.err = err
	} else {
		c.queue = append(c.queue, m)
	}
	c.mu.Unlock()
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

// Send sends m for this call; the start message carries the call's time limit.
func (c *channelCall) Send(m *pluginv1.CallToolRequest) error {
	req := &pluginv1.CallsRequest{CallId: c.id, Request: m}
	if m.GetStart() != nil {
		if deadline, ok := c.ctx.Deadline(); ok {
			req.TimeoutMs = max(1, time.Until(deadline).Milliseconds())
		}
	}
	return c.cc.send(c.stream, req)
}

// Recv returns the plugin's next message for this call. It fails when the
// channel breaks or the call's context ends, as a CallTool stream would.
func (c *channelCall) Recv() (*pluginv1.CallToolResponse, error) {
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			m := c.queue[0]
			c.queue[0] = nil
			c.queue = c.queue[1:]
			if m.GetResult() != nil {
				c.finished = true
			}
			c.mu.Unlock()
			return m, nil
		}
		err := c.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-c.ready:
		case <-c.ctx.Done():
			c.End()
			return nil, status.FromContextError(c.ctx.Err()).Err()
		}
	}
}

// CloseSend ends the call: after its result, or to abandon it, in which case
// the plugin is told to cancel it.
func (c *channelCall) CloseSend() error {
	c.End()
	return nil
}

func (c *channelCall) End() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	finished := c.finished
	c.mu.Unlock()
	if c.cc.forget(c) && !finished {
		_ = c.cc.send(c.stream, &pluginv1.CallsRequest{CallId: c.id, Cancel: true})
	}
}
