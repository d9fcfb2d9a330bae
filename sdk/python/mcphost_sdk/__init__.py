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

try:
    import cryptography  # noqa: F401
    import google.protobuf  # noqa: F401
    import grpc  # noqa: F401
except ImportError as e:  # say what to install: a plugin's stderr tail is what the host reports
    raise ImportError(f"mcphost_sdk needs the Debian packages python3-grpcio, python3-protobuf and python3-cryptography "
                      f"(apt-get install -y python3-grpcio python3-protobuf python3-cryptography) for the "
                      f"interpreter running this plugin: {e}") from e

# The imports below follow the check above on purpose.
from .caller import Caller  # noqa: E402
from .client import Client, ClientRequestError, InputRequired  # noqa: E402
from .plugin import PROTOCOL_VERSION, Plugin, Request, Tool  # noqa: E402
from .results import (Result, ToolError, audio, error, image, markdown, mix, object, resource,  # noqa: E402
                      resource_link, text, to_result)
from .schema import ArgumentError, SchemaError, schema_for_type  # noqa: E402

__all__ = [
    "ArgumentError", "Caller", "Client", "ClientRequestError", "InputRequired", "PROTOCOL_VERSION", "Plugin",
    "Request", "Result", "SchemaError", "Tool", "ToolError", "audio", "error", "image", "markdown", "mix", "object", "resource", "resource_link",
    "schema_for_type", "text", "to_result",
]
