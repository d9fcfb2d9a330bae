// Resources, resource templates and prompts: the unary RPCs ReadResource and
// GetPrompt, declared with capabilities "resources" and "prompts". The host
// routes a templated URI with the template it matched; the SDK extracts the
// template's variables for the handler.
import { z } from "zod";
import { Caller, type WireCaller } from "./caller.js";
import type { WireContent } from "./results.js";

/** Thrown by a resource or prompt handler for something that does not exist (gRPC NOT_FOUND). */
export class NotFoundError extends Error {}

export interface ResourceSpec {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

/** Suggests values for one argument, given what the user typed so far. */
export type Completer = (value: string, req: { readonly arguments: Readonly<Record<string, string>>; readonly caller: Caller }) => string[] | Promise<string[]>;

export interface ResourceTemplateSpec {
  /** An RFC 6570 template such as "tasks://{id}"; {var} matches one path segment, {+var} anything. */
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  /** Completions for the template's variables, by name. */
  complete?: Record<string, Completer>;
}

/** What a resource read sees: the URI, the template's variables, the caller. */
export interface ResourceRequest {
  readonly uri: string;
  readonly params: Readonly<Record<string, string>>;
  readonly caller: Caller;
}

/** One resource body: text, bytes, or explicit contents. */
export type ResourceBody = string | Uint8Array | { uri?: string; mimeType?: string; text?: string; blob?: Uint8Array };
export type ResourceHandler = (req: ResourceRequest) => ResourceBody | ResourceBody[] | Promise<ResourceBody | ResourceBody[]>;

export interface PromptSpec<S extends z.ZodType> {
  name: string;
  title?: string;
  description?: string;
  /** The arguments: a z.object of strings (MCP prompt arguments are strings). */
  args?: S;
  /** Completions for the arguments, by name. */
  complete?: Record<string, Completer>;
}

/** What a prompt handler returns: one user message, or messages with roles. */
export type PromptMessage = { role: "user" | "assistant"; text: string } | { role: "user" | "assistant"; content: WireContent };
export type PromptResult = string | PromptMessage[] | { description?: string; messages: PromptMessage[] };
export type PromptHandler<S extends z.ZodType> = (args: z.output<S>, req: { readonly caller: Caller }) => PromptResult | Promise<PromptResult>;

/** templateMatcher compiles a URI template's simple and reserved expressions into a matcher. */
export function templateMatcher(template: string): (uri: string) => Record<string, string> | undefined {
  const names: string[] = [];
  let pattern = "^";
  let rest = template;
  for (;;) {
    const open = rest.indexOf("{");
    if (open < 0) break;
    const close = rest.indexOf("}", open);
    if (close < 0) throw new Error(`resource template ${template}: unclosed {`);
    pattern += escapeRE(rest.slice(0, open));
    let name = rest.slice(open + 1, close);
    const reserved = name.startsWith("+");
    if (reserved) name = name.slice(1);
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`resource template ${template}: expression {${rest.slice(open + 1, close)}} is not supported (use {name} or {+name})`);
    names.push(name);
    pattern += reserved ? "(.+?)" : "([^/?#]+)";
    rest = rest.slice(close + 1);
  }
  const re = new RegExp(pattern + escapeRE(rest) + "$");
  return (uri) => {
    const m = re.exec(uri);
    if (!m) return undefined;
    const out: Record<string, string> = {};
    names.forEach((n, i) => {
      out[n] = decodeURIComponent(m[i + 1] ?? "");
    });
    return out;
  };
}

function escapeRE(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function resourceContents(uri: string, mimeType: string, body: ResourceBody | ResourceBody[]): Record<string, unknown>[] {
  const list = Array.isArray(body) ? body : [body];
  return list.map((b) => {
    if (typeof b === "string") return { uri, mimeType, text: b };
    if (b instanceof Uint8Array) return { uri, mimeType: mimeType || "application/octet-stream", blob: Buffer.from(b) };
    const c: Record<string, unknown> = { uri: b.uri ?? uri, mimeType: b.mimeType ?? mimeType };
    if (b.blob) c.blob = Buffer.from(b.blob);
    else c.text = b.text ?? "";
    return c;
  });
}

export function promptMessages(res: PromptResult): { description: string; messages: Record<string, unknown>[] } {
  const r = typeof res === "string" ? { messages: [{ role: "user" as const, text: res }] } : Array.isArray(res) ? { messages: res } : res;
  return {
    description: ("description" in r ? r.description : undefined) ?? "",
    messages: r.messages.map((m) => ({ role: m.role, content: "text" in m ? { text: { text: m.text } } : m.content })),
  };
}

/** promptArguments lists a prompt's arguments from its zod object's JSON Schema. */
export function promptArguments(schema: z.ZodType | undefined, what: string): Record<string, unknown>[] {
  if (!schema) return [];
  const js = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    type?: string;
    properties?: Record<string, { type?: string; description?: string; title?: string }>;
    required?: string[];
  };
  if (js.type !== "object") throw new Error(`${what}: args must be a z.object`);
  return Object.entries(js.properties ?? {}).map(([name, p]) => {
    if (p.type !== undefined && p.type !== "string") throw new Error(`${what}: argument ${name} must be a string (MCP prompt arguments are strings)`);
    return { name, title: p.title ?? "", description: p.description ?? "", required: (js.required ?? []).includes(name) };
  });
}

export function callerOf(w: WireCaller | undefined): Caller {
  return new Caller(w ?? {});
}
