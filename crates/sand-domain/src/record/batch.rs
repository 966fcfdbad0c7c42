//! A batch of records as an exam office sends it, and its checks: the header, the
//! problems a batch can have, the checker that finds them record by record, and the
//! proof ([`CheckedBatch`]) that a batch passed them. Model and pure rules: the import
//! use case ([`super::import`]) and the storage ports build on it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

use time::{Duration, OffsetDateTime};

use crate::diploma::DiplomaScope;
use crate::issuer::IssuerCode;
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
    pub exam_office: IssuerCode,
    pub scope: DiplomaScope,
    pub source_system: SourceSystem,
    pub exported_at: OffsetDateTime,
    /// Declared by the exam office: every group of tests is known.
    pub complete: bool,
    /// Number of records the manifest announces.
    pub declared_record_count: u64,
    /// SHA-256 of the data file.
    pub fingerprint: BatchFingerprint,
    /// Who signed the manifest, when it was signed (the import adapter checked the
    /// signature against the issuer's registered keys before the batch came here).
    pub signature: Option<BatchSignature>,
}

/// A batch's detached signature: the Ed25519 signature of its manifest (which holds the
/// data file's SHA-256) by one of its issuer's registered keys. Kept with the batch, so
/// that anyone can show which key vouched for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchSignature {
    /// The key's id: 16 hexadecimal digits (the first 8 bytes of the SHA-256 of the key).
    pub key_id: String,
    /// The 64-byte signature, in hexadecimal.
    pub signature: String,
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
    /// How many candidate numbers the checker remembers (bounded by the batch limit).
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// Starts checking a batch whose header says `header`, at time `now`.
    #[must_use]
    pub fn new(header: BatchHeader, now: OffsetDateTime) -> Self {
        // room for the declared count at once (bounded by the batch limit): no rehashing
        // of a large table as it grows
        let expected = header.declared_record_count.min(MAX_BATCH_RECORDS);
        let mut checker = Self {
            listed: Vec::new(),
            total: 0,
            seen: HashMap::with_capacity(usize::try_from(expected).unwrap_or(0)),
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
