package pluginrpc

import (
	"reflect"
	"strings"
	"testing"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

const objectSchema = `{"type":"object"}`

func tool(name string) *pluginv1.Tool {
	return &pluginv1.Tool{Name: name, InputSchemaJson: []byte(objectSchema)}
}

func toolWith(name, input string) *pluginv1.Tool {
	return &pluginv1.Tool{Name: name, InputSchemaJson: []byte(input)}
}

func tools(ts ...*pluginv1.Tool) *pluginv1.DescribeResponse {
	return &pluginv1.DescribeResponse{Tools: ts}
}

// goodManifest uses every kind of entry, each as the rules allow.
func goodManifest() *pluginv1.DescribeResponse {
	return &pluginv1.DescribeResponse{
		Tools: []*pluginv1.Tool{
			tool("echo"),
			{
				Name:             "get.item_v2-x",
				InputSchemaJson:  []byte(`{"type":"object","properties":{"id":{"type":"string","x-mcp-header":"Item-Id"}}}`),
				OutputSchemaJson: []byte(`{"type":"object","properties":{"n":{"type":"integer"}}}`),
				MetaJson:         []byte(`{"vendor":{"k":1}}`),
			},
			tool(strings.Repeat("a", 128)),
		},
		Prompts: []*pluginv1.Prompt{
			{Name: "greet", Arguments: []*pluginv1.PromptArgument{{Name: "who", Required: true}}},
			{Name: "plain"},
		},
		Resources: []*pluginv1.Resource{
			{Uri: "test://counter", Name: "counter"},
			{Uri: "https://example.com/a", Name: "a"},
		},
		ResourceTemplates: []*pluginv1.ResourceTemplate{
			{UriTemplate: "test://items/{id}", Name: "item"},
			{UriTemplate: "test://static", Name: "static"},
		},
	}
}

func TestCheckManifestAcceptsGoodManifests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      *pluginv1.DescribeResponse
		prefix string
	}{
		{"nil", nil, ""},
		{"empty", &pluginv1.DescribeResponse{}, ""},
		{"everything", goodManifest(), ""},
		{"prefix up to 128", tools(tool(strings.Repeat("a", 120))), "pre_fix."},
		// The same name in two kinds of entry is not a duplicate.
		{"tool and prompt share a name", &pluginv1.DescribeResponse{
			Tools: []*pluginv1.Tool{tool("x")}, Prompts: []*pluginv1.Prompt{{Name: "x"}},
		}, ""},
		{"resource and template share a string", &pluginv1.DescribeResponse{
			Resources:         []*pluginv1.Resource{{Uri: "test://x", Name: "x"}},
			ResourceTemplates: []*pluginv1.ResourceTemplate{{UriTemplate: "test://x", Name: "x"}},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckManifest(tc.d, tc.prefix); err != nil {
				t.Fatalf("CheckManifest = %v, want nil", err)
			}
		})
	}
}

func TestCheckManifestRefusesBadManifests(t *testing.T) {
	long := strings.Repeat("a", 128)
	for _, tc := range []struct {
		name   string
		d      *pluginv1.DescribeResponse
		prefix string
		want   string // the whole message
	}{
		// Tool names.
		{"empty tool name", tools(tool("")), "",
			`tool "": name must be 1-128 letters, digits, _ - or .`},
		{"tool name with a space", tools(tool("has space")), "",
			`tool "has space": name must be 1-128 letters, digits, _ - or .`},
		{"tool name with a slash", tools(tool("a/b")), "",
			`tool "a/b": name must be 1-128 letters, digits, _ - or .`},
		{"tool name over 128", tools(tool(long + "a")), "",
			`tool "` + long + `a": name must be 1-128 letters, digits, _ - or .`},
		{"prefix pushes tool name over 128", tools(tool(long)), "p_",
			`tool "p_` + long + `": name must be 1-128 letters, digits, _ - or .`},
		{"prefix adds a bad character", tools(tool("echo")), "my plugin:",
			`tool "my plugin:echo": name must be 1-128 letters, digits, _ - or .`},
		{"tool described twice", tools(tool("echo"), tool("other"), tool("echo")), "",
			"tool echo is described twice"},

		// Input schemas.
		{"missing input schema", tools(&pluginv1.Tool{Name: "raw"}), "",
			`tool raw: input schema is missing (it must be a JSON Schema object with "type": "object")`},
		{"input schema not JSON", tools(toolWith("raw", `{"type":`)), "",
			`tool raw: input schema is not a JSON object (it must be a JSON Schema object with "type": "object")`},
		{"input schema an array", tools(toolWith("raw", `[{"type":"object"}]`)), "",
			`tool raw: input schema is not a JSON object (it must be a JSON Schema object with "type": "object")`},
		{"input schema null", tools(toolWith("raw", `null`)), "",
			`tool raw: input schema is not a JSON object (it must be a JSON Schema object with "type": "object")`},
		{"input schema of type string", tools(toolWith("raw", `{"type":"string"}`)), "",
			`tool raw: input schema must have "type": "object", got string`},
		{"input schema without type", tools(toolWith("raw", `{"properties":{}}`)), "",
			`tool raw: input schema must have "type": "object", got <nil>`},

		// Output schemas.
		{"output schema of type array", tools(&pluginv1.Tool{Name: "raw", InputSchemaJson: []byte(objectSchema), OutputSchemaJson: []byte(`{"type":"array"}`)}), "",
			`tool raw: output schema must be a JSON Schema object with "type": "object"`},
		{"output schema not JSON", tools(&pluginv1.Tool{Name: "raw", InputSchemaJson: []byte(objectSchema), OutputSchemaJson: []byte(`nope`)}), "",
			`tool raw: output schema must be a JSON Schema object with "type": "object"`},
		{"output schema null", tools(&pluginv1.Tool{Name: "raw", InputSchemaJson: []byte(objectSchema), OutputSchemaJson: []byte(`null`)}), "",
			`tool raw: output schema must be a JSON Schema object with "type": "object"`},

		// _meta.
		{"invalid _meta", tools(&pluginv1.Tool{Name: "raw", InputSchemaJson: []byte(objectSchema), MetaJson: []byte(`{"a":`)}), "",
			"tool raw: _meta is not valid JSON"},

		// x-mcp-header, as CheckManifest reports it (the rules themselves are
		// TestParamHeadersRefuses's).
		{"x-mcp-header not reachable", tools(toolWith("raw", `{"type":"object","properties":{"a":{"type":"object","additionalProperties":{"type":"string","x-mcp-header":"A"}}}}`)), "",
			`tool raw: input schema: x-mcp-header at /a: only properties reachable through "properties" alone may be mirrored into headers`},

		// Prompts.
		{"prompt name with a space", &pluginv1.DescribeResponse{Prompts: []*pluginv1.Prompt{{Name: "say hi"}}}, "",
			`prompt "say hi": name must be 1-128 letters, digits, _ - or .`},
		{"empty prompt name", &pluginv1.DescribeResponse{Prompts: []*pluginv1.Prompt{{}}}, "",
			`prompt "": name must be 1-128 letters, digits, _ - or .`},
		{"prefix pushes prompt name over 128", &pluginv1.DescribeResponse{Prompts: []*pluginv1.Prompt{{Name: long}}}, "p.",
			`prompt "p.` + long + `": name must be 1-128 letters, digits, _ - or .`},
		{"prompt described twice", &pluginv1.DescribeResponse{Prompts: []*pluginv1.Prompt{{Name: "greet"}, {Name: "greet"}}}, "",
			"prompt greet is described twice"},
		{"prompt argument without a name", &pluginv1.DescribeResponse{Prompts: []*pluginv1.Prompt{{Name: "greet", Arguments: []*pluginv1.PromptArgument{{Name: "who"}, {Description: "?"}}}}}, "",
			"prompt greet has an argument without a name"},

		// Resources.
		{"relative resource URI", &pluginv1.DescribeResponse{Resources: []*pluginv1.Resource{{Uri: "counter", Name: "counter"}}}, "",
			`resource "counter": not an absolute URI`},
		{"empty resource URI", &pluginv1.DescribeResponse{Resources: []*pluginv1.Resource{{Name: "counter"}}}, "",
			`resource "": not an absolute URI`},
		{"unparsable resource URI", &pluginv1.DescribeResponse{Resources: []*pluginv1.Resource{{Uri: "test://a b/%zz", Name: "x"}}}, "",
			`resource "test://a b/%zz": not an absolute URI`},
		{"resource without a name", &pluginv1.DescribeResponse{Resources: []*pluginv1.Resource{{Uri: "test://counter"}}}, "",
			"resource test://counter has no name"},
		{"resource described twice", &pluginv1.DescribeResponse{Resources: []*pluginv1.Resource{{Uri: "test://c", Name: "a"}, {Uri: "test://c", Name: "b"}}}, "",
			"resource test://c is described twice"},

		// Resource templates.
		{"invalid URI template", &pluginv1.DescribeResponse{ResourceTemplates: []*pluginv1.ResourceTemplate{{UriTemplate: "test://items/{id", Name: "item"}}}, "",
			`resource template "test://items/{id" is not a valid URI template`},
		{"empty URI template", &pluginv1.DescribeResponse{ResourceTemplates: []*pluginv1.ResourceTemplate{{Name: "item"}}}, "",
			`resource template "" is not a valid URI template`},
		{"template without a name", &pluginv1.DescribeResponse{ResourceTemplates: []*pluginv1.ResourceTemplate{{UriTemplate: "test://items/{id}"}}}, "",
			"resource template test://items/{id} has no name"},
		{"template described twice", &pluginv1.DescribeResponse{ResourceTemplates: []*pluginv1.ResourceTemplate{{UriTemplate: "test://items/{id}", Name: "a"}, {UriTemplate: "test://items/{id}", Name: "b"}}}, "",
			"resource template test://items/{id} is described twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckManifest(tc.d, tc.prefix)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("CheckManifest = %v\nwant            %s", err, tc.want)
			}
		})
	}
}

// TestCheckManifestOrder: tools are checked before prompts, resources and
// templates, and the first fault is the one reported.
func TestCheckManifestOrder(t *testing.T) {
	d := goodManifest()
	d.Tools = append(d.Tools, tool("bad name"))
	d.Prompts = append(d.Prompts, &pluginv1.Prompt{Name: "greet"})
	if err := CheckManifest(d, ""); err == nil || !strings.HasPrefix(err.Error(), `tool "bad name"`) {
		t.Fatalf("CheckManifest = %v, want the tool's fault", err)
	}
}

func TestParamHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, schema string
		want         []ParamHeader
	}{
		{"none", `{"type":"object","properties":{"a":{"type":"string"}}}`, nil},
		{"top-level property", `{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"}}}`,
			[]ParamHeader{{Name: "Region", Path: []string{"region"}}}},
		{"nested through properties", `{"type":"object","properties":{"where":{"type":"object","properties":{"geo":{"type":"object","properties":{"zone":{"type":"integer","x-mcp-header":"Zone"}}}}}}}`,
			[]ParamHeader{{Name: "Zone", Path: []string{"where", "geo", "zone"}}}},
		{"several, in key order", `{"type":"object","properties":{
			"b":{"type":"boolean","x-mcp-header":"B"},
			"a":{"type":"object","properties":{"y":{"type":"string","x-mcp-header":"A-Y"},"x":{"type":"string","x-mcp-header":"A-X"}}},
			"c":{"type":"integer","x-mcp-header":"!#$%&'*+-.^_|~09az"}}}`,
			[]ParamHeader{
				{Name: "A-X", Path: []string{"a", "x"}},
				{Name: "A-Y", Path: []string{"a", "y"}},
				{Name: "B", Path: []string{"b"}},
				{Name: "!#$%&'*+-.^_|~09az", Path: []string{"c"}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParamHeaders([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParamHeaders = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParamHeadersPathsAreIndependent: each path is its own slice, not a view
// of the walk's buffer that a later sibling overwrites.
func TestParamHeadersPathsAreIndependent(t *testing.T) {
	got, err := ParamHeaders([]byte(`{"type":"object","properties":{"o":{"type":"object","properties":{
		"a":{"type":"string","x-mcp-header":"A"},"b":{"type":"string","x-mcp-header":"B"},"c":{"type":"string","x-mcp-header":"C"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []ParamHeader{{"A", []string{"o", "a"}}, {"B", []string{"o", "b"}}, {"C", []string{"o", "c"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParamHeaders = %+v, want %+v", got, want)
	}
}

func TestParamHeadersRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, schema, want string
	}{
		{"at the root", `{"type":"object","x-mcp-header":"Root"}`,
			`x-mcp-header at /: only properties reachable through "properties" alone may be mirrored into headers`},
		{"under additionalProperties", `{"type":"object","properties":{"m":{"type":"object","additionalProperties":{"type":"string","x-mcp-header":"M"}}}}`,
			`x-mcp-header at /m: only properties reachable through "properties" alone may be mirrored into headers`},
		{"under items", `{"type":"object","properties":{"l":{"type":"array","items":{"type":"string","x-mcp-header":"L"}}}}`,
			`x-mcp-header at /l: only properties reachable through "properties" alone may be mirrored into headers`},
		{"under anyOf", `{"type":"object","anyOf":[{"properties":{"u":{"type":"string","x-mcp-header":"U"}}}]}`,
			`x-mcp-header at /u: only properties reachable through "properties" alone may be mirrored into headers`},
		{"under $defs", `{"type":"object","$defs":{"d":{"type":"object","properties":{"v":{"type":"string","x-mcp-header":"V"}}}}}`,
			`x-mcp-header at /v: only properties reachable through "properties" alone may be mirrored into headers`},
		{"name with a space", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Has Space"}}}`,
			`x-mcp-header at /a: "Has Space" is not a valid HTTP header name token`},
		{"name with a colon", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"A:B"}}}`,
			`x-mcp-header at /a: "A:B" is not a valid HTTP header name token`},
		{"empty name", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":""}}}`,
			`x-mcp-header at /a: "" is not a valid HTTP header name token`},
		{"name not a string", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":7}}}`,
			`x-mcp-header at /a: 7 is not a valid HTTP header name token (it must be a string)`},
		{"name null", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":null}}}`,
			`x-mcp-header at /a: <nil> is not a valid HTTP header name token (it must be a string)`},
		{"non-ASCII name", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Größe"}}}`,
			`x-mcp-header at /a: "Größe" is not a valid HTTP header name token`},
		{"used twice ignoring case", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Region"},"b":{"type":"string","x-mcp-header":"REGION"}}}`,
			`x-mcp-header "REGION" is used twice (names are compared ignoring case)`},
		{"used twice at different depths", `{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"string","x-mcp-header":"X"}}},"b":{"type":"string","x-mcp-header":"x"}}}`,
			`x-mcp-header "x" is used twice (names are compared ignoring case)`},
		{"on a number", `{"type":"object","properties":{"n":{"type":"number","x-mcp-header":"N"}}}`,
			`x-mcp-header "N" at /n: the property must be of type string, integer or boolean`},
		{"on an object", `{"type":"object","properties":{"o":{"type":"object","x-mcp-header":"O"}}}`,
			`x-mcp-header "O" at /o: the property must be of type string, integer or boolean`},
		{"on a property without a type", `{"type":"object","properties":{"o":{"x-mcp-header":"O"}}}`,
			`x-mcp-header "O" at /o: the property must be of type string, integer or boolean`},
		{"on a union type", `{"type":"object","properties":{"o":{"type":["string","null"],"x-mcp-header":"O"}}}`,
			`x-mcp-header "O" at /o: the property must be of type string, integer or boolean`},
		{"nested path in the message", `{"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"number","x-mcp-header":"B"}}}}}`,
			`x-mcp-header "B" at /a/b: the property must be of type string, integer or boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParamHeaders([]byte(tc.schema))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ParamHeaders = %+v, %v\nwant error       %s", got, err, tc.want)
			}
			if got != nil {
				t.Fatalf("ParamHeaders returned %+v with its error", got)
			}
		})
	}
	if _, err := ParamHeaders([]byte(`{"type":`)); err == nil {
		t.Fatal("ParamHeaders of invalid JSON: no error")
	}
}

func TestIsToken(t *testing.T) {
	for s, want := range map[string]bool{
		"A": true, "Mcp-Param": true, "x.y_z~1": true, "!#$%&'*+-.^_`|~": true,
		"": false, "a b": false, "a:b": false, "a/b": false, "a\tb": false, "(a)": false, `"a"`: false, "ä": false,
	} {
		if got := isToken(s); got != want {
			t.Errorf("isToken(%q) = %v, want %v", s, got, want)
		}
	}
}
