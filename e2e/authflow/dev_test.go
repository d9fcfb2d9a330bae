//go:build unix

package authflow_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcphost/mcphost/internal/e2etest"
)

// devOutput is what devclient.mjs prints.
type devOutput struct {
	RedirectURI           string              `json:"redirect_uri"`
	Requests              []request           `json:"requests"`
	Browser               []browserStep       `json:"browser"`
	AuthorizationRequests []map[string]string `json:"authorization_requests"`
	Tools                 []string            `json:"tools"`
	Whoami                map[string]any      `json:"whoami"`
	RegisteredClient      struct {
		ClientID string `json:"client_id"`
	} `json:"registered_client"`
	AccessTokenJWT struct {
		Claims map[string]any `json:"claims"`
	} `json:"access_token_jwt"`
	RefreshedJWT struct {
		Claims map[string]any `json:"claims"`
	} `json:"refreshed_jwt"`
	RefreshRotated bool     `json:"refresh_rotated"`
	ReusedRefresh  string   `json:"reused_refresh"`
	Marker         string   `json:"marker"`
	TaskAdded      string   `json:"task_added"`
	TaskTitles     []string `json:"task_titles"`
	NoteAdded      string   `json:"note_added"`
	NoteCount      int      `json:"note_count"`
}

// TestDevAuthorizationServer: the TypeScript SDK's own OAuth client signs in
// to `mcphost dev` serving the shipped mcphost.yaml (what `make run` serves),
// with nothing set up beforehand: 401, discovery, registration, the login
// page (a demo user picked), token, whoami; the refresh token rotates.
func TestDevAuthorizationServer(t *testing.T) {
	npm, dir, repo := e2etest.Setup(t, "npm not found on PATH: this end-to-end test needs Node.js and npm to run the MCP TypeScript SDK")
	e2etest.NPMInstall(t, npm, dir, "@modelcontextprotocol/sdk")
	node := e2etest.NodeBinary(t, npm, dir, "AUTHFLOW_NODE", minNode)
	e2etest.Run(t, clientTimeout, repo, "make", "build") // the binaries mcphost.yaml names

	port := e2etest.FreePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	mcpURL := origin + "/mcp"
	dev := e2etest.Start(t, "mcphost", repo, nil, filepath.Join(repo, "bin", "mcphost"), "dev", "--config", filepath.Join(repo, "mcphost.yaml"), "--listen", strings.TrimPrefix(origin, "http://"))
	e2etest.WaitHTTP(t, dev, origin+"/readyz")

	var alice devOutput
	runScript(t, node, dir, "devclient.mjs", []string{"MCP_URL=" + mcpURL, "DEV_USER=user_alice"}, &alice)
	if alice.Whoami["user_id"] != "user_alice" || alice.Whoami["organization_id"] != "org_demo_acme" || alice.Whoami["email"] != "alice@example.com" {
		t.Errorf("whoami after signing in as user_alice = %v", alice.Whoami)
	}
	if !slices.Contains(alice.Tools, "admin-action") {
		t.Errorf("tools for the admin demo user = %v, want admin-action among them", alice.Tools)
	}
	reqs := alice.Requests
	iReg := indexOf(reqs, "POST", origin+"/oauth2/register", 201)
	iTok := indexOf(reqs, "POST", origin+"/oauth2/token", 200)
	if len(reqs) == 0 || reqs[0].Status != 401 || indexOf(reqs, "GET", origin+"/.well-known/oauth-authorization-server", 200) < 0 || iReg < 0 || iTok < iReg {
		t.Errorf("the flow did not go 401, metadata, register, token; requests:\n%s", describe(reqs))
	}
	if len(alice.AuthorizationRequests) != 1 || alice.AuthorizationRequests[0]["code_challenge_method"] != "S256" || alice.AuthorizationRequests[0]["resource"] != mcpURL {
		t.Errorf("authorization requests = %v", alice.AuthorizationRequests)
	}
	// The browser: the login page, the pick, back at the client with the code.
	if b := alice.Browser; len(b) != 3 || b[0].Status != 200 || b[1].Method != "POST" || b[1].Status != 303 || b[2].URL != alice.RedirectURI {
		t.Errorf("browser steps = %+v", alice.Browser)
	}
	c := alice.AccessTokenJWT.Claims
	if c["aud"] != mcpURL || c["iss"] != origin || c["client_id"] != alice.RegisteredClient.ClientID || c["sub"] != "user_alice" {
		t.Errorf("access token claims = %v (client %s)", c, alice.RegisteredClient.ClientID)
	}
	if !alice.RefreshRotated || alice.RefreshedJWT.Claims["sub"] != "user_alice" || alice.RefreshedJWT.Claims["sid"] != c["sid"] {
		t.Errorf("refresh: rotated %v, claims %v", alice.RefreshRotated, alice.RefreshedJWT.Claims)
	}
	if !strings.Contains(alice.ReusedRefresh, "invalid_grant") && !strings.Contains(alice.ReusedRefresh, "already used") {
		t.Errorf("a used refresh token was %q, want it refused", alice.ReusedRefresh)
	}

	// The shipped TypeScript (tasks-ts) and Python (notes-py) plugins answer
	// the TypeScript MCP client with the signed-in user's tenant.
	if alice.TaskAdded != alice.Marker || !slices.Contains(alice.TaskTitles, alice.Marker) || alice.NoteAdded != alice.Marker || alice.NoteCount != 1 {
		t.Errorf("tasks-ts and notes-py through the TypeScript client: task %q in %v, note %q (found %d)", alice.TaskAdded, alice.TaskTitles, alice.NoteAdded, alice.NoteCount)
	}

	// Another demo user, another tenant, no admin tools.
	var bob devOutput
	runScript(t, node, dir, "devclient.mjs", []string{"MCP_URL=" + mcpURL, "DEV_USER=user_bob"}, &bob)
	if bob.Whoami["user_id"] != "user_bob" || bob.Whoami["organization_id"] != "org_demo_globex" || slices.Contains(bob.Tools, "admin-action") {
		t.Errorf("as user_bob: whoami %v, tools %v", bob.Whoami, bob.Tools)
	}
	if slices.Contains(bob.TaskTitles, alice.Marker) || !slices.Contains(bob.TaskTitles, bob.Marker) {
		t.Errorf("user_bob (another organization) lists tasks %v; alice's is %q", bob.TaskTitles, alice.Marker)
	}
}
