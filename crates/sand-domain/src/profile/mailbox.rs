//! The account flows that go through the mailbox: confirming the address of a new
//! password account (and sending its link again), and resetting a forgotten password.
//!
//! A mailed link carries a token only this service can make ([`AccountTokens`]). It names
//! the profile, expires after the lifetime stated here, and is bound to what it acts on:
//! the address for a confirmation, the current password hash for a reset — so a reset
//! link works once, and a confirmation link is worthless for another address.
//!
//! What the delivery side keeps: rate limits, answering alike whether an address is known
//! or not (it runs the requests off the request's time), and the pages.

use std::fmt;
use std::sync::Arc;

use time::Duration;

use crate::SecretToken;
use crate::credentials::{Email, Password, PasswordError};
use crate::error::PortError;
use crate::ports::{
    AccountTokenPurpose, AccountTokens, Clock, Mail, Mailer, PasswordHasher, ProfileRepository,
    SecurityChange, SessionStore,
};
use crate::profile::Profile;
use crate::profile::sign_in::{LogIn, LogInError};

/// How long a confirmation link works. A profile whose address is still unconfirmed this
/// long after its creation holds no claim to anything and is removed.
pub const CONFIRMATION_LINK_VALID: Duration = Duration::hours(48);

/// How long a password reset link works.
pub const RESET_LINK_VALID: Duration = Duration::hours(1);

/// Why an address was not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmEmailError {
    /// The link is not genuine, expired, or names a profile that is gone.
    #[error("the confirmation link is invalid or expired")]
    InvalidLink,
    /// The password typed is not the one chosen at registration.
    #[error("wrong password for this profile")]
    WrongPassword,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Why a password was not reset.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// The link is not genuine, expired, already used, or names a profile that is gone.
    #[error("the reset link is invalid, expired or already used")]
    InvalidLink,
    /// The two passwords typed differ.
    #[error("the two passwords differ")]
    Mismatch,
    /// The new password breaks the rules of a new password.
    #[error("the new password is refused: {0}")]
    Refused(#[source] PasswordError),
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// What a reset did.
#[derive(Debug)]
pub struct PasswordWasReset {
    pub profile: Profile,
    /// Every session of the account was ended; this many were open.
    pub sessions_ended: u64,
    /// Why the owner's notice could not be queued, if it could not (for the caller to
    /// log: the reset stands).
    pub notice_not_queued: Option<PortError>,
}

/// Use cases: the links mailed to confirm an address and to reset a password.
#[derive(Clone)]
pub struct MailboxLinks {
    pub profiles: Arc<dyn ProfileRepository>,
    pub hasher: Arc<dyn PasswordHasher>,
    pub sessions: Arc<dyn SessionStore>,
    pub mailer: Arc<dyn Mailer>,
    pub tokens: Arc<dyn AccountTokens>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for MailboxLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MailboxLinks")
    }
}

impl MailboxLinks {
    /// Mails `profile` (just created) the link that confirms its address, and returns the
    /// link's token (a demonstration site shows it).
    ///
    /// # Errors
    /// [`PortError`] when the mail could not be queued.
    pub async fn send_confirmation(&self, profile: &Profile) -> Result<SecretToken, PortError> {
        let token = self.confirmation_token(profile);
        self.mailer
            .send(Mail::VerifyEmail {
                to: profile.email.clone(),
                token: token.clone(),
            })
            .await?;
        Ok(token)
    }

    fn confirmation_token(&self, profile: &Profile) -> SecretToken {
        self.tokens.issue(
            AccountTokenPurpose::ConfirmEmail,
            profile.id,
            profile.email.as_str(),
            self.clock.now() + CONFIRMATION_LINK_VALID,
        )
    }

    /// Mails a new confirmation link to `email` if a password profile with that address
    /// is still unconfirmed; does nothing otherwise (the caller answers alike).
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn resend_confirmation(&self, email: &Email) -> Result<(), PortError> {
        match self.profiles.find_password_account(email).await? {
            Some((profile, _)) if !profile.email_verified => {
                self.send_confirmation(&profile).await.map(drop)
            }
            _ => Ok(()),
        }
    }

    /// The profile a confirmation link is for, if the link is genuine, unexpired and
    /// still bound to the profile's address.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn confirmation_target(&self, token: &str) -> Result<Option<Profile>, PortError> {
        let Some(id) = self.tokens.named_profile(token) else {
            return Ok(None);
        };
        let Some(profile) = self.profiles.get(id).await? else {
            return Ok(None);
        };
        let holds = self.tokens.holds(
            AccountTokenPurpose::ConfirmEmail,
            token,
            profile.email.as_str(),
            self.clock.now(),
        );
        Ok(holds.then_some(profile))
    }

    /// Confirms the address a link is for, if `password` is the one chosen at
    /// registration: reading the mailbox alone does not confirm a profile someone else
    /// registered with that address. The confirmed profile is logged in by the caller.
    ///
    /// # Errors
    /// [`ConfirmEmailError`].
    pub async fn confirm_email(
        &self,
        token: &str,
        password: &Password,
    ) -> Result<Profile, ConfirmEmailError> {
        let Some(profile) = self.confirmation_target(token).await? else {
            return Err(ConfirmEmailError::InvalidLink);
        };
        let log_in = LogIn {
            profiles: Arc::clone(&self.profiles),
            hasher: Arc::clone(&self.hasher),
        };
        match log_in.confirm_email(profile.id, password).await {
            Ok(confirmed) => Ok(confirmed),
            Err(LogInError::InvalidCredentials | LogInError::EmailNotVerified) => {
                Err(ConfirmEmailError::WrongPassword)
            }
            Err(LogInError::Unexpected(e)) => Err(e.into()),
        }
    }

    /// Mails a reset link to `email` if it is a password profile's address; does nothing
    /// otherwise (the caller answers alike). The link is bound to the current password
    /// hash: it works once, and not after the password changed by other means.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn request_reset(&self, email: &Email) -> Result<(), PortError> {
        let Some((profile, hash)) = self.profiles.find_password_account(email).await? else {
            return Ok(());
        };
        let token = self.tokens.issue(
            AccountTokenPurpose::ResetPassword,
            profile.id,
            hash.as_str(),
            self.clock.now() + RESET_LINK_VALID,
        );
        self.mailer
            .send(Mail::PasswordReset {
                to: profile.email,
                token,
            })
            .await
    }

    /// The profile a reset link is for, if the link is genuine, unexpired and unused.
    ///
    /// # Errors
    /// [`PortError`].
    pub async fn reset_target(&self, token: &str) -> Result<Option<Profile>, PortError> {
        let Some(id) = self.tokens.named_profile(token) else {
            return Ok(None);
        };
        let Some(hash) = self.profiles.password_hash(id).await? else {
            return Ok(None);
        };
        let holds = self.tokens.holds(
            AccountTokenPurpose::ResetPassword,
            token,
            hash.as_str(),
            self.clock.now(),
        );
        if !holds {
            return Ok(None);
        }
        self.profiles.get(id).await
    }

    /// Sets the password `new` (typed twice: `confirmation`) through a reset link, ends
    /// every session of the account, and tells the owner by mail (a reset they did not
    /// ask for does not go unnoticed; a notice that cannot be queued does not undo the
    /// reset).
    ///
    /// # Errors
    /// [`ResetPasswordError`].
    pub async fn reset_password(
        &self,
        token: &str,
        new: &str,
        confirmation: &str,
    ) -> Result<PasswordWasReset, ResetPasswordError> {
        let Some(profile) = self.reset_target(token).await? else {
            return Err(ResetPasswordError::InvalidLink);
        };
        let password = Password::new_for_account(new, &profile.email, &profile.identity.birth_name)
            .map_err(ResetPasswordError::Refused)?;
        if new != confirmation {
            return Err(ResetPasswordError::Mismatch);
        }
        let hash = self.hasher.hash(&password).await?;
        if !self.profiles.set_password(profile.id, hash).await? {
            return Err(ResetPasswordError::InvalidLink);
        }
        let sessions_ended = self.sessions.delete_for_profile(profile.id).await?;
        let notice_not_queued = self
            .mailer
            .send(Mail::SecurityChange {
                to: profile.email.clone(),
                change: SecurityChange::PasswordReset,
            })
            .await
            .err();
        Ok(PasswordWasReset {
            profile,
            sessions_ended,
            notice_not_queued,
        })
    }
}

#[cfg(test)]
mod tests;
