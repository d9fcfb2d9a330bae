// Resources, templates and prompts in-process; the host tests read them through mcphost.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createPlugin, NotFoundError, InvalidArgumentsError, z } from "../dist/index.js";
import { templateMatcher } from "../dist/features.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

test("URI templates match simple and reserved expressions", () => {
  assert.deepEqual(templateMatcher("tasks://{id}")("tasks://ab12"), { id: "ab12" });
  assert.equal(templateMatcher("tasks://{id}")("tasks://a/b"), undefined, "{id} is one segment");
  assert.deepEqual(templateMatcher("file:///{+path}")("file:///a/b%20c.txt"), { path: "a/b c.txt" });
  assert.deepEqual(templateMatcher("x://{org}/items/{id}.json")("x://o1/items/7.json"), { org: "o1", id: "7" });
  assert.throws(() => templateMatcher("x://{?q}"), /expression \{\?q\} is not supported/);
});

test("resources and templates are read with the caller; unknown URIs are not found", async () => {
  const p = createPlugin({ name: "r", version: "1", logger: quiet });
  p.resource({ uri: "info://about", name: "about", mimeType: "text/plain" }, () => "about text");
  p.resourceTemplate({ uriTemplate: "notes://{id}", name: "note", mimeType: "text/markdown" }, ({ params, caller }) => {
    if (params.id === "missing") throw new NotFoundError("no note missing");
    return [`# ${params.id} for ${caller.organizationId}`, { mimeType: "application/octet-stream", blob: new Uint8Array([1]) }];
  });
  assert.throws(() => p.resource({ uri: "info://about", name: "again" }, () => ""), /resource info:\/\/about is declared twice/);
  assert.deepEqual(await p.readResource("info://about"), [{ uri: "info://about", mimeType: "text/plain", text: "about text" }]);
  const note = await p.readResource("notes://n1", { organizationId: "org_1" }, "notes://{id}");
  assert.equal(note[0].text, "# n1 for org_1");
  assert.deepEqual(note[1].blob, Buffer.from([1]));
  await assert.rejects(p.readResource("notes://missing"), NotFoundError);
  await assert.rejects(p.readResource("other://x"), /no resource other:\/\/x/);
  const d = p.describe();
  assert.deepEqual([...d.capabilities].sort(), ["call_channel", "input_responses", "notifications", "resources"]);
  assert.equal(d.resources[0].uri, "info://about");
  assert.equal(d.resourceTemplates[0].uriTemplate, "notes://{id}");
});

test("prompts declare string arguments and validate them", async () => {
  const p = createPlugin({ name: "p", version: "1", logger: quiet });
  p.prompt({ name: "greet", description: "Greets", args: z.object({ who: z.string().min(1).describe("whom"), tone: z.string().optional() }) }, ({ who, tone }) => [
    { role: "user", text: `Greet ${who}${tone ? ` ${tone}` : ""}` },
    { role: "assistant", text: "Hello!" },
  ]);
  p.prompt({ name: "plain" }, () => "just text");
  assert.throws(() => p.prompt({ name: "num", args: z.object({ n: z.number() }) }, () => ""), /prompt num: argument n must be a string/);
  const d = p.describe();
  assert.deepEqual([...d.capabilities].sort(), ["call_channel", "input_responses", "notifications", "prompts"]);
  assert.deepEqual(d.prompts[0].arguments, [
    { name: "who", title: "", description: "whom", required: true },
    { name: "tone", title: "", description: "", required: false },
  ]);
  const res = await p.getPrompt("greet", { who: "Ada", tone: "warmly" });
  assert.deepEqual(res.messages, [
    { role: "user", content: { text: { text: "Greet Ada warmly" } } },
    { role: "assistant", content: { text: { text: "Hello!" } } },
  ]);
  assert.equal((await p.getPrompt("plain")).messages[0].content.text.text, "just text");
  await assert.rejects(p.getPrompt("greet", {}), (e) => e instanceof InvalidArgumentsError && /invalid arguments for prompt greet: who/.test(e.message));
  await assert.rejects(p.getPrompt("nope"), NotFoundError);
});

test("completions suggest values for prompt and template arguments", async () => {
  const p = createPlugin({ name: "c", version: "1", logger: quiet });
  const colors = ["red", "green", "grey"];
  p.prompt({ name: "paint", args: z.object({ color: z.string() }), complete: { color: (v) => colors.filter((c) => c.startsWith(v)) } }, ({ color }) => color);
  p.resourceTemplate(
    { uriTemplate: "n://{org}/{id}", name: "n", complete: { id: (v, { arguments: a, caller }) => [`${a.org}-${v}1`, `${caller.organizationId}-${v}2`] } },
    () => "",
  );
  p.resourceTemplate({ uriTemplate: "many://{i}", name: "many", complete: { i: () => Array.from({ length: 150 }, (_, i) => String(i)) } }, () => "");
  assert.ok(p.describe().capabilities.includes("completions"));
  assert.deepEqual(await p.complete("ref/prompt", "paint", "color", "g"), { values: ["green", "grey"], hasMore: false });
  assert.deepEqual((await p.complete("ref/resource", "n://{org}/{id}", "id", "x", { org: "o" }, { organizationId: "org_1" })).values, ["o-x1", "org_1-x2"]);
  const many = await p.complete("ref/resource", "many://{i}", "i", "");
  assert.equal(many.values.length, 100);
  assert.equal(many.total, 150);
  assert.equal(many.hasMore, true);
  assert.deepEqual(await p.complete("ref/prompt", "paint", "other", ""), { values: [], hasMore: false });
  assert.deepEqual(await p.complete("ref/prompt", "nope", "x", ""), { values: [], hasMore: false });
  assert.ok(!createPlugin({ name: "d", version: "1", logger: quiet }).prompt({ name: "x" }, () => "").describe().capabilities.includes("completions"));
});
