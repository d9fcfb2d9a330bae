//go:build unix

package authflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/mcphost/mcphost/internal/e2etest"
	"github.com/mcphost/mcphost/mcpclient"
)

// TestDevLoginInChromium: a real headless Chromium opens the dev
// authorization server's login page, the test clicks a demo user the way a
// developer would, and the browser lands on the client's loopback
// redirect_uri with a code that the client exchanges for a token mcphost
// accepts. The login page is saved as a screenshot in the test's temp dir.
func TestDevLoginInChromium(t *testing.T) {
	_, _, repo := e2etest.Setup(t, "npm not found on PATH")
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found on PATH: make test installs the Debian package chromium when run as root (apt-get install chromium)")
	}
	e2etest.Run(t, clientTimeout, repo, "make", "build")
	port := e2etest.FreePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	dev := e2etest.Start(t, "mcphost", repo, nil, filepath.Join(repo, "bin", "mcphost"), "dev", "--config", filepath.Join(repo, "mcphost.yaml"), "--listen", strings.TrimPrefix(origin, "http://"))
	e2etest.WaitHTTP(t, dev, origin+"/readyz")

	// The client: a loopback redirect_uri that captures the code, registered
	// dynamically.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	redirect := "http://" + ln.Addr().String() + "/callback"
	codes := make(chan string, 1)
	cb := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		codes <- r.URL.Query().Get("code")
		_, _ = w.Write([]byte(`<p id="done">Signed in to the test client.</p>`))
	})}
	go cb.Serve(ln)
	t.Cleanup(func() { _ = cb.Close() })
	reg, _ := json.Marshal(map[string]any{"redirect_uris": []string{redirect}, "client_name": "Chromium e2e", "token_endpoint_auth_method": "none"})
	resp, err := http.Post(origin+"/oauth2/register", "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var client struct {
		ClientID string `json:"client_id"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&client)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || client.ClientID == "" {
		t.Fatalf("registration: HTTP %d", resp.StatusCode)
	}
	cfg := &oauth2.Config{ClientID: client.ClientID, RedirectURL: redirect, Scopes: []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: origin + "/oauth2/authorize", TokenURL: origin + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	verifier := oauth2.GenerateVerifier()
	resource := oauth2.SetAuthURLParam("resource", origin+"/mcp")
	authURL := cfg.AuthCodeURL("chromium-state", oauth2.S256ChallengeOption(verifier), resource)

	// The browser.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(900, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	// The first action starts the browser; it must not run under a timeout
	// (that would bound the browser's life), the later ones do.
	if err := chromedp.Do(bctx, chromedp.Navigate(authURL)); err != nil {
		t.Fatalf("Chromium opening the authorization URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	user := chromedp.CSS(`button[data-user="user_carol"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(user)); err != nil {
		t.Fatalf("the login page in Chromium shows no user_carol: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	screenshot := filepath.Join(t.TempDir(), "dev-login.png")
	if err := os.WriteFile(screenshot, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("login page %q, screenshot %s (%d bytes)", title, screenshot, len(shot))
	if !strings.Contains(title, "mcphost dev") || len(shot) < 1000 {
		t.Errorf("login page title %q, screenshot %d bytes", title, len(shot))
	}
	if err := chromedp.Do(ctx, chromedp.Click(user), chromedp.WaitVisible(chromedp.ID("done"))); err != nil {
		t.Fatalf("signing in as user_carol in Chromium: %v", err)
	}
	var code string
	select {
	case code = <-codes:
	case <-ctx.Done():
		t.Fatal("the browser never reached the redirect_uri")
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), resource)
	if err != nil {
		t.Fatalf("exchanging the code from the browser: %v", err)
	}
	mc := &mcpclient.Client{URL: origin + "/mcp", Token: tok.AccessToken, Name: "chromium-e2e", Version: "1"}
	defer mc.Close(context.Background())
	res, err := mc.CallTool(ctx, "whoami", nil)
	if err != nil {
		t.Fatalf("whoami with the browser-obtained token: %v", err)
	}
	var who struct {
		StructuredContent map[string]any `json:"structuredContent"`
	}
	_ = json.Unmarshal(res, &who)
	if who.StructuredContent["user_id"] != "user_carol" || who.StructuredContent["organization_id"] != "org_demo_acme" {
		t.Errorf("whoami = %s", res)
	}
}
