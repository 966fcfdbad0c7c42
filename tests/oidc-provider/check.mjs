// Self-check of the test provider, run by tests/run.sh: starts server.mjs on a free port
// and drives FranceConnect's flow over real HTTP — discovery, /authorize with state and
// nonce, the login page, the code, /token with client_secret_post, a signed JWT from
// /userinfo, then a cancelled login (access_denied). Exits non-zero on any difference.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import readline from 'node:readline';

const child = spawn(process.execPath, [new URL('./server.mjs', import.meta.url).pathname], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, PORT: '0' },
});
const [issuer] = await once(readline.createInterface({ input: child.stdout }), 'line');
const client = { id: 'sand-dev', secret: 'sand-dev-secret-0123456789abcdefghijklmnopqrstuvwxyz', redirect: 'http://localhost:8080/franceconnect/retour' };

const jar = new Map();
async function get(url, init = {}) {
  const headers = { ...(init.headers || {}), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') };
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return response;
}
/** Follows redirects on the provider until one leaves it (to the client's redirect URI). */
async function follow(response) {
  while ([302, 303].includes(response.status)) {
    const location = new URL(response.headers.get('location'), issuer).href;
    if (!location.startsWith(issuer)) return location;
    response = await get(location);
    if (response.status === 200 && location.includes('/interaction/')) return { page: location, response };
  }
  throw new Error(`unexpected ${response.status}: ${await response.text()}`);
}
const random = () => crypto.randomBytes(32).toString('hex');
const payload = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const header = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());

try {
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  assert.deepEqual(discovery.acr_values_supported, ['eidas1']);
  assert.ok(discovery.userinfo_signing_alg_values_supported.includes('ES256'));
  assert.ok(discovery.token_endpoint_auth_methods_supported.includes('client_secret_post'));
  assert.equal(discovery.end_session_endpoint, `${issuer}/session/end`);
  assert.equal(discovery.jwks_uri, `${issuer}/jwks`);

  const login = async (account, c = client, params = {
    scope: 'openid given_name family_name birthdate gender birthplace birthcountry email preferred_username',
    acr_values: 'eidas1',
  }) => {
    const state = random();
    const nonce = random();
    const query = new URLSearchParams({
      response_type: 'code', client_id: c.id, redirect_uri: c.redirect, ...params, state, nonce,
    });
    const form = await follow(await get(`${issuer}/authorize?${query}`));
    assert.ok(form.page, 'the login page');
    const html = await form.response.text();
    assert.match(html, /Mot de passe/);
    const uid = form.page.split('/interaction/')[1];
    if (!account) return { state, back: await follow(await get(`${issuer}/interaction/${uid}/abort`)) };
    const body = new URLSearchParams({ login: account, password: '123' });
    const back = await follow(await get(`${issuer}/interaction/${uid}/login`, {
      method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }));
    return { state, nonce, back };
  };

  const { state, nonce, back } = await login('test');
  const callback = new URL(back);
  assert.equal(callback.origin + callback.pathname, client.redirect);
  assert.equal(callback.searchParams.get('state'), state);
  const code = callback.searchParams.get('code');
  assert.ok(code);

  const token = await (await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirect, client_id: client.id, client_secret: client.secret }),
  })).json();
  assert.ok(token.id_token, JSON.stringify(token));
  assert.equal(header(token.id_token).alg, 'ES256');
  const idToken = payload(token.id_token);
  assert.equal(idToken.iss, issuer);
  assert.equal(idToken.aud, client.id);
  assert.equal(idToken.nonce, nonce);
  assert.equal(idToken.acr, 'eidas1');
  assert.match(idToken.sub, /^[0-9a-f]{64}v1$/);

  const userinfo = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${token.access_token}` } });
  assert.match(userinfo.headers.get('content-type'), /^application\/jwt/);
  const jwt = await userinfo.text();
  assert.equal(header(jwt).alg, 'ES256');
  const claims = payload(jwt);
  assert.equal(claims.family_name, 'DUBOIS');
  assert.equal(claims.given_name, 'Angela Claire Louise');
  assert.equal(claims.birthdate, '1962-08-24');
  assert.equal(claims.birthplace, '75107');
  assert.equal(claims.birthcountry, '99100');
  assert.equal(claims.sub, idToken.sub);

  // a code is good once
  const again = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirect, client_id: client.id, client_secret: client.secret }),
  });
  assert.equal((await again.json()).error, 'invalid_grant');

  // the user cancels
  jar.clear();
  const cancelled = await login(null);
  const error = new URL(cancelled.back);
  assert.equal(error.searchParams.get('error'), 'access_denied');
  assert.equal(error.searchParams.get('state'), cancelled.state);

  // the ProConnect-shaped client: the agents' claims, and `amr` when asked for
  const agentsClient = { id: 'sand-agents-dev', secret: 'sand-agents-secret-0123456789abcdefghijklmnopqrstuvwxyz', redirect: 'http://localhost:8081/proconnect/retour' };
  const agentLogin = async (account) => {
    jar.clear();
    const { nonce: agentNonce, back: agentBack } = await login(account, agentsClient, {
      scope: 'openid given_name usual_name email uid siret idp_id',
      claims: JSON.stringify({ id_token: { amr: { essential: true } } }),
    });
    const agentCode = new URL(agentBack).searchParams.get('code');
    const agentToken = await (await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: agentCode, redirect_uri: agentsClient.redirect, client_id: agentsClient.id, client_secret: agentsClient.secret }),
    })).json();
    const agentIdToken = payload(agentToken.id_token);
    assert.equal(agentIdToken.nonce, agentNonce);
    const info = await fetch(`${issuer}/userinfo`, { headers: { authorization: `Bearer ${agentToken.access_token}` } });
    assert.match(info.headers.get('content-type'), /^application\/jwt/);
    return { idToken: agentIdToken, claims: payload(await info.text()) };
  };
  const lyon = await agentLogin('agent.lyon');
  assert.deepEqual(lyon.idToken.amr, ['pwd', 'totp', 'mfa']);
  assert.equal(lyon.claims.usual_name, 'MOREAU');
  assert.equal(lyon.claims.email, 'claire.moreau@ac-lyon.fr');
  assert.equal(lyon.claims.siret, '19691234500013');
  assert.equal(lyon.claims.idp_id, 'fia-ac-lyon');
  assert.equal(lyon.claims.family_name, undefined);
  assert.deepEqual((await agentLogin('agent.aide')).idToken.amr, ['pwd']);
  assert.equal((await agentLogin('agent.sans-siret')).claims.siret, undefined);

  console.log(`test OpenID Connect provider: FranceConnect-like and ProConnect-like flows checked against ${issuer}`);
} finally {
  child.stdin.end();
}
