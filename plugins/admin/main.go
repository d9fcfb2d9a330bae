// Command admin is a plugin whose one tool only administrators may run. It shows
// the pattern for a role check inside a plugin: the host's policy may already hide
// the tool from others, but the plugin checks again because it is the last line.
package main

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/mcphost/mcphost/sdk"
)

// ActionInput is the admin-action tool's input.
type ActionInput struct {
	Action string `json:"action" jsonschema:"what to do: ping (check the plugin answers) or rotate-demo-secret (bump the in-memory demo secret's version)"`
}

// ActionResult reports what was done and by whom, for the audit trail.
type ActionResult struct {
	OK                bool   `json:"ok"`
	Action            string `json:"action"`
	PerformedBy       string `json:"performed_by"`
	DemoSecretVersion int64  `json:"demo_secret_version"`
}

// demoSecretVersion stands in for real state an admin might rotate. It lives in
// memory only, so it is harmless and resets when the plugin restarts.
var demoSecretVersion atomic.Int64

func adminAction(_ context.Context, req *sdk.Request, in ActionInput) (ActionResult, error) {
	if !req.Caller.HasRole("admin") {
		return ActionResult{}, errors.New("Forbidden: admin role required")
	}
	res := ActionResult{OK: true, Action: in.Action, PerformedBy: req.Caller.UserID}
	switch in.Action {
	case "ping":
		res.DemoSecretVersion = demoSecretVersion.Load()
	case "rotate-demo-secret":
		res.DemoSecretVersion = demoSecretVersion.Add(1)
	default:
		return ActionResult{}, errors.New(`action must be "ping" or "rotate-demo-secret"`)
	}
	return res, nil
}

// Plugin is the plugin's declaration, shared by main and the tests.
var Plugin = sdk.Plugin{
	Name:    "admin",
	Version: "1.0.0",
	Tools: []sdk.Tool{
		sdk.NewTypedTool("admin-action", "Runs a small administrative action (ping or rotate-demo-secret). Requires the admin role.", adminAction,
			sdk.WithTitle("Admin action"),
			sdk.WithInputSchema(func(s *jsonschema.Schema) {
				s.Properties["action"].Enum = []any{"ping", "rotate-demo-secret"}
			})),
	},
}

func main() { sdk.Serve(Plugin) }
