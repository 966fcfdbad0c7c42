//! The OpenID Connect client both logins share (FranceConnect for graduates, ProConnect
//! for State agents): discovery and keys (re-fetched when a token is signed with a key the
//! cached set lacks), the authorization request with `state` and `nonce` of 64 characters
//! (32 random bytes) and PKCE when advertised, the code exchange with `client_secret_post`,
//! the id_token's checks (signature pinned to ES256/RS256 as advertised, `iss`, `aud`,
//! `exp`, `nonce`), the userinfo as a signed JWT checked against the same keys, and the
//! logout URL.

use std::sync::Arc;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClient, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType,
    CoreIdTokenClaims, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, LogoutProviderMetadata, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, RequestTokenError, Scope,
    SignatureVerificationError, TokenResponse, reqwest,
};
use sand_domain::PortError;
use sand_domain::ports::{
    AuthorizationRequest, CallbackParams, IdentityProviderError, PendingLogin,
};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use tracing::warn;

/// How to reach one provider as one client (all of it configuration, never code).
#[derive(Clone)]
pub struct OidcSettings {
    /// e.g. `https://oidc.franceconnect.gouv.fr/api/v2`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the browser back (registered in advance).
    pub redirect_url: String,
    /// Where the provider sends the browser after logout (registered in advance).
    pub post_logout_redirect_url: String,
    /// Limit for each request to the provider.
    pub timeout: std::time::Duration,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
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

/// One client of one provider.
pub(crate) struct OidcClient {
    /// The provider's name, in errors and logs.
    name: &'static str,
    pub(crate) settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: reqwest::Client,
    metadata: RwLock<Option<Arc<Metadata>>>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes, in hexadecimal: 64 characters.
pub(crate) fn random_token() -> Result<String, PortError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| PortError::unexpected(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub(crate) fn invalid(why: impl Into<String>) -> IdentityProviderError {
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

impl OidcClient {
    /// # Errors
    /// [`ConfigError`] for a URL that does not parse or an HTTP client that cannot be built.
    pub(crate) fn new(name: &'static str, settings: OidcSettings) -> Result<Self, ConfigError> {
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
            name,
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
            .map_err(|e| PortError::unavailable(format!("{} discovery: {e}", self.name)))?;
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

    /// The userinfo's payload, which must be a JWT signed by one of the provider's keys
    /// with an algorithm it advertises (ES256 or RS256; never `none` nor HS256), from this
    /// issuer, for this client (the caller reads it with its subject checked: see
    /// [`Verified::userinfo_claims`]). (openidconnect's own userinfo check accepts RS256
    /// only.)
    async fn userinfo(
        &self,
        mut metadata: Arc<Metadata>,
        access_token: &str,
    ) -> Result<Vec<u8>, IdentityProviderError> {
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
        Ok(payload)
    }

    /// Starts a login asking for `scopes` (`openid` is always added) with the `extra`
    /// authorization parameters.
    pub(crate) async fn begin(
        &self,
        scopes: &[&str],
        extra: &[(&'static str, &str)],
    ) -> Result<AuthorizationRequest, PortError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let state = random_token()?;
        let nonce = random_token()?;
        let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state_for_url),
            move || Nonce::new(nonce_for_url),
        );
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        for scope in scopes {
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

    /// Finishes a login: the callback against `pending`, the code exchanged, the id_token
    /// and the userinfo checked.
    pub(crate) async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<Verified, IdentityProviderError> {
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
        let userinfo = self
            .userinfo(metadata, token.access_token().secret())
            .await?;
        Ok(Verified {
            claims,
            id_token: id_token.to_string(),
            userinfo,
        })
    }

    /// Where to send the browser to end the provider's session.
    pub(crate) async fn logout_url(
        &self,
        id_token_hint: &str,
        state: &str,
    ) -> Result<String, PortError> {
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

    /// The issuer, as the provider's tokens name it.
    pub(crate) fn issuer(&self) -> &str {
        self.issuer.as_str()
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

/// A login the provider confirmed and every check passed.
pub(crate) struct Verified {
    pub claims: CoreIdTokenClaims,
    /// The raw id_token, to end the provider's session on logout.
    pub id_token: String,
    /// The userinfo's checked payload.
    pub userinfo: Vec<u8>,
}

impl Verified {
    /// The userinfo's claims, for the id_token's subject.
    pub(crate) fn userinfo_claims<C: openidconnect::AdditionalClaims>(
        &self,
    ) -> Result<openidconnect::UserInfoClaims<C, CoreGenderClaim>, IdentityProviderError> {
        openidconnect::UserInfoClaims::from_json::<std::io::Error>(
            &self.userinfo,
            Some(self.claims.subject()),
        )
        .map_err(|e| invalid(format!("userinfo: {e}")))
    }
}
