//! Deleting an attestation: only the link between the profile and the record is broken;
//! the record stays with the exam office, and the key stops verifying.

use std::fmt;
use std::sync::Arc;

use crate::error::PortError;
use crate::link::LinkId;
use crate::ports::LinkRepository;
use crate::profile::ProfileId;

/// What the graduate asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetachDiplomaRequest {
    pub profile: ProfileId,
    pub link: LinkId,
}

/// Why the link could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DetachDiplomaError {
    /// No such link in this profile (whether it exists elsewhere is not said).
    #[error("attestation not found")]
    NotFound,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: delete an attestation from one's profile.
#[derive(Clone)]
pub struct DetachDiploma {
    pub links: Arc<dyn LinkRepository>,
}

impl fmt::Debug for DetachDiploma {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DetachDiploma")
    }
}

impl DetachDiploma {
    /// # Errors
    /// [`DetachDiplomaError`].
    pub async fn execute(&self, request: DetachDiplomaRequest) -> Result<(), DetachDiplomaError> {
        if self
            .links
            .delete_owned(request.link, request.profile)
            .await?
        {
            Ok(())
        } else {
            Err(DetachDiplomaError::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockLinkRepository;
    use crate::testing::*;
    use mockall::predicate::eq;

    fn use_case(deleted: bool) -> DetachDiploma {
        let mut links = MockLinkRepository::new();
        links
            .expect_delete_owned()
            .with(eq(link_id(1)), eq(profile_id(1)))
            .times(1)
            .returning(move |_, _| Ok(deleted));
        DetachDiploma {
            links: Arc::new(links),
        }
    }

    #[tokio::test]
    async fn deleting_an_attestation_only_deletes_the_link() {
        // The use case holds no record writer at all: the record cannot be touched.
        let request = DetachDiplomaRequest {
            profile: profile_id(1),
            link: link_id(1),
        };
        assert!(use_case(true).execute(request).await.is_ok());
    }

    #[tokio::test]
    async fn someone_elses_or_an_unknown_link_is_not_found() {
        let request = DetachDiplomaRequest {
            profile: profile_id(1),
            link: link_id(1),
        };
        assert!(matches!(
            use_case(false).execute(request).await,
            Err(DetachDiplomaError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut links = MockLinkRepository::new();
        links
            .expect_delete_owned()
            .returning(|_, _| Err(PortError::unavailable("down")));
        let request = DetachDiplomaRequest {
            profile: profile_id(1),
            link: link_id(1),
        };
        let result = DetachDiploma {
            links: Arc::new(links),
        }
        .execute(request)
        .await;
        assert!(matches!(result, Err(DetachDiplomaError::Unexpected(_))));
    }
}
