//! The back office's audit log: every view of personal data and every action, appended
//! in the same transaction as the action, never changed.
//!
//! A row names the agent and the ids of what was seen or done, never a copy of a
//! graduate's personal data: deleting a profile needs no audit rewrite.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use super::{StaffId, StaffLogin};
use crate::link::LinkId;
use crate::record::{BatchId, RecordId};

/// What an audit row records, by its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditAction {
    /// A login to the back office (refused ones too).
    Login,
    LoginRefused,
    /// A logout: the agent's sessions end server-side.
    Logout,
    /// A search of records: the ids of the records listed.
    RecordSearch,
    /// One record's detail.
    RecordView,
    /// An attach diagnosis: the ids of the records compared.
    AttachDiagnosis,
    /// A link released, with its reason.
    LinkRelease,
    /// The import history of a scope.
    ImportHistory,
    StaffAdd,
    StaffChange,
    AuditExport,
    /// Rows older than the retention removed (by an operator command).
    AuditPurge,
}

impl AuditAction {
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::Login,
        AuditAction::LoginRefused,
        AuditAction::Logout,
        AuditAction::RecordSearch,
        AuditAction::RecordView,
        AuditAction::AttachDiagnosis,
        AuditAction::LinkRelease,
        AuditAction::ImportHistory,
        AuditAction::StaffAdd,
        AuditAction::StaffChange,
        AuditAction::AuditExport,
        AuditAction::AuditPurge,
    ];

    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::Login => "connexion",
            AuditAction::LoginRefused => "connexion_refusee",
            AuditAction::Logout => "deconnexion",
            AuditAction::RecordSearch => "recherche_resultats",
            AuditAction::RecordView => "consultation_resultat",
            AuditAction::AttachDiagnosis => "diagnostic_rattachement",
            AuditAction::LinkRelease => "liberation_rattachement",
            AuditAction::ImportHistory => "historique_imports",
            AuditAction::StaffAdd => "ajout_agent",
            AuditAction::StaffChange => "modification_agent",
            AuditAction::AuditExport => "export_journal",
            AuditAction::AuditPurge => "purge_journal",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The text is not an audit action's code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audit action")]
pub struct BadAuditAction;

impl FromStr for AuditAction {
    type Err = BadAuditAction;

    fn from_str(code: &str) -> Result<Self, BadAuditAction> {
        AuditAction::ALL
            .iter()
            .copied()
            .find(|a| a.code() == code)
            .ok_or(BadAuditAction)
    }
}

/// Who acted: a staff member, or the operator at the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Staff {
        id: StaffId,
        login: StaffLogin,
    },
    /// `sand staff …`, `sand audit …`: the operator's shell user as given.
    Operator(String),
}

impl Actor {
    /// How the log names the actor: the login, or `operateur:<user>`.
    #[must_use]
    pub fn name(&self) -> String {
        match self {
            Actor::Staff { login, .. } => login.to_string(),
            Actor::Operator(user) => format!("operateur:{user}"),
        }
    }
}

/// An audit row to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: AuditAction,
    /// The records seen or acted on (ids only).
    pub records: Vec<RecordId>,
    pub link: Option<LinkId>,
    pub batch: Option<BatchId>,
    /// A short, non-personal detail: a reason code, a count, a staff login changed.
    pub detail: String,
    /// Where from: the client's address, or `cli`.
    pub origin: String,
}

/// An audit row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Its position in the log (increasing).
    pub seq: i64,
    pub entry: NewAuditEntry,
}
