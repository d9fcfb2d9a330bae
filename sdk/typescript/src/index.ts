// @mcphost/plugin-sdk: write mcphost tool plugins in TypeScript.
//
//   import { createPlugin, text, z } from "@mcphost/plugin-sdk";
//   const p = createPlugin({ name: "hello", version: "1.0.0" });
//   p.tool({ name: "greet", description: "Greets the caller", schema: z.object({ greeting: z.string() }) },
//     async ({ greeting }, req) => text(`${greeting}, ${req.caller.name || "stranger"}`));
//   p.serve();
import "./stdio.js"; // first: stdout is the host's until the handshake
export { z } from "zod";
export { createPlugin, Plugin, ClientRequestError, InvalidArgumentsError } from "./plugin.js";
export { NotFoundError } from "./features.js";
export type { ResourceSpec, ResourceTemplateSpec, ResourceRequest, ResourceBody, ResourceHandler, PromptSpec, PromptMessage, PromptResult, PromptHandler, Completer } from "./features.js";
export type { PluginOptions, ToolSpec, ToolHandler, ToolRequest, ToolAnnotations, McpLogLevel, InvokeOptions, AskOptions } from "./plugin.js";
export { Caller } from "./caller.js";
export type { WireCaller } from "./caller.js";
export { text, markdown, object, error, image, audio, resource, resourceLink, mix, ToolResult } from "./results.js";
export type { HandlerResult, WireContent } from "./results.js";
export { createLogger } from "./log.js";
export type { Logger } from "./log.js";
export { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, PROTOCOL_VERSION } from "./handshake.js";
