use super::*;
use crate::academie::Academie;
use crate::diploma::DiplomaScope;
use crate::diploma::{DiplomaKind, Session};
use crate::ports::{MockBatchStaging, MockRecordWriter};
use crate::record::{
    Award, BatchFingerprint, CandidateNumber, ImportBatch as StoredBatch, RecordHolder,
    SourceSystem,
};
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

fn header(count: u64) -> BatchHeader {
    BatchHeader {
        exam_office: IssuerCode::of_academie(Academie::Lyon),
        scope: scope(),
        source_system: SourceSystem::Ocean,
        exported_at: datetime!(2019-07-20 08:00 UTC),
        complete: true,
        declared_record_count: count,
        fingerprint: BatchFingerprint([1; 32]),
        signature: None,
    }
}

fn request(records: Vec<NewRecord>) -> ImportBatchRequest {
    ImportBatchRequest {
        header: header(records.len() as u64),
        records,
    }
}

fn stored(fingerprint: u8, complete: bool) -> StoredBatch {
    StoredBatch {
        id: BatchId(uuid::Uuid::from_u128(0x3000)),
        exam_office: IssuerCode::of_academie(Academie::Lyon),
        scope: scope(),
        source_system: SourceSystem::Ocean,
        exported_at: datetime!(2019-07-10 08:00 UTC),
        imported_at: datetime!(2019-07-11 08:00 UTC),
        complete,
        record_count: 2,
        fingerprint: BatchFingerprint([fingerprint; 32]),
        signature: None,
    }
}

fn use_case(writer: MockRecordWriter) -> ImportRecords {
    ImportRecords {
        writer: Arc::new(writer),
        clock: Arc::new(clock()),
        issuers: Arc::new(crate::issuer::IssuerRegistry::offices_only()),
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

/// A writer with no stored batch whose staging expects `staged` records then a commit.
fn fresh_writer(staged: usize, report: ApplyReport) -> MockRecordWriter {
    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| Ok(None));
    writer.expect_begin().times(1).returning(move |_| {
        let mut staging = MockBatchStaging::new();
        staging
            .expect_stage()
            .withf(move |records| records.len() == staged)
            .times(1)
            .returning(|_| Ok(()));
        staging
            .expect_commit()
            .withf(move |checked| checked.records() == staged as u64)
            .times(1)
            .returning(move |_| Ok(report));
        staging.expect_abort().never();
        Ok(Box::new(staging))
    });
    writer
}

/// A writer whose staging must be aborted, never committed.
fn aborting_writer() -> MockRecordWriter {
    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| Ok(None));
    writer.expect_begin().times(1).returning(|_| {
        let mut staging = MockBatchStaging::new();
        staging.expect_stage().returning(|_| Ok(()));
        staging.expect_commit().never();
        staging.expect_abort().times(1).returning(|| Ok(()));
        Ok(Box::new(staging))
    });
    writer
}

#[tokio::test]
async fn a_new_batch_is_staged_and_committed() {
    let outcome = use_case(fresh_writer(2, report()))
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
async fn every_problem_is_reported_with_its_line_and_nothing_is_committed() {
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
    req.header.declared_record_count = 9;
    let Err(ImportBatchError::Invalid(invalid)) =
        use_case(aborting_writer()).execute(req, false).await
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

#[tokio::test]
async fn unreadable_lines_are_counted_reported_and_stop_staging() {
    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| Ok(None));
    writer.expect_begin().times(1).returning(|_| {
        let mut staging = MockBatchStaging::new();
        // the first chunk is clean and staged; after the bad line nothing is staged
        staging.expect_stage().times(1).returning(|_| Ok(()));
        staging.expect_abort().times(1).returning(|| Ok(()));
        staging.expect_commit().never();
        Ok(Box::new(staging))
    });
    let ImportStart::Run(mut run) = use_case(writer).start(header(3), false).await.unwrap() else {
        panic!("expected a run")
    };
    run.push(vec![Ok(new_record(2, "A1"))]).await.unwrap();
    let bad = BatchProblem::Source(SourceProblem {
        line: 3,
        column: Some("date_naissance".into()),
        reason: "not a date".into(),
    });
    run.push(vec![Err(vec![bad.clone()]), Ok(new_record(4, "A3"))])
        .await
        .unwrap();
    assert_eq!(run.problem_count(), 1);
    let Err(ImportBatchError::Invalid(invalid)) = run.finish().await else {
        panic!("expected an invalid batch")
    };
    // 3 lines counted (the bad one included): no count mismatch on top
    assert_eq!(invalid.problems, vec![bad]);
    assert!(
        invalid
            .to_string()
            .contains("line 3, column date_naissance: not a date")
    );
}

#[test]
fn batch_level_problems_are_reported() {
    let mut req = request(vec![]);
    req.header.exported_at = datetime!(2030-01-01 00:00 UTC);
    let invalid = req.check(NOW).unwrap_err();
    assert_eq!(
        invalid.problems,
        vec![
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
    let invalid = request(records).check(NOW).unwrap_err();
    assert_eq!(invalid.total, 249);
    assert_eq!(invalid.problems.len(), MAX_REPORTED_PROBLEMS);
    assert!(invalid.to_string().contains("and 149 more"));
}

#[test]
fn a_duplicate_names_the_first_line_of_its_candidate_number() {
    let records = vec![
        new_record(2, "A1"),
        new_record(3, "B2"),
        new_record(4, "A1"),
        new_record(5, "A1"),
    ];
    let invalid = request(records).check(NOW).unwrap_err();
    assert_eq!(
        invalid.problems,
        vec![
            BatchProblem::DuplicateCandidate {
                line: 4,
                first_line: 2,
                candidate: "A1".into()
            },
            BatchProblem::DuplicateCandidate {
                line: 5,
                first_line: 2,
                candidate: "A1".into()
            },
        ]
    );
}

#[test]
fn a_batch_announcing_more_than_the_limit_is_refused_at_once() {
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.declared_record_count = MAX_BATCH_RECORDS + 1;
    let invalid = req.check(NOW).unwrap_err();
    assert_eq!(
        invalid.problems[0],
        BatchProblem::TooManyRecords {
            max: MAX_BATCH_RECORDS
        }
    );
}

#[test]
fn records_beyond_the_limit_are_refused_once_and_no_longer_remembered() {
    let mut checker = BatchChecker::new(header(5), NOW).with_max_records(3);
    for i in 0..5 {
        checker.check(&new_record(i + 2, &format!("C{i}")));
    }
    // a duplicate beyond the limit is not tracked: memory stays bounded
    checker.check(&new_record(7, "C0"));
    assert_eq!(checker.remembered(), 3);
    let invalid = checker.finish().unwrap_err();
    assert_eq!(
        invalid.problems,
        vec![
            BatchProblem::TooManyRecords { max: 3 },
            BatchProblem::CountMismatch {
                declared: 5,
                actual: 6
            },
        ]
    );
}

#[test]
fn the_siec_may_export_paris_creteil_versailles_batches() {
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.exam_office = IssuerCode::SIEC;
    req.header.scope.academie = Academie::Creteil;
    req.records[0].scope.academie = Academie::Creteil;
    assert_eq!(req.check(NOW).map(|c| c.records()), Ok(1));
}

#[tokio::test]
async fn the_same_batch_twice_changes_nothing() {
    let mut writer = MockRecordWriter::new();
    writer
        .expect_find_batch()
        .returning(|_| Ok(Some(stored(1, true))));
    writer.expect_begin().never();
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
    writer.expect_begin().never();
    let outcome = use_case(writer)
        .execute(request(vec![new_record(2, "A1")]), false)
        .await
        .unwrap();
    assert!(matches!(outcome, ImportOutcome::Published { .. }));
}

/// A writer whose stored batch is `stored` (if any) and whose staging commits `report`
/// after checking the header with `header_ok`.
fn writer_with(
    stored_batch: Option<StoredBatch>,
    report: ApplyReport,
    header_ok: fn(&BatchHeader) -> bool,
) -> MockRecordWriter {
    let mut writer = MockRecordWriter::new();
    writer
        .expect_find_batch()
        .returning(move |_| Ok(stored_batch.clone()));
    writer
        .expect_begin()
        .withf(header_ok)
        .times(1)
        .returning(move |_| {
            let mut staging = MockBatchStaging::new();
            staging.expect_stage().times(1).returning(|_| Ok(()));
            staging
                .expect_commit()
                .times(1)
                .returning(move |_| Ok(report));
            Ok(Box::new(staging))
        });
    writer
}

#[tokio::test]
async fn an_incomplete_batch_is_stored_unpublished() {
    let writer = writer_with(None, report(), |h| !h.complete);
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.complete = false;
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
    let corrected = ApplyReport {
        updated: 1,
        removed: 1,
        links_withdrawn: 1,
        ..report()
    };
    let writer = writer_with(Some(stored(2, true)), corrected, |_| true);
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
    writer.expect_begin().never();
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.exported_at = datetime!(2019-07-01 08:00 UTC);
    let result = use_case(writer).execute(req, false).await;
    assert!(matches!(
        result,
        Err(ImportBatchError::OlderThanStored { .. })
    ));
}

#[tokio::test]
async fn an_issuer_exports_only_its_own_scope_and_nothing_is_read_otherwise() {
    let untouched = || {
        let mut writer = MockRecordWriter::new();
        writer.expect_find_batch().never();
        writer.expect_begin().never();
        writer
    };
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.exam_office = IssuerCode::SIEC;
    let result = use_case(untouched()).execute(req.clone(), false).await;
    assert!(matches!(
        result,
        Err(ImportBatchError::NotAllowed(
            crate::issuer::ExportRefusal::OutsideScope {
                academie: Academie::Lyon,
                ..
            }
        ))
    ));
    req.header.exam_office = IssuerCode::parse("0691774D").unwrap();
    let result = use_case(untouched()).execute(req, false).await;
    assert!(matches!(
        result,
        Err(ImportBatchError::NotAllowed(
            crate::issuer::ExportRefusal::UnknownIssuer(_)
        ))
    ));
}

#[tokio::test]
async fn another_office_cannot_replace_a_scope() {
    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| {
        let mut s = stored(2, true);
        s.exam_office = IssuerCode::SIEC;
        Ok(Some(s))
    });
    writer.expect_begin().never();
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.scope = DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2019).unwrap(),
        academie: Academie::Paris,
    };
    req.header.exam_office = IssuerCode::of_academie(Academie::Paris);
    req.records[0].scope = req.header.scope;
    let result = use_case(writer).execute(req, false).await;
    assert!(matches!(
        result,
        Err(ImportBatchError::ScopeHeldByAnotherOffice {
            stored: IssuerCode::SIEC
        })
    ));
}

#[tokio::test]
async fn a_published_batch_is_not_replaced_by_an_incomplete_one() {
    let mut writer = MockRecordWriter::new();
    writer
        .expect_find_batch()
        .returning(|_| Ok(Some(stored(2, true))));
    writer.expect_begin().never();
    let mut req = request(vec![new_record(2, "A1")]);
    req.header.complete = false;
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
    writer.expect_begin().never();
    let outcome = use_case(writer)
        .execute(request(vec![new_record(2, "A1")]), true)
        .await
        .unwrap();
    assert!(matches!(outcome, ImportOutcome::Published { .. }));

    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| Ok(None));
    writer.expect_begin().never();
    let outcome = use_case(writer)
        .execute(request(vec![new_record(2, "A1")]), true)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        ImportOutcome::WouldApply {
            published: true,
            records: 1
        }
    );
}

#[tokio::test]
async fn a_staging_failure_discards_the_batch() {
    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| Ok(None));
    writer.expect_begin().returning(|_| {
        let mut staging = MockBatchStaging::new();
        staging
            .expect_stage()
            .returning(|_| Err(PortError::unavailable("down")));
        staging.expect_abort().times(1).returning(|| Ok(()));
        staging.expect_commit().never();
        Ok(Box::new(staging))
    });
    let result = use_case(writer)
        .execute(request(vec![new_record(2, "A1")]), false)
        .await;
    assert!(matches!(result, Err(ImportBatchError::Unexpected(_))));
}

#[tokio::test]
async fn a_commit_failure_is_unexpected() {
    let mut writer = MockRecordWriter::new();
    writer.expect_find_batch().returning(|_| Ok(None));
    writer.expect_begin().returning(|_| {
        let mut staging = MockBatchStaging::new();
        staging.expect_stage().returning(|_| Ok(()));
        staging
            .expect_commit()
            .returning(|_| Err(PortError::unavailable("down")));
        Ok(Box::new(staging))
    });
    let result = use_case(writer)
        .execute(request(vec![new_record(2, "A1")]), false)
        .await;
    assert!(matches!(result, Err(ImportBatchError::Unexpected(_))));
}
