#![allow(clippy::unwrap_used, clippy::expect_used)]

use mockall::predicate::eq;

use super::*;
use crate::credentials::PasswordHash;
use crate::ports::{
    MockAccountTokens, MockMailer, MockPasswordHasher, MockProfileRepository, MockSessionStore,
};
use crate::testing::{NOW, clock, marie, profile, profile_id};

const TOKEN: &str = "jeton-signe";
const HASH: &str = "$argon2id$actuel";
const GOOD: &str = "une phrase de passe bien longue et solide";

struct Mocks {
    profiles: MockProfileRepository,
    hasher: MockPasswordHasher,
    sessions: MockSessionStore,
    mailer: MockMailer,
    tokens: MockAccountTokens,
}

impl Mocks {
    /// Nothing expected: each test states what it expects.
    fn new() -> Self {
        Self {
            profiles: MockProfileRepository::new(),
            hasher: MockPasswordHasher::new(),
            sessions: MockSessionStore::new(),
            mailer: MockMailer::new(),
            tokens: MockAccountTokens::new(),
        }
    }

    fn links(self) -> MailboxLinks {
        MailboxLinks {
            profiles: Arc::new(self.profiles),
            hasher: Arc::new(self.hasher),
            sessions: Arc::new(self.sessions),
            mailer: Arc::new(self.mailer),
            tokens: Arc::new(self.tokens),
            clock: Arc::new(clock()),
        }
    }

    /// The token names profile 1; it holds for `purpose` bound to `binding` iff `holds`.
    fn token_for(&mut self, purpose: AccountTokenPurpose, binding: &'static str, holds: bool) {
        self.tokens
            .expect_named_profile()
            .with(eq(TOKEN))
            .returning(|_| Some(profile_id(1)));
        self.tokens
            .expect_holds()
            .with(eq(purpose), eq(TOKEN), eq(binding), eq(NOW))
            .return_const(holds);
    }

    fn profile_exists(&mut self, verified: bool) {
        self.profiles
            .expect_get()
            .with(eq(profile_id(1)))
            .returning(move |_| Ok(Some(unconfirmed(verified))));
    }

    fn password_hash(&mut self) {
        self.profiles
            .expect_password_hash()
            .with(eq(profile_id(1)))
            .returning(|_| Ok(Some(PasswordHash::new(HASH.to_owned()))));
    }

    fn mails_nothing(&mut self) {
        self.mailer.expect_send().never();
    }
}

fn unconfirmed(verified: bool) -> Profile {
    Profile {
        email_verified: verified,
        ..profile(1, marie())
    }
}

fn address() -> &'static str {
    "diplome1@exemple.fr"
}

fn email() -> Email {
    Email::parse(address()).unwrap()
}

fn issued(token: &str) -> SecretToken {
    SecretToken::new(token.to_owned())
}

#[tokio::test]
async fn a_confirmation_link_is_bound_to_the_address_and_lasts_48_hours() {
    assert_eq!(CONFIRMATION_LINK_VALID, Duration::hours(48));
    let mut mocks = Mocks::new();
    mocks
        .tokens
        .expect_issue()
        .with(
            eq(AccountTokenPurpose::ConfirmEmail),
            eq(profile_id(1)),
            eq(address()),
            eq(NOW + Duration::hours(48)),
        )
        .times(1)
        .returning(|_, _, _, _| issued(TOKEN));
    mocks
        .mailer
        .expect_send()
        .withf(|mail| {
            matches!(mail, Mail::VerifyEmail { to, token }
                if to.as_str() == address() && token.expose() == TOKEN)
        })
        .times(1)
        .returning(|_| Ok(()));
    let token = mocks
        .links()
        .send_confirmation(&unconfirmed(false))
        .await
        .unwrap();
    assert_eq!(token.expose(), TOKEN);
}

#[tokio::test]
async fn a_confirmation_link_is_sent_again_only_to_an_unconfirmed_password_account() {
    // unconfirmed: a new link
    let mut mocks = Mocks::new();
    mocks
        .profiles
        .expect_find_password_account()
        .returning(|_| {
            Ok(Some((
                unconfirmed(false),
                PasswordHash::new(HASH.to_owned()),
            )))
        });
    mocks
        .tokens
        .expect_issue()
        .times(1)
        .returning(|_, _, _, _| issued(TOKEN));
    mocks.mailer.expect_send().times(1).returning(|_| Ok(()));
    mocks.links().resend_confirmation(&email()).await.unwrap();

    // confirmed already, or no such password account: nothing, and no error to tell
    for found in [
        Some((unconfirmed(true), PasswordHash::new(HASH.to_owned()))),
        None,
    ] {
        let mut mocks = Mocks::new();
        mocks
            .profiles
            .expect_find_password_account()
            .return_once(move |_| Ok(found));
        mocks.tokens.expect_issue().never();
        mocks.mails_nothing();
        mocks.links().resend_confirmation(&email()).await.unwrap();
    }
}

#[tokio::test]
async fn a_confirmation_link_names_its_profile_only_while_it_holds_for_the_address() {
    // holds for the profile's address: the profile
    let mut mocks = Mocks::new();
    mocks.token_for(
        AccountTokenPurpose::ConfirmEmail,
        "diplome1@exemple.fr",
        true,
    );
    mocks.profile_exists(false);
    let target = mocks.links().confirmation_target(TOKEN).await.unwrap();
    assert_eq!(target.map(|p| p.id), Some(profile_id(1)));

    // expired, forged, or for another address
    let mut mocks = Mocks::new();
    mocks.token_for(
        AccountTokenPurpose::ConfirmEmail,
        "diplome1@exemple.fr",
        false,
    );
    mocks.profile_exists(false);
    assert!(
        mocks
            .links()
            .confirmation_target(TOKEN)
            .await
            .unwrap()
            .is_none()
    );

    // not shaped as a token: no look-up at all
    let mut mocks = Mocks::new();
    mocks.tokens.expect_named_profile().returning(|_| None);
    mocks.profiles.expect_get().never();
    assert!(
        mocks
            .links()
            .confirmation_target("n'importe quoi")
            .await
            .unwrap()
            .is_none()
    );

    // the profile is gone
    let mut mocks = Mocks::new();
    mocks
        .tokens
        .expect_named_profile()
        .returning(|_| Some(profile_id(1)));
    mocks.tokens.expect_holds().never();
    mocks.profiles.expect_get().returning(|_| Ok(None));
    assert!(
        mocks
            .links()
            .confirmation_target(TOKEN)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn confirming_takes_a_holding_link_and_the_registrants_password() {
    let right = |verify: bool| {
        let mut mocks = Mocks::new();
        mocks.token_for(
            AccountTokenPurpose::ConfirmEmail,
            "diplome1@exemple.fr",
            true,
        );
        mocks.profile_exists(false);
        mocks.password_hash();
        mocks
            .hasher
            .expect_verify()
            .return_once(move |_, _| Ok(verify));
        mocks
    };
    let password = Password::for_login(GOOD).unwrap();

    let mut mocks = right(true);
    mocks
        .profiles
        .expect_mark_email_verified()
        .with(eq(profile_id(1)))
        .times(1)
        .returning(|_| Ok(true));
    let confirmed = mocks.links().confirm_email(TOKEN, &password).await.unwrap();
    assert_eq!(confirmed.id, profile_id(1));

    // another password: the mailbox's reader did not register this profile
    let mut mocks = right(false);
    mocks.profiles.expect_mark_email_verified().never();
    let refused = mocks.links().confirm_email(TOKEN, &password).await;
    assert!(
        matches!(refused, Err(ConfirmEmailError::WrongPassword)),
        "{refused:?}"
    );

    // a link that does not hold: the password is not even checked
    let mut mocks = Mocks::new();
    mocks.token_for(
        AccountTokenPurpose::ConfirmEmail,
        "diplome1@exemple.fr",
        false,
    );
    mocks.profile_exists(false);
    mocks.hasher.expect_verify().never();
    mocks.profiles.expect_mark_email_verified().never();
    let refused = mocks.links().confirm_email(TOKEN, &password).await;
    assert!(
        matches!(refused, Err(ConfirmEmailError::InvalidLink)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_reset_link_is_bound_to_the_current_password_and_lasts_an_hour() {
    assert_eq!(RESET_LINK_VALID, Duration::hours(1));
    let mut mocks = Mocks::new();
    mocks
        .profiles
        .expect_find_password_account()
        .with(eq(email()))
        .returning(|_| {
            Ok(Some((
                unconfirmed(true),
                PasswordHash::new(HASH.to_owned()),
            )))
        });
    mocks
        .tokens
        .expect_issue()
        .with(
            eq(AccountTokenPurpose::ResetPassword),
            eq(profile_id(1)),
            eq(HASH),
            eq(NOW + Duration::hours(1)),
        )
        .times(1)
        .returning(|_, _, _, _| issued(TOKEN));
    mocks
        .mailer
        .expect_send()
        .withf(|mail| {
            matches!(mail, Mail::PasswordReset { to, token }
                if to.as_str() == address() && token.expose() == TOKEN)
        })
        .times(1)
        .returning(|_| Ok(()));
    mocks.links().request_reset(&email()).await.unwrap();

    // an address with no password account: nothing sent, nothing said
    let mut mocks = Mocks::new();
    mocks
        .profiles
        .expect_find_password_account()
        .returning(|_| Ok(None));
    mocks.tokens.expect_issue().never();
    mocks.mails_nothing();
    mocks.links().request_reset(&email()).await.unwrap();
}

#[tokio::test]
async fn a_reset_link_names_its_profile_only_while_it_holds_for_the_current_hash() {
    let mut mocks = Mocks::new();
    mocks.token_for(AccountTokenPurpose::ResetPassword, HASH, true);
    mocks.password_hash();
    mocks.profile_exists(true);
    let target = mocks.links().reset_target(TOKEN).await.unwrap();
    assert_eq!(target.map(|p| p.id), Some(profile_id(1)));

    // used (the hash changed), expired or forged
    let mut mocks = Mocks::new();
    mocks.token_for(AccountTokenPurpose::ResetPassword, HASH, false);
    mocks.password_hash();
    mocks.profiles.expect_get().never();
    assert!(mocks.links().reset_target(TOKEN).await.unwrap().is_none());

    // a FranceConnect profile has no password to reset
    let mut mocks = Mocks::new();
    mocks
        .tokens
        .expect_named_profile()
        .returning(|_| Some(profile_id(1)));
    mocks.tokens.expect_holds().never();
    mocks
        .profiles
        .expect_password_hash()
        .returning(|_| Ok(None));
    assert!(mocks.links().reset_target(TOKEN).await.unwrap().is_none());
}

/// Mocks for a reset through a holding link.
fn holding_reset() -> Mocks {
    let mut mocks = Mocks::new();
    mocks.token_for(AccountTokenPurpose::ResetPassword, HASH, true);
    mocks.password_hash();
    mocks.profile_exists(true);
    mocks
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_tells_the_owner() {
    let mut mocks = holding_reset();
    mocks
        .hasher
        .expect_hash()
        .times(1)
        .returning(|_| Ok(PasswordHash::new("$argon2id$nouveau".to_owned())));
    mocks
        .profiles
        .expect_set_password()
        .withf(|id, hash| *id == profile_id(1) && hash.as_str() == "$argon2id$nouveau")
        .times(1)
        .returning(|_, _| Ok(true));
    mocks
        .sessions
        .expect_delete_for_profile()
        .with(eq(profile_id(1)))
        .times(1)
        .returning(|_| Ok(3));
    mocks
        .mailer
        .expect_send()
        .withf(|mail| {
            matches!(mail, Mail::SecurityChange { to, change: SecurityChange::PasswordReset }
                if to.as_str() == address())
        })
        .times(1)
        .returning(|_| Ok(()));
    let reset = mocks
        .links()
        .reset_password(TOKEN, GOOD, GOOD)
        .await
        .unwrap();
    assert_eq!(reset.profile.id, profile_id(1));
    assert_eq!(reset.sessions_ended, 3);
    assert!(reset.notice_not_queued.is_none());
}

#[tokio::test]
async fn a_reset_whose_notice_cannot_be_queued_stands_and_says_so() {
    let mut mocks = holding_reset();
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("$argon2id$nouveau".to_owned())));
    mocks
        .profiles
        .expect_set_password()
        .returning(|_, _| Ok(true));
    mocks
        .sessions
        .expect_delete_for_profile()
        .returning(|_| Ok(0));
    mocks
        .mailer
        .expect_send()
        .returning(|_| Err(PortError::unavailable("boîte d'envoi indisponible")));
    let reset = mocks
        .links()
        .reset_password(TOKEN, GOOD, GOOD)
        .await
        .unwrap();
    assert!(matches!(
        reset.notice_not_queued,
        Some(PortError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_refused_reset_changes_nothing() {
    /// What is typed (new, confirmation) and the refusal expected.
    type Refusal = (
        &'static str,
        &'static str,
        &'static str,
        fn(&ResetPasswordError) -> bool,
    );
    let refusals: [Refusal; 3] = [
        ("a weak password", "azerty123456", "azerty123456", |e| {
            matches!(e, ResetPasswordError::Refused(PasswordError::TooWeak))
        }),
        (
            "two different passwords",
            GOOD,
            "une autre phrase de passe bien longue",
            |e| matches!(e, ResetPasswordError::Mismatch),
        ),
        ("a password that is too short", "court", "court", |e| {
            matches!(e, ResetPasswordError::Refused(PasswordError::TooShort))
        }),
    ];
    for (what, new, confirmation, expected) in refusals {
        let mut mocks = holding_reset();
        mocks.hasher.expect_hash().never();
        mocks.profiles.expect_set_password().never();
        mocks.sessions.expect_delete_for_profile().never();
        mocks.mails_nothing();
        let refused = mocks.links().reset_password(TOKEN, new, confirmation).await;
        assert!(refused.as_ref().is_err_and(expected), "{what}: {refused:?}");
    }

    // a link that does not hold
    let mut mocks = Mocks::new();
    mocks.token_for(AccountTokenPurpose::ResetPassword, HASH, false);
    mocks.password_hash();
    mocks.profiles.expect_set_password().never();
    mocks.mails_nothing();
    let refused = mocks.links().reset_password(TOKEN, GOOD, GOOD).await;
    assert!(
        matches!(refused, Err(ResetPasswordError::InvalidLink)),
        "{refused:?}"
    );

    // the password changed between the check and the write (the profile went): nothing
    // more is done
    let mut mocks = holding_reset();
    mocks
        .hasher
        .expect_hash()
        .returning(|_| Ok(PasswordHash::new("$argon2id$nouveau".to_owned())));
    mocks
        .profiles
        .expect_set_password()
        .returning(|_, _| Ok(false));
    mocks.sessions.expect_delete_for_profile().never();
    mocks.mails_nothing();
    let refused = mocks.links().reset_password(TOKEN, GOOD, GOOD).await;
    assert!(
        matches!(refused, Err(ResetPasswordError::InvalidLink)),
        "{refused:?}"
    );
}
