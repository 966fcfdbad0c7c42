//! The status of credentials issued from links (a wallet credential's IETF Token Status
//! List entry): valid while its link lives, invalid for good once the link ends — in any
//! of the ways MISSION.md's "How a link ends" lists. Renewing the control key is not an
//! end. Entries outlive their link (the list must keep saying "invalid").
//!
//! Model and port only; issuing credentials builds on it.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::PortError;
use crate::link::LinkId;

/// Entries per status list: 2^20 (a 128 KiB bitmap at one bit per entry, a few hundred
/// bytes once compressed while most entries are valid). A list is left for the next one
/// once half full, so that a random free index is found in a few draws.
pub const LIST_SIZE: u32 = 1 << 20;

/// One status list (its number in the list's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusListId(pub u32);

/// Where a credential's status is: a list and an index in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusEntry {
    pub list: StatusListId,
    pub index: u32,
}

/// A credential's status, as the Token Status List encodes it (`bits` = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialState {
    Valid = 0,
    Invalid = 1,
}

/// Why no entry was allocated.
#[derive(Debug, thiserror::Error)]
pub enum AllocateStatusError {
    /// The link is not active (ended or withdrawn meanwhile): nothing to issue.
    #[error("the link is not active")]
    LinkNotActive,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Stores the entries; revokes them in the store's own transaction when a link ends.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CredentialStatusStore: Send + Sync {
    /// A new valid entry for a credential issued from `link` at `at`, at a random free
    /// index of the current list. The link must be active; a link that ends afterwards
    /// revokes it.
    ///
    /// # Errors
    /// [`AllocateStatusError`].
    async fn allocate(
        &self,
        link: LinkId,
        at: OffsetDateTime,
    ) -> Result<StatusEntry, AllocateStatusError>;

    /// One entry's state; `None` for an index never allocated.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn state(&self, entry: StatusEntry) -> Result<Option<CredentialState>, PortError>;

    /// The indexes of `list` that are invalid (what the published list sets to 1).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn invalid_in(&self, list: StatusListId) -> Result<Vec<u32>, PortError>;
}

/// The Token Status List's byte array at one bit per entry: entry `i` is bit `i % 8`
/// (least significant first) of byte `i / 8`; entries not named are valid (0).
#[must_use]
pub fn pack(invalid: &[u32]) -> Vec<u8> {
    let mut bytes = vec![0u8; (LIST_SIZE / 8) as usize];
    for &index in invalid {
        if let Some(byte) = bytes.get_mut((index / 8) as usize) {
            *byte |= 1 << (index % 8);
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_packed_least_significant_bit_first() {
        let bytes = pack(&[0, 9, 15, LIST_SIZE - 1, LIST_SIZE]);
        assert_eq!(bytes.len(), 131_072);
        assert_eq!(bytes[0], 0b0000_0001);
        assert_eq!(bytes[1], 0b1000_0010);
        assert_eq!(bytes[bytes.len() - 1], 0b1000_0000);
        assert!(bytes[2..bytes.len() - 1].iter().all(|b| *b == 0));
    }
}
