//go:build unix

// Package inspector_test drives mcphost with the official MCP Inspector CLI
// (`@modelcontextprotocol/inspector --cli`): tools, a tool call with arguments
// and an Authorization header, a resource read and a prompt, all through a real
// third-party client. See README.md.
package inspector_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcphost/mcphost/internal/e2etest"
)

// The package under test and the Node it needs (its engines field).
const (
	inspectorPkg = "@modelcontextprotocol/inspector"
	minNode      = "22.19"
)

// Generous bounds: these only decide when to give up, nothing asserts on time.
const inspectorTimeout = 2 * time.Minute

// The seeded demo document the test reads back (plugins/documents/seed.go).
const (
	seedTitle = "Acme Q3 roadmap"
	seedBody  = "Ship the rocket-powered roller skates; retire the giant magnet."
	seedWord  = "roadmap"
)

func TestInspectorCLI(t *testing.T) {
	npm, dir, repo := e2etest.Setup(t, "npm not found on PATH: this end-to-end test needs Node.js and npm to run the MCP Inspector CLI")

	e2etest.NPMInstall(t, npm, dir, inspectorPkg)
	node := e2etest.NodeBinary(t, npm, dir, "INSPECTOR_NODE", minNode)
	launcher := inspectorLauncher(t, dir)

	bin := t.TempDir()
	for _, p := range []string{"cmd/mcphost", "plugins/whoami", "plugins/documents"} {
		e2etest.GoBuild(t, repo, filepath.Join(bin, filepath.Base(p)), "./"+p)
	}

	// mcphost dev on a free loopback port, with both plugins. The documents
	// plugin seeds demo documents (DOCUMENTS_SEED defaults to true), so
	// org_demo_acme has some.
	port := e2etest.FreePort(t)
	origin := fmt.Sprintf("http://127.0.0.1:%d", port)
	mcpURL := origin + "/mcp"
	cfgDir := t.TempDir()
	cfgFile := filepath.Join(cfgDir, "mcphost.yaml")
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
data_dir: %q
log: {level: debug}
plugins:
  whoami:
    path: %q
  documents:
    path: %q
    tools:
      delete-document: {require_roles: [admin]}
`, port, filepath.Join(cfgDir, "data"), filepath.Join(bin, "whoami"), filepath.Join(bin, "documents"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	mcphost := e2etest.Start(t, "mcphost", cfgDir, nil, filepath.Join(bin, "mcphost"), "dev", "--config", cfgFile)
	e2etest.WaitHTTP(t, mcphost, origin+"/readyz")

	mint := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "mcphost"), append([]string{"token", "--config", cfgFile}, args...)...).Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("mcphost token %v: %v\n%s", args, err, ee.Stderr)
			}
			t.Fatalf("mcphost token %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	token := mint("--sub", "inspector_user", "--org", "org_demo_acme", "--roles", "admin")

	insp := &inspector{node: node, launcher: launcher, dir: dir, home: t.TempDir(), url: mcpURL}
	auth := "Authorization: Bearer " + token

	t.Run("version", func(t *testing.T) {
		r := insp.run(t, "", "--version")
		if r.code != 0 || strings.TrimSpace(r.stdout) == "" {
			t.Fatalf("inspector --version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		t.Logf("inspector version %s under node %s", strings.TrimSpace(r.stdout), e2etest.NodeVersion(node))
	})

	t.Run("tools/list", func(t *testing.T) {
		var res struct {
			Tools []struct {
				Name        string         `json:"name"`
				InputSchema map[string]any `json:"inputSchema"`
			} `json:"tools"`
		}
		insp.ok(t, auth, &res, "--method", "tools/list")
		var names []string
		for _, tl := range res.Tools {
			names = append(names, tl.Name)
			if tl.InputSchema["type"] != "object" {
				t.Errorf("tool %s: inputSchema.type = %v, want object", tl.Name, tl.InputSchema["type"])
			}
		}
		slices.Sort(names)
		want := []string{"create-document", "delete-document", "get-document", "get-documents", "whoami"}
		if !slices.Equal(names, want) {
			t.Errorf("tools = %v, want %v (an admin of org_demo_acme; prompts are not tools)", names, want)
		}
	})

	t.Run("prompts/list and resources/templates/list", func(t *testing.T) {
		var prompts struct {
			Prompts []struct {
				Name      string `json:"name"`
				Arguments []struct {
					Name     string `json:"name"`
					Required bool   `json:"required"`
				} `json:"arguments"`
			} `json:"prompts"`
		}
		insp.ok(t, auth, &prompts, "--method", "prompts/list")
		if len(prompts.Prompts) != 1 || prompts.Prompts[0].Name != "summarize-document" ||
			len(prompts.Prompts[0].Arguments) != 1 || prompts.Prompts[0].Arguments[0].Name != "id" || !prompts.Prompts[0].Arguments[0].Required {
			t.Errorf("prompts/list = %+v, want summarize-document with one required argument id", prompts.Prompts)
		}
		var templates struct {
			ResourceTemplates []struct {
				URITemplate string `json:"uriTemplate"`
				MIMEType    string `json:"mimeType"`
			} `json:"resourceTemplates"`
		}
		insp.ok(t, auth, &templates, "--method", "resources/templates/list")
		if len(templates.ResourceTemplates) != 1 || templates.ResourceTemplates[0].URITemplate != "documents://{id}" || templates.ResourceTemplates[0].MIMEType != "text/markdown" {
			t.Errorf("resources/templates/list = %+v, want documents://{id} (text/markdown)", templates.ResourceTemplates)
		}
	})

	t.Run("tools/call whoami", func(t *testing.T) {
		var res toolResult
		insp.ok(t, auth, &res, "--method", "tools/call", "--tool-name", "whoami")
		var who struct {
			UserID         string   `json:"user_id"`
			OrganizationID string   `json:"organization_id"`
			Roles          []string `json:"roles"`
			SID            string   `json:"sid"`
		}
		res.decode(t, &who)
		if who.UserID != "inspector_user" || who.OrganizationID != "org_demo_acme" || !slices.Equal(who.Roles, []string{"admin"}) || who.SID == "" {
			t.Errorf("whoami = %+v, want user_id inspector_user, organization_id org_demo_acme, roles [admin], a sid", who)
		}
	})

	var docID string // the seeded document found by query, used below
	t.Run("tools/call get-documents", func(t *testing.T) {
		var res toolResult
		insp.ok(t, auth, &res, "--method", "tools/call", "--tool-name", "get-documents", "--tool-arg", "query="+seedWord)
		var page documentsPage
		res.decode(t, &page)
		if len(page.Documents) != 1 || page.Documents[0].Title != seedTitle || page.Documents[0].Excerpt != seedBody || !strings.HasPrefix(page.Documents[0].ID, "doc_") {
			t.Fatalf("get-documents query=%s = %+v, want only %q", seedWord, page.Documents, seedTitle)
		}
		docID = page.Documents[0].ID

		// A numeric argument: --tool-arg coerces limit=2 to the integer 2.
		res = toolResult{}
		insp.ok(t, auth, &res, "--method", "tools/call", "--tool-name", "get-documents", "--tool-arg", "limit=2")
		page = documentsPage{}
		res.decode(t, &page)
		if len(page.Documents) != 2 || page.NextCursor == "" {
			t.Fatalf("get-documents limit=2 = %+v, want 2 documents and a next_cursor", page)
		}
		for _, d := range page.Documents {
			if !strings.HasPrefix(d.Title, "Acme ") {
				t.Errorf("org_demo_acme sees %q", d.Title)
			}
		}
	})
	if docID == "" {
		t.Fatal("no document id from get-documents; cannot read it back")
	}
	uri := "documents://" + docID
	markdown := "# " + seedTitle + "\n\n" + seedBody

	t.Run("resources/read", func(t *testing.T) {
		var res struct {
			Contents []struct {
				URI      string `json:"uri"`
				MIMEType string `json:"mimeType"`
				Text     string `json:"text"`
			} `json:"contents"`
		}
		insp.ok(t, auth, &res, "--method", "resources/read", "--uri", uri)
		if len(res.Contents) != 1 {
			t.Fatalf("resources/read %s: %d contents, want 1: %+v", uri, len(res.Contents), res.Contents)
		}
		c := res.Contents[0]
		if c.URI != uri || c.MIMEType != "text/markdown" || c.Text != markdown {
			t.Errorf("resources/read %s = %+v, want text/markdown %q", uri, c, markdown)
		}
	})

	t.Run("prompts/get", func(t *testing.T) {
		var res struct {
			Description string `json:"description"`
			Messages    []struct {
				Role    string `json:"role"`
				Content struct {
					Type     string `json:"type"`
					Text     string `json:"text"`
					Resource struct {
						URI      string `json:"uri"`
						MIMEType string `json:"mimeType"`
						Text     string `json:"text"`
					} `json:"resource"`
				} `json:"content"`
			} `json:"messages"`
		}
		insp.ok(t, auth, &res, "--method", "prompts/get", "--prompt-name", "summarize-document", "--prompt-args", "id="+docID)
		if res.Description != "Summarize "+seedTitle {
			t.Errorf("description = %q", res.Description)
		}
		if len(res.Messages) != 2 {
			t.Fatalf("prompts/get: %d messages, want 2: %+v", len(res.Messages), res.Messages)
		}
		m0, m1 := res.Messages[0], res.Messages[1]
		if m0.Role != "user" || m0.Content.Type != "resource" || m0.Content.Resource.URI != uri ||
			m0.Content.Resource.MIMEType != "text/markdown" || m0.Content.Resource.Text != markdown {
			t.Errorf("message 0 = %+v, want the embedded resource %s", m0, uri)
		}
		if m1.Role != "user" || m1.Content.Type != "text" || !strings.Contains(m1.Content.Text, "Summarize the document above") {
			t.Errorf("message 1 = %+v, want the summary instruction", m1)
		}
	})

	t.Run("another tenant", func(t *testing.T) {
		// A member of another organization: delete-document is hidden by host
		// policy, and the acme document is neither readable nor leaked.
		globex := "Authorization: Bearer " + mint("--sub", "globex_user", "--org", "org_demo_globex", "--roles", "member")
		var tools struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		}
		insp.ok(t, globex, &tools, "--method", "tools/list")
		for _, tl := range tools.Tools {
			if tl.Name == "delete-document" {
				t.Errorf("a member sees delete-document")
			}
		}
		for _, args := range [][]string{
			{"--method", "resources/read", "--uri", uri},
			{"--method", "prompts/get", "--prompt-name", "summarize-document", "--prompt-args", "id=" + docID},
			{"--method", "tools/call", "--tool-name", "get-document", "--tool-arg", "id=" + docID},
		} {
			r := insp.run(t, globex, args...)
			if r.code == 0 || strings.Contains(r.stdout+r.stderr, seedBody) {
				t.Errorf("%v as org_demo_globex: exit %d, stdout %s, stderr %s; want a failure without the document", args[1], r.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("no Authorization header", func(t *testing.T) {
		// --stored-auth-only: never start an interactive OAuth login.
		r := insp.run(t, "", "--method", "tools/list")
		env := r.errorEnvelope(t)
		if r.code != 3 || env.Code != "auth_required" {
			t.Errorf("exit %d, error %+v; want exit 3 (AUTH_REQUIRED) with code auth_required", r.code, env)
		}
		// mcphost's 401 body, passed through by the inspector.
		if !strings.Contains(env.Message, `"error":"unauthorized"`) || !strings.Contains(env.Message, "bearer token required") {
			t.Errorf("error message %q does not carry mcphost's 401 body", env.Message)
		}
		if strings.TrimSpace(r.stdout) != "" {
			t.Errorf("stdout = %q, want nothing", r.stdout)
		}
	})

	t.Run("invalid token", func(t *testing.T) {
		r := insp.run(t, "Authorization: Bearer not-a-jwt", "--method", "tools/call", "--tool-name", "whoami")
		env := r.errorEnvelope(t)
		if r.code != 3 || env.Code != "auth_required" || !strings.Contains(env.Message, "invalid_token") {
			t.Errorf("exit %d, error %+v; want exit 3 with mcphost's invalid_token", r.code, env)
		}
	})
}

// ---- the inspector -----------------------------------------------------------

type inspector struct {
	node, launcher, dir, home, url string
}

type result struct {
	args           []string
	code           int
	stdout, stderr string
}

// run invokes `inspector --cli URL --transport http --format json
// --stored-auth-only ARGS… [--header HEADER]` and returns what it printed and
// its exit code. A header of "" sends none. --version is passed on its own.
func (in *inspector) run(t *testing.T, header string, args ...string) result {
	t.Helper()
	argv := []string{in.launcher, "--cli"}
	if !slices.Contains(args, "--version") {
		argv = append(argv, in.url, "--transport", "http", "--format", "json", "--stored-auth-only")
	}
	argv = append(argv, args...)
	if header != "" {
		argv = append(argv, "--header", header) // last: --header is variadic
	}
	ctx, cancel := context.WithTimeout(context.Background(), inspectorTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.node, argv...)
	cmd.Dir = in.dir
	cmd.Env = inspectorEnv(in.home)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("inspector %v: %v (ctx: %v)\nstdout: %s\nstderr: %s", args, err, ctx.Err(), r.stdout, r.stderr)
	}
	t.Logf("inspector %s -> exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, strings.TrimSpace(r.stdout), strings.TrimSpace(r.stderr))
	return r
}

// ok runs the inspector, requires exit 0, and decodes {"result": …} into v.
func (in *inspector) ok(t *testing.T, header string, v any, args ...string) {
	t.Helper()
	r := in.run(t, header, args...)
	if r.code != 0 {
		t.Fatalf("inspector %v: exit %d\nstderr: %s", args, r.code, r.stderr)
	}
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &env); err != nil || len(env.Result) == 0 {
		t.Fatalf("inspector %v: stdout is not {\"result\":…} (%v): %s", args, err, r.stdout)
	}
	if err := json.Unmarshal(env.Result, v); err != nil {
		t.Fatalf("inspector %v: result: %v: %s", args, err, env.Result)
	}
}

type errorEnvelope struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorEnvelope parses the {"error":{…}} line the inspector writes on stderr.
func (r result) errorEnvelope(t *testing.T) errorEnvelope {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var env struct {
			Error *errorEnvelope `json:"error"`
		}
		if json.Unmarshal(sc.Bytes(), &env) == nil && env.Error != nil {
			return *env.Error
		}
	}
	t.Fatalf("inspector %v: exit %d, no {\"error\":…} on stderr: %s", r.args, r.code, r.stderr)
	return errorEnvelope{}
}

// inspectorEnv is this process's environment with HOME (and the XDG
// directories) pointing at a scratch directory, so the inspector reads and
// writes no real catalog, OAuth state or client config.
func inspectorEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "NO_COLOR", strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "MCP_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"), "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "NO_COLOR=1")
}

// toolResult is a CallToolResult as the inspector prints it.
type toolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

// decode checks the result is a success whose text content and structured
// content carry the same JSON, and decodes it into v.
func (r toolResult) decode(t *testing.T, v any) {
	t.Helper()
	if r.IsError || len(r.Content) != 1 || r.Content[0].Type != "text" || len(r.StructuredContent) == 0 {
		t.Fatalf("tool result = %+v, want one text content and structuredContent", r)
	}
	var fromText, fromStructured any
	if err := json.Unmarshal([]byte(r.Content[0].Text), &fromText); err != nil {
		t.Fatalf("text content is not JSON: %v: %s", err, r.Content[0].Text)
	}
	_ = json.Unmarshal(r.StructuredContent, &fromStructured)
	a, _ := json.Marshal(fromText)
	b, _ := json.Marshal(fromStructured)
	if !bytes.Equal(a, b) {
		t.Errorf("text content %s differs from structuredContent %s", a, b)
	}
	if err := json.Unmarshal(r.StructuredContent, v); err != nil {
		t.Fatalf("structuredContent: %v: %s", err, r.StructuredContent)
	}
}

type documentsPage struct {
	Documents []struct {
		ID      string `json:"id"`
		Title   string `json:"title"`
		Excerpt string `json:"excerpt"`
	} `json:"documents"`
	NextCursor string `json:"next_cursor"`
}

// ---- setup --------------------------------------------------------------------

// inspectorLauncher returns the inspector's bin script, run with node directly
// (its #! line would pick whatever node is first on PATH).
func inspectorLauncher(t *testing.T, dir string) string {
	t.Helper()
	pkgDir := filepath.Join(dir, "node_modules", inspectorPkg)
	raw, err := os.ReadFile(filepath.Join(pkgDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Version string            `json:"version"`
		Bin     map[string]string `json:"bin"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatal(err)
	}
	bin := pkg.Bin["mcp-inspector"]
	if bin == "" {
		t.Fatalf("%s %s has no mcp-inspector bin", inspectorPkg, pkg.Version)
	}
	return filepath.Join(pkgDir, bin)
}
