//! Renewing a control key: a new key replaces the old one, which stops verifying at once
//! (the holder revokes a key they handed out).

use std::fmt;
use std::sync::Arc;

use crate::error::PortError;
use crate::link::{KEY_ATTEMPTS, Link, LinkId};
use crate::ports::{Clock, KeyGenerator, LinkRepository, ReplaceKeyStoreError};
use crate::profile::ProfileId;

/// What the graduate asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenewKeyRequest {
    pub profile: ProfileId,
    pub link: LinkId,
}

/// Why the key could not be renewed.
#[derive(Debug, thiserror::Error)]
pub enum RenewKeyError {
    /// No active link with this id in this profile.
    #[error("attestation not found")]
    NotFound,
    /// Every key drawn collided: the random source is broken.
    #[error("could not draw an unused control key")]
    KeySpaceExhausted,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: give an attestation a new control key.
#[derive(Clone)]
pub struct RenewKey {
    pub links: Arc<dyn LinkRepository>,
    pub keys: Arc<dyn KeyGenerator>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for RenewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RenewKey")
    }
}

impl RenewKey {
    /// # Errors
    /// [`RenewKeyError`].
    pub async fn execute(&self, request: RenewKeyRequest) -> Result<Link, RenewKeyError> {
        let now = self.clock.now();
        for _ in 0..KEY_ATTEMPTS {
            let key = self.keys.generate();
            match self
                .links
                .replace_key(request.link, request.profile, key, now)
                .await
            {
                Ok(link) => return Ok(link),
                Err(ReplaceKeyStoreError::KeyCollision) => {}
                Err(ReplaceKeyStoreError::NotFound) => return Err(RenewKeyError::NotFound),
                Err(ReplaceKeyStoreError::Port(e)) => return Err(e.into()),
            }
        }
        Err(RenewKeyError::KeySpaceExhausted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::MockLinkRepository;
    use crate::testing::*;

    fn use_case(links: MockLinkRepository, sequence: &[&str]) -> RenewKey {
        RenewKey {
            links: Arc::new(links),
            keys: Arc::new(keys(sequence)),
            clock: Arc::new(clock()),
        }
    }

    fn request() -> RenewKeyRequest {
        RenewKeyRequest {
            profile: profile_id(1),
            link: link_id(1),
        }
    }

    #[tokio::test]
    async fn the_new_key_replaces_the_old_one() {
        let mut links = MockLinkRepository::new();
        links
            .expect_replace_key()
            .withf(|id, profile, key, at| {
                *id == link_id(1)
                    && *profile == profile_id(1)
                    && key.as_str() == "NEWK3Y00"
                    && *at == NOW
            })
            .times(1)
            .returning(|_, _, k, at| {
                let mut l = link(1, 1, 1, "0LDK3Y00");
                l.key = k;
                l.key_issued_at = at;
                Ok(l)
            });
        let renewed = use_case(links, &["NEWK3Y00"])
            .execute(request())
            .await
            .unwrap();
        assert_eq!(renewed.key.as_str(), "NEWK3Y00");
    }

    #[tokio::test]
    async fn a_collision_draws_another_key() {
        let mut links = MockLinkRepository::new();
        let mut seq = mockall::Sequence::new();
        links
            .expect_replace_key()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Err(ReplaceKeyStoreError::KeyCollision));
        links
            .expect_replace_key()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, k, _| {
                let mut l = link(1, 1, 1, "0LDK3Y00");
                l.key = k;
                Ok(l)
            });
        let renewed = use_case(links, &["AAAA0000", "BBBB1111"])
            .execute(request())
            .await
            .unwrap();
        assert_eq!(renewed.key.as_str(), "BBBB1111");
    }

    #[tokio::test]
    async fn endless_collisions_give_up() {
        let mut links = MockLinkRepository::new();
        links
            .expect_replace_key()
            .times(KEY_ATTEMPTS)
            .returning(|_, _, _, _| Err(ReplaceKeyStoreError::KeyCollision));
        let result = use_case(links, &["AAAA0000"; KEY_ATTEMPTS])
            .execute(request())
            .await;
        assert!(matches!(result, Err(RenewKeyError::KeySpaceExhausted)));
    }

    #[tokio::test]
    async fn another_profiles_link_is_not_found() {
        let mut links = MockLinkRepository::new();
        links
            .expect_replace_key()
            .returning(|_, _, _, _| Err(ReplaceKeyStoreError::NotFound));
        let result = use_case(links, &["AAAA0000"]).execute(request()).await;
        assert!(matches!(result, Err(RenewKeyError::NotFound)));
    }

    #[tokio::test]
    async fn a_storage_failure_is_unexpected() {
        let mut links = MockLinkRepository::new();
        links
            .expect_replace_key()
            .returning(|_, _, _, _| Err(ReplaceKeyStoreError::Port(PortError::unexpected("boom"))));
        let result = use_case(links, &["AAAA0000"]).execute(request()).await;
        assert!(matches!(result, Err(RenewKeyError::Unexpected(_))));
    }
}
