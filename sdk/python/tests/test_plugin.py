import asyncio
import dataclasses
import json
import unittest
from typing import Optional

import mcphost_sdk as sdk
from mcphost_sdk import Caller, Plugin, ToolError
from mcphost_sdk.plugin import Request
from mcphost_sdk.wire import pb


@dataclasses.dataclass
class Item:
    name: str
    qty: int = 1


def make_plugin():
    p = Plugin("t", "1.0")

    @p.tool
    def add_items(req, items: list[Item], note: Optional[str] = None) -> dict:
        """Adds items."""
        req.progress(1, 1, "added")
        return {"total": sum(i.qty for i in items), "by": req.caller.user_id, "note": note}

    @p.tool(name="raw", schema={"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            read_only=True, title="Raw")
    def raw(req, args):
        return sdk.text(str(args["a"] * 2))

    @p.tool
    def admin_only(req) -> str:
        if not req.caller.has_role("admin"):
            raise ToolError("admin-only: admins only")
        return "ok"

    @p.tool
    async def later(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @p.tool
    def crash(req):
        raise ZeroDivisionError("1/0")

    return p


class Tools(unittest.TestCase):
    def setUp(self):
        self.p = make_plugin()

    def test_describe(self):
        d = self.p.describe()
        self.assertEqual([t.name for t in d.tools], ["add-items", "raw", "admin-only", "later", "crash"])
        add = json.loads(d.tools[0].input_schema_json)
        self.assertEqual(add["required"], ["items"])
        self.assertEqual(add["properties"]["items"]["items"]["required"], ["name"])
        self.assertEqual(d.tools[0].description, "Adds items.")
        self.assertTrue(d.tools[1].annotations.read_only_hint)
        self.assertFalse(d.tools[1].annotations.HasField("destructive_hint"))
        self.assertEqual(d.protocol_version, 1)

    def test_typed_call_with_dataclasses_and_progress(self):
        res, events = self.p.call("add-items", {"items": [{"name": "a", "qty": 2}, {"name": "b"}]},
                                  Caller(user_id="u"), progress=True)
        self.assertFalse(res.is_error, res)
        self.assertEqual(res.structured, {"total": 3, "by": "u", "note": None})
        self.assertEqual([e.progress.message for e in events], ["added"])
        _, events = self.p.call("add-items", {"items": []})
        self.assertEqual(events, [], "no progress without a progress token")

    def test_request_and_trace_ids(self):
        tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        meta = pb.RequestMeta(call_id="c", request_id="req-9", trace_context={"traceparent": tp})
        req = Request("raw", Caller(), meta, lambda m: None, b"{}")
        self.assertEqual((req.request_id, req.trace_context), ("req-9", {"traceparent": tp}))

    def test_raw_schema_async_and_roles(self):
        self.assertEqual(self.p.call("raw", {"a": 21})[0].text(), "42")
        self.assertIn("a is required", self.p.call("raw", {})[0].text())
        self.assertEqual(self.p.call("later", {"x": 1})[0].structured, {"result": 2})
        self.assertEqual(self.p.call("admin-only", {}, Caller(roles=("admin",)))[0].text(), "ok")
        res, _ = self.p.call("admin-only", {}, Caller(roles=("member",)))
        self.assertTrue(res.is_error)
        self.assertEqual(res.text(), "admin-only: admins only")

    def test_exceptions_are_tool_errors(self):
        with self.assertLogs("mcphost_sdk", "ERROR") as logs:
            res, _ = self.p.call("crash", {})
        self.assertTrue(res.is_error)
        self.assertEqual(res.text(), "tool crash failed: internal error")
        self.assertIn("ZeroDivisionError", "\n".join(logs.output))
        self.assertEqual(self.p.call("nope", {})[0].text(), "unknown tool 'nope'")

    def test_declaration_errors_name_the_tool(self):
        p = Plugin("x")
        with self.assertRaisesRegex(ValueError, "tool bad .*: parameter when: type .complex."):
            @p.tool(name="bad")
            def bad(when: complex):
                pass
        p.tool(lambda: None, name="dup")
        with self.assertRaisesRegex(ValueError, "tool dup .*already declared"):
            p.tool(lambda: None, name="dup")
        with self.assertRaisesRegex(ValueError, '"type": "object"'):
            p.tool(lambda req, args: None, name="s", schema={"type": "array"})
        with self.assertRaisesRegex(ValueError, "the name must be"):
            p.tool(lambda: None, name="has space")


class Results(unittest.TestCase):
    def test_helpers(self):
        self.assertEqual(sdk.text("hi").to_proto().content[0].text.text, "hi")
        md = sdk.markdown("# t").to_proto().content[0]
        self.assertEqual(json.loads(md.meta_json), {"mimeType": "text/markdown"})
        o = sdk.object({"a": [1, 2]}).to_proto()
        self.assertEqual(json.loads(o.structured_content_json), {"a": [1, 2]})
        self.assertIn('"a"', o.content[0].text.text)
        self.assertEqual(json.loads(sdk.object([1]).to_proto().structured_content_json), {"result": [1]})
        self.assertEqual(sdk.object(Item("n")).structured, {"result": {"name": "n", "qty": 1}})
        self.assertTrue(sdk.error("no").to_proto().is_error)
        img = sdk.image(b"\x89PNG", "image/png").to_proto().content[0]
        self.assertEqual((img.image.data, img.image.mime_type), (b"\x89PNG", "image/png"))
        r = sdk.resource("file:///a", text="body", mime_type="text/plain").to_proto().content[0]
        self.assertEqual((r.resource.contents.uri, r.resource.contents.text), ("file:///a", "body"))
        self.assertEqual(sdk.resource("u", blob=b"x").to_proto().content[0].resource.contents.blob, b"x")
        with self.assertRaises(ValueError):
            sdk.resource("u")
        both = sdk.text("a") + sdk.image(b"x") + sdk.error("e")
        self.assertEqual(len(both.content), 3)
        self.assertTrue(both.is_error)
        self.assertEqual(len(sdk.to_result(None).to_proto().content), 0)


class CallerTest(unittest.TestCase):
    def test_round_trip_and_checks(self):
        c = Caller(user_id="u", organization_id="o", roles=("admin",), permissions=("p:w",), scopes=("email",),
                   claims={"sub": "u"})
        back = Caller.from_proto(c.to_proto())
        self.assertEqual(back, c)
        self.assertTrue(back.has_role("x", "admin"))
        self.assertFalse(back.has_role("x"))
        self.assertTrue(back.has_permission("p:w"))
        self.assertTrue(back.has_scope("email"))
        self.assertFalse(back.has_scope("openid"))


if __name__ == "__main__":
    unittest.main()
