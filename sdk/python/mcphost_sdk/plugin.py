"""Plugin: the tools one plugin process offers, and how a call runs."""

import asyncio
import inspect
import json
import logging
import re
import threading
import typing

from . import schema as schemas
from .caller import Caller
from .client import Client, InputRequired
from .results import Result, ToolError, error, to_result
from .wire import pb

PROTOCOL_VERSION = 1

log = logging.getLogger("mcphost_sdk")

_TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class Request:
    """One tool call as the handler sees it: who calls, and how to report
    progress and log lines back to the client while it runs."""

    def __init__(self, tool, caller, meta, send, arguments, cancelled=None, asker=None):
        self.tool = tool
        self.caller = caller
        # Host-assigned id of this call, for correlating logs.
        self.call_id = meta.call_id
        # The HTTP request's id (X-Request-Id), as in the host's logs and audit records.
        self.request_id = meta.request_id
        # The W3C trace context of the host's span for this call (traceparent,
        # tracestate); empty when not traced. OpenTelemetry's propagate.extract
        # takes it as a carrier, so the plugin's spans join the trace.
        self.trace_context = dict(meta.trace_context)
        # The MCP session (empty on sessionless requests).
        self.session_id = meta.mcp_session_id
        self.protocol_version = meta.protocol_version
        # The arguments as sent (JSON), before conversion to the handler's types.
        self.arguments = arguments
        self._progress = bool(meta.progress_token_json)
        self._send = send
        self._cancelled = cancelled or threading.Event()
        # Sampling, elicitation and roots: req.client.sample(...), .elicit(...).
        self.client = Client(asker, meta, self._cancelled)

    @property
    def wants_progress(self):
        """Whether the client asked for progress (sent a progress token)."""
        return self._progress

    def progress(self, progress, total=None, message=""):
        """Reports progress; dropped when the client asked for none."""
        if not self._progress:
            return
        ev = pb.ProgressEvent(progress=float(progress), message=message)
        if total is not None:
            ev.total = float(total)
        self._send(pb.CallToolResponse(progress=ev))

    def log(self, level, data, logger=""):
        """Sends an MCP log message (notifications/message) to the calling
        client. level is an MCP level: debug, info, notice, warning, error,
        critical, alert, emergency. Never log secrets."""
        if level not in _LEVELS:
            raise ValueError(f"log level {level!r} is not an MCP level ({', '.join(_LEVELS)})")
        raw = json.dumps(data, default=str).encode()
        self._send(pb.CallToolResponse(log=pb.LogEvent(level=level, logger=logger, data_json=raw)))

    @property
    def cancelled(self):
        """True once the client cancelled the call or its time ran out."""
        return self._cancelled.is_set()

    def wait_cancelled(self, timeout=None):
        """Blocks until the call is cancelled or timeout passes; True if cancelled."""
        return self._cancelled.wait(timeout)


_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class Tool:
    """A declared tool: its description for the host, and how to call it."""

    def __init__(self, fn, name, description, title, input_schema, output_schema, annotations, raw):
        self.fn = fn
        self.name = name
        self.description = description
        self.title = title
        self.input_schema = input_schema
        self.output_schema = output_schema
        self.annotations = annotations
        self.raw = raw  # an explicit schema: the handler takes (req, args)
        self._is_async = inspect.iscoroutinefunction(fn)
        if not raw:
            sig = inspect.signature(fn)
            hints = typing.get_type_hints(fn, include_extras=True)
            self._wants_req = "req" in sig.parameters
            self._hints = {n: hints[n] for n in sig.parameters if n != "req"}

    def to_proto(self):
        t = pb.Tool(name=self.name, title=self.title, description=self.description,
                    input_schema_json=json.dumps(self.input_schema).encode())
        if self.output_schema is not None:
            t.output_schema_json = json.dumps(self.output_schema).encode()
        if self.annotations:
            t.annotations.CopyFrom(pb.ToolAnnotations(title=self.title, **self.annotations))
        return t

    def invoke(self, req, args):
        if self.raw:
            out = self.fn(req, args)
        else:
            kwargs = {n: schemas.convert(v, self._hints[n]) for n, v in args.items()}
            if self._wants_req:
                kwargs["req"] = req
            out = self.fn(**kwargs)
        if self._is_async:
            out = asyncio.run(out)
        return out


class Plugin:
    """The tools of one plugin. Declare tools with @plugin.tool, then call
    plugin.serve() from the script's main."""

    def __init__(self, name, version="0.0.0"):
        if not name:
            raise ValueError("Plugin: name is required (it names the plugin in the host's logs)")
        self.name = name
        self.version = version
        self.tools = {}

    def tool(self, fn=None, *, name=None, description=None, title="", schema=None, output_schema=None,
             read_only=None, destructive=None, idempotent=None, open_world=None):
        """Declares a tool. The handler's parameters, with type hints, are the
        tool's arguments; a parameter named `req` receives the Request. The
        name defaults to the function's with - for _, the description to its
        docstring. With schema= (a JSON Schema dict) the handler is called as
        fn(req, args) with the arguments as a dict, checked against the schema
        only as far as schema.check goes."""

        def declare(fn):
            tool_name = name or fn.__name__.replace("_", "-")
            where = f"tool {tool_name} ({fn.__module__}.{fn.__qualname__})"
            if not _TOOL_NAME.match(tool_name):
                raise ValueError(f"{where}: the name must be 1-128 letters, digits, '_', '-' or '.'")
            if tool_name in self.tools:
                raise ValueError(f"{where}: a tool of that name is already declared")
            desc = description if description is not None else inspect.cleandoc(fn.__doc__ or "")
            if schema is not None:
                if not isinstance(schema, dict) or schema.get("type") != "object":
                    raise ValueError(f'{where}: schema must be a JSON Schema dict with "type": "object"')
                input_schema = schema
            else:
                try:
                    input_schema = schemas.schema_for_function(fn)
                except schemas.SchemaError as e:
                    raise ValueError(f"{where}: {e}") from None
            annotations = {k: v for k, v in (("read_only_hint", read_only), ("destructive_hint", destructive),
                                             ("idempotent_hint", idempotent), ("open_world_hint", open_world))
                           if v is not None}
            self.tools[tool_name] = Tool(fn, tool_name, desc, title, input_schema, output_schema,
                                         annotations, raw=schema is not None)
            return fn

        return declare(fn) if fn is not None else declare

    def describe(self):
        # input_responses: calls resume from the answers of earlier rounds
        # (req.client). No call_channel: the host opens a stream per call.
        return pb.DescribeResponse(name=self.name, version=self.version, protocol_version=PROTOCOL_VERSION,
                                   tools=[t.to_proto() for t in self.tools.values()],
                                   capabilities=["input_responses"])

    def run(self, start, send, cancelled=None, asker=None):
        """Runs one call to completion and returns its pb.CallToolResult. It
        never raises: a bad argument or a failing handler is a tool error."""
        tool = self.tools.get(start.tool)
        if tool is None:
            return error(f"unknown tool {start.tool!r}").to_proto()
        try:
            args = json.loads(start.arguments_json or b"{}")
        except ValueError as e:
            return error(f"tool {tool.name}: arguments are not JSON: {e}").to_proto()
        req = Request(tool.name, Caller.from_proto(start.caller), start.meta, send, args, cancelled, asker)
        try:
            schemas.check(args, tool.input_schema)
            res = to_result(tool.invoke(req, args))
        except schemas.ArgumentError as e:
            res = error(f"tool {tool.name}: {e}")
        except ToolError as e:
            res = error(str(e))
        except InputRequired:
            res = Result()  # the host discards it: the client answers and calls again
        except BaseException:  # noqa: BLE001 - a handler must never take the plugin down
            log.exception("tool %s failed", tool.name, extra={"tool": tool.name, "call_id": req.call_id})
            res = error(f"tool {tool.name} failed: internal error")
        return res.to_proto()

    def call(self, tool, args=None, caller=None, progress=False):
        """Runs one tool in-process, as the host would call it, and returns the
        Result and the events it sent (progress, log). Meant for plugin tests."""
        events = []
        meta = pb.RequestMeta(call_id="test", progress_token_json=b'"t"' if progress else b"")
        start = pb.CallToolStart(tool=tool, arguments_json=json.dumps(args or {}).encode(),
                                 caller=(caller or Caller()).to_proto(), meta=meta)
        r = self.run(start, events.append)
        res = Result(list(r.content), json.loads(r.structured_content_json) if r.structured_content_json else None,
                     r.is_error)
        return res, events

    def serve(self):
        """Serves the plugin to the host until it stops it (see serve.serve)."""
        from .serve import serve
        serve(self)
