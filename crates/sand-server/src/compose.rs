//! Wiring a [`Store`] and the other adapters into the web service's [`Ports`].

use std::sync::Arc;

use sand_attestation::PdfAttestationRenderer;
use sand_domain::ports::{
    AttestationRenderer, Clock, CredentialExporter, IdentityProvider, KeyGenerator, PasswordHasher,
    ReceiptSigner, ServiceHealth,
};
use sand_http::Ports;
use sand_http::hasher::Argon2Hasher;
use sand_http::system::{OsKeyGenerator, SystemClock};
use sand_persistence::Store;

/// How many password hashes run at once in production (each takes a core for about a
/// tenth of a second, off the async runtime).
pub const PASSWORD_HASHING_THREADS: usize = 4;

/// The adapters the store does not provide. [`Adapters::new`] gives production's
/// defaults; a test replaces what it must control (the clock, the identity provider…).
#[derive(Clone)]
pub struct Adapters {
    pub renderer: Arc<dyn AttestationRenderer>,
    /// Signs verifiers' receipts (with the attestations' key).
    pub receipts: Arc<dyn ReceiptSigner>,
    /// Exports attestations as W3C Verifiable Credentials (with the same key).
    pub credentials: Arc<dyn CredentialExporter>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<dyn KeyGenerator>,
    /// `None` when FranceConnect is not configured.
    pub franceconnect: Option<Arc<dyn IdentityProvider>>,
    /// What readiness checks; `None`: the store itself.
    pub health: Option<Arc<dyn ServiceHealth>>,
}

impl std::fmt::Debug for Adapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adapters")
            .field("franceconnect", &self.franceconnect.is_some())
            .field("health", &self.health.is_some())
            .finish_non_exhaustive()
    }
}

impl Adapters {
    /// Production's adapters around `renderer` (attestations and receipts): Argon2id
    /// hashing, the system clock, the operating system's randomness, no FranceConnect,
    /// readiness from the store.
    #[must_use]
    pub fn new(renderer: Arc<PdfAttestationRenderer>) -> Self {
        Self {
            receipts: renderer.clone(),
            credentials: renderer.clone(),
            renderer,
            hasher: Arc::new(Argon2Hasher::new(PASSWORD_HASHING_THREADS)),
            clock: Arc::new(SystemClock),
            keys: Arc::new(OsKeyGenerator),
            franceconnect: None,
            health: None,
        }
    }
}

/// The web service's ports: every repository, the session store, the mail outbox and
/// (unless replaced) readiness from `store`; the rest from `adapters`.
#[must_use]
pub fn ports(store: &Store, adapters: Adapters) -> Ports {
    Ports {
        records: Arc::new(store.record_reader()),
        catalogue: Arc::new(store.catalogue()),
        profiles: Arc::new(store.profiles()),
        links: Arc::new(store.links()),
        verification_log: Arc::new(store.verification_log()),
        verification_lookup: Arc::new(store.verification_lookup()),
        sessions: Arc::new(store.sessions()),
        mailer: Arc::new(store.mailer()),
        renderer: adapters.renderer,
        receipts: adapters.receipts,
        credentials: adapters.credentials,
        hasher: adapters.hasher,
        clock: adapters.clock,
        keys: adapters.keys,
        shares: Arc::new(store.share_links()),
        credential_status: Arc::new(store.credential_status()),
        share_tokens: Arc::new(OsKeyGenerator),
        credential_offers: Arc::new(store.credential_offers()),
        wallet_secrets: Arc::new(OsKeyGenerator),
        franceconnect: adapters.franceconnect,
        health: adapters
            .health
            .unwrap_or_else(|| Arc::new(store.clone()) as Arc<dyn ServiceHealth>),
    }
}
