//! Deleting a profile: the graduate's personal data and all their links go, for real.
//! The records stay with the exam offices.

use std::fmt;
use std::sync::Arc;

use crate::error::PortError;
use crate::ports::{Mail, ProfileRepository};
use crate::profile::ProfileId;

/// What was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletedProfile {
    pub links_removed: u64,
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
}

impl fmt::Debug for DeleteProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeleteProfile")
    }
}

impl DeleteProfile {
    /// Deletes the profile and its links and, in the same transaction, queues a notice
    /// to the address it had.
    ///
    /// # Errors
    /// [`DeleteProfileError`]; then nothing was deleted nor queued.
    pub async fn execute(&self, id: ProfileId) -> Result<DeletedProfile, DeleteProfileError> {
        let profile = self
            .profiles
            .get(id)
            .await?
            .ok_or(DeleteProfileError::NotFound)?;
        let links_removed = self
            .profiles
            .delete(id, Some(Mail::ProfileDeleted { to: profile.email }))
            .await?
            .ok_or(DeleteProfileError::NotFound)?;
        Ok(DeletedProfile { links_removed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockProfileRepository;
    use crate::testing::*;

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
            .withf(|id, notice| {
                *id == profile_id(1)
                    && matches!(notice, Some(Mail::ProfileDeleted { to }) if to.as_str() == "diplome1@exemple.fr")
            })
            .times(1)
            .returning(|_, _| Ok(Some(3)));
        let deleted = DeleteProfile {
            profiles: Arc::new(profiles),
        }
        .execute(profile_id(1))
        .await
        .unwrap();
        assert_eq!(deleted, DeletedProfile { links_removed: 3 });
    }

    #[tokio::test]
    async fn an_unknown_profile_is_not_found() {
        let mut profiles = MockProfileRepository::new();
        profiles.expect_get().returning(|_| Ok(None));
        profiles.expect_delete().never();
        let result = DeleteProfile {
            profiles: Arc::new(profiles),
        }
        .execute(profile_id(1))
        .await;
        assert!(matches!(result, Err(DeleteProfileError::NotFound)));
    }

    #[tokio::test]
    async fn a_profile_deleted_concurrently_is_not_found() {
        let mut profiles = existing_profile();
        profiles.expect_delete().returning(|_, _| Ok(None));
        let result = DeleteProfile {
            profiles: Arc::new(profiles),
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
            .returning(|_, _| Err(PortError::unavailable("down")));
        let result = DeleteProfile {
            profiles: Arc::new(profiles),
        }
        .execute(profile_id(1))
        .await;
        assert!(matches!(result, Err(DeleteProfileError::Unexpected(_))));
    }
}
