package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	defaultBaseURL = "https://api.workos.com"
	defaultTimeout = 10 * time.Second
	// maxBody caps what we read from WorkOS: a profile is a few hundred bytes,
	// and a misbehaving upstream must not exhaust the plugin's memory.
	maxBody = 1 << 20
)

// client calls the WorkOS REST API.
type client struct {
	baseURL string
	apiKey  string
	timeout time.Duration
	http    *http.Client
}

// newClient builds a client from the plugin's environment (os.Getenv in main):
// WORKOS_API_KEY, WORKOS_API_BASE_URL (empty means the public API) and
// WORKOS_TIMEOUT (a Go duration, default 10s). A missing key is not an error
// here: the tools report it, so the plugin still starts and lists its tools.
func newClient(getenv func(string) string) (*client, error) {
	c := &client{
		baseURL: strings.TrimRight(getenv("WORKOS_API_BASE_URL"), "/"),
		apiKey:  getenv("WORKOS_API_KEY"),
		timeout: defaultTimeout,
		http:    &http.Client{},
	}
	if c.baseURL == "" {
		c.baseURL = defaultBaseURL
	}
	if u, err := url.Parse(c.baseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("WORKOS_API_BASE_URL: want an http(s) URL such as %s, got %q", defaultBaseURL, c.baseURL)
	}
	if v := getenv("WORKOS_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("WORKOS_TIMEOUT: want a positive Go duration such as 10s, got %q", v)
		}
		c.timeout = d
	}
	return c, nil
}

// get fetches path and decodes the JSON answer into out. Its errors are meant
// for the caller to read, so they carry no key and no internal detail beyond
// what WorkOS itself said.
func (c *client) get(ctx context.Context, path string, out any) error {
	if c.apiKey == "" {
		return errors.New("WorkOS API key not configured")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+path, nil)
	if err != nil {
		return fmt.Errorf("WorkOS API request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")

	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return c.transportError(err)
	}
	if len(body) > maxBody {
		return fmt.Errorf("WorkOS API failed: response larger than %d bytes", maxBody)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.statusError(resp, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return errors.New("WorkOS API failed: response is not the expected JSON")
	}
	return nil
}

func (c *client) transportError(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return errors.New("WorkOS API request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("WorkOS API timed out (limit %s, set by WORKOS_TIMEOUT)", c.timeout)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // the URL is ours, not news to the caller
	}
	return fmt.Errorf("WorkOS API unreachable: %v", err)
}

// statusError turns a non-2xx answer into "WorkOS API failed: <status>", adding
// WorkOS's own message and, when rate limited, how long to wait.
func (c *client) statusError(resp *http.Response, body []byte) error {
	msg := "WorkOS API failed: " + resp.Status
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		msg += ": " + truncate(e.Message, 300)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			msg += fmt.Sprintf(" (retry after %d seconds)", secs)
		}
	}
	// Upstream text is not ours to trust: make sure it cannot echo the key back.
	return errors.New(strings.ReplaceAll(msg, c.apiKey, "[redacted]"))
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
