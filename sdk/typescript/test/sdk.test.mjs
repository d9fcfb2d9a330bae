// In-process tests of the SDK: results, caller, tool declaration, dispatch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPlugin, Caller, text, markdown, object, error, image, resource, resourceLink, mix, z } from "../dist/index.js";
import { hclogTime, createLogger } from "../dist/log.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const plugin = (name = "t") => createPlugin({ name, version: "1.0.0", logger: quiet });

test("result helpers build the wire shapes", () => {
  assert.deepEqual(text("hi").toWire().content, [{ text: { text: "hi" } }]);
  assert.equal(markdown("# h").content[0].metaJson.toString(), '{"mimeType":"text/markdown"}');
  const o = object({ a: 1 });
  assert.deepEqual(o.structured, { a: 1 });
  assert.equal(o.text, '{\n  "a": 1\n}');
  assert.equal(o.toWire().structuredContentJson.toString(), '{"a":1}');
  assert.deepEqual(object([1, 2]).structured, { result: [1, 2] }, "structured content is always an object");
  assert.equal(object(undefined).isError, true);
  const e = error("nope");
  assert.equal(e.isError, true);
  assert.equal(e.toWire().isError, true);
  assert.deepEqual(image("aGk=", "image/png").content[0].image.data, Buffer.from("hi"), "a string is base64");
  assert.deepEqual(image(new Uint8Array([1, 2]), "image/png").content[0].image.data, Buffer.from([1, 2]));
  assert.deepEqual(resource("file:///a", "body").content[0], { resource: { contents: { uri: "file:///a", mimeType: "text/plain", text: "body" } } });
  assert.deepEqual(resource("file:///b", new Uint8Array([7]), "application/octet-stream").content[0].resource.contents.blob, Buffer.from([7]));
  assert.equal(resourceLink({ uri: "u", name: "n" }).content[0].resourceLink.uri, "u");
  const m = mix(text("a"), object({ b: 2 }), error("c"));
  assert.equal(m.content.length, 3);
  assert.deepEqual(m.structured, { b: 2 });
  assert.equal(m.isError, true);
});

test("caller checks roles, permissions and scopes and decodes claims", () => {
  const c = new Caller({
    userId: "u1", email: "u1@example.com", roles: ["admin"], permissions: ["docs:write"], scopes: ["openid"],
    organizationId: "org_1", sessionId: "sid", claimsJson: Buffer.from('{"sub":"u1","custom":"x"}'),
  });
  assert.equal(c.authenticated, true);
  assert.equal(c.hasRole("admin"), true);
  assert.equal(c.hasRole("Admin"), false, "roles match exactly");
  assert.equal(c.hasPermission("docs:write"), true);
  assert.equal(c.hasPermission("docs:read"), false);
  assert.equal(c.hasScope("openid"), true);
  assert.equal(c.organizationId, "org_1");
  assert.equal(c.sessionId, "sid");
  assert.equal(c.claims.custom, "x");
  const empty = new Caller();
  assert.equal(empty.authenticated, false);
  assert.deepEqual(empty.claims, {});
  assert.equal(new Caller({ claimsJson: Buffer.from("{bad") }).claims.sub, undefined, "bad claims are ignored, not thrown");
});

test("tool declarations fail fast, naming the tool", () => {
  const p = plugin();
  p.tool({ name: "ok", schema: z.object({}) }, () => "x");
  assert.throws(() => p.tool({ name: "ok" }, () => "x"), /tool ok is declared twice/);
  assert.throws(() => p.tool({ name: "bad name" }, () => "x"), /tool name "bad name"/);
  assert.throws(() => p.tool({ name: "arr", schema: z.array(z.string()) }, () => "x"), /tool arr: schema must be a z.object/);
  assert.throws(() => p.tool({ name: "nohandler" }), /tool nohandler has no handler/);
  assert.throws(() => createPlugin({ name: "x" }), /version is required/);
});

test("describe carries JSON Schema generated from zod", () => {
  const p = plugin("desc");
  p.tool(
    {
      name: "add",
      title: "Add",
      description: "Adds",
      schema: z.object({ a: z.number().describe("first"), b: z.number().default(1) }),
      outputSchema: z.object({ sum: z.number() }),
      annotations: { readOnlyHint: true },
    },
    ({ a, b }) => object({ sum: a + b }),
  );
  const d = p.describe();
  assert.equal(d.name, "desc");
  assert.equal(d.protocolVersion, 1);
  const [tool] = d.tools;
  const schema = JSON.parse(tool.inputSchemaJson.toString());
  assert.equal(schema.type, "object");
  assert.equal(schema.$schema, undefined);
  assert.equal(schema.properties.a.description, "first");
  assert.deepEqual(schema.required, ["a"], "a defaulted field is optional for the caller");
  assert.equal(JSON.parse(tool.outputSchemaJson.toString()).properties.sum.type, "number");
  assert.equal(tool.annotations.readOnlyHint, true);
  assert.deepEqual(JSON.parse(plugin().tool({ name: "noargs" }, () => "x").describe().tools[0].inputSchemaJson), { type: "object", properties: {} });
});

test("invoke validates input, normalizes results and turns throws into tool errors", async () => {
  const p = plugin();
  p.tool({ name: "add", schema: z.object({ a: z.number(), b: z.number().default(1) }) }, ({ a, b }) => object({ sum: a + b }));
  p.tool({ name: "str" }, () => "plain");
  p.tool({ name: "nothing" }, () => undefined);
  p.tool({ name: "throws" }, () => {
    throw new Error("broke");
  });
  p.tool({ name: "rejects" }, async () => Promise.reject("a string"));
  p.tool({ name: "who" }, (_i, req) => text(`${req.caller.email} in ${req.caller.organizationId}`));

  assert.deepEqual((await p.invoke("add", { a: 2 })).structured, { sum: 3 });
  const bad = await p.invoke("add", { a: "two" });
  assert.equal(bad.isError, true);
  assert.match(bad.text, /^invalid arguments for tool add: a: /);
  assert.match((await p.invoke("add", {})).text, /invalid arguments for tool add: a:/);
  assert.equal((await p.invoke("str")).text, "plain");
  assert.deepEqual((await p.invoke("nothing")).content, []);
  const thrown = await p.invoke("throws");
  assert.equal(thrown.isError, true);
  assert.equal(thrown.text, "tool throws failed: broke");
  assert.equal((await p.invoke("rejects")).text, "tool rejects failed: a string");
  assert.match((await p.invoke("missing")).text, /unknown tool "missing"/);
  assert.equal((await p.invoke("who", {}, { caller: { email: "a@b.c", organizationId: "org_9" } })).text, "a@b.c in org_9");
});

test("progress is sent only when the client asked for it; logs always", async () => {
  const p = plugin();
  p.tool({ name: "work" }, (_i, req) => {
    req.progress(1, 2, "half");
    req.progress(2);
    req.log("info", { done: true });
    return "ok";
  });
  const events = [];
  await p.invoke("work", {}, { progressToken: "tok", onEvent: (e) => events.push(e) });
  assert.deepEqual(events[0], { progress: { progress: 1, total: 2, message: "half" } });
  assert.deepEqual(events[1], { progress: { progress: 2, message: "" } }, "no total: unknown");
  assert.equal(events[2].log.level, "info");
  assert.equal(events[2].log.dataJson.toString(), '{"done":true}');
  const quietEvents = [];
  await p.invoke("work", {}, { onEvent: (e) => quietEvents.push(e) });
  assert.equal(quietEvents.length, 1, "only the log without a progress token");
});

test("sample and elicit go to the client and come back", async () => {
  const p = plugin();
  p.tool({ name: "ask" }, async (_i, req) => {
    const s = await req.sample({ messages: [] });
    const e = await req.elicit({ message: "ok?" });
    return text(`${s.model} ${e.action}`);
  });
  const asked = [];
  const res = await p.invoke("ask", {}, {
    onClientRequest: async (method) => {
      asked.push(method);
      return method === "sampling/createMessage" ? { model: "m1" } : { action: "accept" };
    },
  });
  assert.equal(res.text, "m1 accept");
  assert.deepEqual(asked, ["sampling/createMessage", "elicitation/create"]);
  assert.match((await p.invoke("ask")).text, /tool ask failed: the client cannot answer sampling\/createMessage/);
});

test("roots and closeStream", async () => {
  const p = plugin();
  p.tool({ name: "roots" }, async (_i, req) => {
    req.closeStream(2500);
    const r = await req.roots();
    return text(r.roots.map((x) => x.uri).join(","));
  });
  const events = [];
  const res = await p.invoke("roots", {}, {
    onEvent: (e) => events.push(e),
    onClientRequest: async (method) => (method === "roots/list" ? { roots: [{ uri: "file:///a" }] } : {}),
  });
  assert.equal(res.text, "file:///a");
  assert.deepEqual(events, [{ closeStream: { retryMs: 2500 } }]);
});

test("log lines are hclog JSON with go-plugin's timestamp layout", () => {
  assert.equal(hclogTime(new Date("2026-01-02T03:04:05.678Z")), "2026-01-02T03:04:05.678000Z");
  const lines = [];
  createLogger({ write: (l) => lines.push(l) }).error("it broke", { tool: "x", err: new Error("why") });
  const entry = JSON.parse(lines[0]);
  assert.equal(entry["@level"], "error");
  assert.equal(entry["@message"], "it broke");
  assert.equal(entry.tool, "x");
  assert.equal(entry.err, "why");
  assert.match(entry["@timestamp"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});
