//! Logging in: with an e-mail and a password, or with FranceConnect (which creates the
//! profile, with a certified identity, the first time).

use std::fmt;
use std::sync::Arc;

use crate::credentials::{Email, Password, PasswordHash};
use crate::error::PortError;
use crate::ports::{
    CertifiedIdentity, Clock, CreateProfileStoreError, PasswordHasher, ProfileRepository,
};
use crate::profile::{NewCredentials, NewProfile, Profile, ProfileId};

/// Why a password log-in failed.
#[derive(Debug, thiserror::Error)]
pub enum LogInError {
    /// Unknown e-mail or wrong password: one answer for both.
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    /// Right password, but the address was never verified.
    #[error("the e-mail address is not verified yet")]
    EmailNotVerified,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// A PHC string that no password matches, checked when the e-mail is unknown so that an
/// unknown address takes as long to refuse as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FuZGR1bW15c2FsdA$4ZwnNl7D0A8b7wuQ8hE0tQmT3rTFi0rQ7fFeb9l3xWk";

/// Use case: log in with an e-mail and a password.
#[derive(Clone)]
pub struct LogIn {
    pub profiles: Arc<dyn ProfileRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
}

impl fmt::Debug for LogIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogIn")
    }
}

impl LogIn {
    /// # Errors
    /// [`LogInError`].
    pub async fn execute(&self, email: &Email, password: &Password) -> Result<Profile, LogInError> {
        let Some((profile, hash)) = self.profiles.find_password_account(email).await? else {
            let _ = self
                .hasher
                .verify(password, &PasswordHash::new(DUMMY_HASH.to_owned()))
                .await?;
            return Err(LogInError::InvalidCredentials);
        };
        if !self.hasher.verify(password, &hash).await? {
            return Err(LogInError::InvalidCredentials);
        }
        if !profile.email_verified {
            return Err(LogInError::EmailNotVerified);
        }
        Ok(profile)
    }

    /// Confirms the e-mail address of profile `id` (whose link the caller checked) and
    /// logs in, if `password` is the profile's: the person who confirms is the person who
    /// registered, not merely whoever reads the mailbox of an address someone else
    /// registered with a password of their own.
    ///
    /// # Errors
    /// [`LogInError::InvalidCredentials`] (no such password profile, or another
    /// password), or [`LogInError::Unexpected`].
    pub async fn confirm_email(
        &self,
        id: ProfileId,
        password: &Password,
    ) -> Result<Profile, LogInError> {
        let Some(hash) = self.profiles.password_hash(id).await? else {
            let _ = self
                .hasher
                .verify(password, &PasswordHash::new(DUMMY_HASH.to_owned()))
                .await?;
            return Err(LogInError::InvalidCredentials);
        };
        if !self.hasher.verify(password, &hash).await? {
            return Err(LogInError::InvalidCredentials);
        }
        if !self.profiles.mark_email_verified(id).await? {
            return Err(LogInError::InvalidCredentials);
        }
        self.profiles
            .get(id)
            .await?
            .ok_or(LogInError::InvalidCredentials)
    }
}

/// How a FranceConnect log-in ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FranceConnectSignIn {
    /// The profile existed.
    Existing(Profile),
    /// First visit: a profile with the certified identity was created.
    Created(Profile),
}

impl FranceConnectSignIn {
    #[must_use]
    pub fn profile(&self) -> &Profile {
        match self {
            Self::Existing(p) | Self::Created(p) => p,
        }
    }
}

/// Why a FranceConnect log-in could not give a profile.
#[derive(Debug, thiserror::Error)]
pub enum FranceConnectSignInError {
    /// FranceConnect gave no e-mail address; SAND needs one.
    #[error("FranceConnect gave no e-mail address")]
    EmailMissing,
    /// A password profile already uses the e-mail FranceConnect gave. The graduate
    /// chooses: log in with the password, or delete that profile first.
    #[error("a password profile already uses this e-mail address")]
    EmailUsedByPasswordProfile,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: log in with FranceConnect.
#[derive(Clone)]
pub struct SignInWithFranceConnect {
    pub profiles: Arc<dyn ProfileRepository>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for SignInWithFranceConnect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SignInWithFranceConnect")
    }
}

impl SignInWithFranceConnect {
    /// Finds the profile by (issuer, subject), or creates it. An existing profile keeps its
    /// identity (profiles are immutable) even if FranceConnect's has changed.
    ///
    /// # Errors
    /// [`FranceConnectSignInError`].
    pub async fn execute(
        &self,
        certified: CertifiedIdentity,
    ) -> Result<FranceConnectSignIn, FranceConnectSignInError> {
        if let Some(profile) = self
            .profiles
            .find_by_franceconnect(&certified.subject)
            .await?
        {
            return Ok(FranceConnectSignIn::Existing(profile));
        }
        let email = certified
            .email
            .ok_or(FranceConnectSignInError::EmailMissing)?;
        let new = NewProfile {
            identity: certified.identity,
            email,
            email_verified: true,
            credentials: NewCredentials::FranceConnect(certified.subject.clone()),
            identity_certified: true,
            birth_date_presumed: certified.birth_date_presumed,
            created_at: self.clock.now(),
        };
        match self.profiles.create(new).await {
            Ok(profile) => Ok(FranceConnectSignIn::Created(profile)),
            Err(CreateProfileStoreError::EmailTaken) => {
                Err(FranceConnectSignInError::EmailUsedByPasswordProfile)
            }
            Err(CreateProfileStoreError::SubjectTaken) => {
                // Two callbacks of the same person raced: the other one created it.
                let profile = self
                    .profiles
                    .find_by_franceconnect(&certified.subject)
                    .await?
                    .ok_or_else(|| PortError::unexpected("subject taken but not found"))?;
                Ok(FranceConnectSignIn::Existing(profile))
            }
            Err(CreateProfileStoreError::Port(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockPasswordHasher, MockProfileRepository};
    use crate::profile::{FranceConnectSubject, LoginMethod};
    use crate::testing::*;

    fn email() -> Email {
        Email::parse("diplome1@exemple.fr").unwrap()
    }

    fn password() -> Password {
        Password::for_login("cheval agrafe pile").unwrap()
    }

    fn log_in(profiles: MockProfileRepository, matches: bool) -> LogIn {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_verify()
            .times(1)
            .returning(move |_, _| Ok(matches));
        LogIn {
            profiles: Arc::new(profiles),
            hasher: Arc::new(hasher),
        }
    }

    fn account(verified: bool) -> MockProfileRepository {
        let mut profiles = MockProfileRepository::new();
        profiles.expect_find_password_account().returning(move |_| {
            let mut p = profile(1, marie());
            p.email_verified = verified;
            Ok(Some((p, PasswordHash::new("$argon2id$real".into()))))
        });
        profiles
    }

    #[tokio::test]
    async fn the_right_password_logs_in() {
        let profile = log_in(account(true), true)
            .execute(&email(), &password())
            .await
            .unwrap();
        assert_eq!(profile.id, profile_id(1));
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_email_get_the_same_answer_after_a_hash_check() {
        let wrong = log_in(account(true), false)
            .execute(&email(), &password())
            .await;
        let mut nobody = MockProfileRepository::new();
        nobody
            .expect_find_password_account()
            .returning(|_| Ok(None));
        // log_in() expects exactly one verify call: the unknown address is checked too.
        let unknown = log_in(nobody, true).execute(&email(), &password()).await;
        assert!(matches!(wrong, Err(LogInError::InvalidCredentials)));
        assert!(matches!(unknown, Err(LogInError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn confirming_an_address_takes_the_registrants_password() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_password_hash()
            .returning(|_| Ok(Some(PasswordHash::new("$argon2id$real".into()))));
        profiles
            .expect_mark_email_verified()
            .times(1)
            .returning(|_| Ok(true));
        profiles
            .expect_get()
            .returning(|_| Ok(Some(profile(1, marie()))));
        let confirmed = log_in(profiles, true)
            .confirm_email(profile_id(1), &password())
            .await
            .unwrap();
        assert_eq!(confirmed.id, profile_id(1));

        // another password (the mailbox's owner did not register this profile): nothing
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_password_hash()
            .returning(|_| Ok(Some(PasswordHash::new("$argon2id$real".into()))));
        profiles.expect_mark_email_verified().never();
        let refused = log_in(profiles, false)
            .confirm_email(profile_id(1), &password())
            .await;
        assert!(matches!(refused, Err(LogInError::InvalidCredentials)));

        // no such password profile: the same answer, after a hash check
        let mut profiles = MockProfileRepository::new();
        profiles.expect_password_hash().returning(|_| Ok(None));
        profiles.expect_mark_email_verified().never();
        let refused = log_in(profiles, true)
            .confirm_email(profile_id(1), &password())
            .await;
        assert!(matches!(refused, Err(LogInError::InvalidCredentials)));
    }

    #[tokio::test]
    async fn an_unverified_address_cannot_log_in_yet() {
        let result = log_in(account(false), true)
            .execute(&email(), &password())
            .await;
        assert!(matches!(result, Err(LogInError::EmailNotVerified)));
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_find_password_account()
            .returning(|_| Err(PortError::unavailable("down")));
        let uc = LogIn {
            profiles: Arc::new(profiles),
            hasher: Arc::new(MockPasswordHasher::new()),
        };
        assert!(matches!(
            uc.execute(&email(), &password()).await,
            Err(LogInError::Unexpected(_))
        ));
    }

    fn subject() -> FranceConnectSubject {
        FranceConnectSubject {
            issuer: "https://fc.example".into(),
            subject: "sub-123".into(),
        }
    }

    fn certified(email: Option<Email>) -> CertifiedIdentity {
        CertifiedIdentity {
            subject: subject(),
            identity: marie(),
            email,
            birth_date_presumed: true,
            id_token_hint: "token".into(),
        }
    }

    fn fc_profile() -> Profile {
        let mut p = profile(1, marie());
        p.login = LoginMethod::FranceConnect(subject());
        p.identity_certified = true;
        p
    }

    fn sign_in(profiles: MockProfileRepository) -> SignInWithFranceConnect {
        SignInWithFranceConnect {
            profiles: Arc::new(profiles),
            clock: Arc::new(clock()),
        }
    }

    #[tokio::test]
    async fn a_known_subject_finds_its_profile() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_find_by_franceconnect()
            .returning(|_| Ok(Some(fc_profile())));
        profiles.expect_create().never();
        let outcome = sign_in(profiles)
            .execute(certified(Some(email())))
            .await
            .unwrap();
        assert!(matches!(outcome, FranceConnectSignIn::Existing(_)));
    }

    #[tokio::test]
    async fn a_first_visit_creates_a_certified_profile() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_find_by_franceconnect()
            .returning(|_| Ok(None));
        profiles
            .expect_create()
            .withf(|p| {
                p.identity_certified
                    && p.email_verified
                    && p.birth_date_presumed
                    && matches!(&p.credentials, NewCredentials::FranceConnect(s) if *s == subject())
            })
            .times(1)
            .returning(|_| Ok(fc_profile()));
        let outcome = sign_in(profiles)
            .execute(certified(Some(email())))
            .await
            .unwrap();
        assert!(matches!(outcome, FranceConnectSignIn::Created(_)));
        assert!(outcome.profile().identity_certified);
    }

    #[tokio::test]
    async fn no_email_no_profile() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_find_by_franceconnect()
            .returning(|_| Ok(None));
        profiles.expect_create().never();
        let result = sign_in(profiles).execute(certified(None)).await;
        assert!(matches!(
            result,
            Err(FranceConnectSignInError::EmailMissing)
        ));
    }

    #[tokio::test]
    async fn an_email_of_a_password_profile_is_a_clear_conflict() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_find_by_franceconnect()
            .returning(|_| Ok(None));
        profiles
            .expect_create()
            .returning(|_| Err(CreateProfileStoreError::EmailTaken));
        let result = sign_in(profiles).execute(certified(Some(email()))).await;
        assert!(matches!(
            result,
            Err(FranceConnectSignInError::EmailUsedByPasswordProfile)
        ));
    }

    #[tokio::test]
    async fn a_concurrent_first_visit_ends_with_one_profile() {
        let mut profiles = MockProfileRepository::new();
        let mut seq = mockall::Sequence::new();
        profiles
            .expect_find_by_franceconnect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(None));
        profiles
            .expect_create()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(CreateProfileStoreError::SubjectTaken));
        profiles
            .expect_find_by_franceconnect()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(fc_profile())));
        let outcome = sign_in(profiles)
            .execute(certified(Some(email())))
            .await
            .unwrap();
        assert!(matches!(outcome, FranceConnectSignIn::Existing(_)));
    }
}
