//! An agent's login through the State's identity federation (ProConnect): the federation
//! proves who the agent is, SAND's own staff directory decides what they may do.
//!
//! The agent is found in the directory by professional e-mail address (what ProConnect
//! recommends for reconciling an agent), then admitted only when:
//! - the account is open;
//! - the federation names the agent's establishment (`siret`), and it is the one the
//!   directory expects when the directory records one;
//! - for a role that sees personal data (level 2, administrator, auditor), the login used
//!   a second factor (`amr`), unless the operator turned that check off for a test
//!   environment.

use std::fmt;

use crate::credentials::Email;
use crate::staff::StaffMember;

/// A SIRET: the 14-digit establishment id of an agent's employer (a rectorat has its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Siret(String);

/// The text is not a SIRET.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a SIRET is 14 digits")]
pub struct BadSiret;

impl Siret {
    /// 14 digits; spaces, as printed on documents, are dropped. (No Luhn check: some
    /// public establishments' numbers do not satisfy it.)
    ///
    /// # Errors
    /// [`BadSiret`].
    pub fn parse(text: &str) -> Result<Self, BadSiret> {
        let digits: String = text.chars().filter(|c| *c != ' ').collect();
        if digits.len() == 14 && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(BadSiret)
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agent as the identity federation proved them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenAgent {
    /// The federation's issuer and its subject for this service (unique per service and
    /// identity provider: not a stable id of the person).
    pub issuer: String,
    pub subject: String,
    /// The professional address, the key into SAND's staff directory.
    pub email: Email,
    pub given_name: String,
    pub usual_name: String,
    /// The employer's establishment, when the federation gives it.
    pub siret: Option<Siret>,
    /// Which identity provider authenticated the agent.
    pub idp_id: Option<String>,
    /// How the agent authenticated (`amr`, RFC 8176), as the federation reports it.
    pub methods: Vec<String>,
    /// To end the federation's session on logout.
    pub id_token_hint: String,
}

/// Authentication methods (RFC 8176) that are a factor beyond a password.
const SECOND_FACTORS: &[&str] = &[
    "otp", "totp", "hwk", "swk", "sms", "pop", "fpt", "face", "iris", "retina", "vbm", "sc", "pin",
];

impl ProvenAgent {
    /// Whether the login used more than one factor: `mfa`, or a second factor such as a
    /// one-time code or a hardware key beside (or instead of) a password.
    #[must_use]
    pub fn used_second_factor(&self) -> bool {
        self.methods
            .iter()
            .any(|m| m == "mfa" || SECOND_FACTORS.contains(&m.as_str()))
    }
}

/// Why a proven agent is not let in. Each has its own page and its audit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AgentRefusal {
    #[error("no account of SAND's staff directory has this address")]
    Unknown,
    #[error("the account is closed")]
    Closed,
    #[error("the identity federation did not name the agent's establishment")]
    NoEstablishment,
    #[error("the agent's establishment is not the one the directory expects")]
    OtherEstablishment,
    #[error("the role sees personal data and the login used no second factor")]
    SecondFactorMissing,
}

impl AgentRefusal {
    /// The stable code, in the audit log.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            AgentRefusal::Unknown => "agent_inconnu",
            AgentRefusal::Closed => "compte_ferme",
            AgentRefusal::NoEstablishment => "siret_absent",
            AgentRefusal::OtherEstablishment => "siret_different",
            AgentRefusal::SecondFactorMissing => "second_facteur_absent",
        }
    }
}

/// Whether the directory's `member` (found by `proven`'s address) may log in.
///
/// # Errors
/// The first [`AgentRefusal`] that applies.
pub fn admit(
    member: Option<StaffMember>,
    proven: &ProvenAgent,
    require_second_factor: bool,
) -> Result<StaffMember, AgentRefusal> {
    let member = member.ok_or(AgentRefusal::Unknown)?;
    if member.disabled_at.is_some() {
        return Err(AgentRefusal::Closed);
    }
    let Some(siret) = &proven.siret else {
        return Err(AgentRefusal::NoEstablishment);
    };
    if member
        .siret
        .as_ref()
        .is_some_and(|expected| expected != siret)
    {
        return Err(AgentRefusal::OtherEstablishment);
    }
    if require_second_factor && member.role.sees_personal_data() && !proven.used_second_factor() {
        return Err(AgentRefusal::SecondFactorMissing);
    }
    Ok(member)
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::issuer::IssuerCode;
    use crate::staff::{Role, StaffId, StaffLogin};

    fn member(role: Role, siret: Option<&str>) -> StaffMember {
        StaffMember {
            id: StaffId(Uuid::nil()),
            login: StaffLogin::parse("c.moreau").unwrap(),
            name: "Claire Moreau".to_owned(),
            role,
            issuers: if role.is_scoped() {
                vec![IssuerCode::parse("10").unwrap()]
            } else {
                Vec::new()
            },
            email: Some(Email::parse("claire.moreau@ac-lyon.fr").unwrap()),
            siret: siret.map(|s| Siret::parse(s).unwrap()),
            created_at: OffsetDateTime::UNIX_EPOCH,
            disabled_at: None,
            sessions_valid_from: None,
        }
    }

    fn proven(siret: Option<&str>, methods: &[&str]) -> ProvenAgent {
        ProvenAgent {
            issuer: "https://proconnect.example/api/v2".to_owned(),
            subject: "abc".to_owned(),
            email: Email::parse("Claire.Moreau@ac-lyon.fr").unwrap(),
            given_name: "Claire".to_owned(),
            usual_name: "MOREAU".to_owned(),
            siret: siret.map(|s| Siret::parse(s).unwrap()),
            idp_id: Some("fia".to_owned()),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            id_token_hint: "hint".to_owned(),
        }
    }

    const LYON: &str = "19691234500013";
    const MFA: &[&str] = &["pwd", "totp", "mfa"];

    #[test]
    fn sirets_are_fourteen_digits() {
        assert_eq!(
            Siret::parse("196 912 345 00013").unwrap().as_str(),
            "19691234500013"
        );
        for bad in [
            "",
            "1969123450001",
            "196912345000134",
            "1969123450001A",
            "١٩٦٩١٢٣٤٥٠٠٠١٣",
        ] {
            assert_eq!(Siret::parse(bad), Err(BadSiret), "{bad}");
        }
    }

    #[test]
    fn a_second_factor_is_mfa_or_a_method_beyond_the_password() {
        assert!(proven(None, MFA).used_second_factor());
        assert!(proven(None, &["pwd", "otp"]).used_second_factor());
        assert!(proven(None, &["hwk"]).used_second_factor());
        assert!(!proven(None, &["pwd"]).used_second_factor());
        assert!(!proven(None, &["pwd", "mail"]).used_second_factor());
        assert!(!proven(None, &[]).used_second_factor());
    }

    #[test]
    fn a_known_open_agent_of_the_expected_establishment_with_a_second_factor_is_admitted() {
        let admitted = admit(
            Some(member(Role::ExamOffice, Some(LYON))),
            &proven(Some(LYON), MFA),
            true,
        );
        assert_eq!(admitted.unwrap().login.as_str(), "c.moreau");
        // a directory entry without a SIRET accepts any establishment the federation names
        assert!(
            admit(
                Some(member(Role::ExamOffice, None)),
                &proven(Some(LYON), MFA),
                true
            )
            .is_ok()
        );
    }

    #[test]
    fn each_refusal_has_its_reason() {
        let lyon = || Some(member(Role::ExamOffice, Some(LYON)));
        assert_eq!(
            admit(None, &proven(Some(LYON), MFA), true),
            Err(AgentRefusal::Unknown)
        );
        let mut closed = member(Role::ExamOffice, Some(LYON));
        closed.disabled_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            admit(Some(closed), &proven(Some(LYON), MFA), true),
            Err(AgentRefusal::Closed)
        );
        assert_eq!(
            admit(lyon(), &proven(None, MFA), true),
            Err(AgentRefusal::NoEstablishment)
        );
        assert_eq!(
            admit(lyon(), &proven(Some("13002523400017"), MFA), true),
            Err(AgentRefusal::OtherEstablishment)
        );
        assert_eq!(
            admit(lyon(), &proven(Some(LYON), &["pwd"]), true),
            Err(AgentRefusal::SecondFactorMissing)
        );
        let codes: std::collections::BTreeSet<&str> = [
            AgentRefusal::Unknown,
            AgentRefusal::Closed,
            AgentRefusal::NoEstablishment,
            AgentRefusal::OtherEstablishment,
            AgentRefusal::SecondFactorMissing,
        ]
        .iter()
        .map(|r| r.code())
        .collect();
        assert_eq!(codes.len(), 5);
    }

    #[test]
    fn the_second_factor_is_required_only_of_roles_that_see_personal_data_unless_turned_off() {
        for role in [Role::ExamOffice, Role::Administrator, Role::Auditor] {
            assert_eq!(
                admit(
                    Some(member(role, None)),
                    &proven(Some(LYON), &["pwd"]),
                    true
                ),
                Err(AgentRefusal::SecondFactorMissing),
                "{role}"
            );
            assert!(
                admit(
                    Some(member(role, None)),
                    &proven(Some(LYON), &["pwd"]),
                    false
                )
                .is_ok()
            );
        }
        assert!(
            admit(
                Some(member(Role::Helpdesk, None)),
                &proven(Some(LYON), &["pwd"]),
                true
            )
            .is_ok()
        );
    }
}
