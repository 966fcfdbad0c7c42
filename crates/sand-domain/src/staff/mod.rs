//! The back office's people: support agents and exam-office staff.
//!
//! SAND's own staff directory decides what an agent may do, whoever proved who they are
//! (ProConnect for State deployments, a local account with a second factor otherwise):
//!
//! - **level 1** (`niveau1`, the national helpdesk) follows the support checklist with a
//!   graduate on the phone and never sees personal data;
//! - **level 2** (`niveau2`, an exam office) sees and diagnoses the records of its
//!   issuers and of the académies they answer for, and releases links; it never edits a
//!   record (records change only by a new import);
//! - **administrator** (`administrateur`) manages staff and reads the audit log;
//! - **auditor** (`auditeur`) reads and exports the audit log.
//!
//! Scoping is by issuer: an agent sees the records its issuers exported, and the records
//! an académie's own office exported for each académie its issuers answer for (an agent of
//! the SIEC sees Paris's, Créteil's and Versailles's; Normandie's, Caen's and Rouen's
//! older batches). A university's or an agricultural authority's records are theirs only.

pub mod audit;
pub mod desk;
pub mod diagnosis;
pub mod records;
pub mod sign_in;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::academie::Academie;
use crate::credentials::Email;
use crate::issuer::{IssuerCode, IssuerRegistry};

/// Identifier of a staff member, assigned by the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StaffId(pub Uuid);

/// A staff member's login: 2 to 64 lower-case letters, digits, dots, dashes or
/// underscores, starting with a letter (`m.dupont`, `siec-niveau2`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StaffLogin(String);

/// The text is not a login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a login is 2 to 64 lower-case letters, digits, dots, dashes or underscores, starting with a letter"
)]
pub struct BadLogin;

impl StaffLogin {
    /// # Errors
    /// [`BadLogin`].
    pub fn parse(text: &str) -> Result<Self, BadLogin> {
        let ok = (2..=64).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(BadLogin)
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StaffLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an agent may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Level 1: the national helpdesk's checklist, no personal data.
    Helpdesk,
    /// Level 2: an exam office's records, diagnosis and link release.
    ExamOffice,
    /// Staff management and the audit log.
    Administrator,
    /// The audit log, read and exported.
    Auditor,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Helpdesk,
        Role::ExamOffice,
        Role::Administrator,
        Role::Auditor,
    ];

    /// The stable code, in files, the CLI and the database.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Role::Helpdesk => "niveau1",
            Role::ExamOffice => "niveau2",
            Role::Administrator => "administrateur",
            Role::Auditor => "auditeur",
        }
    }

    /// Its French name, as pages show it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Role::Helpdesk => "Assistance de niveau 1",
            Role::ExamOffice => "Service des examens (niveau 2)",
            Role::Administrator => "Administration",
            Role::Auditor => "Audit",
        }
    }

    /// Whether the role sees personal data: its login must prove a second factor.
    #[must_use]
    pub fn sees_personal_data(self) -> bool {
        !matches!(self, Role::Helpdesk)
    }

    /// Whether the role is bound to issuers (and needs at least one).
    #[must_use]
    pub fn is_scoped(self) -> bool {
        matches!(self, Role::ExamOffice)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The text is not a role code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role (possible: niveau1, niveau2, administrateur, auditeur)")]
pub struct BadRole;

impl FromStr for Role {
    type Err = BadRole;

    fn from_str(code: &str) -> Result<Self, BadRole> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.code() == code)
            .ok_or(BadRole)
    }
}

/// A staff member as the directory holds them (the password hash and the second
/// factor's secret stay in the directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMember {
    pub id: StaffId,
    pub login: StaffLogin,
    /// The name shown to colleagues and in the audit log's export.
    pub name: String,
    pub role: Role,
    /// The issuers whose records the agent handles (level 2 only).
    pub issuers: Vec<IssuerCode>,
    /// The professional address: the key of a login through ProConnect.
    pub email: Option<Email>,
    /// The employer's establishment a ProConnect login must name, when set.
    pub siret: Option<sign_in::Siret>,
    pub created_at: OffsetDateTime,
    /// Set when the account was closed: it can no longer log in.
    pub disabled_at: Option<OffsetDateTime>,
    /// Sessions opened before this instant are over (set at logout, and when the
    /// account's role or issuers change): the server-side end of a session.
    pub sessions_valid_from: Option<OffsetDateTime>,
}

impl StaffMember {
    /// Whether a session opened at `opened` is still the member's: the account is open
    /// and no later logout or change ended it.
    #[must_use]
    pub fn session_holds(&self, opened: OffsetDateTime) -> bool {
        self.disabled_at.is_none() && self.sessions_valid_from.is_none_or(|from| opened >= from)
    }
}

/// A staff member to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStaffMember {
    pub login: StaffLogin,
    pub name: String,
    pub role: Role,
    pub issuers: Vec<IssuerCode>,
    pub email: Option<Email>,
    pub siret: Option<sign_in::Siret>,
    pub created_at: OffsetDateTime,
}

/// Why a staff member cannot be added as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StaffRuleError {
    #[error("the name is empty, longer than 120 characters or holds control characters")]
    BadName,
    #[error("a level-2 agent needs at least one issuer")]
    NoIssuer,
    #[error("only level-2 agents are bound to issuers")]
    IssuersNotAllowed,
    #[error("issuer `{0}` is not in the registry")]
    UnknownIssuer(IssuerCode),
}

impl NewStaffMember {
    /// Checks the member against the rules and the issuer registry.
    ///
    /// # Errors
    /// The first [`StaffRuleError`] found.
    pub fn check(&self, issuers: &IssuerRegistry) -> Result<(), StaffRuleError> {
        check_name(&self.name)?;
        check_issuers(self.role, &self.issuers, issuers)
    }
}

/// What an administrator may change of an account: its role and issuers, and how a
/// ProConnect login finds it. (The login and the name stay; closing is its own act.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffChange {
    pub role: Role,
    pub issuers: Vec<IssuerCode>,
    pub email: Option<Email>,
    pub siret: Option<sign_in::Siret>,
}

impl StaffChange {
    /// Checks the change against the rules and the issuer registry.
    ///
    /// # Errors
    /// The first [`StaffRuleError`] found.
    pub fn check(&self, issuers: &IssuerRegistry) -> Result<(), StaffRuleError> {
        check_issuers(self.role, &self.issuers, issuers)
    }

    /// Whether the change narrows or moves what the agent may do: their open sessions end.
    #[must_use]
    pub fn changes_rights_of(&self, member: &StaffMember) -> bool {
        self.role != member.role || self.issuers != member.issuers
    }
}

fn check_name(name: &str) -> Result<(), StaffRuleError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(StaffRuleError::BadName);
    }
    Ok(())
}

fn check_issuers(
    role: Role,
    codes: &[IssuerCode],
    issuers: &IssuerRegistry,
) -> Result<(), StaffRuleError> {
    match (role.is_scoped(), codes.is_empty()) {
        (true, true) => return Err(StaffRuleError::NoIssuer),
        (false, false) => return Err(StaffRuleError::IssuersNotAllowed),
        _ => {}
    }
    if let Some(unknown) = codes.iter().find(|code| issuers.get(code.code()).is_none()) {
        return Err(StaffRuleError::UnknownIssuer(*unknown));
    }
    Ok(())
}

/// What a level-2 agent may see: the records its issuers exported, and the records of
/// the académies its issuers answer for as exam office that were exported under the
/// académie's own code. Empty for every other role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffScope {
    pub issuers: BTreeSet<IssuerCode>,
    pub academies: BTreeSet<Academie>,
}

impl StaffScope {
    /// The scope of `member` under `registry` (an issuer retired from the registry still
    /// scopes the records it exported).
    #[must_use]
    pub fn of(member: &StaffMember, registry: &IssuerRegistry) -> Self {
        if member.role != Role::ExamOffice || member.disabled_at.is_some() {
            return Self::default();
        }
        let issuers: BTreeSet<IssuerCode> = member.issuers.iter().copied().collect();
        let academies = issuers
            .iter()
            .filter_map(|code| registry.get(code.code()))
            .flat_map(|issuer| issuer.serves.iter().copied())
            .collect();
        Self { issuers, academies }
    }

    /// Whether a record of `academie` exported by `issuer` is in the scope.
    #[must_use]
    pub fn covers(&self, issuer: IssuerCode, academie: Academie) -> bool {
        self.issuers.contains(&issuer)
            || (self.academies.contains(&academie) && issuer == IssuerCode::of_academie(academie))
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty() && self.academies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role, issuers: &[&str]) -> StaffMember {
        StaffMember {
            id: StaffId(Uuid::nil()),
            login: StaffLogin::parse("agent").unwrap(),
            name: "Agent".to_owned(),
            role,
            issuers: issuers
                .iter()
                .map(|c| IssuerCode::parse(c).unwrap())
                .collect(),
            email: None,
            siret: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            disabled_at: None,
            sessions_valid_from: None,
        }
    }

    #[test]
    fn logins_are_plain_lower_case_words() {
        for good in ["ab", "m.dupont", "siec-niveau2", "a_b"] {
            assert!(StaffLogin::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "M.Dupont",
            "2agent",
            "agent@x",
            "a b",
            &"a".repeat(65),
        ] {
            assert_eq!(StaffLogin::parse(bad), Err(BadLogin), "{bad}");
        }
    }

    #[test]
    fn roles_read_their_codes_and_only_level_1_sees_no_personal_data() {
        for role in Role::ALL {
            assert_eq!(role.code().parse::<Role>(), Ok(*role));
            assert_eq!(role.sees_personal_data(), *role != Role::Helpdesk);
        }
        assert_eq!("admin".parse::<Role>(), Err(BadRole));
    }

    #[test]
    fn the_siec_sees_paris_creteil_and_versailles_and_lyon_sees_lyon() {
        let registry = IssuerRegistry::offices_only();
        let siec = StaffScope::of(&member(Role::ExamOffice, &["SIEC"]), &registry);
        let paris_office = IssuerCode::of_academie(Academie::Paris);
        assert!(siec.covers(paris_office, Academie::Paris));
        assert!(siec.covers(IssuerCode::parse("SIEC").unwrap(), Academie::Creteil));
        assert!(!siec.covers(IssuerCode::of_academie(Academie::Lyon), Academie::Lyon));

        let lyon = StaffScope::of(&member(Role::ExamOffice, &["10"]), &registry);
        assert!(lyon.covers(IssuerCode::of_academie(Academie::Lyon), Academie::Lyon));
        assert!(!lyon.covers(
            IssuerCode::of_academie(Academie::Grenoble),
            Academie::Grenoble
        ));
        // a university's licence of Lyon is the university's, not the exam office's
        let university = IssuerCode::parse("0691774D").unwrap();
        assert!(!lyon.covers(university, Academie::Lyon));
        // Normandie's office answers for Caen's batches exported before the merger
        let normandie = StaffScope::of(&member(Role::ExamOffice, &["70"]), &registry);
        assert!(normandie.covers(IssuerCode::of_academie(Academie::Caen), Academie::Caen));
    }

    #[test]
    fn only_active_level_2_agents_have_a_scope() {
        let registry = IssuerRegistry::offices_only();
        for role in [Role::Helpdesk, Role::Administrator, Role::Auditor] {
            assert!(StaffScope::of(&member(role, &["10"]), &registry).is_empty());
        }
        let mut closed = member(Role::ExamOffice, &["10"]);
        closed.disabled_at = Some(OffsetDateTime::UNIX_EPOCH);
        assert!(StaffScope::of(&closed, &registry).is_empty());
    }

    #[test]
    fn a_new_member_is_checked_against_the_rules_and_the_registry() {
        let registry = IssuerRegistry::offices_only();
        let new = |role, issuers: &[&str], name: &str| NewStaffMember {
            login: StaffLogin::parse("agent").unwrap(),
            name: name.to_owned(),
            role,
            issuers: issuers
                .iter()
                .map(|c| IssuerCode::parse(c).unwrap())
                .collect(),
            email: None,
            siret: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(
            new(Role::ExamOffice, &["10"], "Agent").check(&registry),
            Ok(())
        );
        assert_eq!(
            new(Role::ExamOffice, &[], "Agent").check(&registry),
            Err(StaffRuleError::NoIssuer)
        );
        assert_eq!(
            new(Role::Helpdesk, &["10"], "Agent").check(&registry),
            Err(StaffRuleError::IssuersNotAllowed)
        );
        assert_eq!(
            new(Role::ExamOffice, &["ZZ"], "Agent").check(&registry),
            Err(StaffRuleError::UnknownIssuer(
                IssuerCode::parse("ZZ").unwrap()
            ))
        );
        for bad in ["", "  ", "a\u{7}b", &"x".repeat(121)] {
            assert_eq!(
                new(Role::Auditor, &[], bad).check(&registry),
                Err(StaffRuleError::BadName)
            );
        }
    }
}
