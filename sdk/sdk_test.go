package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/sdk"
)

type greetIn struct {
	Name  string `json:"name" jsonschema:"who to greet"`
	Times int    `json:"times,omitempty"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

func greet(_ context.Context, req *sdk.Request, in greetIn) (greetOut, error) {
	if in.Name == "error" {
		return greetOut{}, errors.New("cannot greet error")
	}
	return greetOut{Greeting: "hello " + in.Name + " from " + req.Caller.UserID}, nil
}

var testPlugin = sdk.Plugin{Name: "t", Version: "1", Tools: []sdk.Tool{
	sdk.NewTypedTool("greet", "Greets.", greet),
	sdk.NewTool("caller", "Caller helpers.", func(ctx context.Context, req *sdk.Request, _ struct{}) (*sdk.Result, error) {
		c := sdk.CallerFrom(ctx)
		return sdk.Textf("%v %v %v", c.HasRole("admin"), c.HasPermission("docs:write"), c.HasScope("openid")), nil
	}),
	sdk.NewTool("boom", "Panics.", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) { panic("x") }),
}}

func TestTypedTool(t *testing.T) {
	caller := &sdk.Caller{UserID: "u1", Roles: []string{"admin"}, Scopes: []string{"openid"}}
	tests := []struct {
		name, tool, args string
		wantErr          bool
		wantText         string
	}{
		{"ok", "greet", `{"name":"ann"}`, false, `"greeting": "hello ann from u1"`},
		{"missing required", "greet", `{}`, true, "invalid arguments"},
		{"wrong type", "greet", `{"name":5}`, true, "invalid arguments"},
		{"not json", "greet", `{`, true, "invalid arguments"},
		{"handler error", "greet", `{"name":"error"}`, true, "cannot greet error"},
		{"caller helpers", "caller", `{}`, false, "true false true"},
		{"null args", "caller", `null`, false, "true false true"},
		{"panic", "boom", `{}`, true, "tool boom failed: internal error"},
		{"unknown", "nope", `{}`, true, `unknown tool "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := testPlugin.Invoke(context.Background(), tc.tool, caller, []byte(tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError() != tc.wantErr || !strings.Contains(res.Text(), tc.wantText) {
				t.Fatalf("isError=%v text=%q; want isError=%v containing %q", res.IsError(), res.Text(), tc.wantErr, tc.wantText)
			}
		})
	}
	res, _ := testPlugin.Invoke(context.Background(), "greet", caller, []byte(`{"name":"ann"}`))
	if string(res.StructuredContent()) != `{"greeting":"hello ann from u1"}` {
		t.Errorf("structured = %s", res.StructuredContent())
	}
}

func TestPluginDeclarationErrors(t *testing.T) {
	dup := sdk.Plugin{Name: "d", Tools: []sdk.Tool{
		sdk.NewTool("a", "", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) { return nil, nil }),
		sdk.NewTool("a", "", func(context.Context, *sdk.Request, struct{}) (*sdk.Result, error) { return nil, nil }),
	}}
	if _, err := dup.Invoke(context.Background(), "a", nil, nil); err == nil || !strings.Contains(err.Error(), "tool a is described twice") {
		t.Errorf("duplicate: %v", err)
	}
	// A channel cannot be described by JSON Schema: the error names the tool.
	bad := sdk.Plugin{Name: "b", Tools: []sdk.Tool{
		sdk.NewTool("chan", "", func(context.Context, *sdk.Request, struct{ C chan int }) (*sdk.Result, error) { return nil, nil }),
	}}
	if _, err := bad.Invoke(context.Background(), "chan", nil, nil); err == nil || !strings.Contains(err.Error(), "tool chan: input schema") {
		t.Errorf("bad schema: %v", err)
	}
}

func TestResultHelpers(t *testing.T) {
	r := sdk.Mix(sdk.Text("a"), sdk.Markdown("# b"), sdk.Object([]int{1}), sdk.Error("c"))
	if !r.IsError() || r.Text() != "a\n# b\n{\n  \"result\": [\n    1\n  ]\n}\nc" {
		t.Errorf("mix text %q isError %v", r.Text(), r.IsError())
	}
	var m map[string]any
	if err := json.Unmarshal(r.StructuredContent(), &m); err != nil || m["result"] == nil {
		t.Errorf("non-object structured content is wrapped: %s", r.StructuredContent())
	}
}

func TestTypedToolWithNonObjectOutput(t *testing.T) {
	p := sdk.Plugin{Name: "n", Tools: []sdk.Tool{
		sdk.NewTypedTool("names", "Lists names.", func(context.Context, *sdk.Request, struct{}) ([]string, error) {
			return []string{"a"}, nil
		}),
	}}
	res, err := p.Invoke(context.Background(), "names", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.StructuredContent()) != `{"result":["a"]}` {
		t.Fatalf("structured = %s", res.StructuredContent())
	}
	var schema struct {
		Type       string
		Properties map[string]struct{ Type any }
		Required   []string
	}
	if err := json.Unmarshal(p.Tools[0].OutputSchema(), &schema); err != nil || schema.Type != "object" || schema.Properties["result"].Type == nil || schema.Required[0] != "result" {
		t.Fatalf("output schema %s does not describe the wrapped result", p.Tools[0].OutputSchema())
	}
}
