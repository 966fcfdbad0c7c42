//! The one-way import: an exam office's batch for one (kind, session, académie) scope
//! is checked as a whole, then applied atomically or not at all.
//!
//! Rules:
//! - a batch with any problem changes nothing; every problem is reported (up to
//!   [`MAX_REPORTED_PROBLEMS`], all counted) with its line;
//! - re-importing the same data (same fingerprint) changes nothing and says so, except
//!   that a batch now declared complete gets published;
//! - a corrected batch for the same scope replaces the previous one (see
//!   [`BatchStaging::commit`]);
//! - a batch not declared complete is stored but not published.
//!
//! Batches stream: [`ImportRecords::start`] checks the header against the stored batch,
//! then [`ImportRun::push`] checks and stages records chunk by chunk, and
//! [`ImportRun::finish`] commits only if nothing was wrong. Memory stays bounded: a chunk
//! of records, plus 16 bytes per record for duplicate detection, and a batch has at most
//! [`MAX_BATCH_RECORDS`] records.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::academie::{ExamOffice, ExamOfficeError};
use crate::diploma::DiplomaScope;
use crate::error::PortError;
use crate::ports::{BatchStaging, Clock, RecordWriter};
use crate::record::{BatchFingerprint, BatchId, NewRecord, SourceSystem};

/// Most problems listed in one report; the total is always counted.
pub const MAX_REPORTED_PROBLEMS: usize = 100;

/// Most records in one batch (one diploma kind, session and académie: the largest
/// académies have about a tenth of this). Bounds the importer's memory.
pub const MAX_BATCH_RECORDS: u64 = 2_000_000;

/// Youngest age at which a diploma can have been awarded (a sanity bound on birth dates).
pub const MIN_AGE_AT_DELIBERATION_YEARS: i64 = 10;

/// What a batch's manifest declares, its data file's fingerprint checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchHeader {
    pub exam_office: ExamOffice,
    pub scope: DiplomaScope,
    pub source_system: SourceSystem,
    pub exported_at: OffsetDateTime,
    /// Declared by the exam office: every group of tests is known.
    pub complete: bool,
    /// Number of records the manifest announces.
    pub declared_record_count: u64,
    /// SHA-256 of the data file.
    pub fingerprint: BatchFingerprint,
}

/// A whole batch in memory (small batches, tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportBatchRequest {
    pub header: BatchHeader,
    pub records: Vec<NewRecord>,
}

/// A problem an adapter found while reading a batch (a cell that does not parse, a
/// line too long, a wrong encoding…), reported with the batch's own problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// 1-based line of the data file; 0 for the manifest or the file as a whole.
    pub line: u64,
    /// The column concerned, if one is.
    pub column: Option<String>,
    /// What is wrong, for a person.
    pub reason: String,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, &self.column) {
            (0, None) => write!(f, "{}", self.reason),
            (0, Some(column)) => write!(f, "{column}: {}", self.reason),
            (line, None) => write!(f, "line {line}: {}", self.reason),
            (line, Some(column)) => write!(f, "line {line}, column {column}: {}", self.reason),
        }
    }
}

/// One problem found in a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchProblem {
    #[error("{0}")]
    Source(SourceProblem),
    #[error("{0}")]
    ExamOffice(ExamOfficeError),
    #[error("the batch has no record")]
    Empty,
    #[error("a batch has at most {max} records")]
    TooManyRecords { max: u64 },
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
    /// The first [`MAX_REPORTED_PROBLEMS`] problems, in the order found.
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
        let listed = self.problems.len() as u64;
        if self.total > listed {
            write!(f, "\n  … and {} more", self.total - listed)?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidBatch {}

/// Proof that a batch passed every check: only [`BatchChecker::finish`] makes one, and a
/// [`BatchStaging`] commits only with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedBatch {
    header: BatchHeader,
    records: u64,
}

impl CheckedBatch {
    #[must_use]
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Number of records checked (and staged).
    #[must_use]
    pub fn records(&self) -> u64 {
        self.records
    }
}

/// Checks a batch record by record: header rules at creation, record rules as they
/// come, counts at the end.
#[derive(Debug)]
pub struct BatchChecker {
    header: BatchHeader,
    listed: Vec<BatchProblem>,
    total: u64,
    /// Line of each candidate number seen, by a 64-bit hash of the number keyed at
    /// random per run (hostile input cannot aim at collisions; an accidental one, about
    /// one chance in ten million for the largest batch, reports a duplicate that is not).
    seen: HashMap<u64, u64>,
    hasher: RandomState,
    records: u64,
    max_records: u64,
}

impl BatchChecker {
    /// Starts checking a batch whose header says `header`, at time `now`.
    #[must_use]
    pub fn new(header: BatchHeader, now: OffsetDateTime) -> Self {
        let mut checker = Self {
            listed: Vec::new(),
            total: 0,
            seen: HashMap::new(),
            hasher: RandomState::new(),
            records: 0,
            max_records: MAX_BATCH_RECORDS,
            header,
        };
        if checker.header.declared_record_count > MAX_BATCH_RECORDS {
            checker.report(BatchProblem::TooManyRecords {
                max: MAX_BATCH_RECORDS,
            });
        }
        if let Err(e) = checker
            .header
            .exam_office
            .check_serves(checker.header.scope.academie)
        {
            checker.report(BatchProblem::ExamOffice(e));
        }
        if checker.header.exported_at > now {
            checker.report(BatchProblem::ExportedInTheFuture {
                exported_at: checker.header.exported_at,
            });
        }
        checker
    }

    /// Lowers the record limit (tests of the limit without two million records).
    #[cfg(test)]
    pub(crate) fn with_max_records(mut self, max: u64) -> Self {
        self.max_records = max;
        self
    }

    /// Records a problem found elsewhere (by the parser).
    pub fn report(&mut self, problem: BatchProblem) {
        self.total += 1;
        if self.listed.len() < MAX_REPORTED_PROBLEMS {
            self.listed.push(problem);
        }
    }

    /// Counts a line that could not be read as a record, with its problems.
    pub fn count_unreadable(&mut self, problems: Vec<BatchProblem>) {
        self.records += 1;
        for problem in problems {
            self.report(problem);
        }
    }

    /// Problems found so far.
    #[must_use]
    pub fn problem_count(&self) -> u64 {
        self.total
    }

    /// Checks one record; returns whether it has no problem of its own.
    pub fn check(&mut self, record: &NewRecord) -> bool {
        let before = self.total;
        self.records += 1;
        let line = record.line;
        let scope = self.header.scope;
        if record.scope != scope {
            self.report(BatchProblem::OutOfScope {
                line,
                expected: scope,
                found: record.scope,
            });
        }
        if self.records == self.max_records + 1 {
            self.report(BatchProblem::TooManyRecords {
                max: self.max_records,
            });
        }
        if self.records <= self.max_records {
            let key = self.hasher.hash_one(record.candidate_number.as_str());
            match self.seen.entry(key) {
                Entry::Occupied(first) => {
                    let first_line = *first.get();
                    self.report(BatchProblem::DuplicateCandidate {
                        line,
                        first_line,
                        candidate: record.candidate_number.as_str().to_owned(),
                    });
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
        }
        let session = scope.session.year();
        let date = record.award.deliberation_date;
        let year = i64::from(date.year());
        if year != i64::from(session) && year != i64::from(session) + 1 {
            self.report(BatchProblem::DeliberationOutsideSession {
                line,
                date,
                session,
            });
        }
        if date > self.header.exported_at.date() {
            self.report(BatchProblem::DeliberationAfterExport { line, date });
        }
        let birth = record.holder.identity.birth_date.date();
        if birth + Duration::days(365 * MIN_AGE_AT_DELIBERATION_YEARS) > date {
            self.report(BatchProblem::HolderTooYoung { line });
        }
        self.total == before
    }

    /// Ends the check.
    ///
    /// # Errors
    /// [`InvalidBatch`] with every problem found.
    pub fn finish(mut self) -> Result<CheckedBatch, InvalidBatch> {
        if self.records == 0 {
            self.report(BatchProblem::Empty);
        }
        if self.records != self.header.declared_record_count {
            self.report(BatchProblem::CountMismatch {
                declared: self.header.declared_record_count,
                actual: self.records,
            });
        }
        if self.total > 0 {
            return Err(InvalidBatch {
                problems: self.listed,
                total: self.total,
            });
        }
        Ok(CheckedBatch {
            header: self.header,
            records: self.records,
        })
    }
}

impl ImportBatchRequest {
    /// Checks a whole in-memory batch.
    ///
    /// # Errors
    /// [`InvalidBatch`] with every problem found.
    pub fn check(&self, now: OffsetDateTime) -> Result<CheckedBatch, InvalidBatch> {
        let mut checker = BatchChecker::new(self.header.clone(), now);
        for record in &self.records {
            checker.check(record);
        }
        checker.finish()
    }
}

/// What [`BatchStaging::commit`] did.
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
    /// Same data, now declared complete: the stored batch was published (or, in a dry
    /// run, would be).
    Published { batch: BatchId },
    /// New or corrected data stored.
    Applied {
        report: ApplyReport,
        published: bool,
    },
    /// Dry run: the batch is valid and would be stored.
    WouldApply { published: bool, records: u64 },
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
pub struct ImportRecords {
    pub writer: Arc<dyn RecordWriter>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for ImportRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImportRecords")
    }
}

/// How [`ImportRecords::start`] went.
#[derive(Debug)]
pub enum ImportStart {
    /// Nothing to read: the outcome is known from the header.
    Done(ImportOutcome),
    /// Records are to be pushed.
    Run(ImportRun),
}

/// A batch being imported: push records, then finish.
pub struct ImportRun {
    checker: BatchChecker,
    /// `None` in a dry run; set to `None` too once a problem is found (nothing more is
    /// staged: the rest is only checked).
    staging: Option<Box<dyn BatchStaging>>,
    dry_run: bool,
    failed: bool,
}

impl fmt::Debug for ImportRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportRun")
            .field("checker", &self.checker)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl ImportRecords {
    /// Checks the header against the stored batch of its scope and opens the staging.
    /// `dry_run` writes nothing at all.
    ///
    /// # Errors
    /// [`ImportBatchError`]; nothing was written.
    pub async fn start(
        &self,
        header: BatchHeader,
        dry_run: bool,
    ) -> Result<ImportStart, ImportBatchError> {
        if let Some(stored) = self.writer.find_batch(&header.scope).await? {
            if stored.exam_office != header.exam_office {
                return Err(ImportBatchError::ScopeHeldByAnotherOffice {
                    stored: stored.exam_office,
                });
            }
            if stored.fingerprint == header.fingerprint {
                if header.complete && !stored.complete {
                    if !dry_run {
                        self.writer.publish_batch(stored.id).await?;
                    }
                    return Ok(ImportStart::Done(ImportOutcome::Published {
                        batch: stored.id,
                    }));
                }
                return Ok(ImportStart::Done(ImportOutcome::Unchanged {
                    batch: stored.id,
                    published: stored.complete,
                }));
            }
            if header.exported_at < stored.exported_at {
                return Err(ImportBatchError::OlderThanStored {
                    stored_export: stored.exported_at,
                });
            }
            if stored.complete && !header.complete {
                return Err(ImportBatchError::WouldUnpublish);
            }
        }
        let staging = if dry_run {
            None
        } else {
            Some(self.writer.begin(&header).await?)
        };
        Ok(ImportStart::Run(ImportRun {
            checker: BatchChecker::new(header, self.clock.now()),
            staging,
            dry_run,
            failed: false,
        }))
    }

    /// Imports a whole in-memory batch.
    ///
    /// # Errors
    /// [`ImportBatchError`]; on any error nothing was written.
    pub async fn execute(
        &self,
        request: ImportBatchRequest,
        dry_run: bool,
    ) -> Result<ImportOutcome, ImportBatchError> {
        match self.start(request.header, dry_run).await? {
            ImportStart::Done(outcome) => Ok(outcome),
            ImportStart::Run(mut run) => {
                run.push(request.records.into_iter().map(Ok).collect())
                    .await?;
                run.finish().await
            }
        }
    }
}

impl ImportRun {
    /// Checks a chunk of records (or the problems of each line that could not be read) and
    /// stages the records while the batch has no problem.
    ///
    /// # Errors
    /// [`ImportBatchError::Unexpected`] when staging fails (the staging is discarded).
    pub async fn push(
        &mut self,
        chunk: Vec<Result<NewRecord, Vec<BatchProblem>>>,
    ) -> Result<(), ImportBatchError> {
        let mut good = Vec::with_capacity(chunk.len());
        for item in chunk {
            match item {
                Ok(record) => {
                    if self.checker.check(&record) {
                        good.push(record);
                    }
                }
                Err(problems) => self.checker.count_unreadable(problems),
            }
        }
        if self.checker.problem_count() > 0 && !self.failed {
            // The batch is lost anyway: stop writing, keep checking for the report.
            self.failed = true;
            if let Some(mut staging) = self.staging.take() {
                staging.abort().await?;
            }
        }
        if let Some(staging) = self.staging.as_mut()
            && !good.is_empty()
            && let Err(e) = staging.stage(&good).await
        {
            if let Some(mut staging) = self.staging.take() {
                let _ = staging.abort().await;
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// Problems found so far (for progress displays).
    #[must_use]
    pub fn problem_count(&self) -> u64 {
        self.checker.problem_count()
    }

    /// Ends the import: commits if the batch is valid, discards everything otherwise.
    ///
    /// # Errors
    /// [`ImportBatchError::Invalid`] with every problem, or
    /// [`ImportBatchError::Unexpected`]; in both cases nothing was written.
    pub async fn finish(mut self) -> Result<ImportOutcome, ImportBatchError> {
        let checked = match self.checker.finish() {
            Ok(checked) => checked,
            Err(invalid) => {
                if let Some(mut staging) = self.staging.take() {
                    staging.abort().await?;
                }
                return Err(invalid.into());
            }
        };
        let published = checked.header().complete;
        match self.staging.as_mut() {
            None => Ok(ImportOutcome::WouldApply {
                published,
                records: checked.records(),
            }),
            Some(staging) => {
                let report = staging.commit(&checked).await?;
                Ok(ImportOutcome::Applied { report, published })
            }
        }
    }
}

#[cfg(test)]
mod tests;
