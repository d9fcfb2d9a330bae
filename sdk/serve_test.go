package sdk

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/hashicorp/go-hclog"
)

// TestNewServerAppliesTheHostsRules: a plugin whose description the host would
// refuse is refused at its own start, with pluginrpc.CheckManifest's message
// (the host's, without its "plugin <name>: "); what only the SDK can see is
// checked first, in its own words.
func TestNewServerAppliesTheHostsRules(t *testing.T) {
	noop := func(context.Context, *Request, json.RawMessage) (*Result, error) { return Text("ok"), nil }
	obj := json.RawMessage(`{"type":"object"}`)
	read := func(context.Context, *ResourceRequest) ([]ResourceContents, error) { return nil, nil }
	get := func(context.Context, *PromptRequest) (*PromptResult, error) { return &PromptResult{}, nil }
	for _, tc := range []struct {
		name string
		p    Plugin
		want string // the whole message
	}{
		{"x-mcp-header on a property not reachable through properties", Plugin{Name: "p", Tools: []Tool{
			NewRawTool("lookup", "", json.RawMessage(`{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","x-mcp-header":"Tag"}}}}`), noop),
		}}, `tool lookup: input schema: x-mcp-header at /tags: only properties reachable through "properties" alone may be mirrored into headers`},
		{"x-mcp-header inferred from a Go type, on a number", Plugin{Name: "p", Tools: []Tool{
			NewTool("scale", "", func(context.Context, *Request, struct {
				Factor float64 `json:"factor"`
			}) (*Result, error) {
				return nil, nil
			}, WithInputSchema(func(s *jsonschema.Schema) {
				s.Properties["factor"].Extra = map[string]any{"x-mcp-header": "Factor"}
			})),
		}}, `tool scale: input schema: x-mcp-header "Factor" at /factor: the property must be of type string, integer or boolean`},
		{"tool name with a space", Plugin{Name: "p", Tools: []Tool{NewRawTool("has space", "", obj, noop)}},
			`tool "has space": name must be 1-128 letters, digits, _ - or .`},
		{"empty tool name", Plugin{Name: "p", Tools: []Tool{NewRawTool("", "", obj, noop)}},
			`tool "": name must be 1-128 letters, digits, _ - or .`},
		{"tool declared twice", Plugin{Name: "p", Tools: []Tool{NewRawTool("a", "", obj, noop), NewRawTool("a", "", obj, noop)}},
			"tool a is described twice"},
		{"raw tool with a non-object schema", Plugin{Name: "p", Tools: []Tool{NewRawTool("raw", "", json.RawMessage(`{"type":"string"}`), noop)}},
			`tool raw: input schema must have "type": "object", got string`},
		{"raw tool without a schema", Plugin{Name: "p", Tools: []Tool{NewRawTool("raw", "", nil, noop)}},
			`tool raw: input schema is missing (it must be a JSON Schema object with "type": "object")`},
		{"output schema not an object", Plugin{Name: "p", Tools: []Tool{NewRawTool("raw", "", obj, noop, WithOutputSchema(json.RawMessage(`{"type":"array"}`)))}},
			`tool raw: output schema must be a JSON Schema object with "type": "object"`},
		{"resource with a relative URI", Plugin{Name: "p", Resources: []Resource{{URI: "counter", Name: "c", Read: read}}},
			`resource "counter": not an absolute URI`},
		{"resource without a name", Plugin{Name: "p", Resources: []Resource{{URI: "test://c", Read: read}}},
			"resource test://c has no name"},
		{"resource declared twice", Plugin{Name: "p", Resources: []Resource{{URI: "test://c", Name: "a", Read: read}, {URI: "test://c", Name: "b", Read: read}}},
			"resource test://c is described twice"},
		{"invalid URI template", Plugin{Name: "p", ResourceTemplates: []ResourceTemplate{{URITemplate: "test://items/{id", Name: "i", Read: read}}},
			`resource template "test://items/{id" is not a valid URI template`},
		{"template declared twice", Plugin{Name: "p", ResourceTemplates: []ResourceTemplate{{URITemplate: "test://i/{id}", Name: "a", Read: read}, {URITemplate: "test://i/{id}", Name: "b", Read: read}}},
			"resource template test://i/{id} is described twice"},
		{"prompt without a name", Plugin{Name: "p", Prompts: []Prompt{{Get: get}}},
			`prompt "": name must be 1-128 letters, digits, _ - or .`},
		{"prompt declared twice", Plugin{Name: "p", Prompts: []Prompt{{Name: "greet", Get: get}, {Name: "greet", Get: get}}},
			"prompt greet is described twice"},
		{"prompt argument without a name", Plugin{Name: "p", Prompts: []Prompt{{Name: "greet", Get: get, Arguments: []PromptArgument{{Description: "who"}}}}},
			"prompt greet has an argument without a name"},

		// The SDK's own checks.
		{"tool without a handler", Plugin{Name: "p", Tools: []Tool{NewRawTool("a", "", obj, nil)}},
			"tool a has no handler"},
		{"resource without Read", Plugin{Name: "p", Resources: []Resource{{URI: "test://c", Name: "c"}}},
			`resource "test://c" has no Read function`},
		{"template without Read", Plugin{Name: "p", ResourceTemplates: []ResourceTemplate{{URITemplate: "test://i/{id}", Name: "i"}}},
			`resource template "test://i/{id}" has no Read function`},
		{"prompt without Get", Plugin{Name: "p", Prompts: []Prompt{{Name: "greet"}}},
			`prompt "greet" has no Get function`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newServer(tc.p, hclog.NewNullLogger())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("newServer = %v\nwant        %s", err, tc.want)
			}
		})
	}
}

// TestNewServerAcceptsParamHeaders: a valid x-mcp-header passes and reaches
// the host as declared.
func TestNewServerAcceptsParamHeaders(t *testing.T) {
	schema := `{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}`
	tools := describeTools(t, Plugin{Name: "p", Tools: []Tool{
		NewRawTool("geo", "", json.RawMessage(schema), func(context.Context, *Request, json.RawMessage) (*Result, error) { return nil, nil }),
	}})
	if got := string(tools["geo"].GetInputSchemaJson()); !strings.Contains(got, `"x-mcp-header":"Region"`) {
		t.Fatalf("input schema = %s", got)
	}
}
