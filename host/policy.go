package host

import (
	"slices"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/config"
)

// allowed reports whether caller satisfies every policy: any one of the required
// roles, all required permissions and scopes, and an organization when required.
func allowed(caller *auth.Caller, policies []config.Policy) bool {
	for _, p := range policies {
		if len(p.RequireRoles) > 0 && !slices.ContainsFunc(p.RequireRoles, caller.HasRole) {
			return false
		}
		for _, perm := range p.RequirePermissions {
			if !caller.HasPermission(perm) {
				return false
			}
		}
		for _, s := range p.RequireScopes {
			if !caller.HasScope(s) {
				return false
			}
		}
		if p.RequireOrganization && (caller == nil || caller.OrganizationID == "") {
			return false
		}
	}
	return true
}
