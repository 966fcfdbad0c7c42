//! Timing of a refused verification: `just bench-verify-timing`.
//!
//! An unknown key and a live key with a wrong name must take the same time (otherwise
//! the answer's delay tells a live key from a dead one). This runs the verification use
//! case over the real store, interleaving the two cases (`SAND_TIMING_PAIRS` pairs,
//! 3 000 by default, the order alternating), and prints both medians side by side, on
//! SQLite and, when `SAND_TEST_POSTGRES_URL` is set, on PostgreSQL. No assertion on
//! times: the figures are for a person to read (docs/benchmarks.md).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sand_domain::academie::Academie;
use sand_domain::control_key::ControlKey;
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity};
use sand_domain::issuer::IssuerCode;
use sand_domain::link::NewLink;
use sand_domain::ports::{Clock, LinkRepository, ProfileRepository, RecordReader, RecordWriter};
use sand_domain::profile::{NewCredentials, NewProfile};
use sand_domain::record::import::{BatchHeader, ImportBatchRequest};
use sand_domain::record::{
    Award, BatchFingerprint, CandidateNumber, NewRecord, RecordHolder, SourceSystem,
};
use sand_domain::verification::{VerifyAttestation, VerifyOutcome, VerifyRequest};
use sand_http::system::SystemClock;
use sand_persistence::keys::KeyProtector;
use sand_persistence::{DatabaseRoles, Store, StoreSettings};
use sea_orm::{ConnectionTrait, Database};

const SECRET: &[u8] = b"timing-benchmark-secret-of-more-than-32-bytes";

fn identity() -> Identity {
    Identity {
        birth_name: BirthName::parse("Durand").unwrap(),
        first_names: FirstNames::parse_text("Camille Marie").unwrap(),
        birth_date: BirthDate::parse_iso("2003-04-12", SystemClock.now().date()).unwrap(),
        birth_place: None,
        birth_place_code: None,
    }
}

fn scope() -> DiplomaScope {
    DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    }
}

/// One published record, its holder's profile and a live key.
async fn set_up(store: &Store) -> ControlKey {
    store.migrate(&DatabaseRoles::default()).await.unwrap();
    let records = vec![NewRecord {
        line: 2,
        candidate_number: CandidateNumber::parse("C0001").unwrap(),
        scope: scope(),
        holder: RecordHolder {
            civility: None,
            identity: identity(),
            usage_name: None,
            ine: None,
        },
        award: Award {
            speciality: None,
            mention: None,
            deliberation_date: time::macros::date!(2021 - 07 - 06),
        },
    }];
    let request = ImportBatchRequest {
        header: BatchHeader {
            exam_office: IssuerCode::of_academie(Academie::Lyon),
            scope: scope(),
            source_system: SourceSystem::Ocean,
            exported_at: time::macros::datetime!(2021-07-20 08:00 UTC),
            complete: true,
            declared_record_count: 1,
            fingerprint: BatchFingerprint([7; 32]),
            signature: None,
        },
        records,
    };
    let checked = request.check(SystemClock.now()).unwrap();
    let writer = store.record_writer();
    let mut staging = writer.begin(&request.header).await.unwrap();
    staging.stage(&request.records).await.unwrap();
    staging.commit(&checked).await.unwrap();
    let record = store
        .record_reader()
        .find_candidates(&scope(), &identity().key())
        .await
        .unwrap()
        .remove(0);
    let profile = store
        .profiles()
        .create(NewProfile {
            identity: identity(),
            email: Email::parse("camille@exemple.fr").unwrap(),
            email_verified: true,
            credentials: NewCredentials::Password(PasswordHash::new(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".to_owned(),
            )),
            identity_certified: false,
            birth_date_presumed: false,
            created_at: SystemClock.now(),
        })
        .await
        .unwrap();
    let key = ControlKey::parse("7K3M9QXR").unwrap();
    store
        .links()
        .create(NewLink {
            profile: profile.id,
            record: record.id,
            key,
            created_at: SystemClock.now(),
        })
        .await
        .unwrap();
    key
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

async fn measure(backend: &str, store: &Store, pairs: usize) {
    let live = set_up(store).await;
    let verify = VerifyAttestation {
        lookup: Arc::new(store.verification_lookup()),
        log: Arc::new(store.verification_log()),
        mailer: Arc::new(store.mailer()),
        tokens: Arc::new(sand_http::tokens::Signer::new(&[7; 32])),
        clock: Arc::new(SystemClock),
    };
    let request = |key: &str| VerifyRequest {
        key: key.to_owned(),
        holder_name: "Martin".to_owned(),
        organisation: String::new(),
        birth_date: None,
        birth_date_required: false,
    };
    let once = |key: String| {
        let verify = &verify;
        async move {
            let started = Instant::now();
            let outcome = verify.execute(request(&key)).await.unwrap();
            assert_eq!(outcome, VerifyOutcome::NotValid);
            started.elapsed()
        }
    };
    // warm the caches and the pool
    for _ in 0..200 {
        once(live.as_str().to_owned()).await;
        once("ZZZZ9999".to_owned()).await;
    }
    let (mut wrong_name, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..pairs {
        if i % 2 == 0 {
            wrong_name.push(once(live.as_str().to_owned()).await);
            unknown.push(once("ZZZZ9999".to_owned()).await);
        } else {
            unknown.push(once("ZZZZ9999".to_owned()).await);
            wrong_name.push(once(live.as_str().to_owned()).await);
        }
    }
    let (a, b) = (median(wrong_name), median(unknown));
    println!(
        "{backend:<11} {pairs:>6} pairs   live key, wrong name: median {:>7.1} µs   unknown key: median {:>7.1} µs   ratio {:.2}",
        a.as_secs_f64() * 1e6,
        b.as_secs_f64() * 1e6,
        a.as_secs_f64() / b.as_secs_f64()
    );
}

fn main() {
    let pairs = std::env::var("SAND_TIMING_PAIRS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!("Refused verifications through the use case and the real store (no HTTP):");
        let dir = std::env::temp_dir().join(format!("sand-bench-timing-{}", std::process::id()));
        let url = format!("sqlite://{}", dir.join("sand.db").display());
        let store = Store::connect(
            &StoreSettings::new(&url),
            KeyProtector::from_secret(SECRET).unwrap(),
        )
        .await
        .unwrap();
        measure("SQLite", &store, pairs).await;
        let _ = std::fs::remove_dir_all(&dir);

        if let Ok(admin) = std::env::var("SAND_TEST_POSTGRES_URL") {
            let database = format!("sand_bench_timing_{}", std::process::id());
            let server = Database::connect(&admin).await.unwrap();
            server
                .execute_unprepared(&format!("CREATE DATABASE {database}"))
                .await
                .unwrap();
            let (base, _) = admin.rsplit_once('/').unwrap();
            let store = Store::connect(
                &StoreSettings::new(format!("{base}/{database}")),
                KeyProtector::from_secret(SECRET).unwrap(),
            )
            .await
            .unwrap();
            measure("PostgreSQL", &store, pairs).await;
            drop(store);
            server
                .execute_unprepared(&format!("DROP DATABASE {database} WITH (FORCE)"))
                .await
                .unwrap();
        } else {
            println!("(SAND_TEST_POSTGRES_URL unset: PostgreSQL not measured)");
        }
    });
}
