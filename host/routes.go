package host

import (
	"fmt"
	"sort"
	"time"

	"github.com/yosida95/uritemplate/v3"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/mcpserver"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
	"github.com/mcphost/mcphost/supervisor"
)

// route is how one exposed tool name reaches a plugin.
type route struct {
	// name is the tool's name as clients see it (prefix + plugin's name).
	name     string
	tool     *pluginv1.Tool
	slot     *supervisor.Slot
	timeout  time.Duration
	policies []config.Policy
	// wire is the tool's tools/list entry; headers its x-mcp-header parameters.
	wire    []byte
	headers []mcpserver.ParamHeader
}

// featureRoute is how a resource, resource template or prompt reaches a plugin.
// Exactly one of resource, template and prompt is set. They follow the plugin's
// policy (plugins.<name>.require_*).
type featureRoute struct {
	// key is the resource URI, the template, or the prompt name as clients see it.
	key      string
	resource *pluginv1.Resource
	template *pluginv1.ResourceTemplate
	prompt   *pluginv1.Prompt
	slot     *supervisor.Slot
	policies []config.Policy
	compiled *uritemplate.Template // for templates
}

// routeTable maps everything clients can name to the plugin that serves it. It
// is replaced, never mutated.
type routeTable struct {
	tools     map[string]*route
	toolOrder []string                 // tool names, sorted (tools/list is deterministic)
	resources map[string]*featureRoute // by URI
	templates map[string]*featureRoute // by URI template
	prompts   map[string]*featureRoute // by exposed prompt name (prefix + name)
}

func emptyRoutes() *routeTable {
	return &routeTable{tools: map[string]*route{}, resources: map[string]*featureRoute{}, templates: map[string]*featureRoute{}, prompts: map[string]*featureRoute{}}
}

// buildRoutes computes the routing table from each plugin's description, failing
// on a name exported by two plugins.
func buildRoutes(slots []*supervisor.Slot, descs map[*supervisor.Slot]*pluginv1.DescribeResponse) (*routeTable, error) {
	table := emptyRoutes()
	owners := map[string]string{} // "kind name" -> plugin
	claim := func(kind, name, plugin, prefixHint string) error {
		key := kind + " " + name
		if other, dup := owners[key]; dup {
			return fmt.Errorf("%s %q is exported by both plugins %s and %s%s", kind, name, other, plugin, prefixHint)
		}
		owners[key] = plugin
		return nil
	}
	sorted := append([]*supervisor.Slot(nil), slots...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Config().Name < sorted[j].Config().Name })
	for _, s := range sorted {
		d, p := descs[s], s.Config()
		hint := fmt.Sprintf("; set plugins.%s.prefix to tell them apart", p.Name)
		for _, t := range d.GetTools() {
			name := p.Prefix + t.GetName()
			if err := claim("tool", name, p.Name, hint); err != nil {
				return nil, err
			}
			r := &route{name: name, tool: t, slot: s, timeout: p.ToolTimeout(t.GetName()), policies: p.ToolPolicies(t.GetName())}
			r.wire = encodeTool(r)
			r.headers = toolHeaders(t.GetInputSchemaJson())
			table.tools[name] = r
			table.toolOrder = append(table.toolOrder, name)
		}
		for _, pr := range d.GetPrompts() {
			name := p.Prefix + pr.GetName()
			if err := claim("prompt", name, p.Name, hint); err != nil {
				return nil, err
			}
			table.prompts[name] = &featureRoute{key: name, prompt: pr, slot: s, policies: []config.Policy{p.Policy}}
		}
		for _, r := range d.GetResources() {
			if err := claim("resource", r.GetUri(), p.Name, ""); err != nil {
				return nil, err
			}
			table.resources[r.GetUri()] = &featureRoute{key: r.GetUri(), resource: r, slot: s, policies: []config.Policy{p.Policy}}
		}
		for _, t := range d.GetResourceTemplates() {
			if err := claim("resource template", t.GetUriTemplate(), p.Name, ""); err != nil {
				return nil, err
			}
			fr := &featureRoute{key: t.GetUriTemplate(), template: t, slot: s, policies: []config.Policy{p.Policy}}
			fr.compiled, _ = uritemplate.New(t.GetUriTemplate())
			table.templates[t.GetUriTemplate()] = fr
		}
	}
	sort.Strings(table.toolOrder)
	return table, nil
}

// toolHeaders is the engine's view of a tool's x-mcp-header parameters. The
// schema already passed pluginrpc.CheckManifest, so the error cannot occur here.
func toolHeaders(inputSchema []byte) []mcpserver.ParamHeader {
	hs, _ := pluginrpc.ParamHeaders(inputSchema)
	if len(hs) == 0 {
		return nil
	}
	out := make([]mcpserver.ParamHeader, len(hs))
	for i, h := range hs {
		out[i] = mcpserver.ParamHeader{Name: h.Name, Path: h.Path}
	}
	return out
}
