package host

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/mcpserver"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
	"github.com/mcphost/mcphost/supervisor"
)

// Route building and what each caller sees of the table, without processes:
// slots that never start, and the descriptions their plugins would give.

func testSlot(p *config.Plugin) *supervisor.Slot {
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = 1
	}
	if p.CallTimeout == 0 {
		p.CallTimeout = 30 * time.Second
	}
	return supervisor.New(p, supervisor.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func tool(name string) *pluginv1.Tool {
	return &pluginv1.Tool{Name: name, Description: "the " + name + " tool", InputSchemaJson: []byte(`{"type": "object"}`)}
}

func describe(tools []string, prompts []string, resources []string, templates []string) *pluginv1.DescribeResponse {
	d := &pluginv1.DescribeResponse{}
	for _, n := range tools {
		d.Tools = append(d.Tools, tool(n))
	}
	for _, n := range prompts {
		d.Prompts = append(d.Prompts, &pluginv1.Prompt{Name: n})
	}
	for _, u := range resources {
		d.Resources = append(d.Resources, &pluginv1.Resource{Uri: u, Name: u})
	}
	for _, u := range templates {
		d.ResourceTemplates = append(d.ResourceTemplates, &pluginv1.ResourceTemplate{UriTemplate: u, Name: u})
	}
	return d
}

func TestBuildRoutes(t *testing.T) {
	docs := testSlot(&config.Plugin{Name: "docs", Prefix: "docs.", CallTimeout: 5 * time.Second,
		Policy: config.Policy{RequireOrganization: true},
		Tools:  map[string]*config.Tool{"delete": {CallTimeout: time.Second, Policy: config.Policy{RequireRoles: []string{"admin"}}}}})
	misc := testSlot(&config.Plugin{Name: "misc"})
	down := testSlot(&config.Plugin{Name: "down"}) // no description: not started
	table, err := buildRoutes([]*supervisor.Slot{misc, docs, down}, map[*supervisor.Slot]*pluginv1.DescribeResponse{
		docs: describe([]string{"search", "delete"}, []string{"summarize"}, []string{"docs://index"}, []string{"docs://items/{id}"}),
		misc: describe([]string{"search", "echo"}, []string{"summarize"}, nil, nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The prefix tells tools and prompts apart; URIs are not prefixed.
	if want := []string{"docs.delete", "docs.search", "echo", "search"}; !slices.Equal(table.toolOrder, want) {
		t.Errorf("tool order %v, want %v", table.toolOrder, want)
	}
	if len(table.tools) != 4 || table.tools["search"].slot != misc || table.tools["docs.search"].slot != docs {
		t.Errorf("tools routed wrong: %v", table.tools)
	}
	if table.prompts["docs.summarize"].slot != docs || table.prompts["summarize"].slot != misc {
		t.Errorf("prompts routed wrong: %v", table.prompts)
	}
	if table.resources["docs://index"].slot != docs || table.templates["docs://items/{id}"].compiled == nil {
		t.Errorf("resources routed wrong: %v %v", table.resources, table.templates)
	}
	// Per-tool settings come from the tool's name in the plugin, unprefixed.
	del, search := table.tools["docs.delete"], table.tools["docs.search"]
	if del.timeout != time.Second || search.timeout != 5*time.Second {
		t.Errorf("timeouts: delete %v, search %v", del.timeout, search.timeout)
	}
	if len(del.policies) != 2 || !del.policies[0].RequireOrganization || !slices.Equal(del.policies[1].RequireRoles, []string{"admin"}) {
		t.Errorf("delete policies %+v, want the plugin's then the tool's", del.policies)
	}
	if fr := table.prompts["docs.summarize"]; len(fr.policies) != 1 || !fr.policies[0].RequireOrganization {
		t.Errorf("prompt policies %+v, want the plugin's", fr.policies)
	}
	// The tools/list entry clients get names the tool as they call it.
	var entry struct{ Name, Description string }
	if err := json.Unmarshal(del.wire, &entry); err != nil || entry.Name != "docs.delete" || entry.Description != "the delete tool" {
		t.Errorf("wire entry %s (%v)", del.wire, err)
	}
}

func TestBuildRoutesCollisions(t *testing.T) {
	a, b := testSlot(&config.Plugin{Name: "alpha"}), testSlot(&config.Plugin{Name: "beta"})
	for _, tc := range []struct {
		name   string
		da, db *pluginv1.DescribeResponse
		want   string
	}{
		{"tool", describe([]string{"x"}, nil, nil, nil), describe([]string{"x"}, nil, nil, nil),
			`tool "x" is exported by both plugins alpha and beta; set plugins.beta.prefix to tell them apart`},
		{"prompt", describe(nil, []string{"p"}, nil, nil), describe(nil, []string{"p"}, nil, nil),
			`prompt "p" is exported by both plugins alpha and beta; set plugins.beta.prefix`},
		// A prefix cannot separate URIs, so no hint.
		{"resource", describe(nil, nil, []string{"r://1"}, nil), describe(nil, nil, []string{"r://1"}, nil),
			`resource "r://1" is exported by both plugins alpha and beta`},
		{"template", describe(nil, nil, nil, []string{"r://{id}"}), describe(nil, nil, nil, []string{"r://{id}"}),
			`resource template "r://{id}" is exported by both plugins alpha and beta`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The message is the same whichever order the slots come in.
			for _, order := range [][]*supervisor.Slot{{a, b}, {b, a}} {
				_, err := buildRoutes(order, map[*supervisor.Slot]*pluginv1.DescribeResponse{a: tc.da, b: tc.db})
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				if tc.name == "resource" || tc.name == "template" {
					if strings.Contains(err.Error(), "prefix") {
						t.Errorf("%v: a prefix would not help", err)
					}
				}
			}
		})
	}
	// A prefix on one of them resolves a tool collision.
	pa := testSlot(&config.Plugin{Name: "alpha", Prefix: "a_"})
	if _, err := buildRoutes([]*supervisor.Slot{pa, b}, map[*supervisor.Slot]*pluginv1.DescribeResponse{pa: describe([]string{"x"}, nil, nil, nil), b: describe([]string{"x"}, nil, nil, nil)}); err != nil {
		t.Fatalf("with a prefix: %v", err)
	}
	// Prefixing can collide too: alpha's "a_x" against beta's own "a_x".
	_, err := buildRoutes([]*supervisor.Slot{pa, b}, map[*supervisor.Slot]*pluginv1.DescribeResponse{pa: describe([]string{"x"}, nil, nil, nil), b: describe([]string{"a_x"}, nil, nil, nil)})
	if err == nil || !strings.Contains(err.Error(), `tool "a_x" is exported by both plugins alpha and beta`) {
		t.Fatalf("prefixed collision: %v", err)
	}
}

// TestHiddenLooksMissing: what a caller may not use is absent from every
// list and answers exactly like a name that does not exist (invariant 4).
func TestHiddenLooksMissing(t *testing.T) {
	open := testSlot(&config.Plugin{Name: "open", Tools: map[string]*config.Tool{"admin-only": {Policy: config.Policy{RequireRoles: []string{"admin"}}}}})
	org := testSlot(&config.Plugin{Name: "org", Prefix: "org.", Policy: config.Policy{RequireOrganization: true}})
	table, err := buildRoutes([]*supervisor.Slot{open, org}, map[*supervisor.Slot]*pluginv1.DescribeResponse{
		open: describe([]string{"echo", "admin-only"}, nil, nil, nil),
		org:  describe([]string{"docs"}, []string{"brief"}, []string{"org://index"}, []string{"org://items/{id}"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{}
	h.routes.Store(table)
	b := engineBackend{h}
	ctx := context.Background()

	lists := func(c *auth.Caller) string {
		var out []string
		for _, enc := range []func(context.Context, *auth.Caller) (mcpserver.Encoded, error){
			func(ctx context.Context, c *auth.Caller) (mcpserver.Encoded, error) { return b.ListTools(ctx, c) },
			func(ctx context.Context, c *auth.Caller) (mcpserver.Encoded, error) { return b.ListPrompts(ctx, c) },
			func(ctx context.Context, c *auth.Caller) (mcpserver.Encoded, error) { return b.ListResources(ctx, c) },
			func(ctx context.Context, c *auth.Caller) (mcpserver.Encoded, error) {
				return b.ListResourceTemplates(ctx, c)
			},
		} {
			e, err := enc(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(e.AppendMembers(nil)))
		}
		return strings.Join(out, " ")
	}
	admin := &auth.Caller{UserID: "a", Roles: []string{"admin"}, OrganizationID: "org_1"}
	outsider := &auth.Caller{UserID: "o"}
	if got := lists(admin); !containsAll(got, "admin-only", "org.docs", "org.brief", "org://index", "org://items/{id}") {
		t.Fatalf("the admin in an organization misses something: %s", got)
	}
	got := lists(outsider)
	if !strings.Contains(got, "echo") {
		t.Fatalf("the outsider misses echo: %s", got)
	}
	for _, hidden := range []string{"admin-only", "org.", "org:"} {
		if strings.Contains(got, hidden) {
			t.Errorf("the outsider sees %q: %s", hidden, got)
		}
	}

	// Calling a hidden tool fails exactly as calling a missing one.
	_, errHidden := h.lookup(outsider, "admin-only")
	_, errMissing := h.lookup(outsider, "no-such-tool")
	if !errors.Is(errHidden, ErrUnknownTool) || errHidden.Error() != errMissing.Error() {
		t.Errorf("hidden tool: %v; missing tool: %v", errHidden, errMissing)
	}
	if _, err := h.lookup(admin, "admin-only"); err != nil {
		t.Errorf("admin calling admin-only: %v", err)
	}
	if _, ok := b.ToolHeaders(ctx, outsider, "org.docs"); ok {
		t.Error("headers of a hidden tool were found")
	}
	// Subscriptions and template matching follow the same rule.
	if b.CanSubscribe(outsider, "org://index") || b.CanSubscribe(outsider, "org://items/7") {
		t.Error("the outsider may subscribe to a hidden resource")
	}
	if !b.CanSubscribe(admin, "org://index") || !b.CanSubscribe(admin, "org://items/7") {
		t.Error("the admin may not subscribe to a visible resource")
	}
	if templateFor(table, outsider, "org://items/7") != "" || templateFor(table, admin, "org://items/7") != "org://items/{id}" {
		t.Error("template matching ignores policy")
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
