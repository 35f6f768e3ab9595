// Gets a real ID token from the test IdP without the CLI:
//
//   node token.mjs ISSUER CLIENT USER NONCE
//
// runs a whole authorization-code flow with PKCE (S256) for the public
// client CLIENT (causeway-approve or other-app), logging in as USER with
// `nonce` NONCE, exchanges the code at the token endpoint and prints the
// ID token (compact JWS) on stdout. Tests use it for tokens the CLI would
// never make: another audience, another nonce.

import { createHash, randomBytes } from 'node:crypto';
import process from 'node:process';

import { authorize, fail } from './browser.mjs';

const [issuer, clientId, user, nonce, ...rest] = process.argv.slice(2);
if (!issuer || !clientId || !user || !nonce || rest.length > 0) {
  fail('usage: node token.mjs ISSUER CLIENT USER NONCE');
}

async function json(response, what) {
  const text = await response.text().catch(() => '');
  if (response.status !== 200) fail(`${what} answered ${response.status}: ${text.slice(0, 2000)}`);
  try {
    return JSON.parse(text);
  } catch {
    return fail(`${what} answered non-JSON: ${text.slice(0, 2000)}`);
  }
}

const timeout = () => AbortSignal.timeout(15_000);
const discovery = await json(
  await fetch(`${issuer}/.well-known/openid-configuration`, { signal: timeout() }),
  'discovery',
);

// The port is irrelevant: nothing listens there, the code is taken from the
// redirect itself (the IdP lets a native client's loopback port vary).
const redirectUri = 'http://127.0.0.1:9/callback';
const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const state = randomBytes(16).toString('base64url');
const authUrl = new URL(discovery.authorization_endpoint);
authUrl.search = new URLSearchParams({
  response_type: 'code',
  client_id: clientId,
  redirect_uri: redirectUri,
  scope: 'openid email',
  state,
  nonce,
  code_challenge: challenge,
  code_challenge_method: 'S256',
}).toString();

const callback = new URL(await authorize(authUrl.href, user));
const error = callback.searchParams.get('error');
if (error) fail(`authorization failed: ${error} ${callback.searchParams.get('error_description') ?? ''}`);
if (callback.searchParams.get('state') !== state) fail(`state mismatch in ${callback}`);
const code = callback.searchParams.get('code') ?? fail(`no code in ${callback}`);

const tokens = await json(await fetch(discovery.token_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: clientId,
    code_verifier: verifier,
  }).toString(),
  signal: timeout(),
}), 'the token endpoint');
if (typeof tokens.id_token !== 'string') fail(`no id_token in ${JSON.stringify(tokens)}`);
process.stdout.write(`${tokens.id_token}\n`);
