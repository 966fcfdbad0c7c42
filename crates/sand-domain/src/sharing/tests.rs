use super::*;
use crate::ports::{
    HolderContact, MockAccountTokens, MockShareLinkStore, MockShareTokenGenerator,
    MockVerificationLog,
};
use crate::testing::*;
use time::macros::{date, datetime};
use uuid::Uuid;

const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn token() -> ShareToken {
    ShareToken::parse(TOKEN).unwrap()
}

fn generator() -> MockShareTokenGenerator {
    let mut tokens = MockShareTokenGenerator::new();
    tokens.expect_share_token().returning(token);
    tokens
}

fn share(expires_at: OffsetDateTime, revoked_at: Option<OffsetDateTime>) -> ShareLink {
    ShareLink {
        id: ShareId(Uuid::from_u128(0x5000)),
        link: link_id(1),
        label: ShareLabel::parse("ACME, recrutement mars").unwrap(),
        token: token(),
        created_at: NOW,
        expires_at,
        revoked_at,
    }
}

fn request(last_day: Date) -> CreateShareRequest {
    CreateShareRequest {
        profile: profile_id(1),
        link: link_id(1),
        label: "  ACME,   recrutement mars ".into(),
        last_day,
    }
}

fn create_with(store: MockShareLinkStore) -> CreateShareLink {
    CreateShareLink {
        shares: Arc::new(store),
        tokens: Arc::new(generator()),
        clock: Arc::new(clock()),
    }
}

#[test]
fn a_label_is_required_short_and_visible() {
    assert_eq!(
        ShareLabel::parse(" ACME \n RH ").unwrap().as_str(),
        "ACME RH"
    );
    assert_eq!(ShareLabel::parse("  "), Err(ShareLabelError::Empty));
    assert_eq!(
        ShareLabel::parse(&"x".repeat(MAX_LABEL_CHARS + 1)),
        Err(ShareLabelError::TooLong)
    );
    assert!(ShareLabel::parse(&"é".repeat(MAX_LABEL_CHARS)).is_ok());
    assert_eq!(
        ShareLabel::parse("ACME\u{202e}RH"),
        Err(ShareLabelError::ControlCharacter)
    );
}

#[test]
fn only_64_hex_digits_are_a_token_and_debug_hides_it() {
    assert!(ShareToken::parse(TOKEN).is_some());
    assert_eq!(
        ShareToken::parse(&TOKEN.to_uppercase()).unwrap().expose(),
        TOKEN
    );
    assert!(ShareToken::parse(&TOKEN[1..]).is_none());
    assert!(ShareToken::parse(&format!("{}g", &TOKEN[1..])).is_none());
    assert!(ShareToken::parse("../../etc/passwd").is_none());
    assert!(ShareToken::parse(&"a".repeat(10_000)).is_none());
    assert!(!format!("{:?}", token()).contains("0123"));
    assert_eq!(
        ShareToken::from_random_bytes([0xab; 32]).expose(),
        "ab".repeat(32)
    );
}

#[test]
fn a_last_day_ends_at_midnight_in_paris_winter_and_summer() {
    assert_eq!(
        end_of_paris_day(date!(2026 - 11 - 24)),
        datetime!(2026-11-24 23:00 UTC)
    );
    assert_eq!(
        end_of_paris_day(date!(2027 - 07 - 14)),
        datetime!(2027-07-14 22:00 UTC)
    );
}

#[tokio::test]
async fn a_share_link_is_stored_with_its_label_expiry_and_the_live_limit() {
    let mut store = MockShareLinkStore::new();
    store
        .expect_create()
        .withf(|new, limit| {
            new.label.as_str() == "ACME, recrutement mars"
                && new.profile == profile_id(1)
                && new.link == link_id(1)
                && new.token == token()
                && new.created_at == NOW
                && new.expires_at == datetime!(2027-11-24 23:00 UTC)
                && *limit == MAX_LIVE_SHARES
        })
        .times(1)
        .returning(|new, _| Ok(share(new.expires_at, None)));
    // the furthest day allowed: a year from today
    let made = create_with(store)
        .execute(request(date!(2027 - 11 - 24)))
        .await
        .unwrap();
    assert_eq!(made.state(NOW), ShareState::Live);
}

#[tokio::test]
async fn an_expiry_in_the_past_or_beyond_a_year_or_a_bad_label_is_refused_before_the_store() {
    let store = MockShareLinkStore::new(); // no call expected
    let use_case = create_with(store);
    assert!(matches!(
        use_case.execute(request(date!(2026 - 11 - 23))).await,
        Err(CreateShareError::LastDayPast)
    ));
    assert!(matches!(
        use_case.execute(request(date!(2027 - 11 - 25))).await,
        Err(CreateShareError::LastDayTooFar)
    ));
    let mut bad = request(date!(2026 - 12 - 24));
    bad.label = String::new();
    assert!(matches!(
        use_case.execute(bad).await,
        Err(CreateShareError::MalformedLabel(ShareLabelError::Empty))
    ));
}

#[tokio::test]
async fn someone_elses_link_and_the_limit_are_told_apart() {
    for (store_error, expected) in [
        (CreateShareStoreError::LinkNotFound, "not found"),
        (CreateShareStoreError::TooManyLive, "too many"),
    ] {
        let mut store = MockShareLinkStore::new();
        let mut once = Some(store_error);
        store
            .expect_create()
            .returning(move |_, _| Err(once.take().unwrap()));
        let outcome = create_with(store).execute(request(TODAY)).await;
        match (outcome, expected) {
            (Err(CreateShareError::NotFound), "not found")
            | (Err(CreateShareError::TooManyLive), "too many") => {}
            (other, _) => panic!("unexpected {other:?}"),
        }
    }
}

fn opened(notify: bool, expires_at: OffsetDateTime) -> OpenedShare {
    let holder = profile(1, marie());
    OpenedShare {
        share: share(expires_at, None),
        verifiable: VerifiableLink {
            link: link(1, 1, 1, "ABCD1234"),
            record: record(1, marie(), scope()),
            holder: HolderContact {
                id: holder.id,
                email: holder.email,
                notify_on_verification: notify,
            },
        },
    }
}

fn open_with(store: MockShareLinkStore, log: MockVerificationLog) -> OpenShareLink {
    let mut tokens = MockAccountTokens::new();
    tokens
        .expect_issue()
        .returning(|_, _, _, _| crate::SecretToken::new("arret".into()));
    OpenShareLink {
        shares: Arc::new(store),
        log: Arc::new(log),
        tokens: Arc::new(tokens),
        clock: Arc::new(clock()),
    }
}

#[tokio::test]
async fn an_opening_is_logged_with_the_label_and_told_to_a_holder_who_opted_in() {
    let mut store = MockShareLinkStore::new();
    store
        .expect_find_open()
        .withf(|t, now| *t == token() && *now == NOW)
        .returning(|_, _| Ok(Some(opened(true, NOW + Duration::days(3)))));
    let mut log = MockVerificationLog::new();
    log.expect_record()
        .withf(|event, notice| {
            event.link == link_id(1)
                && event.organisation.is_none()
                && event.share.as_ref().map(ShareLabel::as_str) == Some("ACME, recrutement mars")
                && matches!(notice, Some(Mail::AttestationVerified { organisation: Some(o), .. }) if o == "ACME, recrutement mars")
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let shown = open_with(store, log).execute(TOKEN).await.unwrap().unwrap();
    assert_eq!(shown.diploma.birth_name.as_str(), "Durand");
    assert_eq!(shown.label.as_str(), "ACME, recrutement mars");
}

#[tokio::test]
async fn a_malformed_token_never_reaches_the_store() {
    let use_case = open_with(MockShareLinkStore::new(), MockVerificationLog::new());
    for raw in ["", "abc", "<script>", &"f".repeat(65), &"z".repeat(64)] {
        assert_eq!(use_case.execute(raw).await.unwrap(), None);
    }
}

#[tokio::test]
async fn an_unknown_expired_or_withdrawn_share_shows_nothing_and_logs_nothing() {
    let cases: Vec<Option<OpenedShare>> = vec![
        None,
        // the store's answer is checked again: an expiry at this very instant is over
        Some(opened(false, NOW)),
        Some({
            let mut o = opened(false, NOW + Duration::days(1));
            o.verifiable.record.withdrawn_at = Some(NOW);
            o
        }),
        Some({
            let mut o = opened(false, NOW + Duration::days(1));
            o.share.revoked_at = Some(NOW);
            o
        }),
    ];
    for case in cases {
        let mut store = MockShareLinkStore::new();
        store.expect_find_open().return_once(move |_, _| Ok(case));
        let log = MockVerificationLog::new(); // never called
        assert_eq!(open_with(store, log).execute(TOKEN).await.unwrap(), None);
    }
}
