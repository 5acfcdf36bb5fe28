#!/usr/bin/env node
// Prints an access token of the dev/test OpenID Provider, got by a real OAuth flow:
//
//   node deploy/oidc/token.js <login> <audience>            a demo person: authorization code
//                                                          with PKCE, signing in on the login page
//   node deploy/oidc/token.js --client dept-<dept> <audience>   a department's system: client
//                                                          credentials (secret dept-<dept>-secret)
//
// <audience> is urn:relief-mesh:<intake|verification|monitoring|relief|payment>. The password of
// every demo person is relief-demo (deploy/oidc/accounts.json). Issuer: $OIDC_ISSUER or
// http://127.0.0.1:8100. For the demo script and for curl by hand:
//
//   TOKEN=$(node deploy/oidc/token.js wang.fang urn:relief-mesh:intake)
//   curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8081/v1/applications/<id>
import { createHash, randomBytes } from 'node:crypto';

const ISSUER = (process.env.OIDC_ISSUER ?? 'http://127.0.0.1:8100').replace(/\/$/, '');
const CLIENT = 'relief-workbench';
const REDIRECT = 'http://127.0.0.1:8080/auth/callback';
const PASSWORD = process.env.OIDC_PASSWORD ?? 'relief-demo';

function fail(message) {
  process.stderr.write(`token: ${message}\n`);
  process.exit(1);
}

const b64url = (buf) => buf.toString('base64url');

async function discover() {
  const r = await fetch(`${ISSUER}/.well-known/openid-configuration`);
  if (!r.ok) fail(`discovery answered HTTP ${r.status} (is the provider running? make infra)`);
  return r.json();
}

async function tokenResponse(r) {
  const body = await r.json().catch(() => ({}));
  if (!r.ok || !body.access_token) {
    fail(`the token endpoint refused: ${body.error ?? r.status} ${body.error_description ?? ''}`);
  }
  return body.access_token;
}

async function clientCredentials(d, clientId, audience) {
  const r = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${clientId}:${clientId}-secret`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: audience }),
  });
  return tokenResponse(r);
}

// A cookie jar of name=value pairs, enough for the provider's own cookies on one host.
const jar = new Map();
function keep(response) {
  for (const c of response.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
  }
}
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function go(url, init = {}) {
  const r = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers ?? {}), cookie: cookies() } });
  keep(r);
  return r;
}

async function authorizationCode(d, login, audience) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const auth = new URL(d.authorization_endpoint);
  auth.search = new URLSearchParams({
    client_id: CLIENT, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid profile',
    code_challenge: challenge, code_challenge_method: 'S256', state, resource: audience,
  }).toString();
  let url = auth.toString();
  let submitted = false;
  for (let hop = 0; hop < 12; hop += 1) {
    if (url.startsWith(REDIRECT)) {
      const q = new URL(url).searchParams;
      if (q.get('error')) fail(`sign-in refused: ${q.get('error')} ${q.get('error_description') ?? ''}`);
      if (q.get('state') !== state) fail('the state came back changed');
      const r = await fetch(d.token_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code', code: q.get('code'), redirect_uri: REDIRECT,
          client_id: CLIENT, code_verifier: verifier, resource: audience,
        }),
      });
      return tokenResponse(r);
    }
    const r = await go(url);
    if (r.status >= 300 && r.status < 400) {
      url = new URL(r.headers.get('location'), url).toString();
      continue;
    }
    const page = await r.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(page);
    if (r.status !== 200 || !action || submitted) fail(`sign-in of ${login} failed (HTTP ${r.status})`);
    submitted = true;
    const posted = await go(new URL(action[1].replace(/&amp;/g, '&'), url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ login, password: PASSWORD }),
    });
    if (posted.status === 401) fail(`wrong login or password for ${login}`);
    if (!(posted.status >= 300 && posted.status < 400)) fail(`the login form answered HTTP ${posted.status}`);
    url = new URL(posted.headers.get('location'), url).toString();
  }
  fail('too many redirects');
}

const args = process.argv.slice(2);
const d = await discover();
if (args[0] === '--client' && args.length === 3) {
  process.stdout.write(`${await clientCredentials(d, args[1], args[2])}\n`);
} else if (args.length === 2 && !args[0].startsWith('-')) {
  process.stdout.write(`${await authorizationCode(d, args[0], args[1])}\n`);
} else {
  fail('usage: token.js <login> <audience> | token.js --client dept-<dept> <audience>');
}
