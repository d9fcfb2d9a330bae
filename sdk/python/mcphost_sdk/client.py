"""Questions to the MCP client behind a call: sampling (its model),
elicitation (its user) and roots.

On a legacy MCP session a question is a request to the client, answered while
the handler waits. On the 2026-07-28 protocol the host cannot hold the
handler open: the question ends this run (InputRequired is raised out of the
handler), the client answers and retries, and the host runs the handler again
from the top with every answer so far. So a handler that asks must be safe to
run again: ask before changing anything, ask the same questions in the same
order (or name them with key=), and do the work after the last answer.
"""

import hashlib
import itertools
import json
import threading

from .results import ToolError
from .wire import pb


class InputRequired(BaseException):
    """Raised by a question the client answers in a new round (2026-07-28).
    It derives from BaseException so an `except Exception` in a handler does
    not swallow it; let it propagate (the SDK ends the run)."""


class ClientRequestError(ToolError):
    """The client (or the host) could not answer; uncaught, a tool error."""


def _params(body):
    # The same params must make the same bytes in every round: the host
    # files an answer under the digest of what was asked.
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class StreamAsker:
    """Asks over a CallTool stream: a ClientRequest out, the ClientResponse
    with the same id back (read by `start_reader`, started with the first
    question)."""

    def __init__(self, send, answers, start_reader):
        self._send = send
        self._answers = answers  # key -> pb.InputResponse from earlier rounds
        self._start_reader = start_reader
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._waiting = {}

    def deliver(self, resp):
        with self._lock:
            slot = self._waiting.get(resp.id)
        if slot is not None:
            slot[1] = resp
            slot[0].set()

    def fail_all(self, why):
        with self._lock:
            slots = list(self._waiting.items())
        for id_, slot in slots:
            slot[1] = pb.ClientResponse(id=id_, error=why)
            slot[0].set()

    def ask(self, method, body, key, cancelled):
        raw = _params(body)
        with self._lock:
            id_ = next(self._ids)
        key = key or str(id_)
        ans = self._answers.get(key)
        if ans is not None and (not ans.params_sha256 or ans.params_sha256 == hashlib.sha256(raw).digest()):
            return json.loads(ans.result_json or b"null")
        slot = [threading.Event(), None]
        with self._lock:
            self._waiting[id_] = slot
        try:
            self._start_reader()
            self._send(pb.CallToolResponse(client_request=pb.ClientRequest(id=id_, key=key, method=method,
                                                                           params_json=raw)))
            while not slot[0].wait(0.2):
                if cancelled.is_set():
                    raise ClientRequestError(f"{method}: the call was cancelled")
        finally:
            with self._lock:
                self._waiting.pop(id_, None)
        resp = slot[1]
        if resp.deferred:
            raise InputRequired(method)
        if resp.error:
            raise ClientRequestError(f"{method}: {resp.error}")
        return json.loads(resp.result_json or b"null")


class Client:
    """What a Request can ask the MCP client (req.client)."""

    def __init__(self, asker, meta, cancelled):
        self._asker = asker
        self._cancelled = cancelled
        self.protocol_version = meta.protocol_version
        try:
            self._caps = json.loads(meta.client_capabilities_json) if meta.client_capabilities_json else {}
        except ValueError:
            self._caps = {}

    def supports(self, capability):
        """Whether the client declared capability: "sampling", "elicitation",
        "elicitation.url" or "roots"."""
        name, _, sub = capability.partition(".")
        if name not in self._caps:
            return False
        return not sub or sub in (self._caps.get(name) or {})

    def _ask(self, method, body, key):
        if self._asker is None:
            raise ClientRequestError(f"{method}: no MCP client to ask (not called through a host)")
        return self._asker.ask(method, body, key, self._cancelled)

    def sample(self, prompt, max_tokens=512, system_prompt=None, temperature=None, key=None):
        """Asks the client's model; prompt is a str (one user message) or a
        list of (role, text). Returns the answer's text; the whole result is
        in .raw of the returned str subclass."""
        msgs = [("user", prompt)] if isinstance(prompt, str) else list(prompt)
        body = {"messages": [{"role": r, "content": {"type": "text", "text": t}} for r, t in msgs],
                "maxTokens": max_tokens}
        if system_prompt is not None:
            body["systemPrompt"] = system_prompt
        if temperature is not None:
            body["temperature"] = temperature
        res = self._ask("sampling/createMessage", body, key) or {}
        return SampleResult((res.get("content") or {}).get("text", ""), res)

    def elicit(self, message, schema, key=None):
        """Asks the user to fill in a form (schema: a JSON Schema object of
        flat properties). Returns (action, content): action is "accept",
        "decline" or "cancel"."""
        res = self._ask("elicitation/create", {"message": message, "requestedSchema": schema}, key) or {}
        if not res.get("action"):
            raise ClientRequestError("elicitation/create: malformed result (it needs an action)")
        return res["action"], res.get("content") or {}

    def roots(self, key=None):
        """The client's roots as a list of {"uri", "name"}."""
        return (self._ask("roots/list", {}, key) or {}).get("roots", [])


class SampleResult(str):
    """The model's text; .model and .raw (the client's whole result) beside it."""

    def __new__(cls, text, raw):
        s = super().__new__(cls, text)
        s.raw = raw
        s.model = raw.get("model", "")
        return s
