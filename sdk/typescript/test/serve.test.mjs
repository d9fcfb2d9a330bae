// The plugin protocol end to end against a real plugin process: this test
// plays the host as go-plugin does (environment, handshake line, AutoMTLS with
// its own client certificate, health, Describe, CallTool, Shutdown). The Go
// host tests (host/tsplugin_test.go) run the same SDK under the real host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import { generateServerIdentity, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from "../dist/handshake.js";
import { ControllerClient, HealthClient, PluginServiceClient } from "../dist/wire.js";

const fixture = fileURLToPath(new URL("./fixtures/plugin.mjs", import.meta.url));

// start runs the fixture with the host's environment (and nothing else, as the
// host does) and returns its process and handshake fields.
async function start(host) {
  const child = spawn(process.execPath, [fixture], {
    env: { [MAGIC_COOKIE_KEY]: MAGIC_COOKIE_VALUE, PLUGIN_PROTOCOL_VERSIONS: "1", PLUGIN_MIN_PORT: "0", PLUGIN_MAX_PORT: "0", PLUGIN_CLIENT_CERT: host.certPEM },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderr = [];
  child.stderr.on("data", (d) => stderr.push(d));
  const exited = once(child, "exit");
  const lines = createInterface({ input: child.stdout });
  const [line] = await Promise.race([once(lines, "line"), exited.then(() => { throw new Error(`plugin exited: ${Buffer.concat(stderr)}`); })]);
  const [core, app, network, address, protocol, cert] = line.split("|");
  return { child, exited, stderr, core, app, network, address, protocol, cert };
}

// pemOf turns the handshake's unpadded base64 DER into PEM (which needs the padding).
function pemOf(unpadded) {
  const b64 = Buffer.from(unpadded, "base64").toString("base64");
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, "$&\n").replace(/\n$/, "")}\n-----END CERTIFICATE-----\n`;
}

function clients(p, identity) {
  const creds = grpc.credentials.createSsl(
    Buffer.from(pemOf(p.cert)),
    identity ? Buffer.from(identity.keyPEM) : null,
    identity ? Buffer.from(identity.certPEM) : null,
  );
  // go-plugin's host verifies the plugin's certificate for "localhost".
  const opts = { "grpc.ssl_target_name_override": "localhost", "grpc.default_authority": "localhost" };
  return {
    plugin: new PluginServiceClient(p.address, creds, opts),
    health: new HealthClient(p.address, creds, opts),
    controller: new ControllerClient(p.address, creds, opts),
  };
}

const unary = (client, method, req) => new Promise((resolve, reject) => client[method](req, (err, res) => (err ? reject(err) : resolve(res))));

// call runs one CallTool stream; answer replies to client requests.
function call(client, start, answer) {
  return new Promise((resolve, reject) => {
    const stream = client.CallTool();
    const events = [];
    stream.on("data", (msg) => {
      if (msg.output === "result") resolve({ result: msg.result, events });
      else if (msg.output === "clientRequest") stream.write({ clientResponse: { id: msg.clientRequest.id, ...answer(msg.clientRequest) } });
      else events.push(msg);
    });
    stream.on("error", reject);
    stream.write({ start: { tool: start.tool, argumentsJson: Buffer.from(JSON.stringify(start.args ?? {})), caller: start.caller ?? {}, meta: start.meta ?? {}, inputResponses: start.inputResponses ?? {} } });
  });
}

test("serves the protocol over AutoMTLS and exits 0 on the controller's Shutdown", async () => {
  const host = await generateServerIdentity();
  const p = await start(host);
  try {
    assert.equal(p.core, "1");
    assert.equal(p.app, "1");
    assert.equal(p.network, "tcp");
    assert.match(p.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(p.protocol, "grpc");
    assert.doesNotMatch(p.cert, /=/, "the certificate is unpadded base64");

    const c = clients(p, host);
    assert.equal((await unary(c.health, "Check", { service: "plugin" })).status, "SERVING");
    const d = await unary(c.plugin, "Describe", { hostProtocolVersion: 1 });
    assert.equal(d.name, "fixture");
    assert.equal(d.version, "9.9.9");
    assert.deepEqual(d.tools.map((t) => t.name), ["echo", "boom", "ask", "ask-named", "hang", "stray", "grow", "slow", "trace"]);
    assert.deepEqual([...d.capabilities].sort(), ["call_channel", "input_responses", "notifications"]);

    const echo = await call(c.plugin, { tool: "echo", args: { text: "hi" }, caller: { userId: "u1" }, meta: { progressTokenJson: Buffer.from('"t"') } });
    assert.equal(echo.result.content[0].text.text, "u1:hi");
    assert.equal(echo.result.isError, false);
    assert.equal(echo.events[0].progress.message, "half");

    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const traced = await call(c.plugin, { tool: "trace", meta: { requestId: "req-9", traceContext: { traceparent } } });
    assert.deepEqual(JSON.parse(traced.result.content[0].text.text), { requestId: "req-9", traceContext: { traceparent } });

    const boom = await call(c.plugin, { tool: "boom" });
    assert.equal(boom.result.isError, true);
    assert.equal(boom.result.content[0].text.text, "tool boom failed: kaboom");

    const asked = await call(c.plugin, { tool: "ask" }, (q) => {
      assert.equal(q.method, "sampling/createMessage");
      return { resultJson: Buffer.from('{"model":"m"}') };
    });
    assert.equal(asked.result.content[0].text.text, 'model said {"model":"m"}');
    const refused = await call(c.plugin, { tool: "ask" }, () => ({ error: "client has no sampling" }));
    assert.equal(refused.result.content[0].text.text, "no answer: client has no sampling");

    // A retried call (2026-07-28) brings the answer: the plugin uses it without asking.
    const params = Buffer.from(JSON.stringify({ messages: [], maxTokens: 10 }));
    const digest = createHash("sha256").update(params).digest();
    const resumed = await call(c.plugin, { tool: "ask", inputResponses: { 1: { resultJson: Buffer.from('{"model":"pre"}'), paramsSha256: digest } } }, () => {
      throw new Error("asked again although the answer came with the call");
    });
    assert.equal(resumed.result.content[0].text.text, 'model said {"model":"pre"}');
    // An answer to different params is not taken for this question.
    const stale = await call(c.plugin, { tool: "ask", inputResponses: { 1: { resultJson: Buffer.from('{"model":"old"}'), paramsSha256: Buffer.alloc(32) } } }, () => ({ resultJson: Buffer.from('{"model":"fresh"}') }));
    assert.equal(stale.result.content[0].text.text, 'model said {"model":"fresh"}');
    // A named question is answered under its key.
    const named = await call(c.plugin, { tool: "ask-named", inputResponses: { confirm: { resultJson: Buffer.from('{"action":"accept"}') } } }, () => {
      throw new Error("asked again although the answer came with the call");
    });
    assert.equal(named.result.content[0].text.text, "accept");
    const namedAsk = await call(c.plugin, { tool: "ask-named" }, (q) => {
      assert.equal(q.key, "confirm");
      return { resultJson: Buffer.from('{"action":"decline"}') };
    });
    assert.equal(namedAsk.result.content[0].text.text, "decline");
    const deferred = await call(c.plugin, { tool: "ask" }, () => ({ error: "input required", deferred: true }));
    assert.equal(deferred.result.isError, true, "a deferred question ends the round; the host discards this result");

    // A promise a handler left to reject is logged, not fatal.
    assert.equal((await call(c.plugin, { tool: "stray" })).result.content[0].text.text, "returned");

    // A tool declared while serving: the host hears description_changed.
    const events = c.plugin.Notifications({});
    events.on("error", () => {}); // ends with the process
    await once(events, "metadata"); // the plugin is listening: it sends headers once it registered the stream
    const changed = once(events, "data");
    assert.equal((await call(c.plugin, { tool: "grow" })).result.content[0].text.text, "grew");
    assert.equal((await changed)[0].event, "descriptionChanged");
    assert.ok((await unary(c.plugin, "Describe", {})).tools.some((t) => t.name === "grown"));
    assert.equal((await call(c.plugin, { tool: "grown" })).result.content[0].text.text, "grown here");

    // Still alive after the throw: the same process answers.
    assert.equal((await call(c.plugin, { tool: "echo", args: { text: "again" } })).result.content[0].text.text, ":again");

    await unary(c.controller, "Shutdown", {});
    const [code, signal] = await p.exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.match(Buffer.concat(p.stderr).toString(), /"@message":"plugin stopping".*"reason":"the host asked"/);
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("cancelling the call aborts the handler's signal", async () => {
  const host = await generateServerIdentity();
  const p = await start(host);
  try {
    const c = clients(p, host);
    const stream = c.plugin.CallTool();
    stream.on("error", () => {}); // the cancellation itself
    const started = once(stream, "data");
    stream.write({ start: { tool: "hang", argumentsJson: Buffer.from("{}"), meta: { progressTokenJson: Buffer.from("1") } } });
    assert.equal((await started)[0].progress.message, "started");
    const aborted = new Promise((resolve) => {
      const check = () => Buffer.concat(p.stderr).toString().includes('"@message":"call aborted"') && resolve();
      p.child.stderr.on("data", check);
      check();
    });
    stream.cancel();
    await aborted;
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("the call channel carries concurrent calls, cancels and time limits on one stream", async () => {
  const host = await generateServerIdentity();
  const p = await start(host);
  try {
    const c = clients(p, host);
    const channel = c.plugin.Calls();
    const closed = new Promise((resolve) => channel.on("status", resolve));
    channel.on("error", () => {}); // reported through status
    const results = new Map();
    const progress = [];
    const waiters = new Map();
    channel.on("data", (msg) => {
      const id = msg.callId;
      if (msg.response.output === "result") {
        results.set(id, msg.response.result);
        waiters.get(id)?.();
      } else if (msg.response.output === "progress") progress.push(id);
      else if (msg.response.output === "clientRequest") {
        channel.write({ callId: id, request: { clientResponse: { id: msg.response.clientRequest.id, resultJson: Buffer.from('{"model":"via-channel"}') } } });
      }
    });
    const result = (id) => new Promise((resolve) => (results.has(id) ? resolve() : waiters.set(id, resolve))).then(() => results.get(id));
    const startCall = (id, tool, args, extra = {}) =>
      channel.write({ callId: id, request: { start: { tool, argumentsJson: Buffer.from(JSON.stringify(args)), caller: { userId: `u${id}` }, meta: { progressTokenJson: Buffer.from("1") } } }, ...extra });

    startCall(1, "slow", { ms: 200 });
    startCall(2, "echo", { text: "fast" });
    startCall(3, "ask", {});
    startCall(4, "hang", {});
    startCall(5, "hang", {}, { timeoutMs: 50 });
    assert.equal((await result("2")).content[0].text.text, "u2:fast", "a quick call is not held up by a slow one");
    assert.equal((await result("3")).content[0].text.text, 'model said {"model":"via-channel"}');
    assert.equal((await result("5")).content[0].text.text, "aborted", "the time limit aborts the handler");
    channel.write({ callId: 4, cancel: true });
    assert.equal((await result("4")).content[0].text.text, "aborted");
    assert.equal((await result("1")).content[0].text.text, "slept");
    assert.ok(progress.includes("2"), "progress is tagged with its call");
    channel.end();
    assert.equal((await closed).code, grpc.status.OK, "the plugin ends its side when the host closes the channel");
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("refuses a client without the host's certificate", async () => {
  const host = await generateServerIdentity();
  const stranger = await generateServerIdentity();
  const p = await start(host);
  try {
    await assert.rejects(unary(clients(p, stranger).plugin, "Describe", {}), (e) => e.code === grpc.status.UNAVAILABLE);
    await assert.rejects(unary(clients(p, null).plugin, "Describe", {}), (e) => e.code === grpc.status.UNAVAILABLE);
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("SIGTERM lets a running call finish, then exits 0", async () => {
  const host = await generateServerIdentity();
  const p = await start(host);
  try {
    const c = clients(p, host);
    const slow = call(c.plugin, { tool: "slow", args: { ms: 300 } });
    await unary(c.plugin, "Describe", {}); // the connection is up, the call sent
    p.child.kill("SIGTERM");
    assert.equal((await slow).result.content[0].text.text, "slept");
    const [code] = await p.exited;
    assert.equal(code, 0);
  } finally {
    p.child.kill("SIGKILL");
  }
});

// Bounded so that a regression fails instead of hanging the run.
test("a call that never ends does not hold the exit past the grace", { timeout: 30_000 }, async () => {
  const host = await generateServerIdentity();
  const p = await start(host);
  try {
    const c = clients(p, host);
    const stream = c.plugin.CallTool();
    stream.on("error", () => {}); // cut off by the exit
    const started = once(stream, "data");
    stream.write({ start: { tool: "hang", argumentsJson: Buffer.from("{}"), meta: { progressTokenJson: Buffer.from("1") } } });
    await started;
    p.child.kill("SIGTERM");
    const [code] = await p.exited;
    assert.equal(code, 0);
  } finally {
    p.child.kill("SIGKILL");
  }
});

test("run by hand it explains itself and exits 1", async () => {
  const child = spawn(process.execPath, [fixture], { env: {}, stdio: ["ignore", "pipe", "pipe"] });
  const err = [];
  child.stderr.on("data", (d) => err.push(d));
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  assert.match(Buffer.concat(err).toString(), /plugin fixture: This is an mcphost plugin: it is started by the mcphost host/);
});
