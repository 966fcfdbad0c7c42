//! The shared suite of the storage ports: each case runs on SQLite and on PostgreSQL.

use std::sync::Arc;

use sand_domain::SecretToken;
use sand_domain::credentials::{Email, PasswordHash};
use sand_domain::link::attach::{AttachDiploma, AttachDiplomaRequest, AttachOutcome};
use sand_domain::link::{LinkState, NewLink};
use sand_domain::ports::{
    Catalogue, CreateLinkStoreError, CreateProfileStoreError, LinkRepository, Mail, MailQueue,
    Mailer, ProfileRepository, RecordReader, RecordWriter, ReplaceKeyStoreError,
    TakeOverStoreError, VerificationLog,
};
use sand_domain::profile::{FranceConnectSubject, ProfileId};
use sand_domain::record::RecordId;
use sand_domain::verification::{
    NewVerificationEvent, Organisation, VerifyAttestation, VerifyOutcome, VerifyRequest,
};
use sea_orm::{ConnectionTrait, Statement};
use time::macros::datetime;
use uuid::Uuid;

use crate::fixtures::*;
use crate::support::TestStore;

async fn count(db: &TestStore, sql: &str) -> i64 {
    let conn = db.store.connection();
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Imports one complete batch with Zoé and Marie; returns their record ids.
async fn import_two(db: &TestStore) -> (RecordId, RecordId) {
    let writer = db.store.record_writer();
    writer
        .replace_batch(&batch(
            vec![
                new_record(2, "C001", zoe()),
                new_record(3, "C002", identity("Durand", &["Marie"], "2004-05-17")),
            ],
            true,
            1,
        ))
        .await
        .unwrap();
    let reader = db.store.record_reader();
    let zoe_record = reader
        .find_candidates(&scope(), &zoe().key())
        .await
        .unwrap()
        .remove(0);
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    let marie_record = reader
        .find_candidates(&scope(), &marie.key())
        .await
        .unwrap()
        .remove(0);
    (zoe_record.id, marie_record.id)
}

pub async fn migrating_an_empty_database_reaches_the_latest_schema(db: &TestStore) {
    assert!(db.store.pending_migrations().await.unwrap().is_empty());
    for table in [
        "import_batch",
        "diploma_record",
        "profile",
        "link",
        "verification_event",
    ] {
        assert_eq!(
            count(db, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    // migrating again is a no-op
    db.store.migrate(&db.roles).await.unwrap();
    if db.store.backend() == sand_persistence::Backend::Sqlite {
        let conn = db.store.connection();
        let mode = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "PRAGMA journal_mode",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap();
        assert_eq!(mode, "wal");
        let fk = count(db, "PRAGMA foreign_keys").await;
        assert_eq!(fk, 1);
    }
}

pub async fn records_round_trip_with_non_ascii_names_and_29_february(db: &TestStore) {
    let stored = new_record(2, "C001", zoe());
    db.store
        .record_writer()
        .replace_batch(&batch(vec![stored.clone()], true, 1))
        .await
        .unwrap();

    // found by the identity written with spelling noise: the key is what is indexed
    let noisy = identity(
        "NDIAYE LOEWENBRUCK DE L ESTREE",
        &["ZOE ANAIS CELINE STRASSE"],
        "2004-02-29",
    );
    let found = db
        .store
        .record_reader()
        .find_candidates(&scope(), &noisy.key())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    let record = &found[0];
    assert_eq!(record.holder, stored.holder);
    assert_eq!(record.award, stored.award);
    assert_eq!(record.scope, scope());
    assert_eq!(record.source.candidate_number.as_str(), "C001");
    assert!(record.holder.identity.matches(&noisy));

    let again = db
        .store
        .record_reader()
        .get_many(&[record.id, RecordId(Uuid::new_v4())])
        .await
        .unwrap();
    assert_eq!(again, found);
    let batch = db
        .store
        .record_writer()
        .find_batch(&scope())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batch.record_count, 1);
    assert_eq!(batch.fingerprint.0, [1; 32]);
    assert_eq!(
        db.store.catalogue().published_scopes().await.unwrap(),
        vec![sand_domain::issuer::IssuedScope {
            scope: scope(),
            issuer: sand_domain::issuer::IssuerCode::of_academie(
                sand_domain::academie::Academie::Lyon
            ),
        }]
    );
}

pub async fn an_incomplete_batch_is_stored_but_not_published(db: &TestStore) {
    let writer = db.store.record_writer();
    let report = writer
        .replace_batch(&batch(vec![new_record(2, "C001", zoe())], false, 1))
        .await
        .unwrap();
    assert_eq!(report.inserted, 1);
    let reader = db.store.record_reader();
    assert!(
        reader
            .find_candidates(&scope(), &zoe().key())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!db.store.catalogue().is_published(&scope()).await.unwrap());
    assert!(
        db.store
            .catalogue()
            .published_scopes()
            .await
            .unwrap()
            .is_empty()
    );

    writer.publish_batch(report.batch).await.unwrap();
    assert_eq!(
        reader
            .find_candidates(&scope(), &zoe().key())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(db.store.catalogue().is_published(&scope()).await.unwrap());
}

/// The catalogue's revision is one row the database moves with every change of a batch:
/// a view kept at a revision is read again exactly when a scope was stored, published or
/// removed, whoever wrote it.
pub async fn the_catalogue_revision_moves_with_every_change_of_a_batch(db: &TestStore) {
    use sand_domain::ports::CatalogueRevision;
    let catalogue = db.store.catalogue();
    let since = |known: Option<CatalogueRevision>| {
        let catalogue = catalogue.clone();
        async move { catalogue.published_scopes_since(known).await.unwrap() }
    };
    let (empty, scopes) = since(None).await.expect("a first read answers");
    assert!(scopes.is_empty());
    assert!(
        since(Some(empty.clone())).await.is_none(),
        "nothing changed"
    );

    // an incomplete batch moves it (and publishes nothing)
    let writer = db.store.record_writer();
    let report = writer
        .replace_batch(&batch(vec![new_record(2, "C001", zoe())], false, 1))
        .await
        .unwrap();
    let (stored, scopes) = since(Some(empty.clone()))
        .await
        .expect("a batch was stored");
    assert!(scopes.is_empty());
    assert_ne!(stored, empty);
    assert!(since(Some(stored.clone())).await.is_none());

    // publishing moves it
    writer.publish_batch(report.batch).await.unwrap();
    let (published, scopes) = since(Some(stored.clone()))
        .await
        .expect("a batch was published");
    assert_eq!(scopes.len(), 1);
    assert!(since(Some(published.clone())).await.is_none());

    // so does a change made by hand, past the application
    db.store
        .connection()
        .execute_unprepared("DELETE FROM diploma_record")
        .await
        .unwrap();
    assert!(
        since(Some(published.clone())).await.is_none(),
        "records are not batches"
    );
    db.store
        .connection()
        .execute_unprepared("DELETE FROM import_batch")
        .await
        .unwrap();
    let (removed, scopes) = since(Some(published)).await.expect("a batch was removed");
    assert!(scopes.is_empty());
    assert!(since(Some(removed)).await.is_none());
}

pub async fn reimporting_the_same_batch_changes_nothing(db: &TestStore) {
    let writer = db.store.record_writer();
    let records = vec![
        new_record(2, "C001", zoe()),
        new_record(3, "C002", identity("Roux", &["Léa"], "2004-01-01")),
    ];
    let first = writer
        .replace_batch(&batch(records.clone(), true, 1))
        .await
        .unwrap();
    assert_eq!(
        (
            first.inserted,
            first.updated,
            first.unchanged,
            first.removed
        ),
        (2, 0, 0, 0)
    );
    let second = writer
        .replace_batch(&batch(records, true, 1))
        .await
        .unwrap();
    assert_eq!(
        (
            second.inserted,
            second.updated,
            second.unchanged,
            second.removed
        ),
        (0, 0, 2, 0)
    );
    assert_eq!(second.batch, first.batch);
    assert_eq!(count(db, "SELECT COUNT(*) FROM diploma_record").await, 2);
    assert_eq!(count(db, "SELECT COUNT(*) FROM import_batch").await, 1);
}

pub async fn a_corrected_batch_keeps_unchanged_links_and_withdraws_vanished_ones(db: &TestStore) {
    let (zoe_id, marie_id) = import_two(db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let kept = links
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("AAAA0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let doomed = links
        .create(NewLink {
            profile: owner.id,
            record: marie_id,
            key: key("AAAA0002"),
            created_at: NOW,
        })
        .await
        .unwrap();

    // Corrected batch: Zoé's mention changes, Marie's line disappears, Hugo appears.
    let mut corrected_zoe = new_record(2, "C001", zoe());
    corrected_zoe.award.mention = Some(sand_domain::diploma::Mention::TresBien);
    let hugo = new_record(3, "C003", identity("Petit", &["Hugo"], "2004-03-03"));
    let report = db
        .store
        .record_writer()
        .replace_batch(&batch(vec![corrected_zoe, hugo], true, 2))
        .await
        .unwrap();
    assert_eq!(
        (
            report.inserted,
            report.updated,
            report.unchanged,
            report.removed,
            report.links_withdrawn
        ),
        (1, 1, 0, 1, 1)
    );

    // Zoé's record kept its id and its link; the key still verifies.
    let zoe_now = db
        .store
        .record_reader()
        .get_many(&[zoe_id])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        zoe_now.award.mention,
        Some(sand_domain::diploma::Mention::TresBien)
    );
    assert_eq!(
        links
            .find_active_by_key(&key("AAAA0001"))
            .await
            .unwrap()
            .map(|l| l.id),
        Some(kept.id)
    );
    // Marie's link is withdrawn, not deleted: its key stops verifying, its holder sees why.
    assert!(
        links
            .find_active_by_key(&key("AAAA0002"))
            .await
            .unwrap()
            .is_none()
    );
    let mine = links.list_for_profile(owner.id).await.unwrap();
    let withdrawn = mine.iter().find(|l| l.id == doomed.id).unwrap();
    assert!(matches!(withdrawn.state, LinkState::Withdrawn { .. }));
    // Its holder is told, through the outbox, by the import's own transaction.
    assert_eq!(
        claim_all(db).await,
        vec![Mail::RecordWithdrawn {
            to: Email::parse("zoe@exemple.fr").unwrap(),
            scope: scope(),
        }]
    );
    // The withdrawn record is no longer attachable.
    let marie = identity("Durand", &["Marie"], "2004-05-17");
    assert!(
        db.store
            .record_reader()
            .find_candidates(&scope(), &marie.key())
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn profiles_round_trip_and_emails_are_unique(db: &TestStore) {
    let profiles = db.store.profiles();
    let created = profiles
        .create(password_profile("Zoé.Ndiaye@Exemple.fr", zoe()))
        .await
        .unwrap();
    assert_eq!(created.identity, zoe());
    assert_eq!(created.email.as_str(), "zoé.ndiaye@exemple.fr");
    assert!(!created.email_verified);
    assert_eq!(
        profiles.get(created.id).await.unwrap(),
        Some(created.clone())
    );

    let (found, hash) = profiles
        .find_password_account(&created.email)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, created.id);
    assert!(hash.as_str().starts_with("$argon2id$"));

    assert!(profiles.mark_email_verified(created.id).await.unwrap());
    // a confirmed address is taken (see unconfirmed_profiles_give_way_and_are_purged)
    let again = profiles
        .create(password_profile("zoé.ndiaye@exemple.fr", zoe()))
        .await;
    assert!(matches!(again, Err(CreateProfileStoreError::EmailTaken)));

    assert!(
        profiles
            .get(created.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert!(
        !profiles
            .mark_email_verified(ProfileId(Uuid::new_v4()))
            .await
            .unwrap()
    );
    assert_eq!(profiles.get(ProfileId(Uuid::new_v4())).await.unwrap(), None);

    // the verification notices: off until chosen, on and off again
    let notices = |p: Option<sand_domain::profile::Profile>| p.unwrap().notify_on_verification;
    assert!(!notices(profiles.get(created.id).await.unwrap()));
    assert!(
        profiles
            .set_verification_notices(created.id, true)
            .await
            .unwrap()
    );
    assert!(notices(profiles.get(created.id).await.unwrap()));
    assert!(
        profiles
            .set_verification_notices(created.id, false)
            .await
            .unwrap()
    );
    assert!(!notices(profiles.get(created.id).await.unwrap()));
    assert!(
        !profiles
            .set_verification_notices(ProfileId(Uuid::new_v4()), true)
            .await
            .unwrap()
    );
}

pub async fn franceconnect_subjects_are_unique(db: &TestStore) {
    let profiles = db.store.profiles();
    let created = profiles
        .create(franceconnect_profile("a@exemple.fr", "sub-1", zoe()))
        .await
        .unwrap();
    assert!(created.identity_certified && created.birth_date_presumed);
    let subject = FranceConnectSubject {
        issuer: "https://fc.exemple".into(),
        subject: "sub-1".into(),
    };
    assert_eq!(
        profiles
            .find_by_franceconnect(&subject)
            .await
            .unwrap()
            .map(|p| p.id),
        Some(created.id)
    );
    // a FranceConnect account is not a password account
    assert!(
        profiles
            .find_password_account(&created.email)
            .await
            .unwrap()
            .is_none()
    );
    let twice = profiles
        .create(franceconnect_profile("b@exemple.fr", "sub-1", zoe()))
        .await;
    assert!(matches!(twice, Err(CreateProfileStoreError::SubjectTaken)));
}

pub async fn links_round_trip_and_keep_their_constraints(db: &TestStore) {
    let (zoe_id, marie_id) = import_two(db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let other = db
        .store
        .profiles()
        .create(password_profile("autre@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();

    let link = links
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("K3Y00001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    assert_eq!(link.key, key("K3Y00001"));
    assert!(link.is_active());
    assert_eq!(
        links.find_by_record(zoe_id).await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        links.find_active_by_key(&key("k3y0-0001")).await.unwrap(),
        Some(link.clone())
    );
    assert_eq!(
        links.find_active_by_key(&key("K3Y00002")).await.unwrap(),
        None
    );

    // one record, one holder
    let second = links
        .create(NewLink {
            profile: other.id,
            record: zoe_id,
            key: key("K3Y00002"),
            created_at: NOW,
        })
        .await;
    assert!(matches!(
        second,
        Err(CreateLinkStoreError::RecordAlreadyLinked)
    ));
    // one key, one link
    let collision = links
        .create(NewLink {
            profile: other.id,
            record: marie_id,
            key: key("K3Y00001"),
            created_at: NOW,
        })
        .await;
    assert!(matches!(collision, Err(CreateLinkStoreError::KeyCollision)));
    // a profile that does not exist
    let ghost = links
        .create(NewLink {
            profile: ProfileId(Uuid::new_v4()),
            record: marie_id,
            key: key("K3Y00003"),
            created_at: NOW,
        })
        .await;
    assert!(matches!(ghost, Err(CreateLinkStoreError::ProfileGone)));

    assert_eq!(
        links.list_for_profile(owner.id).await.unwrap(),
        vec![link.clone()]
    );
    assert!(links.list_for_profile(other.id).await.unwrap().is_empty());

    let log = db.store.verification_log();
    log.record(
        NewVerificationEvent {
            link: link.id,
            at: NOW,
            organisation: Organisation::parse("Société Générale d'Œuvres").unwrap(),
            share: None,
        },
        None,
    )
    .await
    .unwrap();
    log.record(
        NewVerificationEvent {
            link: link.id,
            at: NOW + time::Duration::hours(1),
            organisation: None,
            share: Some(sand_domain::sharing::ShareLabel::parse("ACME, recrutement mars").unwrap()),
        },
        None,
    )
    .await
    .unwrap();
    let events = log.list_for_links(&[link.id]).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events[0].at > events[1].at, "newest first");
    assert_eq!(
        events[1].organisation.as_ref().map(Organisation::as_str),
        Some("Société Générale d'Œuvres")
    );
    assert_eq!(
        events[0].share.as_ref().map(|l| l.as_str()),
        Some("ACME, recrutement mars"),
        "a share link's opening keeps its label"
    );
}

pub async fn the_database_holds_no_key_in_clear(db: &TestStore) {
    let (zoe_id, _) = import_two(db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let link = db
        .store
        .links()
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("S3CR3TK7"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let conn = db.store.connection();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT key_hash, key_sealed FROM link",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let hash: Vec<u8> = rows[0].try_get_by_index(0).unwrap();
    let sealed: Vec<u8> = rows[0].try_get_by_index(1).unwrap();
    for column in [&hash, &sealed] {
        assert!(
            !column.windows(8).any(|w| w == b"S3CR3TK7"),
            "key in clear in a column"
        );
    }
    // Another server secret cannot read the stored key back.
    let foreign = sand_persistence::KeyProtector::from_secret(&[1; 32]).unwrap();
    assert!(foreign.open(&sealed, link.id.0).is_err());
    assert_ne!(foreign.lookup_hash(&key("S3CR3TK7")), hash);
}

pub async fn rotating_the_secret_re_protects_every_key_and_can_be_resumed(db: &TestStore) {
    use sand_domain::ports::LinkRepository;
    let (zoe_id, marie_id) = import_two(db).await;
    let profiles = db.store.profiles();
    let zoe_profile = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let marie_profile = profiles
        .create(password_profile("marie@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let zoe_link = links
        .create(NewLink {
            profile: zoe_profile.id,
            record: zoe_id,
            key: key("R0TAT10N"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let marie_link = links
        .create(NewLink {
            profile: marie_profile.id,
            record: marie_id,
            key: key("SEC0NDKY"),
            created_at: NOW,
        })
        .await
        .unwrap();

    // a second factor, sealed with the same secret
    use sand_domain::profile::second_factor::TotpSecret;
    assert!(
        profiles
            .enable_second_factor(zoe_profile.id, &TotpSecret::new(vec![5; 20]), 1, &[], NOW)
            .await
            .unwrap()
    );

    let new_secret = [42u8; 40];
    let new = sand_persistence::KeyProtector::from_secret(&new_secret).unwrap();
    let mut seen = Vec::new();
    let report = db
        .store
        .rotate_key_protection(&new, 1, |done| seen.push(done))
        .await
        .unwrap();
    assert_eq!(report.rotated, 2);
    assert_eq!(report.second_factors_rotated, 1);
    assert!(report.complete(), "{report:?}");
    assert_eq!(seen, [1, 2], "progress after each batch");
    assert_eq!(db.store.count_links().await.unwrap(), 2);

    // the store on the new secret finds each key and shows it to its holder; the old
    // secret finds nothing any more
    let rotated = sand_persistence::Store::connect(
        &sand_persistence::StoreSettings::new(&db.url),
        sand_persistence::KeyProtector::from_secret(&new_secret).unwrap(),
    )
    .await
    .unwrap();
    let found = rotated
        .links()
        .find_active_by_key(&key("R0TAT10N"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, zoe_link.id);
    let owned = rotated
        .links()
        .get_owned(marie_link.id, marie_profile.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(owned.key, key("SEC0NDKY"));
    assert_eq!(
        rotated
            .profiles()
            .second_factor(zoe_profile.id)
            .await
            .unwrap()
            .unwrap()
            .secret,
        TotpSecret::new(vec![5; 20])
    );
    assert!(
        profiles.second_factor(zoe_profile.id).await.is_err(),
        "the old secret cannot open it"
    );
    assert!(
        links
            .find_active_by_key(&key("R0TAT10N"))
            .await
            .unwrap()
            .is_none()
    );

    // run again (an interrupted run resumed): nothing rotated twice
    let again = db
        .store
        .rotate_key_protection(&new, 1000, |_| {})
        .await
        .unwrap();
    assert_eq!((again.rotated, again.already_rotated), (0, 2));

    // a sealed key neither secret opens is reported, not guessed at
    let conn = db.store.connection();
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        match conn.get_database_backend() {
            sea_orm::DbBackend::Postgres => "UPDATE link SET key_sealed = $1 WHERE id = $2",
            _ => "UPDATE link SET key_sealed = ? WHERE id = ?",
        },
        [vec![0u8; 48].into(), zoe_link.id.0.into()],
    ))
    .await
    .unwrap();
    let third = sand_persistence::KeyProtector::from_secret(&[7u8; 40]).unwrap();
    let broken = rotated
        .rotate_key_protection(&third, 1000, |_| {})
        .await
        .unwrap();
    assert_eq!(broken.unreadable, [zoe_link.id.0]);
    assert_eq!(broken.rotated, 1);
    assert!(!broken.complete());
}

pub async fn second_factors_accept_each_code_once_and_go_with_their_profile(db: &TestStore) {
    use sand_domain::profile::second_factor::{RecoveryCodeDigest, TotpSecret};
    let profiles = db.store.profiles();
    let owner = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    assert_eq!(profiles.second_factor(owner.id).await.unwrap(), None);
    let secret = TotpSecret::new((1..=20).collect());
    let codes: Vec<RecoveryCodeDigest> = (0..3)
        .map(|i| RecoveryCodeDigest(format!("{i:064}")))
        .collect();
    assert!(
        profiles
            .enable_second_factor(owner.id, &secret, 100, &codes, NOW)
            .await
            .unwrap()
    );
    // once on, it stays as it is
    assert!(
        !profiles
            .enable_second_factor(owner.id, &TotpSecret::new(vec![0; 20]), 1, &[], NOW)
            .await
            .unwrap()
    );
    let stored = profiles.second_factor(owner.id).await.unwrap().unwrap();
    assert_eq!(stored.secret, secret);
    assert_eq!(stored.last_step, Some(100));
    assert_eq!(stored.recovery_codes_left, 3);
    assert_eq!(stored.enabled_at, NOW);
    // the secret is sealed
    let raw: Vec<u8> = db
        .store
        .connection()
        .query_one_raw(Statement::from_string(
            db.store.connection().get_database_backend(),
            "SELECT secret_sealed FROM second_factor",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert!(!raw.windows(20).any(|w| w == secret.expose()));

    // a step is accepted once, and never an earlier one
    assert!(!profiles.accept_totp_step(owner.id, 100).await.unwrap());
    assert!(!profiles.accept_totp_step(owner.id, 99).await.unwrap());
    assert!(profiles.accept_totp_step(owner.id, 101).await.unwrap());
    assert!(!profiles.accept_totp_step(owner.id, 101).await.unwrap());
    // a recovery code is used once
    assert!(
        profiles
            .use_recovery_code(owner.id, &codes[1])
            .await
            .unwrap()
    );
    assert!(
        !profiles
            .use_recovery_code(owner.id, &codes[1])
            .await
            .unwrap()
    );
    assert!(
        !profiles
            .use_recovery_code(owner.id, &RecoveryCodeDigest("f".repeat(64)))
            .await
            .unwrap()
    );
    assert_eq!(
        profiles
            .second_factor(owner.id)
            .await
            .unwrap()
            .unwrap()
            .recovery_codes_left,
        2
    );
    // off: its codes go with it
    assert!(profiles.disable_second_factor(owner.id).await.unwrap());
    assert!(!profiles.disable_second_factor(owner.id).await.unwrap());
    assert!(
        !profiles
            .use_recovery_code(owner.id, &codes[0])
            .await
            .unwrap()
    );
    assert!(!profiles.accept_totp_step(owner.id, 500).await.unwrap());
    // on again, then the profile deleted: nothing of it stays
    assert!(
        profiles
            .enable_second_factor(owner.id, &secret, 200, &codes, NOW)
            .await
            .unwrap()
    );
    profiles.delete(owner.id, None).await.unwrap();
    assert_eq!(count(db, "SELECT COUNT(*) FROM second_factor").await, 0);
    assert_eq!(count(db, "SELECT COUNT(*) FROM recovery_code").await, 0);
    // a profile that does not exist gets none
    assert!(
        !profiles
            .enable_second_factor(owner.id, &secret, 1, &codes, NOW)
            .await
            .unwrap()
    );
}

pub async fn renewing_a_key_kills_the_old_one(db: &TestStore) {
    let (zoe_id, marie_id) = import_two(db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let link = links
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("0LDK3Y00"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let taken = links
        .create(NewLink {
            profile: owner.id,
            record: marie_id,
            key: key("TAKEN000"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let later = NOW + time::Duration::days(1);

    let collision = links.replace_key(link.id, owner.id, taken.key, later).await;
    assert!(matches!(collision, Err(ReplaceKeyStoreError::KeyCollision)));

    let renewed = links
        .replace_key(link.id, owner.id, key("NEWK3Y00"), later)
        .await
        .unwrap();
    assert_eq!(renewed.key, key("NEWK3Y00"));
    assert_eq!(renewed.key_issued_at, later);
    assert_eq!(renewed.created_at, NOW);
    assert!(
        links
            .find_active_by_key(&key("0LDK3Y00"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        links
            .find_active_by_key(&key("NEWK3Y00"))
            .await
            .unwrap()
            .map(|l| l.id),
        Some(link.id)
    );

    let stranger = ProfileId(Uuid::new_v4());
    let not_mine = links
        .replace_key(link.id, stranger, key("XXXX0000"), later)
        .await;
    assert!(matches!(not_mine, Err(ReplaceKeyStoreError::NotFound)));
}

pub async fn links_are_only_reachable_by_their_owner(db: &TestStore) {
    let (zoe_id, _) = import_two(db).await;
    let owner = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let intruder = db
        .store
        .profiles()
        .create(password_profile("intrus@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let link = links
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("0WNED000"),
            created_at: NOW,
        })
        .await
        .unwrap();

    assert_eq!(links.get_owned(link.id, intruder.id).await.unwrap(), None);
    assert!(!links.delete_owned(link.id, intruder.id).await.unwrap());
    assert_eq!(
        links.get_owned(link.id, owner.id).await.unwrap(),
        Some(link.clone())
    );

    assert!(links.delete_owned(link.id, owner.id).await.unwrap());
    assert!(
        links
            .find_active_by_key(&key("0WNED000"))
            .await
            .unwrap()
            .is_none()
    );
    // the record stays with the exam office
    assert_eq!(
        db.store
            .record_reader()
            .get_many(&[zoe_id])
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(!links.delete_owned(link.id, owner.id).await.unwrap());
}

pub async fn deleting_a_profile_deletes_its_links_and_anonymises_its_verifications(db: &TestStore) {
    let (zoe_id, marie_id) = import_two(db).await;
    let profiles = db.store.profiles();
    let owner = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let a = links
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("DEL00001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    links
        .create(NewLink {
            profile: owner.id,
            record: marie_id,
            key: key("DEL00002"),
            created_at: NOW,
        })
        .await
        .unwrap();
    db.store
        .verification_log()
        .record(
            NewVerificationEvent {
                link: a.id,
                at: NOW,
                organisation: sand_domain::verification::Organisation::parse(
                    "Cabinet Recrutement X",
                )
                .unwrap(),
                share: None,
            },
            None,
        )
        .await
        .unwrap();
    // a mail to the holder still waiting, naming the verifier
    db.store
        .mailer()
        .send(Mail::AttestationVerified {
            to: Email::parse("zoe@exemple.fr").unwrap(),
            scope: scope(),
            at: NOW,
            organisation: Some("Cabinet Recrutement X".into()),
            stop: sand_domain::SecretToken::new("arret-jeton".to_owned()),
        })
        .await
        .unwrap();

    let notice = Mail::ProfileDeleted {
        to: Email::parse("zoe@exemple.fr").unwrap(),
    };
    assert_eq!(
        profiles
            .delete(owner.id, Some(notice.clone()))
            .await
            .unwrap(),
        Some(2)
    );
    // the notice was queued in the same transaction
    let queued = claim_all(db).await;
    assert_eq!(queued, vec![notice]);
    assert_eq!(profiles.get(owner.id).await.unwrap(), None);
    assert_eq!(count(db, "SELECT COUNT(*) FROM profile").await, 0);
    assert_eq!(count(db, "SELECT COUNT(*) FROM link").await, 0);
    // the event stays for statistics, tied to nobody, without what the verifier typed
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM verification_event WHERE link_id IS NULL AND organisation IS NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM mail_outbox WHERE organisation IS NOT NULL"
        )
        .await,
        0
    );
    // records stay
    assert_eq!(count(db, "SELECT COUNT(*) FROM diploma_record").await, 2);
    assert_eq!(
        profiles
            .delete(
                owner.id,
                Some(Mail::ProfileDeleted {
                    to: Email::parse("zoe@exemple.fr").unwrap()
                })
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.store.mail_queue().depth().await.unwrap(),
        0,
        "nothing deleted, nothing queued"
    );
}

pub async fn the_domain_use_cases_run_on_the_real_store(db: &TestStore) {
    let (zoe_id, _) = import_two(db).await;
    let profile = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let attach = AttachDiploma {
        catalogue: Arc::new(db.store.catalogue()),
        profiles: Arc::new(db.store.profiles()),
        records: Arc::new(db.store.record_reader()),
        links: Arc::new(db.store.links()),
        keys: Arc::new(RandomKeys),
        clock: Arc::new(FixedClock),
    };
    let outcome = attach
        .execute(AttachDiplomaRequest {
            profile: profile.id,
            scope: scope(),
        })
        .await
        .unwrap();
    let AttachOutcome::Attached { link, record } = outcome else {
        panic!("expected attached, got {outcome:?}")
    };
    assert_eq!(record.id, zoe_id);
    let again = attach
        .execute(AttachDiplomaRequest {
            profile: profile.id,
            scope: scope(),
        })
        .await
        .unwrap();
    assert_eq!(again, AttachOutcome::AlreadyAttachedToYou { link: link.id });

    let verify = VerifyAttestation {
        lookup: Arc::new(db.store.verification_lookup()),
        log: Arc::new(db.store.verification_log()),
        mailer: Arc::new(db.store.mailer()),
        tokens: Arc::new({
            let mut tokens = sand_domain::ports::MockAccountTokens::new();
            tokens
                .expect_issue()
                .returning(|_, _, _, _| sand_domain::SecretToken::new("arret".to_owned()));
            tokens
        }),
        clock: Arc::new(FixedClock),
    };
    let valid = verify
        .execute(VerifyRequest {
            key: link.key.grouped().to_lowercase(),
            holder_name: "ndiaye loewenbruck de l estree".into(),
            organisation: "ACME".into(),
            birth_date: None,
            birth_date_required: false,
        })
        .await
        .unwrap();
    assert!(matches!(valid, VerifyOutcome::Valid(_)));
    let wrong = verify
        .execute(VerifyRequest {
            key: link.key.to_string(),
            holder_name: "Dupond".into(),
            organisation: String::new(),
            birth_date: None,
            birth_date_required: false,
        })
        .await
        .unwrap();
    assert_eq!(wrong, VerifyOutcome::NotValid);
    assert_eq!(
        db.store
            .verification_log()
            .list_for_links(&[link.id])
            .await
            .unwrap()
            .len(),
        1
    );
    // the one-statement read: an unknown key finds nothing; the live key its link, its
    // record and its holder's contact
    use sand_domain::ports::VerificationLookup as _;
    let lookup = db.store.verification_lookup();
    let unknown = sand_domain::control_key::ControlKey::parse("ZZZZ9999").unwrap();
    if unknown != link.key {
        assert!(lookup.find_verifiable(&unknown).await.unwrap().is_none());
    }
    let found = lookup.find_verifiable(&link.key).await.unwrap().unwrap();
    assert_eq!(found.link.id, link.id);
    assert_eq!(found.record.id, link.record);
    assert_eq!(found.holder.id, profile.id);
    assert!(!found.holder.notify_on_verification);
    // concurrent verifications: each gets its own key's answer (on PostgreSQL the keys
    // in flight are read together, in one statement), and every one answered valid has
    // its event stored (the single writer stores them in groups)
    let marie = db
        .store
        .profiles()
        .create(password_profile(
            "marie@exemple.fr",
            identity("Durand", &["Marie"], "2004-05-17"),
        ))
        .await
        .unwrap();
    let AttachOutcome::Attached {
        link: marie_link, ..
    } = attach
        .execute(AttachDiplomaRequest {
            profile: marie.id,
            scope: scope(),
        })
        .await
        .unwrap()
    else {
        panic!("Marie attaches her diploma")
    };
    let asked = |i: usize| -> (String, &'static str, bool) {
        match i % 5 {
            0 => (link.key.to_string(), "ndiaye loewenbruck de l estree", true),
            1 => (marie_link.key.to_string(), "DURAND", true),
            // each live key with the other's name
            2 => (link.key.to_string(), "Durand", false),
            3 => (marie_link.key.to_string(), "N'Diaye", false),
            _ => (format!("ZZZZ{:04}", 1000 + i), "DURAND", false),
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let verify = verify.clone();
        let (key, name, _) = asked(i);
        tasks.spawn(async move {
            let answer = verify
                .execute(VerifyRequest {
                    key,
                    holder_name: name.into(),
                    organisation: String::new(),
                    birth_date: None,
                    birth_date_required: false,
                })
                .await;
            (i, answer)
        });
    }
    let mut valid = 0;
    while let Some(answer) = tasks.join_next().await {
        let (i, answer) = answer.unwrap();
        let answer = answer.unwrap();
        let (key, name, expected) = asked(i);
        assert_eq!(
            matches!(answer, VerifyOutcome::Valid(_)),
            expected,
            "{key} with {name}: {answer:?}"
        );
        if let VerifyOutcome::Valid(diploma) = answer {
            assert_eq!(diploma.birth_name.as_str() == "Durand", i % 5 == 1);
        }
        valid += usize::from(expected);
    }
    assert_eq!(valid, 40);
    assert_eq!(
        db.store
            .verification_log()
            .list_for_links(&[link.id, marie_link.id])
            .await
            .unwrap()
            .len(),
        41
    );
}

/// Claims every due mail of the outbox, marks them delivered, returns them.
async fn claim_all(db: &TestStore) -> Vec<Mail> {
    let queue = db.store.mail_queue();
    let claimed = queue
        .claim_due(
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
            time::Duration::minutes(5),
            100,
        )
        .await
        .unwrap();
    for q in &claimed {
        assert_eq!(q.attempts, 1);
        queue.delivered(q.id).await.unwrap();
    }
    claimed.into_iter().map(|q| q.mail).collect()
}

pub async fn the_outbox_queues_claims_retries_and_abandons(db: &TestStore) {
    let now = time::OffsetDateTime::now_utc();
    let queue = db.store.mail_queue();
    let mailer = db.store.mailer();
    let reset = Mail::PasswordReset {
        to: Email::parse("zoe@exemple.fr").unwrap(),
        token: SecretToken::new("s3cr3t-token".into()),
    };
    let verified = Mail::AttestationVerified {
        to: Email::parse("marie@exemple.fr").unwrap(),
        scope: scope(),
        at: datetime!(2026-11-24 10:05 UTC),
        organisation: Some("Société Générale".into()),
        stop: sand_domain::SecretToken::new("arret-jeton".to_owned()),
    };
    mailer.send(reset.clone()).await.unwrap();
    mailer.send(verified.clone()).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 2);
    // the waiting links (the reset, the notice's stop link) are sealed: whoever reads
    // the database cannot use them
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM mail_outbox WHERE token LIKE 'v1:%' \
             AND token NOT LIKE '%s3cr3t%' AND token NOT LIKE '%arret-jeton%'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM mail_outbox WHERE token LIKE '%s3cr3t%'"
        )
        .await,
        0
    );

    let lease = time::Duration::minutes(5);
    let claimed = queue
        .claim_due(now + time::Duration::seconds(1), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|q| q.mail.clone()).collect::<Vec<_>>(),
        vec![reset.clone(), verified.clone()]
    );
    // leased: a second sender gets nothing until the lease ends
    assert!(
        queue
            .claim_due(now + time::Duration::seconds(2), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // the first is retried later, the second refused for good
    queue
        .retry_at(
            claimed[0].id,
            now + time::Duration::minutes(1),
            "421 try later",
        )
        .await
        .unwrap();
    queue
        .abandon(claimed[1].id, now, "550 no such user")
        .await
        .unwrap();
    assert_eq!(queue.depth().await.unwrap(), 1);
    let again = queue
        .claim_due(now + time::Duration::minutes(2), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].mail, reset);
    assert_eq!(again[0].attempts, 2);
    queue.delivered(again[0].id).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
    // neither a delivered nor an abandoned secret stays in the database
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM mail_outbox WHERE token IS NOT NULL"
        )
        .await,
        0
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM mail_outbox").await, 1);
    // the notices of a security change go through the outbox as they came
    let notices: Vec<Mail> = [
        sand_domain::ports::SecurityChange::PasswordChanged,
        sand_domain::ports::SecurityChange::PasswordReset,
        sand_domain::ports::SecurityChange::SecondFactorEnabled,
        sand_domain::ports::SecurityChange::SecondFactorDisabled,
    ]
    .into_iter()
    .map(|change| Mail::SecurityChange {
        to: Email::parse("zoe@exemple.fr").unwrap(),
        change,
    })
    .collect();
    for notice in &notices {
        mailer.send(notice.clone()).await.unwrap();
    }
    let claimed = queue
        .claim_due(now + time::Duration::minutes(10), lease, 10)
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|q| q.mail.clone()).collect::<Vec<_>>(),
        notices
    );
    for q in claimed {
        queue.delivered(q.id).await.unwrap();
    }
    // an abandoned mail keeps its address a while, then goes
    assert_eq!(
        queue
            .purge_abandoned(now - time::Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        queue
            .purge_abandoned(now + time::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(count(db, "SELECT COUNT(*) FROM mail_outbox").await, 0);
}

pub async fn sessions_and_passwords_round_trip_and_go_with_their_profile(db: &TestStore) {
    use sand_domain::ports::{SessionStore, StoredSession};
    let profiles = db.store.profiles();
    let owner = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let sessions = db.store.sessions();
    let session = |digest: &str, at: time::OffsetDateTime| StoredSession {
        digest: digest.to_owned(),
        profile: owner.id,
        created_at: at,
        last_seen_at: at,
        id_token_hint: Some("jeton".to_owned()),
    };
    sessions
        .create(session(&"a".repeat(64), NOW))
        .await
        .unwrap();
    sessions
        .create(session(&"b".repeat(64), NOW - time::Duration::hours(13)))
        .await
        .unwrap();
    let found = sessions.find(&"a".repeat(64)).await.unwrap().unwrap();
    assert_eq!(found, session(&"a".repeat(64), NOW));
    assert!(sessions.find(&"c".repeat(64)).await.unwrap().is_none());
    let later = NOW + time::Duration::minutes(5);
    sessions.touch(&"a".repeat(64), later).await.unwrap();
    assert_eq!(
        sessions
            .find(&"a".repeat(64))
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        later
    );
    // idle for an hour or older than twelve: the second one goes
    let removed = sessions
        .purge(
            NOW - time::Duration::hours(1),
            NOW - time::Duration::hours(12),
        )
        .await
        .unwrap();
    assert_eq!(removed, 1);
    sessions.delete(&"a".repeat(64)).await.unwrap();
    assert!(sessions.find(&"a".repeat(64)).await.unwrap().is_none());

    // passwords: read, replaced (which also proves the e-mail)
    assert!(profiles.password_hash(owner.id).await.unwrap().is_some());
    let new = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$bm91dmVhdQ$nouveau".to_owned());
    assert!(profiles.set_password(owner.id, new.clone()).await.unwrap());
    assert_eq!(profiles.password_hash(owner.id).await.unwrap(), Some(new));
    assert!(
        profiles
            .get(owner.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );

    // every session of a profile ends together; a deleted profile takes its sessions along
    sessions
        .create(session(&"d".repeat(64), NOW))
        .await
        .unwrap();
    sessions
        .create(session(&"e".repeat(64), NOW))
        .await
        .unwrap();
    assert_eq!(sessions.delete_for_profile(owner.id).await.unwrap(), 2);

    // a profile's sessions are listed newest first; all but one end together
    for (digest, age) in [("g", 3), ("h", 1), ("i", 2)] {
        sessions
            .create(session(
                &digest.repeat(64),
                NOW - time::Duration::hours(age),
            ))
            .await
            .unwrap();
    }
    let listed: Vec<String> = sessions
        .list_for_profile(owner.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.digest[..1].to_owned())
        .collect();
    assert_eq!(listed, ["h", "i", "g"]);
    assert_eq!(
        sessions
            .delete_others(owner.id, &"i".repeat(64))
            .await
            .unwrap(),
        2
    );
    assert!(sessions.find(&"i".repeat(64)).await.unwrap().is_some());
    assert!(sessions.find(&"h".repeat(64)).await.unwrap().is_none());
    assert_eq!(sessions.delete_for_profile(owner.id).await.unwrap(), 1);

    sessions
        .create(session(&"f".repeat(64), NOW))
        .await
        .unwrap();
    profiles.delete(owner.id, None).await.unwrap();
    assert!(sessions.find(&"f".repeat(64)).await.unwrap().is_none());
}

/// Log lines written while the guard lives, at every level.
struct CapturedLogs {
    lines: Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    fn start() -> Self {
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Sink(lines.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        Self {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap()).into_owned()
    }
}

/// An address already used, a record already linked, a key already taken: outcomes the
/// use cases expect and answer, not failures of the store. None is logged as an error
/// (the delivery side logs each real failure once, where it maps it).
pub async fn expected_refusals_are_not_logged_as_errors(db: &TestStore) {
    let (zoe_id, marie_id) = import_two(db).await;
    let logs = CapturedLogs::start();
    let profiles = db.store.profiles();
    let owner = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    assert!(profiles.mark_email_verified(owner.id).await.unwrap());
    assert!(matches!(
        profiles
            .create(password_profile("zoe@exemple.fr", zoe()))
            .await,
        Err(CreateProfileStoreError::EmailTaken)
    ));
    let other = profiles
        .create(password_profile("autre@exemple.fr", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let link = links
        .create(NewLink {
            profile: owner.id,
            record: zoe_id,
            key: key("L0GS0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    assert!(matches!(
        links
            .create(NewLink {
                profile: other.id,
                record: zoe_id,
                key: key("L0GS0002"),
                created_at: NOW,
            })
            .await,
        Err(CreateLinkStoreError::RecordAlreadyLinked)
    ));
    links
        .create(NewLink {
            profile: other.id,
            record: marie_id,
            key: key("L0GS0003"),
            created_at: NOW,
        })
        .await
        .unwrap();
    assert!(matches!(
        links
            .replace_key(link.id, owner.id, key("L0GS0003"), NOW)
            .await,
        Err(ReplaceKeyStoreError::KeyCollision)
    ));
    let text = logs.text();
    assert!(!text.contains("ERROR"), "{text}");
    assert!(!text.contains(" WARN "), "{text}");
}

/// A profile whose address was never confirmed gives way to a new registration of the
/// address, and is purged once its link expired; a confirmed one does neither.
pub async fn unconfirmed_profiles_give_way_and_are_purged(db: &TestStore) {
    let profiles = db.store.profiles();
    let pending = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let mut again = password_profile("zoe@exemple.fr", zoe());
    again.credentials = sand_domain::profile::NewCredentials::Password(PasswordHash::new(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$YXV0cmU".into(),
    ));
    let replacing = profiles.create(again).await.unwrap();
    assert_ne!(replacing.id, pending.id);
    assert_eq!(profiles.get(pending.id).await.unwrap(), None);
    assert!(profiles.mark_email_verified(replacing.id).await.unwrap());
    // confirmed: the address is taken for good
    assert!(matches!(
        profiles
            .create(password_profile("zoe@exemple.fr", zoe()))
            .await,
        Err(CreateProfileStoreError::EmailTaken)
    ));
    // a FranceConnect sign-up takes the address of a pending password profile too
    let pending = profiles
        .create(password_profile("marie@exemple.fr", zoe()))
        .await
        .unwrap();
    profiles
        .create(franceconnect_profile(
            "marie@exemple.fr",
            "sub-marie",
            zoe(),
        ))
        .await
        .unwrap();
    assert_eq!(profiles.get(pending.id).await.unwrap(), None);

    // purge: only unconfirmed password profiles created before the limit
    let old = profiles
        .create(password_profile("ancien@exemple.fr", zoe()))
        .await
        .unwrap();
    let limit = NOW + time::Duration::seconds(1);
    assert_eq!(profiles.purge_unconfirmed(limit).await.unwrap(), 1);
    assert_eq!(profiles.get(old.id).await.unwrap(), None);
    assert!(profiles.get(replacing.id).await.unwrap().is_some());
    assert_eq!(profiles.purge_unconfirmed(limit).await.unwrap(), 0);
}

/// A certified claimant takes a record: the old link ends (its key with it), the new
/// one is active, the event is logged for the exam office (and outlives the previous
/// holder's profile), the previous holder is told and sees it; a stale request
/// changes nothing.
pub async fn a_link_taken_over_ends_at_once_and_is_logged_and_told(db: &TestStore) {
    let (zoe_id, marie_id) = import_two(db).await;
    let profiles = db.store.profiles();
    let squatter = profiles
        .create(password_profile("squat@exemple.fr", zoe()))
        .await
        .unwrap();
    let claimant = profiles
        .create(franceconnect_profile("zoe@exemple.fr", "sub-zoe", zoe()))
        .await
        .unwrap();
    let links = db.store.links();
    let old = links
        .create(NewLink {
            profile: squatter.id,
            record: zoe_id,
            key: key("SQAA0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let notice = Mail::AttestationTakenOver {
        to: Email::parse("squat@exemple.fr").unwrap(),
        scope: scope(),
    };
    let new_link = |k: &str| NewLink {
        profile: claimant.id,
        record: zoe_id,
        key: key(k),
        created_at: NOW,
    };
    // a stale request (wrong holder) changes nothing
    assert!(matches!(
        links
            .take_over(old.id, claimant.id, new_link("TAKE0001"), notice.clone())
            .await,
        Err(TakeOverStoreError::Changed)
    ));
    // a key in use is a collision, and nothing changed either
    links
        .create(NewLink {
            profile: claimant.id,
            record: marie_id,
            key: key("XYZW0002"),
            created_at: NOW,
        })
        .await
        .unwrap();
    assert!(matches!(
        links
            .take_over(old.id, squatter.id, new_link("XYZW0002"), notice.clone())
            .await,
        Err(TakeOverStoreError::KeyCollision)
    ));
    assert!(
        links
            .find_active_by_key(&key("SQAA0001"))
            .await
            .unwrap()
            .is_some()
    );

    let taken = links
        .take_over(old.id, squatter.id, new_link("TAKE0001"), notice.clone())
        .await
        .unwrap();
    assert_eq!(taken.profile, claimant.id);
    assert!(taken.is_active());
    assert_eq!(
        links.find_active_by_key(&key("SQAA0001")).await.unwrap(),
        None
    );
    assert_eq!(
        links.find_active_by_key(&key("TAKE0001")).await.unwrap(),
        Some(taken.clone())
    );
    assert!(
        links
            .list_for_profile(squatter.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        links.taken_from(squatter.id).await.unwrap(),
        vec![sand_domain::ports::TakenLink {
            record: zoe_id,
            at: NOW,
            by: sand_domain::link::LinkEndedBy::CertifiedClaimant,
        }]
    );
    assert!(links.taken_from(claimant.id).await.unwrap().is_empty());
    assert_eq!(claim_all(db).await, vec![notice]);
    assert_eq!(links.list_for_profile(claimant.id).await.unwrap().len(), 2);
    // taking it again from the squatter: it is no longer theirs
    assert!(matches!(
        links
            .take_over(
                old.id,
                squatter.id,
                new_link("TAKE0002"),
                Mail::ProfileDeleted {
                    to: Email::parse("squat@exemple.fr").unwrap()
                }
            )
            .await,
        Err(TakeOverStoreError::Changed)
    ));

    // the event outlives the previous holder's profile, without it
    profiles.delete(squatter.id, None).await.unwrap();
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM link_event WHERE previous_profile_id IS NULL \
             AND kind = 'taken_by_certified_claimant'"
        )
        .await,
        1
    );
}

fn staff_member(
    login: &str,
    role: sand_domain::staff::Role,
    issuers: &[&str],
) -> sand_domain::staff::NewStaffMember {
    sand_domain::staff::NewStaffMember {
        login: sand_domain::staff::StaffLogin::parse(login).unwrap(),
        name: format!("Agent {login}"),
        role,
        issuers: issuers
            .iter()
            .map(|c| sand_domain::issuer::IssuerCode::parse(c).unwrap())
            .collect(),
        email: None,
        siret: None,
        created_at: NOW,
    }
}

fn operator_entry(
    action: sand_domain::staff::audit::AuditAction,
    detail: &str,
    at: time::OffsetDateTime,
) -> sand_domain::staff::audit::NewAuditEntry {
    sand_domain::staff::audit::NewAuditEntry {
        at,
        actor: sand_domain::staff::audit::Actor::Operator("root".to_owned()),
        action,
        records: Vec::new(),
        link: None,
        batch: None,
        detail: detail.to_owned(),
        origin: "cli".to_owned(),
    }
}

pub async fn staff_members_are_found_by_address_changed_and_their_sessions_ended(db: &TestStore) {
    use sand_domain::credentials::Email;
    use sand_domain::ports::{AddStaffStoreError, AuditLog as _, StaffDirectory as _};
    use sand_domain::profile::second_factor::TotpSecret;
    use sand_domain::staff::audit::AuditAction;
    use sand_domain::staff::sign_in::Siret;
    use sand_domain::staff::{Role, StaffChange};

    let directory = db.store.staff();
    let secret = TotpSecret::new(vec![9; 20]);
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let mut new = staff_member("lyon.n2", Role::ExamOffice, &["10"]);
    new.email = Some(Email::parse("Claire.Moreau@ac-lyon.fr").unwrap());
    new.siret = Some(Siret::parse("19691234500013").unwrap());
    let lyon = directory
        .add(
            &new,
            &hash,
            &secret,
            &operator_entry(AuditAction::StaffAdd, "lyon.n2", NOW),
        )
        .await
        .unwrap();
    // by address, whatever its case
    let found = directory
        .find_by_email(&Email::parse("claire.moreau@AC-LYON.fr").unwrap())
        .await
        .unwrap()
        .expect("found by address");
    assert_eq!(found, lyon);
    assert_eq!(found.siret.as_ref().unwrap().as_str(), "19691234500013");
    assert!(
        directory
            .find_by_email(&Email::parse("personne@ac-lyon.fr").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // an address is one agent's: a second is refused, at adding as at changing
    let mut twin = staff_member("lyon.bis", Role::Auditor, &[]);
    twin.email = new.email.clone();
    assert!(matches!(
        directory
            .add(
                &twin,
                &hash,
                &secret,
                &operator_entry(AuditAction::StaffAdd, "twin", NOW)
            )
            .await,
        Err(AddStaffStoreError::EmailTaken)
    ));
    twin.email = None;
    let other = directory
        .add(
            &twin,
            &hash,
            &secret,
            &operator_entry(AuditAction::StaffAdd, "other", NOW),
        )
        .await
        .unwrap();
    let steal = StaffChange {
        role: Role::Auditor,
        issuers: Vec::new(),
        email: new.email.clone(),
        siret: None,
    };
    let rows_before = db
        .store
        .audit_log()
        .entries(
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            100,
        )
        .await
        .unwrap()
        .len();
    assert!(matches!(
        directory
            .change(
                &other.login,
                &steal,
                None,
                &operator_entry(AuditAction::StaffChange, "steal", NOW)
            )
            .await,
        Err(AddStaffStoreError::EmailTaken)
    ));
    // a change of rights, with its audit row in the same transaction, ends the sessions
    let later = NOW + time::Duration::minutes(5);
    let change = StaffChange {
        role: Role::ExamOffice,
        issuers: vec![
            sand_domain::issuer::IssuerCode::parse("10").unwrap(),
            sand_domain::issuer::IssuerCode::parse("08").unwrap(),
        ],
        email: Some(Email::parse("c.moreau@ac-lyon.fr").unwrap()),
        siret: None,
    };
    assert!(
        directory
            .change(
                &lyon.login,
                &change,
                Some(later),
                &operator_entry(AuditAction::StaffChange, "lyon.n2", later)
            )
            .await
            .unwrap()
    );
    let changed = directory
        .credentials(&lyon.login)
        .await
        .unwrap()
        .unwrap()
        .member;
    assert_eq!(changed.issuers, change.issuers);
    assert_eq!(changed.email, change.email);
    assert_eq!(changed.siret, None);
    assert_eq!(changed.sessions_valid_from, Some(later));
    assert!(!changed.session_holds(NOW + time::Duration::minutes(4)));
    assert!(changed.session_holds(later));
    let rows = db
        .store
        .audit_log()
        .entries(
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        rows_before + 1,
        "the refused change wrote nothing"
    );
    assert_eq!(rows.last().unwrap().entry.action, AuditAction::StaffChange);
    assert!(
        !directory
            .change(
                &sand_domain::staff::StaffLogin::parse("personne").unwrap(),
                &change,
                None,
                &operator_entry(AuditAction::StaffChange, "personne", later),
            )
            .await
            .unwrap()
    );
    // a logout ends every session opened before it, with its audit row
    let logout = later + time::Duration::minutes(1);
    directory
        .end_sessions(
            lyon.id,
            logout,
            &operator_entry(AuditAction::Logout, "", logout),
        )
        .await
        .unwrap();
    let out = directory
        .credentials(&lyon.login)
        .await
        .unwrap()
        .unwrap()
        .member;
    assert_eq!(out.sessions_valid_from, Some(logout));
    assert!(!out.session_holds(later));
}

pub async fn staff_members_round_trip_with_their_second_factor_and_logins_are_unique(
    db: &TestStore,
) {
    use sand_domain::ports::{AddStaffStoreError, AuditLog as _, StaffDirectory as _};
    use sand_domain::profile::second_factor::TotpSecret;
    use sand_domain::staff::Role;
    use sand_domain::staff::audit::AuditAction;

    let directory = db.store.staff();
    let secret = TotpSecret::new(vec![9; 20]);
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let lyon = directory
        .add(
            &staff_member("lyon.n2", Role::ExamOffice, &["10", "SIEC"]),
            &hash,
            &secret,
            &operator_entry(AuditAction::StaffAdd, "lyon.n2", NOW),
        )
        .await
        .unwrap();
    assert_eq!(lyon.issuers.len(), 2);
    let again = directory
        .add(
            &staff_member("lyon.n2", Role::Auditor, &[]),
            &hash,
            &secret,
            &operator_entry(AuditAction::StaffAdd, "lyon.n2 again", NOW),
        )
        .await;
    assert!(matches!(again, Err(AddStaffStoreError::LoginTaken)));

    let found = directory
        .credentials(&lyon.login)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(found.member, lyon);
    assert_eq!(found.totp, secret);
    assert_eq!(found.password, hash);
    assert_eq!(found.last_step, None);
    assert!(
        directory
            .credentials(&sand_domain::staff::StaffLogin::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    // the secret is sealed (nonce, ciphertext, tag), never in clear
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM staff_member WHERE length(totp_sealed) = 24 + 20 + 16"
        )
        .await,
        1
    );
    // a code works once
    assert!(directory.accept_totp_step(lyon.id, 100).await.unwrap());
    assert!(!directory.accept_totp_step(lyon.id, 100).await.unwrap());
    assert!(!directory.accept_totp_step(lyon.id, 99).await.unwrap());
    assert!(directory.accept_totp_step(lyon.id, 101).await.unwrap());
    assert_eq!(directory.list().await.unwrap(), vec![lyon.clone()]);

    // closing: once, audited; the account stays, closed
    let close = operator_entry(AuditAction::StaffChange, "lyon.n2 : compte fermé", NOW);
    assert!(directory.close(&lyon.login, NOW, &close).await.unwrap());
    assert!(
        !directory.close(&lyon.login, NOW, &close).await.unwrap(),
        "already closed"
    );
    assert_eq!(
        directory
            .credentials(&lyon.login)
            .await
            .unwrap()
            .unwrap()
            .member
            .disabled_at,
        Some(NOW)
    );

    // the addition was audited in its transaction; the refused one was not
    let rows = db
        .store
        .audit_log()
        .entries(
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            100,
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the addition and the one closing");
    assert_eq!(rows[0].entry.action, AuditAction::StaffAdd);
    assert_eq!(rows[0].entry.detail, "lyon.n2");
    assert_eq!(rows[1].entry.action, AuditAction::StaffChange);
}

pub async fn the_audit_log_appends_reads_in_order_and_purges_only_past_its_retention(
    db: &TestStore,
) {
    use sand_domain::ports::AuditLog as _;
    use sand_domain::record::RecordId;
    use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};
    use sand_domain::staff::{StaffId, StaffLogin};

    let log = db.store.audit_log();
    let old = NOW - time::Duration::days(400);
    let agent = Actor::Staff {
        id: StaffId(Uuid::new_v4()),
        login: StaffLogin::parse("lyon.n2").unwrap(),
    };
    let seen = vec![RecordId(Uuid::new_v4()), RecordId(Uuid::new_v4())];
    for (at, action) in [
        (old, AuditAction::RecordSearch),
        (NOW, AuditAction::RecordView),
    ] {
        log.append(&NewAuditEntry {
            at,
            actor: agent.clone(),
            action,
            records: seen.clone(),
            link: None,
            batch: None,
            // hostile detail: stored as text, clipped to its column
            detail: format!("'; DROP TABLE audit_log; -- {}", "x".repeat(1000)),
            origin: "203.0.113.7".to_owned(),
        })
        .await
        .unwrap();
    }
    let all = log
        .entries(
            old - time::Duration::days(1),
            NOW + time::Duration::days(1),
            10,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].seq < all[1].seq);
    assert_eq!(all[0].entry.actor, agent);
    assert_eq!(all[0].entry.records, seen);
    assert_eq!(all[1].entry.detail.chars().count(), 400);
    assert_eq!(
        log.entries(
            old - time::Duration::days(1),
            NOW + time::Duration::days(1),
            1
        )
        .await
        .unwrap()
        .len(),
        1,
        "limited"
    );

    let cutoff = NOW - time::Duration::days(365);
    let removed = log
        .purge_before(
            cutoff,
            &operator_entry(AuditAction::AuditPurge, "avant 2025-11-24", NOW),
        )
        .await
        .unwrap();
    assert_eq!(removed, 1);
    let left = log
        .entries(
            old - time::Duration::days(1),
            NOW + time::Duration::days(1),
            10,
        )
        .await
        .unwrap();
    let actions: Vec<AuditAction> = left.iter().map(|e| e.entry.action).collect();
    assert_eq!(actions, [AuditAction::RecordView, AuditAction::AuditPurge]);
    assert_eq!(
        left[1].entry.actor,
        Actor::Operator("root".to_owned()),
        "the purge is itself audited"
    );
}

pub async fn the_exam_office_desk_sees_only_its_scope_audits_each_read_and_releases_links(
    db: &TestStore,
) {
    use sand_domain::issuer::IssuerRegistry;
    use sand_domain::link::LinkEndedBy;
    use sand_domain::ports::{AuditLog as _, ExamOfficeDesk as _};
    use sand_domain::record::CandidateNumber;
    use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};
    use sand_domain::staff::records::{RecordQuery, ReleaseReason};
    use sand_domain::staff::{Role, StaffId, StaffLogin, StaffMember, StaffScope};

    let (zoe_id, marie_id) = import_two(db).await;
    let registry = IssuerRegistry::offices_only();
    let agent = |login: &str, issuer: &str| StaffMember {
        id: StaffId(Uuid::new_v4()),
        login: StaffLogin::parse(login).unwrap(),
        name: login.to_owned(),
        role: Role::ExamOffice,
        issuers: vec![sand_domain::issuer::IssuerCode::parse(issuer).unwrap()],
        email: None,
        siret: None,
        created_at: NOW,
        disabled_at: None,
        sessions_valid_from: None,
    };
    let (lyon, siec) = (agent("lyon.n2", "10"), agent("siec.n2", "SIEC"));
    let (in_lyon, in_paris) = (
        StaffScope::of(&lyon, &registry),
        StaffScope::of(&siec, &registry),
    );
    let audit = |who: &StaffMember, action| NewAuditEntry {
        at: NOW,
        actor: Actor::Staff {
            id: who.id,
            login: who.login.clone(),
        },
        action,
        records: Vec::new(),
        link: None,
        batch: None,
        detail: String::new(),
        origin: "198.51.100.4".to_owned(),
    };
    let desk = db.store.exam_office_desk();

    let by_number = RecordQuery::CandidateNumber(CandidateNumber::parse("C001").unwrap());
    let found = desk
        .search(
            &in_lyon,
            &by_number,
            50,
            &audit(&lyon, AuditAction::RecordSearch),
        )
        .await
        .unwrap();
    assert_eq!(found.iter().map(|r| r.id).collect::<Vec<_>>(), [zoe_id]);
    assert!(
        desk.search(
            &in_paris,
            &by_number,
            50,
            &audit(&siec, AuditAction::RecordSearch)
        )
        .await
        .unwrap()
        .is_empty(),
        "Paris's office does not see Lyon's records"
    );
    assert!(
        desk.search(
            &StaffScope::default(),
            &by_number,
            50,
            &audit(&siec, AuditAction::RecordSearch)
        )
        .await
        .unwrap()
        .is_empty(),
        "an empty scope sees nothing"
    );
    let by_name = RecordQuery::NameAndBirthDate {
        birth_name_key: identity("Durand", &["Marie"], "2004-05-17")
            .key()
            .birth_name,
        birth_date: time::macros::date!(2004 - 05 - 17),
    };
    assert_eq!(
        desk.search(
            &in_lyon,
            &by_name,
            50,
            &audit(&lyon, AuditAction::RecordSearch)
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect::<Vec<_>>(),
        [marie_id]
    );

    // a record by id: Lyon's only (URL tampering finds nothing)
    let detail = desk
        .record(&in_lyon, zoe_id, &audit(&lyon, AuditAction::RecordView))
        .await
        .unwrap()
        .expect("in scope");
    assert_eq!(detail.batch.record_count, 2);
    assert_eq!(detail.link, None);
    assert!(
        desk.record(&in_paris, zoe_id, &audit(&siec, AuditAction::RecordView))
            .await
            .unwrap()
            .is_none()
    );

    // near a typed identity: same birth date (swapped too) or same birth name
    let near = desk
        .near(
            &in_lyon,
            &scope(),
            &identity("Durand", &["Marie"], "2004-05-17")
                .key()
                .birth_name,
            &[time::macros::date!(2004 - 02 - 29)],
            50,
            &audit(&lyon, AuditAction::AttachDiagnosis),
        )
        .await
        .unwrap();
    assert_eq!(near.len(), 2, "Marie by name, Zoë by birth date");
    assert!(
        desk.near(
            &in_paris,
            &scope(),
            "DURAND",
            &[time::macros::date!(2004 - 02 - 29)],
            50,
            &audit(&siec, AuditAction::AttachDiagnosis),
        )
        .await
        .unwrap()
        .is_empty()
    );

    let batches = desk
        .batches(&in_lyon, 10, &audit(&lyon, AuditAction::ImportHistory))
        .await
        .unwrap();
    assert_eq!(batches.len(), 1);
    assert!(
        desk.batches(&in_paris, 10, &audit(&siec, AuditAction::ImportHistory))
            .await
            .unwrap()
            .is_empty()
    );

    // releasing: Zoë's link ends, her key with it; she is told and her space says so
    let holder = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let link = db
        .store
        .links()
        .create(NewLink {
            profile: holder.id,
            record: zoe_id,
            key: key("R3L3A5E1"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let seen = desk
        .record(&in_lyon, zoe_id, &audit(&lyon, AuditAction::RecordView))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.link.as_ref().map(|l| l.id), Some(link.id));
    assert_eq!(seen.link.as_ref().map(|l| l.verifications), Some(0));
    assert_eq!(
        desk.release(
            &in_paris,
            zoe_id,
            ReleaseReason::ProvenSquat,
            NOW,
            &audit(&siec, AuditAction::LinkRelease)
        )
        .await
        .unwrap(),
        None,
        "Paris cannot release Lyon's link"
    );
    assert_eq!(
        desk.release(
            &in_lyon,
            zoe_id,
            ReleaseReason::LostAccess,
            NOW,
            &audit(&lyon, AuditAction::LinkRelease)
        )
        .await
        .unwrap(),
        Some(link.id)
    );
    assert!(
        db.store
            .links()
            .find_by_record(zoe_id)
            .await
            .unwrap()
            .is_none(),
        "the link and its key are gone"
    );
    assert_eq!(
        desk.release(
            &in_lyon,
            zoe_id,
            ReleaseReason::LostAccess,
            NOW,
            &audit(&lyon, AuditAction::LinkRelease)
        )
        .await
        .unwrap(),
        None,
        "nothing left to release"
    );
    let taken = db.store.links().taken_from(holder.id).await.unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].by, LinkEndedBy::ExamOffice);
    assert_eq!(
        claim_all(db).await,
        vec![Mail::LinkReleased {
            to: Email::parse("zoe@exemple.fr").unwrap(),
            scope: scope(),
            reason: ReleaseReason::LostAccess,
        }]
    );

    // every call wrote its row, with the ids it returned and nothing personal
    let rows = db
        .store
        .audit_log()
        .entries(
            NOW - time::Duration::days(1),
            NOW + time::Duration::days(1),
            100,
        )
        .await
        .unwrap();
    let actions: Vec<(String, AuditAction, usize)> = rows
        .iter()
        .map(|r| (r.entry.actor.name(), r.entry.action, r.entry.records.len()))
        .collect();
    assert_eq!(
        actions,
        [
            ("lyon.n2".to_owned(), AuditAction::RecordSearch, 1),
            ("siec.n2".to_owned(), AuditAction::RecordSearch, 0),
            ("siec.n2".to_owned(), AuditAction::RecordSearch, 0),
            ("lyon.n2".to_owned(), AuditAction::RecordSearch, 1),
            ("lyon.n2".to_owned(), AuditAction::RecordView, 1),
            ("siec.n2".to_owned(), AuditAction::RecordView, 0),
            ("lyon.n2".to_owned(), AuditAction::AttachDiagnosis, 2),
            ("siec.n2".to_owned(), AuditAction::AttachDiagnosis, 0),
            ("lyon.n2".to_owned(), AuditAction::ImportHistory, 0),
            ("siec.n2".to_owned(), AuditAction::ImportHistory, 0),
            ("lyon.n2".to_owned(), AuditAction::RecordView, 1),
            ("siec.n2".to_owned(), AuditAction::LinkRelease, 0),
            ("lyon.n2".to_owned(), AuditAction::LinkRelease, 1),
            ("lyon.n2".to_owned(), AuditAction::LinkRelease, 0),
        ]
    );
    assert!(
        rows[5]
            .entry
            .detail
            .contains(&format!("introuvable : {}", zoe_id.0)),
        "the tampered id is named: {:?}",
        rows[5].entry
    );
    let release = &rows[rows.len() - 2];
    assert_eq!(release.entry.link, Some(link.id));
    assert_eq!(release.entry.records, [zoe_id]);

    // the history counts the records a later import withdrew
    assert_eq!(batches[0].withdrawn, 0);
    db.store
        .record_writer()
        .replace_batch(&batch(vec![new_record(2, "C001", zoe())], true, 2))
        .await
        .unwrap();
    let after = desk
        .batches(&in_lyon, 10, &audit(&lyon, AuditAction::ImportHistory))
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0].withdrawn, 1,
        "Marie's record, absent from the new batch"
    );
    assert_eq!(after[0].batch.record_count, 1);
}

/// Lyon's exam office releases the link of `record` from the back office (the desk's
/// own scope and audit row); the link released, if any.
async fn release_in_lyon(db: &TestStore, record: RecordId) -> Option<sand_domain::link::LinkId> {
    use sand_domain::ports::ExamOfficeDesk as _;
    use sand_domain::staff::audit::{Actor, AuditAction, NewAuditEntry};
    use sand_domain::staff::records::ReleaseReason;
    use sand_domain::staff::{Role, StaffId, StaffLogin, StaffMember, StaffScope};
    let agent = StaffMember {
        id: StaffId(Uuid::new_v4()),
        login: StaffLogin::parse("lyon.n2").unwrap(),
        name: "lyon.n2".to_owned(),
        role: Role::ExamOffice,
        issuers: vec![sand_domain::issuer::IssuerCode::parse("10").unwrap()],
        email: None,
        siret: None,
        created_at: NOW,
        disabled_at: None,
        sessions_valid_from: None,
    };
    let in_lyon = StaffScope::of(&agent, &sand_domain::issuer::IssuerRegistry::offices_only());
    db.store
        .exam_office_desk()
        .release(
            &in_lyon,
            record,
            ReleaseReason::LostAccess,
            NOW,
            &NewAuditEntry {
                at: NOW,
                actor: Actor::Staff {
                    id: agent.id,
                    login: agent.login.clone(),
                },
                action: AuditAction::LinkRelease,
                records: Vec::new(),
                link: None,
                batch: None,
                detail: String::new(),
                origin: "198.51.100.4".to_owned(),
            },
        )
        .await
        .unwrap()
}

/// Shares `link` of `profile`, valid until `expires_at`; the token is `byte` repeated.
async fn share(
    db: &TestStore,
    profile: ProfileId,
    link: sand_domain::link::LinkId,
    byte: u8,
    expires_at: time::OffsetDateTime,
) -> Result<sand_domain::sharing::ShareLink, sand_domain::ports::CreateShareStoreError> {
    use sand_domain::ports::ShareLinkStore as _;
    use sand_domain::sharing::{MAX_LIVE_SHARES, NewShareLink, ShareLabel, ShareToken};
    db.store
        .share_links()
        .create(
            NewShareLink {
                profile,
                link,
                label: ShareLabel::parse(&format!("Destinataire {byte}")).unwrap(),
                token: ShareToken::from_random_bytes([byte; 32]),
                created_at: NOW,
                expires_at,
            },
            MAX_LIVE_SHARES,
        )
        .await
}

/// Whether the share link of token `byte` opens at `at`.
async fn opens(db: &TestStore, byte: u8, at: time::OffsetDateTime) -> bool {
    use sand_domain::ports::ShareLinkStore as _;
    use sand_domain::sharing::ShareToken;
    db.store
        .share_links()
        .find_open(&ShareToken::from_random_bytes([byte; 32]), at)
        .await
        .unwrap()
        .is_some()
}

pub async fn share_links_open_until_expiry_or_revocation_and_die_with_their_link_in_every_way(
    db: &TestStore,
) {
    use sand_domain::ports::{CreateShareStoreError, ShareLinkStore as _};
    use time::Duration;

    let (zoe_id, marie_id) = import_two(db).await;
    let profiles = db.store.profiles();
    let links = db.store.links();
    let shares = db.store.share_links();
    let holder = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let stranger = profiles
        .create(password_profile("autre@exemple.fr", zoe()))
        .await
        .unwrap();
    let month = NOW + Duration::days(30);
    let attach = |profile: ProfileId, record: RecordId, k: &'static str| {
        let links = links.clone();
        async move {
            links
                .create(NewLink {
                    profile,
                    record,
                    key: key(k),
                    created_at: NOW,
                })
                .await
                .unwrap()
        }
    };

    // opens until its expiry; the token is read back (sealed) for its holder
    let first = attach(holder.id, zoe_id, "SHAR0001").await;
    let made = share(db, holder.id, first.id, 1, NOW + Duration::hours(1))
        .await
        .unwrap();
    assert!(opens(db, 1, NOW).await);
    assert!(!opens(db, 1, NOW + Duration::hours(1)).await, "expired");
    assert!(!opens(db, 2, NOW).await, "unknown token");
    let listed = shares.list_for_profile(holder.id).await.unwrap();
    assert_eq!(listed, vec![made.clone()]);
    assert!(
        shares
            .list_for_profile(stranger.id)
            .await
            .unwrap()
            .is_empty()
    );
    // only its holder revokes it, once
    assert!(!shares.revoke(made.id, stranger.id, NOW).await.unwrap());
    assert!(opens(db, 1, NOW).await);
    assert!(shares.revoke(made.id, holder.id, NOW).await.unwrap());
    assert!(!shares.revoke(made.id, holder.id, NOW).await.unwrap());
    assert!(!opens(db, 1, NOW).await, "revoked");
    // nobody shares a link that is not theirs
    assert!(matches!(
        share(db, stranger.id, first.id, 3, month).await,
        Err(CreateShareStoreError::LinkNotFound)
    ));

    // renewing the key is not an end: the share link lives on
    share(db, holder.id, first.id, 4, month).await.unwrap();
    links
        .replace_key(first.id, holder.id, key("SHAR0002"), NOW)
        .await
        .unwrap();
    assert!(opens(db, 4, NOW).await, "alive after a new key");

    // 1. the holder deletes the attestation
    assert!(links.delete_owned(first.id, holder.id).await.unwrap());
    assert!(!opens(db, 4, NOW).await, "dies with a deleted attestation");
    assert!(shares.list_for_profile(holder.id).await.unwrap().is_empty());

    // 2. a certified claimant takes the record over
    let taken = attach(holder.id, zoe_id, "SHAR0003").await;
    share(db, holder.id, taken.id, 5, month).await.unwrap();
    let claimant = profiles
        .create(franceconnect_profile(
            "vraie.zoe@exemple.fr",
            "sub-zoe",
            zoe(),
        ))
        .await
        .unwrap();
    let claimed = links
        .take_over(
            taken.id,
            holder.id,
            NewLink {
                profile: claimant.id,
                record: zoe_id,
                key: key("SHAR0004"),
                created_at: NOW,
            },
            Mail::AttestationTakenOver {
                to: Email::parse("zoe@exemple.fr").unwrap(),
                scope: scope(),
            },
        )
        .await
        .unwrap();
    assert!(!opens(db, 5, NOW).await, "dies when taken over");
    assert!(
        shares
            .list_for_profile(claimant.id)
            .await
            .unwrap()
            .is_empty()
    );

    // 3. the exam office releases the link from the back office
    share(db, claimant.id, claimed.id, 6, month).await.unwrap();
    let released = release_in_lyon(db, zoe_id).await;
    assert_eq!(released, Some(claimed.id));
    assert!(
        !opens(db, 6, NOW).await,
        "dies when the exam office releases"
    );

    // 4. the holder deletes the profile
    let again = attach(holder.id, zoe_id, "SHAR0005").await;
    share(db, holder.id, again.id, 7, month).await.unwrap();
    profiles.delete(holder.id, None).await.unwrap();
    assert!(!opens(db, 7, NOW).await, "dies with the profile");
    assert_eq!(count(db, "SELECT COUNT(*) FROM share_link").await, 0);

    // 5. a corrected import withdraws the record
    let marie_holder = profiles
        .create(password_profile(
            "marie@exemple.fr",
            identity("Durand", &["Marie"], "2004-05-17"),
        ))
        .await
        .unwrap();
    let maries = attach(marie_holder.id, marie_id, "SHAR0006").await;
    share(db, marie_holder.id, maries.id, 8, month)
        .await
        .unwrap();
    assert!(opens(db, 8, NOW).await);
    db.store
        .record_writer()
        .replace_batch(&batch(vec![new_record(2, "C001", zoe())], true, 2))
        .await
        .unwrap();
    assert!(
        !opens(db, 8, NOW).await,
        "dies when its record is withdrawn"
    );
    // the withdrawn link cannot be shared again
    assert!(matches!(
        share(db, marie_holder.id, maries.id, 9, month).await,
        Err(CreateShareStoreError::LinkNotFound)
    ));
}

pub async fn a_profile_holds_a_bounded_number_of_live_share_links(db: &TestStore) {
    use sand_domain::ports::{CreateShareStoreError, ShareLinkStore as _};
    use sand_domain::sharing::MAX_LIVE_SHARES;
    use time::Duration;

    let (zoe_id, _) = import_two(db).await;
    let holder = db
        .store
        .profiles()
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let link = db
        .store
        .links()
        .create(NewLink {
            profile: holder.id,
            record: zoe_id,
            key: key("LIMI0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let month = NOW + Duration::days(30);
    // an expired one does not count
    share(db, holder.id, link.id, 200, NOW).await.unwrap();
    let mut made = Vec::new();
    for n in 0..MAX_LIVE_SHARES {
        made.push(
            share(db, holder.id, link.id, u8::try_from(n).unwrap(), month)
                .await
                .unwrap(),
        );
    }
    assert!(matches!(
        share(db, holder.id, link.id, 100, month).await,
        Err(CreateShareStoreError::TooManyLive)
    ));
    // a revoked one frees a place
    db.store
        .share_links()
        .revoke(made[0].id, holder.id, NOW)
        .await
        .unwrap();
    share(db, holder.id, link.id, 100, month).await.unwrap();
    // the token is not in the database in clear
    let token = made[1].token.expose().to_owned();
    let conn = db.store.connection();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT label, token_hash, token_sealed FROM share_link".to_owned(),
        ))
        .await
        .unwrap();
    for row in rows {
        for column in ["token_hash", "token_sealed"] {
            let bytes: Vec<u8> = row.try_get("", column).unwrap();
            assert!(!bytes.windows(32).any(|w| w == token.as_bytes()));
            assert!(!hex_of(&bytes).contains(&token));
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn credentials_issued_from_a_link_are_revoked_in_every_way_the_link_ends(db: &TestStore) {
    use sand_domain::credential_status::{
        AllocateStatusError, CredentialState, CredentialStatusStore as _, LIST_SIZE,
    };

    let (zoe_id, marie_id) = import_two(db).await;
    let profiles = db.store.profiles();
    let links = db.store.links();
    let status = db.store.credential_status();
    let holder = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let attach = |profile: ProfileId, record: RecordId, k: &'static str| {
        let links = links.clone();
        async move {
            links
                .create(NewLink {
                    profile,
                    record,
                    key: key(k),
                    created_at: NOW,
                })
                .await
                .unwrap()
        }
    };
    let state = |entry| {
        let status = status.clone();
        async move { status.state(entry).await.unwrap() }
    };

    // issued valid, at random indexes of list 0
    let first = attach(holder.id, zoe_id, "CRED0001").await;
    let a = status.allocate(first.id, NOW).await.unwrap();
    let b = status.allocate(first.id, NOW).await.unwrap();
    assert_eq!((a.list.0, b.list.0), (0, 0));
    assert!(a.index < LIST_SIZE && a.index != b.index);
    assert_eq!(state(a).await, Some(CredentialState::Valid));
    // a new key is not an end
    links
        .replace_key(first.id, holder.id, key("CRED0002"), NOW)
        .await
        .unwrap();
    assert_eq!(state(a).await, Some(CredentialState::Valid));

    // 1. the holder deletes the attestation: both revoked, and the entries outlive the link
    assert!(links.delete_owned(first.id, holder.id).await.unwrap());
    assert_eq!(state(a).await, Some(CredentialState::Invalid));
    assert_eq!(state(b).await, Some(CredentialState::Invalid));
    let mut invalid = status.invalid_in(a.list).await.unwrap();
    invalid.sort_unstable();
    let mut expected = vec![a.index, b.index];
    expected.sort_unstable();
    assert_eq!(invalid, expected);
    assert!(matches!(
        status.allocate(first.id, NOW).await,
        Err(AllocateStatusError::LinkNotActive)
    ));

    // 2. a certified claimant takes the record over
    let taken = attach(holder.id, zoe_id, "CRED0003").await;
    let c = status.allocate(taken.id, NOW).await.unwrap();
    let claimant = profiles
        .create(franceconnect_profile(
            "vraie.zoe@exemple.fr",
            "sub-zoe",
            zoe(),
        ))
        .await
        .unwrap();
    let claimed = links
        .take_over(
            taken.id,
            holder.id,
            NewLink {
                profile: claimant.id,
                record: zoe_id,
                key: key("CRED0004"),
                created_at: NOW,
            },
            Mail::AttestationTakenOver {
                to: Email::parse("zoe@exemple.fr").unwrap(),
                scope: scope(),
            },
        )
        .await
        .unwrap();
    assert_eq!(state(c).await, Some(CredentialState::Invalid));

    // 3. the exam office releases the link
    let d = status.allocate(claimed.id, NOW).await.unwrap();
    release_in_lyon(db, zoe_id).await.unwrap();
    assert_eq!(state(d).await, Some(CredentialState::Invalid));

    // 4. the holder deletes the profile (the link goes by cascade)
    let again = attach(holder.id, zoe_id, "CRED0005").await;
    let e = status.allocate(again.id, NOW).await.unwrap();
    profiles.delete(holder.id, None).await.unwrap();
    assert_eq!(state(e).await, Some(CredentialState::Invalid));

    // 5. a corrected import withdraws the record
    let marie_holder = profiles
        .create(password_profile(
            "marie@exemple.fr",
            identity("Durand", &["Marie"], "2004-05-17"),
        ))
        .await
        .unwrap();
    let maries = attach(marie_holder.id, marie_id, "CRED0006").await;
    let f = status.allocate(maries.id, NOW).await.unwrap();
    let zoe_again = attach(marie_holder.id, zoe_id, "CRED0007").await;
    let kept = status.allocate(zoe_again.id, NOW).await.unwrap();
    db.store
        .record_writer()
        .replace_batch(&batch(vec![new_record(2, "C001", zoe())], true, 2))
        .await
        .unwrap();
    assert_eq!(state(f).await, Some(CredentialState::Invalid));
    // the link the import kept is untouched
    assert_eq!(state(kept).await, Some(CredentialState::Valid));
    assert!(matches!(
        status.allocate(maries.id, NOW).await,
        Err(AllocateStatusError::LinkNotActive)
    ));
    // nothing else was revoked, and an unknown index has no state
    assert_eq!(status.invalid_in(a.list).await.unwrap().len(), 6);
    let unused = (0..LIST_SIZE)
        .find(|i| ![a, b, c, d, e, f, kept].iter().any(|x| x.index == *i))
        .unwrap();
    assert_eq!(
        state(sand_domain::credential_status::StatusEntry {
            list: a.list,
            index: unused
        })
        .await,
        None
    );
}

/// A wallet offer: its code mailed in the offer's transaction; redeemed once with the
/// right transaction code before it expires; wrong codes counted and the fifth ends it;
/// the access token fetches one credential; a newer offer of the link ends the older;
/// the offer dies with its link.
pub async fn wallet_offers_redeem_once_count_wrong_codes_and_die_with_their_link(db: &TestStore) {
    use sand_domain::ports::{CreateOfferStoreError, CredentialOfferStore as _, RedeemStoreError};
    use sand_domain::wallet::{
        AccessToken, NewCredentialOffer, PreAuthorizedCode, RedeemRefusal, TxCode,
    };
    use time::Duration;

    let (zoe_id, marie_id) = import_two(db).await;
    let profiles = db.store.profiles();
    let links = db.store.links();
    let offers = db.store.credential_offers();
    let holder = profiles
        .create(password_profile("zoe@exemple.fr", zoe()))
        .await
        .unwrap();
    let stranger = profiles
        .create(password_profile("autre@exemple.fr", zoe()))
        .await
        .unwrap();
    let link = links
        .create(NewLink {
            profile: holder.id,
            record: zoe_id,
            key: key("WALL0001"),
            created_at: NOW,
        })
        .await
        .unwrap();
    let code = |n: u8| PreAuthorizedCode::from_random_bytes([n; 32]);
    let access = |n: u8| AccessToken::from_random_bytes([n; 32]);
    let tx = |s: &str| TxCode::parse(s).unwrap();
    let offer = |profile, n: u8, tx_code: &str| NewCredentialOffer {
        profile,
        link: link.id,
        code: code(n),
        tx_code: tx(tx_code),
        created_at: NOW,
        expires_at: NOW + Duration::minutes(10),
    };
    let mail = |tx_code: &str| Mail::WalletTxCode {
        to: sand_domain::credentials::Email::parse("zoe@exemple.fr").unwrap(),
        code: tx(tx_code),
        scope: scope(),
        expires_at: NOW + Duration::minutes(10),
    };
    let redeem = |n: u8, tx_code: &'static str, at| {
        let offers = offers.clone();
        async move {
            offers
                .redeem(
                    &code(n),
                    &tx(tx_code),
                    &access(n),
                    at,
                    at + Duration::minutes(5),
                    5,
                )
                .await
        }
    };
    let refused = |r: Result<(), RedeemStoreError>| match r {
        Err(RedeemStoreError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };

    // nobody makes an offer of a link not theirs; the holder's offer queues its mail
    assert!(matches!(
        offers
            .create(offer(stranger.id, 1, "111111"), mail("111111"))
            .await,
        Err(CreateOfferStoreError::LinkNotFound)
    ));
    offers
        .create(offer(holder.id, 1, "111111"), mail("111111"))
        .await
        .unwrap();
    // the code waits sealed in the outbox: whoever reads the database cannot use it
    assert_eq!(
        count(
            db,
            "SELECT COUNT(*) FROM mail_outbox WHERE token LIKE 'v1:%' AND token NOT LIKE '%111111%'"
        )
        .await,
        1
    );
    let mails = claim_all(db).await;
    assert_eq!(mails, vec![mail("111111")]);

    // wrong codes count down; expired or unknown codes are one refusal
    assert_eq!(
        refused(redeem(1, "222222", NOW).await),
        RedeemRefusal::WrongTxCode { left: 4 }
    );
    assert_eq!(
        refused(redeem(1, "111111", NOW + Duration::minutes(10)).await),
        RedeemRefusal::InvalidCode,
        "expired"
    );
    assert_eq!(
        refused(redeem(9, "111111", NOW).await),
        RedeemRefusal::InvalidCode,
        "unknown"
    );
    // the right code, once: its access token fetches one credential, while it lives
    redeem(1, "111111", NOW).await.unwrap();
    assert_eq!(
        refused(redeem(1, "111111", NOW).await),
        RedeemRefusal::InvalidCode,
        "replayed"
    );
    assert!(
        offers
            .use_access(&access(1), NOW + Duration::minutes(5))
            .await
            .unwrap()
            .is_none(),
        "expired token"
    );
    assert!(offers.use_access(&access(9), NOW).await.unwrap().is_none());
    let grant = offers.use_access(&access(1), NOW).await.unwrap().unwrap();
    assert_eq!((grant.profile, grant.link), (holder.id, link.id));
    assert!(
        offers.use_access(&access(1), NOW).await.unwrap().is_none(),
        "used"
    );

    // five wrong codes end an offer, even for the right one afterwards
    offers
        .create(offer(holder.id, 2, "333333"), mail("333333"))
        .await
        .unwrap();
    for left in (0..5).rev() {
        assert_eq!(
            refused(redeem(2, "000000", NOW).await),
            RedeemRefusal::WrongTxCode { left }
        );
    }
    assert_eq!(
        refused(redeem(2, "333333", NOW).await),
        RedeemRefusal::InvalidCode
    );

    // a newer offer of the link ends the one before
    offers
        .create(offer(holder.id, 3, "444444"), mail("444444"))
        .await
        .unwrap();
    offers
        .create(offer(holder.id, 4, "555555"), mail("555555"))
        .await
        .unwrap();
    assert_eq!(
        refused(redeem(3, "444444", NOW).await),
        RedeemRefusal::InvalidCode
    );

    // the offer dies with its link: deleted, or withdrawn by a corrected import
    assert!(links.delete_owned(link.id, holder.id).await.unwrap());
    assert_eq!(
        refused(redeem(4, "555555", NOW).await),
        RedeemRefusal::InvalidCode
    );
    let maries = links
        .create(NewLink {
            profile: holder.id,
            record: marie_id,
            key: key("WALL0002"),
            created_at: NOW,
        })
        .await
        .unwrap();
    offers
        .create(
            NewCredentialOffer {
                link: maries.id,
                ..offer(holder.id, 5, "666666")
            },
            mail("666666"),
        )
        .await
        .unwrap();
    db.store
        .record_writer()
        .replace_batch(&batch(vec![new_record(2, "C001", zoe())], true, 2))
        .await
        .unwrap();
    assert_eq!(
        refused(redeem(5, "666666", NOW).await),
        RedeemRefusal::InvalidCode
    );
}
