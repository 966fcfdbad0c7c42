// Fixture identities, shaped like FranceConnect's "identité pivot". `sub` is 64 hex
// characters + "v1", as FranceConnect's.
import crypto from 'node:crypto';

const sub = (login) => `${crypto.createHash('sha256').update(`sand-test:${login}`).digest('hex')}v1`;

const person = (login, claims) => [login, { sub: sub(login), claims }];

export const accounts = Object.fromEntries([
  // the FranceConnect sandbox's mock identity
  person('test', {
    given_name: 'Angela Claire Louise',
    given_name_array: ['Angela', 'Claire', 'Louise'],
    family_name: 'DUBOIS',
    birthdate: '1962-08-24',
    gender: 'female',
    birthplace: '75107',
    birthcountry: '99100',
    email: 'angela.dubois@exemple.fr',
    preferred_username: '',
  }),
  // no family name (rare, but it happens)
  person('sans-nom', {
    given_name: 'Nour',
    given_name_array: ['Nour'],
    family_name: '',
    birthdate: '1990-03-12',
    gender: 'female',
    birthplace: '13055',
    birthcountry: '99100',
    email: 'nour@exemple.fr',
  }),
  // a presumed birth date: only the year is known
  person('date-presumee', {
    given_name: 'Jean-Baptiste Hervé',
    given_name_array: ['Jean-Baptiste', 'Hervé'],
    family_name: "N'DIAYE",
    birthdate: '1975-01-01',
    gender: 'male',
    birthplace: '69123',
    birthcountry: '99100',
    email: 'jb.ndiaye@exemple.fr',
  }),
  // born abroad: no commune, a foreign country code
  person('ne-etranger', {
    given_name: 'Zoé Hélène',
    given_name_array: ['Zoé', 'Hélène'],
    family_name: 'LEFÈVRE-MARTIN',
    birthdate: '2003-04-12',
    gender: 'female',
    birthplace: '',
    birthcountry: '99350',
    email: 'zoe.lefevre@exemple.fr',
    preferred_username: 'MARTIN',
  }),
  // for the adapter's error tests: the provider misbehaves for these two (server.mjs)
  person('jeton-altere', {
    given_name: 'Altéré', given_name_array: ['Altéré'], family_name: 'JETON',
    birthdate: '1980-06-15', gender: 'male', birthplace: '75056', birthcountry: '99100',
  }),
  person('cle-inconnue', {
    given_name: 'Inconnue', given_name_array: ['Inconnue'], family_name: 'CLÉ',
    birthdate: '1981-07-16', gender: 'female', birthplace: '75056', birthcountry: '99100',
  }),
  // id_tokens rewritten by the provider (server.mjs): unsigned, another audience, another
  // issuer, expired; and an unsigned userinfo
  ...['alg-none', 'mauvaise-audience', 'mauvais-emetteur', 'jeton-expire', 'userinfo-alg-none', 'jeton-re-signe'].map((login) =>
    person(login, {
      given_name: 'Négatif', given_name_array: ['Négatif'], family_name: 'TEST',
      birthdate: '1982-08-17', gender: 'female', birthplace: '75056', birthcountry: '99100',
    })),
]);

/** The login of a subject. */
export const loginOf = (subject) => Object.keys(accounts).find((login) => accounts[login].sub === subject);
