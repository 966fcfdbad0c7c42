// The wallet interoperability test's driver: SAND behind a TLS reverse proxy (the test
// CA's certificate for localhost), a graduate who signs up, attaches a diploma and asks
// for a wallet offer through the pages, the transaction code read from the real SMTP
// sink, the holder (holder.mjs, on the reference libraries) redeeming the offer, then
// the graduate deleting the attestation and the holder seeing its credential revoked.
//
// Environment: SAND_BIN, WORK (a scratch directory), SMTP_PORT and MAIL_DIR (the sink),
// TLS_CERT and TLS_KEY (the proxy's), NODE_EXTRA_CA_CERTS (the test CA).

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const env = process.env;

function fail(message) {
  console.error(`wallet: ${message}`);
  process.exit(1);
}

// --- the TLS reverse proxy, in front of SAND once it is up -------------------------
let upstream = null;
const proxy = https.createServer(
  { cert: readFileSync(env.TLS_CERT), key: readFileSync(env.TLS_KEY) },
  (req, res) => {
    const forward = http.request(
      { host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(forward);
  },
);
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const publicUrl = `https://localhost:${proxy.address().port}`;

// --- SAND: the demonstration, mail to the SMTP sink, issuer address = the proxy's ---
const sand = spawn(env.SAND_BIN, [], {
  cwd: env.WORK,
  env: {
    ...env,
    SAND_LISTEN: '127.0.0.1:0',
    SAND_PUBLIC_URL: publicUrl,
    SAND_SMTP_HOST: '127.0.0.1',
    SAND_SMTP_PORT: env.SMTP_PORT,
    SAND_SMTP_SECURITY: 'none',
    SAND_READY_JSON: 'true',
    SAND_LOG: 'warn',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
process.on('exit', () => sand.kill());
sand.on('exit', (code) => code !== null && code !== 0 && fail(`SAND stopped (${code})`));
const ready = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('SAND did not start in 120 s')), 120_000);
  createInterface({ input: sand.stdout }).on('line', (line) => {
    if (line.startsWith('{"event":"ready"')) {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    }
  });
}).catch((e) => fail(e.message));
const [host, port] = ready.listen.split(':');
upstream = { host, port: Number(port) };
console.log(`wallet: SAND on ${ready.listen} behind ${publicUrl}`);

// --- a browser of the graduate: cookies kept, forms with their CSRF token ----------
const cookies = new Map();
async function request(pathname, options = {}) {
  const response = await fetch(publicUrl + pathname, {
    redirect: 'manual',
    ...options,
    headers: { ...(options.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
  });
  for (const set of response.headers.getSetCookie()) {
    const [pair] = set.split(';');
    const at = pair.indexOf('=');
    const value = pair.slice(at + 1);
    if (value === '' || /Max-Age=0/i.test(set)) cookies.delete(pair.slice(0, at));
    else cookies.set(pair.slice(0, at), value);
  }
  return { status: response.status, location: response.headers.get('location'), body: await response.text() };
}
const get = (pathname) => request(pathname);
const postForm = (pathname, fields) =>
  request(pathname, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
function csrf(page) {
  const found = page.body.match(/name="csrf" value="([0-9a-f]+)"/);
  if (!found) fail(`no CSRF token in the page (${page.status})`);
  return found[1];
}
function decode(html) {
  return html.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&#43;', '+');
}

/** The newest mail of the sink whose subject contains `subject` (waited for). */
async function mail(subject, after) {
  for (let i = 0; i < 400; i += 1) {
    const found = readdirSync(env.MAIL_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({ name: f, ...JSON.parse(readFileSync(path.join(env.MAIL_DIR, f), 'utf8')) }))
      .filter((m) => m.subject.includes(subject) && m.name > after);
    if (found.length > 0) return found.at(-1);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return fail(`no mail "${subject}" reached the SMTP sink`);
}
const lastMail = () => readdirSync(env.MAIL_DIR).filter((f) => f.endsWith('.json')).sort().at(-1) ?? '';

const identity = { nom: 'Durand', prenoms: 'Camille Marie', naissance: '12/04/2003', email: `portefeuille-${Date.now()}@exemple.fr` };
const password = 'cheval agrafe batterie portefeuille';
const step1 = await postForm('/compte/creer', { csrf: csrf(await get('/compte/creer')), ...identity });
const before = lastMail();
await postForm('/compte/creer/confirmer', { csrf: csrf(step1), ...identity, mot_de_passe: password, confirmation: password });
const confirmation = await mail('', before);
const token = confirmation.text.match(/jeton=([A-Za-z0-9._-]+)/)?.[1] ?? fail('no confirmation link in the mail');
const confirmPage = await get(`/compte/confirmer?jeton=${token}`);
const signedIn = await postForm('/compte/confirmer', { csrf: csrf(confirmPage), jeton: token, mot_de_passe: password });
if (signedIn.status !== 303) fail(`confirming the address answered ${signedIn.status}`);
const space = await get('/espace');
const attached = await postForm('/espace/diplomes', { csrf: csrf(space), diplome: 'BACG', session: '2021', academie: '10' });
if (attached.status !== 303) fail(`attaching the diploma answered ${attached.status}`);
const dashboard = await get('/espace');
const link = dashboard.body.match(/\/espace\/diplomes\/([0-9a-f-]{36})\/portefeuille/)?.[1] ?? fail('no "Ajouter à mon portefeuille" in the space');

const beforeOffer = lastMail();
const walletPage = await get(`/espace/diplomes/${link}/portefeuille`);
const offerPage = await postForm(`/espace/diplomes/${link}/portefeuille`, { csrf: csrf(walletPage) });
if (offerPage.status !== 200) fail(`the offer answered ${offerPage.status}`);
const offerUri = decode(offerPage.body.match(/href="(openid-credential-offer:\/\/\?[^"]+)"/)?.[1] ?? fail('no offer link on the page'));
const codeMail = await mail('portefeuille', beforeOffer);
const txCode = codeMail.text.match(/^ {4}(\d{6})$/m)?.[1] ?? fail('no transaction code in the mail');
console.log(`wallet: offer made, transaction code read from the SMTP sink (${codeMail.name})`);

const credentialFile = path.join(env.WORK, 'credential.sd-jwt');
// asynchronously: the proxy in this process serves the holder meanwhile
async function holder(...args) {
  const run = promisify(execFile)(process.execPath, [path.join(here, 'holder.mjs'), ...args], { env });
  run.child.stderr.pipe(process.stderr);
  return (await run).stdout.trim();
}
try {
  console.log(`wallet: holder ${await holder('redeem', offerUri, txCode, credentialFile)}`);
} catch {
  fail('the holder could not redeem the offer');
}

// the graduate deletes the attestation: the credential is revoked
const confirmDelete = await get(`/espace/diplomes/${link}/supprimer`);
const deleted = await postForm(`/espace/diplomes/${link}/supprimer`, { csrf: csrf(confirmDelete) });
if (deleted.status !== 303) fail(`deleting the attestation answered ${deleted.status}`);
try {
  console.log(`wallet: holder ${await holder('check-revoked', credentialFile)}`);
} catch {
  fail('the credential is not seen revoked');
}
sand.kill();
proxy.close();
console.log('wallet: interoperability test passed');
process.exit(0);
