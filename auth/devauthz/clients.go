package devauthz

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// client is a registered client, or one described by its Client ID Metadata
// Document.
type client struct {
	ID           string
	Secret       string // empty for public clients
	AuthMethod   string // none, client_secret_basic, client_secret_post
	RedirectURIs []string
	Name         string
	fetchedUntil time.Time // CIMD clients are fetched again after this
}

func (c *client) expired(now time.Time) bool {
	return !c.fetchedUntil.IsZero() && now.After(c.fetchedUntil)
}

// registration is the RFC 7591 request this server reads.
type registration struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	Scope                   string   `json:"scope"`
}

// register serves POST /oauth2/register (RFC 7591).
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var reg registration
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err := dec.Decode(&reg); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "the body is not a JSON client metadata object: "+err.Error())
		return
	}
	if err := checkRedirectURIs(reg.RedirectURIs); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", err.Error())
		return
	}
	method := reg.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic" // RFC 7591 §2's default
	}
	if method != "none" && method != "client_secret_basic" && method != "client_secret_post" {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf("token_endpoint_auth_method %q is not supported (none, client_secret_basic, client_secret_post)", method))
		return
	}
	for _, g := range reg.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			oauthError(w, http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf("grant_types: %q is not supported (authorization_code, refresh_token)", g))
			return
		}
	}
	for _, rt := range reg.ResponseTypes {
		if rt != "code" {
			oauthError(w, http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf("response_types: %q is not supported (code)", rt))
			return
		}
	}
	if reg.Scope != "" && !scopesOK(strings.Fields(reg.Scope)) {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "scope: supported scopes are "+strings.Join(SupportedScopes, " "))
		return
	}
	c := &client{ID: "dev_client_" + secret(12), AuthMethod: method, RedirectURIs: reg.RedirectURIs, Name: reg.ClientName}
	if method != "none" {
		c.Secret = secret(32)
	}
	now := s.cfg.Now()
	s.mu.Lock()
	evictLocked(s.clients, maxClients, now)
	s.clients[c.ID] = c
	s.mu.Unlock()
	grants := reg.GrantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code", "refresh_token"}
	}
	out := map[string]any{
		"client_id": c.ID, "client_id_issued_at": now.Unix(), "redirect_uris": c.RedirectURIs,
		"token_endpoint_auth_method": method, "grant_types": grants, "response_types": []string{"code"},
	}
	if c.Name != "" {
		out["client_name"] = c.Name
	}
	if c.Secret != "" {
		out["client_secret"], out["client_secret_expires_at"] = c.Secret, 0
	}
	s.cfg.Logger.InfoContext(r.Context(), "dev authorization server: client registered", "client_id", c.ID, "client_name", c.Name, "redirect_uris", c.RedirectURIs)
	writeJSON(w, http.StatusCreated, out)
}

// checkRedirectURIs accepts absolute URIs without fragments: https, http on
// loopback (native and CLI clients), or a private-use scheme (RFC 8252).
func checkRedirectURIs(uris []string) error {
	if len(uris) == 0 {
		return fmt.Errorf("redirect_uris is required")
	}
	if len(uris) > maxRedirectURIs {
		return fmt.Errorf("redirect_uris: at most %d", maxRedirectURIs)
	}
	for i, raw := range uris {
		u, err := url.Parse(raw)
		switch {
		case err != nil || !u.IsAbs():
			return fmt.Errorf("redirect_uris[%d] %q is not an absolute URI", i, raw)
		case u.Fragment != "" || strings.Contains(raw, "#"):
			return fmt.Errorf("redirect_uris[%d] %q must not have a fragment", i, raw)
		case u.Scheme == "http" && !isLoopback(u.Hostname()):
			return fmt.Errorf("redirect_uris[%d] %q: http only on loopback (127.0.0.1, [::1], localhost)", i, raw)
		case u.Scheme == "javascript" || u.Scheme == "data" || u.Scheme == "file":
			return fmt.Errorf("redirect_uris[%d] %q: scheme %s is not allowed", i, raw, u.Scheme)
		}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// lookupClient finds a registered client, or fetches the metadata document of
// a client whose id is an https URL (or, this being a dev server, a loopback
// http one).
func (s *Server) lookupClient(ctx context.Context, id string) (*client, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	c, ok := s.clients[id]
	s.mu.Unlock()
	if ok && !c.expired(now) {
		return c, nil
	}
	u, err := url.Parse(id)
	if err != nil || !(u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname()))) || u.Host == "" || u.Path == "" || u.Path == "/" {
		return nil, fmt.Errorf("unknown client_id %q: register it first (%s), or use the URL of a client metadata document", id, RegisterPath)
	}
	c, err = s.fetchMetadataDocument(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("client metadata document %s: %w", id, err)
	}
	c.fetchedUntil = now.Add(cimdTTL)
	s.mu.Lock()
	evictLocked(s.clients, maxClients, now)
	s.clients[id] = c
	s.mu.Unlock()
	return c, nil
}

func (s *Server) fetchMetadataDocument(ctx context.Context, id string) (*client, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var doc struct {
		ClientID                string   `json:"client_id"`
		ClientName              string   `json:"client_name"`
		RedirectURIs            []string `json:"redirect_uris"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBodyBytes)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not JSON client metadata: %w", err)
	}
	if doc.ClientID != id {
		return nil, fmt.Errorf("its client_id %q is not its own URL", doc.ClientID)
	}
	if err := checkRedirectURIs(doc.RedirectURIs); err != nil {
		return nil, err
	}
	if m := doc.TokenEndpointAuthMethod; m != "" && m != "none" {
		return nil, fmt.Errorf("token_endpoint_auth_method %q: a metadata-document client has no secret, use none", m)
	}
	return &client{ID: id, AuthMethod: "none", RedirectURIs: doc.RedirectURIs, Name: doc.ClientName}, nil
}

// authenticate checks the client credentials of a token request.
func (s *Server) authenticate(r *http.Request) (*client, string) {
	id, sec, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		sec, _ = url.QueryUnescape(sec)
	} else {
		id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id == "" {
		return nil, "client_id is required"
	}
	c, err := s.lookupClient(r.Context(), id)
	if err != nil {
		return nil, err.Error()
	}
	switch {
	case c.AuthMethod == "none" && sec == "":
		return c, ""
	case c.AuthMethod == "none":
		return nil, "this client is public (token_endpoint_auth_method none): send no secret"
	case c.AuthMethod == "client_secret_basic" && !basic, c.AuthMethod == "client_secret_post" && basic:
		return nil, "authenticate with " + c.AuthMethod + ", as registered"
	case subtle.ConstantTimeCompare([]byte(sec), []byte(c.Secret)) != 1:
		return nil, "wrong client_secret"
	}
	return c, ""
}

// allowsRedirect reports whether uri is one of the client's redirect URIs
// (exact match, as OAuth 2.1 requires).
func (c *client) allowsRedirect(uri string) bool { return slices.Contains(c.RedirectURIs, uri) }
