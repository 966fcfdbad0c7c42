//! Password hashing with Argon2id (OWASP parameters: 19 MiB, 2 iterations, 1 lane), off
//! the async runtime and with a cap on concurrent hashes, so that a login flood queues
//! instead of exhausting memory.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::credentials::{Password, PasswordHash};
use sand_domain::ports::PasswordHasher;
use tokio::sync::Semaphore;

use crate::system::random_bytes;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Iterations.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const LANES: u32 = 1;

/// Argon2id behind a semaphore.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    permits: Arc<Semaphore>,
}

impl Argon2Hasher {
    /// At most `concurrency` hashes at once (each holds 19 MiB while it runs).
    #[must_use]
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    fn argon2() -> Result<Argon2<'static>, PortError> {
        let params =
            Params::new(MEMORY_KIB, ITERATIONS, LANES, None).map_err(PortError::unexpected)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, PortError> + Send + 'static,
    ) -> Result<T, PortError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(PortError::unexpected)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(PortError::unexpected)?
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PortError> {
        let password = password.clone();
        self.blocking(move || {
            let salt = random_bytes::<16>();
            let hash = Self::argon2()?
                .hash_password_with_salt(password.expose().as_bytes(), &salt)
                .map_err(PortError::unexpected)?;
            Ok(PasswordHash::new(hash.to_string()))
        })
        .await
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, PortError> {
        let password = password.clone();
        let hash = hash.clone();
        self.blocking(move || {
            match Self::argon2()?.verify_password(password.expose().as_bytes(), hash.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => {
                    tracing::warn!(error = %e, "a stored password hash could not be checked");
                    Ok(false)
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hasher = Argon2Hasher::new(2);
        let password = Password::for_login("correct horse battery staple").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher.verify(&password, &hash).await.unwrap());
        let other = Password::for_login("correct horse battery stapler").unwrap();
        assert!(!hasher.verify(&other, &hash).await.unwrap());
        let garbage = PasswordHash::new("not a hash".to_owned());
        assert!(!hasher.verify(&password, &garbage).await.unwrap());
    }
}
