package devauthz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcphost/mcphost/auth"
	"github.com/mcphost/mcphost/auth/devauthz"
	"github.com/mcphost/mcphost/auth/devissuer"
	"github.com/mcphost/mcphost/auth/workos"
)

// env is a dev authorization server on loopback, and the verifier the host
// would run against it.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	issuer   string
	aud      string
	verifier *workos.Provider
	clock    *clock
	browser  *http.Client // follows no redirects: the test reads each one
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	iss, err := devissuer.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clock: &clock{t: time.Now()}}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.issuer, e.aud = e.srv.URL, e.srv.URL+"/mcp"
	authz, err := devauthz.New(devauthz.Config{Issuer: iss, IssuerURL: e.issuer, Audiences: []string{e.aud}, Now: e.clock.now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	iss.Routes(mux, "")
	authz.Routes(mux)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(authz.Metadata())
	})
	e.verifier, err = workos.New(context.Background(), workos.Config{Domain: e.issuer, VerifyJWT: true, Audiences: []string{e.aud},
		PublicURL: auth.PublicURL{Listen: "127.0.0.1:1"}, StaticMetadata: authz.Metadata(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.verifier.Close() })
	e.browser = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// register is RFC 7591 dynamic registration; it returns the response.
func (e *env) register(body map[string]any) (int, map[string]any) {
	raw, _ := json.Marshal(body)
	resp, err := http.Post(e.issuer+devauthz.RegisterPath, "application/json", bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (e *env) publicClient(redirect string) string {
	code, out := e.register(map[string]any{"redirect_uris": []string{redirect}, "client_name": "Test Client", "token_endpoint_auth_method": "none"})
	if code != http.StatusCreated {
		e.t.Fatalf("register: %d %v", code, out)
	}
	return out["client_id"].(string)
}

func (e *env) oauth(clientID, secret, redirect string) *oauth2.Config {
	style := oauth2.AuthStyleInParams
	if secret != "" {
		style = oauth2.AuthStyleInHeader
	}
	return &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + devauthz.AuthorizePath, TokenURL: e.issuer + devauthz.TokenPath, AuthStyle: style}}
}

var requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)

// login opens the authorization URL like a browser, picks user on the login
// page and returns where the server sent the browser next.
func (e *env) login(authURL, user string) *url.URL {
	e.t.Helper()
	resp, err := e.browser.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("authorize: HTTP %d: %s", resp.StatusCode, page)
	}
	m := requestField.FindSubmatch(page)
	if m == nil || (user != "" && !bytes.Contains(page, []byte(`value="`+user+`"`))) {
		e.t.Fatalf("login page without a request id or user %s:\n%s", user, page)
	}
	form := url.Values{"request": {string(m[1])}}
	if user == "" {
		form.Set("deny", "1")
	} else {
		form.Set("user", user)
	}
	resp, err = e.browser.PostForm(e.issuer+devauthz.AuthorizePath, form)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login form: HTTP %d, want a redirect", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	return loc
}

// TestAuthorizationCodeFlow: a public client registers, signs in as a demo
// user with PKCE S256 and a resource, and gets a token the host's verifier
// accepts, carrying the user's claims and the resource as its audience; the
// refresh token rotates.
func TestAuthorizationCodeFlow(t *testing.T) {
	e := newEnv(t)
	redirect := "http://127.0.0.1:33333/callback"
	id := e.publicClient(redirect)
	cfg := e.oauth(id, "", redirect)
	verifier := oauth2.GenerateVerifier()
	resource := oauth2.SetAuthURLParam("resource", e.aud)
	loc := e.login(cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), resource), "user_alice")
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirect || q.Get("state") != "st-1" || q.Get("iss") != e.issuer || q.Get("code") == "" {
		t.Fatalf("redirect = %s, want %s with code, state and iss (RFC 9207)", loc, redirect)
	}
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier), resource)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.TokenType != "Bearer" || tok.Expiry.IsZero() {
		t.Errorf("token response: %+v", tok)
	}
	c, err := e.verifier.Verify(context.Background(), tok.AccessToken)
	if err != nil {
		t.Fatalf("the host's verifier refuses the token: %v", err)
	}
	if c.UserID != "user_alice" || c.OrganizationID != "org_demo_acme" || !c.HasRole("admin") || !c.HasPermission("documents:write") ||
		c.Email != "alice@example.com" || c.ClientID != id || !slices.Equal(c.Scopes, []string{"openid", "email"}) || c.Claims["aud"] != e.aud {
		t.Errorf("caller = %+v", c)
	}

	// The code works once.
	if _, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second use of the code: %v, want invalid_grant", err)
	}

	// Refresh: a new pair, the old refresh token dead, the same session.
	refreshed := postToken(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}})
	if refreshed["access_token"] == nil || refreshed["refresh_token"] == tok.RefreshToken {
		t.Fatalf("refresh: %v", refreshed)
	}
	c2, err := e.verifier.Verify(context.Background(), refreshed["access_token"].(string))
	if err != nil || c2.UserID != "user_alice" || c2.SessionID != c.SessionID {
		t.Errorf("refreshed token: %+v, %v", c2, err)
	}
	if again := postToken(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {id}}); again["error"] != "invalid_grant" {
		t.Errorf("reused refresh token: %v, want invalid_grant", again)
	}
}

func postToken(t *testing.T, e *env, form url.Values) map[string]any {
	t.Helper()
	resp, err := http.PostForm(e.issuer+devauthz.TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response without Cache-Control: no-store")
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	if e, ok := err.(*oauth2.RetrieveError); ok {
		re = e
	}
	return re != nil && re.ErrorCode == code
}

// TestAuthorizeRefusals: errors before the client and redirect_uri are known
// good are shown on the page, never redirected; after, they go back to the
// client with iss.
func TestAuthorizeRefusals(t *testing.T) {
	e := newEnv(t)
	redirect := "http://localhost:4444/cb"
	id := e.publicClient(redirect)
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	base := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	for _, c := range []struct {
		name  string
		query url.Values
		want  string
	}{
		{"unknown client", with("client_id", "nobody"), "unknown client_id"},
		{"unregistered redirect_uri", with("redirect_uri", "http://localhost:4444/evil"), "is not registered for this client"},
		{"no client_id", with("client_id", ""), "client_id is missing"},
	} {
		resp, err := e.browser.Get(e.issuer + devauthz.AuthorizePath + "?" + c.query.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: HTTP %d, Location %q, body %s", c.name, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	for _, c := range []struct {
		name  string
		query url.Values
		error string
	}{
		{"no PKCE", with("code_challenge", ""), "invalid_request"},
		{"plain PKCE", with("code_challenge_method", "plain"), "invalid_request"},
		{"implicit flow", with("response_type", "token"), "unsupported_response_type"},
		{"another resource", with("resource", "http://127.0.0.1:9/mcp"), "invalid_target"},
		{"unknown scope", with("scope", "openid admin:all"), "invalid_scope"},
	} {
		resp, err := e.browser.Get(e.issuer + devauthz.AuthorizePath + "?" + c.query.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") ||
			loc.Query().Get("error") != c.error || loc.Query().Get("state") != "s" || loc.Query().Get("iss") != e.issuer {
			t.Errorf("%s: HTTP %d, Location %q, want %s back to the client", c.name, resp.StatusCode, resp.Header.Get("Location"), c.error)
		}
	}
	// Denied on the login page.
	loc := e.login(e.issuer+devauthz.AuthorizePath+"?"+base.Encode(), "")
	if loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
		t.Errorf("deny: %s", loc)
	}
}

// TestTokenRefusals: wrong verifier, another client's code, an expired code,
// another resource.
func TestTokenRefusals(t *testing.T) {
	e := newEnv(t)
	redirect := "http://127.0.0.1:5555/cb"
	id, other := e.publicClient(redirect), e.publicClient(redirect)
	cfg := e.oauth(id, "", redirect)
	code := func() (string, string) {
		v := oauth2.GenerateVerifier()
		loc := e.login(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "user_bob")
		return loc.Query().Get("code"), v
	}
	c, v := code()
	if out := postToken(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "client_id": {id}, "code_verifier": {oauth2.GenerateVerifier()}}); out["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %v", out)
	}
	c, v = code()
	if out := postToken(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "client_id": {other}, "code_verifier": {v}}); out["error"] != "invalid_grant" {
		t.Errorf("another client's code: %v", out)
	}
	c, v = code()
	if out := postToken(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "client_id": {id}, "code_verifier": {v}, "resource": {"http://127.0.0.1:9/mcp"}}); out["error"] != "invalid_target" {
		t.Errorf("another resource: %v", out)
	}
	c, v = code()
	e.clock.add(2 * time.Minute)
	if out := postToken(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "client_id": {id}, "code_verifier": {v}}); out["error"] != "invalid_grant" {
		t.Errorf("expired code: %v", out)
	}
	if out := postToken(t, e, url.Values{"grant_type": {"password"}, "client_id": {id}}); out["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: %v", out)
	}
	if out := postToken(t, e, url.Values{"grant_type": {"authorization_code"}, "client_id": {"nobody"}}); out["error"] != "invalid_client" {
		t.Errorf("unknown client: %v", out)
	}
	// Without a resource the token is for the default audience, the MCP URL.
	c, v = code()
	out := postToken(t, e, url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}, "client_id": {id}, "code_verifier": {v}})
	if caller, err := e.verifier.Verify(context.Background(), out["access_token"].(string)); err != nil || caller.UserID != "user_bob" || caller.OrganizationID != "org_demo_globex" {
		t.Errorf("token without a resource: %v, %v", caller, err)
	}
}

// TestConfidentialClient: a client registered without
// token_endpoint_auth_method gets a secret (RFC 7591's default,
// client_secret_basic) and must present it.
func TestConfidentialClient(t *testing.T) {
	e := newEnv(t)
	redirect := "https://app.example.com/cb"
	code, reg := e.register(map[string]any{"redirect_uris": []string{redirect}})
	if code != http.StatusCreated || reg["client_secret"] == nil || reg["token_endpoint_auth_method"] != "client_secret_basic" {
		t.Fatalf("register: %d %v", code, reg)
	}
	id, sec := reg["client_id"].(string), reg["client_secret"].(string)
	cfg := e.oauth(id, sec, redirect)
	v := oauth2.GenerateVerifier()
	loc := e.login(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "user_carol")
	if _, err := e.oauth(id, "wrong", redirect).Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v)); !isOAuthError(err, "invalid_client") {
		t.Errorf("wrong secret: %v", err)
	}
	loc = e.login(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "user_carol")
	if _, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
		t.Errorf("right secret: %v", err)
	}
}

// TestClientIDMetadataDocument: a client whose id is the URL of its metadata
// document needs no registration; a document naming another id is refused.
func TestClientIDMetadataDocument(t *testing.T) {
	e := newEnv(t)
	redirect := "http://127.0.0.1:6666/cb"
	var docURL, lie string
	docs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := docURL
		if r.URL.Path == "/liar.json" {
			id = "https://someone-else.example/client.json"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"client_id": id, "client_name": "CIMD Client", "redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none"})
	}))
	t.Cleanup(docs.Close)
	docURL, lie = docs.URL+"/client.json", docs.URL+"/liar.json"
	cfg := e.oauth(docURL, "", redirect)
	v := oauth2.GenerateVerifier()
	loc := e.login(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), "user_alice")
	tok, err := cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatalf("exchange as a metadata-document client: %v", err)
	}
	if c, err := e.verifier.Verify(context.Background(), tok.AccessToken); err != nil || c.ClientID != docURL {
		t.Errorf("token: %+v, %v", c, err)
	}
	resp, err := e.browser.Get(e.oauth(lie, "", redirect).AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "is not its own URL") {
		t.Errorf("a document naming another client_id: HTTP %d %s", resp.StatusCode, body)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{}, "redirect_uris is required"},
		{map[string]any{"redirect_uris": []string{"http://evil.example/cb"}}, "http only on loopback"},
		{map[string]any{"redirect_uris": []string{"https://a.example/cb#x"}}, "fragment"},
		{map[string]any{"redirect_uris": []string{"javascript:alert(1)"}}, "not allowed"},
		{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "grant_types": []string{"implicit"}}, "grant_types"},
		{map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "token_endpoint_auth_method": "private_key_jwt"}, "not supported"},
	} {
		code, out := e.register(c.body)
		if code != http.StatusBadRequest || !strings.Contains(out["error_description"].(string), c.want) {
			t.Errorf("register %v: %d %v, want %q", c.body, code, out, c.want)
		}
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	var m map[string]any
	resp, err := http.Get(e.issuer + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	for k, want := range map[string]any{
		"issuer": e.issuer, "authorization_endpoint": e.issuer + "/oauth2/authorize", "token_endpoint": e.issuer + "/oauth2/token",
		"registration_endpoint": e.issuer + "/oauth2/register", "jwks_uri": e.issuer + "/oauth2/jwks",
		"authorization_response_iss_parameter_supported": true, "client_id_metadata_document_supported": true,
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if methods, _ := m["code_challenge_methods_supported"].([]any); len(methods) != 1 || methods[0] != "S256" {
		t.Errorf("code_challenge_methods_supported = %v, want only S256", m["code_challenge_methods_supported"])
	}
}
