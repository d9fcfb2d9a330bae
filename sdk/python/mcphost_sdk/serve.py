"""Serving a Plugin to the mcphost host: the go-plugin handshake, AutoMTLS,
the gRPC services the host calls, and shutdown.

What the host expects (hashicorp/go-plugin, gRPC protocol):
- it starts the plugin with MCPHOST_PLUGIN=<cookie> and, for AutoMTLS,
  PLUGIN_CLIENT_CERT (the host's PEM certificate) in an otherwise empty
  environment;
- the plugin listens (here on a unix socket) and prints one line on stdout:
  CORE|APP|NETWORK|ADDRESS|grpc|CERT, where CERT is the plugin's own
  certificate, DER, base64 without padding; the host trusts exactly that
  certificate (server name "localhost") and presents its own, which the
  plugin must require;
- it serves mcphost.plugin.v1.PluginService, grpc.health.v1.Health (service
  "plugin" SERVING) and plugin.GRPCController/Shutdown, after which it exits.
Calls arrive as a CallTool stream per call: the SDK does not declare the
"call_channel" capability, so the host needs no Calls stream. It declares
"input_responses": questions to the client (req.client) resume from answers.
"""

import base64
import datetime
import json
import logging
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .client import StreamAsker
from .wire import CONTROLLER_SERVICE, HEALTH_SERVICE, PLUGIN_SERVICE, pb

MAGIC_COOKIE_KEY = "MCPHOST_PLUGIN"
MAGIC_COOKIE_VALUE = "d3b07384d113edec49eaa6238ad5ff00-mcphost-plugin"
# go-plugin's core protocol version and the app protocol (pluginrpc.ProtocolVersion).
CORE_PROTOCOL_VERSION = 1
APP_PROTOCOL_VERSION = 1

# Calls a plugin runs at once (the host's default max_concurrency is 32).
MAX_CALLS = int(os.environ.get("MCPHOST_PLUGIN_MAX_CALLS", "64"))
# How long running calls get to finish on SIGTERM or Shutdown.
SHUTDOWN_GRACE = 2.0

log = logging.getLogger("mcphost_sdk")


class _HCLogFormatter(logging.Formatter):
    """One JSON object a line, in go-plugin's hclog shape, so the host folds
    the plugin's log lines into its own log with their level."""

    _levels = {"DEBUG": "debug", "INFO": "info", "WARNING": "warn", "ERROR": "error", "CRITICAL": "error"}

    def format(self, record):
        line = {
            "@level": self._levels.get(record.levelname, "info"),
            "@message": record.getMessage(),
            "@module": record.name,
            "@timestamp": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(),
        }
        for k in ("tool", "call_id"):
            if hasattr(record, k):
                line[k] = getattr(record, k)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure_logging(level=logging.INFO):
    """Sends the logging module's records to stderr as hclog JSON. stdout is
    the handshake channel: nothing else may be written there."""
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(_HCLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(level)


def server_certificate():
    """A fresh self-signed certificate for "localhost", as go-plugin makes
    its own: returns (cert PEM, key PEM, cert DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mcphost plugin")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER)


def handshake_line(network, address, cert_der):
    cert = base64.b64encode(cert_der).decode().rstrip("=") if cert_der else ""
    return f"{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|{network}|{address}|grpc|{cert}"


class _Done:
    """Marks the end of a call's events: its result."""

    def __init__(self, response):
        self.response = response


class _Servicer:
    """The gRPC methods, bound to one plugin."""

    def __init__(self, plugin, calls):
        self.plugin = plugin
        self.calls = calls  # runs handlers, so the RPC thread can stream their events

    def describe(self, request, context):
        return self.plugin.describe()

    def call_tool(self, request_iterator, context):
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("input") != "start":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "protocol error: the first CallTool message must be start")
        events = queue.Queue()
        # The RPC ends when the client cancels, the deadline passes or the
        # host stops: the handler can see it (req.cancelled).
        cancelled = threading.Event()
        context.add_callback(cancelled.set)

        def send(msg):
            events.put(msg)

        # The host sends more only to answer the handler's questions, so the
        # reader of its answers starts with the first question.
        reader = []

        def start_reader():
            if not reader:
                reader.append(threading.Thread(target=read_answers, daemon=True))
                reader[0].start()

        def read_answers():
            try:
                for msg in request_iterator:
                    if msg.WhichOneof("input") == "client_response":
                        asker.deliver(msg.client_response)
            except grpc.RpcError:
                pass
            asker.fail_all("the host closed the call")

        asker = StreamAsker(send, dict(first.start.input_responses), start_reader)

        def run():
            try:
                result = self.plugin.run(first.start, send, cancelled, asker)
            except BaseException:  # Plugin.run catches handler failures; this is the SDK's own bug
                log.exception("call of %s failed", first.start.tool)
                result = pb.CallToolResult(content=[pb.Content(text=pb.TextContent(text="internal error"))],
                                           is_error=True)
            events.put(_Done(pb.CallToolResponse(result=result)))

        self.calls.submit(run)
        # Events in the order the handler sent them, then the one result;
        # anything sent after it (a thread the handler left behind) is dropped.
        while True:
            msg = events.get()
            if isinstance(msg, _Done):
                yield msg.response
                return
            yield msg

    def check(self, request, context):
        if request.service not in ("", "plugin"):
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return pb.HealthCheckResponse(status=pb.HealthCheckResponse.SERVING)


def _handlers(servicer, shutdown):
    def unary(fn, req, resp):
        return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=req.FromString,
                                                   response_serializer=resp.SerializeToString)

    def on_shutdown(request, context):
        shutdown("the host asked (GRPCController.Shutdown)")
        return pb.Empty()

    return [
        grpc.method_handlers_generic_handler(PLUGIN_SERVICE, {
            "Describe": unary(servicer.describe, pb.DescribeRequest, pb.DescribeResponse),
            "CallTool": grpc.stream_stream_rpc_method_handler(
                servicer.call_tool, request_deserializer=pb.CallToolRequest.FromString,
                response_serializer=pb.CallToolResponse.SerializeToString),
        }),
        grpc.method_handlers_generic_handler(HEALTH_SERVICE, {
            "Check": unary(servicer.check, pb.HealthCheckRequest, pb.HealthCheckResponse),
        }),
        grpc.method_handlers_generic_handler(CONTROLLER_SERVICE, {
            "Shutdown": unary(on_shutdown, pb.Empty, pb.Empty),
        }),
    ]


def serve(plugin):
    """Serves plugin until the host stops it (Shutdown or SIGTERM), then
    exits the process. Run by hand, outside mcphost, it says so and exits 1."""
    if os.environ.get(MAGIC_COOKIE_KEY) != MAGIC_COOKIE_VALUE:
        sys.stderr.write(f"{plugin.name} is an mcphost plugin: list it under plugins: in mcphost.yaml and "
                         "run mcphost, which starts it. It is not meant to be run by hand.\n")
        sys.exit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if versions and str(APP_PROTOCOL_VERSION) not in versions.split(","):
        sys.stderr.write(f"{plugin.name}: the host speaks plugin protocol {versions}, this SDK speaks "
                         f"{APP_PROTOCOL_VERSION}\n")
        sys.exit(1)

    # The handshake goes to the real stdout; everything else written to fd 1
    # afterwards (a stray print, a child process) goes to stderr instead.
    handshake_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if not logging.getLogger().handlers:
        configure_logging()

    calls = futures.ThreadPoolExecutor(max_workers=MAX_CALLS, thread_name_prefix="call")
    # Every call holds an RPC thread (streaming its events) and a call thread.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_CALLS + 8, thread_name_prefix="rpc"),
                         options=[("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)])
    stopping = threading.Event()

    def shutdown(why):
        if not stopping.is_set():
            log.info("plugin stopping: %s", why)
            stopping.set()

    for h in _handlers(_Servicer(plugin, calls), shutdown):
        server.add_generic_rpc_handlers((h,))

    # A directory of our own (mode 0700) holds the socket, so no other user
    # can reach it or race us to its name.
    sock_dir = tempfile.mkdtemp(prefix="mcphost-py-", dir=os.environ.get("PLUGIN_UNIX_SOCKET_DIR") or None)
    sock = os.path.join(sock_dir, "plugin.sock")
    client_cert = os.environ.get("PLUGIN_CLIENT_CERT", "")
    cert_der = b""
    if client_cert:
        cert_pem, key_pem, cert_der = server_certificate()
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_cert.encode(),
                                            require_client_auth=True)
        server.add_secure_port("unix:" + sock, creds)
    else:  # a host without AutoMTLS (mcphost always uses it)
        server.add_insecure_port("unix:" + sock)
    server.start()

    signal.signal(signal.SIGTERM, lambda *_: shutdown("SIGTERM"))
    # Like go-plugin: Ctrl-C in the host's terminal is the host's to handle.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    handshake_out.write(handshake_line("unix", sock, cert_der) + "\n")
    handshake_out.flush()
    log.info("plugin serving")

    # The main thread waits here so that signal handlers run promptly.
    while not stopping.wait(0.5):
        pass
    server.stop(SHUTDOWN_GRACE).wait()
    calls.shutdown(wait=False, cancel_futures=True)
    shutil.rmtree(sock_dir, ignore_errors=True)
    logging.shutdown()
    os._exit(0)  # call threads past their grace must not keep the process alive
