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

use std::fmt;
use std::sync::Arc;

pub use super::batch::{
    ApplyReport, BatchChecker, BatchHeader, BatchProblem, CheckedBatch, ImportBatchRequest,
    InvalidBatch, MAX_BATCH_RECORDS, MAX_REPORTED_PROBLEMS, MIN_AGE_AT_DELIBERATION_YEARS,
    SourceProblem,
};
use time::OffsetDateTime;

use crate::error::PortError;
use crate::issuer::IssuerCode;
use crate::ports::{BatchStaging, Clock, RecordWriter};
use crate::record::{BatchId, NewRecord};

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
    /// The batch's issuer may not export it (unknown, outside its scope, a kind it does
    /// not award, a session before the kind's coverage).
    #[error(transparent)]
    NotAllowed(#[from] crate::issuer::ExportRefusal),
    /// The stored batch of this scope came from another exam office.
    #[error("the stored batch of this scope comes from another exam office ({stored})")]
    ScopeHeldByAnotherOffice { stored: IssuerCode },
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
    /// Who may export what.
    pub issuers: Arc<crate::issuer::IssuerRegistry>,
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
    Run(Box<ImportRun>),
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
        self.issuers.may_export(header.exam_office, &header.scope)?;
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
        Ok(ImportStart::Run(Box::new(ImportRun {
            checker: BatchChecker::new(header, self.clock.now()),
            staging,
            dry_run,
            failed: false,
        })))
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
                run.push_records(&request.records).await?;
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
        if chunk.iter().all(Result::is_ok) {
            let records: Vec<NewRecord> = chunk.into_iter().flatten().collect();
            return self.push_records(&records).await;
        }
        // a line could not be read: the batch is lost, the rest is checked for the report
        for item in chunk {
            match item {
                Ok(record) => {
                    self.checker.check(&record);
                }
                Err(problems) => self.checker.count_unreadable(problems),
            }
        }
        self.stage_while_valid(&[]).await
    }

    /// [`ImportRun::push`] of a chunk whose every line was read as a record: checked and
    /// staged where they lie (the caller keeps them, to free or reuse where it likes).
    ///
    /// # Errors
    /// As [`ImportRun::push`].
    pub async fn push_records(&mut self, records: &[NewRecord]) -> Result<(), ImportBatchError> {
        for record in records {
            self.checker.check(record);
        }
        self.stage_while_valid(records).await
    }

    /// Stages `records` if the batch has no problem so far (then each of them passed its
    /// checks); at the first problem, discards the staging for good.
    async fn stage_while_valid(&mut self, records: &[NewRecord]) -> Result<(), ImportBatchError> {
        if self.checker.problem_count() > 0 && !self.failed {
            // The batch is lost anyway: stop writing, keep checking for the report.
            self.failed = true;
            if let Some(mut staging) = self.staging.take() {
                staging.abort().await?;
            }
        }
        if let Some(staging) = self.staging.as_mut()
            && !records.is_empty()
            && let Err(e) = staging.stage(records).await
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
