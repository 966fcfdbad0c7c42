//! The diploma in the holder's digital safe or wallet.
//!
//! [`SendToSafe`] hands an attestation over to the holder's safe through the
//! [`DigitalSafe`] port; the wallet adapter answers with an OpenID4VCI credential offer
//! (pre-authorized code flow) whose transaction code it mails. The wallet then redeems the
//! offer ([`RedeemOffer`]) and fetches its credential ([`IssueWalletCredential`]): an
//! SD-JWT VC bound to the wallet's key, with a status list entry that turns invalid when
//! the link ends, in any way (see [`crate::credential_status`]).

use std::fmt;
use std::sync::Arc;

use time::Duration;

use crate::credential_status::{AllocateStatusError, CredentialStatusStore};
use crate::error::PortError;
use crate::link::LinkId;
use crate::ports::{
    Attestation, Clock, CredentialOfferStore, DigitalSafe, LinkRepository, ProfileRepository,
    RecordReader, RedeemStoreError, SafeDelivery, SafeError, SafeHandOver, WalletCredentialSigner,
    WalletSecrets,
};
use crate::profile::ProfileId;

pub mod model;
pub use model::*;

/// Why nothing was handed over to the safe.
#[derive(Debug, thiserror::Error)]
pub enum SendToSafeError {
    /// No such link in this profile.
    #[error("attestation not found")]
    NotFound,
    /// The exam office withdrew the record.
    #[error("the record was withdrawn by the exam office")]
    Withdrawn,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: put one of one's attestations into one's digital safe or wallet.
#[derive(Clone)]
pub struct SendToSafe {
    pub profiles: Arc<dyn ProfileRepository>,
    pub links: Arc<dyn LinkRepository>,
    pub records: Arc<dyn RecordReader>,
    pub safe: Arc<dyn DigitalSafe>,
}

impl fmt::Debug for SendToSafe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendToSafe")
    }
}

impl SendToSafe {
    /// # Errors
    /// [`SendToSafeError`].
    pub async fn execute(
        &self,
        profile: ProfileId,
        link: LinkId,
    ) -> Result<SafeHandOver, SendToSafeError> {
        let held = self
            .links
            .get_owned(link, profile)
            .await?
            .ok_or(SendToSafeError::NotFound)?;
        if !held.is_active() {
            return Err(SendToSafeError::Withdrawn);
        }
        let record = self
            .records
            .get_many(&[held.record])
            .await?
            .into_iter()
            .next()
            .ok_or(SendToSafeError::Withdrawn)?;
        let holder = self
            .profiles
            .get(profile)
            .await?
            .ok_or(SendToSafeError::NotFound)?;
        let delivery = SafeDelivery {
            profile,
            link,
            to: holder.email,
            scope: record.scope,
        };
        match self.safe.deliver(delivery).await {
            Ok(handed) => Ok(handed),
            Err(SafeError::LinkNotFound) => Err(SendToSafeError::NotFound),
            Err(SafeError::Port(e)) => Err(e.into()),
        }
    }
}

/// Why no access token was given.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error(transparent)]
    Refused(#[from] RedeemRefusal),
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// An access token and how long it lives.
#[derive(Debug, Clone)]
pub struct Access {
    pub token: AccessToken,
    pub lifetime: Duration,
}

/// Use case: the wallet exchanges the offer's pre-authorized code and the mailed
/// transaction code for an access token.
#[derive(Clone)]
pub struct RedeemOffer {
    pub offers: Arc<dyn CredentialOfferStore>,
    pub secrets: Arc<dyn WalletSecrets>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for RedeemOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedeemOffer")
    }
}

impl RedeemOffer {
    /// A malformed code is refused like an unknown one; a malformed transaction code is
    /// a wrong one (it counts).
    ///
    /// # Errors
    /// [`RedeemError`].
    pub async fn execute(&self, code: &str, tx_code: &str) -> Result<Access, RedeemError> {
        let code = PreAuthorizedCode::parse(code).ok_or(RedeemRefusal::InvalidCode)?;
        // a wrong shape still costs a try: it never matches a stored code
        let tx_code = TxCode::parse(tx_code).unwrap_or_else(TxCode::unmatchable);
        let now = self.clock.now();
        let lifetime = Duration::minutes(ACCESS_MINUTES);
        let token = self.secrets.access_token();
        match self
            .offers
            .redeem(
                &code,
                &tx_code,
                &token,
                now,
                now + lifetime,
                MAX_WRONG_TX_CODES,
            )
            .await
        {
            Ok(()) => Ok(Access { token, lifetime }),
            Err(RedeemStoreError::Refused(refusal)) => Err(refusal.into()),
            Err(RedeemStoreError::Port(e)) => Err(e.into()),
        }
    }
}

/// Why no credential was issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueCredentialError {
    /// Unknown, expired or used access token.
    #[error("the access token is not valid")]
    InvalidToken,
    /// The link ended (or its record was withdrawn) since the offer was made.
    #[error("the attestation is no longer held")]
    LinkEnded,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: the wallet fetches the credential of a redeemed offer, bound to a key it
/// proved it holds.
#[derive(Clone)]
pub struct IssueWalletCredential {
    pub offers: Arc<dyn CredentialOfferStore>,
    pub links: Arc<dyn LinkRepository>,
    pub records: Arc<dyn RecordReader>,
    pub status: Arc<dyn CredentialStatusStore>,
    pub signer: Arc<dyn WalletCredentialSigner>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for IssueWalletCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssueWalletCredential")
    }
}

impl IssueWalletCredential {
    /// The credential for the access token `token`, bound to `holder_jwk` (checked by
    /// the caller: the wallet signed a fresh proof with it). The token is used up.
    ///
    /// # Errors
    /// [`IssueCredentialError`].
    pub async fn execute(
        &self,
        token: &str,
        holder_jwk: &str,
    ) -> Result<String, IssueCredentialError> {
        let token = AccessToken::parse(token).ok_or(IssueCredentialError::InvalidToken)?;
        let now = self.clock.now();
        let grant = self
            .offers
            .use_access(&token, now)
            .await?
            .ok_or(IssueCredentialError::InvalidToken)?;
        let link = self
            .links
            .get_owned(grant.link, grant.profile)
            .await?
            .filter(crate::link::Link::is_active)
            .ok_or(IssueCredentialError::LinkEnded)?;
        let record = self
            .records
            .get_many(&[link.record])
            .await?
            .into_iter()
            .next()
            .ok_or(IssueCredentialError::LinkEnded)?;
        let status = match self.status.allocate(link.id, now).await {
            Ok(entry) => entry,
            Err(AllocateStatusError::LinkNotActive) => return Err(IssueCredentialError::LinkEnded),
            Err(AllocateStatusError::Port(e)) => return Err(e.into()),
        };
        let attestation = Attestation {
            record,
            key: link.key,
            issued_at: now,
        };
        Ok(self.signer.sign(&attestation, holder_jwk, status)?)
    }
}

#[cfg(test)]
mod tests;
