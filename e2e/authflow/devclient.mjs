// devclient.mjs: the official MCP TypeScript SDK client doing OAuth on its own
// against `mcphost dev`, whose embedded authorization server stands in for
// AuthKit: 401 -> discovery -> dynamic registration -> authorize (the login
// page, where the "browser" picks DEV_USER) -> token -> whoami, then a refresh
// with the refresh token the server issued.
//
// One JSON object on stdout; diagnostics on stderr; non-zero exit on failure.
// Env: MCP_URL (required), DEV_USER (default user_alice), CLIENT_TIMEOUT_MS.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, discoverAuthorizationServerMetadata, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import { Browser, HeadlessOAuthProvider, decodeJWT, recordingFetch, run, startCallbackServer } from './harness.mjs';

const MCP_URL = process.env.MCP_URL;
const DEV_USER = process.env.DEV_USER || 'user_alice';
if (!MCP_URL) {
  console.error('devclient.mjs: set MCP_URL');
  process.exit(2);
}
setTimeout(() => {
  console.error('devclient.mjs: timed out');
  process.exit(3);
}, Number(process.env.CLIENT_TIMEOUT_MS || 120000)).unref();

const out = { mcp_url: MCP_URL, user: DEV_USER };
const requests = [];

async function main() {
  const sdkFetch = recordingFetch(requests);
  const callbacks = await startCallbackServer();
  // The developer clicks the button of DEV_USER on the login page.
  const browser = new Browser({ choose: (buttons) => buttons.find((b) => b.name === 'user' && b.value === DEV_USER) });
  const provider = new HeadlessOAuthProvider(callbacks.redirectUri, browser, callbacks, 'mcphost dev e2e');
  Object.assign(out, { redirect_uri: callbacks.redirectUri, requests, browser: browser.steps, authorization_requests: provider.authorizations });
  try {
    const first = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: sdkFetch });
    try {
      await new Client({ name: 'mcphost-dev-e2e', version: '1.0.0' }).connect(first);
      throw new Error('connect without a token unexpectedly succeeded');
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
    }
    await first.finishAuth(provider.takeCode());
    await first.close().catch(() => {});
    const tokens = provider.tokens();
    if (!tokens?.access_token || !tokens.refresh_token) throw new Error(`token response lacks tokens: ${JSON.stringify(tokens)}`);

    const client = new Client({ name: 'mcphost-dev-e2e', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: sdkFetch }));
    out.tools = (await client.listTools()).tools.map((t) => t.name);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    if (who.isError) throw new Error(`whoami: ${JSON.stringify(who.content)}`);
    out.whoami = who.structuredContent ?? null;
    // The shipped TypeScript and Python example plugins, through this client.
    const marker = `devclient ${DEV_USER} ${Date.now()}`;
    const call = async (name, args) => {
      const res = await client.callTool({ name, arguments: args });
      if (res.isError) throw new Error(`${name}: ${JSON.stringify(res.content)}`);
      return res.structuredContent ?? {};
    };
    out.marker = marker;
    out.task_added = (await call('add-task', { title: marker })).task?.title ?? null;
    out.task_titles = ((await call('list-tasks', {})).tasks ?? []).map((t) => t.title);
    out.note_added = (await call('add-note', { title: marker })).title ?? null;
    out.note_count = (await call('list-notes', { query: marker })).count ?? null;
    await client.close();
    out.registered_client = provider.clientInformation();
    out.access_token_jwt = decodeJWT(tokens.access_token);

    // The refresh token works once and yields a new pair for the same user.
    const issuer = out.access_token_jwt.claims.iss;
    const metadata = await discoverAuthorizationServerMetadata(issuer, { fetchFn: sdkFetch });
    const refreshed = await refreshAuthorization(issuer, {
      metadata, clientInformation: provider.clientInformation(), refreshToken: tokens.refresh_token,
      resource: new URL(MCP_URL), fetchFn: sdkFetch,
    });
    out.refreshed_jwt = decodeJWT(refreshed.access_token);
    out.refresh_rotated = !!refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token;
    try {
      await refreshAuthorization(issuer, {
        metadata, clientInformation: provider.clientInformation(), refreshToken: tokens.refresh_token,
        resource: new URL(MCP_URL), fetchFn: sdkFetch,
      });
      out.reused_refresh = 'accepted';
    } catch (err) {
      out.reused_refresh = String(err?.message || err);
    }
  } finally {
    callbacks.server.close();
  }
}

run('devclient.mjs', main, out);
