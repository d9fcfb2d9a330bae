package host

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// gRPC message sizes on the plugin hop. The host's client is go-plugin's, which
// sends and receives messages up to math.MaxInt32 (2 GiB). Plugins built with
// the Go SDK (grpc-go's server) and the TypeScript SDK (grpc-js) receive at most
// 4 MiB, gRPC's default, and send up to 2 GiB; the Python SDK lifts both
// limits. So results are effectively unbounded, and a request (tool arguments,
// a URI, prompt arguments, plus the caller and metadata) over 4 MiB would be
// refused by the plugin, and on the shared call channel end every call on it.
// The host checks requests against this before sending them.
const pluginMaxMessage = 4 << 20

// hostMaxMessage is go-plugin's client limit, both ways.
const hostMaxMessage = math.MaxInt32

// channelOverhead is what a call on the call channel adds around its
// CallToolRequest (call id, time limit): a few bytes, rounded up.
const channelOverhead = 32

// unaryLimit makes gRPC itself refuse to send an oversize unary request (a
// ResourceExhausted "trying to send" error), before the plugin sees it.
var unaryLimit = grpc.MaxCallSendMsgSize(pluginMaxMessage)

// requestTooLarge is the error for a request over pluginMaxMessage; what is
// "tool get-documents", "resource ...", "prompt ...".
func requestTooLarge(what string, size int) error {
	return fmt.Errorf("%s: the request is %s, larger than the %s a plugin accepts in one message; send smaller arguments", what, mib(size), mib(pluginMaxMessage))
}

// checkToolRequest refuses a tool call whose start message a plugin would not
// accept.
func checkToolRequest(r *route, start *pluginv1.CallToolStart) error {
	size := proto.Size(&pluginv1.CallToolRequest{Input: &pluginv1.CallToolRequest_Start{Start: start}}) + channelOverhead
	if size > pluginMaxMessage {
		return requestTooLarge("tool "+r.name, size)
	}
	return nil
}

// sizeLimit matches gRPC's size errors: grpc-go's "grpc: received message
// larger than max (N vs. M)" and "trying to send message larger than max",
// grpc-js's "Received message larger than max (N vs M)".
var sizeLimit = regexp.MustCompile(`(?i)(send|received) message (?:after decompression )?larger than max \((\d+) vs\.? (\d+)\)`)

// exhaustedError explains a ResourceExhausted status from a call to a plugin:
// which message was too large, and whose limit it hit. It returns nil for a
// ResourceExhausted that is not about message sizes (a plugin's own).
func exhaustedError(plugin, what string, st *status.Status) error {
	m := sizeLimit.FindStringSubmatch(st.Message())
	if m == nil {
		return nil
	}
	size, _ := strconv.Atoi(m[2])
	limit, _ := strconv.ParseInt(m[3], 10, 64)
	if m[1] != "send" && limit == hostMaxMessage {
		// Only the host's own receive has this limit: the plugin's answer.
		return fmt.Errorf("plugin %s: the result of %s is %s, larger than the host accepts (%s)", plugin, what, mib(size), mib(int(limit)))
	}
	// The host refused to send it, or the plugin refused to receive it.
	return fmt.Errorf("%s: the request is %s, larger than the %s plugin %s accepts in one message; send smaller arguments", what, mib(size), mib(int(limit)), plugin)
}

// mib formats a byte count for people: "4 MiB", "4.00 MiB" for a little over.
func mib(n int) string {
	if n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + " MiB"
}
