package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mcphost/mcphost/sdk"
)

func call(t *testing.T, caller *sdk.Caller, args string) *sdk.Result {
	t.Helper()
	res, err := Plugin.Invoke(context.Background(), "admin-action", caller, []byte(args))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAdminActions(t *testing.T) {
	admin := &sdk.Caller{UserID: "user_admin", Roles: []string{"member", "admin"}}

	res := call(t, admin, `{"action":"ping"}`)
	if res.IsError() {
		t.Fatalf("ping: %s", res.Text())
	}
	var got ActionResult
	if err := json.Unmarshal(res.StructuredContent(), &got); err != nil {
		t.Fatal(err)
	}
	if !got.OK || got.Action != "ping" || got.PerformedBy != "user_admin" {
		t.Errorf("ping = %+v", got)
	}

	before := got.DemoSecretVersion
	res = call(t, admin, `{"action":"rotate-demo-secret"}`)
	if err := json.Unmarshal(res.StructuredContent(), &got); err != nil {
		t.Fatalf("rotate: %s", res.Text())
	}
	if got.DemoSecretVersion != before+1 {
		t.Errorf("version after rotate = %d, want %d", got.DemoSecretVersion, before+1)
	}
}

func TestAdminRejectsBadInput(t *testing.T) {
	admin := &sdk.Caller{UserID: "user_admin", Roles: []string{"admin"}}
	for _, args := range []string{`{}`, `{"action":"drop-tables"}`, `{"action":"ping","extra":1}`, `{"action":7}`} {
		if res := call(t, admin, args); !res.IsError() {
			t.Errorf("%s: want a tool error, got %s", args, res.Text())
		}
	}
}

func TestNonAdminIsForbidden(t *testing.T) {
	before := demoSecretVersion.Load()
	for name, caller := range map[string]*sdk.Caller{
		"no roles":    {UserID: "user_1"},
		"other roles": {UserID: "user_1", Roles: []string{"member", "Admin", "admins"}},
		"permission":  {UserID: "user_1", Permissions: []string{"admin"}},
		"anonymous":   {},
	} {
		res := call(t, caller, `{"action":"rotate-demo-secret"}`)
		if !res.IsError() || res.Text() != "Forbidden: admin role required" {
			t.Errorf("%s: got error=%v %q", name, res.IsError(), res.Text())
		}
	}
	if v := demoSecretVersion.Load(); v != before {
		t.Errorf("a forbidden call rotated the secret (version %d -> %d)", before, v)
	}
}
