"""The plugin process as the host sees it: environment, handshake line,
AutoMTLS, the gRPC services, and shutdown. Real processes, real TLS."""

import base64
import hashlib
import json
import queue
import os
import signal
import subprocess
import sys
import unittest

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mcphost_sdk import serve
from mcphost_sdk.wire import CONTROLLER_SERVICE, HEALTH_SERVICE, PLUGIN_SERVICE, pb

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture_plugin.py")


class PluginProcess:
    """Starts the fixture as the host would: an empty environment plus the
    cookie and the host's certificate; reads the handshake line."""

    def __init__(self, env=None):
        self.host_cert, self.host_key, _ = serve.server_certificate()
        base = {"MCPHOST_PLUGIN": serve.MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "1",
                "PLUGIN_CLIENT_CERT": self.host_cert.decode()}
        self.proc = subprocess.Popen([sys.executable, FIXTURE], env=base if env is None else env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.line = self.proc.stdout.readline().decode().rstrip("\n")

    def channel(self, cert_pem=None, key_pem=None):
        parts = self.line.split("|")
        der = base64.b64decode(parts[5] + "=" * (-len(parts[5]) % 4))
        server_pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        creds = grpc.ssl_channel_credentials(root_certificates=server_pem, private_key=key_pem or self.host_key,
                                             certificate_chain=cert_pem or self.host_cert)
        return grpc.secure_channel("unix:" + parts[3], creds, options=[("grpc.ssl_target_name_override", "localhost")])

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # a graceful stop removes the socket
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def unary(ch, service, method, req, resp):
    return ch.unary_unary(f"/{service}/{method}", request_serializer=req.SerializeToString,
                          response_deserializer=resp.FromString)


def call_tool(ch, tool, args, progress=True, timeout=10):
    rpc = ch.stream_stream(f"/{PLUGIN_SERVICE}/CallTool", request_serializer=pb.CallToolRequest.SerializeToString,
                           response_deserializer=pb.CallToolResponse.FromString)
    start = pb.CallToolStart(tool=tool, arguments_json=args.encode(), caller=pb.Caller(user_id="u1"),
                             meta=pb.RequestMeta(call_id="c1", progress_token_json=b'"p"' if progress else b""))
    return list(rpc(iter([pb.CallToolRequest(start=start)]), timeout=timeout))


class Serve(unittest.TestCase):
    def setUp(self):
        self.p = PluginProcess()
        self.addCleanup(self.p.close)

    def test_handshake_line(self):
        parts = self.p.line.split("|")
        self.assertEqual(parts[:3], ["1", "1", "unix"], self.p.line)
        self.assertEqual(parts[4], "grpc")
        self.assertFalse(parts[5].endswith("="), "the certificate is base64 without padding")
        cert = x509.load_der_x509_certificate(base64.b64decode(parts[5] + "=" * (-len(parts[5]) % 4)))
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(san.get_values_for_type(x509.DNSName), ["localhost"])

    def test_describe_call_health_and_shutdown(self):
        ch = self.p.channel()
        d = unary(ch, PLUGIN_SERVICE, "Describe", pb.DescribeRequest, pb.DescribeResponse)(
            pb.DescribeRequest(host_protocol_version=1), timeout=10)
        self.assertEqual((d.name, d.version, d.protocol_version), ("fixture", "9.9.9", 1))
        self.assertEqual([t.name for t in d.tools], ["echo", "fail", "wait", "confirm"])
        self.assertEqual(list(d.capabilities), ["input_responses"])

        out = call_tool(ch, "echo", '{"text":"hi"}')
        kinds = [m.WhichOneof("output") for m in out]
        self.assertEqual(kinds, ["progress", "log", "result"])
        self.assertEqual(out[0].progress.message, "half")
        self.assertEqual(out[2].result.content[0].text.text, "u1:hi")

        out = call_tool(ch, "fail", "{}")
        self.assertTrue(out[-1].result.is_error)
        self.assertEqual(out[-1].result.content[0].text.text, "tool fail failed: internal error")
        out = call_tool(ch, "fail", '{"how":"tool"}')
        self.assertEqual(out[-1].result.content[0].text.text, "told to fail")

        h = unary(ch, HEALTH_SERVICE, "Check", pb.HealthCheckRequest, pb.HealthCheckResponse)(
            pb.HealthCheckRequest(service="plugin"), timeout=10)
        self.assertEqual(h.status, pb.HealthCheckResponse.SERVING)

        unary(ch, CONTROLLER_SERVICE, "Shutdown", pb.Empty, pb.Empty)(pb.Empty(), timeout=10)
        self.assertEqual(self.p.proc.wait(10), 0)
        # Only the handshake went to stdout; the handler's print went to stderr.
        self.assertEqual(self.p.proc.stdout.read(), b"")
        err = self.p.proc.stderr.read().decode()
        self.assertIn("a stray print must not reach stdout", err)
        self.assertIn('"@message": "tool fail failed"', err)
        self.assertIn("KeyError", err)  # the traceback is logged, not sent

    def test_questions_to_the_client(self):
        ch = self.p.channel()
        rpc = ch.stream_stream(f"/{PLUGIN_SERVICE}/CallTool", request_serializer=pb.CallToolRequest.SerializeToString,
                               response_deserializer=pb.CallToolResponse.FromString)

        def converse(start, answer):
            """Sends start, answers the first question with answer (a
            pb.ClientResponse without id), returns the question and the result."""
            outbox = queue.Queue()
            outbox.put(pb.CallToolRequest(start=start))
            responses = rpc(iter(outbox.get, None), timeout=10)
            question = None
            for msg in responses:
                if msg.WhichOneof("output") == "client_request":
                    question = msg.client_request
                    answer.id = question.id
                    outbox.put(pb.CallToolRequest(client_response=answer))
                elif msg.WhichOneof("output") == "result":
                    outbox.put(None)
                    return question, msg.result

        # Legacy session: the answer comes back on the stream.
        q, res = converse(pb.CallToolStart(tool="confirm", arguments_json=b"{}"),
                          pb.ClientResponse(result_json=b'{"action":"accept","content":{"why":"yes"}}'))
        self.assertEqual((q.id, q.key, q.method), (1, "1", "elicitation/create"))
        self.assertEqual(json.loads(q.params_json)["message"], "Sure?")
        self.assertEqual(res.content[0].text.text, "accept:yes")
        # 2026-07-28: deferred ends the run (its result is discarded) ...
        _, res = converse(pb.CallToolStart(tool="confirm", arguments_json=b"{}"),
                          pb.ClientResponse(error="new round", deferred=True))
        self.assertFalse(res.is_error)
        self.assertEqual(len(res.content), 0)
        # ... and the retry carries the answer, filed under the digest of the question.
        answer = pb.InputResponse(result_json=b'{"action":"decline"}', params_sha256=hashlib.sha256(q.params_json).digest())
        question, res = converse(pb.CallToolStart(tool="confirm", arguments_json=b"{}", input_responses={"1": answer}),
                                 pb.ClientResponse())
        self.assertIsNone(question, "an answered question is not asked again")
        self.assertEqual(res.content[0].text.text, "decline:")
        # An answer to a different question (digest mismatch) is not used.
        wrong = pb.InputResponse(result_json=b'{"action":"decline"}', params_sha256=b"x" * 32)
        question, res = converse(pb.CallToolStart(tool="confirm", arguments_json=b"{}", input_responses={"1": wrong}),
                                 pb.ClientResponse(error="client has no elicitation"))
        self.assertIsNotNone(question)
        self.assertTrue(res.is_error)
        self.assertEqual(res.content[0].text.text, "elicitation/create: client has no elicitation")

    def test_cancel_reaches_handler(self):
        ch = self.p.channel()
        with self.assertRaises(grpc.RpcError) as cm:
            call_tool(ch, "wait", '{"seconds": 30}', timeout=0.5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
        out = call_tool(ch, "echo", '{"text":"still here"}')
        self.assertEqual(out[-1].result.content[0].text.text, "u1:still here")

    def test_client_without_the_host_certificate_is_refused(self):
        other_cert, other_key, _ = serve.server_certificate()
        ch = self.p.channel(other_cert, other_key)
        with self.assertRaises(grpc.RpcError) as cm:
            unary(ch, PLUGIN_SERVICE, "Describe", pb.DescribeRequest, pb.DescribeResponse)(pb.DescribeRequest(),
                                                                                          timeout=5)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)

    def test_sigterm_stops_gracefully(self):
        self.p.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.p.proc.wait(10), 0)
        self.assertIn("plugin stopping: SIGTERM", self.p.proc.stderr.read().decode())


class RunByHand(unittest.TestCase):
    def test_without_the_cookie_it_explains_and_exits(self):
        p = PluginProcess(env={})
        self.addCleanup(p.close)
        self.assertEqual(p.line, "")
        self.assertEqual(p.proc.wait(10), 1)
        self.assertIn("is an mcphost plugin", p.proc.stderr.read().decode())


if __name__ == "__main__":
    unittest.main()
