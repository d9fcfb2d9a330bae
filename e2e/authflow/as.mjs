// as.mjs: a real OAuth 2.1 / OpenID Connect authorization server (oidc-provider)
// standing in for WorkOS AuthKit in the end-to-end auth test.
//
// It mimics what mcphost relies on from AuthKit:
//   - issuer is the bare origin, e.g. http://127.0.0.1:PORT (no path);
//   - endpoints live under /oauth2: /oauth2/{authorize,token,register,jwks};
//   - open dynamic client registration (RFC 7591), PKCE S256 required;
//   - resource indicators (RFC 8707): an access token requested for a resource
//     is an RS256 JWT whose `aud` is that resource;
//   - access tokens carry org_id, roles, permissions, email, name and sid,
//     like an AuthKit environment configured to add them.
// It also serves RFC 8414 metadata at /.well-known/oauth-authorization-server
// (the same document as /.well-known/openid-configuration), which is the first
// place the MCP SDK looks.
//
// Login is a real (tiny) HTML login form and consent form, so the test client
// drives the browser part by posting forms with cookies, as a person would.
// There is exactly one account (see ACCOUNT below).
//
// Usage: AS_PORT=PORT node as.mjs   (prints "authorization server ready <issuer>")

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { ACCOUNT } from './account.mjs';

const port = Number(process.env.AS_PORT || 0);
if (!Number.isInteger(port) || port <= 0) {
  console.error('as.mjs: set AS_PORT to the port to listen on');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;


// A fresh RS256 signing key per run; published at /oauth2/jwks.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `e2e-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };

// What AuthKit puts in its access tokens' `scope` for an MCP client.
const RESOURCE_SCOPES = 'openid profile email offline_access';

// Resource indicators are accepted for any loopback http(s) URL: the test asks
// for mcphost's /mcp and, for the negative case, for some other resource.
function loopbackResource(indicator) {
  const u = URL.parse(indicator);
  return !!u && ['http:', 'https:'].includes(u.protocol) && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

const configuration = {
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },

  routes: {
    authorization: '/oauth2/authorize',
    token: '/oauth2/token',
    registration: '/oauth2/register',
    jwks: '/oauth2/jwks',
    userinfo: '/oauth2/userinfo',
    revocation: '/oauth2/revoke',
    end_session: '/oauth2/logout',
  },

  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },

  async findAccount(ctx, id) {
    if (id !== ACCOUNT.id) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: ACCOUNT.email, email_verified: true, name: ACCOUNT.name };
      },
    };
  },

  // Lifetimes in seconds (set explicitly; the defaults log notices).
  ttl: {
    AccessToken: 3600,
    IdToken: 3600,
    RefreshToken: 86400,
    Grant: 86400,
    Session: 86400,
    Interaction: 600,
  },

  // Public clients (token_endpoint_auth_method "none") always need PKCE anyway;
  // AuthKit requires it for everyone, so do we. oidc-provider only does S256.
  pkce: { required: () => true },

  // Where the authorization endpoint sends the browser for login/consent.
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },

  features: {
    devInteractions: { enabled: false }, // our own forms below
    registration: { enabled: true }, // open DCR, no initial access token
    resourceIndicators: {
      enabled: true,
      // A token request without `resource` gets the resource that was
      // authorized (as AuthKit does), not an access token for userinfo.
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (!loopbackResource(resourceIndicator)) throw new errors.InvalidTarget();
        return {
          scope: RESOURCE_SCOPES,
          audience: resourceIndicator,
          accessTokenTTL: 60 * 60,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },

  // AuthKit-style custom claims in every access token.
  async extraTokenClaims(ctx, token) {
    if (token.kind !== 'AccessToken' || token.accountId !== ACCOUNT.id) return undefined;
    return {
      org_id: ACCOUNT.org_id,
      roles: ACCOUNT.roles,
      permissions: ACCOUNT.permissions,
      email: ACCOUNT.email,
      email_verified: true,
      name: ACCOUNT.name,
      // oidc-provider only fills `sid` when an ID token asks for it; AuthKit
      // always sends its session id, so fall back to the AS session's id.
      sid: token.sid || token.sessionUid,
    };
  },

  // Quiet the "you should change this" hints that do not apply to a test AS.
  clientBasedCORS: () => true,
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('as.mjs server_error:', err));
provider.on('grant.error', (ctx, err) => console.error('as.mjs grant.error:', err.message, err.error_description ?? ''));
provider.on('registration_create.error', (ctx, err) => console.error('as.mjs registration error:', err.message, err.error_description ?? ''));
provider.on('authorization.error', (ctx, err) => console.error('as.mjs authorization error:', err.message, err.error_description ?? ''));

const oidcCallback = provider.callback();

// ---- login and consent pages -------------------------------------------------

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
}

function sendHTML(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 << 10) throw new Error('form too large');
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return sendHTML(res, 400, page('Error', '<p>interaction mismatch</p>'));
  const { prompt, params, session } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      return sendHTML(res, 200, page('Sign in', `
<form method="post" action="/interaction/${esc(uid)}/login">
  <label>Email <input type="email" name="email" autocomplete="username"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password"></label>
  <button type="submit">Sign in</button>
</form>`));
    }
    if (prompt.name === 'consent') {
      const client = await provider.Client.find(params.client_id);
      return sendHTML(res, 200, page('Authorize', `
<p>${esc(client?.clientName || params.client_id)} wants access to ${esc(params.resource || 'your account')}
with scopes ${esc(params.scope || '')}.</p>
<form method="post" action="/interaction/${esc(uid)}/consent">
  <input type="hidden" name="decision" value="allow">
  <button type="submit">Allow</button>
</form>`));
    }
    return sendHTML(res, 501, page('Error', `<p>prompt ${esc(prompt.name)} not implemented</p>`));
  }

  if (req.method === 'POST' && action === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    if (form.get('email') !== ACCOUNT.email || form.get('password') !== ACCOUNT.password) {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'wrong email or password' }, { mergeWithLastSubmission: false });
    }
    return provider.interactionFinished(req, res, { login: { accountId: ACCOUNT.id } }, { mergeWithLastSubmission: false });
  }

  if (req.method === 'POST' && action === 'consent' && prompt.name === 'consent') {
    const form = await readForm(req);
    if (form.get('decision') !== 'allow') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'consent denied' }, { mergeWithLastSubmission: false });
    }
    // Grant exactly what the consent prompt says is missing.
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  return sendHTML(res, 400, page('Error', '<p>unexpected request for this interaction</p>'));
}

// ---- HTTP front ------------------------------------------------------------------

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    // RFC 8414 metadata: same document as OpenID discovery (issuer has no path).
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      req.url = '/.well-known/openid-configuration' + url.search;
      return oidcCallback(req, res);
    }
    const m = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login|consent))?$/);
    if (m) return await interaction(req, res, m[1], m[2]);
    return oidcCallback(req, res);
  } catch (err) {
    console.error('as.mjs:', req.method, url.pathname, err);
    if (!res.headersSent) sendHTML(res, 500, page('Error', `<p>${esc(err.message)}</p>`));
  }
});

server.listen(port, '127.0.0.1', () => {
  console.log(`authorization server ready ${issuer}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
