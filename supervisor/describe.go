package supervisor

import (
	"fmt"

	"github.com/mcphost/mcphost/config"
	"github.com/mcphost/mcphost/pluginrpc"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// checkDescription checks what plugin p described before any of it reaches a
// client: the plugin contract's rules (the SDK applies the same ones at the
// plugin's own start), then the config's references to its tools.
func checkDescription(p *config.Plugin, d *pluginv1.DescribeResponse) error {
	if err := pluginrpc.CheckManifest(d, p.Prefix); err != nil {
		return fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	for name := range p.Tools {
		found := false
		for _, t := range d.GetTools() {
			found = found || t.GetName() == name
		}
		if !found {
			return fmt.Errorf("plugin %s: plugins.%s.tools.%s: the plugin has no tool %q", p.Name, p.Name, name, name)
		}
	}
	return nil
}
