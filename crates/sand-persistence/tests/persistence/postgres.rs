//! What only PostgreSQL can prove: the web role cannot write records, hot paths use
//! indexes on 100 000 records, and concurrent writers keep the invariants.

use std::sync::Arc;

use sand_domain::control_key::ControlKey;
use sand_domain::link::attach::{
    AttachDiploma, AttachDiplomaError, AttachDiplomaRequest, AttachOutcome,
};
use sand_domain::ports::{KeyGenerator, LinkRepository, ProfileRepository};
use sand_persistence::{HotPathSample, KeyProtector, RecordWriteAccess, Store, StoreSettings};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::fixtures::*;
use crate::support::{TestStore, protector};

fn stmt(sql: &str) -> Statement {
    Statement::from_string(DbBackend::Postgres, sql.to_owned())
}

/// Connects to the test's database as a new login user that is a member of `group`.
async fn connect_as_member_of(db: &mut TestStore, group: &str) -> Store {
    let user = format!("{group}_login");
    db.store
        .connection()
        .execute_raw(stmt(&format!("CREATE ROLE {user} LOGIN IN ROLE {group}")))
        .await
        .unwrap();
    db.drop_role_afterwards(&user);
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let (_, host_and_database) = rest.split_once('@').unwrap();
    let url = format!("{scheme}://{user}@{host_and_database}");
    Store::connect(&StoreSettings::new(url), protector())
        .await
        .unwrap()
}

fn permission_denied(result: Result<sea_orm::ExecResult, sea_orm::DbErr>) -> bool {
    match result {
        Ok(_) => false,
        Err(e) => e.to_string().contains("permission denied"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_role_cannot_write_records() {
    let mut db = TestStore::postgres().await;
    import_records(&db, 3).await;
    let web_role = db.roles.web.clone();
    let web = connect_as_member_of(&mut db, &web_role).await;
    let conn = web.connection();

    // it reads records
    let rows = conn
        .query_all_raw(stmt("SELECT id FROM diploma_record"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    // it cannot write them, in any way
    for sql in [
        "INSERT INTO import_batch (id, exam_office, diploma_kind, session, academie, source_system, exported_at, imported_at, complete, record_count, fingerprint) \
         VALUES (gen_random_uuid(), '10', 'BTS', 2022, '10', 'OCEAN', now(), now(), true, 0, repeat('0', 64))",
        "INSERT INTO diploma_record SELECT gen_random_uuid(), batch_id, diploma_kind, session, academie, exam_office, 'X' || candidate_number, civility, birth_name, birth_name_key, first_names, birth_date, birth_place, usage_name, ine, speciality, mention, deliberation_date, content_hash, withdrawn_at FROM diploma_record LIMIT 1",
        "UPDATE diploma_record SET birth_name = 'Forgé'",
        "UPDATE import_batch SET complete = true",
        "UPDATE catalogue_revision SET revision = 0",
        "DELETE FROM diploma_record",
        "TRUNCATE diploma_record CASCADE",
    ] {
        assert!(
            permission_denied(conn.execute_raw(stmt(sql)).await),
            "the web role could run: {sql}"
        );
    }
    assert_eq!(
        web.record_write_access().await.unwrap(),
        RecordWriteAccess::Denied
    );
    // it does write profiles (its own job)
    web.profiles()
        .create(password_profile("web@exemple.fr", zoe()))
        .await
        .unwrap();

    // the importer may write records; the administrator (test superuser) may too
    let importer_role = db.roles.importer.clone();
    let importer = connect_as_member_of(&mut db, &importer_role).await;
    assert!(matches!(
        importer.record_write_access().await.unwrap(),
        RecordWriteAccess::Granted(_)
    ));
    // its batches move the catalogue's revision (the trigger runs as the importer)
    importer
        .connection()
        .execute_raw(stmt(
            "INSERT INTO import_batch VALUES (gen_random_uuid(), '01', 'BACG', 2022, '01', 'OCEAN', now(), now(), true, 0, repeat('0', 64))",
        ))
        .await
        .expect("the importer writes a batch, and so moves the catalogue's revision");
    let RecordWriteAccess::Granted(grants) = db.store.record_write_access().await.unwrap() else {
        panic!("the owner can write records")
    };
    assert!(grants.contains(&"diploma_record: INSERT".to_owned()));
}

/// Inserts `n` published records (and as many profiles' links as asked) set-based.
async fn import_records(db: &TestStore, n: i64) -> Uuid {
    let batch = Uuid::new_v4();
    let conn = db.store.connection();
    conn.execute_raw(stmt(&format!(
        "INSERT INTO import_batch VALUES ('{batch}', '10', 'BACG', 2022, '10', 'OCEAN', now(), now(), true, {n}, repeat('0', 64))"
    )))
    .await
    .unwrap();
    conn.execute_raw(stmt(&format!(
        "INSERT INTO diploma_record \
         SELECT gen_random_uuid(), '{batch}', 'BACG', 2022, '10', '10', 'C' || i, NULL, \
                'Nom' || translate(i::text, '0123456789', 'abcdefghij'), \
                'NOM' || translate(i::text, '0123456789', 'ABCDEFGHIJ'), 'Prénom', DATE '2000-01-01' + (i % 3000), NULL, NULL, NULL, NULL, NULL, \
                DATE '2022-07-05', md5(i::text) || md5(i::text), NULL \
         FROM generate_series(1, {n}) AS i"
    )))
    .await
    .unwrap();
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_paths_use_indexes_on_100_000_records() {
    let db = TestStore::postgres().await;
    let conn = db.store.connection();
    let batch = import_records(&db, 100_000).await;
    // other scopes, so that the scope columns are selective too
    conn.execute_raw(stmt(
        "INSERT INTO import_batch \
         SELECT gen_random_uuid(), lpad((i % 50)::text, 2, '0'), 'BTS', 2009 + i / 50, lpad((i % 50)::text, 2, '0'), 'OCEAN', now(), now(), true, 0, repeat('0', 64) \
         FROM generate_series(0, 4999) AS i",
    ))
    .await
    .unwrap();
    // 1 000 profiles holding 100 000 links with their verifications
    conn.execute_raw(stmt(
        "INSERT INTO profile (id, email, email_verified, birth_name, first_names, birth_date, identity_certified, birth_date_presumed, notify_on_verification, created_at) \
         SELECT gen_random_uuid(), 'p' || i || '@exemple.fr', true, 'Nom', 'Prénom', DATE '2000-01-01', false, false, false, now() FROM generate_series(1, 1000) AS i",
    ))
    .await
    .unwrap();
    conn.execute_raw(stmt(
        "WITH p AS (SELECT id, row_number() OVER () AS n FROM profile), \
              r AS (SELECT id, row_number() OVER () AS n FROM diploma_record) \
         INSERT INTO link SELECT gen_random_uuid(), p.id, r.id, sha256(r.id::text::bytea), '\\x00'::bytea, now(), now(), NULL \
         FROM r JOIN p ON p.n = (r.n % 1000) + 1",
    ))
    .await
    .unwrap();
    conn.execute_raw(stmt(
        "INSERT INTO verification_event SELECT gen_random_uuid(), id, now(), NULL FROM link",
    ))
    .await
    .unwrap();
    conn.execute_raw(stmt("ANALYZE")).await.unwrap();
    let counts = conn
        .query_one_raw(stmt(
            "SELECT (SELECT COUNT(*) FROM diploma_record), (SELECT COUNT(*) FROM link)",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(counts.try_get_by_index::<i64>(0).unwrap(), 100_000);
    assert_eq!(counts.try_get_by_index::<i64>(1).unwrap(), 100_000);

    let some_profile: Uuid = conn
        .query_one_raw(stmt("SELECT id FROM profile LIMIT 1"))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let some_link: Uuid = conn
        .query_one_raw(stmt("SELECT id FROM link LIMIT 1"))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    let mut scope = scope();
    scope.session = sand_domain::diploma::Session::new(2022).unwrap();
    let sample = HotPathSample {
        scope,
        identity: identity("Nomeceb", &["Prénom"], "2001-03-01").key(),
        batch,
        key: ControlKey::parse("AAAA0000").unwrap(),
        profile: some_profile,
        link: some_link,
    };
    for (name, sql) in db.store.hot_path_queries(&sample) {
        let plan: Vec<String> = conn
            .query_all_raw(stmt(&format!("EXPLAIN {sql}")))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).unwrap())
            .collect();
        let plan = plan.join("\n");
        assert!(
            !plan.contains("Seq Scan"),
            "{name} scans a table:\n{sql}\n{plan}"
        );
        assert!(plan.contains("Index"), "{name} uses no index:\n{plan}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_simultaneous_attaches_of_one_record_end_with_one_link() {
    let db = TestStore::postgres().await;
    import_records(&db, 1).await;
    // the record: Nomb, Prénom, 2000-01-02 (see import_records: 1 → "b")
    let holder = identity("Nomb", &["Prénom"], "2000-01-02");
    let mut scope = scope();
    scope.session = sand_domain::diploma::Session::new(2022).unwrap();
    for round in 0..10 {
        let a = db
            .store
            .profiles()
            .create(password_profile(
                &format!("a{round}@exemple.fr"),
                holder.clone(),
            ))
            .await
            .unwrap();
        let b = db
            .store
            .profiles()
            .create(password_profile(
                &format!("b{round}@exemple.fr"),
                holder.clone(),
            ))
            .await
            .unwrap();
        let attach = attach_use_case(&db, Arc::new(RandomKeys));
        let (ra, rb) = tokio::join!(
            tokio::spawn({
                let attach = attach.clone();
                async move {
                    attach
                        .execute(AttachDiplomaRequest {
                            profile: a.id,
                            scope,
                        })
                        .await
                }
            }),
            tokio::spawn({
                let attach = attach.clone();
                async move {
                    attach
                        .execute(AttachDiplomaRequest {
                            profile: b.id,
                            scope,
                        })
                        .await
                }
            }),
        );
        let outcomes = [ra.unwrap().unwrap(), rb.unwrap().unwrap()];
        let attached = outcomes
            .iter()
            .filter(|o| matches!(o, AttachOutcome::Attached { .. }))
            .count();
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, AttachOutcome::AttachedToAnotherProfile { .. }))
            .count();
        assert_eq!((attached, refused), (1, 1), "round {round}: {outcomes:?}");
        let links: i64 = db
            .store
            .connection()
            .query_one_raw(stmt("SELECT COUNT(*) FROM link"))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(links, 1);
        // free the record for the next round
        db.store
            .connection()
            .execute_raw(stmt("DELETE FROM link"))
            .await
            .unwrap();
    }
}

/// Yields a key already in use first, then random keys.
struct CollidingFirst {
    taken: ControlKey,
    used: std::sync::atomic::AtomicBool,
}

impl KeyGenerator for CollidingFirst {
    fn generate(&self) -> ControlKey {
        if self.used.swap(true, std::sync::atomic::Ordering::SeqCst) {
            RandomKeys.generate()
        } else {
            self.taken
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_collision_is_retried_with_another_key() {
    let db = TestStore::postgres().await;
    let (zoe_id, marie_id) = import_two_published(&db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile(
            "m@exemple.fr",
            identity("Durand", &["Marie"], "2004-05-17"),
        ))
        .await
        .unwrap();
    let other = db
        .store
        .profiles()
        .create(password_profile("z@exemple.fr", zoe()))
        .await
        .unwrap();
    let taken = key("TAKEN000");
    db.store
        .links()
        .create(sand_domain::link::NewLink {
            profile: other.id,
            record: zoe_id,
            key: taken,
            created_at: NOW,
        })
        .await
        .unwrap();
    let attach = attach_use_case(
        &db,
        Arc::new(CollidingFirst {
            taken,
            used: false.into(),
        }),
    );
    let outcome = attach
        .execute(AttachDiplomaRequest {
            profile: owner.id,
            scope: scope(),
        })
        .await
        .unwrap();
    let AttachOutcome::Attached { link, record } = outcome else {
        panic!("expected attached: {outcome:?}")
    };
    assert_eq!(record.id, marie_id);
    assert_ne!(link.key, taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_profile_while_it_attaches_leaves_no_orphan_link() {
    let db = TestStore::postgres().await;
    import_records(&db, 1).await;
    let holder = identity("Nomb", &["Prénom"], "2000-01-02");
    let mut scope = scope();
    scope.session = sand_domain::diploma::Session::new(2022).unwrap();
    let attach = attach_use_case(&db, Arc::new(RandomKeys));
    for round in 0..20 {
        let p = db
            .store
            .profiles()
            .create(password_profile(
                &format!("p{round}@exemple.fr"),
                holder.clone(),
            ))
            .await
            .unwrap();
        let profiles = db.store.profiles();
        let (attached, deleted) = tokio::join!(
            tokio::spawn({
                let attach = attach.clone();
                async move {
                    attach
                        .execute(AttachDiplomaRequest {
                            profile: p.id,
                            scope,
                        })
                        .await
                }
            }),
            tokio::spawn(async move { profiles.delete(p.id, None).await }),
        );
        let deleted = deleted.unwrap().unwrap();
        match attached.unwrap() {
            Ok(AttachOutcome::Attached { .. }) => assert_eq!(
                deleted,
                Some(1),
                "round {round}: the link went with the profile"
            ),
            Err(AttachDiplomaError::ProfileNotFound) => assert_eq!(deleted, Some(0)),
            other => panic!("round {round}: unexpected {other:?}"),
        }
        let orphans: i64 = db
            .store
            .connection()
            .query_one_raw(stmt("SELECT COUNT(*) FROM link l LEFT JOIN profile p ON p.id = l.profile_id WHERE p.id IS NULL"))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(orphans, 0);
        let links: i64 = db
            .store
            .connection()
            .query_one_raw(stmt("SELECT COUNT(*) FROM link"))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(links, 0, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_server_secret_is_an_error_not_a_wrong_key() {
    let db = TestStore::postgres().await;
    let (zoe_id, _) = import_two_published(&db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("z@exemple.fr", zoe()))
        .await
        .unwrap();
    db.store
        .links()
        .create(sand_domain::link::NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("SECRET00"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let other_secret = Store::connect(
        &StoreSettings::new(&db.url),
        KeyProtector::from_secret(&[9; 32]).unwrap(),
    )
    .await
    .unwrap();
    let result = other_secret.links().list_for_profile(owner.id).await;
    assert!(matches!(result, Err(sand_domain::PortError::Unexpected(_))));
}

async fn import_two_published(
    db: &TestStore,
) -> (sand_domain::record::RecordId, sand_domain::record::RecordId) {
    use sand_domain::ports::RecordReader;
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    db.store
        .record_writer()
        .replace_batch(&batch(
            vec![
                new_record(2, "C001", zoe()),
                new_record(3, "C002", marie.clone()),
            ],
            true,
            1,
        ))
        .await
        .unwrap();
    let reader = db.store.record_reader();
    let z = reader
        .find_candidates(&scope(), &zoe().key())
        .await
        .unwrap()
        .remove(0)
        .id;
    let m = reader
        .find_candidates(&scope(), &marie.key())
        .await
        .unwrap()
        .remove(0)
        .id;
    (z, m)
}

fn attach_use_case(db: &TestStore, keys: Arc<dyn KeyGenerator>) -> AttachDiploma {
    AttachDiploma {
        catalogue: Arc::new(db.store.catalogue()),
        profiles: Arc::new(db.store.profiles()),
        records: Arc::new(db.store.record_reader()),
        links: Arc::new(db.store.links()),
        keys,
        clock: Arc::new(FixedClock),
    }
}

/// The roles' privileges cover the mail outbox: the importer queues "record withdrawn"
/// notices in its corrected batch's transaction; the web role queues and sends mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roles_may_use_the_mail_outbox() {
    use sand_domain::credentials::Email;
    use sand_domain::link::NewLink;
    use sand_domain::ports::{Mail, MailQueue, RecordReader, VerificationLog};
    use sand_domain::verification::NewVerificationEvent;

    let mut db = TestStore::postgres().await;
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    let (zoe_record, marie_record) = (
        new_record(2, "C001", zoe()),
        new_record(3, "C002", marie.clone()),
    );
    db.store
        .record_writer()
        .replace_batch(&batch(vec![zoe_record.clone(), marie_record], true, 1))
        .await
        .unwrap();

    let web_role = db.roles.web.clone();
    let web = connect_as_member_of(&mut db, &web_role).await;
    let owner = web
        .profiles()
        .create(password_profile("marie@exemple.fr", marie.clone()))
        .await
        .unwrap();
    let candidates = web
        .record_reader()
        .find_candidates(&scope(), &marie.key())
        .await
        .unwrap();
    let link = web
        .links()
        .create(NewLink {
            profile: owner.id,
            record: candidates[0].id,
            key: key("MAIL0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    web.verification_log()
        .record(
            NewVerificationEvent {
                link: link.id,
                at: NOW,
                organisation: None,
                share: None,
            },
            Some(Mail::AttestationVerified {
                to: Email::parse("marie@exemple.fr").unwrap(),
                scope: scope(),
                at: NOW,
                organisation: None,
                stop: sand_domain::SecretToken::new("arret-jeton".to_owned()),
            }),
        )
        .await
        .unwrap();

    // the importer's corrected batch drops Marie: her link is withdrawn, she is told
    let importer_role = db.roles.importer.clone();
    let importer = connect_as_member_of(&mut db, &importer_role).await;
    let report = importer
        .record_writer()
        .replace_batch(&batch(vec![zoe_record], true, 2))
        .await
        .unwrap();
    assert_eq!(report.links_withdrawn, 1);

    // the web role's sender claims both and clears them
    let queue = web.mail_queue();
    let claimed = queue
        .claim_due(
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
            time::Duration::minutes(5),
            10,
        )
        .await
        .unwrap();
    let kinds: Vec<bool> = claimed
        .iter()
        .map(|q| matches!(q.mail, Mail::RecordWithdrawn { .. }))
        .collect();
    assert_eq!(kinds.len(), 2);
    assert_eq!(kinds.iter().filter(|w| **w).count(), 1);
    for q in &claimed {
        queue.delivered(q.id).await.unwrap();
    }
    assert_eq!(queue.depth().await.unwrap(), 0);
}

/// The web role creates links, renews their keys and deletes them, but cannot bring a
/// link its exam office withdrew back to life.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_role_cannot_revive_a_withdrawn_link() {
    use sand_domain::link::{LinkState, NewLink};

    let mut db = TestStore::postgres().await;
    let (zoe_record, _) = import_two_published(&db).await;
    let web_role = db.roles.web.clone();
    let web = connect_as_member_of(&mut db, &web_role).await;
    let owner = web
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let link = web
        .links()
        .create(NewLink {
            profile: owner.id,
            record: zoe_record,
            key: key("REVI0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    // its own work, as the web role: a new key
    web.links()
        .replace_key(link.id, owner.id, key("REVI0002"), NOW)
        .await
        .unwrap();
    // the exam office withdraws the record (the import, as the owner here)
    db.store
        .record_writer()
        .replace_batch(&batch(
            vec![new_record(
                3,
                "C002",
                identity("Durand", &["Marie"], "2004-05-17"),
            )],
            true,
            2,
        ))
        .await
        .unwrap();
    let conn = web.connection();
    for sql in [
        "UPDATE link SET withdrawn_at = NULL",
        "UPDATE link SET record_id = record_id",
        "UPDATE link SET profile_id = profile_id",
        "UPDATE diploma_record SET withdrawn_at = NULL",
    ] {
        assert!(
            permission_denied(conn.execute_raw(stmt(sql)).await),
            "the web role could run: {sql}"
        );
    }
    let stored = web.links().get_owned(link.id, owner.id).await.unwrap();
    assert!(matches!(stored.unwrap().state, LinkState::Withdrawn { .. }));
    // and deletes links, as a holder deleting an attestation does
    assert!(web.links().delete_owned(link.id, owner.id).await.unwrap());

    // it appends to the link log (a certified claimant's take-over), never changes it
    let (_, marie_record) = import_two_published(&db).await;
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    let squatter = web
        .profiles()
        .create(password_profile("squat@exemple.fr", marie.clone()))
        .await
        .unwrap();
    let claimant = web
        .profiles()
        .create(franceconnect_profile("marie@exemple.fr", "sub-m", marie))
        .await
        .unwrap();
    let held = web
        .links()
        .create(NewLink {
            profile: squatter.id,
            record: marie_record,
            key: key("REVI0003"),
            created_at: NOW,
        })
        .await
        .unwrap();
    web.links()
        .take_over(
            held.id,
            squatter.id,
            NewLink {
                profile: claimant.id,
                record: marie_record,
                key: key("REVI0004"),
                created_at: NOW,
            },
            sand_domain::ports::Mail::AttestationTakenOver {
                to: sand_domain::credentials::Email::parse("squat@exemple.fr").unwrap(),
                scope: scope(),
            },
        )
        .await
        .unwrap();
    for sql in [
        "UPDATE link_event SET previous_profile_id = NULL",
        "DELETE FROM link_event",
    ] {
        assert!(
            permission_denied(conn.execute_raw(stmt(sql)).await),
            "the web role could run: {sql}"
        );
    }
}

/// The batch lock of the import (taken exclusively while a batch is applied; attaches
/// take it shared), by the record's batch.
const IMPORT_LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended(batch_id::text, 0)) \
     FROM diploma_record WHERE id = $1";

/// An attach that read its candidates before an import withdrew the record, and inserts
/// its link while the import is being applied, ends with a withdrawn link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attach_racing_an_import_that_withdraws_its_record_ends_withdrawn() {
    use sand_domain::link::{LinkState, NewLink};
    use sea_orm::TransactionTrait;

    let db = TestStore::postgres().await;
    let (zoe_record, _) = import_two_published(&db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    // the import is being applied: it holds its batch's lock and has withdrawn the
    // record, not committed yet
    let import = db.store.connection().begin().await.unwrap();
    import
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            IMPORT_LOCK,
            [zoe_record.0.into()],
        ))
        .await
        .unwrap();
    import
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE diploma_record SET withdrawn_at = now() WHERE id = $1",
            [zoe_record.0.into()],
        ))
        .await
        .unwrap();
    // meanwhile the attach stores its link
    let links = db.store.links();
    let attach = tokio::spawn(async move {
        links
            .create(NewLink {
                profile: owner.id,
                record: zoe_record,
                key: key("RACE0001"),
                created_at: NOW,
            })
            .await
    });
    // the attach waits for the import (seen in pg_locks), or has finished
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let waiting: i64 = db
            .store
            .connection()
            .query_one_raw(stmt(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        if waiting > 0 || attach.is_finished() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the attach neither waited nor finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    import.commit().await.unwrap();
    let link = attach.await.unwrap().unwrap();
    assert!(
        matches!(link.state, LinkState::Withdrawn { .. }),
        "an active link to a withdrawn record: {link:?}"
    );
}

/// The real import and real attaches, raced: whatever the interleaving, no active link
/// to a withdrawn record survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attaches_racing_real_imports_never_leave_an_active_link_to_a_withdrawn_record() {
    use sand_domain::link::NewLink;

    let db = TestStore::postgres().await;
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    for round in 0..15u8 {
        let (zoe_record, _) = import_two_published(&db).await;
        let owner = db
            .store
            .profiles()
            .create(password_profile(&format!("zoe{round}@exemple.fr"), zoe()))
            .await
            .unwrap();
        let links = db.store.links();
        let attach = tokio::spawn(async move {
            links
                .create(NewLink {
                    profile: owner.id,
                    record: zoe_record,
                    key: RandomKeys.generate(),
                    created_at: NOW,
                })
                .await
        });
        db.store
            .record_writer()
            .replace_batch(&batch(
                vec![new_record(3, "C002", marie.clone())],
                true,
                round.wrapping_add(10),
            ))
            .await
            .unwrap();
        attach.await.unwrap().unwrap();
        let live_to_withdrawn: i64 = db
            .store
            .connection()
            .query_one_raw(stmt(
                "SELECT COUNT(*) FROM link JOIN diploma_record AS r ON r.id = link.record_id \
                 WHERE link.withdrawn_at IS NULL AND r.withdrawn_at IS NOT NULL",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(live_to_withdrawn, 0, "round {round}");
        db.store
            .connection()
            .execute_raw(stmt("DELETE FROM link"))
            .await
            .unwrap();
    }
}

/// The back office's role reads records and writes the audit log, but cannot write a
/// record, nor change or delete an audit row; no application role can change the log,
/// and the web and import roles cannot read the staff directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_role_cannot_write_records_and_no_role_can_rewrite_the_audit_log() {
    use sand_domain::ports::AuditLog as _;
    use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};

    let mut db = TestStore::postgres().await;
    import_records(&db, 2).await;
    let entry = NewAuditEntry {
        at: NOW,
        actor: Actor::Operator("root".to_owned()),
        action: AuditAction::StaffAdd,
        records: Vec::new(),
        link: None,
        batch: None,
        detail: "lyon.n2".to_owned(),
        origin: "cli".to_owned(),
    };
    db.store.audit_log().append(&entry).await.unwrap();

    let backoffice_role = db.roles.backoffice.clone();
    let backoffice = connect_as_member_of(&mut db, &backoffice_role).await;
    let conn = backoffice.connection();
    let rows = conn
        .query_all_raw(stmt("SELECT id FROM diploma_record"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "it reads records");
    backoffice
        .audit_log()
        .append(&entry)
        .await
        .expect("it appends to the audit log");
    assert_eq!(
        backoffice
            .audit_log()
            .entries(
                NOW - time::Duration::days(1),
                NOW + time::Duration::days(1),
                10
            )
            .await
            .unwrap()
            .len(),
        2
    );
    for sql in [
        "INSERT INTO diploma_record SELECT gen_random_uuid(), batch_id, diploma_kind, session, academie, exam_office, 'X' || candidate_number, civility, birth_name, birth_name_key, first_names, birth_date, birth_place, usage_name, ine, speciality, mention, deliberation_date, content_hash, withdrawn_at FROM diploma_record LIMIT 1",
        "UPDATE diploma_record SET birth_name = 'Forgé'",
        "DELETE FROM diploma_record",
        "UPDATE import_batch SET complete = false",
        "UPDATE catalogue_revision SET revision = 0",
        "UPDATE link SET withdrawn_at = now()",
        "UPDATE audit_log SET detail = 'rien'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        assert!(
            permission_denied(conn.execute_raw(stmt(sql)).await),
            "the back-office role could run: {sql}"
        );
    }
    assert_eq!(
        backoffice.record_write_access().await.unwrap(),
        RecordWriteAccess::Denied
    );

    for role in [db.roles.web.clone(), db.roles.importer.clone()] {
        let store = connect_as_member_of(&mut db, &role).await;
        let conn = store.connection();
        for sql in [
            "SELECT * FROM staff_member",
            "SELECT * FROM audit_log",
            "INSERT INTO audit_log (at, actor, action, records, detail, origin) VALUES (now(), 'x', 'connexion', '', '', '')",
            "UPDATE audit_log SET detail = 'rien'",
            "DELETE FROM audit_log",
        ] {
            assert!(
                permission_denied(conn.execute_raw(stmt(sql)).await),
                "{role} could run: {sql}"
            );
        }
    }
}

/// Every TCP connection to PostgreSQL sends without delay (`TCP_NODELAY`): with Nagle's
/// algorithm on, a client message that leaves in two segments (a `COPY`'s last data then
/// its end, a statement's parse and execute) waits for the server's delayed ACK, ≈40 ms a
/// round trip — an import of many small batches paid it on every batch (sqlx 0.9.0 left
/// the option off; 0.9.1 sets it). Read off this process's own sockets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connection_to_postgresql_sends_without_delay() {
    use rustix::process::{PidfdFlags, PidfdGetfdFlags, getpid, pidfd_getfd, pidfd_open};

    let db = TestStore::postgres().await;
    import_records(&db, 3).await;
    db.store
        .connection()
        .execute_raw(stmt("SELECT 1"))
        .await
        .unwrap();
    let port: u16 = db
        .url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .expect("the test database is reached over TCP (host:port)");
    let me = pidfd_open(getpid(), PidfdFlags::empty()).unwrap();
    let mut connections = 0;
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let entry = entry.unwrap();
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if !is_socket {
            continue;
        }
        // a duplicate of our own descriptor: the same socket, its options readable
        let Ok(socket) = pidfd_getfd(&me, fd, PidfdGetfdFlags::empty()) else {
            continue;
        };
        let peer = rustix::net::getpeername(&socket)
            .ok()
            .flatten()
            .and_then(|a| std::net::SocketAddr::try_from(a).ok());
        if peer.is_none_or(|p| p.port() != port) {
            continue;
        }
        assert!(
            rustix::net::sockopt::tcp_nodelay(&socket).unwrap(),
            "a connection to PostgreSQL ({peer:?}) has Nagle's algorithm on"
        );
        connections += 1;
    }
    assert!(connections > 0, "no TCP connection to PostgreSQL was found");
}

/// The catalogue's revision moves at commit (a deferred trigger): an import still open
/// holds no lock on its row, so a second import of another scope commits meanwhile
/// without waiting; and a reader sees the new revision only with the new batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_side_by_side_do_not_wait_for_each_other_on_the_catalogue_revision() {
    use sand_domain::ports::Catalogue as _;
    use sea_orm::TransactionTrait as _;
    let db = TestStore::postgres().await;
    let batch = |academie: &str| {
        format!(
            "INSERT INTO import_batch VALUES (gen_random_uuid(), '{academie}', 'BACG', 2022, \
             '{academie}', 'OCEAN', now(), now(), true, 0, repeat('0', 64))"
        )
    };
    let catalogue = db.store.catalogue();
    let (empty, _) = catalogue
        .published_scopes_since(None)
        .await
        .unwrap()
        .unwrap();

    let first = sea_orm::Database::connect(&db.url).await.unwrap();
    let open = first.begin().await.unwrap();
    open.execute_unprepared(&batch("10")).await.unwrap();
    assert!(
        catalogue
            .published_scopes_since(Some(empty.clone()))
            .await
            .unwrap()
            .is_none(),
        "nothing is visible before commit"
    );

    let second = sea_orm::Database::connect(&db.url).await.unwrap();
    let side = second.begin().await.unwrap();
    // an immediate trigger would wait here for the first import's end
    side.execute_unprepared("SET LOCAL lock_timeout = '2s'")
        .await
        .unwrap();
    side.execute_unprepared(&batch("01")).await.unwrap();
    side.commit()
        .await
        .expect("the second import commits while the first is open");
    let (one, scopes) = catalogue
        .published_scopes_since(Some(empty))
        .await
        .unwrap()
        .expect("the second import moved the revision");
    assert_eq!(scopes.len(), 1);

    open.commit().await.unwrap();
    let (_, scopes) = catalogue
        .published_scopes_since(Some(one))
        .await
        .unwrap()
        .expect("the first import moved it again");
    assert_eq!(scopes.len(), 2);
}
