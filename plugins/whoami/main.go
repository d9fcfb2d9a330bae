// Command whoami is the smallest useful mcphost plugin: it tells the caller who the
// host verified them to be. Copy it to start a plugin of your own.
package main

import (
	"context"

	"github.com/mcphost/mcphost/sdk"
)

// Identity is the caller as whoami reports it.
type Identity struct {
	UserID         string   `json:"user_id"`
	Email          string   `json:"email,omitempty"`
	Name           string   `json:"name,omitempty"`
	Username       string   `json:"username,omitempty"`
	Roles          []string `json:"roles"`
	Permissions    []string `json:"permissions"`
	Scopes         []string `json:"scopes"`
	OrganizationID string   `json:"organization_id,omitempty"`
	SessionID      string   `json:"sid,omitempty"`
	EmailVerified  bool     `json:"email_verified"`
}

func whoami(_ context.Context, req *sdk.Request, _ struct{}) (Identity, error) {
	c := req.Caller
	return Identity{
		UserID:         c.UserID,
		Email:          c.Email,
		Name:           c.Name,
		Username:       c.Username,
		Roles:          nonNil(c.Roles),
		Permissions:    nonNil(c.Permissions),
		Scopes:         nonNil(c.Scopes),
		OrganizationID: c.OrganizationID,
		SessionID:      c.SessionID,
		EmailVerified:  c.EmailVerified,
	}, nil
}

// nonNil keeps empty lists as [] in JSON, so clients need not handle null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Plugin is the plugin's declaration, shared by main and the tests.
var Plugin = sdk.Plugin{
	Name:    "whoami",
	Version: "1.0.0",
	Tools: []sdk.Tool{
		sdk.NewTypedTool("whoami", "Returns the verified caller: user id, email, name, roles, permissions, scopes, organization and session.", whoami,
			sdk.WithTitle("Who am I"), sdk.ReadOnly()),
	},
}

func main() { sdk.Serve(Plugin) }
