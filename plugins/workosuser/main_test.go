package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcphost/mcphost/sdk"
)

// testKey is distinctive so a leak anywhere is easy to spot.
const testKey = "sk_test_LEAKCANARY_9f8e7d6c5b4a"

// fakeWorkOS answers like the WorkOS API for a few fixed ids. It records the
// escaped path of the last request so tests can check what was asked for
// (requests may overlap: an abandoned slow one is still being served).
func fakeWorkOS(t *testing.T) (*httptest.Server, func() string) {
	t.Helper()
	var mu sync.Mutex
	var last string
	record := func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		last = r.URL.EscapedPath()
	}
	lastPath := func() string {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /user_management/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		switch id := r.PathValue("id"); id {
		case "user_01HXYZ":
			writeJSON(w, 200, `{
				"object": "user", "id": "user_01HXYZ", "email": "marcelina@example.com",
				"first_name": "Marcelina", "last_name": "Davis", "email_verified": true,
				"profile_picture_url": "https://workoscdn.com/images/v1/123abc",
				"last_sign_in_at": "2024-02-06T23:13:18.137Z",
				"created_at": "2021-06-25T19:07:33.155Z", "updated_at": "2021-06-25T19:07:33.155Z",
				"external_id": "f1ffa2b2-c20b-4d39-be5c-212726e11222", "metadata": {"language": "en"}}`)
		case "user_nulls":
			writeJSON(w, 200, `{"object":"user","id":"user_nulls","email":"n@example.com","first_name":null,"last_name":null,
				"email_verified":false,"profile_picture_url":null,"created_at":"2021-06-25T19:07:33.155Z","updated_at":"2021-06-25T19:07:33.155Z"}`)
		case "user_ratelimited":
			w.Header().Set("Retry-After", "30")
			writeJSON(w, 429, `{"message":"Rate limit exceeded."}`)
		case "user_broken":
			w.WriteHeader(500)
			w.Write([]byte("<html>upstream exploded</html>"))
		case "user_echo":
			// A misbehaving proxy that echoes the request's credentials.
			writeJSON(w, 400, `{"message":"bad header: `+r.Header.Get("Authorization")+`"}`)
		case "user_huge":
			writeJSON(w, 200, `{"id":"`+strings.Repeat("x", maxBody)+`"}`)
		case "user_slow":
			<-r.Context().Done()
		default:
			writeJSON(w, 404, `{"message":"User not found: '`+id+`'.","code":"entity_not_found","entity_id":"`+id+`"}`)
		}
	})
	mux.HandleFunc("GET /organizations/{id}", func(w http.ResponseWriter, r *http.Request) {
		record(r)
		if r.PathValue("id") != "org_01EHZNVPK3SFK441A1RGBFSHRT" {
			writeJSON(w, 404, `{"message":"Organization not found: '`+r.PathValue("id")+`'.","code":"entity_not_found"}`)
			return
		}
		writeJSON(w, 200, `{
			"object": "organization", "id": "org_01EHZNVPK3SFK441A1RGBFSHRT", "name": "Foo Corporation",
			"allow_profiles_outside_organization": false, "external_id": "2fe01467-f7ea-4dd2-8b79-c2b4f56d0191",
			"domains": [{"object": "organization_domain", "id": "org_domain_01EHZNS0H9W90A90FV79GAB6AB",
				"domain": "foo-corp.com", "state": "verified", "verification_strategy": "dns"}],
			"metadata": {"tier": "diamond"},
			"created_at": "2021-06-25T19:07:33.155Z", "updated_at": "2021-06-25T19:07:33.155Z"}`)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testKey {
			writeJSON(w, 401, `{"message":"Could not authorize the request. Maybe your API key is invalid?"}`)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, lastPath
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// testPlugin is the plugin wired to url with key, built the way main builds it.
func testPlugin(t *testing.T, url, key string, extra ...string) sdk.Plugin {
	t.Helper()
	env := map[string]string{"WORKOS_API_BASE_URL": url, "WORKOS_API_KEY": key}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	c, err := newClient(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return newPlugin(c)
}

// invoke calls a tool and fails the test if the API key shows up anywhere in the result.
func invoke(t *testing.T, ctx context.Context, p sdk.Plugin, tool string, caller *sdk.Caller) *sdk.Result {
	t.Helper()
	res, err := p.Invoke(ctx, tool, caller, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Text(), testKey) || strings.Contains(string(res.StructuredContent()), testKey) {
		t.Fatalf("API key leaked into the result: %s", res.Text())
	}
	return res
}

func wantError(t *testing.T, res *sdk.Result, parts ...string) {
	t.Helper()
	if !res.IsError() {
		t.Fatalf("want a tool error, got %s", res.Text())
	}
	for _, p := range parts {
		if !strings.Contains(res.Text(), p) {
			t.Errorf("error %q does not mention %q", res.Text(), p)
		}
	}
}

func TestGetUser(t *testing.T) {
	srv, lastPath := fakeWorkOS(t)
	p := testPlugin(t, srv.URL, testKey)

	res := invoke(t, context.Background(), p, "get-workos-user", &sdk.Caller{UserID: "user_01HXYZ"})
	if res.IsError() {
		t.Fatal(res.Text())
	}
	var got User
	if err := json.Unmarshal(res.StructuredContent(), &got); err != nil {
		t.Fatal(err)
	}
	want := User{ID: "user_01HXYZ", Email: "marcelina@example.com", FirstName: "Marcelina", LastName: "Davis", EmailVerified: true,
		ProfilePictureURL: "https://workoscdn.com/images/v1/123abc", CreatedAt: "2021-06-25T19:07:33.155Z", UpdatedAt: "2021-06-25T19:07:33.155Z"}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if lastPath() != "/user_management/users/user_01HXYZ" {
		t.Errorf("requested %s", lastPath())
	}

	// WorkOS sends null for unset names and pictures.
	res = invoke(t, context.Background(), p, "get-workos-user", &sdk.Caller{UserID: "user_nulls"})
	if res.IsError() || !strings.Contains(string(res.StructuredContent()), `"first_name":""`) {
		t.Errorf("nulls: %s", res.Text())
	}
}

func TestGetUserEscapesID(t *testing.T) {
	srv, lastPath := fakeWorkOS(t)
	p := testPlugin(t, srv.URL, testKey)
	// An id that would climb to another endpoint if it were not escaped.
	res := invoke(t, context.Background(), p, "get-workos-user", &sdk.Caller{UserID: "../../organizations/org_01EHZNVPK3SFK441A1RGBFSHRT?x=1"})
	wantError(t, res, "404")
	if want := "/user_management/users/..%2F..%2Forganizations%2Forg_01EHZNVPK3SFK441A1RGBFSHRT%3Fx=1"; lastPath() != want {
		t.Errorf("requested %s, want %s", lastPath(), want)
	}
}

func TestGetOrganization(t *testing.T) {
	srv, _ := fakeWorkOS(t)
	p := testPlugin(t, srv.URL, testKey)

	res := invoke(t, context.Background(), p, "get-workos-organization", &sdk.Caller{UserID: "user_01HXYZ", OrganizationID: "org_01EHZNVPK3SFK441A1RGBFSHRT"})
	if res.IsError() {
		t.Fatal(res.Text())
	}
	var got Organization
	if err := json.Unmarshal(res.StructuredContent(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "Foo Corporation" || len(got.Domains) != 1 || got.Domains[0] != (Domain{ID: "org_domain_01EHZNS0H9W90A90FV79GAB6AB", Domain: "foo-corp.com", State: "verified"}) ||
		got.ExternalID != "2fe01467-f7ea-4dd2-8b79-c2b4f56d0191" || got.CreatedAt == "" {
		t.Errorf("got %+v", got)
	}

	wantError(t, invoke(t, context.Background(), p, "get-workos-organization", &sdk.Caller{UserID: "user_01HXYZ"}), "Organization context required")
	wantError(t, invoke(t, context.Background(), p, "get-workos-organization", &sdk.Caller{UserID: "user_01HXYZ", OrganizationID: "org_gone"}),
		"WorkOS API failed: 404 Not Found", "Organization not found")
}

func TestErrors(t *testing.T) {
	srv, _ := fakeWorkOS(t)
	p := testPlugin(t, srv.URL, testKey)
	for _, tc := range []struct {
		user  string
		parts []string
	}{
		{"", []string{"User context required"}},
		{"user_missing", []string{"WorkOS API failed: 404 Not Found", "User not found: 'user_missing'."}},
		{"user_ratelimited", []string{"WorkOS API failed: 429 Too Many Requests", "Rate limit exceeded.", "retry after 30 seconds"}},
		{"user_broken", []string{"WorkOS API failed: 500 Internal Server Error"}},
		{"user_echo", []string{"WorkOS API failed: 400 Bad Request", "[redacted]"}},
		{"user_huge", []string{"response larger than"}},
	} {
		t.Run("user="+tc.user, func(t *testing.T) {
			wantError(t, invoke(t, context.Background(), p, "get-workos-user", &sdk.Caller{UserID: tc.user}), tc.parts...)
		})
	}
}

func TestBadOrMissingKey(t *testing.T) {
	srv, lastPath := fakeWorkOS(t)
	caller := &sdk.Caller{UserID: "user_01HXYZ", OrganizationID: "org_01EHZNVPK3SFK441A1RGBFSHRT"}

	p := testPlugin(t, srv.URL, "")
	for _, tool := range []string{"get-workos-user", "get-workos-organization"} {
		wantError(t, invoke(t, context.Background(), p, tool, caller), "WorkOS API key not configured")
	}
	if lastPath() != "" {
		t.Errorf("called WorkOS without a key: %s", lastPath())
	}

	p = testPlugin(t, srv.URL, "sk_test_wrong")
	res := invoke(t, context.Background(), p, "get-workos-user", caller)
	wantError(t, res, "WorkOS API failed: 401 Unauthorized", "API key is invalid")
	if strings.Contains(res.Text(), "sk_test_wrong") {
		t.Errorf("wrong key leaked: %s", res.Text())
	}
}

func TestTimeoutAndCancellation(t *testing.T) {
	srv, _ := fakeWorkOS(t)
	slow := &sdk.Caller{UserID: "user_slow"}

	p := testPlugin(t, srv.URL, testKey, "WORKOS_TIMEOUT", "50ms")
	start := time.Now()
	wantError(t, invoke(t, context.Background(), p, "get-workos-user", slow), "timed out", "50ms")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %s", d)
	}

	p = testPlugin(t, srv.URL, testKey) // default 10s: only the cancellation can end this call
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	wantError(t, invoke(t, ctx, p, "get-workos-user", slow), "cancelled")
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	p := testPlugin(t, srv.URL, testKey)
	wantError(t, invoke(t, context.Background(), p, "get-workos-user", &sdk.Caller{UserID: "user_01HXYZ"}), "WorkOS API unreachable")
}

func TestNewClient(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	c, err := newClient(env())
	if err != nil || c.baseURL != defaultBaseURL || c.timeout != defaultTimeout || c.apiKey != "" {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = newClient(env("WORKOS_API_BASE_URL", "http://127.0.0.1:9999/", "WORKOS_TIMEOUT", "3s"))
	if err != nil || c.baseURL != "http://127.0.0.1:9999" || c.timeout != 3*time.Second {
		t.Errorf("overrides: %+v, %v", c, err)
	}
	for _, bad := range [][]string{
		{"WORKOS_TIMEOUT", "soon"},
		{"WORKOS_TIMEOUT", "-1s"},
		{"WORKOS_API_BASE_URL", "api.workos.com"},
		{"WORKOS_API_BASE_URL", "ftp://api.workos.com"},
	} {
		_, err := newClient(env(append(bad, "WORKOS_API_KEY", testKey)...))
		if err == nil || !strings.Contains(err.Error(), bad[0]) || strings.Contains(err.Error(), testKey) {
			t.Errorf("%v: err = %v, want one naming %s", bad, err, bad[0])
		}
	}
}

func TestRejectsArguments(t *testing.T) {
	srv, _ := fakeWorkOS(t)
	p := testPlugin(t, srv.URL, testKey)
	// No argument can choose whose profile is read.
	res, err := p.Invoke(context.Background(), "get-workos-user", &sdk.Caller{UserID: "user_01HXYZ"}, []byte(`{"user_id":"user_other"}`))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, res)
}
