package host

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcphost/mcphost/mcpserver"
)

// x-mcp-header (SEP-2243): a tool parameter a client mirrors into an
// Mcp-Param-{Name} header. paramHeaders reads them from an input schema and
// enforces the specification's constraints, so a tool clients would have to
// reject never reaches them: the name is a non-empty HTTP token, unique
// (ignoring case), on a string, integer or boolean property reachable from the
// root through "properties" alone.
func paramHeaders(schema []byte) ([]mcpserver.ParamHeader, error) {
	var root map[string]any
	if err := json.Unmarshal(schema, &root); err != nil {
		return nil, err
	}
	var out []mcpserver.ParamHeader
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
				name, _ := h.(string)
				switch {
				case !reachable || len(path) == 0:
					return fmt.Errorf("x-mcp-header at %s: only properties reachable through \"properties\" alone may be mirrored into headers", where)
				case !isToken(name):
					return fmt.Errorf("x-mcp-header at %s: %q is not a valid HTTP header name token", where, h)
				case seen[strings.ToLower(name)]:
					return fmt.Errorf("x-mcp-header %q is used twice (names are compared ignoring case)", name)
				}
				if t, _ := n["type"].(string); t != "string" && t != "integer" && t != "boolean" {
					return fmt.Errorf("x-mcp-header %q at %s: the property must be of type string, integer or boolean", name, where)
				}
				seen[strings.ToLower(name)] = true
				out = append(out, mcpserver.ParamHeader{Name: name, Path: append([]string(nil), path...)})
			}
			for k, v := range n {
				if k == "properties" {
					props, _ := v.(map[string]any)
					for name, sub := range props {
						if err := walk(sub, append(path, name), reachable); err != nil {
							return err
						}
					}
					continue
				}
				if err := walk(v, path, false); err != nil {
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
