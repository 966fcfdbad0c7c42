//! Login with FranceConnect v2: the domain's [`IdentityProvider`] port over OpenID
//! Connect (the `openidconnect` crate), exactly as FranceConnect speaks it.
//!
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

use std::sync::Arc;

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalClaims, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, LogoutProviderMetadata, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse, UserInfoClaims, reqwest,
};
use sand_domain::PortError;
use sand_domain::credentials::Email;
use sand_domain::identity::{BirthDate, BirthName, BirthPlaceCode, FirstNames, Identity};
use sand_domain::ports::{
    AuthorizationRequest, CallbackParams, CertifiedIdentity, IdentityProvider,
    IdentityProviderError, PendingLogin,
};
use sand_domain::profile::FranceConnectSubject;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use tracing::{instrument, warn};

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
#[derive(Clone)]
pub struct FranceConnectSettings {
    /// e.g. `https://oidc.franceconnect.gouv.fr/api/v2`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where FranceConnect sends the browser back (registered in advance).
    pub redirect_url: String,
    /// Where FranceConnect sends the browser after logout (registered in advance).
    pub post_logout_redirect_url: String,
    /// Limit for each request to the provider.
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for FranceConnectSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FranceConnectSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .field("post_logout_redirect_url", &self.post_logout_redirect_url)
            .finish_non_exhaustive()
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not a valid URL: {1}")]
    Url(&'static str, String),
    #[error("the HTTP client cannot be built: {0}")]
    Http(String),
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

/// Discovery fields beyond the core ones that SAND reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraMetadata {
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
}

impl openidconnect::AdditionalProviderMetadata for ExtraMetadata {}

type Metadata = ProviderMetadata<
    LogoutProviderMetadata<ExtraMetadata>,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The OpenID Connect client, with the endpoints discovery gives.
type FcClient = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    openidconnect::StandardErrorResponse<CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The FranceConnect adapter.
pub struct FranceConnect {
    settings: FranceConnectSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: RwLock<Option<Arc<Metadata>>>,
}

impl std::fmt::Debug for FranceConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FranceConnect")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, in hexadecimal: 64 characters.
fn random_token() -> Result<String, PortError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| PortError::unexpected(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn invalid(why: impl Into<String>) -> IdentityProviderError {
    IdentityProviderError::InvalidResponse(why.into().into())
}

/// Constant-time equality, for the `state`.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FranceConnect {
    /// # Errors
    /// [`ConfigError`] for a URL that does not parse or an HTTP client that cannot be built.
    pub fn new(settings: FranceConnectSettings) -> Result<Self, ConfigError> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| ConfigError::Url("issuer", e.to_string()))?;
        let redirect = RedirectUrl::new(settings.redirect_url.clone())
            .map_err(|e| ConfigError::Url("redirect URL", e.to_string()))?;
        openidconnect::url::Url::parse(&settings.post_logout_redirect_url)
            .map_err(|e| ConfigError::Url("post-logout URL", e.to_string()))?;
        let http = reqwest::ClientBuilder::new()
            // a provider must not redirect the back-channel (SSRF)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .build()
            .map_err(|e| ConfigError::Http(e.to_string()))?;
        Ok(Self {
            settings,
            issuer,
            redirect,
            http,
            metadata: RwLock::new(None),
        })
    }

    /// The provider's metadata and keys, fetched once, or again when `refresh`.
    async fn metadata(&self, refresh: bool) -> Result<Arc<Metadata>, PortError> {
        if !refresh && let Some(metadata) = self.metadata.read().await.clone() {
            return Ok(metadata);
        }
        let metadata = Metadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| PortError::unavailable(format!("FranceConnect discovery: {e}")))?;
        let metadata = Arc::new(metadata);
        *self.metadata.write().await = Some(Arc::clone(&metadata));
        Ok(metadata)
    }

    fn client(&self, metadata: &Metadata) -> FcClient {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(self.redirect.clone())
        .set_auth_type(AuthType::RequestBody)
    }

    /// The userinfo, which must be a JWT signed by one of the provider's keys with an
    /// algorithm it advertises (ES256 or RS256; never `none` nor HS256), for this client
    /// and this subject. (openidconnect's own userinfo check accepts RS256 only.)
    async fn userinfo(
        &self,
        mut metadata: Arc<Metadata>,
        access_token: &str,
        subject: &openidconnect::SubjectIdentifier,
    ) -> Result<UserInfoClaims<PivotClaims, CoreGenderClaim>, IdentityProviderError> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use openidconnect::JsonWebKey;

        let url = metadata
            .userinfo_endpoint()
            .ok_or_else(|| invalid("the provider has no userinfo endpoint"))?
            .url()
            .clone();
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .header("accept", "application/jwt")
            .send()
            .await
            .map_err(|e| PortError::unavailable(format!("userinfo: {e}")))?;
        if !response.status().is_success() {
            return Err(invalid(format!("userinfo answered {}", response.status())));
        }
        let is_jwt = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/jwt"));
        if !is_jwt {
            return Err(invalid("the userinfo is not a signed JWT"));
        }
        let jwt = response
            .text()
            .await
            .map_err(|e| PortError::unavailable(format!("userinfo: {e}")))?;
        if jwt.len() > 64 * 1024 {
            return Err(invalid("the userinfo is too large"));
        }
        let (signing_input, signature) = jwt
            .trim()
            .rsplit_once('.')
            .ok_or_else(|| invalid("the userinfo is not a JWT"))?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or_else(|| invalid("the userinfo is not a JWT"))?;
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| invalid("the userinfo is not base64url"))
        };
        let header: serde_json::Value = serde_json::from_slice(&decode(header)?)
            .map_err(|_| invalid("the userinfo header is not JSON"))?;
        let alg = match header["alg"].as_str() {
            Some("ES256") => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Some("RS256") => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            other => return Err(invalid(format!("userinfo signed with {other:?}"))),
        };
        let advertised = metadata
            .userinfo_signing_alg_values_supported()
            .is_none_or(|algs| algs.contains(&alg));
        if !advertised {
            return Err(invalid(
                "userinfo signed with an algorithm the provider does not advertise",
            ));
        }
        let kid = header["kid"].as_str().map(str::to_owned);
        let signature = decode(signature)?;
        let mut refreshed = false;
        loop {
            let key = metadata.jwks().keys().iter().find(|key| {
                kid.as_deref()
                    .is_none_or(|kid| key.key_id().is_some_and(|k| k.as_str() == kid))
                    && key
                        .verify_signature(&alg, signing_input.as_bytes(), &signature)
                        .is_ok()
            });
            if key.is_some() {
                break;
            }
            let known = kid.as_deref().is_some_and(|kid| {
                metadata
                    .jwks()
                    .keys()
                    .iter()
                    .any(|k| k.key_id().is_some_and(|id| id.as_str() == kid))
            });
            if known || refreshed {
                return Err(invalid("the userinfo signature does not verify"));
            }
            warn!("userinfo signed with an unknown key: provider keys re-fetched");
            metadata = self.metadata(true).await?;
            refreshed = true;
        }
        let payload = decode(payload)?;
        let raw: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|_| invalid("the userinfo payload is not JSON"))?;
        if raw["iss"].as_str() != Some(self.issuer.as_str()) {
            return Err(invalid("the userinfo comes from another issuer"));
        }
        let for_us = match &raw["aud"] {
            serde_json::Value::String(aud) => *aud == self.settings.client_id,
            serde_json::Value::Array(auds) => auds
                .iter()
                .any(|a| a.as_str() == Some(self.settings.client_id.as_str())),
            _ => false,
        };
        if !for_us {
            return Err(invalid("the userinfo is for another client"));
        }
        UserInfoClaims::from_json::<std::io::Error>(&payload, Some(subject))
            .map_err(|e| invalid(format!("userinfo: {e}")))
    }

    fn advertises_pkce(metadata: &Metadata) -> bool {
        metadata
            .additional_metadata()
            .additional_metadata
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|methods| methods.iter().any(|m| m == "S256"))
    }
}

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
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let state = random_token()?;
        let nonce = random_token()?;
        let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                move || Nonce::new(nonce_for_url),
            )
            .add_extra_param("acr_values", ACR);
        for scope in PIVOT_SCOPES {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let pkce_verifier = if Self::advertises_pkce(&metadata) {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            Some(verifier.secret().clone())
        } else {
            None
        };
        let (url, _, _) = request.url();
        Ok(AuthorizationRequest {
            url: url.to_string(),
            pending: PendingLogin {
                state,
                nonce,
                pkce_verifier,
            },
        })
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<CertifiedIdentity, IdentityProviderError> {
        let code = match callback {
            CallbackParams::Error { error, state } => {
                if state.as_deref().is_some_and(|s| !same(s, &pending.state)) {
                    return Err(IdentityProviderError::StateMismatch);
                }
                if error == "access_denied" {
                    return Err(IdentityProviderError::Cancelled);
                }
                return Err(invalid(format!("the provider answered {error:?}")));
            }
            CallbackParams::Code { code, state } => {
                if !same(&state, &pending.state) {
                    return Err(IdentityProviderError::StateMismatch);
                }
                code
            }
        };
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| invalid(e.to_string()))?;
        if let Some(verifier) = pending.pkce_verifier.clone() {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier));
        }
        let token = exchange
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(response)
                    if response.error().as_ref() == "invalid_grant" =>
                {
                    IdentityProviderError::CodeRejected
                }
                RequestTokenError::Request(e) => {
                    IdentityProviderError::Port(PortError::unavailable(e.to_string()))
                }
                other => invalid(other.to_string()),
            })?;
        let id_token = token
            .id_token()
            .ok_or_else(|| invalid("no id_token"))?
            .clone();
        let nonce = Nonce::new(pending.nonce.clone());

        // the id_token, with the cached keys, then with fresh ones if its key is unknown
        let mut metadata = metadata;
        let claims = loop {
            let client = self.client(&metadata);
            // pinned: ES256 or RS256, and only those the provider advertises (never
            // `none`, never HS256 with the client secret)
            let advertised = metadata.id_token_signing_alg_values_supported();
            let algs: Vec<CoreJwsSigningAlgorithm> = [
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            ]
            .into_iter()
            .filter(|alg| advertised.contains(alg))
            .collect();
            let verifier = client.id_token_verifier().set_allowed_algs(algs);
            match id_token.claims(&verifier, &nonce) {
                Ok(claims) => break claims.clone(),
                Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )) => {
                    let fresh = self.metadata(true).await?;
                    if fresh.jwks() == metadata.jwks() {
                        return Err(invalid("the id_token is signed with an unknown key"));
                    }
                    warn!("id_token signed with a new key: provider keys re-fetched");
                    metadata = fresh;
                }
                Err(e) => return Err(invalid(format!("id_token: {e}"))),
            }
        };
        if claims.auth_context_ref().map(|acr| acr.as_str()) != Some(ACR) {
            return Err(invalid("the id_token's acr is not eidas1"));
        }
        let subject = claims.subject().as_str().to_owned();

        let userinfo = self
            .userinfo(metadata, token.access_token().secret(), claims.subject())
            .await?;
        map_identity(
            self.issuer.as_str(),
            &subject,
            &userinfo,
            id_token.to_string(),
        )
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn logout_url(&self, id_token_hint: &str, state: &str) -> Result<String, PortError> {
        let metadata = self.metadata(false).await?;
        let end = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .ok_or_else(|| PortError::unexpected("the provider has no end_session_endpoint"))?;
        let mut url = end.url().clone();
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token_hint)
            .append_pair("state", state)
            .append_pair(
                "post_logout_redirect_uri",
                &self.settings.post_logout_redirect_url,
            );
        Ok(url.to_string())
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
