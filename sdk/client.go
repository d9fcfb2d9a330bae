package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Requests from a tool to the MCP client (sampling, elicitation) travel over the
// call's stream: the plugin sends a ClientRequest, the host asks the client on
// the calling session, and sends back a ClientResponse with the same id.

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

// Sample asks the calling client's model to answer (the client must support
// sampling; a stateless server cannot ask).
func (r *Request) Sample(ctx context.Context, s SamplingRequest) (*SamplingResult, error) {
	raw, err := r.ask(ctx, "sampling/createMessage", s)
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

// Elicit asks the user, through the calling client, to fill in a form described
// by schema (a JSON Schema object of flat properties: a map, a struct, or raw JSON).
func (r *Request) Elicit(ctx context.Context, message string, schema any) (*ElicitResult, error) {
	raw, err := r.ask(ctx, "elicitation/create", map[string]any{"message": message, "requestedSchema": schema})
	if err != nil {
		return nil, err
	}
	var res ElicitResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("elicitation: malformed result: %w", err)
	}
	return &res, nil
}

// Root is one filesystem root the client shares (roots/list).
type Root struct {
	URI  string `json:"uri"`
	Name string `json:"name,omitempty"`
}

// Roots asks the calling client for its roots (the client must support roots).
func (r *Request) Roots(ctx context.Context) ([]Root, error) {
	raw, err := r.ask(ctx, "roots/list", map[string]any{})
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

// ErrNoClient is returned by Sample, Elicit and Roots outside a host call (for example
// under Plugin.Invoke in tests).
var ErrNoClient = errors.New("no MCP client to ask")

// ask sends a request to the client and waits for its answer or ctx.
//
// On the 2026-07-28 MCP protocol the host cannot hold the call open while the
// client answers: it ends the call, the client answers and retries, and the
// host runs the handler again with the answers of every earlier round. The
// handler then reaches the same questions in the same order, and ask returns
// the recorded answer without asking again (if the question is the same).
func (r *Request) ask(ctx context.Context, method string, params any) (json.RawMessage, error) {
	if r.pending == nil {
		return nil, ErrNoClient
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	id, ch := r.pending.add()
	defer r.pending.remove(id)
	if ans, ok := r.pending.answered(id, body); ok {
		return ans, nil
	}
	err = r.send(&pluginv1.CallToolResponse{Output: &pluginv1.CallToolResponse_ClientRequest{ClientRequest: &pluginv1.ClientRequest{Id: id, Method: method, ParamsJson: body}}})
	if err != nil {
		return nil, err
	}
	select {
	case resp := <-ch:
		if resp.GetError() != "" {
			return nil, fmt.Errorf("%s: %s", method, resp.GetError())
		}
		return resp.GetResultJson(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pendingRequests matches client responses to the requests waiting for them,
// and holds the answers of earlier rounds of the call.
type pendingRequests struct {
	mu      sync.Mutex
	next    uint64
	wait    map[uint64]chan *pluginv1.ClientResponse
	answers map[string]*pluginv1.InputResponse
}

func newPending(answers map[string]*pluginv1.InputResponse) *pendingRequests {
	return &pendingRequests{wait: map[uint64]chan *pluginv1.ClientResponse{}, answers: answers}
}

// answered returns the earlier round's answer to request id, if the question
// asked now is the one that was answered.
func (p *pendingRequests) answered(id uint64, params []byte) (json.RawMessage, bool) {
	a := p.answers[strconv.FormatUint(id, 10)]
	if a == nil {
		return nil, false
	}
	sum := sha256.Sum256(params)
	if !bytes.Equal(sum[:], a.GetParamsSha256()) {
		return nil, false
	}
	return a.GetResultJson(), true
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

// deliver hands a response to its waiter; responses nobody waits for are dropped.
func (p *pendingRequests) deliver(resp *pluginv1.ClientResponse) {
	p.mu.Lock()
	ch := p.wait[resp.GetId()]
	p.mu.Unlock()
	if ch != nil {
		ch <- resp
	}
}
