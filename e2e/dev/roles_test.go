package dev_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// workosAPI stands in for the WorkOS API on loopback: the organization
// memberships and organization roles endpoints, answering as WorkOS does.
type workosAPI struct {
	srv                *httptest.Server
	membershipRequests atomic.Int64
	down               atomic.Bool
}

func startWorkOSAPI(t *testing.T, key string) *workosAPI {
	a := &workosAPI{}
	memberships := map[string]map[string]any{
		"user_ada|org_demo_acme": {"status": "active", "role": map[string]any{"slug": "admin"}, "roles": []any{map[string]any{"slug": "admin"}}},
		"user_bob|org_demo_acme": {"status": "inactive", "role": map[string]any{"slug": "admin"}},
	}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if a.down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/user_management/organization_memberships":
			a.membershipRequests.Add(1)
			user, org := r.URL.Query().Get("user_id"), r.URL.Query().Get("organization_id")
			data := []any{}
			if m, ok := memberships[user+"|"+org]; ok {
				m["user_id"], m["organization_id"], m["object"] = user, org, "organization_membership"
				data = append(data, m)
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
		case r.URL.Path == "/authorization/organizations/org_demo_acme/roles":
			_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": []any{
				map[string]any{"object": "role", "slug": "admin", "permissions": []string{"documents:write", "admin:act"}},
				map[string]any{"object": "role", "slug": "member", "permissions": []string{"documents:read"}},
			}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// TestRolesFromWorkOSAPI: tokens without roles (as AuthKit issues them to MCP
// clients) get the caller's roles and permissions from the WorkOS API, and
// host policy and the plugins see them; an inactive membership gets none.
func TestRolesFromWorkOSAPI(t *testing.T) {
	const key = "sk_test_e2e_roles"
	api := startWorkOSAPI(t, key)
	t.Setenv("WORKOS_API_KEY", key)
	t.Setenv("WORKOS_API_BASE_URL", api.srv.URL)
	d := startDev(t, "")

	ada := d.connect(t, d.token(t, "--sub", "user_ada", "--org", "org_demo_acme"))
	got := call(t, ada, "whoami", nil)
	if r, _ := json.Marshal(got["roles"]); string(r) != `["admin"]` {
		t.Errorf("roles looked up for user_ada = %s", r)
	}
	if p, _ := json.Marshal(got["permissions"]); string(p) != `["documents:write","admin:act"]` {
		t.Errorf("permissions looked up for user_ada = %s", p)
	}
	// Host policy (admin: require_roles [admin]) lets the looked-up admin in.
	if names := toolNames(t, ada); !strings.Contains(names, "admin-action") {
		t.Errorf("admin tools hidden from a WorkOS admin: %s", names)
	}
	for range 5 {
		call(t, ada, "whoami", nil)
	}
	if n := api.membershipRequests.Load(); n != 1 {
		t.Errorf("%d membership lookups for one caller, want 1 (cached)", n)
	}

	// The token's own roles win: no lookup, no change.
	own := d.connect(t, d.token(t, "--sub", "user_ada", "--org", "org_demo_acme", "--roles", "member"))
	if r, _ := json.Marshal(call(t, own, "whoami", nil)["roles"]); string(r) != `["member"]` {
		t.Errorf("a token's own roles were replaced: %s", r)
	}

	bob := d.connect(t, d.token(t, "--sub", "user_bob", "--org", "org_demo_acme"))
	if r := call(t, bob, "whoami", nil)["roles"]; !empty(r) {
		t.Errorf("inactive membership got roles %v", r)
	}
	if names := toolNames(t, bob); strings.Contains(names, "admin-action") {
		t.Errorf("admin tools shown to an inactive member: %s", names)
	}
	res, err := bob.CallTool(context.Background(), &mcp.CallToolParams{Name: "admin-action", Arguments: map[string]any{"action": "x"}})
	if err == nil && !res.IsError {
		t.Errorf("an inactive member called admin-action: %+v", res)
	}

	// WorkOS down, nothing known about this caller: no roles (fail closed).
	api.down.Store(true)
	cy := d.connect(t, d.token(t, "--sub", "user_cy", "--org", "org_demo_acme"))
	if r := call(t, cy, "whoami", nil)["roles"]; !empty(r) {
		t.Errorf("with WorkOS down, an unknown caller got roles %v", r)
	}
	// ada is still known (within the TTL).
	if r, _ := json.Marshal(call(t, ada, "whoami", nil)["roles"]); string(r) != `["admin"]` {
		t.Errorf("cached roles lost while WorkOS is down: %s", r)
	}
}

// empty reports whether a decoded JSON value is null or [].
func empty(v any) bool {
	arr, isArr := v.([]any)
	return v == nil || (isArr && len(arr) == 0)
}
