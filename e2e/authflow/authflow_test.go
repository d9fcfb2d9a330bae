//go:build unix

// Package authflow_test runs mcphost end to end against a real OAuth
// authorization server (oidc-provider, standing in for WorkOS AuthKit) with the
// official MCP TypeScript SDK as the client. See README.md.
package authflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/e2etest"
)

// The account as.mjs signs in (see account.mjs).
const (
	wantSub   = "user_e2e_01"
	wantEmail = "ada@e2e.example"
	wantName  = "Ada E2E"
	wantOrg   = "org_e2e"
)

// Generous bounds: these only decide when to give up, nothing asserts on time.
const clientTimeout = 3 * time.Minute

// oidc-provider is ESM-only and needs Node >= 20.19.
const minNode = "20.19"

func TestAuthFlowEndToEnd(t *testing.T) {
	npm, dir, repo := e2etest.Setup(t, "npm not found on PATH: this end-to-end test needs Node.js (>= 20.19) and npm to run oidc-provider and the MCP TypeScript SDK")

	e2etest.NPMInstall(t, npm, dir, "oidc-provider", "@modelcontextprotocol/sdk")
	node := e2etest.NodeBinary(t, npm, dir, "AUTHFLOW_NODE", minNode)

	bin := t.TempDir()
	e2etest.GoBuild(t, repo, filepath.Join(bin, "mcphost"), "./cmd/mcphost")
	e2etest.GoBuild(t, repo, filepath.Join(bin, "whoami"), "./plugins/whoami")

	asPort, mcpPort, otherPort := e2etest.FreePort(t), e2etest.FreePort(t), e2etest.FreePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", asPort)
	mcpOrigin := fmt.Sprintf("http://127.0.0.1:%d", mcpPort)
	mcpURL := mcpOrigin + "/mcp"
	otherResource := fmt.Sprintf("http://127.0.0.1:%d/mcp", otherPort) // another MCP server at the same AS

	// The AuthKit stand-in.
	as := e2etest.Start(t, "as", dir, []string{"AS_PORT=" + strconv.Itoa(asPort)}, node, "as.mjs")
	e2etest.WaitHTTP(t, as, issuer+"/oauth2/jwks")

	// mcphost, trusting it as its AuthKit domain.
	cfgDir := t.TempDir()
	cfgFile := filepath.Join(cfgDir, "mcphost.yaml")
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
data_dir: %q
log: {level: debug}
auth:
  provider: workos
  workos:
    subdomain: %q
    audiences: [%q]
plugins:
  whoami:
    path: %q
`, mcpPort, filepath.Join(cfgDir, "data"), issuer, mcpURL, filepath.Join(bin, "whoami"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mcphost := e2etest.Start(t, "mcphost", cfgDir, nil, filepath.Join(bin, "mcphost"), "--config", cfgFile)
	e2etest.WaitHTTP(t, mcphost, mcpOrigin+"/readyz")

	// The whole flow, driven by the TypeScript SDK.
	out := runClient(t, node, dir, mcpURL, otherResource)

	t.Run("discovery", func(t *testing.T) {
		reqs := out.Requests
		if len(reqs) == 0 {
			t.Fatal("client recorded no requests")
		}
		first := reqs[0]
		if first.Method != "POST" || first.URL != mcpURL || first.Status != 401 || first.Authorization != "" {
			t.Fatalf("first request = %s %s -> %d (auth %q), want unauthenticated POST %s -> 401", first.Method, first.URL, first.Status, first.Authorization, mcpURL)
		}
		prmURL := mcpOrigin + "/.well-known/oauth-protected-resource/mcp"
		if want := `resource_metadata="` + prmURL + `"`; !strings.Contains(first.WWWAuthenticate, want) {
			t.Errorf("401 WWW-Authenticate = %q, want it to contain %s", first.WWWAuthenticate, want)
		}
		iPRM := indexOf(reqs, "GET", prmURL, 200)
		iASM := indexOf(reqs, "GET", issuer+"/.well-known/oauth-authorization-server", 200)
		iReg := indexOf(reqs, "POST", issuer+"/oauth2/register", 201)
		iTok := indexOf(reqs, "POST", issuer+"/oauth2/token", 200)
		iOK := -1
		for i, r := range reqs {
			if r.Method == "POST" && r.URL == mcpURL && r.Status == 200 && r.Authorization == "Bearer" {
				iOK = i
				break
			}
		}
		for _, c := range []struct {
			name string
			i    int
		}{{"protected-resource metadata", iPRM}, {"authorization-server metadata", iASM}, {"registration", iReg}, {"token", iTok}, {"authorized MCP POST", iOK}} {
			if c.i < 0 {
				t.Errorf("no successful %s request; requests:\n%s", c.name, describe(reqs))
			}
		}
		if !(0 < iPRM && iPRM < iASM && iASM < iReg && iReg < iTok && iTok < iOK) {
			t.Errorf("flow out of order (401=0 prm=%d as=%d register=%d token=%d mcp=%d); requests:\n%s", iPRM, iASM, iReg, iTok, iOK, describe(reqs))
		}
		if iReg >= 0 {
			body := reqs[iReg].Body.JSON
			if got := body["token_endpoint_auth_method"]; got != "none" {
				t.Errorf("registration token_endpoint_auth_method = %v, want none (public client)", got)
			}
			if uris, _ := body["redirect_uris"].([]any); len(uris) != 1 || uris[0] != out.RedirectURI {
				t.Errorf("registration redirect_uris = %v, want [%s]", body["redirect_uris"], out.RedirectURI)
			}
		}
		if out.RegisteredClient.ClientID == "" {
			t.Error("registration returned no client_id")
		}
	})

	t.Run("metadata documents", func(t *testing.T) {
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
		}
		getJSON(t, mcpOrigin+"/.well-known/oauth-protected-resource/mcp", &prm)
		if prm.Resource != mcpURL || !slices.Equal(prm.AuthorizationServers, []string{issuer}) {
			t.Errorf("protected-resource metadata = %+v, want resource %s and authorization_servers [%s]", prm, mcpURL, issuer)
		}
		// mcphost passes the real issuer's metadata through on its own origin.
		var asm map[string]any
		getJSON(t, mcpOrigin+"/.well-known/oauth-authorization-server", &asm)
		for k, want := range map[string]string{
			"issuer":                 issuer,
			"authorization_endpoint": issuer + "/oauth2/authorize",
			"token_endpoint":         issuer + "/oauth2/token",
			"registration_endpoint":  issuer + "/oauth2/register",
			"jwks_uri":               issuer + "/oauth2/jwks",
		} {
			if asm[k] != want {
				t.Errorf("mcphost's authorization-server metadata %s = %v, want %s", k, asm[k], want)
			}
		}
	})

	t.Run("authorization", func(t *testing.T) {
		if len(out.AuthorizationRequests) != 1 {
			t.Fatalf("authorization requests = %d, want 1", len(out.AuthorizationRequests))
		}
		a := out.AuthorizationRequests[0]
		for k, want := range map[string]string{
			"response_type":         "code",
			"code_challenge_method": "S256",
			"resource":              mcpURL,
			"client_id":             out.RegisteredClient.ClientID,
			"redirect_uri":          out.RedirectURI,
		} {
			if a[k] != want {
				t.Errorf("authorization request %s = %q, want %q", k, a[k], want)
			}
		}
		if len(a["code_challenge"]) < 43 || a["state"] == "" {
			t.Errorf("authorization request lacks a PKCE challenge or state: %v", a)
		}
		// The browser signed in and consented through the AS's own pages.
		var forms [][]string
		for _, s := range out.Browser {
			if s.Form != nil {
				forms = append(forms, s.Form)
			}
		}
		if len(forms) != 2 || !slices.Contains(forms[0], "password") || !slices.Contains(forms[1], "decision") {
			t.Errorf("browser forms = %v, want a login form then a consent form", forms)
		}
		if last := out.Browser[len(out.Browser)-1]; last.URL != out.RedirectURI || last.Status != 200 {
			t.Errorf("browser ended at %s (%d), want the redirect_uri %s", last.URL, last.Status, out.RedirectURI)
		}
	})

	t.Run("token", func(t *testing.T) {
		i := indexOf(out.Requests, "POST", issuer+"/oauth2/token", 200)
		if i < 0 {
			t.Fatal("no token request")
		}
		form := out.Requests[i].Body.Form
		if form["grant_type"] != "authorization_code" || form["resource"] != mcpURL ||
			form["code_verifier"] == "" || form["code"] == "" || form["redirect_uri"] != out.RedirectURI {
			t.Errorf("token request form = %v, want authorization_code with code, code_verifier, redirect_uri and resource=%s", form, mcpURL)
		}
		h, c := out.AccessTokenJWT.Header, out.AccessTokenJWT.Claims
		if h["alg"] != "RS256" || h["kid"] == "" {
			t.Errorf("access token header = %v, want RS256 with a kid", h)
		}
		if c["iss"] != issuer || c["aud"] != mcpURL || c["sub"] != wantSub || c["org_id"] != wantOrg {
			t.Errorf("access token claims = %v, want iss %s, aud %s, sub %s, org_id %s", c, issuer, mcpURL, wantSub, wantOrg)
		}
	})

	t.Run("whoami", func(t *testing.T) {
		if !slices.Contains(out.Tools, "whoami") {
			t.Errorf("tools/list = %v, want whoami in it", out.Tools)
		}
		w := out.Whoami
		if w == nil {
			t.Fatalf("whoami returned no structured content; text: %s", out.WhoamiText)
		}
		if w.UserID != wantSub || w.OrganizationID != wantOrg || w.Email != wantEmail || w.Name != wantName {
			t.Errorf("whoami = %+v, want user_id %s, organization_id %s, email %s, name %s", *w, wantSub, wantOrg, wantEmail, wantName)
		}
		if !slices.Equal(w.Roles, []string{"admin"}) || !slices.Equal(w.Permissions, []string{"documents:write"}) {
			t.Errorf("whoami roles = %v, permissions = %v, want [admin], [documents:write]", w.Roles, w.Permissions)
		}
		for _, s := range []string{"openid", "profile", "email"} {
			if !slices.Contains(w.Scopes, s) {
				t.Errorf("whoami scopes = %v, want %s among them", w.Scopes, s)
			}
		}
		if !w.EmailVerified || w.SID == "" {
			t.Errorf("whoami email_verified = %v, sid = %q, want true and a session id", w.EmailVerified, w.SID)
		}
	})

	t.Run("other audience rejected", func(t *testing.T) {
		c := out.OtherAccessTokenJWT.Claims
		if c["aud"] != otherResource || c["iss"] != issuer || c["sub"] != wantSub {
			t.Fatalf("other token claims = %v, want aud %s from %s for %s", c, otherResource, issuer, wantSub)
		}
		i := indexOf(out.OtherRequests, "POST", issuer+"/oauth2/token", 200)
		if i < 0 || out.OtherRequests[i].Body.Form["resource"] != otherResource {
			t.Fatalf("other token was not requested with resource=%s: %s", otherResource, describe(out.OtherRequests))
		}
		// Control: the right token is accepted on a fresh request...
		if status, _ := initialize(t, mcpURL, out.AccessToken); status != http.StatusOK {
			t.Fatalf("initialize with the MCP token: status %d, want 200", status)
		}
		// ...and the same user's valid token for another resource is not.
		status, hdr := initialize(t, mcpURL, out.OtherAccessToken)
		if status != http.StatusUnauthorized {
			t.Fatalf("initialize with a token for %s: status %d, want 401", otherResource, status)
		}
		wa := hdr.Get("WWW-Authenticate")
		if !strings.Contains(wa, `error="invalid_token"`) || !strings.Contains(wa, `resource_metadata="`+mcpOrigin+`/.well-known/oauth-protected-resource/mcp"`) {
			t.Errorf("WWW-Authenticate = %q, want invalid_token with resource_metadata", wa)
		}
	})
}

// ---- client output ------------------------------------------------------------

type request struct {
	Method          string `json:"method"`
	URL             string `json:"url"`
	Status          int    `json:"status"`
	Authorization   string `json:"authorization"`
	WWWAuthenticate string `json:"www_authenticate"`
	Body            struct {
		Form map[string]string `json:"form"`
		JSON map[string]any    `json:"json"`
	} `json:"body"`
}

type browserStep struct {
	Method string   `json:"method"`
	URL    string   `json:"url"`
	Status int      `json:"status"`
	Form   []string `json:"form"`
}

type jwt struct {
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
}

type whoami struct {
	UserID         string   `json:"user_id"`
	Email          string   `json:"email"`
	Name           string   `json:"name"`
	Roles          []string `json:"roles"`
	Permissions    []string `json:"permissions"`
	Scopes         []string `json:"scopes"`
	OrganizationID string   `json:"organization_id"`
	SID            string   `json:"sid"`
	EmailVerified  bool     `json:"email_verified"`
}

type clientOutput struct {
	RedirectURI           string              `json:"redirect_uri"`
	Tools                 []string            `json:"tools"`
	Whoami                *whoami             `json:"whoami"`
	WhoamiText            string              `json:"whoami_text"`
	Requests              []request           `json:"requests"`
	Browser               []browserStep       `json:"browser"`
	AuthorizationRequests []map[string]string `json:"authorization_requests"`
	RegisteredClient      struct {
		ClientID string `json:"client_id"`
	} `json:"registered_client"`
	AccessToken         string        `json:"access_token"`
	AccessTokenJWT      jwt           `json:"access_token_jwt"`
	OtherRequests       []request     `json:"other_requests"`
	OtherBrowser        []browserStep `json:"other_browser"`
	OtherAccessToken    string        `json:"other_access_token"`
	OtherAccessTokenJWT jwt           `json:"other_access_token_jwt"`
}

func indexOf(reqs []request, method, u string, status int) int {
	for i, r := range reqs {
		if r.Method == method && r.URL == u && r.Status == status {
			return i
		}
	}
	return -1
}

func describe(reqs []request) string {
	var b strings.Builder
	for i, r := range reqs {
		fmt.Fprintf(&b, "  %2d %s %s -> %d\n", i, r.Method, r.URL, r.Status)
	}
	return b.String()
}

func runClient(t *testing.T, node, dir, mcpURL, otherResource string) *clientOutput {
	t.Helper()
	var out clientOutput
	runScript(t, node, dir, "client.mjs", []string{"MCP_URL=" + mcpURL, "OTHER_RESOURCE=" + otherResource}, &out)
	return &out
}

// runScript runs a Node client script with env added and decodes the one JSON
// object it prints into out.
func runScript(t *testing.T, node, dir, script string, env []string, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...),
		"CLIENT_TIMEOUT_MS="+strconv.Itoa(int((clientTimeout-10*time.Second).Milliseconds())))
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	lw := e2etest.NewLineLogger(t, strings.TrimSuffix(script, ".mjs"))
	defer lw.Close()
	cmd.Stderr = lw
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s failed: %v (its stderr is in the log above)", script, err)
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s output is not JSON: %v\n%s", script, err, stdout.String())
	}
	t.Logf("%s output:\n%s", script, stdout.String())
}

// initialize sends an MCP initialize request with token and returns the status.
func initialize(t *testing.T, mcpURL, token string) (int, http.Header) {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"authflow-go","version":"1"}}}`
	req, err := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", u, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, body)
	}
}
