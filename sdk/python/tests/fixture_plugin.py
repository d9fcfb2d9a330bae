"""A plugin the serve tests start as a real process."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mcphost_sdk import Plugin, ToolError  # noqa: E402

plugin = Plugin("fixture", "9.9.9")


@plugin.tool
def echo(req, text: str) -> str:
    """Echoes text."""
    print("a stray print must not reach stdout")
    req.progress(1, 2, "half")
    req.log("info", {"echo": text})
    return f"{req.caller.user_id}:{text}"


@plugin.tool
def fail(req, how: str = "raise"):
    if how == "tool":
        raise ToolError("told to fail")
    raise KeyError("internal detail")


@plugin.tool
def wait(req, seconds: float = 30) -> str:
    """Waits until cancelled or seconds pass."""
    return "cancelled" if req.wait_cancelled(seconds) else "done"


@plugin.tool
def confirm(req) -> str:
    action, content = req.client.elicit("Sure?", {"type": "object", "properties": {"why": {"type": "string"}}})
    return f"{action}:{content.get('why', '')}"


if __name__ == "__main__":
    plugin.serve()
