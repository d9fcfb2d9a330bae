package pluginrpc

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/protobuf/proto"

	"github.com/mcphost/mcphost/auth"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
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

// notOnTheWire are the Caller fields a plugin does not get, and why.
var notOnTheWire = map[string]string{
	"ExpiresAt": "the host enforces expiry; a plugin has no use for it",
	"Claims":    "sent as ClaimsJSON and decoded again on the plugin's side",
}

// TestEveryCallerFieldCrosses fills every field of a Caller, sends it through
// the wire form (marshalled, as gRPC would), and checks each arrives. A
// field added to auth.Caller or to the proto message but not to the
// conversions fails here.
func TestEveryCallerFieldCrosses(t *testing.T) {
	c := &auth.Caller{}
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + "-value")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Slice:
			if f.Type().Elem().Kind() == reflect.Uint8 { // ClaimsJSON
				continue
			}
			f.Set(reflect.ValueOf([]string{name + "-1", name + "-2"}))
		case reflect.Map, reflect.Struct: // Claims, ExpiresAt
		default:
			t.Fatalf("Caller.%s has kind %s: teach this test to fill it", name, f.Kind())
		}
	}
	c.Claims = map[string]any{"sub": "UserID-value", "custom": "x"}
	c.ExpiresAt = time.Unix(1900000000, 0)

	pc := CallerToProto(c)
	// Every field of the wire message is set.
	fields := pc.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		if fd := fields.Get(i); !pc.ProtoReflect().Has(fd) {
			t.Errorf("wire field %s is not set by CallerToProto", fd.Name())
		}
	}
	raw, err := proto.Marshal(pc)
	if err != nil {
		t.Fatal(err)
	}
	var back pluginv1.Caller
	if err := proto.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	got := CallerFromProto(&back)

	gv := reflect.ValueOf(got).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		if _, skip := notOnTheWire[name]; skip || name == "ClaimsJSON" {
			continue
		}
		if want, have := v.Field(i).Interface(), gv.Field(i).Interface(); !reflect.DeepEqual(want, have) {
			t.Errorf("Caller.%s: sent %v, got %v", name, want, have)
		}
	}
	if !reflect.DeepEqual(got.Claims, c.Claims) {
		t.Errorf("claims: sent %v, got %v", c.Claims, got.Claims)
	}
	if !got.ExpiresAt.IsZero() {
		t.Errorf("ExpiresAt crossed the wire: %v", got.ExpiresAt)
	}
}

func TestCallerToProtoClaims(t *testing.T) {
	// Claims encoded at verification are sent as they are, not re-encoded.
	verbatim := []byte(`{"sub": "u1",  "org_id": "o1"}`)
	if got := CallerToProto(&auth.Caller{Claims: map[string]any{"sub": "other"}, ClaimsJSON: verbatim}).GetClaimsJson(); string(got) != string(verbatim) {
		t.Errorf("claims JSON %s, want the verifier's %s", got, verbatim)
	}
	if got := CallerToProto(&auth.Caller{UserID: "u1"}).GetClaimsJson(); got != nil {
		t.Errorf("a caller without claims sent %s", got)
	}
	if got := CallerFromProto(&pluginv1.Caller{UserId: "u1"}); got.Claims != nil || got.ClaimsJSON != nil {
		t.Errorf("claims from nowhere: %+v", got)
	}
	if got := CallerFromProto(nil); got == nil || !reflect.DeepEqual(*got, auth.Caller{}) {
		t.Errorf("CallerFromProto(nil) = %+v, want an empty caller", got)
	}
}

type describer struct {
	pluginv1.UnimplementedPluginServiceServer
}

func (describer) Describe(_ context.Context, in *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	return &pluginv1.DescribeResponse{Name: "d", ProtocolVersion: in.GetHostProtocolVersion()}, nil
}

// TestPluginSetServesOverGRPC: what a plugin registers with PluginSet is what
// the host's side of the same set dispenses, over a real gRPC connection.
func TestPluginSetServesOverGRPC(t *testing.T) {
	client, _ := plugin.TestPluginGRPCConn(t, false, PluginSet(describer{}))
	defer client.Close() // which stops the server too
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	rpc, ok := raw.(pluginv1.PluginServiceClient)
	if !ok {
		t.Fatalf("dispensed %T, want a pluginv1.PluginServiceClient", raw)
	}
	d, err := rpc.Describe(context.Background(), &pluginv1.DescribeRequest{HostProtocolVersion: ProtocolVersion})
	if err != nil || d.GetName() != "d" || d.GetProtocolVersion() != ProtocolVersion {
		t.Fatalf("Describe = %v, %v", d, err)
	}
	// The handshake is what both sides agree on; its cookie must never change
	// within a protocol version, or released plugins stop starting.
	if Handshake.ProtocolVersion != ProtocolVersion || Handshake.MagicCookieKey != "MCPHOST_PLUGIN" {
		t.Errorf("handshake %+v", Handshake)
	}
}
