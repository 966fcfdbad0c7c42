//! The storage ports, on real databases: every case of `suite` runs on SQLite (a
//! temporary file) and on PostgreSQL (a fresh database per test); `postgres` holds what
//! only PostgreSQL can prove (privileges, query plans, concurrency).
//!
//! PostgreSQL comes from `SAND_TEST_POSTGRES_URL` (an administrator URL; the test
//! command starts a throw-away cluster and sets it). Without it the PostgreSQL tests fail
//! with a message saying so: they are never skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fixtures;
mod postgres;
mod suite;
mod support;

/// Runs each named case of `suite` once per backend.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::support::TestStore::sqlite().await;
                    crate::suite::$case(&db).await;
                }
            )*
        }
        mod postgresql {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = crate::support::TestStore::postgres().await;
                    crate::suite::$case(&db).await;
                }
            )*
        }
    };
}

on_both_backends!(
    migrating_an_empty_database_reaches_the_latest_schema,
    records_round_trip_with_non_ascii_names_and_29_february,
    an_incomplete_batch_is_stored_but_not_published,
    the_catalogue_revision_moves_with_every_change_of_a_batch,
    reimporting_the_same_batch_changes_nothing,
    a_corrected_batch_keeps_unchanged_links_and_withdraws_vanished_ones,
    profiles_round_trip_and_emails_are_unique,
    franceconnect_subjects_are_unique,
    links_round_trip_and_keep_their_constraints,
    the_database_holds_no_key_in_clear,
    renewing_a_key_kills_the_old_one,
    rotating_the_secret_re_protects_every_key_and_can_be_resumed,
    second_factors_accept_each_code_once_and_go_with_their_profile,
    links_are_only_reachable_by_their_owner,
    deleting_a_profile_deletes_its_links_and_anonymises_its_verifications,
    the_domain_use_cases_run_on_the_real_store,
    the_outbox_queues_claims_retries_and_abandons,
    sessions_and_passwords_round_trip_and_go_with_their_profile,
    expected_refusals_are_not_logged_as_errors,
    unconfirmed_profiles_give_way_and_are_purged,
    a_link_taken_over_ends_at_once_and_is_logged_and_told,
    staff_members_round_trip_with_their_second_factor_and_logins_are_unique,
    staff_members_are_found_by_address_changed_and_their_sessions_ended,
    the_audit_log_appends_reads_in_order_and_purges_only_past_its_retention,
    the_exam_office_desk_sees_only_its_scope_audits_each_read_and_releases_links,
    share_links_open_until_expiry_or_revocation_and_die_with_their_link_in_every_way,
    a_profile_holds_a_bounded_number_of_live_share_links,
    credentials_issued_from_a_link_are_revoked_in_every_way_the_link_ends,
    wallet_offers_redeem_once_count_wrong_codes_and_die_with_their_link,
);

/// SQLite held by another writer past the busy timeout (a long import, an operator's
/// open transaction) is busy, not broken: the store answers "unavailable" (a 503 with
/// Retry-After), and writes again once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_by_another_writer_is_unavailable_then_recovers() {
    use sand_domain::ports::{CreateProfileStoreError, ProfileRepository as _};
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};

    let db = support::TestStore::sqlite().await;
    let holder = sea_orm::Database::connect(&db.url).await.unwrap();
    let lock = holder.begin().await.unwrap();
    lock.execute_unprepared("CREATE TABLE lock_holder (x INTEGER)")
        .await
        .unwrap();

    let profiles = db.store.profiles();
    let refused = profiles
        .create(fixtures::password_profile(
            "verrou@exemple.fr",
            fixtures::zoe(),
        ))
        .await;
    assert!(
        matches!(&refused, Err(CreateProfileStoreError::Port(e)) if e.is_unavailable()),
        "{refused:?}"
    );

    lock.rollback().await.unwrap();
    profiles
        .create(fixtures::password_profile(
            "verrou@exemple.fr",
            fixtures::zoe(),
        ))
        .await
        .unwrap();
}
