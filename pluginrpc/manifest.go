package pluginrpc

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/yosida95/uritemplate/v3"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// The rules a plugin's manifest (its DescribeResponse) must follow are part of
// the contract, so they are stated once, here: the host refuses a description
// that breaks them, and the Go SDK applies the same function at the plugin's
// own start, so a bad plugin fails there, with the message the host would give.

// toolNameRE is the MCP tool-name rule (2025-11-25): 1-128 of A-Z a-z 0-9 _ - .
// Prompt names follow it too.
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// CheckManifest reports the first way d breaks the manifest rules, or nil.
// prefix is what the host puts in front of tool and prompt names
// (plugins.<name>.prefix); the name rules apply to the exposed name. A plugin,
// which does not know its prefix, passes "". The errors name the tool, prompt,
// resource or template at fault; the host prefixes them with "plugin <name>: ".
// Checks that need the host's config are the host's own.
func CheckManifest(d *pluginv1.DescribeResponse, prefix string) error {
	if err := checkTools(d.GetTools(), prefix); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, pr := range d.GetPrompts() {
		name := pr.GetName()
		if !toolNameRE.MatchString(prefix + name) {
			return fmt.Errorf("prompt %q: name must be 1-128 letters, digits, _ - or .", prefix+name)
		}
		if seen["prompt "+name] {
			return fmt.Errorf("prompt %s is described twice", name)
		}
		seen["prompt "+name] = true
		for _, a := range pr.GetArguments() {
			if a.GetName() == "" {
				return fmt.Errorf("prompt %s has an argument without a name", name)
			}
		}
	}
	for _, r := range d.GetResources() {
		u, err := url.Parse(r.GetUri())
		if err != nil || u.Scheme == "" {
			return fmt.Errorf("resource %q: not an absolute URI", r.GetUri())
		}
		if r.GetName() == "" {
			return fmt.Errorf("resource %s has no name", r.GetUri())
		}
		if seen["resource "+r.GetUri()] {
			return fmt.Errorf("resource %s is described twice", r.GetUri())
		}
		seen["resource "+r.GetUri()] = true
	}
	for _, t := range d.GetResourceTemplates() {
		if _, err := uritemplate.New(t.GetUriTemplate()); err != nil || t.GetUriTemplate() == "" {
			return fmt.Errorf("resource template %q is not a valid URI template", t.GetUriTemplate())
		}
		if t.GetName() == "" {
			return fmt.Errorf("resource template %s has no name", t.GetUriTemplate())
		}
		if seen["template "+t.GetUriTemplate()] {
			return fmt.Errorf("resource template %s is described twice", t.GetUriTemplate())
		}
		seen["template "+t.GetUriTemplate()] = true
	}
	return nil
}

// checkTools checks names (with prefix), uniqueness, schemas, _meta and
// x-mcp-header annotations of tools.
func checkTools(tools []*pluginv1.Tool, prefix string) error {
	seen := map[string]bool{}
	for _, t := range tools {
		name := t.GetName()
		if !toolNameRE.MatchString(prefix + name) {
			return fmt.Errorf("tool %q: name must be 1-128 letters, digits, _ - or .", prefix+name)
		}
		if seen[name] {
			return fmt.Errorf("tool %s is described twice", name)
		}
		seen[name] = true
		if err := checkInputSchema(t.GetInputSchemaJson()); err != nil {
			return fmt.Errorf("tool %s: input schema %v", name, err)
		}
		if out := t.GetOutputSchemaJson(); len(out) > 0 {
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil || m == nil || m["type"] != "object" {
				return fmt.Errorf(`tool %s: output schema must be a JSON Schema object with "type": "object"`, name)
			}
		}
		if meta := t.GetMetaJson(); len(meta) > 0 && !json.Valid(meta) {
			return fmt.Errorf("tool %s: _meta is not valid JSON", name)
		}
		if _, err := ParamHeaders(t.GetInputSchemaJson()); err != nil {
			return fmt.Errorf("tool %s: input schema: %v", name, err)
		}
	}
	return nil
}

// checkInputSchema's errors read after "input schema ".
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

// ParamHeader is one tool parameter a client mirrors into an Mcp-Param-{Name}
// header (SEP-2243 x-mcp-header): Path is the chain of property names from the
// input schema's root to it.
type ParamHeader struct {
	Name string
	Path []string
}

// ParamHeaders reads the x-mcp-header annotations of a tool's input schema and
// enforces the specification's constraints, so a tool clients would have to
// reject never reaches them: the name is a non-empty HTTP token, unique
// (ignoring case), on a string, integer or boolean property reachable from the
// root through "properties" alone. It is here, not in the host, so a plugin
// checks its tools by the same rule; the host routes calls by its result.
// Object keys are visited in sorted order, so the result and the first error
// are the same every time.
func ParamHeaders(inputSchema []byte) ([]ParamHeader, error) {
	var root map[string]any
	if err := json.Unmarshal(inputSchema, &root); err != nil {
		return nil, err
	}
	var out []ParamHeader
	seen := map[string]bool{}
	var walk func(node any, path []string, reachable bool) error
	walk = func(node any, path []string, reachable bool) error {
		switch n := node.(type) {
		case []any:
			for _, v := range n {
				if err := walk(v, path, false); err != nil {
					return err
				}
			}
		case map[string]any:
			if h, ok := n["x-mcp-header"]; ok {
				where := "/" + strings.Join(path, "/")
				name, isString := h.(string)
				switch {
				case !reachable || len(path) == 0:
					return fmt.Errorf("x-mcp-header at %s: only properties reachable through \"properties\" alone may be mirrored into headers", where)
				case !isString:
					return fmt.Errorf("x-mcp-header at %s: %v is not a valid HTTP header name token (it must be a string)", where, h)
				case !isToken(name):
					return fmt.Errorf("x-mcp-header at %s: %q is not a valid HTTP header name token", where, h)
				case seen[strings.ToLower(name)]:
					return fmt.Errorf("x-mcp-header %q is used twice (names are compared ignoring case)", name)
				}
				if t, _ := n["type"].(string); t != "string" && t != "integer" && t != "boolean" {
					return fmt.Errorf("x-mcp-header %q at %s: the property must be of type string, integer or boolean", name, where)
				}
				seen[strings.ToLower(name)] = true
				out = append(out, ParamHeader{Name: name, Path: slices.Clone(path)})
			}
			for _, k := range slices.Sorted(maps.Keys(n)) {
				if k == "properties" {
					props, _ := n[k].(map[string]any)
					for _, name := range slices.Sorted(maps.Keys(props)) {
						if err := walk(props[name], append(path, name), reachable); err != nil {
							return err
						}
					}
					continue
				}
				if err := walk(n[k], path, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, nil, true); err != nil {
		return nil, err
	}
	return out, nil
}

// isToken reports whether s is an RFC 9110 token (1*tchar).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
