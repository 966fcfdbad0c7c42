//! Security events: one structured log line, at level info, per event that an operator watching for
//! attacks needs (ASVS 5.0 V16), on the `sand::security` target so that it can be routed
//! apart from the request log.
//!
//! Each line carries the event's stable name, the request id, the client address and,
//! where there is one, the account as a pseudonym: the profile id, or for an address
//! that is not (or not yet) an account, a keyed digest of the address typed. Never a
//! name, an e-mail address, a key, a token or a password.

use std::net::IpAddr;

use sand_domain::profile::ProfileId;

/// What the log says of the request an event happened in (the web's visitor).
pub trait Requester {
    /// The signed-in account, if any.
    fn account(&self) -> Option<ProfileId>;
    /// The client's address.
    fn client(&self) -> IpAddr;
    /// The request's id.
    fn request_id(&self) -> &str;
}

/// What happened. The name ([`SecurityEvent::name`]) is stable: alerts are built on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEvent {
    /// A password login succeeded.
    LoginSucceeded,
    /// A password login failed (unknown address or wrong password: one event for both).
    LoginFailed,
    /// A right password for an address not confirmed yet.
    LoginUnconfirmed,
    /// A FranceConnect login succeeded.
    FranceConnectLoginSucceeded,
    /// A FranceConnect login failed (refused by the provider, or a token did not check).
    FranceConnectLoginFailed,
    /// A session was ended by its owner.
    Logout,
    /// A form or API call came with a missing or wrong CSRF token.
    CsrfRefused,
    /// A rate limit refused a request.
    RateLimited,
    /// A signed-in request named a diploma link that is not the account's (someone
    /// else's, or none).
    UnknownOrForeignId,
    /// A profile was created with a password (not confirmed yet).
    AccountCreated,
    /// An account's e-mail address was confirmed.
    EmailConfirmed,
    /// A password reset was asked for (known and unknown addresses alike).
    PasswordResetRequested,
    /// A password was reset through a mailed link.
    PasswordReset,
    /// A signed-in account changed its password.
    PasswordChanged,
    /// A signed-in account ended one of its other sessions.
    SessionEnded,
    /// A profile was deleted by its owner.
    ProfileDeleted,
    /// A second factor was turned on.
    SecondFactorEnabled,
    /// A second factor was turned off.
    SecondFactorDisabled,
    /// A wrong (or replayed) second-factor code at login.
    SecondFactorFailed,
    /// A recovery code was used (to log in or to turn the second factor off).
    RecoveryCodeUsed,
}

impl SecurityEvent {
    /// The event's stable name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginUnconfirmed => "login_unconfirmed",
            Self::FranceConnectLoginSucceeded => "franceconnect_login_succeeded",
            Self::FranceConnectLoginFailed => "franceconnect_login_failed",
            Self::Logout => "logout",
            Self::CsrfRefused => "csrf_refused",
            Self::RateLimited => "rate_limited",
            Self::UnknownOrForeignId => "unknown_or_foreign_id",
            Self::AccountCreated => "account_created",
            Self::EmailConfirmed => "email_confirmed",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::SessionEnded => "session_ended",
            Self::ProfileDeleted => "profile_deleted",
            Self::SecondFactorEnabled => "second_factor_enabled",
            Self::SecondFactorDisabled => "second_factor_disabled",
            Self::SecondFactorFailed => "second_factor_failed",
            Self::RecoveryCodeUsed => "recovery_code_used",
        }
    }
}

/// Who the event is about, as a pseudonym.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// The signed-in account, if any.
    Visitor,
    /// This profile.
    Profile(ProfileId),
    /// An address that may or may not be an account: its keyed digest.
    Address(&'a str),
}

/// Logs `event` for the request of `visitor`.
pub fn record(
    state: &crate::state::AppState,
    visitor: &impl Requester,
    event: SecurityEvent,
    subject: Subject<'_>,
) {
    let account = match subject {
        Subject::Visitor => visitor.account().map(|p| p.0.to_string()),
        Subject::Profile(id) => Some(id.0.to_string()),
        Subject::Address(typed) => Some(format!(
            "adresse:{}",
            state.signer.pseudonym(&typed.trim().to_lowercase())
        )),
    };
    emit(
        event,
        account.as_deref(),
        visitor.client(),
        visitor.request_id(),
        None,
    );
}

/// Logs `event` with a detail (a route, a link id): never personal data.
pub fn record_with(visitor: &impl Requester, event: SecurityEvent, detail: &str) {
    let account = visitor.account().map(|p| p.0.to_string());
    emit(
        event,
        account.as_deref(),
        visitor.client(),
        visitor.request_id(),
        Some(detail),
    );
}

fn emit(
    event: SecurityEvent,
    account: Option<&str>,
    client: IpAddr,
    request_id: &str,
    detail: Option<&str>,
) {
    let name = event.name();
    let account = account.unwrap_or("-");
    let detail = detail.unwrap_or("-");
    // each event alone is expected (a typo, an expired form, a stale bookmark): the
    // level is info, an alert is built on their rate
    tracing::info!(
        target: "sand::security",
        event = name,
        account,
        client = %client,
        request_id,
        detail,
        "security event"
    );
}
