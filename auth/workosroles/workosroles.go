// Package workosroles looks up a caller's roles and permissions in the WorkOS
// API when the access token carries none. The tokens AuthKit issues to MCP
// clients hold sub and org_id but no role, roles or permissions, so without
// this every role check would fail against a real WorkOS tenant.
//
// A lookup reads the organization membership of (user, organization) from the
// User Management API and the permissions of its roles from the Authorization
// API's organization roles. Answers are cached per (user, organization) and per
// organization with a TTL, one request at a time per key (a burst of calls costs
// one lookup), bounded in size, and served stale for a while when WorkOS is
// unreachable. When nothing is known the answer is no roles: fail closed.
package workosroles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultBaseURL is the WorkOS API.
const DefaultBaseURL = "https://api.workos.com"

// Defaults for a zero Config.
const (
	DefaultTTL        = 5 * time.Minute
	DefaultStaleFor   = time.Hour
	DefaultMaxEntries = 10000
	// defaultRetryAfter is how long a failed lookup is remembered, so calls
	// after it do not each wait on a WorkOS that is down; a 429's Retry-After
	// overrides it.
	defaultRetryAfter = 10 * time.Second
	maxRetryAfter     = 5 * time.Minute
	maxResponseBytes  = 1 << 20
	// logEvery bounds how often one kind of failure is logged.
	logEvery = time.Minute
)

// Config configures a Source.
type Config struct {
	// APIKey is the WorkOS secret key (sk_...). It is sent as a bearer token
	// and never logged.
	APIKey string
	// BaseURL is the API's origin. Default DefaultBaseURL.
	BaseURL string
	// TTL is how long a lookup is trusted. Default 5m.
	TTL time.Duration
	// StaleFor is how long past its TTL a lookup may still be served while
	// WorkOS cannot be reached. Default 1h.
	StaleFor time.Duration
	// MaxEntries bounds each cache. Default 10000.
	MaxEntries int
	// HTTPClient makes the requests. Default: a 5s timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock, for tests. Default time.Now.
	Now func() time.Time
}

// Grant is what a caller holds in one organization.
type Grant struct {
	Roles       []string
	Permissions []string
}

// Source answers lookups. It is safe for concurrent use.
type Source struct {
	cfg         Config
	base        *url.URL
	memberships *cache[[]string]            // key user "\x00" org: role slugs
	orgRoles    *cache[map[string][]string] // key org: role slug -> permissions
	logMu       sync.Mutex
	lastLog     map[string]time.Time
}

// New checks cfg and returns a Source.
func New(cfg Config) (*Source, error) {
	if strings.TrimSpace(cfg.APIKey) == "" {
		return nil, errors.New("workosroles: the API key is empty")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("workosroles: API URL %q is not an http(s) URL", cfg.BaseURL)
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.StaleFor <= 0 {
		cfg.StaleFor = DefaultStaleFor
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Source{cfg: cfg, base: base, lastLog: map[string]time.Time{}}
	s.memberships = newCache[[]string](cfg)
	s.orgRoles = newCache[map[string][]string](cfg)
	return s, nil
}

// Lookup returns the roles of user in org and the permissions those roles
// grant. It never returns an error: what cannot be known is no roles (fail
// closed), and the reason is logged at most once a minute per kind.
func (s *Source) Lookup(ctx context.Context, user, org string) Grant {
	if user == "" || org == "" {
		return Grant{} // roles exist only within an organization
	}
	roles, stale, err := s.memberships.get(ctx, user+"\x00"+org, func(ctx context.Context) ([]string, error) {
		return s.fetchMembership(ctx, user, org)
	})
	if err != nil {
		s.logOnce(ctx, "membership", "workos roles: organization membership unavailable; the caller gets no roles", "organization_id", org, "error", err)
		return Grant{}
	}
	if stale {
		s.logOnce(ctx, "membership-stale", "workos roles: WorkOS unavailable; serving roles looked up earlier", "organization_id", org)
	}
	if len(roles) == 0 {
		return Grant{}
	}
	g := Grant{Roles: roles}
	perms, stale, err := s.orgRoles.get(ctx, org, func(ctx context.Context) (map[string][]string, error) {
		return s.fetchOrgRoles(ctx, org)
	})
	if err != nil {
		s.logOnce(ctx, "roles", "workos roles: organization roles unavailable; the caller gets its roles but no permissions", "organization_id", org, "error", err)
		return g
	}
	if stale {
		s.logOnce(ctx, "roles-stale", "workos roles: WorkOS unavailable; serving role permissions looked up earlier", "organization_id", org)
	}
	for _, r := range roles {
		for _, p := range perms[r] {
			if !slices.Contains(g.Permissions, p) {
				g.Permissions = append(g.Permissions, p)
			}
		}
	}
	return g
}

// membershipList is the part of GET /user_management/organization_memberships
// this package reads.
type membershipList struct {
	Data []struct {
		UserID         string `json:"user_id"`
		OrganizationID string `json:"organization_id"`
		Status         string `json:"status"`
		Role           *struct {
			Slug string `json:"slug"`
		} `json:"role"`
		Roles []struct {
			Slug string `json:"slug"`
		} `json:"roles"`
	} `json:"data"`
}

// fetchMembership returns the role slugs of the user's active membership in
// org; none when there is no such membership or it is not active.
func (s *Source) fetchMembership(ctx context.Context, user, org string) ([]string, error) {
	q := url.Values{"user_id": {user}, "organization_id": {org}}
	var list membershipList
	if err := s.get(ctx, "/user_management/organization_memberships", q, &list); err != nil {
		return nil, err
	}
	roles := []string{}
	for _, m := range list.Data {
		// The API filters by both ids already; check anyway, since a wrong
		// answer here would grant roles in another organization.
		if m.UserID != user || m.OrganizationID != org || m.Status != "active" {
			continue
		}
		if m.Role != nil && m.Role.Slug != "" && !slices.Contains(roles, m.Role.Slug) {
			roles = append(roles, m.Role.Slug)
		}
		for _, r := range m.Roles {
			if r.Slug != "" && !slices.Contains(roles, r.Slug) {
				roles = append(roles, r.Slug)
			}
		}
	}
	return roles, nil
}

// fetchOrgRoles returns each role of org (environment roles included) with its
// permissions, from GET /authorization/organizations/{id}/roles.
func (s *Source) fetchOrgRoles(ctx context.Context, org string) (map[string][]string, error) {
	var list struct {
		Data []struct {
			Slug        string   `json:"slug"`
			Permissions []string `json:"permissions"`
		} `json:"data"`
	}
	if err := s.get(ctx, "/authorization/organizations/"+url.PathEscape(org)+"/roles", nil, &list); err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(list.Data))
	for _, r := range list.Data {
		if r.Slug != "" {
			out[r.Slug] = r.Permissions
		}
	}
	return out, nil
}

// apiError is a WorkOS answer other than 200.
type apiError struct {
	status     int
	retryAfter time.Duration
}

func (e *apiError) Error() string {
	switch {
	case e.status == http.StatusUnauthorized:
		return "WorkOS rejected the API key (HTTP 401): check auth.workos.api_key / WORKOS_API_KEY"
	case e.status == http.StatusForbidden:
		return "WorkOS refused the request (HTTP 403): the API key may lack access to this API"
	case e.status == http.StatusTooManyRequests:
		return fmt.Sprintf("WorkOS rate limit (HTTP 429), retry after %s", e.retryAfter)
	default:
		return fmt.Sprintf("WorkOS answered HTTP %d", e.status)
	}
}

func (s *Source) get(ctx context.Context, path string, q url.Values, into any) error {
	u := *s.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
	req.Header.Set("Accept", "application/json")
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		// The error names the URL, never the key (it travels in a header).
		return fmt.Errorf("WorkOS unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		e := &apiError{status: resp.StatusCode}
		if resp.StatusCode == http.StatusTooManyRequests {
			e.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), s.cfg.Now())
		}
		return e
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(into); err != nil {
		return fmt.Errorf("WorkOS answered %s with invalid JSON: %w", path, err)
	}
	return nil
}

// parseRetryAfter reads delta-seconds or an HTTP date, within bounds.
func parseRetryAfter(v string, now time.Time) time.Duration {
	d := defaultRetryAfter
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, time.Second), maxRetryAfter)
}

// logOnce logs a failure of one kind at most once per logEvery.
func (s *Source) logOnce(ctx context.Context, kind, msg string, args ...any) {
	now := s.cfg.Now()
	s.logMu.Lock()
	last, seen := s.lastLog[kind]
	if seen && now.Sub(last) < logEvery {
		s.logMu.Unlock()
		return
	}
	s.lastLog[kind] = now
	s.logMu.Unlock()
	s.cfg.Logger.WarnContext(ctx, msg, args...)
}
