// Plays the user's browser for `causeway approve --no-browser`:
//
//   node login.mjs AUTH_URL USER
//
// follows the authorization URL the CLI printed, logs in at the test IdP as
// USER (alice@example.com or bob@example.com), follows the redirects to the
// CLI's loopback redirect_uri and requests it, so the waiting CLI receives
// the code. Prints the status and body of that last request and exits 0 if
// it was 2xx; exits non-zero with a message on anything unexpected,
// including an OAuth error redirect (which is still delivered to the CLI,
// so it does not wait forever).

import process from 'node:process';

import { authorize, fail } from './browser.mjs';

const [authUrl, user, ...rest] = process.argv.slice(2);
if (!authUrl || !user || rest.length > 0) fail('usage: node login.mjs AUTH_URL USER');

const callback = await authorize(authUrl, user);
let response;
try {
  response = await fetch(callback, { redirect: 'manual', signal: AbortSignal.timeout(30_000) });
} catch (err) {
  fail(`request to the redirect_uri ${callback} failed: ${err?.cause?.message ?? err?.message ?? err}`);
}
const body = await response.text().catch(() => '');
process.stdout.write(`${response.status} ${body}\n`);
const error = new URL(callback).searchParams.get('error');
if (error) {
  const description = new URL(callback).searchParams.get('error_description') ?? '';
  fail(`the IdP answered the authorization request with error=${error} ${description}`);
}
if (response.status < 200 || response.status >= 300) {
  fail(`the redirect_uri answered ${response.status}`);
}
