package host

import (
	"fmt"
	"sort"
	"time"

	"github.com/mcphost/mcphost/config"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// route is how one exposed tool name reaches a plugin.
type route struct {
	// name is the tool's name as clients see it (prefix + plugin's name).
	name     string
	tool     *pluginv1.Tool
	slot     *slot
	timeout  time.Duration
	policies []config.Policy
}

// routeTable maps exposed tool names to routes. It is replaced, never mutated.
type routeTable map[string]*route

// buildRoutes computes the routing table from each plugin's description,
// failing on a tool name exported by two plugins.
func buildRoutes(slots []*slot, descs map[*slot]*pluginv1.DescribeResponse) (routeTable, error) {
	table := routeTable{}
	owner := map[string]string{}
	sorted := append([]*slot(nil), slots...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].cfg.Name < sorted[j].cfg.Name })
	for _, s := range sorted {
		for _, t := range descs[s].GetTools() {
			name := s.cfg.Prefix + t.GetName()
			if other, dup := owner[name]; dup {
				return nil, fmt.Errorf("tool %q is exported by both plugins %s and %s; set plugins.%s.prefix (or plugins.%s.prefix) to tell them apart", name, other, s.cfg.Name, s.cfg.Name, other)
			}
			owner[name] = s.cfg.Name
			table[name] = &route{
				name:     name,
				tool:     t,
				slot:     s,
				timeout:  s.cfg.ToolTimeout(t.GetName()),
				policies: s.cfg.ToolPolicies(t.GetName()),
			}
		}
	}
	return table, nil
}

// sortedNames lists the table's tool names in order.
func (t routeTable) sortedNames() []string {
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
