//! What every handler shares: settings, use cases, ports and limiters.

use std::sync::Arc;
use std::time::Duration;

use sand_attestation::VerificationKeys;
use sand_domain::catalogue::ShowCatalogue;
use sand_domain::link::attach::AttachDiploma;
use sand_domain::link::attestation::DownloadAttestation;
use sand_domain::link::detach::DetachDiploma;
use sand_domain::link::list::ListMyDiplomas;
use sand_domain::link::renew_key::RenewKey;
use sand_domain::ports::{
    AttestationRenderer, Catalogue, Clock, CredentialExporter, IdentityProvider, KeyGenerator,
    LinkRepository, Mailer, PasswordHasher, ProfileRepository, ReceiptSigner, RecordReader,
    SessionStore, ShareLinkStore, ShareTokenGenerator, VerificationLog, VerificationLookup,
};
use sand_domain::profile::create::CreateProfile;
use sand_domain::profile::delete::DeleteProfile;
use sand_domain::profile::mailbox::MailboxLinks;
use sand_domain::profile::notices::VerificationNotices;
use sand_domain::profile::password::ChangePassword;
use sand_domain::profile::sign_in::{LogIn, SignInWithFranceConnect};
use sand_domain::sharing::{CreateShareLink, OpenShareLink};
use sand_domain::verification::VerifyAttestation;

use crate::limits::{Limiters, RateLimits};
use crate::tokens::Signer;

/// How the web side behaves; built by the composition root from configuration.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Shown in the header, the footer and the legal notice.
    pub operator_name: String,
    /// Demonstration ("mirror") site: a banner on every page says so.
    pub demo: bool,
    /// The address users reach the service at (links in e-mails, QR codes), without a
    /// trailing slash, e.g. `https://diplomes.example.fr`.
    pub public_url: String,
    /// Cookies marked `Secure` and HSTS sent (the service is behind TLS).
    pub secure: bool,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a trusted
    /// reverse proxy only).
    pub trust_forwarded_for: bool,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after login, active or not.
    pub session_absolute: Duration,
    pub limits: RateLimits,
    /// Largest request body accepted on forms and JSON, in bytes.
    pub max_body_bytes: usize,
    /// Largest PDF accepted by the attestation check, in bytes.
    pub max_pdf_bytes: usize,
    /// Identities to try, on the demo site's home page.
    pub demo_people: Vec<crate::DemoPerson>,
    /// Where the demo site's mail goes (shown on its home page).
    pub demo_mail_hint: String,
    /// Who awards diplomas and where each case the service does not cover is sent: the
    /// exam offices with their websites and the contacts the operator configured.
    pub issuers: std::sync::Arc<sand_domain::issuer::IssuerRegistry>,
    /// Origins (`https://host[:port]`) that a form may be sent or redirected to besides
    /// this site: the identity provider's, whose single logout follows the logout form.
    pub form_action_origins: Vec<String>,
    /// What the accessibility statement says (RGAA): the operator's data.
    pub accessibility: AccessibilityStatement,
}

/// The conformance status an accessibility statement declares (RGAA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conformance {
    /// An audit found every applicable criterion met.
    Full,
    /// Not every criterion is met, or no audit has said otherwise (the default).
    #[default]
    Partial,
    /// Less than half the criteria are met, or none was assessed.
    None,
}

impl Conformance {
    /// As the statement and the footer say it.
    #[must_use]
    pub fn french(self) -> &'static str {
        match self {
            Self::Full => "totalement conforme",
            Self::Partial => "partiellement conforme",
            Self::None => "non conforme",
        }
    }
}

/// The operator's part of the accessibility statement; empty texts are said honestly
/// as missing, never invented.
#[derive(Debug, Clone, Default)]
pub struct AccessibilityStatement {
    pub conformance: Conformance,
    /// How to report a difficulty: an e-mail address or a web address.
    pub contact: String,
    /// The last audit: who, when, what it found (free text).
    pub audit: String,
    /// The address of the multi-year accessibility plan.
    pub plan: String,
}

impl WebSettings {
    /// Settings for a service reached at `public_url`.
    #[must_use]
    pub fn new(operator_name: impl Into<String>, public_url: impl Into<String>) -> Self {
        let public_url = public_url.into().trim_end_matches('/').to_owned();
        Self {
            operator_name: operator_name.into(),
            demo: false,
            secure: public_url.starts_with("https://"),
            public_url,
            trust_forwarded_for: false,
            session_idle: Duration::from_secs(30 * 60),
            session_absolute: Duration::from_secs(12 * 3600),
            limits: RateLimits::default(),
            max_body_bytes: 64 * 1024,
            max_pdf_bytes: sand_attestation::verify::MAX_PDF_BYTES,
            demo_people: Vec::new(),
            demo_mail_hint: String::new(),
            issuers: std::sync::Arc::new(sand_domain::issuer::IssuerRegistry::offices_only()),
            form_action_origins: Vec::new(),
            accessibility: AccessibilityStatement::default(),
        }
    }

    /// The session rule, once: a session ends after `session_idle` without a request and
    /// `session_absolute` after its login, as (idle, absolute). A duration too long for
    /// the calendar (never configured so) counts as the shortest sensible one, a minute
    /// and an hour: a session ends too early rather than never.
    #[must_use]
    pub fn session_limits(&self) -> (time::Duration, time::Duration) {
        (
            time::Duration::try_from(self.session_idle).unwrap_or(time::Duration::MINUTE),
            time::Duration::try_from(self.session_absolute).unwrap_or(time::Duration::HOUR),
        )
    }

    /// Whether a session created at `created_at` and last seen at `last_seen_at` has
    /// ended at `now`.
    #[must_use]
    pub fn session_ended(
        &self,
        created_at: time::OffsetDateTime,
        last_seen_at: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> bool {
        let (idle, absolute) = self.session_limits();
        now - last_seen_at > idle || now - created_at > absolute
    }

    /// The pages' Content-Security-Policy: scripts and requests to this site only (one
    /// script: the session's expiry warning), forms to this site (and the configured
    /// origins) only.
    #[must_use]
    pub fn page_csp(&self) -> String {
        let mut form_action = String::from("'self'");
        for origin in &self.form_action_origins {
            // an origin is a scheme and an authority: nothing that could end the directive
            if origin.starts_with("https://") || origin.starts_with("http://") {
                let clean = !origin.contains([' ', ';', ',', '\'', '"']);
                if clean {
                    form_action.push(' ');
                    form_action.push_str(origin);
                }
            }
        }
        format!(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
             img-src 'self' data:; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        )
    }
}

/// The adapters the web side is composed of.
#[derive(Clone)]
pub struct Ports {
    pub records: Arc<dyn RecordReader>,
    pub catalogue: Arc<dyn Catalogue>,
    pub profiles: Arc<dyn ProfileRepository>,
    pub links: Arc<dyn LinkRepository>,
    pub verification_log: Arc<dyn VerificationLog>,
    /// A verification's read (link, record and holder at once).
    pub verification_lookup: Arc<dyn VerificationLookup>,
    pub sessions: Arc<dyn SessionStore>,
    pub mailer: Arc<dyn Mailer>,
    pub renderer: Arc<dyn AttestationRenderer>,
    /// Signs verifiers' receipts.
    pub receipts: Arc<dyn ReceiptSigner>,
    /// Exports attestations as W3C Verifiable Credentials.
    pub credentials: Arc<dyn CredentialExporter>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<dyn KeyGenerator>,
    /// Share links, and the random source of their tokens.
    pub shares: Arc<dyn ShareLinkStore>,
    /// The status of credentials issued from links (revoked by the store when a link ends).
    pub credential_status: Arc<dyn sand_domain::credential_status::CredentialStatusStore>,
    pub share_tokens: Arc<dyn ShareTokenGenerator>,
    /// Wallet credential offers, and the random source of their secrets.
    pub credential_offers: Arc<dyn sand_domain::ports::CredentialOfferStore>,
    pub wallet_secrets: Arc<dyn sand_domain::ports::WalletSecrets>,
    /// `None` when FranceConnect is not configured (its button is not shown).
    pub franceconnect: Option<Arc<dyn IdentityProvider>>,
    /// What `/health/ready` checks.
    pub health: Arc<dyn sand_domain::ports::ServiceHealth>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("franceconnect", &self.franceconnect.is_some())
            .finish_non_exhaustive()
    }
}

/// Shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub settings: WebSettings,
    pub ports: Ports,
    pub signer: Signer,
    pub limiters: Limiters,
    /// Where the lag-tolerant reads go, with a read replica (readiness and metrics say it).
    pub read_routing: Option<Arc<dyn sand_domain::ports::ReadRouting>>,
    pub verification_keys: VerificationKeys,
    /// The ES256 key of wallet credentials and their status lists; `None`: not
    /// configured (those addresses answer 404).
    pub credential_keys: Option<Arc<sand_attestation::status_list::CredentialKeys>>,
    /// Wallet credentials (OpenID4VCI), composed with the credential key; `None`
    /// without it (the wallet's addresses answer 404, the button is not shown).
    pub wallet: Option<crate::wallet::Wallet>,
    pub create_profile: CreateProfile,
    pub log_in: LogIn,
    pub mailbox: MailboxLinks,
    pub sign_in_franceconnect: SignInWithFranceConnect,
    pub delete_profile: DeleteProfile,
    pub change_password: ChangePassword,
    pub attach: AttachDiploma,
    pub detach: DetachDiploma,
    pub renew_key: RenewKey,
    pub list: ListMyDiplomas,
    pub download: DownloadAttestation,
    pub verify: VerifyAttestation,
    pub create_share: CreateShareLink,
    pub open_share: OpenShareLink,
    pub notices: VerificationNotices,
    pub catalogue: ShowCatalogue,
    /// The catalogue page's rows, rendered, for the selections and pages asked of the
    /// current view.
    pub(crate) catalogue_rows: crate::catalogue_view::KeptPerSelection<
        (crate::catalogue_view::Filtered, usize),
        crate::catalogue_view::RenderedRows,
    >,
    pub metrics: crate::metrics::Metrics,
    /// [`WebSettings::page_csp`], computed once.
    pub page_csp: poem::http::HeaderValue,
}

impl AppState {
    /// With the rate limits counted in `counters` (a store the nodes share).
    #[must_use]
    pub fn with_limit_counters(mut self, counters: Arc<dyn crate::limits::LimitCounters>) -> Self {
        self.limiters = Limiters::counted_in(&self.settings.limits, counters);
        self
    }

    /// With a read replica, whose route readiness and the metrics report.
    #[must_use]
    pub fn with_read_routing(mut self, routing: Arc<dyn sand_domain::ports::ReadRouting>) -> Self {
        self.read_routing = Some(routing);
        self
    }

    /// With the key of wallet credentials and status lists, and so the wallet side:
    /// offers, their redemption and the credentials, issued under the public address.
    #[must_use]
    pub fn with_credential_keys(
        mut self,
        keys: Option<Arc<sand_attestation::status_list::CredentialKeys>>,
    ) -> Self {
        self.wallet = keys.as_ref().map(|keys| self.wallet_over(keys));
        self.credential_keys = keys;
        self
    }

    fn wallet_over(
        &self,
        keys: &Arc<sand_attestation::status_list::CredentialKeys>,
    ) -> crate::wallet::Wallet {
        let p = &self.ports;
        let issuer = self.settings.public_url.clone();
        let safe = crate::wallet::OpenId4VciWallet {
            issuer: issuer.clone(),
            offers: p.credential_offers.clone(),
            secrets: p.wallet_secrets.clone(),
            clock: p.clock.clone(),
        };
        let signer = sand_attestation::sd_jwt::SdJwtVcSigner {
            keys: keys.clone(),
            issuer: issuer.clone(),
            issuers: self.settings.issuers.clone(),
        };
        crate::wallet::Wallet {
            issuer,
            send: sand_domain::wallet::SendToSafe {
                profiles: p.profiles.clone(),
                links: p.links.clone(),
                records: p.records.clone(),
                safe: Arc::new(safe),
            },
            redeem: sand_domain::wallet::RedeemOffer {
                offers: p.credential_offers.clone(),
                secrets: p.wallet_secrets.clone(),
                clock: p.clock.clone(),
            },
            issue: sand_domain::wallet::IssueWalletCredential {
                offers: p.credential_offers.clone(),
                links: p.links.clone(),
                records: p.records.clone(),
                status: p.credential_status.clone(),
                signer: Arc::new(signer),
                clock: p.clock.clone(),
            },
        }
    }

    /// Composes the use cases over `ports`. `secret` is the server secret (at least 32
    /// bytes); the tokens' key is derived from it.
    #[must_use]
    pub fn new(
        settings: WebSettings,
        ports: Ports,
        secret: &[u8],
        verification_keys: VerificationKeys,
    ) -> Self {
        let p = &ports;
        let signer = Signer::new(secret);
        Self {
            mailbox: MailboxLinks {
                profiles: p.profiles.clone(),
                hasher: p.hasher.clone(),
                sessions: p.sessions.clone(),
                mailer: p.mailer.clone(),
                tokens: Arc::new(signer.clone()),
                clock: p.clock.clone(),
            },
            signer: signer.clone(),
            limiters: Limiters::new(&settings.limits),
            read_routing: None,
            verification_keys,
            credential_keys: None,
            wallet: None,
            create_profile: CreateProfile {
                profiles: p.profiles.clone(),
                hasher: p.hasher.clone(),
                clock: p.clock.clone(),
            },
            log_in: LogIn {
                profiles: p.profiles.clone(),
                hasher: p.hasher.clone(),
            },
            sign_in_franceconnect: SignInWithFranceConnect {
                profiles: p.profiles.clone(),
                clock: p.clock.clone(),
            },
            delete_profile: DeleteProfile {
                profiles: p.profiles.clone(),
            },
            change_password: ChangePassword {
                profiles: p.profiles.clone(),
                hasher: p.hasher.clone(),
                sessions: p.sessions.clone(),
                mailer: p.mailer.clone(),
            },
            attach: AttachDiploma {
                catalogue: p.catalogue.clone(),
                profiles: p.profiles.clone(),
                records: p.records.clone(),
                links: p.links.clone(),
                keys: p.keys.clone(),
                clock: p.clock.clone(),
            },
            detach: DetachDiploma {
                links: p.links.clone(),
            },
            renew_key: RenewKey {
                links: p.links.clone(),
                keys: p.keys.clone(),
                clock: p.clock.clone(),
            },
            list: ListMyDiplomas {
                links: p.links.clone(),
                records: p.records.clone(),
                log: p.verification_log.clone(),
            },
            download: DownloadAttestation {
                links: p.links.clone(),
                records: p.records.clone(),
                renderer: p.renderer.clone(),
                credentials: p.credentials.clone(),
                clock: p.clock.clone(),
            },
            verify: VerifyAttestation {
                lookup: p.verification_lookup.clone(),
                log: p.verification_log.clone(),
                mailer: p.mailer.clone(),
                tokens: Arc::new(signer.clone()),
                clock: p.clock.clone(),
            },
            create_share: CreateShareLink {
                shares: p.shares.clone(),
                tokens: p.share_tokens.clone(),
                clock: p.clock.clone(),
            },
            open_share: OpenShareLink {
                shares: p.shares.clone(),
                log: p.verification_log.clone(),
                tokens: Arc::new(signer.clone()),
                clock: p.clock.clone(),
            },
            notices: VerificationNotices {
                profiles: p.profiles.clone(),
                tokens: Arc::new(signer.clone()),
                clock: p.clock.clone(),
            },
            catalogue: ShowCatalogue::new(p.catalogue.clone()),
            catalogue_rows: crate::catalogue_view::KeptPerSelection::default(),
            metrics: crate::metrics::Metrics::default(),
            page_csp: poem::http::HeaderValue::from_str(&settings.page_csp()).unwrap_or_else(|_| {
                poem::http::HeaderValue::from_static(
                    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
                     img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                )
            }),
            settings,
            ports,
        }
    }
}
