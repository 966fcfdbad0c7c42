//! The real clock and the real random source, for the composed service.

use sand_domain::control_key::{ControlKey, KEY_BYTES};
use sand_domain::ports::{Clock, KeyGenerator, ShareTokenGenerator};
use sand_domain::sharing::ShareToken;
use time::OffsetDateTime;

/// The system clock, in UTC.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Control keys and share tokens from the operating system's CSPRNG.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsKeyGenerator;

impl KeyGenerator for OsKeyGenerator {
    fn generate(&self) -> ControlKey {
        ControlKey::from_random_bytes(random_bytes::<KEY_BYTES>())
    }
}

impl ShareTokenGenerator for OsKeyGenerator {
    fn share_token(&self) -> ShareToken {
        ShareToken::from_random_bytes(random_bytes())
    }
}

/// `N` bytes from the operating system's CSPRNG. A failing CSPRNG leaves no safe way
/// on: the process aborts rather than hand out predictable secrets.
#[must_use]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::error!(error = %e, "the operating system's random source failed");
        std::process::abort();
    }
    bytes
}

/// A random token of 32 bytes, as 64 hex digits.
#[must_use]
pub fn random_token() -> String {
    hex::encode(random_bytes::<32>())
}

/// Runs CPU-bound `work` (reading an uploaded document, say) on the blocking pool, off
/// the async runtime's workers: a few such requests cannot stall every other one.
///
/// # Errors
/// The task's [`tokio::task::JoinError`] when the work panicked.
pub async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(work).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn work_off_the_runtime_runs_on_another_thread_than_the_runtimes() {
        let runtime_thread = std::thread::current().id();
        let worker = off_runtime(|| std::thread::current().id()).await.unwrap();
        assert_ne!(worker, runtime_thread);
    }
}
