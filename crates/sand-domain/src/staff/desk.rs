//! The exam office's desk (level 2): search its records, read one with its batch and
//! link, diagnose a failed attachment, read its import history, release a link.
//!
//! Every call is scoped by the agent's [`StaffScope`] in the store's query itself (a
//! record outside it does not exist for the agent) and writes its audit row in the same
//! transaction as its read or its change. Level 2 never edits a record: records change
//! only by a new import.

use std::fmt;
use std::sync::Arc;

use time::{Date, OffsetDateTime};

use super::audit::{Actor, AuditAction, NewAuditEntry};
use super::diagnosis::Diagnosis;
use super::records::{RecordDetail, RecordQuery, ReleaseReason};
use super::{Role, StaffMember, StaffScope};
use crate::diploma::DiplomaScope;
use crate::error::PortError;
use crate::identity::Identity;
use crate::issuer::IssuerRegistry;
use crate::link::LinkId;
use crate::ports::ExamOfficeDesk;
use crate::record::{DiplomaRecord, RecordId};

/// Why the desk refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// The agent's role has no desk (only level 2 has one).
    #[error("this role has no exam-office desk")]
    NotAllowed,
    /// Out of the agent's scope, or no such record or link: the same answer for both.
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Where the desk's requests come from (for the audit row).
#[derive(Debug, Clone)]
pub struct DeskRequest<'a> {
    pub agent: &'a StaffMember,
    pub origin: &'a str,
    pub at: OffsetDateTime,
}

impl DeskRequest<'_> {
    fn audit(&self, action: AuditAction, detail: String) -> NewAuditEntry {
        NewAuditEntry {
            at: self.at,
            actor: Actor::Staff {
                id: self.agent.id,
                login: self.agent.login.clone(),
            },
            action,
            records: Vec::new(),
            link: None,
            batch: None,
            detail,
            origin: self.origin.to_owned(),
        }
    }
}

/// A record near a typed identity, and how each field compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearRecord {
    pub record: DiplomaRecord,
    pub diagnosis: Diagnosis,
}

/// Most results a search or a diagnosis shows.
pub const MAX_RESULTS: u64 = 50;

/// The exam office's desk.
#[derive(Clone)]
pub struct Desk {
    pub store: Arc<dyn ExamOfficeDesk>,
    pub issuers: Arc<IssuerRegistry>,
}

impl fmt::Debug for Desk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Desk")
    }
}

impl Desk {
    fn scope(&self, request: &DeskRequest<'_>) -> Result<StaffScope, DeskError> {
        if request.agent.role != Role::ExamOffice || request.agent.disabled_at.is_some() {
            return Err(DeskError::NotAllowed);
        }
        Ok(StaffScope::of(request.agent, &self.issuers))
    }

    /// The agent's records matching `query`, at most [`MAX_RESULTS`].
    ///
    /// # Errors
    /// [`DeskError`].
    pub async fn search(
        &self,
        request: &DeskRequest<'_>,
        query: &RecordQuery,
    ) -> Result<Vec<DiplomaRecord>, DeskError> {
        let scope = self.scope(request)?;
        let kind = match query {
            RecordQuery::CandidateNumber(_) => "numero_candidat",
            RecordQuery::Ine(_) => "ine",
            RecordQuery::NameAndBirthDate { .. } => "nom_et_date_de_naissance",
        };
        let audit = request.audit(AuditAction::RecordSearch, format!("par {kind}"));
        Ok(self
            .store
            .search(&scope, query, MAX_RESULTS, &audit)
            .await?)
    }

    /// One of the agent's records, with its batch and link.
    ///
    /// # Errors
    /// [`DeskError::NotFound`] out of scope or unknown.
    pub async fn record(
        &self,
        request: &DeskRequest<'_>,
        id: RecordId,
    ) -> Result<RecordDetail, DeskError> {
        let scope = self.scope(request)?;
        let audit = request.audit(AuditAction::RecordView, String::new());
        self.store
            .record(&scope, id, &audit)
            .await?
            .ok_or(DeskError::NotFound)
    }

    /// The agent's records of `diploma` near the identity a graduate gave, nearest
    /// first, each with how its fields compare after normalisation.
    ///
    /// # Errors
    /// [`DeskError`].
    pub async fn diagnose(
        &self,
        request: &DeskRequest<'_>,
        diploma: &DiplomaScope,
        typed: &Identity,
    ) -> Result<Vec<NearRecord>, DeskError> {
        let scope = self.scope(request)?;
        let key = typed.key();
        let date = typed.birth_date.date();
        let mut dates = vec![date];
        if let Some(swapped) = swapped(date) {
            dates.push(swapped);
        }
        let audit = request.audit(AuditAction::AttachDiagnosis, diploma.to_string());
        let candidates = self
            .store
            .near(
                &scope,
                diploma,
                &key.birth_name,
                &dates,
                MAX_RESULTS,
                &audit,
            )
            .await?;
        let mut near: Vec<NearRecord> = candidates
            .into_iter()
            .map(|record| NearRecord {
                diagnosis: Diagnosis::of(typed, &record.holder),
                record,
            })
            .filter(|n| n.diagnosis.is_near())
            .collect();
        near.sort_by_key(|n| n.diagnosis.differing());
        Ok(near)
    }

    /// The agent's scopes' batches, newest first.
    ///
    /// # Errors
    /// [`DeskError`].
    pub async fn history(
        &self,
        request: &DeskRequest<'_>,
    ) -> Result<Vec<super::records::BatchHistory>, DeskError> {
        let scope = self.scope(request)?;
        let audit = request.audit(AuditAction::ImportHistory, String::new());
        Ok(self.store.batches(&scope, 200, &audit).await?)
    }

    /// Releases the link of one of the agent's records: it ends at once (its key stops
    /// verifying), the holder is told by mail and sees it in their space.
    ///
    /// # Errors
    /// [`DeskError::NotFound`] when the record is out of scope, unknown, or has no
    /// active link.
    pub async fn release(
        &self,
        request: &DeskRequest<'_>,
        record: RecordId,
        reason: ReleaseReason,
    ) -> Result<LinkId, DeskError> {
        let scope = self.scope(request)?;
        let audit = request.audit(AuditAction::LinkRelease, reason.code().to_owned());
        self.store
            .release(&scope, record, reason, request.at, &audit)
            .await?
            .ok_or(DeskError::NotFound)
    }
}

/// The date with day and month exchanged, when that is another valid date.
fn swapped(date: Date) -> Option<Date> {
    let month = time::Month::try_from(date.day()).ok()?;
    let swapped = Date::from_calendar_date(date.year(), month, u8::from(date.month())).ok()?;
    (swapped != date).then_some(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockExamOfficeDesk;
    use crate::staff::{StaffId, StaffLogin};
    use time::macros::date;
    use uuid::Uuid;

    fn agent(role: Role) -> StaffMember {
        StaffMember {
            id: StaffId(Uuid::nil()),
            login: StaffLogin::parse("lyon.n2").unwrap(),
            name: "Agent".to_owned(),
            role,
            issuers: vec![crate::issuer::IssuerCode::parse("10").unwrap()],
            email: None,
            siret: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            disabled_at: None,
            sessions_valid_from: None,
        }
    }

    fn desk(store: MockExamOfficeDesk) -> Desk {
        Desk {
            store: Arc::new(store),
            issuers: Arc::new(IssuerRegistry::offices_only()),
        }
    }

    #[test]
    fn swapped_dates_exist_only_when_valid_and_different() {
        assert_eq!(swapped(date!(2004 - 04 - 12)), Some(date!(2004 - 12 - 04)));
        assert_eq!(swapped(date!(2004 - 04 - 13)), None);
        assert_eq!(swapped(date!(2004 - 05 - 05)), None);
    }

    #[test]
    fn release_reasons_read_their_codes() {
        for r in ReleaseReason::ALL {
            assert_eq!(r.code().parse::<ReleaseReason>(), Ok(*r));
        }
        assert!("autre".parse::<ReleaseReason>().is_err());
    }

    #[tokio::test]
    async fn only_level_2_has_a_desk_and_the_store_is_never_asked_otherwise() {
        for role in [Role::Helpdesk, Role::Administrator, Role::Auditor] {
            let desk = desk(MockExamOfficeDesk::new());
            let agent = agent(role);
            let request = DeskRequest {
                agent: &agent,
                origin: "203.0.113.7",
                at: OffsetDateTime::UNIX_EPOCH,
            };
            assert!(matches!(
                desk.record(&request, RecordId(Uuid::nil())).await,
                Err(DeskError::NotAllowed)
            ));
            assert!(matches!(
                desk.release(&request, RecordId(Uuid::nil()), ReleaseReason::LostAccess)
                    .await,
                Err(DeskError::NotAllowed)
            ));
        }
    }

    #[tokio::test]
    async fn the_store_gets_the_agents_scope_and_an_audit_row_naming_the_agent() {
        let mut store = MockExamOfficeDesk::new();
        store
            .expect_record()
            .withf(|scope, _, audit| {
                scope.issuers.len() == 1
                    && scope.academies.contains(&crate::academie::Academie::Lyon)
                    && audit.action == AuditAction::RecordView
                    && audit.actor
                        == Actor::Staff {
                            id: StaffId(Uuid::nil()),
                            login: StaffLogin::parse("lyon.n2").unwrap(),
                        }
                    && audit.origin == "203.0.113.7"
            })
            .returning(|_, _, _| Ok(None));
        let agent = agent(Role::ExamOffice);
        let request = DeskRequest {
            agent: &agent,
            origin: "203.0.113.7",
            at: OffsetDateTime::UNIX_EPOCH,
        };
        assert!(matches!(
            desk(store).record(&request, RecordId(Uuid::nil())).await,
            Err(DeskError::NotFound)
        ));
    }
}
