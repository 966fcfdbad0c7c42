//! E-mail addresses and passwords of e-mail accounts.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Why an e-mail address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("the e-mail address is longer than {MAX_EMAIL_CHARS} characters")]
    TooLong,
    #[error("the e-mail address is not of the form name@domain.tld")]
    Malformed,
}

/// An e-mail address, stored in lower case (addresses are compared without case).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Checks the shape `local@domain.tld`; deliverability is proven by the verification
    /// mail, not here.
    ///
    /// # Errors
    /// [`EmailError`].
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_EMAIL_CHARS {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = trimmed.split_once('@').ok_or(EmailError::Malformed)?;
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii()
            })
            && !local.chars().any(|c| c.is_whitespace() || c.is_control());
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.chars().count() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels.last().is_some_and(|tld| {
                tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
            });
        if !local_ok || !domain_ok {
            return Err(EmailError::Malformed);
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest password accepted for a new account (ANSSI recommends 12+ for passwords
/// protecting personal data when no other factor exists).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: bounds the hashing cost of hostile input.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Passwords refused whatever their length: the most common choices of French users.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "azertyuiop12",
    "azertyuiop123",
    "azertyuiopqsd",
    "motdepasse123",
    "motdepasse1234",
    "motdepassemotdepasse",
    "password1234",
    "password12345",
    "qwertyuiop12",
    "qwertyuiop123",
    "soleil123456",
    "bonjour123456",
    "doudou123456",
    "chouchou1234",
    "marseille123",
    "jetaime123456",
    "loulou123456",
    "diplome123456",
    "diplomegouvfr",
    "baccalaureat1",
    "baccalaureat123",
];

/// Why a new password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("the password is too common or too repetitive")]
    TooWeak,
    #[error("the password must not contain the e-mail address or the name")]
    ContainsPersonalData,
}

/// A password in clear, held only while it is hashed or checked. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A password chosen for a new account: long enough, not common, not repetitive, not
    /// made from the account's e-mail or birth name.
    ///
    /// # Errors
    /// [`PasswordError`].
    pub fn new_for_account(
        raw: &str,
        email: &Email,
        birth_name: &crate::identity::BirthName,
    ) -> Result<Self, PasswordError> {
        let count = raw.chars().count();
        if count < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if count > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let lower = raw.to_lowercase();
        let mut distinct: Vec<char> = lower.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 5 || COMMON_PASSWORDS.contains(&lower.as_str()) {
            return Err(PasswordError::TooWeak);
        }
        let local = email.as_str().split('@').next().unwrap_or_default();
        let name_key = crate::identity::compact_key(birth_name.as_str()).to_lowercase();
        let folded = crate::identity::compact_key(raw).to_lowercase();
        if (local.chars().count() >= 4 && lower.contains(local))
            || (name_key.chars().count() >= 4 && folded.contains(&name_key))
        {
            return Err(PasswordError::ContainsPersonalData);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password typed to log in: only bounded in length, never judged (a weak password
    /// is refused at creation, not at login).
    ///
    /// # Errors
    /// [`PasswordError::TooLong`].
    pub fn for_login(raw: &str) -> Result<Self, PasswordError> {
        if raw.chars().count() > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The clear text, for the password hasher only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in PHC string format, as produced by the password hasher port.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    #[must_use]
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A random single-use secret sent by mail (e-mail verification, password reset).
/// Generated and checked by the adapters; the domain only carries it. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(value)
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::BirthName;

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            Email::parse("  Marie.Durand@Exemple.FR ").map(|e| e.as_str().to_owned()),
            Ok("marie.durand@exemple.fr".to_owned())
        );
        assert!(Email::parse("élodie@exemple.fr").is_ok());
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
        for bad in [
            "marie",
            "marie@",
            "@exemple.fr",
            "marie@exemple",
            "marie@@exemple.fr",
            "ma rie@exemple.fr",
            "marie@exemple..fr",
            "marie@-exemple.fr",
            "marie@exemple.1",
            ".marie@exemple.fr",
            "marie\n@exemple.fr",
            "marie@exemple.fr\r\nBcc: x@y.fr",
            "<script>@exemple.fr",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad:?}");
        }
        assert_eq!(
            Email::parse(&format!("{}@exemple.fr", "a".repeat(300))),
            Err(EmailError::TooLong)
        );
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        let email = Email::parse("marie.durand@exemple.fr").unwrap();
        let name = BirthName::parse("Durand").unwrap();
        let check = |p: &str| Password::new_for_account(p, &email, &name).map(|_| ());
        assert_eq!(check("court"), Err(PasswordError::TooShort));
        assert_eq!(
            check(&"x".repeat(MAX_PASSWORD_CHARS + 1)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(check("aaaaaaaaaaaaaaaa"), Err(PasswordError::TooWeak));
        assert_eq!(check("MotDePasse123"), Err(PasswordError::TooWeak));
        assert_eq!(
            check("marie.durand-2024!"),
            Err(PasswordError::ContainsPersonalData)
        );
        assert_eq!(
            check("Le-DURAND-du-93!"),
            Err(PasswordError::ContainsPersonalData)
        );
        assert_eq!(check("cheval agrafe pile correcte"), Ok(()));
    }

    #[test]
    fn secrets_never_print() {
        let p = Password::for_login("s3cr3t-phrase").unwrap();
        assert!(!format!("{p:?}").contains("s3cr3t"));
        let e = Email::parse("x.y@exemple.fr").unwrap();
        assert!(!format!("{e:?}").contains("x.y"));
        assert!(Password::for_login(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }
}
