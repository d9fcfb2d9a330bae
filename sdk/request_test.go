package sdk

import (
	"context"
	"encoding/json"
	"testing"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// halfway is code a handler calls that has only the context, as a library
// helper would: RequestFrom gives it the call.
func halfway(ctx context.Context) string {
	req := RequestFrom(ctx)
	if req == nil {
		return "no call"
	}
	_ = req.Progress(1, 2, "halfway through "+req.Tool)
	return req.CallID + " " + req.RequestID + " " + req.SessionID + " " + req.Caller.UserID
}

// TestRequestFrom: inside a call, the context yields the very Request the
// handler got (progress sent through it reaches the host); outside, nil.
func TestRequestFrom(t *testing.T) {
	if got := RequestFrom(context.Background()); got != nil {
		t.Fatalf("RequestFrom outside a call = %+v", got)
	}
	if got := halfway(context.Background()); got != "no call" {
		t.Fatalf("outside a call: %q", got)
	}
	var same bool
	rpc := serve(t, Plugin{Name: "p", Tools: []Tool{
		NewTool("work", "Works.", func(ctx context.Context, req *Request, _ struct{}) (*Result, error) {
			same = RequestFrom(ctx) == req
			return Text(halfway(ctx)), nil
		}),
	}})
	stream, err := rpc.CallTool(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_Start{Start: &pluginv1.CallToolStart{
		Tool:          "work",
		ArgumentsJson: json.RawMessage(`{}`),
		Caller:        &pluginv1.Caller{UserId: "user_1"},
		Meta:          &pluginv1.RequestMeta{CallId: "call-7", RequestId: "req-9", McpSessionId: "sess-3", ProgressTokenJson: []byte(`"tok"`)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	var progress []string
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("stream ended without a result: %v (progress %v)", err, progress)
		}
		if p := resp.GetProgress(); p != nil {
			progress = append(progress, p.GetMessage())
			continue
		}
		res := resp.GetResult()
		if res == nil {
			continue
		}
		if text := res.GetContent()[0].GetText().GetText(); text != "call-7 req-9 sess-3 user_1" {
			t.Errorf("the helper saw %q", text)
		}
		break
	}
	if !same {
		t.Error("RequestFrom(ctx) is not the handler's Request")
	}
	if len(progress) != 1 || progress[0] != "halfway through work" {
		t.Errorf("progress through RequestFrom: %v", progress)
	}
}
