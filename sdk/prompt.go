package sdk

import (
	"context"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Prompt is a prompt template clients can list and render with arguments.
type Prompt struct {
	Name        string
	Title       string
	Description string
	Arguments   []PromptArgument
	// Get renders the prompt. Missing required arguments are rejected before it
	// runs.
	Get func(ctx context.Context, req *PromptRequest) (*PromptResult, error)
	// Complete, if set, suggests values for an argument.
	Complete CompleteFunc
}

// PromptArgument declares one argument of a prompt.
type PromptArgument struct {
	Name        string
	Title       string
	Description string
	Required    bool
}

// PromptRequest is one prompts/get as the plugin sees it.
type PromptRequest struct {
	Name      string
	Arguments map[string]string
	Caller    *Caller
	// Client asks the MCP client things; see Client for how to write a Get
	// that asks.
	Client
}

// PromptResult is a rendered prompt.
type PromptResult struct {
	Description string
	Messages    []PromptMessage
}

// PromptMessage is one message of a rendered prompt. Build it with UserMessage
// or AssistantMessage.
type PromptMessage struct {
	role    string
	content *Result
}

// UserMessage is a user-role message holding r's content (Text, Image, Audio,
// EmbeddedResource, ...). Content with several blocks becomes several messages.
func UserMessage(r *Result) PromptMessage { return PromptMessage{role: "user", content: r} }

// AssistantMessage is an assistant-role message holding r's content.
func AssistantMessage(r *Result) PromptMessage { return PromptMessage{role: "assistant", content: r} }

func promptToProto(p Prompt) *pluginv1.Prompt {
	out := &pluginv1.Prompt{Name: p.Name, Title: p.Title, Description: p.Description}
	for _, a := range p.Arguments {
		out.Arguments = append(out.Arguments, &pluginv1.PromptArgument{Name: a.Name, Title: a.Title, Description: a.Description, Required: a.Required})
	}
	return out
}

func promptResultToProto(r *PromptResult) *pluginv1.GetPromptResponse {
	out := &pluginv1.GetPromptResponse{Description: r.Description}
	for _, m := range r.Messages {
		if m.content == nil {
			continue
		}
		for _, c := range m.content.content {
			out.Messages = append(out.Messages, &pluginv1.PromptMessage{Role: m.role, Content: c})
		}
	}
	return out
}
