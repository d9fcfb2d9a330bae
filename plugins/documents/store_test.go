package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// storeCases are what every Store must do, each run on a fresh, empty store:
// the Store contract itself, then the tools over it (the tenant isolation,
// search, paging, resource and prompt tests), so both backends pass the same
// assertions.
var storeCases = []struct {
	name string
	run  func(t *testing.T, s Store)
}{
	{"CreateGet", testStoreCreateGet},
	{"ListNewestFirstByPosition", testStoreListNewestFirst},
	{"QueryIsCaseInsensitiveSubstring", testStoreQuery},
	{"Delete", testStoreDelete},
	{"CrossOrgRefused", testStoreCrossOrg},
	{"RefusesUnscopedCalls", testStoreRefusesUnscopedCalls},
	{"ConcurrentCreates", testConcurrentCreates},
	{"TenantIsolation", testTenantIsolation},
	{"SearchMatchesLiterally", testSearchMatchesLiterally},
	{"NewestFirstPaging", testNewestFirstPaging},
	{"GetCreateDelete", testGetCreateDelete},
	{"ResourceAndPromptAreTenantScoped", testDocumentResourceAndPromptAreTenantScoped},
	{"IDCompletionIsTenantScoped", testDocumentIDCompletionIsTenantScoped},
}

// testStore runs storeCases against the stores open makes, in parallel: each
// case gets its own store, so none sees another's documents.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
}

func TestStoreSQLite(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return newTestStore(t) })
}

var docID = regexp.MustCompile(`^doc_[0-9a-f]{32}$`)

func testStoreCreateGet(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	body := strings.Repeat("é", 1000) + "?'\"\\$1%_"
	d, err := s.Create(ctx, "org_a", Document{ID: "ignored", Title: "Hello", Body: body, CreatedBy: "user_1", CreatedAt: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !docID.MatchString(d.ID) || d.Title != "Hello" || d.Body != body || d.CreatedBy != "user_1" ||
		d.CreatedAt.Before(before) || d.CreatedAt.After(time.Now().Add(time.Second)) || d.CreatedAt.Location() != time.UTC {
		t.Errorf("created %+v", d)
	}
	got, err := s.Get(ctx, "org_a", d.ID)
	if err != nil || got != d {
		t.Errorf("get = %+v, %v; want %+v", got, err, d)
	}
	for _, id := range []string{"doc_00000000000000000000000000000000", "", "doc_\x00", "' OR 1=1 --", strings.ToUpper(d.ID)} {
		if _, err := s.Get(ctx, "org_a", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("get %q: %v, want ErrNotFound", id, err)
		}
		if err := s.Delete(ctx, "org_a", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("delete %q: %v, want ErrNotFound", id, err)
		}
	}
	d2, err := s.Create(ctx, "org_a", Document{Title: "Hello", Body: body})
	if err != nil || d2.ID == d.ID {
		t.Errorf("second create: %+v, %v", d2, err)
	}
}

func testStoreListNewestFirst(t *testing.T, s Store) {
	ctx := context.Background()
	var want []Document // newest first
	for i := range 7 {
		d, err := s.Create(ctx, "org_a", Document{Title: fmt.Sprint("doc ", i), Body: "b"})
		if err != nil {
			t.Fatal(err)
		}
		want = append([]Document{d}, want...)
	}
	all, err := s.List(ctx, "org_a", ListOptions{Limit: 100})
	if err != nil || fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("list = %v, %v; want %v", all, err, want)
	}
	// Pages of 3 from Position: 3, 3, 1, then nothing.
	var paged []Document
	var after *Position
	for _, size := range []int{3, 3, 1, 0} {
		page, err := s.List(ctx, "org_a", ListOptions{Limit: 3, After: after})
		if err != nil || len(page) != size {
			t.Fatalf("page after %v: %d documents, %v; want %d", after, len(page), err, size)
		}
		if size > 0 {
			last := page[len(page)-1]
			after = &Position{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		paged = append(paged, page...)
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Errorf("paged %v, want %v", paged, want)
	}
	// Ties on created_at are broken by id, descending.
	tie := Position{CreatedAt: want[2].CreatedAt, ID: want[2].ID + "~"}
	if page, err := s.List(ctx, "org_a", ListOptions{Limit: 1, After: &tie}); err != nil || len(page) != 1 || page[0].ID != want[2].ID {
		t.Errorf("after a position just past #2: %v, %v", page, err)
	}
	if page, err := s.List(ctx, "org_a", ListOptions{Limit: 10, After: &Position{CreatedAt: time.Unix(0, 0), ID: "doc_"}}); err != nil || len(page) != 0 {
		t.Errorf("after the beginning of time: %v, %v", page, err)
	}
	if page, err := s.List(ctx, "org_empty", ListOptions{Limit: 10}); err != nil || page == nil || len(page) != 0 {
		t.Errorf("empty organization lists %#v, %v; want an empty, non-nil slice", page, err)
	}
}

func testStoreQuery(t *testing.T, s Store) {
	ctx := context.Background()
	fill(t, s, "org_a", "Quarterly REPORT", "report draft", "Plan 50% off", "Plan 500 off", "a_c", "abc")
	if _, err := s.Create(ctx, "org_a", Document{Title: "untitled", Body: "the Report is in the body"}); err != nil {
		t.Fatal(err)
	}
	fill(t, s, "org_b", "report of org_b")
	for query, want := range map[string]int{
		"report": 3, "REPORT": 3, "RePoRt": 3, "port dr": 1, "50%": 1, "%": 1, "_": 1, "a_c": 1, "body of": 6, "": 7, "nothing like it": 0, "\x00": 0,
	} {
		docs, err := s.List(ctx, "org_a", ListOptions{Query: query, Limit: 100})
		if err != nil || len(docs) != want {
			t.Errorf("query %q: %d documents, %v; want %d", query, len(docs), err, want)
		}
	}
}

func testStoreDelete(t *testing.T, s Store) {
	ctx := context.Background()
	ids := fill(t, s, "org_a", "one", "two")
	for id := range ids {
		if err := s.Delete(ctx, "org_a", id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "org_a", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("get after delete: %v", err)
		}
		if err := s.Delete(ctx, "org_a", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		break
	}
	if docs, err := s.List(ctx, "org_a", ListOptions{Limit: 10}); err != nil || len(docs) != 1 {
		t.Errorf("after one delete: %v, %v", docs, err)
	}
	if err := s.Delete(ctx, "org_a", "doc_never"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
}

func testStoreCrossOrg(t *testing.T, s Store) {
	ctx := context.Background()
	aIDs := fill(t, s, "org_a", "shared title", "a only")
	bIDs := fill(t, s, "org_b", "shared title", "b only")
	for id := range bIDs {
		if _, err := s.Get(ctx, "org_a", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("org_a got org_b's %s: %v", id, err)
		}
		if err := s.Delete(ctx, "org_a", id); !errors.Is(err, ErrNotFound) {
			t.Errorf("org_a deleted org_b's %s: %v", id, err)
		}
		if _, err := s.Get(ctx, "org_b", id); err != nil {
			t.Errorf("org_b's %s after org_a's delete: %v", id, err)
		}
		// A prefix of the tenant, or its name in another case, is another tenant.
		for _, org := range []string{"org_", "ORG_B", "org_b ", "%"} {
			if _, err := s.Get(ctx, org, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("%q got org_b's %s: %v", org, id, err)
			}
		}
	}
	for _, q := range []string{"", "shared", "b only", "%"} {
		docs, err := s.List(ctx, "org_a", ListOptions{Query: q, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if !aIDs[d.ID] {
				t.Errorf("org_a listed %s (%q) for query %q", d.ID, d.Title, q)
			}
		}
	}
	// A position taken from another tenant's document moves the page, not the tenant.
	for id := range bIDs {
		b, _ := s.Get(ctx, "org_b", id)
		docs, err := s.List(ctx, "org_a", ListOptions{Limit: 100, After: &Position{CreatedAt: b.CreatedAt.Add(time.Hour), ID: b.ID}})
		if err != nil || len(docs) != len(aIDs) {
			t.Errorf("org_a after org_b's position: %d documents, %v", len(docs), err)
		}
	}
}

// testStoreRefusesUnscopedCalls: an empty organization never reaches a query.
func testStoreRefusesUnscopedCalls(t *testing.T, s Store) {
	ctx := context.Background()
	fill(t, s, "org_a", "x")
	if _, err := s.List(ctx, "", ListOptions{Limit: 10}); err != errNoOrg {
		t.Errorf("List: %v", err)
	}
	if _, err := s.Get(ctx, "", "x"); err != errNoOrg {
		t.Errorf("Get: %v", err)
	}
	if _, err := s.Create(ctx, "", Document{Title: "x"}); err != errNoOrg {
		t.Errorf("Create: %v", err)
	}
	if err := s.Delete(ctx, "", "x"); err != errNoOrg {
		t.Errorf("Delete: %v", err)
	}
	if docs, err := s.List(ctx, "org_a", ListOptions{Limit: 10}); err != nil || len(docs) != 1 {
		t.Errorf("after unscoped calls org_a has %d documents, %v", len(docs), err)
	}
}

// storeConcurrently creates n documents in org from n goroutines directly on
// the store, and checks each is listed once.
func storeConcurrently(t *testing.T, s Store, org string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := s.Create(context.Background(), org, Document{Title: fmt.Sprint("direct ", i), Body: "x"}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	docs, err := s.List(context.Background(), org, ListOptions{Query: "direct", Limit: 2 * n})
	seen := map[string]bool{}
	for _, d := range docs {
		seen[d.ID] = true
	}
	if err != nil || len(docs) != n || len(seen) != n {
		t.Errorf("%d documents (%d ids) after %d concurrent creates, %v", len(docs), len(seen), n, err)
	}
}
