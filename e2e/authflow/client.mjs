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

import { createServer } from 'node:http';
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

// ---- recording fetch (what the SDK sends) ------------------------------------------

function describeBody(body) {
  if (body instanceof URLSearchParams) {
    const fields = {};
    for (const [k, v] of body) {
      // One-time secrets: record that they were sent, not their value.
      fields[k] = ['code', 'code_verifier', 'refresh_token'].includes(k) ? `<${v.length} chars>` : v;
    }
    return { form: fields };
  }
  if (typeof body === 'string') {
    try {
      return { json: JSON.parse(body) };
    } catch {
      return { text: body.slice(0, 200) };
    }
  }
  return undefined;
}

function recordingFetch(list) {
  return async (input, init = {}) => {
    const url = input instanceof Request ? input.url : String(input);
    const method = (init.method || (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const entry = { method, url: url.toString() };
    const body = describeBody(init.body);
    if (body) entry.body = body;
    const headers = new Headers(init.headers);
    if (headers.has('authorization')) entry.authorization = headers.get('authorization').split(' ')[0];
    list.push(entry);
    const res = await fetch(input, init);
    entry.status = res.status;
    const wa = res.headers.get('www-authenticate');
    if (wa) entry.www_authenticate = wa;
    return res;
  };
}

// ---- headless browser ----------------------------------------------------------------

class CookieJar {
  #cookies = []; // {name, value, host, path}

  store(url, res) {
    const u = new URL(url);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = value === '';
      for (const a of attrs) {
        const [k, v = ''] = a.trim().split('=');
        const key = k.toLowerCase();
        if (key === 'path') path = v || '/';
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      this.#cookies = this.#cookies.filter((c) => !(c.name === name && c.host === u.host && c.path === path));
      if (!expired) this.#cookies.push({ name, value, host: u.host, path });
    }
  }

  header(url) {
    const u = new URL(url);
    const matches = (c) => c.host === u.host
      && (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    return this.#cookies.filter(matches).map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

// fillForm reads the single <form> of a login/consent page and fills it in
// the way a person would: their email and password, and "Allow".
function fillForm(html, pageUrl) {
  const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
  if (!form) return undefined;
  const attr = (tag, name) => tag.match(new RegExp(`\\b${name}="([^"]*)"`, 'i'))?.[1];
  const action = new URL(attr(form[1], 'action') || pageUrl, pageUrl).href;
  const method = (attr(form[1], 'method') || 'GET').toUpperCase();
  const fields = new URLSearchParams();
  for (const [tag] of form[2].matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(tag, 'name');
    if (!name) continue;
    const type = (attr(tag, 'type') || 'text').toLowerCase();
    if (type === 'email' || name === 'email' || name === 'login') fields.set(name, ACCOUNT.email);
    else if (type === 'password') fields.set(name, ACCOUNT.password);
    else fields.set(name, attr(tag, 'value') ?? '');
  }
  return { action, method, fields };
}

// Browser drives one authorization: from the authorization URL to the redirect
// URI, following redirects and submitting forms. Steps are recorded.
class Browser {
  jar = new CookieJar();
  steps = [];

  async authorize(authorizationUrl, redirectUri) {
    let url = String(authorizationUrl);
    let init = { method: 'GET' };
    for (let hop = 0; hop < 25; hop++) {
      const headers = new Headers(init.headers);
      const cookie = this.jar.header(url);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      this.jar.store(url, res);
      const step = { method: init.method, url: url.split('?')[0], status: res.status };
      this.steps.push(step);
      if (url.startsWith(redirectUri)) {
        await res.body?.cancel();
        if (!res.ok) throw new Error(`redirect_uri answered ${res.status}`);
        return;
      }
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel();
        url = new URL(res.headers.get('location'), url).href;
        init = { method: 'GET' };
        continue;
      }
      const html = await res.text();
      const form = res.ok && fillForm(html, url);
      if (!form) throw new Error(`browser: ${res.status} at ${url} without a form: ${html.slice(0, 300)}`);
      step.form = [...form.fields.keys()];
      url = form.action;
      init = form.method === 'POST'
        ? { method: 'POST', body: form.fields, headers: { 'content-type': 'application/x-www-form-urlencoded' } }
        : { method: 'GET' };
      if (form.method !== 'POST') url = `${url.split('?')[0]}?${form.fields}`;
    }
    throw new Error('browser: too many hops');
  }
}

// ---- loopback redirect_uri ----------------------------------------------------------

// A native-app style callback listener (RFC 8252 loopback redirect). Each
// authorization waits for exactly one hit with its state.
async function startCallbackServer() {
  const waiters = new Map(); // state -> {resolve, reject}
  const server = createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const state = u.searchParams.get('state');
    const w = waiters.get(state);
    if (u.pathname !== '/callback' || !w) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('unexpected callback');
      return;
    }
    waiters.delete(state);
    const params = Object.fromEntries(u.searchParams);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>Signed in. You can close this window.</p>');
    if (params.error) w.reject(new Error(`authorization failed: ${params.error}: ${params.error_description ?? ''}`));
    else w.resolve(params);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${server.address().port}/callback`;
  const expect = (state) => {
    const p = new Promise((resolve, reject) => waiters.set(state, { resolve, reject }));
    p.catch(() => {}); // awaited later; do not count as unhandled meanwhile
    return p;
  };
  return { server, redirectUri, expect };
}

// ---- OAuthClientProvider -----------------------------------------------------------

class HeadlessOAuthProvider {
  constructor(redirectUri, browser, callbacks) {
    this._redirectUri = redirectUri;
    this.browser = browser;
    this.callbacks = callbacks;
    this.authorizations = []; // query parameters of each authorization URL
    this.codes = [];
  }

  get redirectUrl() { return this._redirectUri; }

  get clientMetadata() {
    return {
      client_name: 'mcphost e2e authflow',
      redirect_uris: [this._redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    this._state = randomBytes(16).toString('base64url');
    return this._state;
  }

  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }

  async redirectToAuthorization(authorizationUrl) {
    this.authorizations.push(Object.fromEntries(new URL(authorizationUrl).searchParams));
    const state = new URL(authorizationUrl).searchParams.get('state');
    const got = this.callbacks.expect(state);
    await this.browser.authorize(authorizationUrl, this._redirectUri);
    const params = await got;
    this.codes.push(params.code);
  }

  takeCode() {
    const code = this.codes.shift();
    if (!code) throw new Error('no authorization code captured');
    return code;
  }
}

// ---- helpers ---------------------------------------------------------------------

function decodeJWT(token) {
  const [h, p] = token.split('.');
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(h), claims: dec(p) };
}

// ---- the flow ----------------------------------------------------------------------

// What is printed on stdout (on success) or stderr (on failure, as far as it got).
const out = { mcp_url: MCP_URL, other_resource: OTHER_RESOURCE };
const requests = [];

async function main() {
  const sdkFetch = recordingFetch(requests);
  const callbacks = await startCallbackServer();
  const browser = new Browser();
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
    const negBrowser = new Browser();
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
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error('client.mjs: FAILED:', err?.stack || err);
    console.error('client.mjs: progress so far:', JSON.stringify(out, null, 2));
    process.exit(1);
  },
);
