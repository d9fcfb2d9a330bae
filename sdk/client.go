package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Client is how a handler talks to the MCP client behind a request: ask its
// model (Sample), its user (Elicit), or for its roots (Roots), and check what it
// supports first. Tools, prompts and resource reads all have one (Request,
// PromptRequest and ResourceRequest embed it).
//
// On a legacy MCP session a question is a request to the client, answered
// while the handler waits. On the 2026-07-28 protocol the host cannot hold the
// handler open while the client answers: the question ends this run, the
// client answers and retries, and the host runs the handler again from the top
// with every answer so far. The handler then reaches the same questions in the
// same order and gets the recorded answers at once. So a handler that asks must
// be safe to run again: ask before changing anything, ask the same questions
// in the same order (or name them with Key), and do the work after the last
// answer.
type Client struct {
	q       questioner
	caps    map[string]json.RawMessage
	version string
}

// questioner delivers a question: over a tool call's stream, or (prompts and
// resource reads) as a question the host asks before calling again.
type questioner interface {
	ask(ctx context.Context, key, method string, body []byte) (json.RawMessage, error)
}

func newClient(q questioner, meta *pluginv1.RequestMeta) Client {
	c := Client{q: q, version: meta.GetProtocolVersion()}
	if raw := meta.GetClientCapabilitiesJson(); len(raw) > 0 {
		_ = json.Unmarshal(raw, &c.caps)
	}
	return c
}

// Supports reports whether the client declared capability: "sampling",
// "elicitation" (form mode), "elicitation.url" or "roots". Outside a host call
// it is false.
func (c *Client) Supports(capability string) bool {
	name, sub, _ := strings.Cut(capability, ".")
	raw, ok := c.caps[name]
	if !ok || sub == "" {
		return ok
	}
	var inner map[string]json.RawMessage
	_ = json.Unmarshal(raw, &inner)
	_, ok = inner[sub]
	return ok
}

// ProtocolVersion is the MCP protocol version of the request ("" outside a host call).
func (c *Client) ProtocolVersion() string { return c.version }

// AskOption adjusts one question.
type AskOption func(*askOptions)

type askOptions struct{ key string }

// Key names a question; the name is what the client sees as the key of the
// input request on the 2026-07-28 protocol, and must be unique within a
// request. Without it questions are numbered in the order they are asked.
func Key(name string) AskOption { return func(o *askOptions) { o.key = name } }

func keyOf(opts []AskOption) string {
	var o askOptions
	for _, fn := range opts {
		fn(&o)
	}
	return o.key
}

// SamplingRequest asks the client's model for a completion (sampling/createMessage).
type SamplingRequest struct {
	Messages      []SamplingMessage `json:"messages"`
	SystemPrompt  string            `json:"systemPrompt,omitempty"`
	MaxTokens     int               `json:"maxTokens"`
	Temperature   *float64          `json:"temperature,omitempty"`
	StopSequences []string          `json:"stopSequences,omitempty"`
}

// SamplingMessage is one text message of a sampling request.
type SamplingMessage struct {
	Role string `json:"role"`
	Text string `json:"-"`
}

// MarshalJSON writes the MCP shape: {"role": ..., "content": {"type":"text","text":...}}.
func (m SamplingMessage) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{"role": m.Role, "content": map[string]string{"type": "text", "text": m.Text}})
}

// SamplingResult is the client's answer to a sampling request.
type SamplingResult struct {
	Role       string
	Text       string // the text of the answer, if it is text
	Model      string
	StopReason string
	// Raw is the whole result as the client sent it.
	Raw json.RawMessage
}

// Sample asks the client's model to answer (the client must support sampling).
func (c *Client) Sample(ctx context.Context, s SamplingRequest, opts ...AskOption) (*SamplingResult, error) {
	raw, err := c.ask(ctx, keyOf(opts), "sampling/createMessage", s)
	if err != nil {
		return nil, err
	}
	var res struct {
		Role    string `json:"role"`
		Model   string `json:"model"`
		Stop    string `json:"stopReason"`
		Content struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("sampling: malformed result: %w", err)
	}
	return &SamplingResult{Role: res.Role, Text: res.Content.Text, Model: res.Model, StopReason: res.Stop, Raw: raw}, nil
}

// ElicitResult is the user's answer to an elicitation: Action is "accept",
// "decline" or "cancel"; Content holds the form's values when accepted.
type ElicitResult struct {
	Action  string         `json:"action"`
	Content map[string]any `json:"content,omitempty"`
}

// Elicit asks the user, through the client, to fill in a form described by
// schema (a JSON Schema object of flat properties: a map, a struct, or raw JSON).
func (c *Client) Elicit(ctx context.Context, message string, schema any, opts ...AskOption) (*ElicitResult, error) {
	raw, err := c.ask(ctx, keyOf(opts), "elicitation/create", map[string]any{"message": message, "requestedSchema": schema})
	if err != nil {
		return nil, err
	}
	var res ElicitResult
	if err := json.Unmarshal(raw, &res); err != nil || res.Action == "" {
		return nil, fmt.Errorf("elicitation: malformed result (it needs an action)")
	}
	return &res, nil
}

// Root is one filesystem root the client shares (roots/list).
type Root struct {
	URI  string `json:"uri"`
	Name string `json:"name,omitempty"`
}

// Roots asks the client for its roots (the client must support roots).
func (c *Client) Roots(ctx context.Context, opts ...AskOption) ([]Root, error) {
	raw, err := c.ask(ctx, keyOf(opts), "roots/list", map[string]any{})
	if err != nil {
		return nil, err
	}
	var res struct {
		Roots []Root `json:"roots"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("roots: malformed result: %w", err)
	}
	return res.Roots, nil
}

// ErrNoClient is returned by Sample, Elicit and Roots outside a host call (for
// example under Plugin.Invoke in tests).
var ErrNoClient = errors.New("no MCP client to ask")

func (c *Client) ask(ctx context.Context, key, method string, params any) (json.RawMessage, error) {
	if c.q == nil {
		return nil, ErrNoClient
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	return c.q.ask(ctx, key, method, body)
}

// answers are the client's answers of earlier rounds of a request.
type answers map[string]*pluginv1.InputResponse

// lookup returns the answer filed under key, if it answers this question (an
// answer the client volunteered, unasked, carries no digest to compare).
func (a answers) lookup(key string, params []byte) (json.RawMessage, bool) {
	ans := a[key]
	if ans == nil {
		return nil, false
	}
	if d := ans.GetParamsSha256(); len(d) > 0 {
		sum := sha256.Sum256(params)
		if !bytes.Equal(sum[:], d) {
			return nil, false
		}
	}
	return ans.GetResultJson(), true
}

// streamQuestioner asks over a tool call's stream: the plugin sends a
// ClientRequest, the host asks the client, and sends back a ClientResponse
// with the same id.
type streamQuestioner struct {
	send    func(*pluginv1.CallToolResponse) error
	pending *pendingRequests
}

func (sq *streamQuestioner) ask(ctx context.Context, key, method string, body []byte) (json.RawMessage, error) {
	id, ch := sq.pending.add()
	defer sq.pending.remove(id)
	if key == "" {
		key = strconv.FormatUint(id, 10)
	}
	if ans, ok := sq.pending.answers.lookup(key, body); ok {
		return ans, nil
	}
	if sq.pending.listen != nil {
		sq.pending.listen()
	}
	err := sq.send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_ClientRequest{ClientRequest: &pluginv1.ClientRequest{Id: id, Key: key, Method: method, ParamsJson: body}}})
	if err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		if resp.GetDeferred() {
			return nil, ErrInputRequired
		}
		if resp.GetError() != "" {
			return nil, fmt.Errorf("%s: %s", method, resp.GetError())
		}
		return resp.GetResultJson(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ErrInputRequired is returned by Sample, Elicit and Roots when the question
// goes to the client in a new round (2026-07-28 protocol, and always for
// prompts and resource reads): ask anything else you need, then return; the
// result is discarded, and the handler runs again with the answers.
var ErrInputRequired = errors.New("input required: the client answers in a new round")

// deferredQuestioner collects the questions of a prompt or resource read; the
// host asks them and calls again with the answers.
type deferredQuestioner struct {
	answers   answers
	mu        sync.Mutex
	next      uint64
	questions []*pluginv1.ClientRequest
}

func (dq *deferredQuestioner) ask(_ context.Context, key, method string, body []byte) (json.RawMessage, error) {
	dq.mu.Lock()
	defer dq.mu.Unlock()
	dq.next++
	if key == "" {
		key = strconv.FormatUint(dq.next, 10)
	}
	if ans, ok := dq.answers.lookup(key, body); ok {
		return ans, nil
	}
	dq.questions = append(dq.questions, &pluginv1.ClientRequest{Id: dq.next, Key: key, Method: method, ParamsJson: body})
	return nil, ErrInputRequired
}

func (dq *deferredQuestioner) asked() []*pluginv1.ClientRequest {
	dq.mu.Lock()
	defer dq.mu.Unlock()
	return dq.questions
}

// pendingRequests matches client responses to the requests waiting for them,
// and holds the answers of earlier rounds of the call.
type pendingRequests struct {
	mu      sync.Mutex
	next    uint64
	wait    map[uint64]chan *pluginv1.ClientResponse
	answers answers
	// listen starts reading the host's answers, once; nil when the caller
	// reads them itself.
	listen func()
}

func newPending(a map[string]*pluginv1.InputResponse) *pendingRequests {
	return &pendingRequests{wait: map[uint64]chan *pluginv1.ClientResponse{}, answers: a}
}
func (p *pendingRequests) add() (uint64, chan *pluginv1.ClientResponse) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	ch := make(chan *pluginv1.ClientResponse, 1)
	p.wait[p.next] = ch
	return p.next, ch
}

func (p *pendingRequests) remove(id uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.wait, id)
}

// deliver hands a response to its waiter; responses nobody waits for, and
// repeated ones, are dropped.
func (p *pendingRequests) deliver(resp *pluginv1.ClientResponse) {
	p.mu.Lock()
	ch := p.wait[resp.GetId()]
	p.mu.Unlock()
	if ch != nil {
		select {
		case ch <- resp:
		default: // a second answer to one question: the reader of a call channel must never wait
		}
	}
}
