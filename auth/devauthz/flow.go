package devauthz

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mcphost/mcphost/auth/devissuer"
)

// authRequest is a validated authorization request waiting on the login page.
type authRequest struct {
	ClientID, ClientName, RedirectURI, State string
	Challenge, Resource                      string
	Scopes                                   []string
	until                                    time.Time
}

func (a *authRequest) expired(now time.Time) bool { return now.After(a.until) }

// grant is what a code or refresh token stands for.
type grant struct {
	ClientID, RedirectURI, Challenge, Resource string
	Scopes                                     []string
	User                                       User
	SessionID                                  string
	until                                      time.Time
}

func (g *grant) expired(now time.Time) bool { return now.After(g.until) }

// authorize serves GET /oauth2/authorize: it checks the request and shows the
// login page. Until client and redirect_uri are known good, errors are shown
// here, never sent to an unchecked redirect_uri (RFC 6749 §4.1.2.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("client_id")
	if id == "" {
		s.errorPage(w, http.StatusBadRequest, "client_id is missing")
		return
	}
	c, err := s.lookupClient(r.Context(), id)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, err.Error())
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" && len(c.RedirectURIs) == 1 {
		redirect = c.RedirectURIs[0]
	}
	if !c.allowsRedirect(redirect) {
		s.errorPage(w, http.StatusBadRequest, fmt.Sprintf("redirect_uri %q is not registered for this client (registered: %s)", redirect, strings.Join(c.RedirectURIs, ", ")))
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { s.redirectError(w, r, redirect, state, code, desc) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case q.Get("code_challenge") == "":
		fail("invalid_request", "code_challenge is required (PKCE with S256)")
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case !validChallenge(q.Get("code_challenge")):
		fail("invalid_request", "code_challenge must be 43 base64url characters (SHA-256)")
		return
	}
	resource, ok := s.resource(q["resource"])
	if !ok {
		fail("invalid_target", "resource must be this server's MCP URL ("+strings.Join(s.cfg.Audiences, ", ")+")")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	if !scopesOK(scopes) {
		fail("invalid_scope", "supported scopes are "+strings.Join(SupportedScopes, " "))
		return
	}
	now := s.cfg.Now()
	req := &authRequest{ClientID: c.ID, ClientName: c.Name, RedirectURI: redirect, State: state,
		Challenge: q.Get("code_challenge"), Resource: resource, Scopes: scopes, until: now.Add(pendingTTL)}
	rid := secret(24)
	s.mu.Lock()
	evictLocked(s.pending, maxPending, now)
	s.pending[rid] = req
	s.mu.Unlock()
	s.loginPage(w, rid, req)
}

// resource returns the audience a token will be issued for: the one asked for
// (RFC 8707, at most one here), which must be this server's, or the default.
func (s *Server) resource(asked []string) (string, bool) {
	switch len(asked) {
	case 0:
		return s.cfg.Audiences[0], true
	case 1:
		want := strings.TrimSuffix(asked[0], "/")
		for _, a := range s.cfg.Audiences {
			if strings.TrimSuffix(a, "/") == want {
				return a, true
			}
		}
	}
	return "", false
}

func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(c)
	return err == nil
}

// decide serves the login page's form: the developer picked a user, or denied.
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "unreadable form")
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	req, ok := s.pending[r.PostForm.Get("request")]
	delete(s.pending, r.PostForm.Get("request")) // one answer per page
	s.mu.Unlock()
	if !ok || req.expired(now) {
		s.errorPage(w, http.StatusBadRequest, "this sign-in page has expired or was already used: start again from the client")
		return
	}
	if r.PostForm.Get("deny") != "" {
		s.redirectError(w, r, req.RedirectURI, req.State, "access_denied", "the developer denied access")
		return
	}
	u, ok := s.user(r.PostForm.Get("user"))
	if !ok {
		s.errorPage(w, http.StatusBadRequest, "unknown user")
		return
	}
	code := secret(32)
	s.mu.Lock()
	evictLocked(s.codes, maxCodes, now)
	s.codes[code] = &grant{ClientID: req.ClientID, RedirectURI: req.RedirectURI, Challenge: req.Challenge, Resource: req.Resource,
		Scopes: req.Scopes, User: u, SessionID: "session_dev_" + secret(12), until: now.Add(codeTTL)}
	s.mu.Unlock()
	s.cfg.Logger.InfoContext(r.Context(), "dev authorization server: signed in", "user", u.ID, "client_id", req.ClientID)
	s.redirect(w, r, req.RedirectURI, url.Values{"code": {code}, "state": {req.State}})
}

// redirect sends the browser back to the client with params and iss (RFC 9207).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to string, params url.Values) {
	u, _ := url.Parse(to) // checked at registration
	q := u.Query()
	for k, v := range params {
		if len(v) > 0 && v[0] != "" {
			q[k] = v
		}
	}
	q.Set("iss", s.issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, to, state, code, desc string) {
	s.redirect(w, r, to, url.Values{"error": {code}, "error_description": {desc}, "state": {state}})
}

// token serves POST /oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	c, why := s.authenticate(r)
	if c == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="mcphost dev"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client", why)
		return
	}
	f := r.PostForm
	var g *grant
	switch f.Get("grant_type") {
	case "authorization_code":
		g = s.take(s.codes, f.Get("code"))
		switch {
		case g == nil:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the code is unknown, expired or already used")
			return
		case g.ClientID != c.ID:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client")
			return
		case f.Get("redirect_uri") != g.RedirectURI:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request's")
			return
		case !pkceOK(f.Get("code_verifier"), g.Challenge):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
			return
		}
	case "refresh_token":
		g = s.take(s.refresh, f.Get("refresh_token"))
		switch {
		case g == nil:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, expired or already used")
			return
		case g.ClientID != c.ID:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client")
			return
		}
		if sc := strings.Fields(f.Get("scope")); len(sc) > 0 {
			for _, x := range sc {
				if !slices.Contains(g.Scopes, x) {
					oauthError(w, http.StatusBadRequest, "invalid_scope", "a refresh may only narrow the scopes granted")
					return
				}
			}
			g.Scopes = sc
		}
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
		return
	}
	if asked := f["resource"]; len(asked) > 0 {
		res, ok := s.resource(asked)
		if !ok || res != g.Resource {
			oauthError(w, http.StatusBadRequest, "invalid_target", "resource must be the one authorized: "+g.Resource)
			return
		}
	}
	scopes := g.Scopes
	if len(scopes) == 0 {
		scopes = SupportedScopes
	}
	access, err := s.cfg.Issuer.Mint(devissuer.TokenRequest{
		Issuer: s.issuer, Subject: g.User.ID, Email: g.User.Email, Name: g.User.Name, Org: g.User.Org,
		Roles: g.User.Roles, Permissions: g.User.Permissions, Scopes: scopes,
		Audience: []string{g.Resource}, TTL: accessTTL, SessionID: g.SessionID, ClientID: c.ID,
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "minting the token failed")
		return
	}
	now := s.cfg.Now()
	next := *g
	next.RedirectURI, next.Challenge, next.until = "", "", now.Add(refreshTTL)
	rt := secret(32)
	s.mu.Lock()
	evictLocked(s.refresh, maxRefresh, now)
	s.refresh[rt] = &next
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": int(accessTTL.Seconds()),
		"refresh_token": rt, "scope": strings.Join(scopes, " "),
	})
}

// take removes and returns the live grant under key: codes and refresh tokens
// work once.
func (s *Server) take(m map[string]*grant, key string) *grant {
	if key == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := m[key]
	delete(m, key)
	if !ok || g.expired(s.cfg.Now()) {
		return nil
	}
	return g
}

// pkceOK checks an RFC 7636 S256 verifier against its challenge.
func pkceOK(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}
