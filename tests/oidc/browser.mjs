// The part of a browser the test IdP's login needs: follow redirects one at
// a time, carry the IdP's cookies, submit the login form. Shared by
// login.mjs (which hands the code to a waiting CLI) and token.mjs (which
// exchanges it itself).

import process from 'node:process';

// Per-request timeout: everything is on loopback, so a slow answer is a
// hung server, not a slow network.
const TIMEOUT_MS = 15_000;

// More hops than a login takes (auth -> interaction -> login -> resume ->
// redirect_uri); more means the IdP is looping.
const MAX_STEPS = 20;

// Prints `message` and exits non-zero: every failure of these scripts is
// a test failure, and the test shows their stderr.
export function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

// The Set-Cookie lines of a joined `set-cookie` header value, for a Node
// whose fetch lacks Headers#getSetCookie (Debian 12's nodejs 18.20 is
// built without it). Fetch joins the lines with ", "; a comma starts a new
// cookie only where "name=" follows it, never inside an Expires date
// ("Thu, 01 Jan 1970 ...").
function splitSetCookie(joined) {
  if (!joined) return [];
  return joined.split(/,(?=\s*[^;,=\s]+=)/).map((line) => line.trim());
}

// A cookie jar for one origin (the IdP): name -> { value, path }, with
// RFC 6265 path matching and deletion by Max-Age=0 / past Expires.
export class CookieJar {
  #cookies = new Map();

  // Records the Set-Cookie headers of `response`.
  store(response) {
    const lines = typeof response.headers.getSetCookie === 'function'
      ? response.headers.getSetCookie()
      : splitSetCookie(response.headers.get('set-cookie'));
    for (const line of lines) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=').map((s) => s.trim());
        switch (k.toLowerCase()) {
          case 'path': path = v || '/'; break;
          case 'max-age': expired ||= Number(v) <= 0; break;
          case 'expires': expired ||= Date.parse(v) <= Date.now(); break;
          default: break;
        }
      }
      const key = `${name}\n${path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
  }

  // The Cookie header for a request to `url`, or undefined.
  header(url) {
    const { pathname } = new URL(url);
    const matching = [...this.#cookies.values()].filter(({ path }) => pathname === path
      || (pathname.startsWith(path) && (path.endsWith('/') || pathname[path.length] === '/')));
    if (matching.length === 0) return undefined;
    // Longer paths first, as RFC 6265 §5.4 orders them.
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map(({ name, value }) => `${name}=${value}`).join('; ');
  }
}

// One request without following redirects; the jar's cookies go along
// and the answer's cookies come back into it.
async function step(jar, url, init = {}) {
  // OIDC_FIXTURE_TRACE=1 shows each hop on stderr, for debugging a login.
  if (process.env.OIDC_FIXTURE_TRACE) process.stderr.write(`-> ${init.method ?? 'GET'} ${url}\n`);
  const headers = { ...(init.headers ?? {}) };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let response;
  try {
    response = await fetch(url, {
      ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    fail(`request to ${url} failed: ${err?.cause?.message ?? err?.message ?? err}`);
  }
  jar.store(response);
  return response;
}

// `url` without its query and fragment, for comparing with redirect_uri
// (whose port the CLI picks, so it is compared too).
function base(url) {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

// Runs the browser half of an authorization-code login: starts at the
// authorization URL `authUrl`, logs in as `user` at the IdP's interaction,
// follows redirects until one points at the request's redirect_uri, and
// returns that URL (carrying `code` and `state`, or an OAuth `error`)
// without requesting it.
export async function authorize(authUrl, user) {
  let redirectUri;
  try {
    redirectUri = new URL(authUrl).searchParams.get('redirect_uri');
  } catch {
    fail(`not a URL: ${JSON.stringify(authUrl)}`);
  }
  if (!redirectUri) fail(`the authorization URL has no redirect_uri: ${authUrl}`);
  const target = base(redirectUri);
  const jar = new CookieJar();
  let loggedIn = false;

  let url = authUrl;
  let response = await step(jar, url);
  for (let i = 0; i < MAX_STEPS; i += 1) {
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      if (!location) fail(`${response.status} from ${url} without a Location`);
      url = new URL(location, url).href;
      if (base(url) === target) return url;
      response = await step(jar, url);
      continue;
    }
    const { pathname } = new URL(url);
    const interaction = /^\/interaction\/([^/]+)$/.exec(pathname);
    if (response.status === 200 && interaction && !loggedIn) {
      // The login page: submit it the way its form would.
      loggedIn = true;
      url = new URL(`/interaction/${interaction[1]}/login`, url).href;
      response = await step(jar, url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ user }).toString(),
      });
      continue;
    }
    const body = await response.text().catch(() => '');
    fail(`unexpected ${response.status} from ${url}: ${body.slice(0, 2000)}`);
  }
  return fail(`no redirect to ${target} after ${MAX_STEPS} steps (last: ${url})`);
}
