//! Login with ProConnect, the State agents' identity federation: the domain's
//! [`AgentIdentityProvider`] port, as ProConnect speaks it.
//!
//! - the scopes `openid given_name usual_name email uid siret idp_id`, and the `claims`
//!   parameter asking for `amr` in the id_token (essential): the back office refuses a
//!   login without a second factor for the roles that see personal data;
//! - `state` and `nonce` of 64 characters; no other authorization parameter (ProConnect
//!   refuses unknown ones), PKCE only when discovery advertises it;
//! - the code exchanged with `client_secret_post`; the id_token's signature, `iss`, `aud`,
//!   `exp` and `nonce` checked; the userinfo a signed JWT (`application/jwt`) checked
//!   against the same keys;
//! - the agent is their professional `email` (what ProConnect recommends for reconciling an
//!   agent), their names, their employer's `siret` and the identity provider (`idp_id`);
//! - logout is a browser redirect to the end-session endpoint with `id_token_hint`,
//!   `state` and `post_logout_redirect_uri`.
//!
//! [`AgentIdentityProvider`]: sand_domain::ports::AgentIdentityProvider

use async_trait::async_trait;
use openidconnect::AdditionalClaims;
use sand_domain::PortError;
use sand_domain::credentials::Email;
use sand_domain::ports::{
    AgentIdentityProvider, AuthorizationRequest, CallbackParams, IdentityProviderError,
    PendingLogin,
};
use sand_domain::staff::sign_in::{ProvenAgent, Siret};
use serde::{Deserialize, Serialize};
use tracing::{instrument, warn};

use crate::oidc::{ConfigError, OidcClient, OidcSettings};

/// The scopes SAND asks ProConnect for (`openid` is always added).
pub const AGENT_SCOPES: &[&str] = &[
    "given_name",
    "usual_name",
    "email",
    "uid",
    "siret",
    "idp_id",
];

/// The `claims` parameter: the authentication methods, in the id_token.
pub const AMR_CLAIMS: &str = r#"{"id_token":{"amr":{"essential":true}}}"#;

/// ProConnect's claims beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentClaims {
    #[serde(default)]
    pub usual_name: Option<String>,
    #[serde(default)]
    pub uid: Option<String>,
    #[serde(default)]
    pub siret: Option<String>,
    #[serde(default)]
    pub idp_id: Option<String>,
}

impl AdditionalClaims for AgentClaims {}

/// The ProConnect adapter.
#[derive(Debug)]
pub struct ProConnect(OidcClient);

impl ProConnect {
    /// # Errors
    /// [`ConfigError`] for a URL that does not parse or an HTTP client that cannot be built.
    pub fn new(settings: OidcSettings) -> Result<Self, ConfigError> {
        OidcClient::new("ProConnect", settings).map(Self)
    }
}

#[async_trait]
impl AgentIdentityProvider for ProConnect {
    #[instrument(skip_all, err(level = "debug"))]
    async fn begin(&self) -> Result<AuthorizationRequest, PortError> {
        self.0.begin(AGENT_SCOPES, &[("claims", AMR_CLAIMS)]).await
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<ProvenAgent, IdentityProviderError> {
        let verified = self.0.complete(pending, callback).await?;
        let userinfo = verified.userinfo_claims::<AgentClaims>()?;
        let email = userinfo
            .email()
            .and_then(|e| Email::parse(e.as_str()).ok())
            .ok_or(IdentityProviderError::IncompleteIdentity)?;
        let extra = userinfo.additional_claims();
        // a malformed SIRET is as good as none: the back office refuses the login
        let siret = extra.siret.as_deref().and_then(|s| {
            Siret::parse(s)
                .inspect_err(|_| warn!("ProConnect gave a malformed siret"))
                .ok()
        });
        let methods = verified
            .claims
            .auth_method_refs()
            .map(|amr| amr.iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default();
        Ok(ProvenAgent {
            issuer: self.0.issuer().to_owned(),
            subject: verified.claims.subject().as_str().to_owned(),
            email,
            given_name: userinfo
                .given_name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().trim().to_owned())
                .unwrap_or_default(),
            usual_name: extra.usual_name.clone().unwrap_or_default(),
            siret,
            idp_id: extra.idp_id.clone(),
            methods,
            id_token_hint: verified.id_token,
        })
    }

    #[instrument(skip_all, err(level = "debug"))]
    async fn logout_url(&self, id_token_hint: &str, state: &str) -> Result<String, PortError> {
        self.0.logout_url(id_token_hint, state).await
    }
}
