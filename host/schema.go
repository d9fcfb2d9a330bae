package host

import (
	"fmt"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// validateDescription checks everything a plugin described before any of it
// reaches a client: the manifest rules every plugin is held to (stated once, in
// pluginrpc, where the SDK applies them too), then this host's config for it.
func validateDescription(p *config.Plugin, d *pluginv1.DescribeResponse) error {
	if err := pluginrpc.CheckManifest(d, p.Prefix); err != nil {
		return fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	for name := range p.Tools {
		if !hasTool(d, name) {
			return fmt.Errorf("plugin %s: plugins.%s.tools.%s: the plugin has no tool %q", p.Name, p.Name, name, name)
		}
	}
	return nil
}

func hasTool(d *pluginv1.DescribeResponse, name string) bool {
	for _, t := range d.GetTools() {
		if t.GetName() == name {
			return true
		}
	}
	return false
}
