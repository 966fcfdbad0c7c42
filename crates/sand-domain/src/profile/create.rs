//! Creating a profile with an e-mail and a password. The identity declared here is the
//! identity at exam time and can never be changed afterwards.

use std::fmt;
use std::sync::Arc;

use crate::credentials::{Email, Password};
use crate::error::PortError;
use crate::identity::Identity;
use crate::ports::{Clock, CreateProfileStoreError, PasswordHasher, ProfileRepository};
use crate::profile::{NewCredentials, NewProfile, Profile};

/// What the newcomer typed (already parsed into value objects).
#[derive(Debug, Clone)]
pub struct CreateProfileRequest {
    pub identity: Identity,
    pub email: Email,
    pub password: Password,
}

/// Why no profile was created.
#[derive(Debug, thiserror::Error)]
pub enum CreateProfileError {
    #[error("this e-mail address already has a profile")]
    EmailAlreadyUsed,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: create a password profile. Its e-mail address is unverified until the
/// owner follows the link mailed to them.
#[derive(Clone)]
pub struct CreateProfile {
    pub profiles: Arc<dyn ProfileRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for CreateProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CreateProfile")
    }
}

impl CreateProfile {
    /// # Errors
    /// [`CreateProfileError`].
    pub async fn execute(
        &self,
        request: CreateProfileRequest,
    ) -> Result<Profile, CreateProfileError> {
        let hash = self.hasher.hash(&request.password).await?;
        let new = NewProfile {
            identity: request.identity,
            email: request.email,
            email_verified: false,
            credentials: NewCredentials::Password(hash),
            identity_certified: false,
            birth_date_presumed: false,
            created_at: self.clock.now(),
        };
        match self.profiles.create(new).await {
            Ok(profile) => Ok(profile),
            Err(CreateProfileStoreError::EmailTaken | CreateProfileStoreError::SubjectTaken) => {
                Err(CreateProfileError::EmailAlreadyUsed)
            }
            Err(CreateProfileStoreError::Port(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::PasswordHash;
    use crate::ports::{MockPasswordHasher, MockProfileRepository};
    use crate::testing::*;

    fn request() -> CreateProfileRequest {
        let email = Email::parse("marie.durand@exemple.fr").unwrap();
        let password =
            Password::new_for_account("cheval agrafe pile", &email, &marie().birth_name).unwrap();
        CreateProfileRequest {
            identity: marie(),
            email,
            password,
        }
    }

    fn hasher() -> MockPasswordHasher {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_hash()
            .returning(|_| Ok(PasswordHash::new("$argon2id$fake".into())));
        hasher
    }

    fn use_case(profiles: MockProfileRepository) -> CreateProfile {
        CreateProfile {
            profiles: Arc::new(profiles),
            hasher: Arc::new(hasher()),
            clock: Arc::new(clock()),
        }
    }

    #[tokio::test]
    async fn a_profile_is_stored_with_a_hash_and_an_unverified_email() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_create()
            .withf(|p| {
                matches!(&p.credentials, NewCredentials::Password(h) if h.as_str() == "$argon2id$fake")
                    && !p.email_verified
                    && !p.identity_certified
                    && p.identity == marie()
                    && p.created_at == NOW
            })
            .times(1)
            .returning(|_| {
                let mut p = profile(1, marie());
                p.email_verified = false;
                Ok(p)
            });
        let created = use_case(profiles).execute(request()).await.unwrap();
        assert!(!created.email_verified);
    }

    #[tokio::test]
    async fn an_email_already_used_is_refused() {
        let mut profiles = MockProfileRepository::new();
        profiles
            .expect_create()
            .returning(|_| Err(CreateProfileStoreError::EmailTaken));
        let result = use_case(profiles).execute(request()).await;
        assert!(matches!(result, Err(CreateProfileError::EmailAlreadyUsed)));
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut profiles = MockProfileRepository::new();
        profiles.expect_create().returning(|_| {
            Err(CreateProfileStoreError::Port(PortError::unavailable(
                "down",
            )))
        });
        let result = use_case(profiles).execute(request()).await;
        assert!(matches!(result, Err(CreateProfileError::Unexpected(_))));
    }
}
