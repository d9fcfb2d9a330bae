"""Tool results: what a handler returns.

A handler may return a Result from the helpers below, or a plain value: a str
becomes text, None an empty result, anything else JSON (see object). Raising
ToolError (or any exception) makes a tool error."""

import base64
import json

from .wire import pb


class Result:
    """One tool result: content blocks, optional structured content, and
    whether it is an error the model should see."""

    def __init__(self, content=None, structured=None, is_error=False, meta=None):
        self.content = list(content or [])
        self.structured = structured
        self.is_error = is_error
        self.meta = meta

    def text(self):
        """The text blocks joined by newlines (for tests)."""
        return "\n".join(c.text.text for c in self.content if c.WhichOneof("kind") == "text")

    def to_proto(self):
        r = pb.CallToolResult(content=self.content, is_error=self.is_error)
        if self.structured is not None:
            r.structured_content_json = json.dumps(self.structured, separators=(",", ":")).encode()
        if self.meta:
            r.meta_json = json.dumps(self.meta).encode()
        return r

    def __add__(self, other):
        """Results combine: text("a") + image(...) is one result of two blocks."""
        return mix(self, other)

    def __repr__(self):
        kind = "error" if self.is_error else "result"
        return f"<{kind} {self.text()!r}>"


class ToolError(Exception):
    """Raise it to end a call with a tool error whose message the client sees.
    Other exceptions become a generic error (their text goes to the log only,
    since it may hold internals)."""


def _text_content(s):
    return pb.Content(text=pb.TextContent(text=s))


def text(s):
    return Result([_text_content(str(s))])


def markdown(md):
    """Text the client may render as Markdown."""
    c = _text_content(md)
    c.meta_json = b'{"mimeType":"text/markdown"}'
    return Result([c])


def object(value, text=None):
    """A JSON value as structured content, and as indented JSON text for
    clients that read text only. A non-object value is wrapped as
    {"result": value}, since structured content must be an object."""
    if not isinstance(value, dict):
        value = {"result": value}
    try:
        shown = text if text is not None else json.dumps(value, indent=2, default=_jsonable)
        structured = json.loads(json.dumps(value, default=_jsonable))
    except (TypeError, ValueError) as e:
        return error(f"cannot encode result: {e}")
    return Result([_text_content(shown)], structured=structured)


def error(message):
    """A tool error the model sees (is_error), not a protocol error."""
    return Result([_text_content(message)], is_error=True)


def image(data, mime_type="image/png"):
    return Result([pb.Content(image=pb.BinaryContent(data=bytes(data), mime_type=mime_type))])


def audio(data, mime_type):
    return Result([pb.Content(audio=pb.BinaryContent(data=bytes(data), mime_type=mime_type))])


def resource(uri, text=None, blob=None, mime_type=""):
    """An embedded resource: its text or its bytes (blob), not both."""
    if (text is None) == (blob is None):
        raise ValueError("resource: give exactly one of text and blob")
    rc = pb.ResourceContents(uri=uri, mime_type=mime_type)
    if text is not None:
        rc.text = text
    else:
        rc.blob = bytes(blob)
    return Result([pb.Content(resource=pb.EmbeddedResource(contents=rc))])


def resource_link(uri, name, description="", mime_type=""):
    return Result([pb.Content(resource_link=pb.ResourceLink(uri=uri, name=name, description=description, mime_type=mime_type))])


def mix(*parts):
    """One result of the blocks of several; an error if any part is one."""
    out = Result()
    for p in parts:
        p = to_result(p)
        out.content.extend(p.content)
        out.is_error = out.is_error or p.is_error
        if p.structured is not None:
            out.structured = p.structured
    return out


def to_result(value):
    """What a handler returned, as a Result."""
    if isinstance(value, Result):
        return value
    if value is None:
        return Result()
    if isinstance(value, str):
        return text(value)
    return object(value)


def _jsonable(v):
    import dataclasses
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return dataclasses.asdict(v)
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")
