// A real OpenID provider for GAS's sign-in tests: oidc-provider (the certified Node.js
// implementation) with its own login and consent pages, on 127.0.0.1.
//
//   node server.js CONFIG.json      (prints one line of JSON, {"issuer": ...}, once it listens)
//
// CONFIG: {"port": 0, "clients": [{client_id, client_secret, redirect_uris, token_endpoint_auth_method}]}
// Test controls (JSON POSTs under /_test/, for the pytest fixture only):
//   /_test/account  {id, password, claims}   add or replace an account (its claims are what userinfo tells)
//   /_test/rotate-keys                        sign with a new key; the old one leaves the JWKS
//   /_test/hold-answer {hold}                 show the answer for GAS (the redirect to its callback) as a
//                                             link (#answer) instead of following it, for a test to alter
//   /_test/id-token {mode}                    re-sign the token endpoint's ID tokens: "expired" (real key,
//                                             exp in the past), "foreign-key" (same kid, another key),
//                                             "previous-key" (the key before the last rotation), or null
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { Provider } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map();
let idTokenMode = null;
let holdAnswer = false;
let signingKey = null; // the private JWK the provider signs with
let previousKey = null; // the one before the last rotation (no longer published)
let provider = null;
let issuer = null;

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  return { ...jwk, kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, title, body, status = 200) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html><head><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function buildProvider() {
  const p = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...c,
    })),
    jwks: { keys: [signingKey] },
    cookies: { keys: ['gas-test-cookie-key'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'organization', 'identity_set',
        'identity_provider', 'identity_provider_display_name', 'last_authentication'],
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ ...account.claims, sub: id }) };
    },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  });
  p.proxy = false;
  // The token endpoint's answer, re-signed when a test asks for a bad ID token.
  p.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && idTokenMode && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await resign(ctx.body.id_token) };
    }
  });
  p.use(async (ctx, next) => {
    await next();
    const location = ctx.response.get('Location');
    if (holdAnswer && location && location.includes('/login/callback/')) {
      ctx.remove('Location');
      ctx.status = 200;
      ctx.type = 'html';
      ctx.body = `<!doctype html><html><body><h1>The answer for GAS, held back</h1>
<a id="answer" href="${escapeHtml(location)}">${escapeHtml(location)}</a></body></html>`;
    }
  });
  return p;
}

async function resign(token) {
  const claims = jose.decodeJwt(token);
  const header = jose.decodeProtectedHeader(token);
  let key = signingKey;
  if (idTokenMode === 'expired') {
    const now = Math.floor(Date.now() / 1000);
    claims.iat = now - 1800;
    claims.exp = now - 900;
  } else if (idTokenMode === 'foreign-key') {
    key = { ...(await newSigningKey()), kid: header.kid };
  } else if (idTokenMode === 'previous-key' && previousKey) {
    key = previousKey;
  }
  const privateKey = await jose.importJWK(key, 'RS256');
  return new jose.SignJWT(claims).setProtectedHeader({ alg: header.alg, kid: key.kid, typ: header.typ })
    .sign(privateKey);
}

async function interaction(req, res, path) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  const client = await provider.Client.find(params.client_id);
  const clientName = client?.clientName || params.client_id;
  const [, , , action] = path.split('/');
  if (req.method === 'GET') {
    if (prompt.name === 'login') {
      return page(res, 'Sign in to the test provider', `
<p>Signing in to <b>${escapeHtml(clientName)}</b>.</p>
<form method="post" action="/interaction/${uid}/login" autocomplete="off">
  <label>Username <input name="login" id="login" required></label>
  <label>Password <input name="password" id="password" type="password" required></label>
  <button type="submit" id="sign-in">Sign in</button>
</form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit" id="cancel">Cancel</button></form>`);
    }
    const scopes = [...(prompt.details.missingOIDCScope || [])];
    return page(res, 'Share your details?', `
<p><b>${escapeHtml(clientName)}</b> asks for: <span id="scopes">${escapeHtml(scopes.join(' '))}</span>
(signed in as ${escapeHtml(session?.accountId || '')}).</p>
<form method="post" action="/interaction/${uid}/confirm"><button type="submit" id="allow">Allow</button></form>
<form method="post" action="/interaction/${uid}/abort"><button type="submit" id="deny">Deny</button></form>`);
  }
  const form = new URLSearchParams(await readBody(req));
  if (action === 'login') {
    const account = accounts.get(form.get('login'));
    if (!account || account.password !== form.get('password')) {
      return page(res, 'Sign in to the test provider', `<p id="error">Wrong username or password.</p>
<form method="post" action="/interaction/${uid}/login"><input name="login" id="login">
<input name="password" id="password" type="password"><button type="submit" id="sign-in">Sign in</button></form>`, 401);
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } },
      { mergeWithLastSubmission: false });
  }
  if (action === 'confirm') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return provider.interactionFinished(req, res,
    { error: 'access_denied', error_description: 'The user declined to share their details' },
    { mergeWithLastSubmission: false });
}

async function control(req, res, path) {
  const body = JSON.parse((await readBody(req)) || '{}');
  if (path === '/_test/account') {
    accounts.set(body.id, { password: body.password, claims: body.claims || {} });
  } else if (path === '/_test/rotate-keys') {
    previousKey = signingKey;
    signingKey = await newSigningKey();
    provider = buildProvider();
  } else if (path === '/_test/hold-answer') {
    holdAnswer = Boolean(body.hold);
  } else if (path === '/_test/id-token') {
    idTokenMode = body.mode || null;
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ ok: true, kid: signingKey.kid }));
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  try {
    if (path.startsWith('/_test/') && req.method === 'POST') return await control(req, res, path);
    if (path.startsWith('/interaction/')) return await interaction(req, res, path);
    return provider.callback()(req, res);
  } catch (err) {
    console.error(err);
    if (!res.headersSent) page(res, 'Test provider error', `<pre>${escapeHtml(err.stack || err)}</pre>`, 500);
  }
});

server.listen(config.port || 0, '127.0.0.1', async () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  signingKey = await newSigningKey();
  provider = buildProvider();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
