//! Changing one's password while signed in (ASVS 5.0 6.2.2, 7.4.3): the current password
//! is required, the new one follows the rules of a new account, and every other session
//! of the account ends (whoever else had the old password is signed out).

use std::fmt;
use std::sync::Arc;

use crate::credentials::{Password, PasswordError};
use crate::error::PortError;
use crate::ports::{Mail, Mailer, PasswordHasher, ProfileRepository, SecurityChange, SessionStore};
use crate::profile::ProfileId;

/// Why the password was not changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// The profile logs in with FranceConnect: it has no password to change (or it is
    /// gone).
    #[error("this profile has no password")]
    NoPassword,
    /// The current password typed is not the profile's.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// The new password breaks the rules of a new password.
    #[error("the new password is refused: {0}")]
    Refused(#[source] PasswordError),
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// What changing the password did besides.
#[derive(Debug)]
pub struct PasswordChanged {
    /// How many other sessions of the account were ended.
    pub other_sessions_ended: u64,
    /// The notice to the owner could not be queued (the password is changed all the
    /// same; the caller logs it).
    pub notice_not_queued: Option<PortError>,
}

/// Use case: change one's own password.
#[derive(Clone)]
pub struct ChangePassword {
    pub profiles: Arc<dyn ProfileRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub sessions: Arc<dyn SessionStore>,
    /// Tells the owner, so that a change they did not make does not go unnoticed.
    pub mailer: Arc<dyn Mailer>,
}

impl fmt::Debug for ChangePassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangePassword")
    }
}

impl ChangePassword {
    /// Checks `current`, sets `new` (checked as a new account's password) and ends every
    /// session of the profile but `keep_session` (the digest of the session asking).
    ///
    /// # Errors
    /// [`ChangePasswordError`].
    pub async fn execute(
        &self,
        id: ProfileId,
        current: &Password,
        new: &str,
        keep_session: &str,
    ) -> Result<PasswordChanged, ChangePasswordError> {
        let (Some(profile), Some(hash)) = (
            self.profiles.get(id).await?,
            self.profiles.password_hash(id).await?,
        ) else {
            return Err(ChangePasswordError::NoPassword);
        };
        if !self.hasher.verify(current, &hash).await? {
            return Err(ChangePasswordError::WrongCurrentPassword);
        }
        let new = Password::new_for_account(new, &profile.email, &profile.identity.birth_name)
            .map_err(ChangePasswordError::Refused)?;
        let new_hash = self.hasher.hash(&new).await?;
        if !self.profiles.set_password(id, new_hash).await? {
            return Err(ChangePasswordError::NoPassword);
        }
        let other_sessions_ended = self.sessions.delete_others(id, keep_session).await?;
        let notice_not_queued = self
            .mailer
            .send(Mail::SecurityChange {
                to: profile.email.clone(),
                change: SecurityChange::PasswordChanged,
            })
            .await
            .err();
        Ok(PasswordChanged {
            other_sessions_ended,
            notice_not_queued,
        })
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;

    use super::*;
    use crate::credentials::PasswordHash;
    use crate::ports::{
        Mail, MockMailer, MockPasswordHasher, MockProfileRepository, MockSessionStore,
        SecurityChange,
    };
    use crate::testing::{marie, profile, profile_id};

    fn use_case(
        profiles: MockProfileRepository,
        hasher: MockPasswordHasher,
        sessions: MockSessionStore,
    ) -> ChangePassword {
        with_mailer(profiles, hasher, sessions, MockMailer::new())
    }

    fn with_mailer(
        profiles: MockProfileRepository,
        hasher: MockPasswordHasher,
        sessions: MockSessionStore,
        mailer: MockMailer,
    ) -> ChangePassword {
        ChangePassword {
            profiles: Arc::new(profiles),
            hasher: Arc::new(hasher),
            sessions: Arc::new(sessions),
            mailer: Arc::new(mailer),
        }
    }

    fn found(id: ProfileId) -> MockProfileRepository {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_get()
            .returning(move |_| Ok(Some(profile(id.0.as_u128(), marie()))));
        profiles
            .expect_password_hash()
            .returning(|_| Ok(Some(PasswordHash::new("$old".to_owned()))));
        profiles
    }

    fn current_is(right: &'static str) -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_verify()
            .returning(move |p, _| Ok(p.expose() == right));
        hasher
            .expect_hash()
            .returning(|p| Ok(PasswordHash::new(format!("$new:{}", p.expose()))));
        hasher
    }

    #[tokio::test]
    async fn the_new_password_is_set_and_the_other_sessions_end() {
        let id = profile_id(7);
        let mut profiles = found(id);
        profiles
            .expect_set_password()
            .withf(move |p, h| *p == id && h.as_str() == "$new:autre phrase tranquille")
            .times(1)
            .returning(|_, _| Ok(true));
        let mut sessions = MockSessionStore::new();
        sessions
            .expect_delete_others()
            .with(eq(id), eq("this-session"))
            .times(1)
            .returning(|_, _| Ok(2));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .withf(|m| {
                matches!(
                    m,
                    Mail::SecurityChange {
                        change: SecurityChange::PasswordChanged,
                        ..
                    }
                )
            })
            .times(1)
            .returning(|_| Ok(()));
        let changed = with_mailer(profiles, current_is("ancienne phrase"), sessions, mailer)
            .execute(
                id,
                &Password::for_login("ancienne phrase").unwrap(),
                "autre phrase tranquille",
                "this-session",
            )
            .await
            .unwrap();
        assert_eq!(changed.other_sessions_ended, 2);
        assert!(changed.notice_not_queued.is_none());
    }

    #[tokio::test]
    async fn a_notice_that_cannot_be_queued_does_not_undo_the_change() {
        let id = profile_id(7);
        let mut profiles = found(id);
        profiles
            .expect_set_password()
            .times(1)
            .returning(|_, _| Ok(true));
        let mut sessions = MockSessionStore::new();
        sessions.expect_delete_others().returning(|_, _| Ok(0));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .times(1)
            .returning(|_| Err(PortError::unavailable("outbox down")));
        let changed = with_mailer(profiles, current_is("ancienne phrase"), sessions, mailer)
            .execute(
                id,
                &Password::for_login("ancienne phrase").unwrap(),
                "autre phrase tranquille",
                "s",
            )
            .await
            .unwrap();
        assert!(changed.notice_not_queued.is_some());
    }

    #[tokio::test]
    async fn a_wrong_current_password_changes_nothing() {
        let id = profile_id(7);
        let result = use_case(
            found(id),
            current_is("ancienne phrase"),
            MockSessionStore::new(),
        )
        .execute(
            id,
            &Password::for_login("pas la bonne").unwrap(),
            "autre phrase tranquille",
            "s",
        )
        .await;
        assert!(matches!(
            result,
            Err(ChangePasswordError::WrongCurrentPassword)
        ));
    }

    #[tokio::test]
    async fn a_weak_new_password_is_refused_after_the_current_one_is_checked() {
        let id = profile_id(7);
        let result = use_case(
            found(id),
            current_is("ancienne phrase"),
            MockSessionStore::new(),
        )
        .execute(
            id,
            &Password::for_login("ancienne phrase").unwrap(),
            "azerty123456",
            "s",
        )
        .await;
        assert!(matches!(
            result,
            Err(ChangePasswordError::Refused(PasswordError::TooWeak))
        ));
    }

    #[tokio::test]
    async fn a_franceconnect_profile_has_no_password_to_change() {
        let id = profile_id(7);
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_get()
            .returning(move |_| Ok(Some(profile(id.0.as_u128(), marie()))));
        profiles.expect_password_hash().returning(|_| Ok(None));
        let result = use_case(profiles, MockPasswordHasher::new(), MockSessionStore::new())
            .execute(
                id,
                &Password::for_login("quelconque").unwrap(),
                "autre phrase tranquille",
                "s",
            )
            .await;
        assert!(matches!(result, Err(ChangePasswordError::NoPassword)));
    }
}
