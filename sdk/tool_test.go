package sdk

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/protobuf/proto"

	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// serve serves p as Serve would, but in this process, over a real gRPC
// connection, and returns the host's side of it.
func serve(t *testing.T, p Plugin) pluginv1.PluginServiceClient {
	t.Helper()
	s, err := newServer(p, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	client, _ := plugin.TestPluginGRPCConn(t, false, pluginrpc.PluginSet(s))
	t.Cleanup(func() { client.Close() }) // which stops the server too
	raw, err := client.Dispense(pluginrpc.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(pluginv1.PluginServiceClient)
}

func describeTools(t *testing.T, p Plugin) map[string]*pluginv1.Tool {
	t.Helper()
	d, err := serve(t, p).Describe(context.Background(), &pluginv1.DescribeRequest{HostProtocolVersion: pluginrpc.ProtocolVersion})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pluginv1.Tool{}
	for _, tl := range d.GetTools() {
		out[tl.GetName()] = tl
	}
	return out
}

// TestToolOptionsReachTheHost: icons and a hand-written output schema are
// what the host is told, as the plugin declared them.
func TestToolOptionsReachTheHost(t *testing.T) {
	schema := json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}`)
	noop := func(context.Context, *Request, json.RawMessage) (*Result, error) {
		return Object(map[string]int{"n": 1}), nil
	}
	tools := describeTools(t, Plugin{Name: "p", Tools: []Tool{
		NewRawTool("count", "Counts.", json.RawMessage(`{"type":"object"}`), noop,
			WithTitle("Counter"),
			WithIcons(
				Icon{Src: "https://example.com/light.png", MIMEType: "image/png", Sizes: []string{"48x48", "96x96"}, Theme: "light"},
				Icon{Src: "data:image/svg+xml;base64,PHN2Zy8+", MIMEType: "image/svg+xml"},
			),
			WithOutputSchema(schema)),
		NewRawTool("plain", "Has neither.", json.RawMessage(`{"type":"object"}`), noop),
	}})

	count := tools["count"]
	want := []*pluginv1.Icon{
		{Src: "https://example.com/light.png", MimeType: "image/png", Sizes: []string{"48x48", "96x96"}, Theme: "light"},
		{Src: "data:image/svg+xml;base64,PHN2Zy8+", MimeType: "image/svg+xml"},
	}
	if len(count.GetIcons()) != len(want) {
		t.Fatalf("icons %v, want %v", count.GetIcons(), want)
	}
	for i := range want {
		if !proto.Equal(count.GetIcons()[i], want[i]) {
			t.Errorf("icon %d = %v, want %v", i, count.GetIcons()[i], want[i])
		}
	}
	if string(count.GetOutputSchemaJson()) != string(schema) || count.GetTitle() != "Counter" {
		t.Errorf("count: output schema %s, title %q", count.GetOutputSchemaJson(), count.GetTitle())
	}
	if plain := tools["plain"]; len(plain.GetIcons()) != 0 || plain.GetOutputSchemaJson() != nil {
		t.Errorf("plain gained icons %v or an output schema %s", plain.GetIcons(), plain.GetOutputSchemaJson())
	}
	// The last WithIcons wins rather than adding up, like every other option.
	again := describeTools(t, Plugin{Name: "p", Tools: []Tool{NewRawTool("x", "", json.RawMessage(`{"type":"object"}`), noop,
		WithIcons(Icon{Src: "a"}), WithIcons(Icon{Src: "b"}))}})
	if icons := again["x"].GetIcons(); len(icons) != 1 || icons[0].GetSrc() != "b" {
		t.Errorf("icons after two WithIcons: %v", icons)
	}
}
