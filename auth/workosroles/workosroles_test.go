package workosroles

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "sk_test_secret_value"

// fakeWorkOS serves the two endpoints Lookup reads, the way the WorkOS API
// answers them, from memberships and roles the test sets.
type fakeWorkOS struct {
	t           *testing.T
	srv         *httptest.Server
	mu          sync.Mutex
	memberships []map[string]any
	roles       map[string][]map[string]any // org -> roles
	status      int                         // when set, every answer has this status
	retryAfter  string
	rolesStatus int // when set, the roles endpoint answers with it
	gate        chan struct{}
	arrived     chan struct{}
	membershipN atomic.Int64
	rolesN      atomic.Int64
}

func newFake(t *testing.T) *fakeWorkOS {
	f := &fakeWorkOS{t: t, roles: map[string][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeWorkOS) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+testKey {
		http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	f.mu.Lock()
	status, retryAfter, rolesStatus, gate, arrived := f.status, f.retryAfter, f.rolesStatus, f.gate, f.arrived
	f.mu.Unlock()
	switch {
	case r.URL.Path == "/user_management/organization_memberships":
		f.membershipN.Add(1)
		if arrived != nil {
			arrived <- struct{}{}
		}
		if gate != nil {
			<-gate
		}
		if status != 0 {
			w.Header().Set("Retry-After", retryAfter)
			w.WriteHeader(status)
			return
		}
		user, org := r.URL.Query().Get("user_id"), r.URL.Query().Get("organization_id")
		var data []map[string]any
		f.mu.Lock()
		for _, m := range f.memberships {
			// Every status: the code, not the API's default filter, must
			// refuse an inactive membership.
			if m["user_id"] == user && (org == "" || m["organization_id"] == org) {
				data = append(data, m)
			}
		}
		f.mu.Unlock()
		writeJSON(w, map[string]any{"object": "list", "data": data, "list_metadata": map[string]any{}})
	case strings.HasPrefix(r.URL.Path, "/authorization/organizations/") && strings.HasSuffix(r.URL.Path, "/roles"):
		f.rolesN.Add(1)
		if status != 0 || rolesStatus != 0 {
			w.WriteHeader(max(status, rolesStatus))
			return
		}
		org := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/authorization/organizations/"), "/roles")
		f.mu.Lock()
		data := f.roles[org]
		f.mu.Unlock()
		writeJSON(w, map[string]any{"object": "list", "data": data})
	default:
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func membership(user, org, status string, roles ...string) map[string]any {
	m := map[string]any{"object": "organization_membership", "id": "om_" + user, "user_id": user, "organization_id": org, "status": status,
		"role": map[string]any{"slug": roles[0]}}
	var all []map[string]any
	for _, r := range roles {
		all = append(all, map[string]any{"slug": r})
	}
	m["roles"] = all
	return m
}

func role(slug string, perms ...string) map[string]any {
	return map[string]any{"object": "role", "id": "role_" + slug, "slug": slug, "name": slug, "type": "EnvironmentRole", "permissions": perms}
}

// clock is a settable time source.
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

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

func newSource(t *testing.T, f *fakeWorkOS, mutate func(*Config)) (*Source, *clock, *logBuffer) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	logs := &logBuffer{}
	cfg := Config{APIKey: testKey, BaseURL: f.srv.URL, Now: clk.now, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, clk, logs
}

func acme(f *fakeWorkOS) {
	f.memberships = append(f.memberships,
		membership("user_ada", "org_acme", "active", "admin", "editor"),
		membership("user_ada", "org_globex", "active", "member"),
		membership("user_bob", "org_acme", "inactive", "admin"))
	f.roles["org_acme"] = []map[string]any{role("admin", "documents:write", "users:manage"), role("editor", "documents:write", "documents:read"), role("member", "documents:read")}
	f.roles["org_globex"] = []map[string]any{role("member", "documents:read")}
}

func TestLookupRolesAndPermissions(t *testing.T) {
	f := newFake(t)
	acme(f)
	s, _, _ := newSource(t, f, nil)
	g := s.Lookup(context.Background(), "user_ada", "org_acme")
	if !slices.Equal(g.Roles, []string{"admin", "editor"}) {
		t.Errorf("roles = %v", g.Roles)
	}
	if !slices.Equal(g.Permissions, []string{"documents:write", "users:manage", "documents:read"}) {
		t.Errorf("permissions = %v", g.Permissions)
	}
	// The same user in another organization has that organization's roles only.
	if g := s.Lookup(context.Background(), "user_ada", "org_globex"); !slices.Equal(g.Roles, []string{"member"}) || !slices.Equal(g.Permissions, []string{"documents:read"}) {
		t.Errorf("in org_globex: %+v", g)
	}
}

func TestNoRolesWithoutActiveMembership(t *testing.T) {
	f := newFake(t)
	acme(f)
	s, _, _ := newSource(t, f, nil)
	for _, c := range []struct{ user, org, why string }{
		{"user_bob", "org_acme", "inactive membership"},
		{"user_eve", "org_acme", "no membership"},
		{"user_ada", "org_initech", "a member elsewhere only"},
		{"user_ada", "", "no organization in the token"},
	} {
		if g := s.Lookup(context.Background(), c.user, c.org); len(g.Roles) != 0 || len(g.Permissions) != 0 {
			t.Errorf("%s: %+v, want nothing", c.why, g)
		}
	}
	// An active membership without a role grants nothing either.
	f.mu.Lock()
	f.memberships = append(f.memberships, map[string]any{"user_id": "user_cat", "organization_id": "org_acme", "status": "active"})
	f.mu.Unlock()
	s2, _, _ := newSource(t, f, nil)
	if g := s2.Lookup(context.Background(), "user_cat", "org_acme"); len(g.Roles) != 0 {
		t.Errorf("a membership without roles: %+v", g)
	}
}

func TestCacheHitAndExpiry(t *testing.T) {
	f := newFake(t)
	acme(f)
	s, clk, _ := newSource(t, f, func(c *Config) { c.TTL = time.Minute })
	for range 5 {
		s.Lookup(context.Background(), "user_ada", "org_acme")
	}
	if m, r := f.membershipN.Load(), f.rolesN.Load(); m != 1 || r != 1 {
		t.Fatalf("5 lookups made %d membership and %d roles requests, want 1 and 1", m, r)
	}
	// Another user of the same organization reuses its roles' permissions.
	f.mu.Lock()
	f.memberships = append(f.memberships, membership("user_cy", "org_acme", "active", "member"))
	f.mu.Unlock()
	if g := s.Lookup(context.Background(), "user_cy", "org_acme"); !slices.Equal(g.Permissions, []string{"documents:read"}) {
		t.Errorf("user_cy: %+v", g)
	}
	if r := f.rolesN.Load(); r != 1 {
		t.Errorf("roles fetched %d times for one organization", r)
	}
	// Past the TTL a role change in WorkOS is seen.
	f.mu.Lock()
	f.memberships[0] = membership("user_ada", "org_acme", "active", "member")
	f.mu.Unlock()
	clk.add(time.Minute + time.Second)
	if g := s.Lookup(context.Background(), "user_ada", "org_acme"); !slices.Equal(g.Roles, []string{"member"}) {
		t.Errorf("after the TTL: %+v", g)
	}
}

// TestBurstCostsOneLookup: concurrent calls for a caller nobody has looked up
// yet wait for one request to WorkOS.
func TestBurstCostsOneLookup(t *testing.T) {
	f := newFake(t)
	acme(f)
	f.gate, f.arrived = make(chan struct{}), make(chan struct{}, 100)
	s, _, _ := newSource(t, f, nil)
	var wg sync.WaitGroup
	results := make(chan Grant, 20)
	lookup := func() {
		defer wg.Done()
		results <- s.Lookup(context.Background(), "user_ada", "org_acme")
	}
	wg.Add(1)
	go lookup()
	<-f.arrived // the first lookup is at WorkOS, held there
	for range 19 {
		wg.Add(1)
		go lookup()
	}
	// Every other lookup is now either waiting on the first or about to find
	// its answer cached; none may reach WorkOS.
	close(f.gate)
	wg.Wait()
	close(results)
	for g := range results {
		if !slices.Equal(g.Roles, []string{"admin", "editor"}) {
			t.Errorf("a lookup of the burst got %+v", g)
		}
	}
	if n := f.membershipN.Load(); n != 1 {
		t.Errorf("20 concurrent lookups made %d membership requests, want 1", n)
	}
}

// TestWorkOSDownServesStaleThenFailsClosed: known roles outlive an outage for
// StaleFor past their TTL, then the caller has none; WorkOS is not asked again
// on every call while it is failing.
func TestWorkOSDownServesStaleThenFailsClosed(t *testing.T) {
	f := newFake(t)
	acme(f)
	s, clk, logs := newSource(t, f, func(c *Config) { c.TTL = time.Minute; c.StaleFor = 10 * time.Minute })
	s.Lookup(context.Background(), "user_ada", "org_acme")
	f.mu.Lock()
	f.status = http.StatusServiceUnavailable
	f.mu.Unlock()
	clk.add(2 * time.Minute)
	before := f.membershipN.Load()
	for range 5 {
		if g := s.Lookup(context.Background(), "user_ada", "org_acme"); !slices.Equal(g.Roles, []string{"admin", "editor"}) || len(g.Permissions) != 3 {
			t.Fatalf("during the outage, within StaleFor: %+v", g)
		}
	}
	if n := f.membershipN.Load() - before; n != 1 {
		t.Errorf("5 lookups during the outage asked WorkOS %d times, want 1 (then wait)", n)
	}
	if !strings.Contains(logs.String(), "serving roles looked up earlier") {
		t.Errorf("stale use not logged: %s", logs)
	}
	clk.add(10 * time.Minute)
	if g := s.Lookup(context.Background(), "user_ada", "org_acme"); len(g.Roles) != 0 || len(g.Permissions) != 0 {
		t.Errorf("past StaleFor: %+v, want no roles", g)
	}
	if !strings.Contains(logs.String(), "HTTP 503") || !strings.Contains(logs.String(), "the caller gets no roles") {
		t.Errorf("fail-closed decision not logged: %s", logs)
	}
	// WorkOS comes back: the next lookup after the retry wait succeeds.
	f.mu.Lock()
	f.status = 0
	f.mu.Unlock()
	clk.add(defaultRetryAfter)
	if g := s.Lookup(context.Background(), "user_ada", "org_acme"); !slices.Equal(g.Roles, []string{"admin", "editor"}) {
		t.Errorf("after WorkOS returned: %+v", g)
	}
}

func TestWorkOSErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  int
		wantLog string
	}{
		{"401", http.StatusUnauthorized, "rejected the API key"},
		{"403", http.StatusForbidden, "HTTP 403"},
		{"429", http.StatusTooManyRequests, "rate limit (HTTP 429), retry after 30s"},
		{"500", http.StatusInternalServerError, "HTTP 500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			acme(f)
			f.status, f.retryAfter = c.status, "30"
			s, clk, logs := newSource(t, f, nil)
			if g := s.Lookup(context.Background(), "user_ada", "org_acme"); len(g.Roles) != 0 {
				t.Errorf("roles despite WorkOS answering %d: %+v", c.status, g)
			}
			if !strings.Contains(logs.String(), c.wantLog) {
				t.Errorf("log %q lacks %q", logs, c.wantLog)
			}
			if strings.Contains(logs.String(), testKey) {
				t.Error("the API key was logged")
			}
			if c.status == http.StatusTooManyRequests {
				// Retry-After is honoured: no request before it passes.
				clk.add(29 * time.Second)
				s.Lookup(context.Background(), "user_ada", "org_acme")
				if n := f.membershipN.Load(); n != 1 {
					t.Errorf("%d requests within Retry-After", n)
				}
				clk.add(2 * time.Second)
				s.Lookup(context.Background(), "user_ada", "org_acme")
				if n := f.membershipN.Load(); n != 2 {
					t.Errorf("%d requests after Retry-After, want 2", n)
				}
			}
		})
	}
}

func TestWrongKeyIsA401(t *testing.T) {
	f := newFake(t)
	acme(f)
	s, _, logs := newSource(t, f, func(c *Config) { c.APIKey = "sk_test_wrong" })
	if g := s.Lookup(context.Background(), "user_ada", "org_acme"); len(g.Roles) != 0 {
		t.Errorf("roles with a wrong key: %+v", g)
	}
	if !strings.Contains(logs.String(), "rejected the API key") || strings.Contains(logs.String(), "sk_test_wrong") {
		t.Errorf("log: %s", logs)
	}
}

func TestRolesWithoutPermissionsWhenRolesAPIFails(t *testing.T) {
	f := newFake(t)
	acme(f)
	f.rolesStatus = http.StatusNotFound
	s, _, logs := newSource(t, f, nil)
	g := s.Lookup(context.Background(), "user_ada", "org_acme")
	if !slices.Equal(g.Roles, []string{"admin", "editor"}) || len(g.Permissions) != 0 {
		t.Errorf("%+v, want the roles and no permissions", g)
	}
	if !strings.Contains(logs.String(), "no permissions") {
		t.Errorf("log: %s", logs)
	}
}

func TestCacheIsBounded(t *testing.T) {
	f := newFake(t)
	for i := range 50 {
		f.memberships = append(f.memberships, membership(fmt.Sprintf("user_%d", i), "org_acme", "active", "member"))
	}
	f.roles["org_acme"] = []map[string]any{role("member", "documents:read")}
	s, _, _ := newSource(t, f, func(c *Config) { c.MaxEntries = 8 })
	for i := range 50 {
		if g := s.Lookup(context.Background(), fmt.Sprintf("user_%d", i), "org_acme"); !slices.Equal(g.Roles, []string{"member"}) {
			t.Fatalf("user_%d: %+v", i, g)
		}
	}
	if n := s.memberships.len(); n > 8 {
		t.Errorf("%d cached memberships, bound 8", n)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "API key is empty"},
		{Config{APIKey: "sk", BaseURL: "ftp://api.workos.com"}, `API URL "ftp://api.workos.com"`},
		{Config{APIKey: "sk", BaseURL: "https://"}, "is not an http(s) URL"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"7": 7 * time.Second, "": defaultRetryAfter, "junk": defaultRetryAfter, "0": time.Second, "100000": maxRetryAfter,
		now.Add(20 * time.Second).Format(http.TimeFormat): 20 * time.Second,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("Retry-After %q = %s, want %s", in, got, want)
		}
	}
}
