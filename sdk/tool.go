package sdk

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
)

// Tool is one tool a plugin offers. Build it with NewTool, NewTypedTool or NewRawTool.
type Tool struct {
	name         string
	title        string
	description  string
	inputSchema  json.RawMessage
	outputSchema json.RawMessage
	annotations  *Annotations
	icons        []Icon
	handler      func(ctx context.Context, req *Request, args json.RawMessage) (*Result, error)
	err          error // a construction error, reported by Serve
	// inputEdits adjust an inferred input schema before it is used (WithInputSchema).
	inputEdits []func(*jsonschema.Schema)
}

// Annotations are MCP tool hints for clients. Nil pointers mean "not stated".
type Annotations struct {
	Title           string
	ReadOnlyHint    *bool
	DestructiveHint *bool
	IdempotentHint  *bool
	OpenWorldHint   *bool
}

// Icon is an MCP icon for a tool.
type Icon struct {
	Src      string
	MIMEType string
	Sizes    []string
	Theme    string
}

// ToolOption adjusts a Tool's metadata.
type ToolOption func(*Tool)

// WithTitle sets the human-readable title.
func WithTitle(title string) ToolOption { return func(t *Tool) { t.title = title } }

// WithAnnotations sets the tool's behaviour hints.
func WithAnnotations(a Annotations) ToolOption { return func(t *Tool) { t.annotations = &a } }

// WithIcons sets the tool's icons.
func WithIcons(icons ...Icon) ToolOption { return func(t *Tool) { t.icons = icons } }

// ReadOnly marks the tool as not modifying anything (readOnlyHint).
func ReadOnly() ToolOption {
	return func(t *Tool) {
		if t.annotations == nil {
			t.annotations = &Annotations{}
		}
		yes := true
		t.annotations.ReadOnlyHint = &yes
	}
}

// Name returns the tool's name.
func (t Tool) Name() string { return t.name }

// InputSchema returns the tool's input JSON Schema as advertised to clients.
func (t Tool) InputSchema() json.RawMessage { return t.inputSchema }

// OutputSchema returns the tool's output JSON Schema, or nil.
func (t Tool) OutputSchema() json.RawMessage { return t.outputSchema }

// NewTool declares a tool whose input schema is inferred from In (a struct; use
// `json` tags for names and `jsonschema` tags for descriptions). Arguments are
// validated against that schema before the handler runs; invalid arguments become a
// tool error naming the problem.
func NewTool[In any](name, description string, h func(ctx context.Context, req *Request, in In) (*Result, error), opts ...ToolOption) Tool {
	t := Tool{name: name, description: description}
	for _, o := range opts {
		o(&t)
	}
	in, resolved, err := schemaFor[In](t.inputEdits...)
	if err != nil {
		t.err = fmt.Errorf("tool %s: input schema: %w", name, err)
		return t
	}
	t.inputSchema = in
	check := argValidator(in, resolved)
	t.handler = func(ctx context.Context, req *Request, args json.RawMessage) (*Result, error) {
		v, err := decodeArgs[In](args, check)
		if err != nil {
			return Error(err.Error()), nil
		}
		return h(ctx, req, v)
	}
	return t
}

// WithInputSchema adjusts the input schema inferred from a tool's Go type, for
// what struct tags cannot say (an enum, a minimum, a maximum length). Arguments
// are validated against the adjusted schema.
//
//	sdk.WithInputSchema(func(s *jsonschema.Schema) {
//		s.Properties["action"].Enum = []any{"ping", "rotate"}
//	})
func WithInputSchema(edit func(*jsonschema.Schema)) ToolOption {
	return func(t *Tool) { t.inputEdits = append(t.inputEdits, edit) }
}

// NewTypedTool declares a tool with inferred input and output schemas. The handler's
// Out value is returned as structured content and as its JSON text (see Object).
// A returned error becomes a tool error with the error's text.
func NewTypedTool[In, Out any](name, description string, h func(ctx context.Context, req *Request, in In) (Out, error), opts ...ToolOption) Tool {
	t := NewTool(name, description, func(ctx context.Context, req *Request, in In) (*Result, error) {
		out, err := h(ctx, req, in)
		if err != nil {
			return Error(err.Error()), nil
		}
		return Object(out), nil
	}, opts...)
	if t.err != nil {
		return t
	}
	out, err := jsonschema.For[Out](nil)
	if err != nil {
		t.err = fmt.Errorf("tool %s: output schema: %w", name, err)
		return t
	}
	if out.Type != "object" {
		// MCP structured content is an object, so Object wraps other values as
		// {"result": v}; the advertised schema says the same.
		out = &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"result": out}, Required: []string{"result"}}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		t.err = fmt.Errorf("tool %s: output schema: %w", name, err)
		return t
	}
	t.outputSchema = raw
	return t
}

// NewRawTool declares a tool with a hand-written JSON Schema for its input. The
// handler receives the raw arguments object and validates it itself.
func NewRawTool(name, description string, inputSchema json.RawMessage, h func(ctx context.Context, req *Request, args json.RawMessage) (*Result, error), opts ...ToolOption) Tool {
	t := Tool{name: name, description: description, inputSchema: inputSchema, handler: h}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// WithOutputSchema sets a hand-written output schema (for raw tools).
func WithOutputSchema(schema json.RawMessage) ToolOption {
	return func(t *Tool) { t.outputSchema = schema }
}

func schemaFor[T any](edits ...func(*jsonschema.Schema)) (json.RawMessage, *jsonschema.Resolved, error) {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		return nil, nil, err
	}
	for _, edit := range edits {
		edit(s)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, nil, err
	}
	resolved, err := s.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		return nil, nil, err
	}
	return raw, resolved, nil
}

// argValidator checks decoded arguments against the input schema: with the
// plain checker when it covers the schema, else with the general validator.
func argValidator(raw []byte, resolved *jsonschema.Resolved) func(any) error {
	if s, ok := compileArgSchema(raw); ok {
		return func(v any) error { return s.check("", v) }
	}
	return resolved.Validate
}

// decodeArgs validates args with check, then decodes them into In.
func decodeArgs[In any](args json.RawMessage, check func(any) error) (In, error) {
	var zero In
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("{}")
	}
	var generic any
	if err := json.Unmarshal(args, &generic); err != nil {
		return zero, fmt.Errorf("invalid arguments: %v", err)
	}
	if err := check(generic); err != nil {
		return zero, fmt.Errorf("invalid arguments: %v", err)
	}
	var v In
	if err := json.Unmarshal(args, &v); err != nil {
		return zero, fmt.Errorf("invalid arguments: %v", err)
	}
	return v, nil
}
