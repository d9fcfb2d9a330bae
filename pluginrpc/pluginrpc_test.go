package pluginrpc

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/mcphost/mcphost/auth"
)

// TestCallerRoundTrip: a caller reaches the plugin whole, claims included,
// whether the provider encoded the claims once (ClaimsJSON) or not.
func TestCallerRoundTrip(t *testing.T) {
	claims := map[string]any{"sub": "user_1", "org_id": "org_1", "custom": []any{"x", 1.0}}
	for name, c := range map[string]*auth.Caller{
		"claims only":     {UserID: "user_1", OrganizationID: "org_1", Roles: []string{"admin"}, Claims: claims},
		"with their JSON": {UserID: "user_1", OrganizationID: "org_1", Roles: []string{"admin"}, Claims: claims, ClaimsJSON: []byte(`{"sub":"user_1","org_id":"org_1","custom":["x",1]}`)},
	} {
		got := CallerFromProto(CallerToProto(c))
		if got.UserID != "user_1" || got.OrganizationID != "org_1" || !reflect.DeepEqual(got.Roles, []string{"admin"}) {
			t.Errorf("%s: typed fields lost: %+v", name, got)
		}
		if !reflect.DeepEqual(got.Claims, claims) {
			t.Errorf("%s: claims %v, want %v", name, got.Claims, claims)
		}
	}
	if got := CallerFromProto(CallerToProto(nil)); got == nil || got.UserID != "" || got.Claims != nil {
		t.Errorf("nil caller came back as %+v", got)
	}
}

// TestClaimsCache: the same claims decode once; different claims never share
// a map; bad JSON yields no claims; a full cache starts over.
func TestClaimsCache(t *testing.T) {
	cc := claimsCache{m: map[string]map[string]any{}}
	a1, a2 := cc.get([]byte(`{"sub":"a"}`)), cc.get([]byte(`{"sub":"a"}`))
	if reflect.ValueOf(a1).Pointer() != reflect.ValueOf(a2).Pointer() {
		t.Error("the same claims were decoded twice")
	}
	if b := cc.get([]byte(`{"sub":"b"}`)); b["sub"] != "b" || a1["sub"] != "a" {
		t.Errorf("claims mixed up: a=%v b=%v", a1, b)
	}
	if bad := cc.get([]byte(`{"sub":`)); bad != nil {
		t.Errorf("bad claims JSON decoded to %v", bad)
	}
	for i := range maxCachedClaims + 1 {
		cc.get(fmt.Appendf(nil, `{"sub":"u%d"}`, i))
	}
	if n := len(cc.m); n > maxCachedClaims {
		t.Errorf("cache holds %d entries, bound is %d", n, maxCachedClaims)
	}
}
