// Command workosuser gives the caller their own WorkOS profile and organization,
// fetched from the WorkOS API with the API key the host passes in the plugin's
// environment. It shows how a plugin calls a third-party API on the verified
// caller's behalf without ever letting a secret reach a result or a log.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/mcphost/mcphost/sdk"
)

// User is the caller's WorkOS user profile.
type User struct {
	ID                string `json:"id"`
	Email             string `json:"email"`
	FirstName         string `json:"first_name"`
	LastName          string `json:"last_name"`
	EmailVerified     bool   `json:"email_verified"`
	ProfilePictureURL string `json:"profile_picture_url"`
	CreatedAt         string `json:"created_at"`
	UpdatedAt         string `json:"updated_at"`
}

// Organization is the caller's WorkOS organization.
type Organization struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Domains    []Domain `json:"domains"`
	ExternalID string   `json:"external_id,omitempty"`
	CreatedAt  string   `json:"created_at"`
	UpdatedAt  string   `json:"updated_at"`
}

// Domain is one of an organization's email domains.
type Domain struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
	State  string `json:"state"`
}

// getUser looks up the caller, never a user named in the arguments: the tool
// has no arguments, so it cannot be pointed at someone else.
func (c *client) getUser(ctx context.Context, req *sdk.Request, _ struct{}) (User, error) {
	if req.Caller.UserID == "" {
		return User{}, errors.New("User context required")
	}
	var u User
	err := c.get(ctx, "/user_management/users/"+url.PathEscape(req.Caller.UserID), &u)
	return u, err
}

func (c *client) getOrganization(ctx context.Context, req *sdk.Request, _ struct{}) (Organization, error) {
	if req.Caller.OrganizationID == "" {
		return Organization{}, errors.New("Organization context required")
	}
	var o Organization
	if err := c.get(ctx, "/organizations/"+url.PathEscape(req.Caller.OrganizationID), &o); err != nil {
		return Organization{}, err
	}
	if o.Domains == nil {
		o.Domains = []Domain{} // [] rather than null, so clients need not handle both
	}
	return o, nil
}

// newPlugin declares the plugin's tools around a WorkOS client, so tests can
// point it at a fake API.
func newPlugin(c *client) sdk.Plugin {
	return sdk.Plugin{
		Name:    "workosuser",
		Version: "1.0.0",
		Tools: []sdk.Tool{
			sdk.NewTypedTool("get-workos-user", "Returns the caller's WorkOS user profile: id, email, names, email verification, picture and timestamps.", c.getUser,
				sdk.WithTitle("My WorkOS profile"), sdk.ReadOnly()),
			sdk.NewTypedTool("get-workos-organization", "Returns the caller's WorkOS organization: id, name, domains and timestamps.", c.getOrganization,
				sdk.WithTitle("My WorkOS organization"), sdk.ReadOnly()),
		},
	}
}

func main() {
	c, err := newClient(os.Getenv)
	if err != nil {
		// Fail at start, where the host reports it, rather than on every call.
		fmt.Fprintln(os.Stderr, "workosuser:", err)
		os.Exit(1)
	}
	sdk.Serve(newPlugin(c))
}
