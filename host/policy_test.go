package host

import (
	"testing"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
)

func TestAllowed(t *testing.T) {
	admin := &auth.Caller{UserID: "u1", Roles: []string{"member", "admin"}, Permissions: []string{"docs:read", "docs:write"}, Scopes: []string{"openid", "docs"}, OrganizationID: "org_1"}
	member := &auth.Caller{UserID: "u2", Roles: []string{"member"}, Permissions: []string{"docs:read"}, Scopes: []string{"openid"}}
	anonymous := (*auth.Caller)(nil) // provider none
	tests := []struct {
		name     string
		policies []config.Policy
		caller   *auth.Caller
		want     bool
	}{
		{"no policy: anyone", nil, anonymous, true},
		{"empty policy: anyone", []config.Policy{{}}, member, true},

		{"one of the roles", []config.Policy{{RequireRoles: []string{"owner", "admin"}}}, admin, true},
		{"none of the roles", []config.Policy{{RequireRoles: []string{"owner", "admin"}}}, member, false},
		{"roles, no caller", []config.Policy{{RequireRoles: []string{"member"}}}, anonymous, false},
		{"a role is not a permission", []config.Policy{{RequireRoles: []string{"docs:read"}}}, member, false},

		{"every permission", []config.Policy{{RequirePermissions: []string{"docs:read", "docs:write"}}}, admin, true},
		{"only some permissions", []config.Policy{{RequirePermissions: []string{"docs:read", "docs:write"}}}, member, false},
		{"permissions, no caller", []config.Policy{{RequirePermissions: []string{"docs:read"}}}, anonymous, false},

		{"every scope", []config.Policy{{RequireScopes: []string{"openid", "docs"}}}, admin, true},
		{"only some scopes", []config.Policy{{RequireScopes: []string{"openid", "docs"}}}, member, false},
		{"scopes, no caller", []config.Policy{{RequireScopes: []string{"openid"}}}, anonymous, false},

		{"organization", []config.Policy{{RequireOrganization: true}}, admin, true},
		{"no organization", []config.Policy{{RequireOrganization: true}}, member, false},
		{"organization, no caller", []config.Policy{{RequireOrganization: true}}, anonymous, false},

		{"all kinds in one policy", []config.Policy{{RequireRoles: []string{"admin"}, RequirePermissions: []string{"docs:write"}, RequireScopes: []string{"docs"}, RequireOrganization: true}}, admin, true},
		{"all kinds, one missing", []config.Policy{{RequireRoles: []string{"admin"}, RequirePermissions: []string{"docs:write"}, RequireScopes: []string{"docs"}, RequireOrganization: true}}, &auth.Caller{Roles: []string{"admin"}, Permissions: []string{"docs:write"}, Scopes: []string{"docs"}}, false},

		// A plugin's policy and its tool's: both must hold, so a tool narrows
		// its plugin's rule and never widens it.
		{"plugin and tool both hold", []config.Policy{{RequireRoles: []string{"member"}}, {RequirePermissions: []string{"docs:write"}}}, admin, true},
		{"tool narrows the plugin", []config.Policy{{RequireRoles: []string{"member"}}, {RequirePermissions: []string{"docs:write"}}}, member, false},
		{"tool cannot widen the plugin", []config.Policy{{RequireRoles: []string{"admin"}}, {RequireRoles: []string{"member"}}}, member, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := allowed(tc.caller, tc.policies); got != tc.want {
				t.Errorf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestToolPoliciesFromConfig: the policies a route checks are the plugin's
// and then the tool's own, as config gives them.
func TestToolPoliciesFromConfig(t *testing.T) {
	p := &config.Plugin{
		Name:   "docs",
		Policy: config.Policy{RequireOrganization: true},
		Tools:  map[string]*config.Tool{"delete": {Policy: config.Policy{RequireRoles: []string{"admin"}}}},
	}
	inOrg := &auth.Caller{OrganizationID: "org_1"}
	adminInOrg := &auth.Caller{OrganizationID: "org_1", Roles: []string{"admin"}}
	adminNoOrg := &auth.Caller{Roles: []string{"admin"}}
	for _, tc := range []struct {
		tool   string
		caller *auth.Caller
		want   bool
	}{
		{"list", inOrg, true},
		{"list", adminNoOrg, false},
		{"delete", inOrg, false},
		{"delete", adminInOrg, true},
		{"delete", adminNoOrg, false},
	} {
		if got := allowed(tc.caller, p.ToolPolicies(tc.tool)); got != tc.want {
			t.Errorf("%s for %+v: allowed = %v, want %v", tc.tool, tc.caller, got, tc.want)
		}
	}
}
