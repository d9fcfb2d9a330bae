package sdk

import (
	"encoding/json"
	"fmt"

	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// Result is what a tool returns: content blocks, optional structured content, and
// whether it is an error. Build one with the helpers below and combine them with Mix.
type Result struct {
	content    []*pluginv1.Content
	structured json.RawMessage
	isError    bool
}

// Text is a plain text result.
func Text(s string) *Result {
	return &Result{content: []*pluginv1.Content{textContent(s)}}
}

// Textf is Text with fmt formatting.
func Textf(format string, args ...any) *Result { return Text(fmt.Sprintf(format, args...)) }

// Markdown is a text result whose content is marked as Markdown in its `_meta`.
func Markdown(md string) *Result {
	c := textContent(md)
	c.MetaJson = []byte(`{"mimeType":"text/markdown"}`)
	return &Result{content: []*pluginv1.Content{c}}
}

// Object returns v as structured content and, for clients that only read text, as
// its indented JSON text. v must marshal to a JSON object; anything else is wrapped
// as {"result": v}, because MCP structured content is always an object.
func Object(v any) *Result {
	raw, err := json.Marshal(v)
	if err != nil {
		return Errorf("cannot encode result: %v", err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		raw, _ = json.Marshal(map[string]json.RawMessage{"result": raw})
	}
	pretty, _ := json.MarshalIndent(json.RawMessage(raw), "", "  ")
	return &Result{content: []*pluginv1.Content{textContent(string(pretty))}, structured: raw}
}

// Error is a tool error (isError) with a message the model and user will read.
func Error(msg string) *Result {
	return &Result{content: []*pluginv1.Content{textContent(msg)}, isError: true}
}

// Errorf is Error with fmt formatting.
func Errorf(format string, args ...any) *Result { return Error(fmt.Sprintf(format, args...)) }

// Image is an image content block (data is the raw bytes, not base64).
func Image(data []byte, mimeType string) *Result {
	return &Result{content: []*pluginv1.Content{{Kind: &pluginv1.Content_Image{Image: &pluginv1.BinaryContent{Data: data, MimeType: mimeType}}}}}
}

// Audio is an audio content block (data is the raw bytes, not base64).
func Audio(data []byte, mimeType string) *Result {
	return &Result{content: []*pluginv1.Content{{Kind: &pluginv1.Content_Audio{Audio: &pluginv1.BinaryContent{Data: data, MimeType: mimeType}}}}}
}

// EmbeddedResource is an embedded text resource.
func EmbeddedResource(uri, mimeType, text string) *Result {
	return &Result{content: []*pluginv1.Content{{Kind: &pluginv1.Content_Resource{Resource: &pluginv1.EmbeddedResource{
		Contents: &pluginv1.ResourceContents{Uri: uri, MimeType: mimeType, Body: &pluginv1.ResourceContents_Text{Text: text}},
	}}}}}
}

// EmbeddedBlob is an embedded binary resource.
func EmbeddedBlob(uri, mimeType string, data []byte) *Result {
	return &Result{content: []*pluginv1.Content{{Kind: &pluginv1.Content_Resource{Resource: &pluginv1.EmbeddedResource{
		Contents: &pluginv1.ResourceContents{Uri: uri, MimeType: mimeType, Body: &pluginv1.ResourceContents_Blob{Blob: data}},
	}}}}}
}

// ResourceLink points the client at a resource without embedding it.
func ResourceLink(uri, name, description, mimeType string) *Result {
	return &Result{content: []*pluginv1.Content{{Kind: &pluginv1.Content_ResourceLink{ResourceLink: &pluginv1.ResourceLink{
		Uri: uri, Name: name, Description: description, MimeType: mimeType,
	}}}}}
}

// Mix combines results in order: all content blocks, the last structured content,
// and isError if any part is an error.
func Mix(parts ...*Result) *Result {
	out := &Result{}
	for _, p := range parts {
		if p == nil {
			continue
		}
		out.content = append(out.content, p.content...)
		if p.structured != nil {
			out.structured = p.structured
		}
		out.isError = out.isError || p.isError
	}
	return out
}

// IsError reports whether r is a tool error.
func (r *Result) IsError() bool { return r != nil && r.isError }

func (r *Result) toProto() *pluginv1.CallToolResult {
	if r == nil {
		return &pluginv1.CallToolResult{}
	}
	return &pluginv1.CallToolResult{Content: r.content, StructuredContentJson: r.structured, IsError: r.isError}
}

func textContent(s string) *pluginv1.Content {
	return &pluginv1.Content{Kind: &pluginv1.Content_Text{Text: &pluginv1.TextContent{Text: s}}}
}

// Text returns the result's text content blocks joined by newlines (for tests and logs).
func (r *Result) Text() string {
	if r == nil {
		return ""
	}
	var out string
	for i, c := range r.content {
		if t := c.GetText(); t != nil {
			if i > 0 {
				out += "\n"
			}
			out += t.GetText()
		}
	}
	return out
}

// StructuredContent returns the result's structured content JSON, or nil.
func (r *Result) StructuredContent() json.RawMessage {
	if r == nil {
		return nil
	}
	return r.structured
}
