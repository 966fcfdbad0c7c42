//! The ports: what the domain needs from the outside world, as traits that adapters
//! implement. Each method says which errors it must return.
//!
//! The one-way rule is in these types: [`RecordReader`] is all the web side ever gets
//! for records; only the import composition holds a [`RecordWriter`].
//!
//! Every port error that is not a business outcome is a [`PortError`]:
//! [`PortError::Unavailable`] when the dependency is down (the caller may retry later),
//! [`PortError::Unexpected`] for anything else.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::control_key::ControlKey;
use crate::credentials::{Email, Password, PasswordHash};
use crate::diploma::DiplomaScope;
use crate::error::PortError;
use crate::identity::IdentityKey;
use crate::issuer::IssuedScope;
use crate::link::{Link, LinkId, NewLink};
use crate::profile::{FranceConnectSubject, NewProfile, Profile, ProfileId};
use crate::record::batch::{ApplyReport, BatchHeader, CheckedBatch};
use crate::record::{BatchId, DiplomaRecord, ImportBatch, NewRecord, RecordId};
use crate::verification::event::{NewVerificationEvent, VerificationEvent};

// ---------------------------------------------------------------------------------------
// Records: read side (web) and write side (import only)
// ---------------------------------------------------------------------------------------

/// Reads published diploma records. The web side's only access to records.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RecordReader: Send + Sync {
    /// Published records of `scope` whose holder's birth name key and birth date equal
    /// those of `key` (first names are compared by the caller). Records of batches not
    /// declared complete are never returned. An empty list when none.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_candidates(
        &self,
        scope: &DiplomaScope,
        key: &IdentityKey,
    ) -> Result<Vec<DiplomaRecord>, PortError>;

    /// The records with these ids that exist (published or not: a holder keeps seeing a
    /// record they attached), in any order; unknown ids are skipped.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn get_many(&self, ids: &[RecordId]) -> Result<Vec<DiplomaRecord>, PortError>;
}

/// Writes records and batches. Held only by the import composition (the `sand import`
/// command, connected with the importer database role).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RecordWriter: Send + Sync {
    /// The stored batch covering `scope`, if any.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_batch(&self, scope: &DiplomaScope) -> Result<Option<ImportBatch>, PortError>;

    /// Opens a staging area for a batch of `header`'s scope: records are staged in
    /// chunks, then committed all at once or discarded.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn begin(&self, header: &BatchHeader) -> Result<Box<dyn BatchStaging>, PortError>;

    /// Marks a stored batch complete, which publishes its records.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn publish_batch(&self, id: BatchId) -> Result<(), PortError>;
}

/// Records of one batch on their way in. Dropping it without [`BatchStaging::commit`]
/// discards everything staged (as a crash does).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BatchStaging: Send {
    /// Adds records to the batch (not visible to anyone before the commit).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn stage(&mut self, records: &[NewRecord]) -> Result<(), PortError>;

    /// Stores the staged records as the one batch of their scope, atomically: either
    /// everything below happens or nothing does.
    /// - records whose source reference is new are inserted;
    /// - records whose source reference exists are updated in place when their content
    ///   changed (their links and keys are kept), left alone otherwise;
    /// - records of the previous batch whose source reference is absent are withdrawn
    ///   from publication, and their active links are marked withdrawn (never deleted
    ///   silently): their keys stop verifying.
    ///
    /// `batch` is the checker's proof that every staged record passed the checks.
    ///
    /// # Errors
    /// [`PortError`] only; on error nothing was written.
    async fn commit(&mut self, batch: &CheckedBatch) -> Result<ApplyReport, PortError>;

    /// Discards everything staged.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn abort(&mut self) -> Result<(), PortError>;
}

/// What a read of the catalogue saw, to tell whether it changed since: the store's own
/// summary of its batches (how many, how many published, the latest import).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRevision(pub String);

/// The published (diploma kind, session, académie) scopes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Catalogue: Send + Sync {
    /// Every scope with a complete batch, with the issuer that exported it, in any order.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn published_scopes(&self) -> Result<Vec<IssuedScope>, PortError>;

    /// The published scopes with the revision they were read at, or `None` when the
    /// revision is still `known`: the catalogue changes only at import, and is read on
    /// every view of its page.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn published_scopes_since(
        &self,
        known: Option<CatalogueRevision>,
    ) -> Result<Option<(CatalogueRevision, Vec<IssuedScope>)>, PortError>;

    /// Whether `scope` has a complete batch.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn is_published(&self, scope: &DiplomaScope) -> Result<bool, PortError>;
}

// ---------------------------------------------------------------------------------------
// Profiles and links
// ---------------------------------------------------------------------------------------

/// Why a profile could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateProfileStoreError {
    /// Another profile already uses this e-mail address.
    #[error("e-mail address already used")]
    EmailTaken,
    /// Another profile already has this FranceConnect subject.
    #[error("FranceConnect subject already registered")]
    SubjectTaken,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Stores graduates' profiles.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ProfileRepository: Send + Sync {
    /// Stores a new profile and gives it an id. A password profile whose e-mail address
    /// was never confirmed holds no claim to that address: in the same transaction it is
    /// deleted and the new profile takes the address (whoever registered an address
    /// first cannot keep its owner out, nor have them confirm a profile of theirs).
    ///
    /// # Errors
    /// [`CreateProfileStoreError::EmailTaken`] (a confirmed profile has the address),
    /// [`CreateProfileStoreError::SubjectTaken`] (unique constraints, also under
    /// concurrent creation), or a [`PortError`].
    async fn create(&self, profile: NewProfile) -> Result<Profile, CreateProfileStoreError>;

    /// # Errors
    /// [`PortError`] only; `None` when there is no such profile.
    async fn get(&self, id: ProfileId) -> Result<Option<Profile>, PortError>;

    /// The password account with this e-mail and its password hash.
    ///
    /// # Errors
    /// [`PortError`] only; `None` when no password account has this e-mail.
    async fn find_password_account(
        &self,
        email: &Email,
    ) -> Result<Option<(Profile, PasswordHash)>, PortError>;

    /// # Errors
    /// [`PortError`] only; `None` when no profile has this subject.
    async fn find_by_franceconnect(
        &self,
        subject: &FranceConnectSubject,
    ) -> Result<Option<Profile>, PortError>;

    /// Deletes the password profiles whose e-mail address was still not confirmed at
    /// `created_before` (their confirmation link has expired). Returns how many.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn purge_unconfirmed(&self, created_before: OffsetDateTime) -> Result<u64, PortError>;

    /// The profile's second factor, if it turned one on.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn second_factor(
        &self,
        id: ProfileId,
    ) -> Result<Option<crate::profile::second_factor::SecondFactor>, PortError>;

    /// Turns the "your attestation was verified" mails on or off; false if the profile
    /// is gone.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn set_verification_notices(&self, id: ProfileId, on: bool) -> Result<bool, PortError>;

    /// Turns the second factor on with `secret` (whose code at `first_step` was just
    /// checked) and these recovery codes; false if the profile is gone or already has
    /// one.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn enable_second_factor(
        &self,
        id: ProfileId,
        secret: &crate::profile::second_factor::TotpSecret,
        first_step: u64,
        recovery: &[crate::profile::second_factor::RecoveryCodeDigest],
        at: OffsetDateTime,
    ) -> Result<bool, PortError>;

    /// Turns the second factor off (its recovery codes go with it); false if there was
    /// none.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn disable_second_factor(&self, id: ProfileId) -> Result<bool, PortError>;

    /// Accepts the code of time step `step` if no code of this or a later step was
    /// accepted before (atomically: two requests with one code, one wins).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn accept_totp_step(&self, id: ProfileId, step: u64) -> Result<bool, PortError>;

    /// Uses up the recovery code of this digest; false if the profile has no such code
    /// (never had, or already used).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn use_recovery_code(
        &self,
        id: ProfileId,
        digest: &crate::profile::second_factor::RecoveryCodeDigest,
    ) -> Result<bool, PortError>;
    /// Records that the profile's e-mail address was proven to be theirs.
    ///
    /// # Errors
    /// [`PortError`] only; `false` when there is no such profile.
    async fn mark_email_verified(&self, id: ProfileId) -> Result<bool, PortError>;

    /// Deletes the profile for real, atomically with all its links; verification events
    /// of those links keep no personal data of the profile. Returns the number of links
    /// removed, or `None` when there was no such profile. A link being created
    /// concurrently either is removed too or fails: no orphan link survives. `notice` is
    /// queued for delivery in the same transaction (transactional outbox): deleted and
    /// told, or neither.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn delete(&self, id: ProfileId, notice: Option<Mail>) -> Result<Option<u64>, PortError>;

    /// The password hash of a password profile.
    ///
    /// # Errors
    /// [`PortError`] only; `None` when there is no such profile or it has no password.
    async fn password_hash(&self, id: ProfileId) -> Result<Option<PasswordHash>, PortError>;

    /// Replaces the password hash of a password profile (a forgotten password was reset)
    /// and marks its e-mail verified (the reset link proved it).
    ///
    /// # Errors
    /// [`PortError`] only; `false` when there is no such password profile.
    async fn set_password(&self, id: ProfileId, hash: PasswordHash) -> Result<bool, PortError>;
}

/// Why a link could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateLinkStoreError {
    /// The record already has a link (to any profile): one record, one holder.
    #[error("record already attached")]
    RecordAlreadyLinked,
    /// The control key is already in use: draw another.
    #[error("control key collision")]
    KeyCollision,
    /// The profile no longer exists (deleted concurrently).
    #[error("profile gone")]
    ProfileGone,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a link could not be taken over.
#[derive(Debug, thiserror::Error)]
pub enum TakeOverStoreError {
    /// The link to end is no longer the active link of that profile (deleted, or taken,
    /// meanwhile): nothing was changed.
    #[error("the link changed meanwhile")]
    Changed,
    /// The new control key is already in use: draw another.
    #[error("control key collision")]
    KeyCollision,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// A diploma that left a profile because a certified claimant took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakenLink {
    pub record: RecordId,
    pub at: OffsetDateTime,
    pub by: crate::link::LinkEndedBy,
}

/// Why a link's key could not be replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceKeyStoreError {
    /// No active link with this id belongs to this profile.
    #[error("link not found")]
    NotFound,
    /// The new key is already in use: draw another.
    #[error("control key collision")]
    KeyCollision,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Stores profile ↔ record links and their control keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LinkRepository: Send + Sync {
    /// Stores a new active link.
    ///
    /// # Errors
    /// [`CreateLinkStoreError::RecordAlreadyLinked`] (enforced by a unique constraint, so
    /// two concurrent attaches of one record end with one link),
    /// [`CreateLinkStoreError::KeyCollision`], [`CreateLinkStoreError::ProfileGone`], or a
    /// [`PortError`].
    async fn create(&self, link: NewLink) -> Result<Link, CreateLinkStoreError>;

    /// The link of a record, whoever holds it.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_by_record(&self, record: RecordId) -> Result<Option<Link>, PortError>;

    /// The links of a profile, active and withdrawn, oldest first.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn list_for_profile(&self, profile: ProfileId) -> Result<Vec<Link>, PortError>;

    /// The link `id` if it belongs to `profile` (`None` otherwise: others' links do not
    /// exist for the caller).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn get_owned(&self, id: LinkId, profile: ProfileId) -> Result<Option<Link>, PortError>;

    /// The active link carrying this key. Withdrawn links and replaced keys are not found.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_active_by_key(&self, key: &ControlKey) -> Result<Option<Link>, PortError>;

    /// Gives an active link of `profile` a new key; the old one stops verifying at once.
    ///
    /// # Errors
    /// [`ReplaceKeyStoreError::NotFound`], [`ReplaceKeyStoreError::KeyCollision`], or a
    /// [`PortError`].
    async fn replace_key(
        &self,
        id: LinkId,
        profile: ProfileId,
        key: ControlKey,
        issued_at: OffsetDateTime,
    ) -> Result<Link, ReplaceKeyStoreError>;

    /// Ends the active link `from` of profile `previous` and links its record to `new`,
    /// atomically: the old key stops verifying at once, the event is appended to the
    /// link log (kept for the exam office, it outlives both profiles' data), and
    /// `notice` is queued for the previous holder in the same transaction.
    ///
    /// # Errors
    /// [`TakeOverStoreError::Changed`], [`TakeOverStoreError::KeyCollision`], or a
    /// [`PortError`]; on error nothing was changed.
    async fn take_over(
        &self,
        from: LinkId,
        previous: ProfileId,
        new: NewLink,
        notice: Mail,
    ) -> Result<Link, TakeOverStoreError>;
    /// The diplomas taken from `profile` by certified claimants, newest first.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn taken_from(&self, profile: ProfileId) -> Result<Vec<TakenLink>, PortError>;
    /// Deletes the link `id` if it belongs to `profile`. The record is untouched.
    ///
    /// # Errors
    /// [`PortError`] only; `false` when there is no such link of this profile.
    async fn delete_owned(&self, id: LinkId, profile: ProfileId) -> Result<bool, PortError>;
}

/// Records verifications so that holders see who checked their diplomas.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VerificationLog: Send + Sync {
    /// Logs `event` and, in the same transaction, queues `notice` for delivery (the
    /// holder asked to be told of each verification); returns once both are stored. An
    /// adapter may store the events of concurrent verifications in one transaction.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn record(
        &self,
        event: NewVerificationEvent,
        notice: Option<Mail>,
    ) -> Result<(), PortError>;

    /// Events of these links, newest first.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn list_for_links(&self, links: &[LinkId]) -> Result<Vec<VerificationEvent>, PortError>;
}

// ---------------------------------------------------------------------------------------
// Mail, identity provider, attestations
// ---------------------------------------------------------------------------------------

/// A message SAND sends. The mail adapter turns it into French text and HTML, and
/// builds links from its configured public address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mail {
    /// Prove the e-mail address of a new account.
    VerifyEmail {
        to: Email,
        token: crate::SecretToken,
    },
    /// Reset a forgotten password.
    PasswordReset {
        to: Email,
        token: crate::SecretToken,
    },
    /// The profile and all its personal data were deleted.
    ProfileDeleted { to: Email },
    /// How the account logs in changed: its owner is told, so that a change they did not
    /// make does not go unnoticed.
    SecurityChange { to: Email, change: SecurityChange },
    /// One of the holder's attestations was verified (the holder opted in). `stop` is the
    /// token of the link that turns these mails off.
    AttestationVerified {
        to: Email,
        scope: DiplomaScope,
        at: OffsetDateTime,
        organisation: Option<String>,
        stop: crate::SecretToken,
    },
    /// The exam office withdrew a record the holder had attached.
    RecordWithdrawn { to: Email, scope: DiplomaScope },
    /// A person whose identity FranceConnect certifies, born at the place the exam
    /// office recorded, attached this diploma: it left the holder's profile, whose
    /// identity was not certified. The mail says how to reach the exam office.
    AttestationTakenOver { to: Email, scope: DiplomaScope },
    /// The exam office released the holder's link to this diploma, for `reason`: its key
    /// no longer verifies; the mail says how to attach it again if it is theirs.
    LinkReleased {
        to: Email,
        scope: DiplomaScope,
        reason: crate::staff::records::ReleaseReason,
    },
    /// Many wrong names were tried today with the holder's control key: verifiers now
    /// need the birth date too, and the holder may renew the key (at most once a day).
    KeyGuessing { to: Email, scope: DiplomaScope },
    /// The transaction code of a wallet credential offer the holder just made: their
    /// wallet asks for it. It goes by mail, apart from the offer's QR code, so that
    /// whoever sees the screen cannot redeem the offer.
    WalletTxCode {
        to: Email,
        code: crate::wallet::model::TxCode,
        scope: DiplomaScope,
        expires_at: OffsetDateTime,
    },
}

/// What changed in how an account logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityChange {
    /// The password was changed from the signed-in space.
    PasswordChanged,
    /// The password was reset through a mailed link.
    PasswordReset,
    /// The second factor was turned on.
    SecondFactorEnabled,
    /// The second factor was turned off.
    SecondFactorDisabled,
}

/// Sends mail without losing it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Durably queues `mail` for delivery (delivery itself is retried in the background:
    /// a mail relay that is down delays mail, it does not fail the caller).
    ///
    /// # Errors
    /// [`PortError`] when the message could not be queued.
    async fn send(&self, mail: Mail) -> Result<(), PortError>;
}

/// Identifies a mail waiting in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MailId(pub uuid::Uuid);

/// A mail waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: MailId,
    pub mail: Mail,
    /// Delivery attempts so far, this one included.
    pub attempts: u32,
}

/// The outbox as the background sender sees it. Mails enter it in the transaction of
/// the change that causes them ([`ProfileRepository::delete`],
/// [`VerificationLog::record`], the import's withdrawals) or through [`Mailer::send`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MailQueue: Send + Sync {
    /// Claims up to `limit` mails due at `now`, for `lease`: no other sender takes them
    /// before `now + lease` (a sender that dies mid-way leaves them to the next one).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<QueuedMail>, PortError>;

    /// Delivered: the mail leaves the outbox, with any secret it held.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn delivered(&self, id: MailId) -> Result<(), PortError>;

    /// Not delivered this time: try again at `at`.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn retry_at(&self, id: MailId, at: OffsetDateTime, error: &str) -> Result<(), PortError>;

    /// Will never be delivered (refused for good): kept for the operator, not retried.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn abandon(&self, id: MailId, at: OffsetDateTime, error: &str) -> Result<(), PortError>;

    /// Mails waiting for delivery.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn depth(&self) -> Result<u64, PortError>;

    /// Deletes the mails abandoned before `before` (their address is personal data kept
    /// only while an operator may need to look into the failure); returns how many.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn purge_abandoned(&self, before: OffsetDateTime) -> Result<u64, PortError>;
}

/// The secrets of a login in progress, kept server-side or in a signed, single-use
/// cookie between the redirect to the provider and the callback.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingLogin(<redacted>)")
    }
}

/// Where to send the browser to log in, and what to keep until it comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub url: String,
    pub pending: PendingLogin,
}

/// What the provider's redirect brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackParams {
    Code {
        code: String,
        state: String,
    },
    Error {
        error: String,
        state: Option<String>,
    },
}

/// The identity a provider certified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedIdentity {
    pub subject: FranceConnectSubject,
    pub identity: crate::identity::Identity,
    pub email: Option<Email>,
    /// The provider only knows the birth year (`YYYY-01-01`).
    pub birth_date_presumed: bool,
    /// To end the provider's session on logout.
    pub id_token_hint: String,
}

/// Why a login with the identity provider failed. Each has its own page.
#[derive(Debug, thiserror::Error)]
pub enum IdentityProviderError {
    #[error("the user cancelled the login")]
    Cancelled,
    #[error("the login response does not belong to this browser's login")]
    StateMismatch,
    #[error("the provider refused the authorization code (expired or reused)")]
    CodeRejected,
    #[error("the provider's answer failed a security check")]
    InvalidResponse(#[source] crate::error::BoxError),
    #[error("the identity lacks a required element")]
    IncompleteIdentity,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// An OpenID Connect identity provider (FranceConnect).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Starts a login: the URL to redirect to and the secrets to keep.
    ///
    /// # Errors
    /// [`PortError`] when the provider cannot be reached (discovery).
    async fn begin(&self) -> Result<AuthorizationRequest, PortError>;

    /// Finishes a login: checks the callback against `pending`, exchanges the code, checks
    /// the tokens and maps the identity.
    ///
    /// # Errors
    /// Every [`IdentityProviderError`] variant, as its name says.
    async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<CertifiedIdentity, IdentityProviderError>;

    /// Where to send the browser to end the provider's session.
    ///
    /// # Errors
    /// [`PortError`] when the provider's metadata is unavailable.
    async fn logout_url(&self, id_token_hint: &str, state: &str) -> Result<String, PortError>;
}

/// Whom a verification may have to tell: the holder's profile, its address and whether
/// they asked to be told of each verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderContact {
    pub id: ProfileId,
    pub email: Email,
    pub notify_on_verification: bool,
}

/// A live link as a verification needs it: the link, its record and its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiableLink {
    pub link: Link,
    pub record: crate::record::DiplomaRecord,
    pub holder: HolderContact,
}

/// A verification's read: the hot path of the verification space.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait VerificationLookup: Send + Sync {
    /// The live link of `key` with its record and holder, read at once (one statement
    /// on a database); `None` for an unknown, replaced or ended key, after the same work.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_verifiable(&self, key: &ControlKey) -> Result<Option<VerifiableLink>, PortError>;
}

// ---------------------------------------------------------------------------------------
// Sharing
// ---------------------------------------------------------------------------------------

/// A live share link opened: the share and the diploma it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedShare {
    pub share: crate::sharing::model::ShareLink,
    pub verifiable: VerifiableLink,
}

/// Why a share link was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateShareStoreError {
    /// No active link with this id belongs to this profile.
    #[error("link not found")]
    LinkNotFound,
    /// The profile already holds the most live share links allowed.
    #[error("too many live share links")]
    TooManyLive,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Stores share links (the token sealed, and found by a keyed hash). A share link is
/// deleted with its link, in the same transaction, however the link ends.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ShareLinkStore: Send + Sync {
    /// Stores `new` if its link is active and belongs to its profile, and the profile
    /// holds fewer than `live_limit` live share links at `new.created_at` (checked and
    /// inserted atomically: concurrent creations cannot pass the limit together).
    ///
    /// # Errors
    /// [`CreateShareStoreError`].
    async fn create(
        &self,
        new: crate::sharing::model::NewShareLink,
        live_limit: usize,
    ) -> Result<crate::sharing::model::ShareLink, CreateShareStoreError>;

    /// The share links of `profile`'s links, newest first (expired and revoked ones too).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn list_for_profile(
        &self,
        profile: ProfileId,
    ) -> Result<Vec<crate::sharing::model::ShareLink>, PortError>;

    /// Revokes one of `profile`'s share links at `at`; `false` when there is no such
    /// unrevoked share link.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn revoke(
        &self,
        id: crate::sharing::model::ShareId,
        profile: ProfileId,
        at: OffsetDateTime,
    ) -> Result<bool, PortError>;

    /// The share link of `token` if it opens at `now` (unrevoked, unexpired, its link
    /// active and still held by the profile that shared it, its record live), with what a
    /// verification needs; `None` otherwise. One statement on a database.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_open(
        &self,
        token: &crate::sharing::model::ShareToken,
        now: OffsetDateTime,
    ) -> Result<Option<OpenedShare>, PortError>;
}

/// Draws share tokens from a cryptographically secure random source.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ShareTokenGenerator: Send + Sync {
    fn share_token(&self) -> crate::sharing::model::ShareToken;
}

// ---------------------------------------------------------------------------------------
// Digital safes and wallets
// ---------------------------------------------------------------------------------------

/// An attestation to deliver to its holder's digital safe or wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeDelivery {
    pub profile: ProfileId,
    pub link: LinkId,
    /// The holder's address, for what the safe sends apart (a wallet's transaction code).
    pub to: Email,
    pub scope: DiplomaScope,
}

/// What the holder does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SafeHandOver {
    /// The holder's wallet fetches the credential with this offer (shown as a QR code
    /// and a link), until `expires_at`; the transaction code it asks for was mailed.
    WalletOffer {
        offer_uri: String,
        expires_at: OffsetDateTime,
    },
}

/// Why an attestation was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SafeError {
    /// The link is not active in this profile (any more).
    #[error("attestation not found")]
    LinkNotFound,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The holder's digital safe or wallet ("deliver this attestation to my safe"). The
/// wallet adapter makes an OpenID4VCI credential offer; a safe with a partner interface
/// (Digiposte) would push the PDF there instead.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DigitalSafe: Send + Sync {
    /// # Errors
    /// [`SafeError`].
    async fn deliver(&self, delivery: SafeDelivery) -> Result<SafeHandOver, SafeError>;
}

/// Why an offer was not stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateOfferStoreError {
    /// The link is not active, or not held by this profile.
    #[error("link not found")]
    LinkNotFound,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Why a pre-authorized code was not redeemed.
#[derive(Debug, thiserror::Error)]
pub enum RedeemStoreError {
    #[error(transparent)]
    Refused(crate::wallet::model::RedeemRefusal),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The wallet credential offers. Secrets are kept as keyed hashes only.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait CredentialOfferStore: Send + Sync {
    /// Stores `offer`, ending the unredeemed offers of the same link, and queues `mail`
    /// (the transaction code) in the same transaction.
    ///
    /// # Errors
    /// [`CreateOfferStoreError`]: the link must be active and held by the profile.
    async fn create(
        &self,
        offer: crate::wallet::model::NewCredentialOffer,
        mail: Mail,
    ) -> Result<crate::wallet::model::OfferId, CreateOfferStoreError>;

    /// Exchanges a live offer's code and transaction code for `access`, valid until
    /// `access_until`, once. A wrong transaction code is counted; the `max_wrong`-th
    /// ends the offer. An offer whose link ended is refused like an unknown one.
    ///
    /// # Errors
    /// [`RedeemStoreError`].
    async fn redeem(
        &self,
        code: &crate::wallet::model::PreAuthorizedCode,
        tx_code: &crate::wallet::model::TxCode,
        access: &crate::wallet::model::AccessToken,
        now: OffsetDateTime,
        access_until: OffsetDateTime,
        max_wrong: u32,
    ) -> Result<(), RedeemStoreError>;

    /// What a live access token may fetch, and the token used up (one credential per
    /// offer); `None` for an unknown, expired or used token.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn use_access(
        &self,
        token: &crate::wallet::model::AccessToken,
        now: OffsetDateTime,
    ) -> Result<Option<crate::wallet::model::CredentialGrant>, PortError>;
}

/// Draws the wallet offers' secrets from a cryptographically secure random source.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WalletSecrets: Send + Sync {
    fn pre_authorized_code(&self) -> crate::wallet::model::PreAuthorizedCode;
    /// Six digits, each code as likely as any other.
    fn tx_code(&self) -> crate::wallet::model::TxCode;
    fn access_token(&self) -> crate::wallet::model::AccessToken;
}

/// Signs wallet credentials (SD-JWT VC) with the credential key.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait WalletCredentialSigner: Send + Sync {
    /// The credential of `attestation` bound to the wallet key `holder_jwk` (a JSON Web
    /// Key the wallet proved it holds), with its status entry.
    ///
    /// # Errors
    /// [`PortError::Unexpected`] only.
    fn sign(
        &self,
        attestation: &Attestation,
        holder_jwk: &str,
        status: crate::credential_status::StatusEntry,
    ) -> Result<String, PortError>;
}

/// The State agents' identity federation (ProConnect): proves who an agent is; SAND's
/// staff directory decides what they may do ([`crate::staff::sign_in::admit`]).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AgentIdentityProvider: Send + Sync {
    /// Starts a login: the URL to redirect to and the secrets to keep.
    ///
    /// # Errors
    /// [`PortError`] when the federation cannot be reached (discovery).
    async fn begin(&self) -> Result<AuthorizationRequest, PortError>;

    /// Finishes a login: checks the callback against `pending`, exchanges the code,
    /// checks the tokens and maps the agent.
    ///
    /// # Errors
    /// Every [`IdentityProviderError`] variant, as its name says (`IncompleteIdentity`:
    /// no usable professional address).
    async fn complete(
        &self,
        pending: PendingLogin,
        callback: CallbackParams,
    ) -> Result<crate::staff::sign_in::ProvenAgent, IdentityProviderError>;

    /// Where to send the browser to end the federation's session.
    ///
    /// # Errors
    /// [`PortError`] when the federation's metadata is unavailable.
    async fn logout_url(&self, id_token_hint: &str, state: &str) -> Result<String, PortError>;
}

/// Everything an attestation shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    pub record: DiplomaRecord,
    pub key: ControlKey,
    pub issued_at: OffsetDateTime,
}

/// A rendered attestation document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedAttestation {
    pub media_type: &'static str,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// Signs verification receipts with the service's attestation key, and gives back, as a
/// file, a receipt it signed.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ReceiptSigner: Send + Sync {
    /// The receipt, signed: a compact JWS (RFC 7515).
    ///
    /// # Errors
    /// [`PortError::Unexpected`] only.
    fn sign(
        &self,
        receipt: &crate::verification::receipt::VerificationReceipt,
    ) -> Result<String, PortError>;

    /// The file of a receipt `signed` by this service (any of its keys), in `format`;
    /// `None` when it is not one, or was altered.
    ///
    /// # Errors
    /// [`PortError::Unexpected`] when the file cannot be made.
    fn file(
        &self,
        signed: &str,
        format: crate::verification::receipt::ReceiptFormat,
    ) -> Result<Option<RenderedAttestation>, PortError>;
}

/// Exports an attestation's facts as a W3C Verifiable Credential (VC Data Model 2.0),
/// signed with the attestation key.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait CredentialExporter: Send + Sync {
    /// # Errors
    /// [`PortError::Unexpected`] only.
    fn export(&self, attestation: &Attestation) -> Result<RenderedAttestation, PortError>;
}

/// Renders (and signs) attestation documents.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AttestationRenderer: Send + Sync {
    /// # Errors
    /// [`PortError::Unexpected`] when rendering or signing fails.
    async fn render(&self, attestation: &Attestation) -> Result<RenderedAttestation, PortError>;
}

// ---------------------------------------------------------------------------------------
// Login sessions
// ---------------------------------------------------------------------------------------

/// A login session as stored: the browser holds a random token, the store only a digest
/// of it (a stolen database does not give live sessions).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// Digest of the browser's token (hex of SHA-256).
    pub digest: String,
    pub profile: ProfileId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    /// To end the FranceConnect session at logout, when the login came from there.
    pub id_token_hint: Option<String>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("profile", &self.profile)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish_non_exhaustive()
    }
}

/// Stores login sessions server-side. A deleted profile's sessions go with it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// # Errors
    /// [`PortError`] only.
    async fn create(&self, session: StoredSession) -> Result<(), PortError>;

    /// The session with this digest, if it is still there.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find(&self, digest: &str) -> Result<Option<StoredSession>, PortError>;

    /// Records activity (idle timeout).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn touch(&self, digest: &str, at: OffsetDateTime) -> Result<(), PortError>;

    /// Ends one session (logout, timeout).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn delete(&self, digest: &str) -> Result<(), PortError>;

    /// Ends every session of a profile (password reset).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn delete_for_profile(&self, profile: ProfileId) -> Result<u64, PortError>;

    /// Ends every session of a profile but the one with digest `keep` (password changed,
    /// "end my other sessions").
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn delete_others(&self, profile: ProfileId, keep: &str) -> Result<u64, PortError>;

    /// The sessions of a profile, the most recently created first.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn list_for_profile(&self, profile: ProfileId) -> Result<Vec<StoredSession>, PortError>;

    /// Removes sessions idle since before `idle_before` or created before
    /// `created_before`; returns how many.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn purge(
        &self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> Result<u64, PortError>;
}

// ---------------------------------------------------------------------------------------
// Clock, randomness, passwords
// ---------------------------------------------------------------------------------------

/// The current time (a port so that tests choose it).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// What an account token is for; a token of one purpose is worthless for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountTokenPurpose {
    /// Proves the mailbox of a new password account.
    ConfirmEmail,
    /// Lets the owner of the mailbox choose a new password.
    ResetPassword,
    /// Stops the "your attestation was verified" mails (the link each of them carries).
    StopVerificationNotices,
}

/// Makes and checks the tokens that mailed links carry. A token names a profile, expires,
/// and is bound to a value that is not in it (the address for a confirmation, the current
/// password hash for a reset): it is worthless once that value changed. Nothing is stored.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AccountTokens: Send + Sync {
    /// A token for `purpose`, naming `profile`, bound to `binding`, valid until `expires`.
    fn issue(
        &self,
        purpose: AccountTokenPurpose,
        profile: ProfileId,
        binding: &str,
        expires: OffsetDateTime,
    ) -> crate::SecretToken;

    /// The profile `token` names, unchecked (to find what it should be bound to); `None`
    /// when it is not shaped as a token.
    fn named_profile(&self, token: &str) -> Option<ProfileId>;

    /// Whether `token` was issued for `purpose`, is bound to `binding` and is unexpired at
    /// `now`.
    fn holds(
        &self,
        purpose: AccountTokenPurpose,
        token: &str,
        binding: &str,
        now: OffsetDateTime,
    ) -> bool;
}

/// Draws control keys from a cryptographically secure random source.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait KeyGenerator: Send + Sync {
    fn generate(&self) -> ControlKey;
}

/// Hashes and checks passwords (a memory-hard function such as Argon2id).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// # Errors
    /// [`PortError::Unexpected`] only.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PortError>;

    /// Whether `password` is the one `hash` was made from. Takes about as long when it
    /// is not. A malformed hash is `Ok(false)`, logged by the adapter.
    ///
    /// # Errors
    /// [`PortError::Unexpected`] only.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, PortError>;
}

// ---------------------------------------------------------------------------------------
// Operations: readiness and the store's figures
// ---------------------------------------------------------------------------------------

/// Why the service cannot serve requests now (its text is shown to operators and load
/// balancers: no secret in it).
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("base de données injoignable")]
    StoreUnreachable(#[source] PortError),
    #[error("{0} migration(s) en attente")]
    PendingMigrations(usize),
}

/// What the store holds, for monitoring. Cheap to compute on any size of data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreFigures {
    /// Mail waiting to be sent (including retries).
    pub mail_pending: u64,
    /// Mail given up after its last attempt.
    pub mail_abandoned: u64,
    /// Import batches in the store.
    pub import_batches: u64,
    /// Diploma records, as counted by their batches.
    pub diploma_records: u64,
    /// When the last batch was imported, if any.
    pub last_import: Option<OffsetDateTime>,
}

/// Where the reads that tolerate a little lag (the catalogue, the attach candidate
/// lookup) are served from, in a deployment with a read replica.
pub trait ReadRouting: Send + Sync + std::fmt::Debug {
    /// The route right now.
    fn reads(&self) -> ReadRoute;
}

/// Where the lag-tolerant reads go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRoute {
    /// To the replica, `lag` behind the primary.
    Replica { lag: std::time::Duration },
    /// To the primary, because of `why` (`lag` when the replica answered).
    Primary {
        why: PrimaryReads,
        lag: Option<std::time::Duration>,
    },
}

/// Why the lag-tolerant reads went to the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryReads {
    /// Not checked yet (the first check runs at start).
    NotChecked,
    /// The replica is further behind than the threshold.
    Lagging,
    /// The replica does not answer.
    Unreachable,
    /// The replica's URL leads to a server that is not in recovery (promoted, or a
    /// primary): its data may diverge.
    NotAReplica,
}

impl PrimaryReads {
    /// A stable code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::NotChecked => "pas_encore_verifiee",
            Self::Lagging => "replique_en_retard",
            Self::Unreachable => "replique_injoignable",
            Self::NotAReplica => "pas_une_replique",
        }
    }
}

/// Whether the service's dependencies let it serve, and what the store holds.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ServiceHealth: Send + Sync {
    /// `Ok(())` when the service can serve.
    ///
    /// # Errors
    /// [`NotReady`], saying why.
    async fn ready(&self) -> Result<(), NotReady>;

    /// The store's figures.
    ///
    /// # Errors
    /// [`PortError`] when the store does not answer.
    async fn figures(&self) -> Result<StoreFigures, PortError>;
}

// ---------------------------------------------------------------------------------------
// The back office: staff directory and audit log
// ---------------------------------------------------------------------------------------

/// A staff member with what proves a local login (the password's hash, the second
/// factor's secret and the last time step it accepted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffCredentials {
    pub member: crate::staff::StaffMember,
    pub password: PasswordHash,
    pub totp: crate::profile::second_factor::TotpSecret,
    pub last_step: Option<u64>,
}

/// Why a staff member could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum AddStaffStoreError {
    #[error("login already used")]
    LoginTaken,
    #[error("e-mail address already used by another account")]
    EmailTaken,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// SAND's own staff directory: who may use the back office, and as what.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait StaffDirectory: Send + Sync {
    /// Adds a member with its local credentials, and appends `audit` in the same
    /// transaction.
    ///
    /// # Errors
    /// [`AddStaffStoreError::LoginTaken`], or a [`PortError`].
    async fn add(
        &self,
        member: &crate::staff::NewStaffMember,
        password: &PasswordHash,
        totp: &crate::profile::second_factor::TotpSecret,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<crate::staff::StaffMember, AddStaffStoreError>;

    /// The member with this login and its credentials, closed or not.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn credentials(
        &self,
        login: &crate::staff::StaffLogin,
    ) -> Result<Option<StaffCredentials>, PortError>;

    /// Every member, by login.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn list(&self) -> Result<Vec<crate::staff::StaffMember>, PortError>;

    /// Closes the account of `login` at `at` (it can no longer log in, and its sessions
    /// end at their next request), appending `audit` in the same transaction; `false`
    /// when there is no such open account.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn close(
        &self,
        login: &crate::staff::StaffLogin,
        at: OffsetDateTime,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<bool, PortError>;

    /// The member whose professional address is `email`, closed or not.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn find_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<crate::staff::StaffMember>, PortError>;

    /// Changes the account of `login` (role, issuers, address, SIRET), appending `audit`
    /// in the same transaction; when `end_sessions_at` is set, the account's sessions
    /// opened before it end. `false` when there is no such account.
    ///
    /// # Errors
    /// [`AddStaffStoreError::EmailTaken`], or a [`PortError`].
    async fn change(
        &self,
        login: &crate::staff::StaffLogin,
        change: &crate::staff::StaffChange,
        end_sessions_at: Option<OffsetDateTime>,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<bool, AddStaffStoreError>;

    /// Ends every session of `id` opened before `at` (a logout ends them server-side),
    /// appending `audit` in the same transaction.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn end_sessions(
        &self,
        id: crate::staff::StaffId,
        at: OffsetDateTime,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<(), PortError>;

    /// Records that the TOTP code of `step` was used; `false` when that step or a later
    /// one already was (a code works once).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn accept_totp_step(
        &self,
        id: crate::staff::StaffId,
        step: u64,
    ) -> Result<bool, PortError>;
}

/// The back office's append-only audit log.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one row on its own (an action with a write of its own appends its row
    /// in that write's transaction instead).
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn append(&self, entry: &crate::staff::audit::NewAuditEntry) -> Result<(), PortError>;

    /// The rows of `[from, to)`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn entries(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<crate::staff::audit::AuditEntry>, PortError>;

    /// Removes the rows older than `before` and appends `audit` (saying so), in one
    /// transaction; returns how many were removed. Only the operator's command calls it.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn purge_before(
        &self,
        before: OffsetDateTime,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<u64, PortError>;
}

/// The exam office's desk, scoped in the queries themselves: a record outside `scope`
/// is never read. Each call appends its audit row (the ids of what it returned added to
/// `audit.records`) in the same transaction as its read or change.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExamOfficeDesk: Send + Sync {
    /// Records of `scope` matching `query`, at most `limit`.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn search(
        &self,
        scope: &crate::staff::StaffScope,
        query: &crate::staff::records::RecordQuery,
        limit: u64,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<Vec<crate::record::DiplomaRecord>, PortError>;

    /// A record of `scope` with its batch and link; `None` out of scope or unknown.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn record(
        &self,
        scope: &crate::staff::StaffScope,
        id: RecordId,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<Option<crate::staff::records::RecordDetail>, PortError>;

    /// Records of `scope` and `diploma` with this birth-name key or one of these birth
    /// dates, at most `limit`.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn near(
        &self,
        scope: &crate::staff::StaffScope,
        diploma: &DiplomaScope,
        birth_name_key: &str,
        birth_dates: &[time::Date],
        limit: u64,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<Vec<crate::record::DiplomaRecord>, PortError>;

    /// The batches of `scope`, newest import first, at most `limit`, each with its count of
    /// withdrawn records.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn batches(
        &self,
        scope: &crate::staff::StaffScope,
        limit: u64,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<Vec<crate::staff::records::BatchHistory>, PortError>;

    /// Ends the active link of a record of `scope`: the link row goes (its key with it),
    /// the event is logged for the holder's space, the holder's mail is queued, the audit
    /// row appended — one transaction. `None` when there is no such active link.
    ///
    /// # Errors
    /// [`PortError`] only.
    async fn release(
        &self,
        scope: &crate::staff::StaffScope,
        record: RecordId,
        reason: crate::staff::records::ReleaseReason,
        at: OffsetDateTime,
        audit: &crate::staff::audit::NewAuditEntry,
    ) -> Result<Option<LinkId>, PortError>;
}
