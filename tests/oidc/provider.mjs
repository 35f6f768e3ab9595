// A real OpenID Provider for Causeway's whole-system tests: panva's
// certified `oidc-provider`, configured for the `causeway approve` login
// (authorization code + PKCE S256, loopback redirect, RFC 8252) and driven
// without a browser.
//
//   node provider.mjs --jwks-out FILE
//
// generates a fresh RSA-2048 signing key, writes its PUBLIC JWKS to FILE (the
// test pins it in the log's policy), listens on 127.0.0.1 on a free port and
// prints one JSON line once ready: {"issuer":"http://127.0.0.1:PORT","jwks":"FILE"}.
// It exits on SIGTERM, SIGINT or when its stdin closes (so a test that dies
// without killing it does not leave it behind).
//
// The login interaction is an HTML form a human could use, and the same
// endpoint a test posts to: POST /interaction/:uid/login with the form field
// user=alice@example.com finishes the login with that user's amr and acr.

import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider, { interactionPolicy } from 'oidc-provider';

// The test users. alice authenticates with a second factor, bob does not,
// so a policy that demands MFA can accept one and refuse the other.
const USERS = new Map([
  ['alice@example.com', { amr: ['pwd', 'otp'], acr: 'aal2' }],
  ['bob@example.com', { amr: ['pwd'], acr: 'aal1' }],
]);

function usage(message) {
  process.stderr.write(`provider.mjs: ${message}\nusage: node provider.mjs --jwks-out FILE\n`);
  process.exit(2);
}

function parseArgs(argv) {
  let jwksOut;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--jwks-out' && i + 1 < argv.length) {
      jwksOut = argv[i + 1];
      i += 1;
    } else {
      usage(`unexpected argument ${JSON.stringify(argv[i])}`);
    }
  }
  if (!jwksOut) usage('--jwks-out FILE is required');
  return { jwksOut };
}

// An RSA-2048 signing key as a private JWK, its `kid` the RFC 7638
// thumbprint of the public key (stable for the key, unique per run).
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  // RFC 7638 §3.2: the required members, in lexicographic order, no spaces.
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  const kid = createHash('sha256').update(canonical).digest('base64url');
  return { ...jwk, kid, alg: 'RS256', use: 'sig' };
}

// The public half of a private RSA JWK: everything but the private
// parameters.
function publicJwk({ kty, n, e, kid, alg, use }) {
  return { kty, n, e, kid, alg, use };
}

// A public native client using the loopback redirect of RFC 8252 §7.3.
// oidc-provider lets the port of an http loopback redirect URI vary for
// `application_type: "native"` clients (Client#redirectUriAllowed strips
// it before comparing), so one registered URI serves every random port.
function nativeClient(clientId) {
  return {
    client_id: clientId,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://127.0.0.1/callback'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
    require_auth_time: true,
  };
}

// oidc-provider's default prompts, except that native clients are not
// made to show a consent screen on every login (RFC 8252 §8.6 advises it
// against impersonation; these are first-party test clients, and the
// scopes are granted by loadExistingGrant). Login is then the only prompt.
function firstPartyPolicy() {
  const policy = interactionPolicy.base();
  policy.get('consent').checks.remove('native_client_prompt');
  return policy;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    // A login form is a few dozen bytes; refuse anything that is not one.
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

// GET /interaction/:uid: a login form listing the test users.
async function showInteraction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const options = [...USERS.keys()]
    .map((u) => `<option value="${escapeHtml(u)}">${escapeHtml(u)}</option>`)
    .join('');
  send(res, 200, 'text/html; charset=utf-8', `<!doctype html>
<title>Causeway test IdP: log in</title>
<h1>Log in to ${escapeHtml(details.params.client_id)}</h1>
<form method="post" action="/interaction/${escapeHtml(details.uid)}/login">
<select name="user">${options}</select> <button type="submit">Log in</button>
</form>
`);
}

// POST /interaction/:uid/login: finishes the login as `user`. Consent is
// never asked (loadExistingGrant grants the scopes), so login is the only
// prompt there is.
async function finishLogin(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name !== 'login') {
    send(res, 400, 'text/plain; charset=utf-8', `unexpected prompt ${details.prompt.name}\n`);
    return;
  }
  const form = await readForm(req);
  const user = form.get('user') ?? '';
  const known = USERS.get(user);
  if (!known) {
    send(res, 400, 'text/plain; charset=utf-8', `unknown user ${JSON.stringify(user)}\n`);
    return;
  }
  await provider.interactionFinished(req, res, {
    login: {
      accountId: user, amr: known.amr, acr: known.acr, remember: false,
    },
  }, { mergeWithLastSubmission: false });
}

async function main() {
  const { jwksOut } = parseArgs(process.argv.slice(2));
  const key = signingKey();
  writeFileSync(jwksOut, `${JSON.stringify({ keys: [publicJwk(key)] })}\n`);

  // Bind first: the issuer must name the port, and the provider is made
  // with its issuer.
  let handler = (_req, res) => send(res, 503, 'text/plain', 'starting\n');
  const server = createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [nativeClient('causeway-approve'), nativeClient('other-app')],
    jwks: { keys: [key] },
    // Fixed: the test IdP restarts with every test, nothing outlives it.
    cookies: { keys: ['causeway-test-idp-cookie-key-not-a-secret'] },
    features: {
      devInteractions: { enabled: false },
    },
    pkce: { required: () => true, methods: ['S256'] },
    // Advertised in discovery; the users' logins produce these.
    acrValues: ['aal1', 'aal2'],
    // Every claim the approval record's policy looks at. Claims not named
    // here are dropped from tokens (`amr` is not in oidc-provider's
    // defaults), and a token only carries the claims of its scopes (or
    // of the request's `claims` parameter), so `acr` and `amr` ride on
    // `openid`: every ID token says how its user authenticated.
    claims: {
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
      iss: null,
      openid: ['sub', 'acr', 'amr'],
      email: ['email', 'email_verified'],
    },
    // The ID token carries the scope's claims (email) itself, not only the
    // userinfo endpoint: the log only ever sees the ID token.
    conformIdTokenClaims: false,
    async findAccount(_ctx, sub) {
      if (!USERS.has(sub)) return undefined;
      return {
        accountId: sub,
        async claims() {
          return { sub, email: sub, email_verified: true };
        },
      };
    },
    // No consent screen: these are first-party test clients, so grant what
    // they ask for (the scopes the authorization request names).
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      const grant = (grantId && await ctx.oidc.provider.Grant.find(grantId))
        || new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        });
      // Also on a grant from an earlier login in the same session, so a
      // request for more scopes is granted too rather than prompting.
      grant.addOIDCScope(ctx.oidc.requestParamOIDCScopes);
      await grant.save();
      return grant;
    },
    interactions: {
      policy: firstPartyPolicy(),
      url(_ctx, interaction) {
        return `/interaction/${interaction.uid}`;
      },
    },
    // Errors go to the test's log as JSON, not to an HTML page nobody reads.
    async renderError(ctx, out) {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(out);
    },
  });
  provider.on('server_error', (_ctx, err) => process.stderr.write(`provider.mjs: server_error: ${err?.stack ?? err}\n`));

  const oidc = provider.callback();
  handler = (req, res) => {
    const { pathname } = new URL(req.url ?? '/', issuer);
    const m = /^\/interaction\/([^/]+)(\/login)?$/.exec(pathname);
    if (!m) {
      oidc(req, res);
      return;
    }
    const step = m[2]
      ? (req.method === 'POST' ? finishLogin : undefined)
      : (req.method === 'GET' ? showInteraction : undefined);
    if (!step) {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    step(provider, req, res).catch((err) => {
      process.stderr.write(`provider.mjs: interaction ${pathname}: ${err?.stack ?? err}\n`);
      if (!res.headersSent) send(res, 400, 'text/plain; charset=utf-8', `${err?.message ?? err}\n`);
      else res.end();
    });
  };

  const stop = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The test holds our stdin; when it goes away (it exited, even by
  // SIGKILL), so do we.
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();

  process.stdout.write(`${JSON.stringify({ issuer, jwks: jwksOut })}\n`);
}

main().catch((err) => {
  process.stderr.write(`provider.mjs: ${err?.stack ?? err}\n`);
  process.exit(1);
});
