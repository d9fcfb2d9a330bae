package sdk

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mcphost/mcphost/internal/workers"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Calls serves the host's call channel: many tool calls on one stream, each
// message tagged with its call id (see the Calls RPC in plugin.proto).
func (l *liveServer) Calls(stream pluginv1.PluginService_CallsServer) error {
	ch := &callChannel{stream: stream, calls: map[uint64]*channelCall{}}
	defer ch.end()
	for {
		in, err := stream.Recv()
		if err != nil {
			return nil // the host closed the channel (or went away): calls end with it
		}
		id := in.GetCallId()
		switch {
		case in.GetCancel():
			if c := ch.get(id); c != nil {
				c.cancel()
			}
		case in.GetRequest().GetStart() != nil:
			ch.start(l.cur.Load(), id, in.GetRequest().GetStart(), in.GetTimeoutMs())
		case in.GetRequest().GetClientResponse() != nil:
			if c := ch.get(id); c != nil {
				c.pending.deliver(in.GetRequest().GetClientResponse())
			}
		}
	}
}

type callChannel struct {
	stream pluginv1.PluginService_CallsServer
	sendMu sync.Mutex // a gRPC stream takes one Send at a time
	ended  bool       // under sendMu: the stream is over

	mu    sync.Mutex
	calls map[uint64]*channelCall
}

type channelCall struct {
	cancel  context.CancelFunc
	pending *pendingRequests
}

func (ch *callChannel) get(id uint64) *channelCall {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.calls[id]
}

// end cancels the calls still running and stops all sending: gRPC forbids
// a Send once the RPC's handler has returned.
func (ch *callChannel) end() {
	ch.sendMu.Lock()
	ch.ended = true
	ch.sendMu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for _, c := range ch.calls {
		c.cancel()
	}
}

var errChannelEnded = errors.New("the host closed the call channel")

// start runs one call on a pooled goroutine and sends its result.
func (ch *callChannel) start(s *server, id uint64, start *pluginv1.CallToolStart, timeoutMs int64) {
	var ctx context.Context
	var cancel context.CancelFunc
	if timeoutMs > 0 {
		ctx, cancel = context.WithTimeout(ch.stream.Context(), time.Duration(timeoutMs)*time.Millisecond)
	} else {
		ctx, cancel = context.WithCancel(ch.stream.Context())
	}
	c := &channelCall{cancel: cancel, pending: newPending(start.GetInputResponses())}
	ch.mu.Lock()
	ch.calls[id] = c
	ch.mu.Unlock()
	send := func(m *pluginv1.CallToolResponse) error {
		ch.sendMu.Lock()
		defer ch.sendMu.Unlock()
		if ch.ended {
			return errChannelEnded
		}
		return ch.stream.Send(&pluginv1.CallsResponse{CallId: id, Response: m})
	}
	callWorkers.Go(func() {
		defer cancel()
		res := s.run(ctx, start, send, c.pending).toProto()
		out := &pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_Result{Result: res}}
		ch.mu.Lock()
		delete(ch.calls, id)
		ch.mu.Unlock()
		_ = send(out)
	})
}

// callWorkers runs handlers on goroutines that outlive a call.
var callWorkers = workers.New(64)
