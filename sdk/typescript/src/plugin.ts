// createPlugin and the plugin side of the protocol: Describe once per process,
// then tool calls on the host's call channel (Calls, capability "call_channel")
// or on a CallTool stream each. Questions to the client (sample, elicit) go out
// on the call's stream; on the 2026-07-28 protocol the retried call brings the
// answers in CallToolStart.input_responses (capability "input_responses").
// ReadResource, GetPrompt, Complete and Notifications serve the rest.
import * as grpc from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import { z } from "zod";
import { Caller, type WireCaller } from "./caller.js";
import { checkEnvironment, generateServerIdentity, handshakeLine, HandshakeError, PROTOCOL_VERSION } from "./handshake.js";
import { createLogger, type Logger } from "./log.js";
import { error, toResult, ToolResult, type HandlerResult } from "./results.js";
import { controllerService, healthService, pluginService } from "./wire.js";
import {
  callerOf, NotFoundError, type Completer, promptArguments, promptMessages, resourceContents, templateMatcher,
  type PromptHandler, type PromptSpec, type ResourceHandler, type ResourceSpec, type ResourceTemplateSpec,
} from "./features.js";

export interface PluginOptions {
  name: string;
  version: string;
  /** Where SDK and handler logs go; hclog JSON on stderr by default. */
  logger?: Logger;
}

export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface ToolSpec<S extends z.ZodType> {
  name: string;
  title?: string;
  description?: string;
  /** The arguments: a z.object; its JSON Schema is what clients see. Omitted: no arguments. */
  schema?: S;
  /** The shape of structured content this tool returns, if any. */
  outputSchema?: z.ZodType;
  annotations?: ToolAnnotations;
  /** The tool's MCP `_meta` object. */
  meta?: Record<string, unknown>;
}

/** An MCP logging level. */
export type McpLogLevel = "debug" | "info" | "notice" | "warning" | "error" | "critical" | "alert" | "emergency";

/** One tool call as a handler sees it. */
export interface ToolRequest {
  /** The tool's name as the plugin declared it. */
  readonly tool: string;
  /** The verified caller; empty fields without authentication. */
  readonly caller: Caller;
  /** A host-assigned id for correlating logs. */
  readonly callId: string;
  /** The HTTP request's id (X-Request-Id), as in the host's logs and audit records. */
  readonly requestId: string;
  /**
   * The W3C trace context of the host's span for this call (traceparent, and
   * tracestate when set); empty when the request is not traced. Pass it to
   * OpenTelemetry's propagation.extract so the plugin's spans join the trace.
   */
  readonly traceContext: Readonly<Record<string, string>>;
  /** The MCP session id (empty on the sessionless protocol). */
  readonly sessionId: string;
  /** The MCP protocol version of the request. */
  readonly protocolVersion: string;
  /** The client's capabilities, so a tool asks only what the client can answer. */
  readonly clientCapabilities: Readonly<Record<string, unknown>>;
  /** Aborted when the client cancels the call or the host gives up on it. */
  readonly signal: AbortSignal;
  /** Reports progress; a no-op when the client asked for none. */
  progress(progress: number, total?: number, message?: string): void;
  /** Sends notifications/message to the calling client; data is any JSON value. */
  log(level: McpLogLevel, data: unknown, logger?: string): void;
  /**
   * Asks the client's model (sampling/createMessage); resolves to the client's
   * result. On 2026-07-28 the handler runs again from the top once the client
   * answered: ask before changing anything, the same questions in the same order
   * (or name them with opts.key).
   */
  sample(params: Record<string, unknown>, opts?: AskOptions): Promise<Record<string, unknown>>;
  /** Asks the user (elicitation/create); resolves to the client's result ({action, content}). See sample. */
  elicit(params: Record<string, unknown>, opts?: AskOptions): Promise<Record<string, unknown>>;
  /** Asks the client for its roots (roots/list); resolves to its result ({roots}). See sample. */
  roots(opts?: AskOptions): Promise<Record<string, unknown>>;
  /**
   * Says this call will take a while: where it can (a legacy session answered
   * over SSE with an event store) the host ends the client's response now and
   * the client comes back after retryMs for the rest (SEP-1699). A hint.
   */
  closeStream(retryMs?: number): void;
}

/** Options of a question to the client. */
export interface AskOptions {
  /** The question's name in an input-required round (default: its number in the call). */
  key?: string;
}

export type ToolHandler<S extends z.ZodType> = (input: z.output<S>, req: ToolRequest) => HandlerResult | Promise<HandlerResult>;

interface RegisteredTool {
  wire: Record<string, unknown>;
  schema: z.ZodType | undefined;
  handler: ToolHandler<z.ZodType>;
}

/** Options of Plugin.invoke, which runs a tool in-process (for plugin tests). */
export interface InvokeOptions {
  caller?: WireCaller;
  progressToken?: string | number;
  signal?: AbortSignal;
  /** Receives the progress and log events the host would get. */
  onEvent?: (event: Record<string, unknown>) => void;
  /** Answers sample/elicit questions as the client would. */
  onClientRequest?: (method: string, params: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

/** Raised by sample/elicit when the client could not answer. */
export class ClientRequestError extends Error {
  constructor(
    message: string,
    /** The host will ask on a later round (2026-07-28 input-required); the call's result is discarded. */
    readonly deferred = false,
  ) {
    super(message);
  }
}

/** Set to "off" in a plugin's env to serve each call on a stream of its own, as the Go SDK allows. */
export const CALL_CHANNEL_ENV = "MCPHOST_CALL_CHANNEL";

interface ActiveCall {
  deliver(response: any): void;
  abort(why: string): void;
}

/** Thrown for prompt arguments that do not fit the prompt's schema (gRPC INVALID_ARGUMENT). */
export class InvalidArgumentsError extends Error {}

/** How long calls still running get after the host asked the plugin to stop. */
const SHUTDOWN_GRACE_MS = 1500;

const toolNameRE = /^[A-Za-z0-9_.-]{1,128}$/;

export class Plugin {
  readonly name: string;
  readonly version: string;
  readonly logger: Logger;
  readonly #tools = new Map<string, RegisteredTool>();
  readonly #resources = new Map<string, { spec: ResourceSpec; read: ResourceHandler }>();
  readonly #templates = new Map<string, { spec: ResourceTemplateSpec; match: (uri: string) => Record<string, string> | undefined; read: ResourceHandler }>();
  readonly #prompts = new Map<string, { wire: Record<string, unknown>; args: z.ZodType | undefined; get: PromptHandler<z.ZodType>; complete?: Record<string, Completer> }>();
  #server: grpc.Server | undefined;
  // The host's open Notifications streams (one per host connection).
  readonly #listeners = new Set<grpc.ServerWritableStream<any, any>>();
  #stopping: Promise<void> | undefined;

  constructor(opts: PluginOptions) {
    if (!opts?.name) throw new Error("createPlugin: name is required");
    if (!opts.version) throw new Error(`createPlugin ${opts.name}: version is required`);
    this.name = opts.name;
    this.version = opts.version;
    this.logger = opts.logger ?? createLogger();
  }

  /**
   * Declares a tool. Mistakes (a bad name, a duplicate, a schema that is not an
   * object) throw here, so a broken plugin fails at start with the tool named.
   */
  tool<S extends z.ZodType>(spec: ToolSpec<S>, handler: ToolHandler<S>): this {
    const name = spec?.name;
    if (!name || !toolNameRE.test(name)) {
      throw new Error(`plugin ${this.name}: tool name ${JSON.stringify(name)} must be 1-128 letters, digits, _ - or .`);
    }
    if (this.#tools.has(name)) throw new Error(`plugin ${this.name}: tool ${name} is declared twice`);
    if (typeof handler !== "function") throw new Error(`plugin ${this.name}: tool ${name} has no handler`);
    const inputSchema = spec.schema ? jsonSchemaOf(spec.schema, `tool ${name}: schema`, "input") : { type: "object", properties: {} };
    if (inputSchema.type !== "object") {
      throw new Error(`plugin ${this.name}: tool ${name}: schema must be a z.object (MCP tool arguments are an object), got type ${JSON.stringify(inputSchema.type)}`);
    }
    const wire: Record<string, unknown> = {
      name,
      title: spec.title ?? "",
      description: spec.description ?? "",
      inputSchemaJson: Buffer.from(JSON.stringify(inputSchema)),
    };
    if (spec.outputSchema) {
      const out = jsonSchemaOf(spec.outputSchema, `tool ${name}: outputSchema`, "output");
      if (out.type !== "object") throw new Error(`plugin ${this.name}: tool ${name}: outputSchema must be a z.object (structured content is an object)`);
      wire.outputSchemaJson = Buffer.from(JSON.stringify(out));
    }
    if (spec.annotations) wire.annotations = { ...spec.annotations, title: spec.annotations.title ?? "" };
    if (spec.meta) wire.metaJson = Buffer.from(JSON.stringify(spec.meta));
    this.#tools.set(name, { wire, schema: spec.schema, handler: handler as ToolHandler<z.ZodType> });
    this.#changed();
    return this;
  }

  /** Removes a tool; while serving, the host is told and clients hear list_changed. Calls already running finish. */
  removeTool(name: string): boolean {
    const had = this.#tools.delete(name);
    if (had) this.#changed();
    return had;
  }

  // #changed tells the host the description changed (tools, prompts or
  // resources declared or removed after serve), so it calls Describe again.
  #changed() {
    if (!this.#server) return;
    for (const l of this.#listeners) {
      try {
        l.write({ descriptionChanged: {} });
      } catch {
        this.#listeners.delete(l);
      }
    }
  }

  /** Declares a resource with a fixed URI. */
  resource(spec: ResourceSpec, read: ResourceHandler): this {
    if (!spec?.uri || !spec.name || typeof read !== "function") {
      throw new Error(`plugin ${this.name}: resource ${JSON.stringify(spec?.uri)} needs a uri, a name and a read function`);
    }
    if (this.#resources.has(spec.uri)) throw new Error(`plugin ${this.name}: resource ${spec.uri} is declared twice`);
    this.#resources.set(spec.uri, { spec, read });
    this.#changed();
    return this;
  }

  /** Declares a family of resources; read gets the template's variables in req.params. */
  resourceTemplate(spec: ResourceTemplateSpec, read: ResourceHandler): this {
    if (!spec?.uriTemplate || !spec.name || typeof read !== "function") {
      throw new Error(`plugin ${this.name}: resource template ${JSON.stringify(spec?.uriTemplate)} needs a uriTemplate, a name and a read function`);
    }
    if (this.#templates.has(spec.uriTemplate)) throw new Error(`plugin ${this.name}: resource template ${spec.uriTemplate} is declared twice`);
    this.#templates.set(spec.uriTemplate, { spec, match: templateMatcher(spec.uriTemplate), read });
    this.#changed();
    return this;
  }

  /** Declares a prompt; args is a z.object of strings, validated before get runs. */
  prompt<S extends z.ZodType>(spec: PromptSpec<S>, get: PromptHandler<S>): this {
    const name = spec?.name;
    if (!name || !toolNameRE.test(name)) throw new Error(`plugin ${this.name}: prompt name ${JSON.stringify(name)} must be 1-128 letters, digits, _ - or .`);
    if (this.#prompts.has(name)) throw new Error(`plugin ${this.name}: prompt ${name} is declared twice`);
    if (typeof get !== "function") throw new Error(`plugin ${this.name}: prompt ${name} has no handler`);
    const wire = { name, title: spec.title ?? "", description: spec.description ?? "", arguments: promptArguments(spec.args, `plugin ${this.name}: prompt ${name}`) };
    this.#prompts.set(name, { wire, args: spec.args, get: get as PromptHandler<z.ZodType>, complete: spec.complete });
    this.#changed();
    return this;
  }

  /** The DescribeResponse this plugin answers. */
  describe(): Record<string, unknown> {
    // Calls resume from the answers of earlier rounds (sample, elicit) and,
    // unless MCPHOST_CALL_CHANNEL=off (for comparing), share one stream. The
    // host listens for events (a resource updated, tools added while serving);
    // it reads capabilities once per process, so "notifications" is always on.
    const capabilities = ["input_responses", "notifications"];
    if (process.env[CALL_CHANNEL_ENV] !== "off") capabilities.push("call_channel");
    if (this.#resources.size + this.#templates.size > 0) capabilities.push("resources");
    if (this.#prompts.size > 0) capabilities.push("prompts");
    const completers = [...this.#prompts.values()].map((p) => p.complete).concat([...this.#templates.values()].map((t) => t.spec.complete));
    if (completers.some((c) => c && Object.keys(c).length > 0)) capabilities.push("completions");
    const meta = (s: { title?: string; description?: string; mimeType?: string }) => ({ title: s.title ?? "", description: s.description ?? "", mimeType: s.mimeType ?? "" });
    return {
      name: this.name,
      version: this.version,
      protocolVersion: PROTOCOL_VERSION,
      tools: [...this.#tools.values()].map((t) => t.wire),
      capabilities,
      resources: [...this.#resources.values()].map(({ spec }) => ({ uri: spec.uri, name: spec.name, ...meta(spec) })),
      resourceTemplates: [...this.#templates.values()].map(({ spec }) => ({ uriTemplate: spec.uriTemplate, name: spec.name, ...meta(spec) })),
      prompts: [...this.#prompts.values()].map((p) => p.wire),
    };
  }

  /**
   * Reads a resource (ReadResource): a fixed URI, or one matching a template.
   * Throws NotFoundError for an unknown URI; a handler's NotFoundError passes through.
   */
  async readResource(uri: string, caller?: WireCaller, uriTemplate = ""): Promise<Record<string, unknown>[]> {
    const fixed = this.#resources.get(uri);
    if (fixed) {
      return resourceContents(uri, fixed.spec.mimeType ?? "", await fixed.read({ uri, params: {}, caller: callerOf(caller) }));
    }
    const candidates = uriTemplate ? [this.#templates.get(uriTemplate)] : [...this.#templates.values()];
    for (const t of candidates) {
      const params = t?.match(uri);
      if (t && params) return resourceContents(uri, t.spec.mimeType ?? "", await t.read({ uri, params, caller: callerOf(caller) }));
    }
    throw new NotFoundError(`no resource ${uri}`);
  }

  /**
   * Tells the host that the resource at uri changed; clients subscribed to it
   * hear notifications/resources/updated. Does nothing outside serve().
   */
  resourceUpdated(uri: string): void {
    for (const l of this.#listeners) {
      try {
        l.write({ resourceUpdated: { uri } });
      } catch {
        this.#listeners.delete(l);
      }
    }
  }

  /**
   * Suggests values for a prompt's or resource template's argument (Complete):
   * at most 100, with the total when there are more. Nothing to suggest is an empty list.
   */
  async complete(refType: string, refName: string, argument: string, value: string, context: Record<string, string> = {}, caller?: WireCaller) {
    const completers = refType === "ref/prompt" ? this.#prompts.get(refName)?.complete : refType === "ref/resource" ? this.#templates.get(refName)?.spec.complete : undefined;
    const fn = completers?.[argument];
    if (!fn) return { values: [] as string[], hasMore: false };
    const values = await fn(value, { arguments: context, caller: callerOf(caller) });
    const max = 100; // the MCP limit per response
    return values.length > max ? { values: values.slice(0, max), total: values.length, hasMore: true } : { values, hasMore: false };
  }

  /** Renders a prompt (GetPrompt). Throws NotFoundError, or InvalidArgumentsError for bad arguments. */
  async getPrompt(name: string, args: Record<string, string> = {}, caller?: WireCaller): Promise<{ description: string; messages: Record<string, unknown>[] }> {
    const p = this.#prompts.get(name);
    if (!p) throw new NotFoundError(`unknown prompt ${JSON.stringify(name)}`);
    let input: unknown = args;
    if (p.args) {
      const parsed = p.args.safeParse(args);
      if (!parsed.success) throw new InvalidArgumentsError(`invalid arguments for prompt ${name}: ${describeIssues(parsed.error)}`);
      input = parsed.data;
    }
    return promptMessages(await p.get(input, { caller: callerOf(caller) }));
  }

  /** Runs one tool in-process through the same validation and dispatch as a host call. */
  async invoke(tool: string, args: unknown = {}, opts: InvokeOptions = {}): Promise<ToolResult> {
    const controller = new AbortController();
    opts.signal?.addEventListener("abort", () => controller.abort(opts.signal?.reason), { once: true });
    return this.#run(
      {
        tool,
        argumentsJson: Buffer.from(JSON.stringify(args)),
        caller: opts.caller ?? {},
        meta: { progressTokenJson: Buffer.from(opts.progressToken === undefined ? "" : JSON.stringify(opts.progressToken)) },
      },
      controller.signal,
      (ev) => opts.onEvent?.(ev),
      async (method, params) => {
        if (!opts.onClientRequest) throw new ClientRequestError(`the client cannot answer ${method}`);
        return opts.onClientRequest(method, params);
      },
    );
  }

  /** Dispatches one call; never throws: every failure is a tool error. */
  async #run(
    start: Record<string, any>,
    signal: AbortSignal,
    emit: (event: Record<string, unknown>) => void,
    ask: (method: string, params: Record<string, unknown>, key: string) => Promise<Record<string, unknown>>,
  ): Promise<ToolResult> {
    const name = String(start.tool ?? "");
    const t = this.#tools.get(name);
    if (!t) return error(`unknown tool ${JSON.stringify(name)}`);
    let args: unknown;
    try {
      const raw = Buffer.from(start.argumentsJson ?? []).toString("utf8");
      args = raw === "" ? {} : JSON.parse(raw);
    } catch {
      return error(`invalid arguments for tool ${name}: not JSON`);
    }
    let input: unknown = args;
    if (t.schema) {
      const parsed = t.schema.safeParse(args);
      if (!parsed.success) return error(`invalid arguments for tool ${name}: ${describeIssues(parsed.error)}`);
      input = parsed.data;
    }
    const meta = start.meta ?? {};
    const hasProgress = Buffer.from(meta.progressTokenJson ?? []).length > 0;
    const req: ToolRequest = {
      tool: name,
      caller: new Caller(start.caller ?? {}),
      callId: String(meta.callId ?? ""),
      requestId: String(meta.requestId ?? ""),
      traceContext: { ...(meta.traceContext ?? {}) },
      sessionId: String(meta.mcpSessionId ?? ""),
      protocolVersion: String(meta.protocolVersion ?? ""),
      clientCapabilities: parseObject(meta.clientCapabilitiesJson),
      signal,
      progress: (progress, total, message) => {
        if (!hasProgress) return;
        const ev: Record<string, unknown> = { progress, message: message ?? "" };
        if (total !== undefined && total > 0) ev.total = total;
        emit({ progress: ev });
      },
      log: (level, data, logger) => {
        emit({ log: { level, logger: logger ?? "", dataJson: Buffer.from(JSON.stringify(data ?? null)) } });
      },
      sample: (params, opts) => ask("sampling/createMessage", params, opts?.key ?? ""),
      elicit: (params, opts) => ask("elicitation/create", params, opts?.key ?? ""),
      roots: (opts) => ask("roots/list", {}, opts?.key ?? ""),
      closeStream: (retryMs = 0) => emit({ closeStream: { retryMs } }),
    };
    try {
      return toResult(await t.handler(input, req));
    } catch (e) {
      if (e instanceof ClientRequestError && e.deferred) return error("waiting for the client's answer");
      // The handler's message is for the model; the stack goes to the host's log only.
      this.logger.error("tool handler threw", { tool: name, error: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined });
      return error(`tool ${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Starts one call: write sends its events, questions and result (which comes
   * last, then done runs). The returned handle takes the client's answers and
   * cancels the call. Shared by CallTool (a stream per call) and Calls.
   */
  #startCall(start: Record<string, any>, write: (msg: Record<string, unknown>) => void, done: () => void): ActiveCall {
    const controller = new AbortController();
    let nextId = 0;
    const waiting = new Map<string, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
    const answers: Record<string, { resultJson?: Buffer; paramsSha256?: Buffer }> = start.inputResponses ?? {};
    this.#run(start, controller.signal, write, (method, params, key) => {
      const id = String(++nextId);
      const paramsJson = Buffer.from(JSON.stringify(params ?? {}));
      // On 2026-07-28 a question ends the round and the retried call brings
      // the answer here, under the question's key or id: a handler asks the
      // same questions in the same order, so the params digest matches.
      const answer = answers[key || id];
      if (answer) {
        const digest = Buffer.from(answer.paramsSha256 ?? []);
        if (digest.length === 0 || createHash("sha256").update(paramsJson).digest().equals(digest)) {
          return Promise.resolve(parseObject(answer.resultJson));
        }
      }
      if (controller.signal.aborted) return Promise.reject(new ClientRequestError("call cancelled"));
      write({ clientRequest: { id, method, paramsJson, key } });
      return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
    }).then((res) => {
      write({ result: res.toWire() });
      done();
    });
    return {
      deliver: (r: any) => {
        const w = waiting.get(String(r.id));
        if (!w) return;
        waiting.delete(String(r.id));
        if (r.error) w.reject(new ClientRequestError(r.error, r.deferred === true));
        else w.resolve(parseObject(r.resultJson));
      },
      abort: (why: string) => {
        controller.abort(new Error(why));
        for (const w of waiting.values()) w.reject(new ClientRequestError(why));
        waiting.clear();
      },
    };
  }

  /** CallTool: start first, then client responses; events and one result back. */
  #callTool(call: grpc.ServerDuplexStream<any, any>) {
    let ended = false;
    let active: ActiveCall | undefined;
    const write = (msg: Record<string, unknown>) => {
      if (ended) return;
      try {
        call.write(msg);
      } catch {
        // the host went away; the abort signal tells the handler
      }
    };
    call.on("error", () => active?.abort("call stream failed"));
    call.on("cancelled", () => active?.abort("call cancelled"));
    call.on("end", () => {
      if (!active) call.end();
    });
    call.on("data", (msg: any) => {
      if (msg.input === "start" && !active) {
        active = this.#startCall(msg.start, write, () => {
          ended = true;
          call.end();
        });
      } else if (msg.input === "clientResponse") {
        active?.deliver(msg.clientResponse);
      }
    });
  }

  /**
   * Calls: the host's call channel, many calls on one stream, each message
   * tagged with the call id the host chose. Closing the stream cancels them all.
   */
  #calls(call: grpc.ServerDuplexStream<any, any>) {
    const calls = new Map<string, { active: ActiveCall; timer?: NodeJS.Timeout }>();
    let ended = false;
    const endAll = (why: string) => {
      ended = true;
      for (const c of calls.values()) {
        clearTimeout(c.timer);
        c.active.abort(why);
      }
      calls.clear();
    };
    call.on("error", () => endAll("call channel failed"));
    call.on("cancelled", () => endAll("call channel closed"));
    call.on("end", () => {
      endAll("call channel closed");
      call.end();
    });
    call.on("data", (msg: any) => {
      const id = String(msg.callId);
      if (msg.cancel) {
        calls.get(id)?.active.abort("call cancelled");
        return;
      }
      const req = msg.request ?? {};
      if (req.input === "start" && !calls.has(id)) {
        const write = (response: Record<string, unknown>) => {
          if (ended) return;
          try {
            call.write({ callId: id, response });
          } catch {
            // the channel went away; endAll aborts the calls
          }
        };
        const entry: { active: ActiveCall; timer?: NodeJS.Timeout } = {
          active: this.#startCall(req.start, write, () => {
            clearTimeout(entry.timer);
            calls.delete(id);
          }),
        };
        calls.set(id, entry);
        const timeoutMs = Number(msg.timeoutMs ?? 0);
        if (timeoutMs > 0) {
          entry.timer = setTimeout(() => entry.active.abort("call timed out"), timeoutMs);
          entry.timer.unref();
        }
      } else if (req.input === "clientResponse") {
        calls.get(id)?.active.deliver(req.clientResponse);
      }
    });
  }

  /**
   * Serves the plugin until the host stops it (the controller's Shutdown or
   * SIGTERM). Run by hand, not by mcphost, it explains itself and exits 1.
   */
  async serve(): Promise<void> {
    try {
      await this.#serve();
    } catch (e) {
      // Nothing has been printed on stdout yet, so the host reports this line
      // as the plugin's last words.
      process.stderr.write(`plugin ${this.name}: cannot serve: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    }
  }

  async #serve(): Promise<void> {
    let clientCertPEM: string;
    try {
      ({ clientCertPEM } = checkEnvironment(process.env));
    } catch (e) {
      if (!(e instanceof HandshakeError)) throw e;
      process.stderr.write(`plugin ${this.name}: ${e.message}\n`);
      process.exit(1);
    }
    const identity = await generateServerIdentity();
    const server = new grpc.Server();
    this.#server = server;
    server.addService(pluginService, {
      Describe: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, this.describe()),
      CallTool: (call: grpc.ServerDuplexStream<any, any>) => this.#callTool(call),
      Calls: (call: grpc.ServerDuplexStream<any, any>) => this.#calls(call),
      Notifications: (call: grpc.ServerWritableStream<any, any>) => {
        this.#listeners.add(call);
        const drop = () => this.#listeners.delete(call);
        call.on("cancelled", drop);
        call.on("error", drop);
        call.on("close", drop);
        // Headers now tell the host the stream is listening (events sent from
        // here on reach it), rather than with the first event.
        call.sendMetadata(new grpc.Metadata());
      },
      ReadResource: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
        const r = call.request;
        this.readResource(r.uri, r.caller, r.uriTemplate).then((contents) => cb(null, { contents }), (e) => cb(this.#status("resource " + r.uri, e)));
      },
      Complete: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
        const r = call.request;
        this.complete(r.refType, r.refName, r.argumentName, r.argumentValue, r.contextArguments ?? {}, r.caller).then(
          (res) => cb(null, res),
          (e) => cb(this.#status(`completion of ${r.refName} ${r.argumentName}`, e)),
        );
      },
      GetPrompt: (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<unknown>) => {
        const r = call.request;
        this.getPrompt(r.name, r.arguments ?? {}, r.caller).then((res) => cb(null, res), (e) => cb(this.#status("prompt " + r.name, e)));
      },
    });
    server.addService(healthService, {
      Check: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: this.#stopping ? "NOT_SERVING" : "SERVING" }),
    });
    server.addService(controllerService, {
      Shutdown: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
        cb(null, {});
        setImmediate(() => void this.shutdown("the host asked"));
      },
    });
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(clientCertPEM),
      [{ private_key: Buffer.from(identity.keyPEM), cert_chain: Buffer.from(identity.certPEM) }],
      true,
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.on(sig, () => void this.shutdown(sig));
    }
    // A handler that forgot to await a promise must not take every other call down.
    process.on("unhandledRejection", (reason) => {
      this.logger.error("unhandled promise rejection in a tool", { error: reason instanceof Error ? reason.message : String(reason) });
    });
    this.logger.debug("plugin serving", { plugin: this.name, version: this.version, tools: this.#tools.size });
    process.stdout.write(handshakeLine(`127.0.0.1:${port}`, identity.certBase64));
  }

  // #status maps a resource or prompt failure to the gRPC status the host
  // translates: NOT_FOUND and INVALID_ARGUMENT as such, anything else INTERNAL.
  #status(what: string, e: unknown): Partial<grpc.StatusObject> {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof NotFoundError) return { code: grpc.status.NOT_FOUND, details: message };
    if (e instanceof InvalidArgumentsError) return { code: grpc.status.INVALID_ARGUMENT, details: message };
    this.logger.error("handler threw", { what, error: message });
    return { code: grpc.status.INTERNAL, details: `${what} failed: ${message}` };
  }

  /** Stops serving: calls still running get a short grace, then the process exits 0. */
  shutdown(reason = "shutdown"): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const server = this.#server;
    this.#stopping = new Promise<void>((resolve) => {
      this.logger.debug("plugin stopping", { plugin: this.name, reason });
      if (!server) return resolve();
      // Open notification streams would hold tryShutdown until the grace ends.
      for (const l of this.#listeners) l.end();
      this.#listeners.clear();
      const timer = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => process.exit(0));
    return this.#stopping;
  }
}

/** createPlugin starts a plugin description: add tools, then call serve(). */
export function createPlugin(opts: PluginOptions): Plugin {
  return new Plugin(opts);
}

function jsonSchemaOf(schema: z.ZodType, what: string, io: "input" | "output"): Record<string, unknown> {
  let js: Record<string, unknown>;
  try {
    js = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${what} cannot be written as JSON Schema: ${(e as Error).message}`);
  }
  delete js.$schema; // the host's validator and MCP clients assume 2020-12 anyway
  return js;
}

function describeIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
    .join("; ");
}

function parseObject(raw: Uint8Array | undefined): Record<string, unknown> {
  if (!raw || raw.length === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.from(raw).toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : { result: v };
  } catch {
    return {};
  }
}
