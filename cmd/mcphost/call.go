package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mcphost/mcphost/host"
	"github.com/mcphost/mcphost/mcpclient"
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
			if args != "" && !isJSONObject(args) {
				return usageError{fmt.Errorf("--args: not a JSON object: %s", args)}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			client := &mcpclient.Client{URL: url, Token: token, Name: "mcphost-call", Version: version}
			defer func() { _ = client.Close(context.WithoutCancel(ctx)) }()
			var out any
			var err error
			if list {
				var tools []json.RawMessage
				tools, err = client.ListTools(ctx)
				out = map[string]any{"tools": tools}
			} else {
				out, err = client.CallTool(ctx, a[0], json.RawMessage(args))
			}
			if err != nil {
				var he *mcpclient.HTTPError
				if errors.As(err, &he) && he.StatusCode == http.StatusUnauthorized && token == "" {
					return fmt.Errorf("%s: %w (no token given: pass --token or set MCPHOST_TOKEN, e.g. from mcphost token --sub alice)", url, err)
				}
				return fmt.Errorf("%s: %w", url, err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return err
			}
			// A tool error is printed like any result, and fails the command so
			// scripts notice.
			if raw, ok := out.(json.RawMessage); ok {
				var res struct {
					IsError bool `json:"isError"`
				}
				if json.Unmarshal(raw, &res) == nil && res.IsError {
					return fmt.Errorf("%s returned a tool error (isError)", a[0])
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "MCP endpoint (default: from --config, else http://127.0.0.1:8080/mcp)")
	cmd.Flags().StringVar(&token, "token", "", "bearer token (default $MCPHOST_TOKEN)")
	cmd.Flags().StringVar(&args, "args", "", "tool arguments as a JSON object")
	cmd.Flags().BoolVar(&list, "list", false, "list tools instead of calling one")
	root.AddCommand(cmd)
}

// isJSONObject reports whether s is one JSON object.
func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &m) == nil && m != nil
}
