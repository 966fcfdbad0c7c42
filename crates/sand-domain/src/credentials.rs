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

/// The fewest guesses, as a power of ten, that [`zxcvbn`] must estimate for a new
/// password: 10^10 is out of reach of an online attack and costly offline against the
/// Argon2id hashes (it is zxcvbn's threshold between its scores 3 and 4).
const MIN_PASSWORD_GUESSES_LOG10: f64 = 10.0;

/// French words that the estimator's (English) dictionaries lack and that French users
/// build their passwords from: common password stems, first names, places, clubs, and
/// this service's own vocabulary. The estimator prices a password made of them as it
/// prices one made of its own dictionary words.
const FRENCH_WORDS: &[&str] = &[
    "azerty",
    "azertyuiop",
    "qsdfghjklm",
    "wxcvbn",
    "motdepasse",
    "mot",
    "passe",
    "soleil",
    "bonjour",
    "bonsoir",
    "salut",
    "coucou",
    "doudou",
    "chouchou",
    "loulou",
    "nounours",
    "jetaime",
    "tetaime",
    "amour",
    "mamour",
    "moncoeur",
    "cheri",
    "cherie",
    "bisous",
    "princesse",
    "poupette",
    "minou",
    "chaton",
    "chat",
    "chien",
    "cheval",
    "lapin",
    "vacances",
    "famille",
    "maison",
    "bebe",
    "enfant",
    "maman",
    "papa",
    "mamie",
    "papi",
    "france",
    "paris",
    "marseille",
    "lyon",
    "toulouse",
    "nice",
    "nantes",
    "bordeaux",
    "lille",
    "rennes",
    "strasbourg",
    "montpellier",
    "bretagne",
    "corse",
    "om",
    "psg",
    "allezlom",
    "olympique",
    "football",
    "foot",
    "rugby",
    "musique",
    "liberte",
    "egalite",
    "fraternite",
    "republique",
    "bienvenue",
    "secret",
    "diplome",
    "diplomes",
    "gouv",
    "baccalaureat",
    "bac",
    "brevet",
    "examen",
    "lycee",
    "college",
    "ecole",
    "academie",
    "rectorat",
    "attestation",
    "etudiant",
    "universite",
    "jean",
    "marie",
    "pierre",
    "michel",
    "nicolas",
    "thomas",
    "camille",
    "julien",
    "sophie",
    "nathalie",
    "isabelle",
    "sylvie",
    "catherine",
    "christophe",
    "philippe",
    "francois",
    "laurent",
    "stephane",
    "sebastien",
    "frederic",
    "david",
    "alexandre",
    "antoine",
    "lucas",
    "hugo",
    "louis",
    "gabriel",
    "arthur",
    "jules",
    "emma",
    "jade",
    "louise",
    "alice",
    "chloe",
    "lea",
    "manon",
    "ines",
    "sarah",
    "julie",
    "laura",
    "pauline",
    "mathilde",
    "clement",
    "maxime",
    "romain",
    "kevin",
    "quentin",
    "mohamed",
    "ali",
    "fatima",
    "lina",
    "noah",
    "janvier",
    "fevrier",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "aout",
    "septembre",
    "octobre",
    "novembre",
    "decembre",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "un",
    "deux",
    "trois",
    "quatre",
    "cinq",
    "six",
    "sept",
    "huit",
    "neuf",
    "dix",
    "cent",
    "mille",
    "toto",
    "titi",
    "tata",
    "zizou",
    "chocolat",
    "fromage",
];
/// `raw` with its diacritics removed (`Été` → `Ete`), to meet the bare dictionary words.
fn without_accents(raw: &str) -> String {
    use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};
    raw.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

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
        let local = email.as_str().split('@').next().unwrap_or_default();
        let name_key = crate::identity::compact_key(birth_name.as_str()).to_lowercase();
        let folded = crate::identity::compact_key(raw).to_lowercase();
        if (local.chars().count() >= 4 && lower.contains(local))
            || (name_key.chars().count() >= 4 && folded.contains(&name_key))
        {
            return Err(PasswordError::ContainsPersonalData);
        }
        // The estimator also prices the pieces of the address and the name it is given,
        // and sees the password with its accents removed (French words are listed bare).
        let mut inputs: Vec<&str> = local
            .split(|c: char| !c.is_alphanumeric())
            .filter(|part| !part.is_empty())
            .collect();
        inputs.push(&name_key);
        inputs.extend_from_slice(FRENCH_WORDS);
        let bare = without_accents(raw);
        let weak = [raw, bare.as_str()].into_iter().any(|candidate| {
            zxcvbn::zxcvbn(candidate, &inputs).guesses_log10() < MIN_PASSWORD_GUESSES_LOG10
        });
        if weak {
            return Err(PasswordError::TooWeak);
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
        for weak in [
            "aaaaaaaaaaaaaaaa",
            "MotDePasse123",
            "azerty123456",
            "Azerty123456!",
            "soleil123456",
            "Marseille2024!",
            "jetaime-loulou",
            "123456789012",
            "abcdefghijklmnop",
            "qsdfghjklmqsdf",
            "Baccalauréat2009",
            "camille2004camille",
        ] {
            assert_eq!(check(weak), Err(PasswordError::TooWeak), "{weak:?}");
        }
        assert_eq!(
            check("marie.durand-2024!"),
            Err(PasswordError::ContainsPersonalData)
        );
        assert_eq!(
            check("Le-DURAND-du-93!"),
            Err(PasswordError::ContainsPersonalData)
        );
        for strong in [
            "cheval agrafe pile correcte",
            "cheval agrafe batterie",
            "une phrase de passe assez longue",
            "Tr0mb0ne-Vélo-Hibou",
            "k7#Qp2!vXm9@Lw",
        ] {
            assert_eq!(check(strong), Ok(()), "{strong:?}");
        }
        // The estimator's cost is bounded: the longest accepted password is judged fast.
        let long: String = (0..MAX_PASSWORD_CHARS)
            .map(|i| char::from(b'a' + u8::try_from(i * 7 % 26).unwrap()))
            .collect();
        let started = std::time::Instant::now();
        let _ = check(&long);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
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
