package host

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/mcphost/mcphost/mcpserver"
	pluginv1 "github.com/mcphost/mcphost/proto/mcphost/plugin/v1"
)

// MCP JSON for what plugins describe and return, appended straight from the
// protobuf messages. Raw JSON from a plugin (schemas, _meta, annotations,
// structured content) is copied only when it is a valid JSON object; it was
// checked where it matters (validateDescription, CallTool).

var str = mcpserver.AppendString

// appendCompact appends raw JSON without insignificant space (tool schemas are
// written once per routing table, so the cost is paid once).
func appendCompact(b, raw []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return append(b, raw...)
	}
	return append(b, buf.Bytes()...)
}

// appendObject appends ,"key":raw when raw is a JSON object.
func appendObject(b []byte, key string, raw []byte) []byte {
	if len(raw) == 0 || !isJSONObject(raw) {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return append(b, raw...)
}

func appendOptString(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return str(b, v)
}

func appendBool(b []byte, key string, v bool) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendBool(b, v)
}

// encodeTool is the tools/list entry of a route, computed once per table.
func encodeTool(r *route) []byte {
	t := r.tool
	b := str([]byte(`{"name":`), r.name)
	b = appendOptString(b, "title", t.GetTitle())
	b = appendOptString(b, "description", t.GetDescription())
	b = append(b, `,"inputSchema":`...)
	b = appendCompact(b, t.GetInputSchemaJson())
	if out := t.GetOutputSchemaJson(); len(out) > 0 && isJSONObject(out) {
		b = appendCompact(append(b, `,"outputSchema":`...), out)
	}
	if a := t.GetAnnotations(); a != nil {
		b = append(b, `,"annotations":{`...)
		n := len(b)
		if a.GetTitle() != "" {
			b = str(append(b, `"title":`...), a.GetTitle())
		}
		for _, h := range []struct {
			name string
			v    *bool
		}{{"readOnlyHint", a.ReadOnlyHint}, {"destructiveHint", a.DestructiveHint}, {"idempotentHint", a.IdempotentHint}, {"openWorldHint", a.OpenWorldHint}} {
			if h.v == nil {
				continue
			}
			if len(b) > n {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = append(b, h.name...)
			b = append(b, '"', ':')
			b = strconv.AppendBool(b, *h.v)
		}
		b = append(b, '}')
	}
	b = appendIcons(b, t.GetIcons())
	b = appendObject(b, "_meta", t.GetMetaJson())
	return append(b, '}')
}

func appendIcons(b []byte, icons []*pluginv1.Icon) []byte {
	if len(icons) == 0 {
		return b
	}
	b = append(b, `,"icons":[`...)
	for i, ic := range icons {
		if i > 0 {
			b = append(b, ',')
		}
		b = str(append(b, `{"src":`...), ic.GetSrc())
		b = appendOptString(b, "mimeType", ic.GetMimeType())
		if len(ic.GetSizes()) > 0 {
			b = append(b, `,"sizes":[`...)
			for j, s := range ic.GetSizes() {
				if j > 0 {
					b = append(b, ',')
				}
				b = str(b, s)
			}
			b = append(b, ']')
		}
		b = appendOptString(b, "theme", ic.GetTheme())
		b = append(b, '}')
	}
	return append(b, ']')
}

// toolResult writes a plugin's CallToolResult.
type toolResult struct{ r *pluginv1.CallToolResult }

func (t toolResult) AppendMembers(b []byte) []byte {
	b = append(b, `"content":[`...)
	first := true
	for _, c := range t.r.GetContent() {
		n := len(b)
		if !first {
			b = append(b, ',')
		}
		if m := appendContent(b, c); len(m) > len(b) {
			b = m
			first = false
		} else {
			b = b[:n] // a content kind from a newer plugin: dropped rather than sent malformed
		}
	}
	b = append(b, ']')
	if sc := t.r.GetStructuredContentJson(); len(sc) > 0 {
		b = append(b, `,"structuredContent":`...)
		b = append(b, sc...)
	}
	if t.r.GetIsError() {
		b = append(b, `,"isError":true`...)
	}
	return appendObject(b, "_meta", t.r.GetMetaJson())
}

// appendContent appends one content block, or nothing for an unknown kind.
func appendContent(b []byte, c *pluginv1.Content) []byte {
	start := len(b)
	switch k := c.GetKind().(type) {
	case *pluginv1.Content_Text:
		b = str(append(b, `{"type":"text","text":`...), k.Text.GetText())
	case *pluginv1.Content_Image:
		b = appendBinary(append(b, `{"type":"image"`...), k.Image)
	case *pluginv1.Content_Audio:
		b = appendBinary(append(b, `{"type":"audio"`...), k.Audio)
	case *pluginv1.Content_ResourceLink:
		l := k.ResourceLink
		b = str(append(b, `{"type":"resource_link","uri":`...), l.GetUri())
		b = str(append(b, `,"name":`...), l.GetName())
		b = appendOptString(b, "title", l.GetTitle())
		b = appendOptString(b, "description", l.GetDescription())
		b = appendOptString(b, "mimeType", l.GetMimeType())
		if l.Size != nil {
			b = strconv.AppendInt(append(b, `,"size":`...), l.GetSize(), 10)
		}
		b = appendIcons(b, l.GetIcons())
	case *pluginv1.Content_Resource:
		b = appendContents(append(b, `{"type":"resource","resource":`...), k.Resource.GetContents(), "")
	default:
		return b[:start]
	}
	b = appendObject(b, "annotations", c.GetAnnotationsJson())
	b = appendObject(b, "_meta", c.GetMetaJson())
	return append(b, '}')
}

func appendBinary(b []byte, c *pluginv1.BinaryContent) []byte {
	b = append(b, `,"data":"`...)
	b = base64.StdEncoding.AppendEncode(b, c.GetData())
	b = append(b, '"')
	return str(append(b, `,"mimeType":`...), c.GetMimeType())
}

// appendContents writes one resource contents object; an item without a URI
// gets the URI that was read.
func appendContents(b []byte, c *pluginv1.ResourceContents, uri string) []byte {
	u := c.GetUri()
	if u == "" {
		u = uri
	}
	b = str(append(b, `{"uri":`...), u)
	b = appendOptString(b, "mimeType", c.GetMimeType())
	switch body := c.GetBody().(type) {
	case *pluginv1.ResourceContents_Blob:
		b = append(b, `,"blob":"`...)
		b = base64.StdEncoding.AppendEncode(b, body.Blob)
		b = append(b, '"')
	case *pluginv1.ResourceContents_Text:
		b = str(append(b, `,"text":`...), body.Text)
	default:
		b = append(b, `,"text":""`...)
	}
	b = appendObject(b, "_meta", c.GetMetaJson())
	return append(b, '}')
}

type readResult struct {
	res *pluginv1.ReadResourceResponse
	uri string
}

func (r readResult) AppendMembers(b []byte) []byte {
	b = append(b, `"contents":[`...)
	for i, c := range r.res.GetContents() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendContents(b, c, r.uri)
	}
	return append(b, ']')
}

type promptResult struct{ res *pluginv1.GetPromptResponse }

func (p promptResult) AppendMembers(b []byte) []byte {
	if d := p.res.GetDescription(); d != "" {
		b = str(append(b, `"description":`...), d)
		b = append(b, ',')
	}
	b = append(b, `"messages":[`...)
	first := true
	for _, m := range p.res.GetMessages() {
		n := len(b)
		if !first {
			b = append(b, ',')
		}
		b = str(append(b, `{"role":`...), m.GetRole())
		b = append(b, `,"content":`...)
		c := appendContent(b, m.GetContent())
		if len(c) == len(b) {
			b = b[:n]
			continue
		}
		b = append(c, '}')
		first = false
	}
	return append(b, ']')
}

type completeResult struct{ res *pluginv1.CompleteResponse }

func (c completeResult) AppendMembers(b []byte) []byte {
	b = append(b, `"completion":{"values":[`...)
	for i, v := range c.res.GetValues() {
		if i > 0 {
			b = append(b, ',')
		}
		b = str(b, v)
	}
	b = append(b, ']')
	if c.res.Total != nil {
		b = strconv.AppendInt(append(b, `,"total":`...), int64(c.res.GetTotal()), 10)
	}
	if c.res.GetHasMore() {
		b = append(b, `,"hasMore":true`...)
	}
	return append(b, '}')
}

func appendPrompt(b []byte, fr *featureRoute) []byte {
	p := fr.prompt
	b = str(append(b, `{"name":`...), fr.key)
	b = appendOptString(b, "title", p.GetTitle())
	b = appendOptString(b, "description", p.GetDescription())
	if args := p.GetArguments(); len(args) > 0 {
		b = append(b, `,"arguments":[`...)
		for i, a := range args {
			if i > 0 {
				b = append(b, ',')
			}
			b = str(append(b, `{"name":`...), a.GetName())
			b = appendOptString(b, "title", a.GetTitle())
			b = appendOptString(b, "description", a.GetDescription())
			if a.GetRequired() {
				b = appendBool(b, "required", true)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendIcons(b, p.GetIcons())
	b = appendObject(b, "_meta", p.GetMetaJson())
	return append(b, '}')
}

func appendResource(b []byte, r *pluginv1.Resource) []byte {
	b = str(append(b, `{"uri":`...), r.GetUri())
	b = str(append(b, `,"name":`...), r.GetName())
	b = appendOptString(b, "title", r.GetTitle())
	b = appendOptString(b, "description", r.GetDescription())
	b = appendOptString(b, "mimeType", r.GetMimeType())
	if r.Size != nil {
		b = strconv.AppendInt(append(b, `,"size":`...), r.GetSize(), 10)
	}
	b = appendIcons(b, r.GetIcons())
	b = appendObject(b, "annotations", r.GetAnnotationsJson())
	b = appendObject(b, "_meta", r.GetMetaJson())
	return append(b, '}')
}

func appendTemplate(b []byte, t *pluginv1.ResourceTemplate) []byte {
	b = str(append(b, `{"uriTemplate":`...), t.GetUriTemplate())
	b = str(append(b, `,"name":`...), t.GetName())
	b = appendOptString(b, "title", t.GetTitle())
	b = appendOptString(b, "description", t.GetDescription())
	b = appendOptString(b, "mimeType", t.GetMimeType())
	b = appendIcons(b, t.GetIcons())
	b = appendObject(b, "annotations", t.GetAnnotationsJson())
	b = appendObject(b, "_meta", t.GetMetaJson())
	return append(b, '}')
}
