package host

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"

	"github.com/yosida95/uritemplate/v3"

	"github.com/mcphost/mcphost/config"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// toolNameRE is the MCP tool-name rule (2025-11-25): 1-128 of A-Z a-z 0-9 _ - .
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// validateDescription checks everything a plugin described before any of it
// reaches a client.
func validateDescription(p *config.Plugin, d *pluginv1.DescribeResponse) error {
	if err := validateTools(p, d.GetTools()); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, pr := range d.GetPrompts() {
		name := pr.GetName()
		if !toolNameRE.MatchString(p.Prefix + name) {
			return fmt.Errorf("plugin %s: prompt %q: name must be 1-128 letters, digits, _ - or .", p.Name, p.Prefix+name)
		}
		if seen["prompt "+name] {
			return fmt.Errorf("plugin %s: prompt %s is described twice", p.Name, name)
		}
		seen["prompt "+name] = true
		for _, a := range pr.GetArguments() {
			if a.GetName() == "" {
				return fmt.Errorf("plugin %s: prompt %s has an argument without a name", p.Name, name)
			}
		}
	}
	for _, r := range d.GetResources() {
		u, err := url.Parse(r.GetUri())
		if err != nil || u.Scheme == "" {
			return fmt.Errorf("plugin %s: resource %q: not an absolute URI", p.Name, r.GetUri())
		}
		if r.GetName() == "" {
			return fmt.Errorf("plugin %s: resource %s has no name", p.Name, r.GetUri())
		}
		if seen["resource "+r.GetUri()] {
			return fmt.Errorf("plugin %s: resource %s is described twice", p.Name, r.GetUri())
		}
		seen["resource "+r.GetUri()] = true
	}
	for _, t := range d.GetResourceTemplates() {
		if _, err := uritemplate.New(t.GetUriTemplate()); err != nil || t.GetUriTemplate() == "" {
			return fmt.Errorf("plugin %s: resource template %q is not a valid URI template", p.Name, t.GetUriTemplate())
		}
		if t.GetName() == "" {
			return fmt.Errorf("plugin %s: resource template %s has no name", p.Name, t.GetUriTemplate())
		}
		if seen["template "+t.GetUriTemplate()] {
			return fmt.Errorf("plugin %s: resource template %s is described twice", p.Name, t.GetUriTemplate())
		}
		seen["template "+t.GetUriTemplate()] = true
	}
	return nil
}

// validateTools checks a plugin's tools and its per-tool config.
func validateTools(p *config.Plugin, tools []*pluginv1.Tool) error {
	seen := map[string]bool{}
	for _, t := range tools {
		name := t.GetName()
		if !toolNameRE.MatchString(p.Prefix + name) {
			return fmt.Errorf("plugin %s: tool %q: name must be 1-128 letters, digits, _ - or .", p.Name, p.Prefix+name)
		}
		if seen[name] {
			return fmt.Errorf("plugin %s: tool %s is described twice", p.Name, name)
		}
		seen[name] = true
		if err := checkInputSchema(t.GetInputSchemaJson()); err != nil {
			return fmt.Errorf("plugin %s: tool %s: input schema %v", p.Name, name, err)
		}
		if out := t.GetOutputSchemaJson(); len(out) > 0 {
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil || m == nil || m["type"] != "object" {
				return fmt.Errorf(`plugin %s: tool %s: output schema must be a JSON Schema object with "type": "object"`, p.Name, name)
			}
		}
		if meta := t.GetMetaJson(); len(meta) > 0 && !json.Valid(meta) {
			return fmt.Errorf("plugin %s: tool %s: _meta is not valid JSON", p.Name, name)
		}
		if _, err := paramHeaders(t.GetInputSchemaJson()); err != nil {
			return fmt.Errorf("plugin %s: tool %s: input schema: %v", p.Name, name, err)
		}
	}
	for name := range p.Tools {
		if !seen[name] {
			return fmt.Errorf("plugin %s: plugins.%s.tools.%s: the plugin has no tool %q", p.Name, p.Name, name, name)
		}
	}
	return nil
}

func checkInputSchema(raw []byte) error {
	if len(raw) == 0 {
		return fmt.Errorf(`is missing (it must be a JSON Schema object with "type": "object")`)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return fmt.Errorf(`is not a JSON object (it must be a JSON Schema object with "type": "object")`)
	}
	if m["type"] != "object" {
		return fmt.Errorf(`must have "type": "object", got %v`, m["type"])
	}
	return nil
}
