// Package mcpclient is a small MCP client over Streamable HTTP for trying a
// server out (`mcphost call`): list the tools, call one. It speaks 2026-07-28
// (no session) and falls back to a 2025-11-25 session when the server does not
// support that version. It asks nothing of the client's user, so it declares
// no client capabilities and reports a tool that needs input as an error.
package mcpclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Protocol versions this client speaks, newest first.
const (
	Modern = "2026-07-28"
	Legacy = "2025-11-25"
)

// codeUnsupportedVersion is the JSON-RPC error of a server that does not
// speak the requested protocol version.
const codeUnsupportedVersion = -32022

// maxPages bounds tools/list pagination, so a server that keeps returning a
// cursor cannot keep the client busy forever.
const maxPages = 100

// Client talks to one MCP endpoint with one bearer token.
type Client struct {
	URL   string       // the endpoint, e.g. http://127.0.0.1:8080/mcp
	Token string       // bearer token; empty sends none
	HTTP  *http.Client // nil means http.DefaultClient
	Name  string       // clientInfo name (legacy initialize)
	// Version is the clientInfo version (legacy initialize).
	Version string

	protocol string // "" until the first request settles it
	session  string // legacy session id
	nextID   int
}

// Error is a JSON-RPC error the server answered with.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("server error %d: %s", e.Code, e.Message) }

// HTTPError is an HTTP error status that is not a JSON-RPC error, such as the
// auth gate's 401 and 403, with the OAuth error and description the server
// gave (RFC 6750: in the JSON body or the WWW-Authenticate challenge).
type HTTPError struct {
	Method      string
	StatusCode  int
	Status      string // "401 Unauthorized"
	OAuthError  string // "invalid_token", "insufficient_scope"; empty when none
	Description string // error_description
	Body        string // the body, cut short, when it said nothing else
}

func (e *HTTPError) Error() string {
	msg := e.Method + ": HTTP " + e.Status
	switch {
	case e.OAuthError != "" && e.Description != "":
		return msg + ": " + e.OAuthError + ": " + e.Description
	case e.OAuthError != "":
		return msg + ": " + e.OAuthError
	case e.Body != "":
		return msg + ": " + e.Body
	case e.StatusCode == http.StatusUnauthorized:
		return msg + ": the server wants a bearer token"
	}
	return msg
}

func newHTTPError(method string, resp *http.Response, body []byte) *HTTPError {
	e := &HTTPError{Method: method, StatusCode: resp.StatusCode, Status: resp.Status}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" {
		e.OAuthError, e.Description = oauth.Error, oauth.Description
		return e
	}
	if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
		e.OAuthError, e.Description = challengeParam(ch, "error"), challengeParam(ch, "error_description")
	}
	if e.OAuthError == "" {
		b := strings.TrimSpace(string(body))
		if len(b) > 500 {
			b = b[:500] + "…"
		}
		e.Body = b
	}
	return e
}

// challengeParam reads one quoted parameter of a Bearer challenge.
func challengeParam(challenge, name string) string {
	i := strings.Index(challenge, name+`="`)
	for i > 0 && challenge[i-1] != ' ' && challenge[i-1] != ',' {
		next := strings.Index(challenge[i+1:], name+`="`)
		if next < 0 {
			return ""
		}
		i += 1 + next
	}
	if i < 0 {
		return ""
	}
	rest := challenge[i+len(name)+2:]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return rest[:end]
}

// ErrInputRequired is returned for a tool that asks the client for input
// (sampling, elicitation, roots), which this client cannot give.
var ErrInputRequired = errors.New("the server asks the client for input (sampling, elicitation or roots), which this client cannot answer")

// Protocol is the protocol version in use, once a request has been made.
func (c *Client) Protocol() string { return c.protocol }

// ListTools returns every tool the token may see, all pages joined.
func (c *Client) ListTools(ctx context.Context) ([]json.RawMessage, error) {
	var tools []json.RawMessage
	cursor := ""
	for range maxPages {
		params := map[string]any{}
		if cursor != "" {
			params["cursor"] = cursor
		}
		raw, err := c.Request(ctx, "tools/list", "", params)
		if err != nil {
			return nil, err
		}
		var page struct {
			Tools      []json.RawMessage `json:"tools"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("tools/list: malformed result: %w", err)
		}
		tools = append(tools, page.Tools...)
		if page.NextCursor == "" {
			return tools, nil
		}
		cursor = page.NextCursor
	}
	return nil, fmt.Errorf("tools/list: more than %d pages", maxPages)
}

// CallTool calls tool name with args (a JSON object, or nil for none) and
// returns the result object as the server sent it. A tool error is a result
// with isError set, not an error.
func (c *Client) CallTool(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	params := map[string]any{"name": name}
	if len(args) > 0 {
		params["arguments"] = args
	}
	res, err := c.Request(ctx, "tools/call", name, params)
	if err != nil {
		return nil, err
	}
	var kind struct {
		ResultType string `json:"resultType"`
	}
	_ = json.Unmarshal(res, &kind)
	if kind.ResultType == "input_required" {
		return nil, fmt.Errorf("tools/call %s: %w", name, ErrInputRequired)
	}
	return res, nil
}

// Close ends a legacy session (DELETE); it does nothing on 2026-07-28.
func (c *Client) Close(ctx context.Context) error {
	if c.session == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.URL, nil)
	if err != nil {
		return err
	}
	c.headers(req, "", "")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	c.session = ""
	return nil
}

// Request sends method with params and returns the result. name is the
// Mcp-Name header of tools/call, prompts/get and resources/read ("" for none).
// The first request settles the protocol version.
func (c *Client) Request(ctx context.Context, method, name string, params map[string]any) (json.RawMessage, error) {
	if c.protocol == "" {
		res, err := c.send(ctx, Modern, method, name, params)
		var rpcErr *Error
		if !errors.As(err, &rpcErr) || rpcErr.Code != codeUnsupportedVersion {
			if err == nil {
				c.protocol = Modern
			}
			return res, err
		}
		delete(params, "_meta")
		if err := c.initialize(ctx); err != nil {
			return nil, fmt.Errorf("the server does not speak %s, and %s failed: %w", Modern, Legacy, err)
		}
	}
	return c.send(ctx, c.protocol, method, name, params)
}

// initialize opens a legacy session.
func (c *Client) initialize(ctx context.Context) error {
	params := map[string]any{
		"protocolVersion": Legacy,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": c.clientName(), "version": c.Version},
	}
	res, err := c.post(ctx, Legacy, "initialize", "", c.message("initialize", params, true))
	if err != nil {
		return err
	}
	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(res.result, &init); err != nil || init.ProtocolVersion == "" {
		return fmt.Errorf("initialize: malformed result: %s", res.result)
	}
	c.protocol, c.session = init.ProtocolVersion, res.session
	_, err = c.post(ctx, c.protocol, "notifications/initialized", "", c.message("notifications/initialized", nil, false))
	return err
}

func (c *Client) send(ctx context.Context, version, method, name string, params map[string]any) (json.RawMessage, error) {
	if version == Modern {
		if params == nil {
			params = map[string]any{}
		}
		params["_meta"] = map[string]any{
			"io.modelcontextprotocol/protocolVersion":    Modern,
			"io.modelcontextprotocol/clientCapabilities": map[string]any{},
			"io.modelcontextprotocol/clientInfo":         map[string]any{"name": c.clientName(), "version": c.Version},
		}
	}
	res, err := c.post(ctx, version, method, name, c.message(method, params, true))
	if err != nil {
		return nil, err
	}
	return res.result, nil
}

type response struct {
	result  json.RawMessage
	session string
}

// message is a JSON-RPC request (with an id) or notification.
func (c *Client) message(method string, params map[string]any, request bool) []byte {
	m := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		m["params"] = params
	}
	if request {
		c.nextID++
		m["id"] = c.nextID
	}
	b, _ := json.Marshal(m) // maps of strings and JSON values always marshal
	return b
}

// post sends one message and reads the answer to it from a JSON or SSE body.
func (c *Client) post(ctx context.Context, version, method, name string, body []byte) (response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	c.headers(req, version, method)
	if version == Modern && name != "" {
		req.Header.Set("Mcp-Name", name)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	out := response{session: resp.Header.Get("Mcp-Session-Id")}
	if resp.StatusCode == http.StatusAccepted {
		return out, nil // a notification's answer
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var msg []byte
	switch {
	case ctype == "text/event-stream" && resp.StatusCode == http.StatusOK:
		msg, err = readEvents(resp.Body, c.nextID)
	case ctype == "application/json":
		msg, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		if resp.StatusCode >= 400 {
			return out, newHTTPError(method, resp, b)
		}
		return out, fmt.Errorf("%s: HTTP %s: %s", method, resp.Status, strings.TrimSpace(string(b)))
	}
	if err != nil {
		return out, fmt.Errorf("%s: reading the response: %w", method, err)
	}
	var rpc struct {
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	err = json.Unmarshal(msg, &rpc)
	switch {
	case err == nil && rpc.Error != nil:
		return out, rpc.Error
	case resp.StatusCode >= 400:
		return out, newHTTPError(method, resp, msg)
	case err != nil:
		return out, fmt.Errorf("%s: HTTP %s, not a JSON-RPC response: %.200s", method, resp.Status, msg)
	}
	if rpc.Result == nil {
		return out, fmt.Errorf("%s: HTTP %s, response without a result", method, resp.Status)
	}
	out.result = rpc.Result
	return out, nil
}

func (c *Client) headers(req *http.Request, version, method string) {
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	if version == Modern && method != "" {
		req.Header.Set("Mcp-Method", method)
	}
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
}

// readEvents returns the data of the event holding the response with id,
// skipping notifications, requests and priming events.
func readEvents(r io.Reader, id int) ([]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if isResponse(data, id) {
				return data, nil
			}
			data = data[:0]
			continue
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("the event stream ended without the response")
}

func isResponse(data []byte, id int) bool {
	if len(data) == 0 {
		return false
	}
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	return json.Unmarshal(data, &m) == nil && m.Method == "" && string(m.ID) == fmt.Sprint(id)
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) clientName() string {
	if c.Name == "" {
		return "mcpclient"
	}
	return c.Name
}
