package sdk

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

type greetArgs struct {
	Name string `json:"name"`
}

type checkInner struct {
	X    int      `json:"x"`
	Tags []string `json:"tags,omitempty"`
}

type checkArgs struct {
	A   float64        `json:"a" jsonschema:"the first"`
	N   int            `json:"n,omitempty"`
	S   string         `json:"s"`
	P   *checkInner    `json:"p,omitempty"`
	M   map[string]int `json:"m,omitempty"`
	Any any            `json:"any,omitempty"`
	B   bool           `json:"b,omitempty"`
	U   uint8          `json:"u,omitempty"`
	L   []checkInner   `json:"l,omitempty"`
}

// TestArgCheckAgreesWithValidator runs the plain checker and the general
// validator on the same schemas and arguments: they must accept and refuse
// the same values, and the checker's errors must name the offending place.
func TestArgCheckAgreesWithValidator(t *testing.T) {
	limits := func(s *jsonschema.Schema) {
		lo, hi := 1.0, 10.0
		s.Properties["s"].MinLength = jsonschema.Ptr(2)
		s.Properties["s"].MaxLength = jsonschema.Ptr(4)
		s.Properties["a"].Minimum = &lo
		s.Properties["a"].ExclusiveMaximum = &hi
		s.Properties["n"].Enum = []any{1, 2, 3}
		s.Properties["l"].MaxItems = jsonschema.Ptr(1)
	}
	schemas := map[string][]func(*jsonschema.Schema){"inferred": nil, "with limits": {limits}}
	cases := []struct {
		args, where string // where: "" if valid, else text the checker's error must hold
	}{
		{`{"a":1,"s":"hi"}`, ""},
		{`{"a":2.5,"s":"héé","n":2,"p":{"x":1,"tags":["t"]},"m":{"k":1},"any":[1,{}],"b":true,"u":255,"l":[{"x":3}]}`, ""},
		{`{"a":1,"s":"hi","p":null}`, ""},
		{`{"s":"hi"}`, `property "a" is required`},
		{`{"a":1}`, `property "s" is required`},
		{`{"a":"1","s":"hi"}`, `a: got string, want number`},
		{`{"a":1,"s":"hi","n":1.5}`, `n: got number, want integer`},
		{`{"a":1,"s":"hi","zzz":1}`, `unknown property "zzz"`},
		{`{"a":1,"s":"hi","p":{}}`, `p: property "x" is required`},
		{`{"a":1,"s":"hi","p":{"x":1,"y":2}}`, `p: unknown property "y"`},
		{`{"a":1,"s":"hi","p":{"x":1,"tags":[1]}}`, `p.tags[0]: got integer, want string`},
		{`{"a":1,"s":"hi","m":{"k":"v"}}`, `m.k: got string, want integer`},
		{`{"a":1,"s":"hi","u":256}`, `u: 256 is more than the maximum 255`},
		{`{"a":1,"s":"hi","u":-1}`, `u: -1 is less than the minimum 0`},
		{`{"a":1,"s":"hi","l":[{"x":"no"}]}`, `l[0].x: got string, want integer`},
		{`{"a":1,"s":"hi","b":null}`, `b: got null, want boolean`},
		{`[1]`, `got array, want object`},
		{`null`, `got null, want object`},
	}
	limited := []struct{ args, where string }{
		{`{"a":1,"s":"h"}`, `s: length 1 is outside [2, 4]`},
		{`{"a":1,"s":"hello"}`, `s: length 5 is outside [2, 4]`},
		{`{"a":0.5,"s":"hi"}`, `a: 0.5 is less than the minimum 1`},
		{`{"a":10,"s":"hi"}`, `a: 10 must be less than 10`},
		{`{"a":1,"s":"hi","n":4}`, `n: 4 is not one of the allowed values`},
		{`{"a":1,"s":"hi","l":[{"x":1},{"x":2}]}`, `l: 2 items is outside [0, 1]`},
	}
	for name, edits := range schemas {
		raw, resolved, err := schemaFor[checkArgs](edits...)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := compileArgSchema(raw)
		if !ok {
			t.Fatalf("%s: schema %s not compiled", name, raw)
		}
		all := cases
		if edits != nil {
			all = append(append(all[:0:0], cases...), limited...)
		}
		for _, tc := range all {
			var v any
			if err := json.Unmarshal([]byte(tc.args), &v); err != nil {
				t.Fatal(err)
			}
			got, want := fast.check("", v), resolved.Validate(v)
			if (got == nil) != (want == nil) {
				t.Errorf("%s %s: checker says %v, validator says %v", name, tc.args, got, want)
				continue
			}
			if tc.where == "" && got != nil {
				t.Errorf("%s %s: refused: %v", name, tc.args, got)
			}
			if tc.where != "" && (got == nil || !strings.Contains(got.Error(), tc.where)) {
				t.Errorf("%s %s: error %v, want it to say %q", name, tc.args, got, tc.where)
			}
		}
	}
}

// TestArgCheckFallsBack: schemas with keywords the checker does not implement
// are left to the general validator, which then enforces them.
func TestArgCheckFallsBack(t *testing.T) {
	for _, raw := range []string{
		`{"type":"object","properties":{"s":{"type":"string","pattern":"^a"}}}`,
		`{"type":"object","properties":{"s":{"anyOf":[{"type":"string"}]}}}`,
		`{"type":"object","$ref":"#/$defs/x","$defs":{"x":{}}}`,
		`{"type":"object","required":"a"}`,
		`{"type":7}`,
	} {
		if _, ok := compileArgSchema([]byte(raw)); ok {
			t.Errorf("compiled %s", raw)
		}
	}
	pattern := func(s *jsonschema.Schema) { s.Properties["name"].Pattern = "^[A-Z]" }
	tool := NewTool("greet", "", func(ctx context.Context, req *Request, in greetArgs) (*Result, error) {
		return Text("hi " + in.Name), nil
	}, WithInputSchema(pattern))
	res, err := tool.handler(context.Background(), &Request{}, json.RawMessage(`{"name":"bob"}`))
	if err != nil || !res.IsError() {
		t.Fatalf("lower-case name accepted despite the pattern: %+v, %v", res, err)
	}
	res, err = tool.handler(context.Background(), &Request{}, json.RawMessage(`{"name":"Bob"}`))
	if err != nil || res.IsError() {
		t.Fatalf("valid name refused: %+v, %v", res, err)
	}
}

// BenchmarkDecodeArgs decodes a typed tool's arguments with each validator.
func BenchmarkDecodeArgs(b *testing.B) {
	raw, resolved, err := schemaFor[checkArgs]()
	if err != nil {
		b.Fatal(err)
	}
	args := json.RawMessage(`{"a":2,"s":"hi","p":{"x":1,"tags":["t"]},"u":3}`)
	for name, check := range map[string]func(any) error{"checker": argValidator(raw, resolved), "general": resolved.Validate} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeArgs[checkArgs](args, check); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
