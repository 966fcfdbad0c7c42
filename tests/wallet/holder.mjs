// A wallet holder built on the reference libraries, as an EU wallet would use them:
// @openid4vc/openid4vci redeems a SAND credential offer (pre-authorized code flow, the
// transaction code given), @sd-jwt/sd-jwt-vc verifies the SD-JWT VC against the keys
// the issuer publishes (/.well-known/jwt-vc-issuer) and its status list, then makes a
// presentation disclosing only the diploma and the birth name, bound to the wallet's
// key, which a verifier checks.
//
//   node holder.mjs redeem OFFER_URI TX_CODE OUT_FILE   the credential written to OUT_FILE
//   node holder.mjs check-revoked CREDENTIAL_FILE       fails unless its status is revoked
//
// The issuer must be https (NODE_EXTRA_CA_CERTS trusts a test CA). Prints one JSON line
// of what it saw; exits non-zero with the reason otherwise.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

import { clientAuthenticationAnonymous } from '@openid4vc/oauth2';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import * as jose from 'jose';

function fail(message) {
  console.error(`holder: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
}

const hashName = { 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' };

/** The issuer's published credential keys, by kid. */
async function issuerKeys(issuer) {
  const response = await fetch(`${issuer}/.well-known/jwt-vc-issuer`);
  check(response.ok, `jwt-vc-issuer metadata: HTTP ${response.status}`);
  const metadata = await response.json();
  check(metadata.issuer === issuer, `jwt-vc-issuer says issuer ${metadata.issuer}`);
  return metadata.jwks.keys;
}

/** A verifier of JWS made by the issuer, the key chosen by the header's kid. */
async function issuerVerifier(issuer) {
  const keys = await issuerKeys(issuer);
  return async (data, signature) => {
    const header = JSON.parse(Buffer.from(data.split('.')[0], 'base64url').toString());
    const key = keys.find((k) => k.kid === header.kid);
    check(key, `no published key has kid ${header.kid}`);
    return (await ES256.getVerifier(key))(data, signature);
  };
}

/** A verifier's SD-JWT VC instance: issuer signature, key binding, status. */
async function verifierInstance(issuer) {
  const verifier = await issuerVerifier(issuer);
  return new SDJwtVcInstance({
    hasher: digest,
    verifier,
    statusVerifier: verifier,
    kbVerifier: async (data, signature, payload) =>
      (await ES256.getVerifier(payload.cnf.jwk))(data, signature),
  });
}

async function redeem(offerUri, txCode, outFile) {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const publicJwk = await jose.exportJWK(publicKey);
  const privateJwk = await jose.exportJWK(privateKey);
  const client = new Openid4vciClient({
    callbacks: {
      hash: (data, alg) => createHash(hashName[alg]).update(data).digest(),
      generateRandom: (length) => randomBytes(length),
      clientAuthentication: clientAuthenticationAnonymous(),
      signJwt: async (_signer, { header, payload }) => ({
        jwt: await new jose.SignJWT(payload).setProtectedHeader(header).sign(privateKey),
        signerJwk: publicJwk,
      }),
    },
  });

  const offer = await client.resolveCredentialOffer(offerUri);
  const issuer = offer.credential_issuer;
  check(issuer.startsWith('https://'), `the issuer is not https: ${issuer}`);
  const issuerMetadata = await client.resolveIssuerMetadata(issuer);
  const configurationId = offer.credential_configuration_ids[0];
  const configuration =
    issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId];
  check(configuration?.format === 'dc+sd-jwt', `configuration ${configurationId} is not dc+sd-jwt`);

  const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    txCode,
  });
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
  const { jwt: proof } = await client.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId: configurationId,
    signer: { method: 'jwk', alg: 'ES256', publicJwk },
    nonce,
  });
  const answer = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    proofs: { jwt: [proof] },
  });
  const credential = answer.credentialResponse.credentials?.[0]?.credential;
  check(typeof credential === 'string', `no credential in ${JSON.stringify(answer.credentialResponse)}`);

  // the verifier's side: signature with the published key, status valid, claims there
  const verifier = await verifierInstance(issuer);
  const verified = await verifier.verify(credential);
  const claims = verified.payload;
  check(claims.iss === issuer, `iss is ${claims.iss}`);
  check(claims.vct === configuration.vct, `vct is ${claims.vct}`);
  const bound = claims.cnf?.jwk ?? {};
  check(
    ['kty', 'crv', 'x', 'y'].every((m) => bound[m] === publicJwk[m]) && !('d' in bound),
    `the credential is not bound to the wallet key: ${JSON.stringify(bound)}`,
  );
  for (const name of ['nom_naissance', 'prenoms', 'date_naissance', 'diplome', 'intitule', 'session', 'academie']) {
    check(name in claims, `claim ${name} is missing`);
  }

  // the holder's presentation: the diploma and the birth name only, bound to the key
  const holder = new SDJwtVcInstance({
    hasher: digest,
    saltGenerator: generateSalt,
    kbSigner: await ES256.getSigner(privateJwk),
    kbSignAlg: 'ES256',
  });
  const audience = 'https://recruteur.example';
  const presentationNonce = randomBytes(16).toString('base64url');
  const presentation = await holder.present(
    credential,
    { diplome: true, intitule: true, session: true, nom_naissance: true },
    { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: audience, nonce: presentationNonce } } },
  );
  const presented = await verifier.verify(presentation, {
    keyBindingNonce: presentationNonce,
    requiredClaimKeys: ['diplome', 'nom_naissance'],
  });
  check(presented.kb !== undefined, 'the presentation has no key binding');
  check(presented.kb.payload.aud === audience, 'the key binding is not for the audience');
  for (const hidden of ['date_naissance', 'prenoms', 'academie']) {
    check(!(hidden in presented.payload), `the presentation discloses ${hidden}`);
  }
  // a presentation bound to another key is refused
  const stranger = new SDJwtVcInstance({
    hasher: digest,
    saltGenerator: generateSalt,
    kbSigner: await ES256.getSigner((await ES256.generateKeyPair()).privateKey),
    kbSignAlg: 'ES256',
  });
  const stolen = await stranger.present(credential, { diplome: true }, {
    kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: audience, nonce: presentationNonce } },
  });
  const refused = await verifier.verify(stolen, { keyBindingNonce: presentationNonce }).then(() => false, () => true);
  check(refused, 'a presentation signed with another key verified');

  writeFileSync(outFile, credential);
  console.log(JSON.stringify({
    redeemed: true,
    issuer,
    vct: claims.vct,
    status: claims.status.status_list,
    disclosed: Object.keys(presented.payload).filter((k) => !['iss', 'iat', 'exp', 'vct', 'cnf', 'status', '_sd_alg', 'demonstration'].includes(k)),
  }));
}

async function checkRevoked(file) {
  const credential = readFileSync(file, 'utf8');
  const payload = jose.decodeJwt(credential.split('~')[0]);
  const { uri, idx } = payload.status.status_list;
  const response = await fetch(uri);
  check(response.ok, `status list: HTTP ${response.status}`);
  check(
    (response.headers.get('content-type') ?? '').startsWith('application/statuslist+jwt'),
    `status list served as ${response.headers.get('content-type')}`,
  );
  const token = await response.text();
  const header = jose.decodeProtectedHeader(token);
  const key = (await issuerKeys(payload.iss)).find((k) => k.kid === header.kid);
  check(key, 'the status list is not signed with a published key');
  await jose.jwtVerify(token, await jose.importJWK(key, 'ES256'), { typ: 'statuslist+jwt' });
  const status = getListFromStatusListJWT(token).getStatus(idx);
  check(status === 1, `the status list says ${status} for entry ${idx}, not revoked (1)`);
  const verifier = await verifierInstance(payload.iss);
  const refused = await verifier.verify(credential).then(() => false, () => true);
  check(refused, 'the SD-JWT VC library still accepts the revoked credential');
  console.log(JSON.stringify({ revoked: true, uri, idx }));
}

const [command, ...args] = process.argv.slice(2);
try {
  if (command === 'redeem' && args.length === 3) await redeem(...args);
  else if (command === 'check-revoked' && args.length === 1) await checkRevoked(...args);
  else fail('usage: holder.mjs redeem OFFER_URI TX_CODE OUT_FILE | check-revoked CREDENTIAL_FILE');
} catch (error) {
  fail(`${error?.constructor?.name ?? 'error'}: ${error?.message ?? error}${error?.response ? ` ${JSON.stringify(error.response)}` : ''}`);
}
