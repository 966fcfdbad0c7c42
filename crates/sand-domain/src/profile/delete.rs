//! Deleting a profile: the graduate's personal data and all their links go, for real.
//! The records stay with the exam offices.

use std::fmt;
use std::sync::Arc;

use crate::error::PortError;
use crate::ports::{Mail, Mailer, ProfileRepository};
use crate::profile::ProfileId;

/// What was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedProfile {
    pub links_removed: u64,
    /// Whether the "your profile was deleted" notice could be queued.
    pub notice_queued: bool,
}

/// Why the profile was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteProfileError {
    #[error("profile not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: delete one's own profile.
#[derive(Clone)]
pub struct DeleteProfile {
    pub profiles: Arc<dyn ProfileRepository>,
    pub mailer: Arc<dyn Mailer>,
}

impl fmt::Debug for DeleteProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeleteProfile")
    }
}

impl DeleteProfile {
    /// Deletes the profile and its links, then mails a notice to the address it had.
    ///
    /// # Errors
    /// [`DeleteProfileError`]; a notice that cannot be queued is not an error (the data
    /// is already gone), it is reported in [`DeletedProfile::notice_queued`].
    pub async fn execute(&self, id: ProfileId) -> Result<DeletedProfile, DeleteProfileError> {
        let profile = self
            .profiles
            .get(id)
            .await?
            .ok_or(DeleteProfileError::NotFound)?;
        let links_removed = self
            .profiles
            .delete(id)
            .await?
            .ok_or(DeleteProfileError::NotFound)?;
        let notice_queued = self
            .mailer
            .send(Mail::ProfileDeleted { to: profile.email })
            .await
            .is_ok();
        Ok(DeletedProfile {
            links_removed,
            notice_queued,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{MockMailer, MockProfileRepository};
    use crate::testing::*;
    use mockall::predicate::eq;

    fn existing_profile() -> MockProfileRepository {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_get()
            .returning(|_| Ok(Some(profile(1, marie()))));
        profiles
    }

    #[tokio::test]
    async fn the_profile_and_its_links_are_deleted_and_the_owner_told() {
        let mut profiles = existing_profile();
        profiles
            .expect_delete()
            .with(eq(profile_id(1)))
            .times(1)
            .returning(|_| Ok(Some(3)));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .withf(|m| matches!(m, Mail::ProfileDeleted { to } if to.as_str() == "diplome1@exemple.fr"))
            .times(1)
            .returning(|_| Ok(()));
        let deleted = DeleteProfile {
            profiles: Arc::new(profiles),
            mailer: Arc::new(mailer),
        }
        .execute(profile_id(1))
        .await
        .unwrap();
        assert_eq!(
            deleted,
            DeletedProfile {
                links_removed: 3,
                notice_queued: true
            }
        );
    }

    #[tokio::test]
    async fn a_mail_failure_does_not_undo_the_deletion() {
        let mut profiles = existing_profile();
        profiles.expect_delete().returning(|_| Ok(Some(0)));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .returning(|_| Err(PortError::unavailable("smtp down")));
        let deleted = DeleteProfile {
            profiles: Arc::new(profiles),
            mailer: Arc::new(mailer),
        }
        .execute(profile_id(1))
        .await
        .unwrap();
        assert!(!deleted.notice_queued);
    }

    #[tokio::test]
    async fn an_unknown_profile_is_not_found() {
        let mut profiles = MockProfileRepository::new();
        profiles.expect_get().returning(|_| Ok(None));
        profiles.expect_delete().never();
        let result = DeleteProfile {
            profiles: Arc::new(profiles),
            mailer: Arc::new(MockMailer::new()),
        }
        .execute(profile_id(1))
        .await;
        assert!(matches!(result, Err(DeleteProfileError::NotFound)));
    }

    #[tokio::test]
    async fn a_profile_deleted_concurrently_is_not_found() {
        let mut profiles = existing_profile();
        profiles.expect_delete().returning(|_| Ok(None));
        let mut mailer = MockMailer::new();
        mailer.expect_send().never();
        let result = DeleteProfile {
            profiles: Arc::new(profiles),
            mailer: Arc::new(mailer),
        }
        .execute(profile_id(1))
        .await;
        assert!(matches!(result, Err(DeleteProfileError::NotFound)));
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut profiles = existing_profile();
        profiles
            .expect_delete()
            .returning(|_| Err(PortError::unavailable("down")));
        let result = DeleteProfile {
            profiles: Arc::new(profiles),
            mailer: Arc::new(MockMailer::new()),
        }
        .execute(profile_id(1))
        .await;
        assert!(matches!(result, Err(DeleteProfileError::Unexpected(_))));
    }
}
