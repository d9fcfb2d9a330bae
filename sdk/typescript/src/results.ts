// Tool results: what a handler returns, built with the helpers below, in the
// wire shape of proto CallToolResult. A handler may also return a string (text)
// or a plain object (object()).

/** One MCP content block in its wire form (proto Content). */
export type WireContent =
  | { text: { text: string }; metaJson?: Buffer }
  | { image: { data: Buffer; mimeType: string } }
  | { audio: { data: Buffer; mimeType: string } }
  | { resourceLink: { uri: string; name: string; title?: string; description?: string; mimeType?: string } }
  | { resource: { contents: { uri: string; mimeType: string; text?: string; blob?: Buffer } } };

export class ToolResult {
  constructor(
    readonly content: WireContent[],
    /** Structured content: always a JSON object in MCP. */
    readonly structured?: Record<string, unknown>,
    readonly isError = false,
  ) {}

  /** The text blocks joined by newlines (for tests and logs). */
  get text(): string {
    return this.content.flatMap((c) => ("text" in c ? [c.text.text] : [])).join("\n");
  }

  /** The proto CallToolResult. */
  toWire() {
    return {
      content: this.content,
      structuredContentJson: this.structured ? Buffer.from(JSON.stringify(this.structured)) : Buffer.alloc(0),
      isError: this.isError,
    };
  }
}

/** A plain text result. */
export function text(s: string): ToolResult {
  return new ToolResult([{ text: { text: s } }]);
}

/** A text result marked as Markdown in its block's `_meta`, as the Go SDK does. */
export function markdown(md: string): ToolResult {
  return new ToolResult([{ text: { text: md }, metaJson: Buffer.from('{"mimeType":"text/markdown"}') }]);
}

/**
 * value as structured content plus its indented JSON as text, for clients that
 * read only text. MCP structured content is an object, so anything else is
 * wrapped as {"result": value}.
 */
export function object(value: unknown): ToolResult {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (e) {
    return error(`cannot encode result: ${(e as Error).message}`);
  }
  if (json === undefined) return error("cannot encode result: not a JSON value");
  let obj = JSON.parse(json) as unknown;
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) obj = { result: obj };
  return new ToolResult([{ text: { text: JSON.stringify(obj, null, 2) } }], obj as Record<string, unknown>);
}

/** A tool error (isError): the message is for the model and the user to read. */
export function error(message: string): ToolResult {
  return new ToolResult([{ text: { text: message } }], undefined, true);
}

function bytes(data: Uint8Array | string): Buffer {
  // A string is taken as base64, the form MCP itself uses for binary content.
  return typeof data === "string" ? Buffer.from(data, "base64") : Buffer.from(data);
}

/** An image block; data is the raw bytes (or a base64 string). */
export function image(data: Uint8Array | string, mimeType: string): ToolResult {
  return new ToolResult([{ image: { data: bytes(data), mimeType } }]);
}

/** An audio block; data is the raw bytes (or a base64 string). */
export function audio(data: Uint8Array | string, mimeType: string): ToolResult {
  return new ToolResult([{ audio: { data: bytes(data), mimeType } }]);
}

/** An embedded resource: text, or a blob when given bytes. */
export function resource(uri: string, body: string | Uint8Array, mimeType = "text/plain"): ToolResult {
  const contents = typeof body === "string" ? { uri, mimeType, text: body } : { uri, mimeType, blob: Buffer.from(body) };
  return new ToolResult([{ resource: { contents } }]);
}

/** A link to a resource the client may read, without embedding it. */
export function resourceLink(link: { uri: string; name: string; title?: string; description?: string; mimeType?: string }): ToolResult {
  return new ToolResult([{ resourceLink: { ...link } }]);
}

/** Combines results in order: every block, the last structured content, an error if any part is one. */
export function mix(...parts: ToolResult[]): ToolResult {
  let structured: Record<string, unknown> | undefined;
  for (const p of parts) if (p.structured) structured = p.structured;
  return new ToolResult(parts.flatMap((p) => p.content), structured, parts.some((p) => p.isError));
}

/** What a handler may return, normalized to a ToolResult. */
export type HandlerResult = ToolResult | string | Record<string, unknown> | undefined | void;

export function toResult(v: HandlerResult): ToolResult {
  if (v instanceof ToolResult) return v;
  if (typeof v === "string") return text(v);
  if (v === undefined || v === null) return new ToolResult([]);
  return object(v);
}
