//! TOTP (RFC 6238) as SAND uses it: SHA-1, 6 digits, 30-second steps, one step of
//! tolerance each way — what every authenticator application reads. Graduates' second
//! factor, back-office staff and the `sand staff` command share it.

use totp_rs::{Algorithm, Builder, Totp, TotpError};

/// The code generator of `secret` for `account` (the name shown in the authenticator
/// application) at `issuer` (the operator's name).
///
/// # Errors
/// [`TotpError`] for a secret shorter than 128 bits.
pub fn generator(secret: &[u8], account: &str, issuer: &str) -> Result<Totp, TotpError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(issuer.replace(':', " ")))
        .build()
}

/// The time step whose code `typed` is (spaces ignored), if it is one within tolerance.
#[must_use]
pub fn check_code(totp: &Totp, typed: &str, now: time::OffsetDateTime) -> Option<u64> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    totp.check(&digits, u64::try_from(now.unix_timestamp()).ok()?)
}

/// The current code of `totp` at `now`.
#[must_use]
pub fn current_code(totp: &Totp, now: time::OffsetDateTime) -> String {
    totp.generate(u64::try_from(now.unix_timestamp()).unwrap_or_default())
        .to_string()
}

/// The secret in base32, as typed into an authenticator by hand.
#[must_use]
pub fn base32(totp: &Totp) -> String {
    totp.secret().to_base32()
}
