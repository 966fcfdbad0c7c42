// A real OpenID Connect provider (the certified npm `oidc-provider`) configured to behave
// like FranceConnect v2 (docs/operations.md, "FranceConnect"), for SAND's development
// and tests.
//
//   node server.mjs            (PORT=0 by default: a free port)
//
// Prints its issuer URL alone on the first line of standard output, then serves until
// its standard input closes (or it is killed). Configuration from the environment:
//   PORT                       listening port on 127.0.0.1 (0: the system chooses)
//   CLIENT_ID, CLIENT_SECRET   the one registered client (defaults: sand-dev / sand-dev-secret-…)
//   REDIRECT_URIS              comma-separated (default http://localhost:8080/franceconnect/retour)
//   POST_LOGOUT_REDIRECT_URIS  comma-separated (default http://localhost:8080/franceconnect/deconnexion)
//   AGENTS_CLIENT_ID, AGENTS_CLIENT_SECRET, AGENTS_REDIRECT_URIS, AGENTS_POST_LOGOUT_REDIRECT_URIS
//                              the second client, shaped like a ProConnect service (defaults:
//                              sand-agents-dev / sand-agents-secret-…, http://localhost:8081/proconnect/retour,
//                              http://localhost:8081/connexion)
//
// Like FranceConnect: authorization code flow only, `client_secret_post`, ES256-signed
// id_token and *signed JWT userinfo* (application/jwt), `acr` = eidas1, the "identité
// pivot" claims, a 30 s authorization code and a 60 s access token, logout by browser
// redirect to /session/end. Its login page takes a fixture login and the password 123
// (as the FranceConnect sandbox's mock identity provider does); "Annuler" answers
// access_denied.
//
// Like ProConnect, for the second client: the agents' claims (`usual_name`, `uid`, `siret`,
// `idp_id`), and the `amr` claim in the id_token when the `claims` parameter asks for it
// (the methods each fixture agent reports: a password only, or a password and a code).

import crypto from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

import { accounts as citizens } from './accounts.mjs';
import { agents } from './agents.mjs';

const accounts = { ...citizens, ...agents };
const loginOf = (subject) => Object.keys(accounts).find((login) => accounts[login].sub === subject);

const env = process.env;
const clientId = env.CLIENT_ID || 'sand-dev';
const clientSecret = env.CLIENT_SECRET || 'sand-dev-secret-0123456789abcdefghijklmnopqrstuvwxyz';
const list = (value, fallback) => (value || fallback).split(',').map((s) => s.trim()).filter(Boolean);

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), alg: 'ES256', use: 'sig' };


const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: list(env.REDIRECT_URIS, 'http://localhost:8080/franceconnect/retour'),
    post_logout_redirect_uris: list(env.POST_LOGOUT_REDIRECT_URIS, 'http://localhost:8080/franceconnect/deconnexion'),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
    userinfo_signed_response_alg: 'ES256',
  }, {
    client_id: env.AGENTS_CLIENT_ID || 'sand-agents-dev',
    client_secret: env.AGENTS_CLIENT_SECRET || 'sand-agents-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    redirect_uris: list(env.AGENTS_REDIRECT_URIS, 'http://localhost:8081/proconnect/retour'),
    post_logout_redirect_uris: list(env.AGENTS_POST_LOGOUT_REDIRECT_URIS, 'http://localhost:8081/connexion'),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'ES256',
    userinfo_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [signingKey] },
  responseTypes: ['code'],
  scopes: ['openid', 'given_name', 'family_name', 'birthdate', 'gender', 'birthplace', 'birthcountry', 'email', 'preferred_username',
    'usual_name', 'uid', 'siret', 'idp_id'],
  claims: {
    openid: ['sub'],
    // standalone claims, given when the `claims` parameter asks for them
    amr: null,
    given_name: ['given_name', 'given_name_array'],
    family_name: ['family_name'],
    birthdate: ['birthdate'],
    gender: ['gender'],
    birthplace: ['birthplace'],
    birthcountry: ['birthcountry'],
    email: ['email'],
    preferred_username: ['preferred_username'],
    usual_name: ['usual_name'],
    uid: ['uid'],
    siret: ['siret'],
    idp_id: ['idp_id'],
  },
  acrValues: ['eidas1'],
  enabledJWA: { idTokenSigningAlgValues: ['ES256'], userinfoSigningAlgValues: ['ES256'] },
  features: {
    devInteractions: { enabled: false },
    jwtUserinfo: { enabled: true },
    claimsParameter: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => false },
  ttl: { AuthorizationCode: 30, AccessToken: 60, IdToken: 60, Interaction: 600, Session: 3600, Grant: 3600 },
  routes: { authorization: '/authorize', token: '/token', userinfo: '/userinfo', jwks: '/jwks', end_session: '/session/end' },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  async findAccount(ctx, sub) {
    const account = Object.values(accounts).find((a) => a.sub === sub);
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account.claims }; } };
  },
  async loadExistingGrant(ctx) {
    // consent is given at login, as on FranceConnect's own pages
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    return grantId ? ctx.oidc.provider.Grant.find(grantId) : undefined;
  },
});
provider.proxy = false;

// Misbehaviour on demand, for the adapter's error tests: for `jeton-altere` the id_token's
// payload is altered after signing; for `cle-inconnue` the userinfo is re-signed with a key
// that is not in the published JWKS.
const { privateKey: rogueKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const b64 = (value) => Buffer.from(value).toString('base64url');
const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
// id_token rewrites, signed with the provider's own key unless the header says otherwise,
// for the negative tests of the adapter's id_token checks
const resign = (header, claims) => {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  if (header.alg === 'none') return `${input}.`;
  const signature = crypto.sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
};
const headerOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString());
const now = () => Math.floor(Date.now() / 1000);
const idTokenRewrites = {
  'alg-none': (h, c) => resign({ alg: 'none', typ: 'JWT' }, c),
  'mauvaise-audience': (h, c) => resign(h, { ...c, aud: 'un-autre-client' }),
  'mauvais-emetteur': (h, c) => resign(h, { ...c, iss: 'https://faux-fournisseur.example' }),
  'jeton-expire': (h, c) => resign(h, { ...c, iat: now() - 7200, exp: now() - 3600 }),
  // the control: re-signed unchanged, it must be accepted (the rewrites above are refused
  // for what they change, not for a broken signature)
  'jeton-re-signe': (h, c) => resign(h, c),
};
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && ctx.body?.id_token) {
    const rewrite = idTokenRewrites[loginOf(claimsOf(ctx.body.id_token).sub)];
    if (rewrite) {
      ctx.body = { ...ctx.body, id_token: rewrite(headerOf(ctx.body.id_token), claimsOf(ctx.body.id_token)) };
    }
  }
  if (ctx.path === '/userinfo' && typeof ctx.body === 'string' && loginOf(claimsOf(ctx.body).sub) === 'userinfo-alg-none') {
    ctx.body = resign({ alg: 'none', typ: 'JWT' }, claimsOf(ctx.body));
  }
  if (ctx.path === '/token' && ctx.body?.id_token && loginOf(claimsOf(ctx.body.id_token).sub) === 'jeton-altere') {
    const [header, , signature] = ctx.body.id_token.split('.');
    const claims = { ...claimsOf(ctx.body.id_token), acr: 'eidas3' };
    ctx.body = { ...ctx.body, id_token: `${header}.${b64(JSON.stringify(claims))}.${signature}` };
  }
  if (ctx.path === '/userinfo' && typeof ctx.body === 'string' && ['cle-inconnue', 'agent.cle-inconnue'].includes(loginOf(claimsOf(ctx.body).sub))) {
    const header = b64(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'cle-absente-du-jwks' }));
    const input = `${header}.${ctx.body.split('.')[1]}`;
    const signature = crypto.sign('sha256', Buffer.from(input), { key: rogueKey, dsaEncoding: 'ieee-p1363' });
    ctx.body = `${input}.${signature.toString('base64url')}`;
  }
});

const page = (title, body) => `<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>${title}</title></head><body><main><h1>${title}</h1>${body}</main></body></html>`;
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10_000) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: "L'utilisateur a annulé la connexion" }, { mergeWithLastSubmission: false });
  }
  if (details.prompt.name === 'login') {
    if (req.method === 'POST' && action === 'login') {
      const form = await readForm(req);
      const login = form.get('login');
      if (accounts[login] && form.get('password') === '123') {
        return provider.interactionFinished(req, res, { login: { accountId: accounts[login].sub, acr: 'eidas1', amr: accounts[login].amr || ['pwd'] } }, { mergeWithLastSubmission: false });
      }
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    return res.end(page('Connexion (fournisseur d\'identité de test)', `
      <form method="post" action="/interaction/${escape(uid)}/login">
        <label>Identifiant <input name="login" autocomplete="off"></label>
        <label>Mot de passe <input name="password" type="password"></label>
        <button type="submit">Se connecter</button>
      </form>
      <p><a href="/interaction/${escape(uid)}/abort">Annuler</a></p>
      <p>Identifiants : ${Object.keys(accounts).map(escape).join(', ')} — mot de passe 123.</p>`));
  }
  // consent: every requested scope and claim, at once
  const { prompt: { details: missing }, params, session } = details;
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  const match = req.url.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?(?:\?.*)?$/);
  if (!match) return callback(req, res);
  interaction(req, res, match[1], match[2]).catch((error) => {
    res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`interaction error: ${error.message}`);
  });
});

process.stdout.write(`${issuer}\n`);
process.stdin.resume();
process.stdin.on('end', () => { server.close(); process.exit(0); });
