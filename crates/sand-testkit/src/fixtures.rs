//! Domain values and test doubles shared by the adapters' test suites (persistence,
//! web): one way to write an identity, a record, a batch, a clock a test moves, and to
//! apply a batch through a real [`RecordWriter`]'s staging. Each suite keeps its own
//! cast (names, sessions): these are the building blocks.
//!
//! Fixtures are literals the tests write: a malformed one is a broken test, so these
//! functions panic on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use sand_domain::PortError;
use sand_domain::academie::Academie;
use sand_domain::diploma::DiplomaScope;
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity};
use sand_domain::issuer::IssuerCode;
use sand_domain::ports::{Clock, RecordWriter};
use sand_domain::record::batch::{ApplyReport, BatchHeader, ImportBatchRequest};
use sand_domain::record::{BatchFingerprint, NewRecord, SourceSystem};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

/// The day the tests live in.
pub const TODAY: Date = date!(2026 - 11 - 24);
/// The instant the tests live at.
pub const NOW: OffsetDateTime = datetime!(2026-11-24 10:00 UTC);

/// An identity at exam time: birth name, first names in civil-status order, ISO birth
/// date (no place of birth).
#[must_use]
pub fn identity(birth_name: &str, first_names: &[&str], birth_date: &str) -> Identity {
    Identity {
        birth_name: BirthName::parse(birth_name).unwrap(),
        first_names: FirstNames::parse(first_names).unwrap(),
        birth_date: BirthDate::parse_iso(birth_date, TODAY).unwrap(),
        birth_place: None,
        birth_place_code: None,
    }
}

/// The batch of `records` for `scope`, sent by the académie of Lyon's exam office (its
/// OCEAN export at `exported_at`), `complete` or not, with a fingerprint of the given
/// byte (a new byte: another batch; the same: a re-import).
#[must_use]
pub fn batch_request(
    scope: DiplomaScope,
    records: Vec<NewRecord>,
    exported_at: OffsetDateTime,
    complete: bool,
    fingerprint: u8,
) -> ImportBatchRequest {
    ImportBatchRequest {
        header: BatchHeader {
            exam_office: IssuerCode::of_academie(Academie::Lyon),
            scope,
            source_system: SourceSystem::Ocean,
            exported_at,
            complete,
            declared_record_count: records.len() as u64,
            fingerprint: BatchFingerprint([fingerprint; 32]),
            signature: None,
        },
        records,
    }
}

/// Applies a whole checked batch through a writer's staging, in two chunks, as the
/// importer does.
#[allow(async_fn_in_trait)]
pub trait ApplyBatch {
    /// # Errors
    /// The store's failure.
    async fn replace_batch(&self, request: &ImportBatchRequest) -> Result<ApplyReport, PortError>;
}

impl<W: RecordWriter> ApplyBatch for W {
    async fn replace_batch(&self, request: &ImportBatchRequest) -> Result<ApplyReport, PortError> {
        let checked = request.check(NOW).expect("a valid test batch");
        let mut staging = self.begin(&request.header).await?;
        let (first, rest) = request.records.split_at(request.records.len() / 2);
        staging.stage(first).await?;
        staging.stage(rest).await?;
        staging.commit(&checked).await
    }
}

/// A clock that stands still until the test moves it; it starts at [`NOW`].
#[derive(Debug)]
pub struct TestClock(Mutex<OffsetDateTime>);

impl Default for TestClock {
    fn default() -> Self {
        Self(Mutex::new(NOW))
    }
}

impl TestClock {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}
