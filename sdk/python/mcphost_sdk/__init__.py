"""mcphost_sdk: write mcphost tool plugins in Python.

    from mcphost_sdk import Plugin, text

    plugin = Plugin("hello", "1.0.0")

    @plugin.tool
    def greet(req, name: str) -> str:
        \"\"\"Greets someone.\"\"\"
        return f"hello {name}, from {req.caller.user_id}"

    if __name__ == "__main__":
        plugin.serve()

Needs the Debian packages python3-grpcio, python3-protobuf and
python3-cryptography (no PyPI)."""

from .caller import Caller
from .client import Client, ClientRequestError, InputRequired
from .plugin import PROTOCOL_VERSION, Plugin, Request, Tool
from .results import (Result, ToolError, audio, error, image, markdown, mix, object, resource, resource_link,
                      text, to_result)
from .schema import ArgumentError, SchemaError, schema_for_type

__all__ = [
    "ArgumentError", "Caller", "Client", "ClientRequestError", "InputRequired", "PROTOCOL_VERSION", "Plugin", "Request", "Result", "SchemaError", "Tool",
    "ToolError", "audio", "error", "image", "markdown", "mix", "object", "resource", "resource_link",
    "schema_for_type", "text", "to_result",
]
