package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/mcphost/mcphost/host"
)

// addCallCommand adds `mcphost call`, a small MCP client for trying a server out.
func addCallCommand(root *cobra.Command, g *globalFlags) {
	var url, token, args string
	var list bool
	cmd := &cobra.Command{
		Use:   "call [TOOL]",
		Short: "Call a tool on a running mcphost (a minimal MCP client)",
		Long: `call connects to an MCP endpoint as a client, calls TOOL with --args (a JSON
object) and prints the result as JSON. With --list it prints the tools the token
may see. The token comes from --token or MCPHOST_TOKEN.`,
		Example: `  mcphost call whoami --token "$(mcphost token --sub alice)"
  mcphost call get-documents --args '{"query":"roadmap"}'
  mcphost call --list`,
		Args: func(cmd *cobra.Command, a []string) error {
			if (len(a) == 1) == list {
				return usageError{fmt.Errorf("call: give exactly one TOOL, or --list")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			if url == "" {
				url = "http://127.0.0.1:8080" + host.MCPPath
				if cfg, err := loadConfig(*g, false); err == nil {
					url = publicBase(cfg, cfg.Server.Listen) + host.MCPPath
				}
			}
			if token == "" {
				token = os.Getenv("MCPHOST_TOKEN")
			}
			var arguments map[string]any
			if args != "" {
				if err := json.Unmarshal([]byte(args), &arguments); err != nil {
					return usageError{fmt.Errorf("--args: not a JSON object: %w", err)}
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			client := mcp.NewClient(&mcp.Implementation{Name: "mcphost-call", Version: version}, nil)
			httpClient := &http.Client{Transport: bearer{token: token}}
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: httpClient}, nil)
			if err != nil {
				return fmt.Errorf("connect %s: %w", url, err)
			}
			defer cs.Close()
			var out any
			if list {
				out, err = cs.ListTools(ctx, nil)
			} else {
				out, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: a[0], Arguments: arguments})
			}
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "MCP endpoint (default: from --config, else http://127.0.0.1:8080/mcp)")
	cmd.Flags().StringVar(&token, "token", "", "bearer token (default $MCPHOST_TOKEN)")
	cmd.Flags().StringVar(&args, "args", "", "tool arguments as a JSON object")
	cmd.Flags().BoolVar(&list, "list", false, "list tools instead of calling one")
	root.AddCommand(cmd)
}

// bearer adds the Authorization header to every request.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}
