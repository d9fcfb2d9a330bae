package host

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/mcphost/mcphost/supervisor"
	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dispatch is the one way into a plugin, for every RPC kind: a client span,
// one of the plugin's concurrency slots (waiting within ctx), and the live
// instance, held until fn returns. What fn's error means is classified by
// rpcFailure, then by the caller's own rule (tools answer a tool error,
// resources and prompts an MCP error).
func (h *Host) dispatch(ctx context.Context, s *supervisor.Slot, rpc string, attrs []attribute.KeyValue, fn func(context.Context, *supervisor.Instance) error) (err error) {
	ctx, span := h.pluginSpan(ctx, rpc, s.Config().Name, attrs...)
	defer func() { endPluginSpan(span, err) }()
	release, err := s.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("plugin %s is at its limit of %d concurrent calls: %w", s.Config().Name, s.Config().MaxConcurrency, err)
	}
	defer release()
	inst, err := s.Enter()
	if err != nil {
		return err
	}
	defer inst.Leave()
	return fn(ctx, inst)
}

// rpcFailure classifies the error an RPC to plugin s ended with, what naming
// the operation ("tool echo", "resource docs://1"): ctx's own error when ctx
// ended (the caller left, or its deadline passed); context.DeadlineExceeded
// when gRPC's timer fired a moment before ctx's; a crashError when the
// connection dropped or a stream ended without an answer (the supervisor is
// told to look at the process); which side a size limit refused. Anything
// else is not classified (ok false) and left to the caller's rule.
func rpcFailure(ctx context.Context, s *supervisor.Slot, what string, err error) (_ error, ok bool) {
	if ctx.Err() != nil {
		return ctx.Err(), true
	}
	s.CheckAlive()
	name := s.Config().Name
	if errors.Is(err, io.EOF) {
		return crashError{fmt.Sprintf("plugin %s ended %s without an answer", name, what)}, true
	}
	st, isStatus := status.FromError(err)
	if !isStatus {
		return err, false
	}
	switch st.Code() {
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded, true
	case codes.Unavailable, codes.Canceled:
		return crashError{fmt.Sprintf("plugin %s stopped while serving %s; it is being restarted", name, what)}, true
	case codes.ResourceExhausted:
		if err := exhaustedError(name, what, st); err != nil {
			return err, true
		}
	}
	return err, false
}
