package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcphost/mcphost/sdk"
)

var (
	alice  = &sdk.Caller{UserID: "user_alice", OrganizationID: "org_a", Roles: []string{"admin"}}
	bob    = &sdk.Caller{UserID: "user_bob", OrganizationID: "org_b", Roles: []string{"admin"}}
	writer = &sdk.Caller{UserID: "user_wendy", OrganizationID: "org_a", Permissions: []string{"documents:write"}}
	reader = &sdk.Caller{UserID: "user_rita", OrganizationID: "org_a", Roles: []string{"member"}}
)

func newTestStore(t *testing.T) *sqliteStore {
	t.Helper()
	s, _, err := openSQLite(context.Background(), filepath.Join(t.TempDir(), "documents.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func call(t *testing.T, p sdk.Plugin, tool string, caller *sdk.Caller, args string) *sdk.Result {
	t.Helper()
	res, err := p.Invoke(context.Background(), tool, caller, []byte(args))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ok decodes a successful result's structured content.
func ok[T any](t *testing.T, res *sdk.Result) T {
	t.Helper()
	var v T
	if res.IsError() {
		t.Fatalf("unexpected tool error: %s", res.Text())
	}
	if err := json.Unmarshal(res.StructuredContent(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func wantError(t *testing.T, res *sdk.Result, want string) {
	t.Helper()
	if !res.IsError() || !strings.Contains(res.Text(), want) {
		t.Errorf("got error=%v %q, want a tool error containing %q", res.IsError(), res.Text(), want)
	}
}

func args(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// tricky titles exercise LIKE wildcards, the escape character and SQL quoting.
var trickyTitles = []string{"Plan 50% off", "Plan 500 off", "a_c file", "abc file", `back\slash`, "it's ' OR 1=1 --", "shared title"}

// fill creates docs titled titles in org and returns their ids.
func fill(t *testing.T, s Store, org string, titles ...string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, title := range titles {
		d, err := s.Create(context.Background(), org, Document{Title: title, Body: "body of " + title, CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids[d.ID] = true
	}
	return ids
}

// listAll pages through get-documents from cursor and returns every id seen, in order.
func listAll(t *testing.T, p sdk.Plugin, caller *sdk.Caller, query, cursor string, limit int) []string {
	t.Helper()
	var ids []string
	for range 100 {
		page := ok[ListOutput](t, call(t, p, "get-documents", caller, args(map[string]any{"query": query, "cursor": cursor, "limit": limit})))
		for _, d := range page.Documents {
			ids = append(ids, d.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		cursor = page.NextCursor
	}
	t.Fatal("paging did not end")
	return nil
}

func testTenantIsolation(t *testing.T, s Store) {
	p := newPlugin(s)
	aIDs := fill(t, s, "org_a", trickyTitles...)
	bIDs := fill(t, s, "org_b", append(trickyTitles, "B only secret")...)

	// Cursors a client might forge: positions of the other tenant's rows, and extremes.
	cursors := []string{"", encodeCursor(Position{CreatedAt: time.Now().Add(time.Hour), ID: "zzz"}), encodeCursor(Position{CreatedAt: time.Unix(0, 1<<62), ID: "~"})}
	for id := range bIDs {
		d, _ := s.Get(context.Background(), "org_b", id)
		cursors = append(cursors, encodeCursor(Position{CreatedAt: d.CreatedAt, ID: d.ID}), encodeCursor(Position{CreatedAt: d.CreatedAt.Add(time.Nanosecond), ID: d.ID}))
	}
	queries := []string{"", "' OR 1=1 --", "' OR '1'='1", "%", "_", `\`, "%%", "' OR org_id = 'org_b' --", "org_b", "B only secret", "*", ";DROP TABLE documents;--"}
	for _, q := range queries {
		for _, c := range cursors {
			for _, limit := range []int{1, 3, 100} {
				for _, id := range listAll(t, p, alice, q, c, limit) {
					if !aIDs[id] {
						t.Fatalf("query %q cursor %q limit %d: alice saw %s, not hers", q, c, limit, id)
					}
				}
			}
		}
	}
	if got := listAll(t, p, alice, "", "", 100); len(got) != len(aIDs) {
		t.Errorf("alice lists %d documents, has %d", len(got), len(aIDs))
	}

	// Another tenant's document answers exactly like a missing one, for get and delete.
	missing := call(t, p, "get-document", alice, `{"id":"doc_00000000000000000000000000000000"}`)
	wantError(t, missing, "document not found")
	for id := range bIDs {
		for _, tool := range []string{"get-document", "delete-document"} {
			res := call(t, p, tool, alice, args(map[string]any{"id": id}))
			if !res.IsError() || res.Text() != missing.Text() {
				t.Errorf("%s of bob's %s as alice: %q, want %q", tool, id, res.Text(), missing.Text())
			}
		}
		ok[Document](t, call(t, p, "get-document", bob, args(map[string]any{"id": id}))) // still there
	}
	for _, id := range []string{"' OR 1=1 --", "%", "_", "' OR org_id = 'org_b"} {
		wantError(t, call(t, p, "delete-document", alice, args(map[string]any{"id": id})), "document not found")
	}
	if got := listAll(t, p, bob, "", "", 100); len(got) != len(bIDs) {
		t.Errorf("bob has %d documents after alice's attempts, want %d", len(got), len(bIDs))
	}

	// No argument can name a tenant: unknown keys are rejected before the handler.
	for tool, a := range map[string]string{
		"get-documents":   `{"org_id":"org_b"}`,
		"get-document":    `{"id":"x","organization_id":"org_b"}`,
		"create-document": `{"title":"t","body":"b","org_id":"org_b"}`,
		"delete-document": `{"id":"x","org":"org_b"}`,
	} {
		wantError(t, call(t, p, tool, alice, a), "unknown property")
	}
	if got := listAll(t, p, bob, "", "", 100); len(got) != len(bIDs) {
		t.Errorf("bob has %d documents, want %d", len(got), len(bIDs))
	}
}

func testSearchMatchesLiterally(t *testing.T, s Store) {
	p := newPlugin(s)
	fill(t, s, "org_a", trickyTitles...)
	fill(t, s, "org_b", trickyTitles...)
	titles := func(query string) []string {
		var out []string
		for _, d := range ok[ListOutput](t, call(t, p, "get-documents", alice, args(map[string]any{"query": query}))).Documents {
			out = append(out, d.Title)
		}
		return out
	}
	for query, want := range map[string]string{
		"%":           "Plan 50% off",
		"50%":         "Plan 50% off",
		"_":           "a_c file",
		"A_C":         "a_c file", // case-insensitive
		`\`:           `back\slash`,
		"' OR 1=1 --": "it's ' OR 1=1 --",
		"1=1":         "it's ' OR 1=1 --",
	} {
		if got := titles(query); len(got) != 1 || got[0] != want {
			t.Errorf("query %q found %q, want only %q", query, got, want)
		}
	}
	if got := titles("body of plan"); len(got) != 2 {
		t.Errorf("body search found %q", got)
	}
	if got := titles("no such text"); len(got) != 0 {
		t.Errorf("found %q", got)
	}
}

func testNewestFirstPaging(t *testing.T, s Store) {
	p := newPlugin(s)
	var created []string
	for i := range 7 {
		d := ok[Document](t, call(t, p, "create-document", alice, args(map[string]any{"title": fmt.Sprint("doc ", i), "body": ""})))
		created = append(created, d.ID)
	}
	got := listAll(t, p, alice, "", "", 3)
	if len(got) != len(created) {
		t.Fatalf("paged %d documents, want %d", len(got), len(created))
	}
	for i, id := range got {
		if id != created[len(created)-1-i] {
			t.Fatalf("page order %v, want newest first of %v", got, created)
		}
	}
	first := ok[ListOutput](t, call(t, p, "get-documents", alice, `{}`))
	if len(first.Documents) != 7 || first.NextCursor != "" {
		t.Errorf("default page: %d documents, next_cursor %q", len(first.Documents), first.NextCursor)
	}
}

func testGetCreateDelete(t *testing.T, s Store) {
	p := newPlugin(s)
	long := strings.Repeat("é", 1000)
	d := ok[Document](t, call(t, p, "create-document", writer, args(map[string]any{"title": "  Hello  ", "body": long})))
	if !strings.HasPrefix(d.ID, "doc_") || len(d.ID) != 36 || d.Title != "Hello" || d.CreatedBy != "user_wendy" || d.CreatedAt.IsZero() {
		t.Errorf("created %+v", d)
	}
	got := ok[Document](t, call(t, p, "get-document", reader, args(map[string]any{"id": d.ID})))
	if got.Body != long || !got.CreatedAt.Equal(d.CreatedAt) {
		t.Errorf("got %+v", got)
	}
	page := ok[ListOutput](t, call(t, p, "get-documents", reader, `{}`))
	if ex := page.Documents[0].Excerpt; len([]rune(ex)) != excerptLen+1 {
		t.Errorf("excerpt has %d characters", len([]rune(ex)))
	}
	del := ok[Deleted](t, call(t, p, "delete-document", alice, args(map[string]any{"id": d.ID})))
	if !del.Deleted || del.ID != d.ID {
		t.Errorf("deleted %+v", del)
	}
	wantError(t, call(t, p, "get-document", reader, args(map[string]any{"id": d.ID})), "document not found")
	wantError(t, call(t, p, "delete-document", alice, args(map[string]any{"id": d.ID})), "document not found")
}

func TestPermissions(t *testing.T) {
	p := newPlugin(newTestStore(t))
	doc := `{"title":"t","body":"b"}`
	for _, c := range []*sdk.Caller{alice, writer} {
		ok[Document](t, call(t, p, "create-document", c, doc))
	}
	for _, c := range []*sdk.Caller{
		reader,
		{UserID: "u", OrganizationID: "org_a", Scopes: []string{"documents:write"}},
		{UserID: "u", OrganizationID: "org_a", Roles: []string{"documents:write", "Admin"}},
	} {
		wantError(t, call(t, p, "create-document", c, doc), "Forbidden: documents:write permission or admin role required")
	}
	d := ok[Document](t, call(t, p, "create-document", writer, doc))
	for _, c := range []*sdk.Caller{reader, writer} {
		wantError(t, call(t, p, "delete-document", c, args(map[string]any{"id": d.ID})), "Forbidden: admin role required")
	}
	ok[Document](t, call(t, p, "get-document", reader, args(map[string]any{"id": d.ID})))

	// Without an organization nothing is reachable, whatever the roles.
	orgless := &sdk.Caller{UserID: "user_x", Roles: []string{"admin"}, Permissions: []string{"documents:write"}}
	for tool, a := range map[string]string{"get-documents": `{}`, "get-document": `{"id":"x"}`, "create-document": doc, "delete-document": `{"id":"x"}`} {
		wantError(t, call(t, p, tool, orgless, a), "Organization context required")
	}
}

func TestInputLimits(t *testing.T) {
	p := newPlugin(newTestStore(t))
	for _, tc := range []struct {
		tool, args, want string
	}{
		{"create-document", `{"title":"","body":"b"}`, "title:"},
		{"create-document", `{"title":"   ","body":"b"}`, "title:"},
		{"create-document", args(map[string]any{"title": strings.Repeat("x", 201), "body": ""}), "title:"},
		{"create-document", args(map[string]any{"title": "t", "body": strings.Repeat("x", maxBody+1)}), "body:"},
		{"create-document", `{"title":"t"}`, "body"},
		{"get-documents", `{"limit":0}`, "limit:"},
		{"get-documents", `{"limit":101}`, "limit:"},
		{"get-documents", `{"limit":-1}`, "limit:"},
		{"get-documents", `{"limit":"ten"}`, "limit"},
		{"get-documents", `{"cursor":"%%%"}`, "cursor:"},
		{"get-documents", `{"cursor":"bm90LWEtY3Vyc29y"}`, "cursor:"}, // base64 of "not-a-cursor"
		{"get-documents", args(map[string]any{"query": strings.Repeat("q", maxQuery+1)}), "query:"},
		{"get-documents", `{"query":"a\u0000b"}`, "query: must not contain NUL"},
		{"create-document", `{"title":"a\u0000b","body":""}`, "title: must not contain NUL"},
		{"create-document", `{"title":"t","body":"\u0000"}`, "body: must not contain NUL"},
	} {
		wantError(t, call(t, p, tc.tool, alice, tc.args), tc.want)
	}
	// The edges are allowed.
	ok[Document](t, call(t, p, "create-document", alice, args(map[string]any{"title": " " + strings.Repeat("ü", 200) + " ", "body": strings.Repeat("x", maxBody)})))
	ok[ListOutput](t, call(t, p, "get-documents", alice, `{"limit":100}`))
	ok[ListOutput](t, call(t, p, "get-documents", alice, `{"limit":null}`))
}

func testConcurrentCreates(t *testing.T, s Store) {
	p := newPlugin(s)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			res, err := p.Invoke(context.Background(), "create-document", writer, []byte(args(map[string]any{"title": fmt.Sprint("concurrent ", i), "body": "x"})))
			if err != nil || res.IsError() {
				errs <- fmt.Sprint(err, res.Text())
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	seen := map[string]bool{}
	for _, id := range listAll(t, p, reader, "concurrent", "", 100) {
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("%d documents after %d concurrent creates", len(seen), n)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		env  []string
		want config
	}{
		{nil, config{dbPath: "documents.db", seed: true}},
		{[]string{"MCPHOST_PLUGIN_DATA_DIR", "/data/documents"}, config{dbPath: "/data/documents/documents.db", seed: true}},
		{[]string{"MCPHOST_PLUGIN_DATA_DIR", "/data/documents", "DOCUMENTS_DB", "/srv/docs.db", "DOCUMENTS_SEED", "false"}, config{dbPath: "/srv/docs.db"}},
	} {
		if got, err := configFromEnv(env(tc.env...)); err != nil || got != tc.want {
			t.Errorf("%v: got %+v, %v; want %+v", tc.env, got, err, tc.want)
		}
	}
	if _, err := configFromEnv(env("DOCUMENTS_SEED", "nope")); err == nil || !strings.Contains(err.Error(), "DOCUMENTS_SEED") {
		t.Errorf("bad DOCUMENTS_SEED: %v", err)
	}
}
