// client.mjs: the official MCP TypeScript SDK client doing the whole MCP
// authorization flow against mcphost, with a headless "browser" for the login
// and consent pages of the authorization server (as.mjs).
//
//   1. connect to MCP_URL with no token: mcphost answers 401 with a
//      WWW-Authenticate challenge naming its protected-resource metadata;
//   2. the SDK fetches that metadata (RFC 9728), then the authorization server's
//      metadata (RFC 8414), registers a client (RFC 7591) and builds an
//      authorization URL with PKCE S256 and `resource` (RFC 8707);
//   3. redirectToAuthorization() plays the browser: follows redirects with a
//      cookie jar, fills in the login form, approves consent, and lands on the
//      loopback redirect_uri served here, which captures the code;
//   4. transport.finishAuth(code) exchanges it at the token endpoint;
//   5. a new connection with the token: tools/list, tools/call whoami.
// Then, for the negative case, it gets a second real token from the same AS for
// OTHER_RESOURCE (a different audience) and hands it to the Go test.
//
// Every HTTP request the SDK makes goes through a recording fetch. The result is
// one JSON object on stdout; diagnostics go to stderr. Exit status is non-zero
// on any failure.
//
// Env: MCP_URL (required), OTHER_RESOURCE (required), CLIENT_TIMEOUT_MS (default 120000).

import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  UnauthorizedError,
  discoverAuthorizationServerMetadata,
  exchangeAuthorization,
  startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import { ACCOUNT } from './account.mjs';
import { Browser, HeadlessOAuthProvider, decodeJWT, recordingFetch, run, startCallbackServer } from './harness.mjs';

const MCP_URL = process.env.MCP_URL;
const OTHER_RESOURCE = process.env.OTHER_RESOURCE;
if (!MCP_URL || !OTHER_RESOURCE) {
  console.error('client.mjs: set MCP_URL and OTHER_RESOURCE');
  process.exit(2);
}
const timeout = setTimeout(() => {
  console.error('client.mjs: timed out');
  process.exit(3);
}, Number(process.env.CLIENT_TIMEOUT_MS || 120000));
timeout.unref();

const log = (...a) => console.error('client.mjs:', ...a);

// ---- the flow ----------------------------------------------------------------------

// What is printed on stdout (on success) or stderr (on failure, as far as it got).
const out = { mcp_url: MCP_URL, other_resource: OTHER_RESOURCE };
const requests = [];

async function main() {
  const sdkFetch = recordingFetch(requests);
  const callbacks = await startCallbackServer();
  const browser = new Browser({ account: ACCOUNT });
  const provider = new HeadlessOAuthProvider(callbacks.redirectUri, browser, callbacks);
  out.redirect_uri = callbacks.redirectUri;
  out.requests = requests;
  out.browser = browser.steps;
  out.authorization_requests = provider.authorizations;

  try {
    // 1-3: no token yet. The SDK meets the 401, discovers, registers and
    // sends the browser to the authorization server; connect then fails with
    // UnauthorizedError, as it does in a real app while the user signs in.
    const first = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: sdkFetch });
    const c1 = new Client({ name: 'mcphost-e2e-authflow', version: '1.0.0' });
    try {
      await c1.connect(first);
      throw new Error('connect without a token unexpectedly succeeded');
    } catch (err) {
      if (!(err instanceof UnauthorizedError)) throw err;
      log('first connect: UnauthorizedError as expected; authorization code captured:', provider.codes.length === 1);
    }

    // 4: the code comes back to the app; the SDK exchanges it.
    await first.finishAuth(provider.takeCode());
    await first.close().catch(() => {});
    const tokens = provider.tokens();
    if (!tokens?.access_token) throw new Error('finishAuth stored no access token');

    // 5: connect again, now with the token, and use the tools.
    const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider, fetch: sdkFetch });
    const client = new Client({ name: 'mcphost-e2e-authflow', version: '1.0.0' });
    await client.connect(transport);
    const { tools } = await client.listTools();
    out.tools = tools.map((t) => t.name);
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    if (result.isError) throw new Error(`whoami returned an error: ${JSON.stringify(result.content)}`);
    out.whoami = result.structuredContent ?? null;
    out.whoami_text = (result.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
    await client.close();

    out.registered_client = provider.clientInformation();
    out.token_response = { token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expires_in, has_refresh_token: !!tokens.refresh_token };
    out.access_token = tokens.access_token;
    out.access_token_jwt = decodeJWT(tokens.access_token);

    // Negative case: a real token from the same AS, same client and same
    // signed-in user, but for a different resource (audience).
    const issuer = out.access_token_jwt.claims.iss;
    const negRequests = [];
    const negFetch = recordingFetch(negRequests);
    const metadata = await discoverAuthorizationServerMetadata(issuer, { fetchFn: negFetch });
    const state = randomBytes(16).toString('base64url');
    const got = callbacks.expect(state);
    const { authorizationUrl, codeVerifier } = await startAuthorization(issuer, {
      metadata,
      clientInformation: provider.clientInformation(),
      redirectUrl: callbacks.redirectUri,
      scope: 'openid profile email',
      state,
      resource: new URL(OTHER_RESOURCE),
    });
    const negBrowser = new Browser({ account: ACCOUNT });
    negBrowser.jar = browser.jar; // same browser session
    await negBrowser.authorize(authorizationUrl, callbacks.redirectUri);
    const { code } = await got;
    const other = await exchangeAuthorization(issuer, {
      metadata,
      clientInformation: provider.clientInformation(),
      authorizationCode: code,
      codeVerifier,
      redirectUri: callbacks.redirectUri,
      resource: new URL(OTHER_RESOURCE),
      fetchFn: negFetch,
    });
    out.other_requests = negRequests;
    out.other_browser = negBrowser.steps;
    out.other_access_token = other.access_token;
    out.other_access_token_jwt = decodeJWT(other.access_token);
  } finally {
    callbacks.server.close();
  }
}

run('client.mjs', main, out);
