// The dev/test OpenID Provider of relief-mesh: the OpenID-certified `oidc-provider` with our
// accounts (accounts.json), our clients (relief-workbench and one dept-<department> per line of
// deploy/departments.txt), our resource servers (one audience per service family) and a minimal
// login page. Plain HTTP on loopback, in-memory state: for development and tests only; production
// uses Keycloak.
//
// Environment (all optional):
//   OIDC_PORT              port to listen on (8100)
//   OIDC_HOST              address to listen on (127.0.0.1; loopback addresses only)
//   OIDC_ISSUER            issuer identifier (http://127.0.0.1:<OIDC_PORT>)
//   OIDC_KEYS_FILE         RS256 private JWK Set, the first key signs (<repo>/.run/oidc/jwks.json;
//                          generated with one key when missing, see keys.js)
//   OIDC_ACCESS_TOKEN_TTL  lifetime of access tokens in seconds (3600)
//   OIDC_ACCOUNTS_FILE     accounts and department system names (deploy/oidc/accounts.json)
//   OIDC_DEPARTMENTS_FILE  departments, one `<name> <port>` a line (deploy/departments.txt)
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

import { loadOrCreateKeys } from './keys.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');

const env = process.env;
const PORT = positiveInt('OIDC_PORT', env.OIDC_PORT ?? '8100');
const HOST = env.OIDC_HOST || '127.0.0.1';
const ISSUER = env.OIDC_ISSUER || `http://127.0.0.1:${PORT}`;
const KEYS_FILE = path.resolve(env.OIDC_KEYS_FILE || path.join(ROOT, '.run/oidc/jwks.json'));
const ACCESS_TOKEN_TTL = positiveInt('OIDC_ACCESS_TOKEN_TTL', env.OIDC_ACCESS_TOKEN_TTL ?? '3600');
const ACCOUNTS_FILE = path.resolve(env.OIDC_ACCOUNTS_FILE || path.join(HERE, 'accounts.json'));
const DEPARTMENTS_FILE = path.resolve(env.OIDC_DEPARTMENTS_FILE || path.join(ROOT, 'deploy/departments.txt'));

// The audiences of the contract: one per service family (every relief-<dept> shares `relief`).
const FAMILIES = ['intake', 'verification', 'monitoring', 'relief', 'payment'];
const RESOURCES = new Set(FAMILIES.map((f) => `urn:relief-mesh:${f}`));

const WORKBENCH = 'relief-workbench';
const WORKBENCH_REDIRECT = 'http://127.0.0.1:8080/auth/callback';

function positiveInt(name, value) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0 || n > 65535 * 1000) {
    throw new Error(`${name} must be a positive integer, not ${JSON.stringify(value)}`);
  }
  return n;
}

function log(message) {
  console.log(`${new Date().toISOString()} oidc: ${message}`);
}

// ------------------------------------------------------------------ accounts and clients
const accountsDoc = JSON.parse(fs.readFileSync(ACCOUNTS_FILE, 'utf8'));
const ACCOUNTS = new Map(accountsDoc.accounts.map((a) => [a.login, a]));

const DEPARTMENTS = fs.readFileSync(DEPARTMENTS_FILE, 'utf8')
  .split('\n')
  .map((line) => line.replace(/#.*/, '').trim())
  .filter(Boolean)
  .map((line) => line.split(/\s+/)[0]);
if (DEPARTMENTS.length === 0) throw new Error(`${DEPARTMENTS_FILE} names no department`);

// The claims of the contract every access token (and the profile scope) carries.
function userClaims(account) {
  return {
    name: account.name,
    roles: account.roles ?? [],
    areas: account.areas ?? [],
    ...(account.department ? { department: account.department } : {}),
    rights: account.rights ?? [],
  };
}

// The department system behind client `dept-<department>`, or undefined.
function departmentOf(clientId) {
  const dept = clientId?.startsWith('dept-') ? clientId.slice(5) : undefined;
  return DEPARTMENTS.includes(dept) ? dept : undefined;
}

function systemClaims(dept) {
  return {
    name: accountsDoc.department_system_names?.[dept] ?? `${dept} 部门系统`,
    roles: ['department_system'],
    areas: [],
    department: dept,
    rights: [],
  };
}

const clients = [
  {
    client_id: WORKBENCH,
    client_name: '社会救助工作台',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [WORKBENCH_REDIRECT],
    post_logout_redirect_uris: ['http://127.0.0.1:8080/'],
    scope: 'openid profile',
  },
  ...DEPARTMENTS.map((dept) => ({
    client_id: `dept-${dept}`,
    client_name: systemClaims(dept).name,
    client_secret: `dept-${dept}-secret`,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  })),
];

// ------------------------------------------------------------------ the provider
const jwks = loadOrCreateKeys(KEYS_FILE);

const provider = new Provider(ISSUER, {
  clients,
  jwks,
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'roles', 'areas', 'department', 'rights'],
  },
  // The profile claims in the ID Token too (the workbench shows the name without a UserInfo call).
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    const account = ACCOUNTS.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, ...userClaims(account) };
      },
    };
  },
  // The contract's claims in every access token: the account's for a user, the department
  // system's for a client-credentials token (its sub is the client id).
  async extraTokenClaims(_ctx, token) {
    if (token.accountId) {
      const account = ACCOUNTS.get(token.accountId);
      return account ? userClaims(account) : undefined;
    }
    const dept = departmentOf(token.clientId);
    return dept ? systemClaims(dept) : undefined;
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // A client-credentials token is for one service family: the request must name it.
      async defaultResource(ctx, _client, oneOf) {
        if (oneOf) return oneOf;
        if (ctx.oidc.params?.grant_type === 'client_credentials') {
          throw new errors.InvalidTarget(`resource is required: one of ${[...RESOURCES].join(' ')}`);
        }
        return undefined;
      },
      async getResourceServerInfo(_ctx, resource) {
        if (!RESOURCES.has(resource)) {
          throw new errors.InvalidTarget(`unknown resource ${resource}`);
        }
        return {
          scope: '',
          audience: resource,
          accessTokenTTL: ACCESS_TOKEN_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
      // A code exchanged without `resource` still gets the access token of the one resource
      // of its authorization request.
      async useGrantedResource() {
        return true;
      },
    },
  },
  responseTypes: ['code'],
  pkce: {
    // Every authorization code flow uses PKCE (S256, the only method oidc-provider accepts).
    required: () => true,
  },
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    ClientCredentials: ACCESS_TOKEN_TTL,
    IdToken: ACCESS_TOKEN_TTL,
    Interaction: 600,
    Session: 8 * 3600,
    Grant: 8 * 3600,
  },
});

// Our clients are first party: consent is given by the bureau, not asked of the user. The grant
// covers what the request asks for: its OpenID scopes and every requested resource.
async function firstPartyGrant(details) {
  const { params, grantId } = details;
  const accountId = details.session?.accountId ?? details.result?.login?.accountId;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  const scopes = String(params.scope ?? '').split(' ').filter((s) => ['openid', 'profile'].includes(s));
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = details.prompt?.details?.missingOIDCClaims;
  if (claims?.length) grant.addOIDCClaims(claims);
  const resources = params.resource === undefined ? [] : [params.resource].flat();
  for (const resource of resources) grant.addResourceScope(resource, '');
  const missing = details.prompt?.details?.missingResourceScopes ?? {};
  for (const [resource, scope] of Object.entries(missing)) grant.addResourceScope(resource, scope.join(' '));
  return grant.save();
}

// ------------------------------------------------------------------ the login page
function html(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, clientName, login, error) {
  return `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 · 社会救助</title>
<style>
  body { font-family: system-ui, "Noto Sans CJK SC", sans-serif; background: #f4f5f7; margin: 0; }
  main { max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 6px;
         box-shadow: 0 1px 4px rgba(0,0,0,.15); }
  h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
  p.client { color: #555; margin: 0 0 1.5rem; }
  label { display: block; margin: .8rem 0 .3rem; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; font-size: 1rem; }
  button { margin-top: 1.4rem; width: 100%; padding: .6rem; font-size: 1rem; }
  p.error { color: #b00020; }
</style>
</head>
<body>
<main>
  <h1>登录</h1>
  <p class="client">${html(clientName)}</p>
  ${error ? `<p class="error" role="alert">${html(error)}</p>` : ''}
  <form method="post" action="/interaction/${html(uid)}/login" autocomplete="off">
    <label for="login">用户名</label>
    <input id="login" name="login" value="${html(login)}" required autofocus>
    <label for="password">密码</label>
    <input id="password" name="password" type="password" required>
    <button type="submit">登录</button>
  </form>
</main>
</body>
</html>
`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function finish(ctx, result) {
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(to);
}

// Every request, one line on stdout.
provider.use(async (ctx, next) => {
  const started = Date.now();
  await next();
  log(`${ctx.method} ${ctx.path} ${ctx.status} ${Date.now() - started}ms`);
});

// GET  /interaction/<uid>        login page, or (consent prompt) the first-party grant
// POST /interaction/<uid>/login  check the password; on success log in and grant in one step
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
  if (!match) return next();
  ctx.set('cache-control', 'no-store');
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== match[1]) throw new errors.SessionNotFound('interaction mismatch');
    const client = await provider.Client.find(details.params.client_id);
    const clientName = client?.clientName ?? details.params.client_id;

    if (ctx.method === 'GET' && !match[2]) {
      if (details.prompt.name === 'login') {
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, clientName, details.params.login_hint, undefined);
        return undefined;
      }
      if (details.prompt.name === 'consent') {
        const grantId = await firstPartyGrant(details);
        return finish(ctx, { consent: { grantId } });
      }
      return finish(ctx, { error: 'access_denied', error_description: `unsupported prompt ${details.prompt.name}` });
    }

    if (ctx.method === 'POST' && match[2]) {
      if (details.prompt.name !== 'login') throw new errors.SessionNotFound('no login pending');
      const form = await readForm(ctx.req);
      const login = (form.get('login') ?? '').trim();
      const account = ACCOUNTS.get(login);
      const expected = account?.password ?? accountsDoc.password;
      if (!account || form.get('password') !== expected) {
        log(`login failed for ${JSON.stringify(login)} (client ${details.params.client_id})`);
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginPage(details.uid, clientName, login, '用户名或密码错误');
        return undefined;
      }
      log(`login ${login} (client ${details.params.client_id})`);
      const grantId = await firstPartyGrant({ ...details, result: { login: { accountId: login } } });
      return finish(ctx, { login: { accountId: login, remember: false }, consent: { grantId } });
    }

    ctx.status = 405;
    return undefined;
  } catch (err) {
    if (err instanceof errors.OIDCProviderError) {
      ctx.status = err.status;
      ctx.type = 'text';
      ctx.body = `${err.error}: ${err.error_description ?? err.message}`;
      return undefined;
    }
    throw err;
  }
});

// ------------------------------------------------------------------ errors and listening
for (const event of ['server_error', 'authorization.error', 'grant.error', 'introspection.error', 'revocation.error', 'userinfo.error', 'discovery.error', 'jwks.error']) {
  provider.on(event, (ctx, err) => {
    const e = err ?? ctx;
    log(`${event}: ${e?.error ?? ''} ${e?.error_description ?? e?.message ?? ''}`.trim());
  });
}

if (!['127.0.0.1', '::1', 'localhost'].includes(HOST)) {
  throw new Error(`OIDC_HOST=${HOST}: the dev/test provider listens on loopback only`);
}

const server = http.createServer(provider.callback());
server.on('error', (err) => {
  console.error(`oidc: cannot listen on ${HOST}:${PORT}: ${err.message}`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  log(`listening on http://${HOST}:${PORT}, issuer ${ISSUER}, signing key ${jwks.keys[0].kid} (${KEYS_FILE}), `
    + `clients ${clients.map((c) => c.client_id).join(' ')}, access tokens ${ACCESS_TOKEN_TTL}s`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    log(`${signal}, stopping`);
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
