// Package pluginrpc is the contract between the mcphost host and its plugins: the
// go-plugin handshake, the plugin set, the gRPC adapters, and the conversion of a
// verified caller to and from its wire form. Both sides import it; the wire format
// itself is proto/mcphost/plugin/v1.
package pluginrpc

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mcphost/mcphost/auth"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// ProtocolVersion is the plugin protocol version of proto/mcphost/plugin/v1.
const ProtocolVersion = 1

// CapabilityInputResponses is the DescribeResponse capability of a plugin that
// resumes a call from CallToolStart.input_responses (the 2026-07-28 MCP
// protocol's input-required round trips).
const CapabilityInputResponses = "input_responses"

// CapabilityCallChannel is the capability of a plugin that serves the Calls
// RPC: the host then sends all its tool calls over one stream.
const CapabilityCallChannel = "call_channel"

// PluginName is the key of the single plugin every mcphost plugin process serves.
const PluginName = "mcphost"

// Handshake makes sure that a binary started by the host is an mcphost plugin of a
// compatible protocol, and that a plugin run by hand says so instead of hanging.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "MCPHOST_PLUGIN",
	MagicCookieValue: "d3b07384d113edec49eaa6238ad5ff00-mcphost-plugin",
}

// GRPCPlugin adapts pluginv1.PluginServiceServer to go-plugin. Impl is set on the
// plugin side; the host side leaves it nil and gets a client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl pluginv1.PluginServiceServer
}

// GRPCServer registers the plugin's implementation.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServiceServer(s, p.Impl)
	return nil
}

// GRPCClient returns a pluginv1.PluginServiceClient.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginv1.NewPluginServiceClient(c), nil
}

// PluginSet is the go-plugin plugin map for a host or plugin.
func PluginSet(server pluginv1.PluginServiceServer) plugin.PluginSet {
	return plugin.PluginSet{PluginName: &GRPCPlugin{Impl: server}}
}

// CallerToProto converts a verified caller to its wire form. A nil caller becomes
// an empty message (no authentication).
func CallerToProto(c *auth.Caller) *pluginv1.Caller {
	if c == nil {
		return &pluginv1.Caller{}
	}
	claims := c.ClaimsJSON
	if claims == nil && len(c.Claims) > 0 {
		claims, _ = json.Marshal(c.Claims) // claims came from JSON, so they marshal
	}
	return &pluginv1.Caller{
		UserId:         c.UserID,
		Email:          c.Email,
		Name:           c.Name,
		Username:       c.Username,
		Picture:        c.Picture,
		Roles:          c.Roles,
		Permissions:    c.Permissions,
		Scopes:         c.Scopes,
		EmailVerified:  c.EmailVerified,
		OrganizationId: c.OrganizationID,
		SessionId:      c.SessionID,
		ClientId:       c.ClientID,
		ClaimsJson:     claims,
	}
}

// CallerFromProto converts the wire form back. It never returns nil.
func CallerFromProto(p *pluginv1.Caller) *auth.Caller {
	c := &auth.Caller{}
	if p == nil {
		return c
	}
	c.UserID = p.GetUserId()
	c.Email = p.GetEmail()
	c.Name = p.GetName()
	c.Username = p.GetUsername()
	c.Picture = p.GetPicture()
	c.Roles = p.GetRoles()
	c.Permissions = p.GetPermissions()
	c.Scopes = p.GetScopes()
	c.EmailVerified = p.GetEmailVerified()
	c.OrganizationID = p.GetOrganizationId()
	c.SessionID = p.GetSessionId()
	c.ClientID = p.GetClientId()
	if raw := p.GetClaimsJson(); len(raw) > 0 {
		c.ClaimsJSON = raw
		c.Claims = decodedClaims.get(raw)
	}
	return c
}

// decodedClaims remembers the decoded claims of recent tokens: a user's calls
// carry the same claims until the token changes, and decoding them on every
// call was a tenth of a trivial tool's CPU in the plugin. The maps are shared
// between calls, read-only like the host's (see auth/workos Verify).
var decodedClaims = claimsCache{m: map[string]map[string]any{}}

// maxCachedClaims bounds the cache; when full it starts over, which costs one
// decode per caller and needs no bookkeeping on the hot path.
const maxCachedClaims = 512

type claimsCache struct {
	mu sync.RWMutex
	m  map[string]map[string]any
}

func (cc *claimsCache) get(raw []byte) map[string]any {
	cc.mu.RLock()
	claims, ok := cc.m[string(raw)]
	cc.mu.RUnlock()
	if ok {
		return claims
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil // best effort: the typed fields are authoritative
	}
	cc.mu.Lock()
	if len(cc.m) >= maxCachedClaims {
		clear(cc.m)
	}
	cc.m[string(raw)] = claims
	cc.mu.Unlock()
	return claims
}
