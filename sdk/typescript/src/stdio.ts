// Under the host, stdout carries the handshake line, and go-plugin takes the
// first line it reads for it. So while the SDK is loaded in a plugin the host
// started, console.log and friends write to stderr, which goes to the host's
// log. This runs when the SDK is imported, before the plugin's own top-level code.
import { format } from "node:util";
import { MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE } from "./handshake.js";

export function redirectConsole(): void {
  const toStderr = (...args: unknown[]) => {
    process.stderr.write(format(...args) + "\n");
  };
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
}

if (process.env[MAGIC_COOKIE_KEY] === MAGIC_COOKIE_VALUE) redirectConsole();
