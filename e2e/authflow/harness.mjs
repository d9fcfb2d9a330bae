// harness.mjs: what the OAuth end-to-end clients share: a fetch that records
// every request, a headless "browser" that follows redirects and submits the
// authorization server's forms, a loopback redirect_uri (RFC 8252) and an
// OAuthClientProvider for the MCP TypeScript SDK that drives them.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

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

export function recordingFetch(list) {
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

// fillForm reads the first <form> of a login/consent page and fills it in the
// way a person would: the account's email and password (when account is
// given), the hidden and default values, and the submit button choose() picks
// among the form's <button name value> (a person clicking it).
function fillForm(html, pageUrl, { account, choose } = {}) {
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
    if (account && (type === 'email' || name === 'email' || name === 'login')) fields.set(name, account.email);
    else if (account && type === 'password') fields.set(name, account.password);
    else fields.set(name, attr(tag, 'value') ?? '');
  }
  const buttons = [...form[2].matchAll(/<button\b[^>]*>/gi)]
    .map(([tag]) => ({ name: attr(tag, 'name'), value: attr(tag, 'value') ?? '' }))
    .filter((b) => b.name);
  const picked = choose && buttons.length ? choose(buttons) : undefined;
  if (picked) fields.set(picked.name, picked.value);
  return { action, method, fields };
}

// Browser drives one authorization: from the authorization URL to the redirect
// URI, following redirects and submitting forms. Steps are recorded.
export class Browser {
  jar = new CookieJar();
  steps = [];

  // policy: what fillForm fills in ({account, choose}).
  constructor(policy = {}) {
    this.policy = policy;
  }

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
      const form = res.ok && fillForm(html, url, this.policy);
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
export async function startCallbackServer() {
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

export class HeadlessOAuthProvider {
  constructor(redirectUri, browser, callbacks, clientName = 'mcphost e2e authflow') {
    this._clientName = clientName;
    this._redirectUri = redirectUri;
    this.browser = browser;
    this.callbacks = callbacks;
    this.authorizations = []; // query parameters of each authorization URL
    this.codes = [];
  }

  get redirectUrl() { return this._redirectUri; }

  get clientMetadata() {
    return {
      client_name: this._clientName,
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

export function decodeJWT(token) {
  const [h, p] = token.split('.');
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(h), claims: dec(p) };
}


// run runs a client script's main: on success its output object goes to
// stdout as JSON and the process exits 0; on failure the error and the
// progress so far go to stderr, exit 1.
export function run(name, main, out) {
  main().then(
    () => {
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      process.exit(0);
    },
    (err) => {
      console.error(`${name}: FAILED:`, err?.stack || err);
      console.error(`${name}: progress so far:`, JSON.stringify(out, null, 2));
      process.exit(1);
    },
  );
}
