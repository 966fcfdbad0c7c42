use mockall::predicate::eq;

use super::*;
use crate::credential_status::{MockCredentialStatusStore, StatusEntry, StatusListId};
use crate::link::LinkState;
use crate::ports::{
    MockCredentialOfferStore, MockDigitalSafe, MockLinkRepository, MockProfileRepository,
    MockRecordReader, MockWalletCredentialSigner, MockWalletSecrets,
};
use crate::testing::*;

fn active_link() -> MockLinkRepository {
    let mut links = MockLinkRepository::new();
    links
        .expect_get_owned()
        .returning(|_, _| Ok(Some(link(1, 1, 1, "ABCD1234"))));
    links
}

fn records() -> MockRecordReader {
    let mut records = MockRecordReader::new();
    records
        .expect_get_many()
        .returning(|_| Ok(vec![record(1, marie(), scope())]));
    records
}

fn send(links: MockLinkRepository, safe: MockDigitalSafe) -> SendToSafe {
    let mut profiles = MockProfileRepository::new();
    profiles
        .expect_get()
        .returning(|id| Ok(Some(profile(id.0.as_u128(), marie()))));
    SendToSafe {
        profiles: Arc::new(profiles),
        links: Arc::new(links),
        records: Arc::new(records()),
        safe: Arc::new(safe),
    }
}

#[tokio::test]
async fn the_safe_receives_the_holders_address_and_the_diploma() {
    let mut safe = MockDigitalSafe::new();
    safe.expect_deliver()
        .withf(|d| d.link == link_id(1) && d.profile == profile_id(1) && d.scope == scope())
        .times(1)
        .returning(|_| {
            Ok(SafeHandOver::WalletOffer {
                offer_uri: "openid-credential-offer://?credential_offer=%7B%7D".into(),
                expires_at: NOW + Duration::minutes(OFFER_MINUTES),
            })
        });
    let handed = send(active_link(), safe)
        .execute(profile_id(1), link_id(1))
        .await
        .unwrap();
    assert!(matches!(handed, SafeHandOver::WalletOffer { .. }));
}

#[tokio::test]
async fn nothing_goes_to_the_safe_for_another_profiles_or_a_withdrawn_link() {
    let mut links = MockLinkRepository::new();
    links.expect_get_owned().returning(|_, _| Ok(None));
    let mut safe = MockDigitalSafe::new();
    safe.expect_deliver().never();
    let result = send(links, safe).execute(profile_id(2), link_id(1)).await;
    assert!(matches!(result, Err(SendToSafeError::NotFound)));

    let mut links = MockLinkRepository::new();
    links.expect_get_owned().returning(|_, _| {
        let mut l = link(1, 1, 1, "ABCD1234");
        l.state = LinkState::Withdrawn { at: NOW };
        Ok(Some(l))
    });
    let mut safe = MockDigitalSafe::new();
    safe.expect_deliver().never();
    let result = send(links, safe).execute(profile_id(1), link_id(1)).await;
    assert!(matches!(result, Err(SendToSafeError::Withdrawn)));
}

fn secrets() -> MockWalletSecrets {
    let mut secrets = MockWalletSecrets::new();
    secrets
        .expect_access_token()
        .returning(|| AccessToken::from_random_bytes([7; 32]));
    secrets
}

fn redeem(offers: MockCredentialOfferStore) -> RedeemOffer {
    RedeemOffer {
        offers: Arc::new(offers),
        secrets: Arc::new(secrets()),
        clock: Arc::new(clock()),
    }
}

const CODE: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn a_redeemed_offer_gives_a_five_minute_token_and_counts_wrong_codes_in_the_store() {
    let mut offers = MockCredentialOfferStore::new();
    offers
        .expect_redeem()
        .withf(|code, tx, _, now, until, max| {
            code.expose() == CODE
                && tx.expose() == "123456"
                && *now == NOW
                && *until == NOW + Duration::minutes(5)
                && *max == MAX_WRONG_TX_CODES
        })
        .times(1)
        .returning(|_, _, _, _, _, _| Ok(()));
    let access = redeem(offers).execute(CODE, "123456").await.unwrap();
    assert_eq!(access.lifetime, Duration::minutes(5));
    assert_eq!(access.token, AccessToken::from_random_bytes([7; 32]));

    let mut offers = MockCredentialOfferStore::new();
    offers.expect_redeem().returning(|_, _, _, _, _, _| {
        Err(RedeemStoreError::Refused(RedeemRefusal::WrongTxCode {
            left: 3,
        }))
    });
    let result = redeem(offers).execute(CODE, "654321").await;
    assert!(matches!(
        result,
        Err(RedeemError::Refused(RedeemRefusal::WrongTxCode { left: 3 }))
    ));
}

#[tokio::test]
async fn a_malformed_code_never_reaches_the_store_and_a_malformed_tx_code_counts_as_wrong() {
    for code in ["", "abc", &"g".repeat(64), &format!("{CODE}0")] {
        let result = redeem(offers_none()).execute(code, "123456").await;
        assert!(matches!(
            result,
            Err(RedeemError::Refused(RedeemRefusal::InvalidCode))
        ));
    }
    let mut offers = MockCredentialOfferStore::new();
    offers
        .expect_redeem()
        .withf(|_, tx, _, _, _, _| tx.expose().is_empty())
        .times(1)
        .returning(|_, _, _, _, _, _| {
            Err(RedeemStoreError::Refused(RedeemRefusal::WrongTxCode {
                left: 4,
            }))
        });
    let result = redeem(offers).execute(CODE, "12 34 56").await;
    assert!(matches!(
        result,
        Err(RedeemError::Refused(RedeemRefusal::WrongTxCode { left: 4 }))
    ));
}

fn offers_none() -> MockCredentialOfferStore {
    let mut offers = MockCredentialOfferStore::new();
    offers.expect_redeem().never();
    offers
}

fn grant() -> CredentialGrant {
    CredentialGrant {
        offer: OfferId(uuid::Uuid::from_u128(9)),
        profile: profile_id(1),
        link: link_id(1),
    }
}

fn issue(
    offers: MockCredentialOfferStore,
    links: MockLinkRepository,
    status: MockCredentialStatusStore,
    signer: MockWalletCredentialSigner,
) -> IssueWalletCredential {
    IssueWalletCredential {
        offers: Arc::new(offers),
        links: Arc::new(links),
        records: Arc::new(records()),
        status: Arc::new(status),
        signer: Arc::new(signer),
        clock: Arc::new(clock()),
    }
}

const JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"x","y":"y"}"#;

#[tokio::test]
async fn the_credential_is_signed_for_the_proven_key_with_a_new_status_entry() {
    let mut offers = MockCredentialOfferStore::new();
    offers
        .expect_use_access()
        .withf(|token, now| token.expose() == CODE && *now == NOW)
        .times(1)
        .returning(|_, _| Ok(Some(grant())));
    let entry = StatusEntry {
        list: StatusListId(0),
        index: 42,
    };
    let mut status = MockCredentialStatusStore::new();
    status
        .expect_allocate()
        .with(eq(link_id(1)), eq(NOW))
        .times(1)
        .returning(move |_, _| Ok(entry));
    let mut signer = MockWalletCredentialSigner::new();
    signer
        .expect_sign()
        .withf(move |a, jwk, s| {
            a.key.as_str() == "ABCD1234" && a.issued_at == NOW && jwk == JWK && *s == entry
        })
        .times(1)
        .returning(|_, _, _| Ok("eyJ.credential~".into()));
    let credential = issue(offers, active_link(), status, signer)
        .execute(CODE, JWK)
        .await
        .unwrap();
    assert_eq!(credential, "eyJ.credential~");
}

#[tokio::test]
async fn a_used_token_or_an_ended_link_gets_no_credential() {
    let mut offers = MockCredentialOfferStore::new();
    offers.expect_use_access().returning(|_, _| Ok(None));
    let mut signer = MockWalletCredentialSigner::new();
    signer.expect_sign().never();
    let result = issue(
        offers,
        active_link(),
        MockCredentialStatusStore::new(),
        signer,
    )
    .execute(CODE, JWK)
    .await;
    assert!(matches!(result, Err(IssueCredentialError::InvalidToken)));

    // detached since the offer was redeemed
    let mut offers = MockCredentialOfferStore::new();
    offers
        .expect_use_access()
        .returning(|_, _| Ok(Some(grant())));
    let mut links = MockLinkRepository::new();
    links.expect_get_owned().returning(|_, _| Ok(None));
    let mut status = MockCredentialStatusStore::new();
    status.expect_allocate().never();
    let mut signer = MockWalletCredentialSigner::new();
    signer.expect_sign().never();
    let result = issue(offers, links, status, signer)
        .execute(CODE, JWK)
        .await;
    assert!(matches!(result, Err(IssueCredentialError::LinkEnded)));

    // ended between the read and the allocation (the store locks the link)
    let mut offers = MockCredentialOfferStore::new();
    offers
        .expect_use_access()
        .returning(|_, _| Ok(Some(grant())));
    let mut status = MockCredentialStatusStore::new();
    status
        .expect_allocate()
        .returning(|_, _| Err(AllocateStatusError::LinkNotActive));
    let mut signer = MockWalletCredentialSigner::new();
    signer.expect_sign().never();
    let result = issue(offers, active_link(), status, signer)
        .execute(CODE, JWK)
        .await;
    assert!(matches!(result, Err(IssueCredentialError::LinkEnded)));

    // a token of the wrong shape is not looked up
    let mut offers = MockCredentialOfferStore::new();
    offers.expect_use_access().never();
    let result = issue(
        offers,
        MockLinkRepository::new(),
        MockCredentialStatusStore::new(),
        MockWalletCredentialSigner::new(),
    )
    .execute("Bearer x", JWK)
    .await;
    assert!(matches!(result, Err(IssueCredentialError::InvalidToken)));
}

#[test]
fn secrets_have_one_shape_and_never_show_in_debug() {
    assert!(PreAuthorizedCode::parse(CODE).is_some());
    assert!(PreAuthorizedCode::parse(&CODE.to_uppercase()).is_some());
    assert!(PreAuthorizedCode::parse(&CODE[1..]).is_none());
    assert!(TxCode::parse("012345").is_some());
    for bad in ["", "12345", "1234567", "12a456", "１２３４５６"] {
        assert!(TxCode::parse(bad).is_none(), "{bad}");
    }
    assert_eq!(TxCode::from_random(1_000_042).expose(), "000042");
    let code = PreAuthorizedCode::parse(CODE).unwrap();
    assert!(!format!("{code:?}").contains("0123"));
    assert!(!format!("{:?}", TxCode::parse("012345").unwrap()).contains("0123"));
}
