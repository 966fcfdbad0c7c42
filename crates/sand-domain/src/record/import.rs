//! The one-way import: an exam office's batch for one (kind, session, académie) scope
//! is validated as a whole, then applied atomically or not at all.
//!
//! Rules:
//! - a batch with any problem changes nothing; every problem is reported (up to
//!   [`MAX_REPORTED_PROBLEMS`]) with its line;
//! - re-importing the same data (same fingerprint) changes nothing and says so, except
//!   that a batch now declared complete gets published;
//! - a corrected batch for the same scope replaces the previous one (see
//!   [`RecordWriter::replace_batch`]);
//! - a batch not declared complete is stored but not published.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::academie::{ExamOffice, ExamOfficeError};
use crate::diploma::DiplomaScope;
use crate::error::PortError;
use crate::ports::{Clock, RecordWriter};
use crate::record::{BatchFingerprint, BatchId, CandidateNumber, NewRecord, SourceSystem};

/// Most problems listed in one report; the total is always counted.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

/// Youngest age at which a diploma can have been awarded (a sanity bound on birth dates).
pub const MIN_AGE_AT_DELIBERATION_YEARS: i64 = 10;

/// A batch as the import adapter parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportBatchRequest {
    pub exam_office: ExamOffice,
    pub scope: DiplomaScope,
    pub source_system: SourceSystem,
    pub exported_at: OffsetDateTime,
    /// Declared by the exam office: every group of tests is known.
    pub complete: bool,
    /// Number of records the manifest announces.
    pub declared_record_count: u64,
    pub fingerprint: BatchFingerprint,
    pub records: Vec<NewRecord>,
}

/// One problem found in a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchProblem {
    #[error("{0}")]
    ExamOffice(ExamOfficeError),
    #[error("the batch has no record")]
    Empty,
    #[error("the manifest announces {declared} records, the data has {actual}")]
    CountMismatch { declared: u64, actual: u64 },
    #[error("the batch was exported in the future ({exported_at})")]
    ExportedInTheFuture { exported_at: OffsetDateTime },
    #[error("line {line}: the record is for {found}, the batch for {expected}")]
    OutOfScope {
        line: u64,
        expected: DiplomaScope,
        found: DiplomaScope,
    },
    #[error("line {line}: candidate number {candidate} already on line {first_line}")]
    DuplicateCandidate {
        line: u64,
        first_line: u64,
        candidate: String,
    },
    #[error("line {line}: deliberation date {date} is not in session {session} or the year after")]
    DeliberationOutsideSession {
        line: u64,
        date: time::Date,
        session: u16,
    },
    #[error("line {line}: deliberation date {date} is after the export")]
    DeliberationAfterExport { line: u64, date: time::Date },
    #[error(
        "line {line}: the holder would have been under {MIN_AGE_AT_DELIBERATION_YEARS} at the deliberation"
    )]
    HolderTooYoung { line: u64 },
}

/// Every problem of a refused batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidBatch {
    /// The first [`MAX_REPORTED_PROBLEMS`] problems, in line order.
    pub problems: Vec<BatchProblem>,
    /// How many problems there were in all.
    pub total: u64,
}

impl fmt::Display for InvalidBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the batch", self.total)?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        if self.total > self.problems.len() as u64 {
            write!(
                f,
                "\n  … and {} more",
                self.total - self.problems.len() as u64
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidBatch {}

/// A batch that passed every check. Only [`ImportBatchRequest::validate`] makes one, so a
/// [`RecordWriter`] never sees an unchecked batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedBatch(ImportBatchRequest);

impl ValidatedBatch {
    #[must_use]
    pub fn request(&self) -> &ImportBatchRequest {
        &self.0
    }

    #[must_use]
    pub fn into_request(self) -> ImportBatchRequest {
        self.0
    }
}

struct Problems {
    listed: Vec<BatchProblem>,
    total: u64,
}

impl Problems {
    fn push(&mut self, problem: BatchProblem) {
        self.total += 1;
        if self.listed.len() < MAX_REPORTED_PROBLEMS {
            self.listed.push(problem);
        }
    }
}

impl ImportBatchRequest {
    /// Checks the batch as a whole against `now`.
    ///
    /// # Errors
    /// [`InvalidBatch`] with every problem found.
    pub fn validate(self, now: OffsetDateTime) -> Result<ValidatedBatch, InvalidBatch> {
        let mut problems = Problems {
            listed: Vec::new(),
            total: 0,
        };
        if let Err(e) = self.exam_office.check_serves(self.scope.academie) {
            problems.push(BatchProblem::ExamOffice(e));
        }
        if self.exported_at > now {
            problems.push(BatchProblem::ExportedInTheFuture {
                exported_at: self.exported_at,
            });
        }
        if self.records.is_empty() {
            problems.push(BatchProblem::Empty);
        }
        let actual = self.records.len() as u64;
        if actual != self.declared_record_count {
            problems.push(BatchProblem::CountMismatch {
                declared: self.declared_record_count,
                actual,
            });
        }
        let session = self.scope.session.year();
        let export_date = self.exported_at.date();
        let mut seen: HashMap<&CandidateNumber, u64> = HashMap::with_capacity(self.records.len());
        for record in &self.records {
            let line = record.line;
            if record.scope != self.scope {
                problems.push(BatchProblem::OutOfScope {
                    line,
                    expected: self.scope,
                    found: record.scope,
                });
            }
            if let Some(first_line) = seen.insert(&record.candidate_number, line) {
                problems.push(BatchProblem::DuplicateCandidate {
                    line,
                    first_line,
                    candidate: record.candidate_number.as_str().to_owned(),
                });
            }
            let date = record.award.deliberation_date;
            let year = i64::from(date.year());
            if year != i64::from(session) && year != i64::from(session) + 1 {
                problems.push(BatchProblem::DeliberationOutsideSession {
                    line,
                    date,
                    session,
                });
            }
            if date > export_date {
                problems.push(BatchProblem::DeliberationAfterExport { line, date });
            }
            let birth = record.holder.identity.birth_date.date();
            if birth + Duration::days(365 * MIN_AGE_AT_DELIBERATION_YEARS) > date {
                problems.push(BatchProblem::HolderTooYoung { line });
            }
        }
        if problems.total > 0 {
            return Err(InvalidBatch {
                problems: problems.listed,
                total: problems.total,
            });
        }
        Ok(ValidatedBatch(self))
    }
}

/// What [`RecordWriter::replace_batch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyReport {
    pub batch: BatchId,
    /// Records whose source reference was new.
    pub inserted: u64,
    /// Records whose source reference existed and whose content changed (links kept).
    pub updated: u64,
    /// Records identical to the stored ones.
    pub unchanged: u64,
    /// Records of the previous batch absent from this one (withdrawn from publication).
    pub removed: u64,
    /// Active links to removed records, now withdrawn: their keys stopped verifying.
    pub links_withdrawn: u64,
}

/// How an import ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Same data as the stored batch: nothing written.
    Unchanged { batch: BatchId, published: bool },
    /// Same data, now declared complete: the stored batch was published.
    Published { batch: BatchId },
    /// New or corrected data stored.
    Applied {
        report: ApplyReport,
        published: bool,
    },
    /// Dry run: the batch is valid and would be stored.
    WouldApply { published: bool },
}

/// Why an import did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ImportBatchError {
    #[error(transparent)]
    Invalid(#[from] InvalidBatch),
    /// The stored batch of this scope came from another exam office.
    #[error("the stored batch of this scope comes from another exam office ({stored})")]
    ScopeHeldByAnotherOffice { stored: ExamOffice },
    /// The stored batch was exported after this one: importing would go back in time.
    #[error("the stored batch of this scope was exported later ({stored_export})")]
    OlderThanStored { stored_export: OffsetDateTime },
    /// A complete, published batch cannot be replaced by an incomplete one.
    #[error("a published batch cannot be replaced by a batch not declared complete")]
    WouldUnpublish,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: import a batch. Only the import composition (the `sand import` command)
/// builds it, since only it holds a [`RecordWriter`].
#[derive(Clone)]
pub struct ImportBatch {
    pub writer: Arc<dyn RecordWriter>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for ImportBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImportBatch")
    }
}

impl ImportBatch {
    /// Validates, then applies atomically. `dry_run` stops after validation and the
    /// checks against the stored batch and writes nothing: it reports
    /// [`ImportOutcome::Unchanged`], [`ImportOutcome::Published`] (would publish) or
    /// [`ImportOutcome::WouldApply`].
    ///
    /// # Errors
    /// [`ImportBatchError`]; on any error nothing was written.
    pub async fn execute(
        &self,
        request: ImportBatchRequest,
        dry_run: bool,
    ) -> Result<ImportOutcome, ImportBatchError> {
        let batch = request.validate(self.clock.now())?;
        let incoming = batch.request();
        if let Some(stored) = self.writer.find_batch(&incoming.scope).await? {
            if stored.exam_office != incoming.exam_office {
                return Err(ImportBatchError::ScopeHeldByAnotherOffice {
                    stored: stored.exam_office,
                });
            }
            if stored.fingerprint == incoming.fingerprint {
                if incoming.complete && !stored.complete {
                    if !dry_run {
                        self.writer.publish_batch(stored.id).await?;
                    }
                    return Ok(ImportOutcome::Published { batch: stored.id });
                }
                return Ok(ImportOutcome::Unchanged {
                    batch: stored.id,
                    published: stored.complete,
                });
            }
            if incoming.exported_at < stored.exported_at {
                return Err(ImportBatchError::OlderThanStored {
                    stored_export: stored.exported_at,
                });
            }
            if stored.complete && !incoming.complete {
                return Err(ImportBatchError::WouldUnpublish);
            }
        }
        let published = incoming.complete;
        if dry_run {
            return Ok(ImportOutcome::WouldApply { published });
        }
        let report = self.writer.replace_batch(&batch).await?;
        Ok(ImportOutcome::Applied { report, published })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::academie::Academie;
    use crate::diploma::{DiplomaKind, Session};
    use crate::ports::MockRecordWriter;
    use crate::record::{Award, ImportBatch as StoredBatch, RecordHolder};
    use crate::testing::*;
    use time::macros::{date, datetime};

    fn new_record(line: u64, candidate: &str) -> NewRecord {
        NewRecord {
            line,
            candidate_number: CandidateNumber::parse(candidate).unwrap(),
            scope: scope(),
            holder: RecordHolder {
                civility: None,
                identity: marie(),
                usage_name: None,
                ine: None,
            },
            award: Award {
                speciality: None,
                mention: None,
                deliberation_date: date!(2019 - 07 - 05),
            },
        }
    }

    fn request(records: Vec<NewRecord>) -> ImportBatchRequest {
        ImportBatchRequest {
            exam_office: ExamOffice::Academie(Academie::Lyon),
            scope: scope(),
            source_system: SourceSystem::Ocean,
            exported_at: datetime!(2019-07-20 08:00 UTC),
            complete: true,
            declared_record_count: records.len() as u64,
            fingerprint: BatchFingerprint([1; 32]),
            records,
        }
    }

    fn stored(fingerprint: u8, complete: bool) -> StoredBatch {
        StoredBatch {
            id: BatchId(uuid::Uuid::from_u128(0x3000)),
            exam_office: ExamOffice::Academie(Academie::Lyon),
            scope: scope(),
            source_system: SourceSystem::Ocean,
            exported_at: datetime!(2019-07-10 08:00 UTC),
            imported_at: datetime!(2019-07-11 08:00 UTC),
            complete,
            record_count: 2,
            fingerprint: BatchFingerprint([fingerprint; 32]),
        }
    }

    fn use_case(writer: MockRecordWriter) -> ImportBatch {
        ImportBatch {
            writer: Arc::new(writer),
            clock: Arc::new(clock()),
        }
    }

    fn report() -> ApplyReport {
        ApplyReport {
            batch: BatchId(uuid::Uuid::from_u128(9)),
            inserted: 2,
            updated: 0,
            unchanged: 0,
            removed: 0,
            links_withdrawn: 0,
        }
    }

    #[tokio::test]
    async fn a_new_batch_is_applied() {
        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().returning(|_| Ok(None));
        writer
            .expect_replace_batch()
            .withf(|b| b.request().records.len() == 2)
            .times(1)
            .returning(|_| Ok(report()));
        let outcome = use_case(writer)
            .execute(
                request(vec![new_record(2, "A1"), new_record(3, "A2")]),
                false,
            )
            .await
            .unwrap();
        assert_eq!(
            outcome,
            ImportOutcome::Applied {
                report: report(),
                published: true
            }
        );
    }

    #[tokio::test]
    async fn every_problem_is_reported_with_its_line_and_nothing_is_written() {
        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().never();
        writer.expect_replace_batch().never();
        let mut out_of_scope = new_record(4, "A3");
        out_of_scope.scope.kind = DiplomaKind::Bts;
        let mut late = new_record(5, "A4");
        late.award.deliberation_date = date!(2021 - 07 - 05);
        let mut young = new_record(6, "A5");
        young.holder.identity = identity("Durand", &["Marie"], "2015-01-01");
        let mut req = request(vec![
            new_record(2, "A1"),
            new_record(3, "A1"),
            out_of_scope,
            late,
            young,
        ]);
        req.declared_record_count = 9;
        let Err(ImportBatchError::Invalid(invalid)) = use_case(writer).execute(req, false).await
        else {
            panic!("expected an invalid batch")
        };
        assert_eq!(invalid.total, 6, "{invalid}");
        assert!(invalid.problems.contains(&BatchProblem::CountMismatch {
            declared: 9,
            actual: 5
        }));
        assert!(
            invalid
                .problems
                .contains(&BatchProblem::DuplicateCandidate {
                    line: 3,
                    first_line: 2,
                    candidate: "A1".into()
                })
        );
        assert!(
            invalid
                .problems
                .iter()
                .any(|p| matches!(p, BatchProblem::OutOfScope { line: 4, .. }))
        );
        assert!(
            invalid
                .problems
                .iter()
                .any(|p| matches!(p, BatchProblem::DeliberationOutsideSession { line: 5, .. }))
        );
        assert!(
            invalid
                .problems
                .iter()
                .any(|p| matches!(p, BatchProblem::DeliberationAfterExport { line: 5, .. }))
        );
        assert!(
            invalid
                .problems
                .contains(&BatchProblem::HolderTooYoung { line: 6 })
        );
    }

    #[test]
    fn batch_level_problems_are_reported() {
        let mut req = request(vec![]);
        req.exam_office = ExamOffice::Siec;
        req.exported_at = datetime!(2030-01-01 00:00 UTC);
        let invalid = req.validate(NOW).unwrap_err();
        assert_eq!(
            invalid.problems,
            vec![
                BatchProblem::ExamOffice(ExamOfficeError::SiecOutsideIleDeFrance),
                BatchProblem::ExportedInTheFuture {
                    exported_at: datetime!(2030-01-01 00:00 UTC)
                },
                BatchProblem::Empty,
            ]
        );
    }

    #[test]
    fn the_report_is_capped_but_the_total_counted() {
        let records: Vec<_> = (0..250).map(|i| new_record(i + 2, "SAME")).collect();
        let invalid = request(records).validate(NOW).unwrap_err();
        assert_eq!(invalid.total, 249);
        assert_eq!(invalid.problems.len(), MAX_REPORTED_PROBLEMS);
        assert!(invalid.to_string().contains("and 149 more"));
    }

    #[test]
    fn the_siec_may_export_paris_creteil_versailles_batches() {
        let mut req = request(vec![new_record(2, "A1")]);
        req.exam_office = ExamOffice::Siec;
        req.scope.academie = Academie::Creteil;
        req.records[0].scope.academie = Academie::Creteil;
        assert!(req.validate(NOW).is_ok());
    }

    #[tokio::test]
    async fn the_same_batch_twice_changes_nothing() {
        let mut writer = MockRecordWriter::new();
        writer
            .expect_find_batch()
            .returning(|_| Ok(Some(stored(1, true))));
        writer.expect_replace_batch().never();
        writer.expect_publish_batch().never();
        let outcome = use_case(writer)
            .execute(request(vec![new_record(2, "A1")]), false)
            .await
            .unwrap();
        assert!(matches!(
            outcome,
            ImportOutcome::Unchanged {
                published: true,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn declaring_a_stored_batch_complete_publishes_it() {
        let mut writer = MockRecordWriter::new();
        writer
            .expect_find_batch()
            .returning(|_| Ok(Some(stored(1, false))));
        writer.expect_publish_batch().times(1).returning(|_| Ok(()));
        writer.expect_replace_batch().never();
        let outcome = use_case(writer)
            .execute(request(vec![new_record(2, "A1")]), false)
            .await
            .unwrap();
        assert!(matches!(outcome, ImportOutcome::Published { .. }));
    }

    #[tokio::test]
    async fn an_incomplete_batch_is_stored_unpublished() {
        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().returning(|_| Ok(None));
        writer
            .expect_replace_batch()
            .withf(|b| !b.request().complete)
            .times(1)
            .returning(|_| Ok(report()));
        let mut req = request(vec![new_record(2, "A1")]);
        req.complete = false;
        let outcome = use_case(writer).execute(req, false).await.unwrap();
        assert!(matches!(
            outcome,
            ImportOutcome::Applied {
                published: false,
                ..
            }
        ));
    }

    #[tokio::test]
    async fn a_corrected_batch_replaces_the_stored_one() {
        let mut writer = MockRecordWriter::new();
        writer
            .expect_find_batch()
            .returning(|_| Ok(Some(stored(2, true))));
        writer.expect_replace_batch().times(1).returning(|_| {
            Ok(ApplyReport {
                updated: 1,
                removed: 1,
                links_withdrawn: 1,
                ..report()
            })
        });
        let outcome = use_case(writer)
            .execute(request(vec![new_record(2, "A1")]), false)
            .await
            .unwrap();
        let ImportOutcome::Applied { report, .. } = outcome else {
            panic!("expected applied")
        };
        assert_eq!(report.links_withdrawn, 1);
    }

    #[tokio::test]
    async fn an_older_export_does_not_replace_a_newer_one() {
        let mut writer = MockRecordWriter::new();
        writer
            .expect_find_batch()
            .returning(|_| Ok(Some(stored(2, true))));
        writer.expect_replace_batch().never();
        let mut req = request(vec![new_record(2, "A1")]);
        req.exported_at = datetime!(2019-07-01 08:00 UTC);
        req.records[0].award.deliberation_date = date!(2019 - 06 - 30);
        let result = use_case(writer).execute(req, false).await;
        assert!(matches!(
            result,
            Err(ImportBatchError::OlderThanStored { .. })
        ));
    }

    #[tokio::test]
    async fn another_office_cannot_replace_a_scope() {
        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().returning(|_| {
            let mut s = stored(2, true);
            s.exam_office = ExamOffice::Siec;
            Ok(Some(s))
        });
        writer.expect_replace_batch().never();
        let mut req = request(vec![new_record(2, "A1")]);
        req.scope = DiplomaScope {
            kind: DiplomaKind::BacGeneral,
            session: Session::new(2019).unwrap(),
            academie: Academie::Paris,
        };
        req.exam_office = ExamOffice::Academie(Academie::Paris);
        req.records[0].scope = req.scope;
        let result = use_case(writer).execute(req, false).await;
        assert!(matches!(
            result,
            Err(ImportBatchError::ScopeHeldByAnotherOffice {
                stored: ExamOffice::Siec
            })
        ));
    }

    #[tokio::test]
    async fn a_published_batch_is_not_replaced_by_an_incomplete_one() {
        let mut writer = MockRecordWriter::new();
        writer
            .expect_find_batch()
            .returning(|_| Ok(Some(stored(2, true))));
        writer.expect_replace_batch().never();
        let mut req = request(vec![new_record(2, "A1")]);
        req.complete = false;
        let result = use_case(writer).execute(req, false).await;
        assert!(matches!(result, Err(ImportBatchError::WouldUnpublish)));
    }

    #[tokio::test]
    async fn a_dry_run_writes_nothing() {
        let mut writer = MockRecordWriter::new();
        writer
            .expect_find_batch()
            .returning(|_| Ok(Some(stored(1, false))));
        writer.expect_publish_batch().never();
        writer.expect_replace_batch().never();
        let outcome = use_case(writer)
            .execute(request(vec![new_record(2, "A1")]), true)
            .await
            .unwrap();
        assert!(matches!(outcome, ImportOutcome::Published { .. }));

        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().returning(|_| Ok(None));
        writer.expect_replace_batch().never();
        let outcome = use_case(writer)
            .execute(request(vec![new_record(2, "A1")]), true)
            .await
            .unwrap();
        assert_eq!(outcome, ImportOutcome::WouldApply { published: true });
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().returning(|_| Ok(None));
        writer
            .expect_replace_batch()
            .returning(|_| Err(PortError::unavailable("down")));
        let result = use_case(writer)
            .execute(request(vec![new_record(2, "A1")]), false)
            .await;
        assert!(matches!(result, Err(ImportBatchError::Unexpected(_))));
    }
}
