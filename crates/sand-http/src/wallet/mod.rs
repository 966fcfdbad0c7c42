//! The holder's wallet, on open standards: the [`DigitalSafe`] adapter that makes an
//! OpenID for Verifiable Credential Issuance 1.0 credential offer (pre-authorized code
//! flow, transaction code by e-mail), and the issuer's endpoints ([`endpoints`]) that a
//! wallet redeems it at for an SD-JWT VC.
//!
//! | address | what |
//! |---|---|
//! | `GET /.well-known/openid-credential-issuer` | the credential issuer's metadata |
//! | `GET /.well-known/oauth-authorization-server` | the token endpoint's metadata (RFC 8414) |
//! | `POST /openid4vci/token` | pre-authorized code + transaction code → access token |
//! | `POST /openid4vci/nonce` | a fresh `c_nonce` for the key proof |
//! | `POST /openid4vci/credential` | access token + key proof → the credential |

pub mod endpoints;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sand_domain::ports::{
    Clock, CreateOfferStoreError, CredentialOfferStore, DigitalSafe, Mail, SafeDelivery, SafeError,
    SafeHandOver, WalletSecrets,
};
use sand_domain::wallet::{
    AccessToken, IssueWalletCredential, NewCredentialOffer, OFFER_MINUTES, PreAuthorizedCode,
    RedeemOffer, SendToSafe, TX_CODE_DIGITS, TxCode,
};
use serde_json::json;

/// The one credential configuration the issuer offers.
pub const CONFIGURATION_ID: &str = "attestation_diplome_sd_jwt";
/// The grant type of the pre-authorized code flow.
pub const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
/// The scheme wallets register for credential offers.
pub const OFFER_SCHEME: &str = "openid-credential-offer://";
/// Where the wallet endpoints are.
pub const TOKEN_PATH: &str = "/openid4vci/token";
pub const NONCE_PATH: &str = "/openid4vci/nonce";
pub const CREDENTIAL_PATH: &str = "/openid4vci/credential";
/// How long a `c_nonce` is accepted in a key proof.
pub const NONCE_MINUTES: i64 = 5;

/// The wallet side of the service, composed when the credential key is configured.
#[derive(Clone, Debug)]
pub struct Wallet {
    /// The credential issuer identifier: the service's public address, exactly.
    pub issuer: String,
    pub send: SendToSafe,
    pub redeem: RedeemOffer,
    pub issue: IssueWalletCredential,
}

/// The credential offer a wallet scans: `openid-credential-offer://?credential_offer=…`
/// with the offer passed by value (no extra round trip, nothing stored to fetch).
#[must_use]
pub fn offer_uri(issuer: &str, code: &PreAuthorizedCode) -> String {
    let offer = json!({
        "credential_issuer": issuer,
        "credential_configuration_ids": [CONFIGURATION_ID],
        "grants": {
            PRE_AUTHORIZED_GRANT: {
                "pre-authorized_code": code.expose(),
                "tx_code": {
                    "input_mode": "numeric",
                    "length": TX_CODE_DIGITS,
                    "description": "Code à 6 chiffres reçu par e-mail",
                },
            },
        },
    });
    let query =
        serde_urlencoded::to_string([("credential_offer", offer.to_string())]).unwrap_or_default();
    format!("{OFFER_SCHEME}?{query}")
}

/// The [`DigitalSafe`] of an EU-style wallet: an OpenID4VCI credential offer whose
/// transaction code is mailed to the holder in the same transaction.
#[derive(Clone)]
pub struct OpenId4VciWallet {
    pub issuer: String,
    pub offers: Arc<dyn CredentialOfferStore>,
    pub secrets: Arc<dyn WalletSecrets>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for OpenId4VciWallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenId4VciWallet")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl DigitalSafe for OpenId4VciWallet {
    async fn deliver(&self, delivery: SafeDelivery) -> Result<SafeHandOver, SafeError> {
        let now = self.clock.now();
        let expires_at = now + time::Duration::minutes(OFFER_MINUTES);
        let code = self.secrets.pre_authorized_code();
        let tx_code = self.secrets.tx_code();
        let offer = NewCredentialOffer {
            profile: delivery.profile,
            link: delivery.link,
            code: code.clone(),
            tx_code: tx_code.clone(),
            created_at: now,
            expires_at,
        };
        let mail = Mail::WalletTxCode {
            to: delivery.to,
            code: tx_code,
            scope: delivery.scope,
            expires_at,
        };
        match self.offers.create(offer, mail).await {
            Ok(id) => {
                tracing::info!(offer = %id.0, link = %delivery.link.0, "wallet credential offer made");
                Ok(SafeHandOver::WalletOffer {
                    offer_uri: offer_uri(&self.issuer, &code),
                    expires_at,
                })
            }
            Err(CreateOfferStoreError::LinkNotFound) => Err(SafeError::LinkNotFound),
            Err(CreateOfferStoreError::Port(e)) => Err(e.into()),
        }
    }
}

/// The operating system's randomness for the offers' secrets.
impl WalletSecrets for crate::system::OsKeyGenerator {
    fn pre_authorized_code(&self) -> PreAuthorizedCode {
        PreAuthorizedCode::from_random_bytes(crate::system::random_bytes())
    }

    fn tx_code(&self) -> TxCode {
        // below the largest multiple of 10^6 that fits: every code equally likely
        const BOUND: u32 = (u32::MAX / 1_000_000) * 1_000_000;
        loop {
            let value = u32::from_be_bytes(crate::system::random_bytes());
            if value < BOUND {
                return TxCode::from_random(value);
            }
        }
    }

    fn access_token(&self) -> AccessToken {
        AccessToken::from_random_bytes(crate::system::random_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offer_is_passed_by_value_and_reads_back_as_the_specification_shapes_it() {
        let code = PreAuthorizedCode::from_random_bytes([7; 32]);
        let uri = offer_uri("https://diplomes.example.fr", &code);
        let query = uri
            .strip_prefix("openid-credential-offer://?")
            .expect("the offer scheme");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].0, "credential_offer");
        let offer: serde_json::Value = serde_json::from_str(&pairs[0].1).unwrap();
        assert_eq!(offer["credential_issuer"], "https://diplomes.example.fr");
        assert_eq!(offer["credential_configuration_ids"][0], CONFIGURATION_ID);
        let grant = &offer["grants"][PRE_AUTHORIZED_GRANT];
        assert_eq!(grant["pre-authorized_code"], code.expose());
        assert_eq!(grant["tx_code"]["length"], 6);
        assert_eq!(grant["tx_code"]["input_mode"], "numeric");
    }

    #[test]
    fn transaction_codes_are_six_digits_and_vary() {
        let secrets = crate::system::OsKeyGenerator;
        let codes: std::collections::HashSet<String> = (0..50)
            .map(|_| secrets.tx_code().expose().to_owned())
            .collect();
        assert!(codes.iter().all(|c| TxCode::parse(c).is_some()));
        assert!(codes.len() > 40, "50 draws gave {} codes", codes.len());
    }
}
