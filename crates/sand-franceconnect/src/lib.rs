//! Logins over OpenID Connect (the `openidconnect` crate): FranceConnect v2 for graduates
//! (the domain's [`IdentityProvider`] port, below) and ProConnect for State agents
//! ([`proconnect`]), over one client that does the checks both need (`oidc`).
//!
//! FranceConnect, exactly as it speaks:
//! - discovery at `{issuer}/.well-known/openid-configuration` (re-fetched when a token is
//!   signed with a key the cached JWKS does not have);
//! - authorization code flow, `acr_values=eidas1`, `state` and `nonce` of 64 characters
//!   (32 random bytes), PKCE (S256) when the provider advertises it;
//! - token exchange with `client_secret_post`;
//! - the id_token's signature, `iss`, `aud`, `exp`, `nonce` and `acr` are checked; the
//!   userinfo must be a signed JWT, checked against the same keys;
//! - the "identité pivot" becomes the domain identity: `family_name` is the birth name,
//!   `given_name_array` (or `given_name`) all first names, `birthdate` the birth date, a
//!   `YYYY-01-01` date is flagged as presumed;
//! - logout is a browser redirect to `/session/end` with `id_token_hint`.
//!
//! [`IdentityProvider`]: sand_domain::ports::IdentityProvider

mod oidc;
pub mod proconnect;

use async_trait::async_trait;
use openidconnect::AdditionalClaims;
use openidconnect::UserInfoClaims;
use openidconnect::core::CoreGenderClaim;
use sand_domain::PortError;
use sand_domain::credentials::Email;
use sand_domain::identity::{BirthDate, BirthName, BirthPlaceCode, FirstNames, Identity};
use sand_domain::ports::{
    AuthorizationRequest, CallbackParams, CertifiedIdentity, IdentityProvider,
    IdentityProviderError, PendingLogin,
};
use sand_domain::profile::FranceConnectSubject;
use serde::{Deserialize, Serialize};
use tracing::instrument;

pub use oidc::{ConfigError, OidcSettings};
pub use proconnect::ProConnect;

use oidc::{OidcClient, invalid};

/// The scopes SAND asks for, and only those it uses (data minimisation): the names and
/// birth date it matches records on, the birth place and country that tell true homonyms
/// apart when a certified claimant meets an uncertified holder, and the e-mail address the
/// profile needs (`openid` is always added). Not `gender` nor `preferred_username` (the
/// usage name): SAND uses neither.
pub const PIVOT_SCOPES: &[&str] = &[
    "given_name",
    "family_name",
    "birthdate",
    "birthplace",
    "birthcountry",
    "email",
];

/// The level FranceConnect certifies.
pub const ACR: &str = "eidas1";

/// Configuration (all of it, never code: the sandbox and production differ only here).
pub type FranceConnectSettings = OidcSettings;

/// The FranceConnect adapter.
#[derive(Debug)]
pub struct FranceConnect(OidcClient);

impl FranceConnect {
    /// # Errors
    /// [`ConfigError`] for a URL that does not parse or an HTTP client that cannot be built.
    pub fn new(settings: FranceConnectSettings) -> Result<Self, ConfigError> {
        OidcClient::new("FranceConnect", settings).map(Self)
    }
}

/// The claims of the identité pivot beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PivotClaims {
    #[serde(default)]
    pub given_name_array: Option<Vec<String>>,
    #[serde(default)]
    pub birthplace: Option<String>,
    #[serde(default)]
    pub birthcountry: Option<String>,
}

impl AdditionalClaims for PivotClaims {}

/// The INSEE code of the place of birth from FranceConnect's `birthplace` (a commune's
/// code, for people born in France) and `birthcountry` (`99100` for France, another
/// `99xxx` for people born abroad, whose `birthplace` is empty). `None` when neither
/// says where: born in France with no commune given, or malformed values.
#[must_use]
pub fn birth_place_code(
    birthplace: Option<&str>,
    birthcountry: Option<&str>,
) -> Option<BirthPlaceCode> {
    let place = birthplace.map(str::trim).filter(|p| !p.is_empty());
    let country = birthcountry.map(str::trim).filter(|c| !c.is_empty());
    match (place, country) {
        (Some(commune), _) => BirthPlaceCode::parse(commune)
            .ok()
            .filter(|c| !c.is_country()),
        (None, Some(country)) if country != FRANCE => BirthPlaceCode::parse(country)
            .ok()
            .filter(BirthPlaceCode::is_country),
        _ => None,
    }
}

/// INSEE's code for France among countries.
const FRANCE: &str = "99100";

fn map_identity(
    issuer: &str,
    subject: &str,
    userinfo: &UserInfoClaims<PivotClaims, CoreGenderClaim>,
    id_token_hint: String,
) -> Result<CertifiedIdentity, IdentityProviderError> {
    let family = userinfo
        .family_name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().trim().to_owned())
        .unwrap_or_default();
    // SAND matches on the birth name: an identity without one cannot attach anything
    let birth_name =
        BirthName::parse(&family).map_err(|_| IdentityProviderError::IncompleteIdentity)?;
    let extra = userinfo.additional_claims();
    let names: Vec<String> = match &extra.given_name_array {
        Some(names) if !names.is_empty() => names.clone(),
        _ => userinfo
            .given_name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    let first_names =
        FirstNames::parse(&names).map_err(|_| IdentityProviderError::IncompleteIdentity)?;
    let birthdate = userinfo
        .birthdate()
        .map(|b| b.as_str().to_owned())
        .ok_or(IdentityProviderError::IncompleteIdentity)?;
    let today = time::OffsetDateTime::now_utc().date();
    let birth_date = BirthDate::parse_iso(&birthdate, today)
        .map_err(|_| IdentityProviderError::IncompleteIdentity)?;
    let date = birth_date.date();
    let birth_date_presumed = u8::from(date.month()) == 1 && date.day() == 1;
    let email = userinfo.email().and_then(|e| Email::parse(e.as_str()).ok());
    Ok(CertifiedIdentity {
        subject: FranceConnectSubject {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
        },
        identity: Identity {
            birth_name,
            first_names,
            birth_date,
            // FranceConnect gives an INSEE code, not a place name: records are not
            // matched on the birth place; the code decides between a certified claimant
            // and an uncertified holder
            birth_place: None,
            birth_place_code: birth_place_code(
                extra.birthplace.as_deref(),
                extra.birthcountry.as_deref(),
            ),
        },
        email,
        birth_date_presumed,
        id_token_hint,
    })
}

#[async_trait]
impl IdentityProvider for FranceConnect {
    #[instrument(skip_all, err(level = "debug"))]
    async fn begin(&self) -> Result<AuthorizationRequest, PortError> {
        self.0.begin(PIVOT_SCOPES, &[("acr_values", ACR)]).await
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<CertifiedIdentity, IdentityProviderError> {
        let verified = self.0.complete(pending, callback).await?;
        if verified.claims.auth_context_ref().map(|acr| acr.as_str()) != Some(ACR) {
            return Err(invalid("the id_token's acr is not eidas1"));
        }
        let userinfo = verified.userinfo_claims::<PivotClaims>()?;
        map_identity(
            self.0.issuer(),
            verified.claims.subject().as_str(),
            &userinfo,
            verified.id_token,
        )
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn logout_url(&self, id_token_hint: &str, state: &str) -> Result<String, PortError> {
        self.0.logout_url(id_token_hint, state).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn code(place: Option<&str>, country: Option<&str>) -> Option<String> {
        birth_place_code(place, country).map(|c| c.as_str().to_owned())
    }

    #[test]
    fn the_birth_place_code_is_the_commune_in_france_and_the_country_abroad() {
        assert_eq!(code(Some("75107"), Some("99100")), Some("75107".into()));
        assert_eq!(code(Some("2a004"), Some("99100")), Some("2A004".into()));
        assert_eq!(code(Some(""), Some("99350")), Some("99350".into()));
        assert_eq!(code(None, Some("99350")), Some("99350".into()));
        // born in France with no commune, or values that are not codes: unknown
        assert_eq!(code(Some(""), Some("99100")), None);
        assert_eq!(code(None, None), None);
        assert_eq!(code(Some("Paris"), Some("99100")), None);
        assert_eq!(code(Some("99350"), Some("99100")), None);
        assert_eq!(code(None, Some("75107")), None);
    }
}
