// Command addplugin is the benchmark's plugin: one trivial tool, add, so that a
// measured tools/call is almost entirely protocol, auth and transport cost.
// mcpbench compare serves it with bin/mcphost; the go-sdk and bare baselines in
// cmd/mcpbench answer the same tool in-process with the same result shape.
package main

import (
	"context"

	"github.com/mcphost/mcphost/sdk"
)

// AddIn is the tool's input: two numbers.
type AddIn struct {
	A float64 `json:"a" jsonschema:"the first addend"`
	B float64 `json:"b" jsonschema:"the second addend"`
}

// AddOut is the tool's structured output.
type AddOut struct {
	Sum float64 `json:"sum"`
}

func add(_ context.Context, _ *sdk.Request, in AddIn) (AddOut, error) {
	return AddOut{Sum: in.A + in.B}, nil
}

// Plugin is the plugin's declaration, shared by main and the test.
var Plugin = sdk.Plugin{
	Name:    "add",
	Version: "1.0.0",
	Tools: []sdk.Tool{
		sdk.NewTypedTool("add", "Adds two numbers and returns their sum (text and structured {sum}).", add,
			sdk.WithTitle("Add"), sdk.ReadOnly()),
	},
}

func main() { sdk.Serve(Plugin) }
