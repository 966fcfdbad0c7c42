// Fixture agents, shaped like ProConnect's claims (../shared facts in docs/operations.md,
// "ProConnect"): `given_name`, `usual_name`, `email`, `uid`, `siret`, `idp_id`, and the
// authentication methods (`amr`) the login reports. `sub` is unique per (client, identity
// provider), as ProConnect's.
import crypto from 'node:crypto';

const sub = (login) => crypto.createHash('sha256').update(`sand-test-agent:${login}`).digest('hex');

const agent = (login, claims, amr) => [login, { sub: sub(login), claims, amr }];

// a password and a one-time code, as a ministry's identity provider reports them
const MFA = ['pwd', 'totp', 'mfa'];

export const agents = Object.fromEntries([
  // an exam-office agent of the rectorat de Lyon
  agent('agent.lyon', {
    given_name: 'Claire Marie', usual_name: 'MOREAU', email: 'claire.moreau@ac-lyon.fr',
    uid: 'cmoreau', siret: '19691234500013', idp_id: 'fia-ac-lyon',
  }, MFA),
  // an exam-office agent of the rectorat de Grenoble
  agent('agent.grenoble', {
    given_name: 'Luc', usual_name: 'FABRE', email: 'luc.fabre@ac-grenoble.fr',
    uid: 'lfabre', siret: '19381234500016', idp_id: 'fia-ac-grenoble',
  }, MFA),
  // an agent of the SIEC (Paris, Créteil, Versailles)
  agent('agent.siec', {
    given_name: 'Paul', usual_name: 'GIRARD', email: 'paul.girard@siec.education.gouv.fr',
    uid: 'pgirard', siret: '13002523400017', idp_id: 'fia-education',
  }, MFA),
  // a helpdesk agent who logs in with a password only (level 1 sees no personal data)
  agent('agent.aide', {
    given_name: 'Marc', usual_name: 'PETIT', email: 'marc.petit@education.gouv.fr',
    uid: 'mpetit', siret: '11004601800013', idp_id: 'fia-education',
  }, ['pwd']),
  // the Lyon agent again, logged in with a password only (no second factor)
  agent('agent.lyon-sans-mfa', {
    given_name: 'Claire Marie', usual_name: 'MOREAU', email: 'claire.moreau@ac-lyon.fr',
    uid: 'cmoreau', siret: '19691234500013', idp_id: 'fia-ac-lyon',
  }, ['pwd']),
  // a State agent SAND's directory does not know
  agent('agent.inconnu', {
    given_name: 'Inès', usual_name: 'ROUX', email: 'ines.roux@ac-nantes.fr',
    uid: 'iroux', siret: '19441234500011', idp_id: 'fia-ac-nantes',
  }, MFA),
  // a known address, but no establishment (`siret`) in the claims
  agent('agent.sans-siret', {
    given_name: 'Paul', usual_name: 'GIRARD', email: 'paul.girard@siec.education.gouv.fr',
    uid: 'pgirard', idp_id: 'fia-education',
  }, MFA),
  // the SIEC agent's address, but another employer's establishment
  agent('agent.autre-siret', {
    given_name: 'Paul', usual_name: 'GIRARD', email: 'paul.girard@siec.education.gouv.fr',
    uid: 'pgirard', siret: '21750001600019', idp_id: 'fia-paris',
  }, MFA),
  // the provider re-signs this one's userinfo with an unknown key (server.mjs)
  agent('agent.cle-inconnue', {
    given_name: 'Paul', usual_name: 'GIRARD', email: 'paul.girard@siec.education.gouv.fr',
    uid: 'pgirard', siret: '13002523400017', idp_id: 'fia-education',
  }, MFA),
]);
