//! Messages from templates.

use askama::Template;
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use sand_domain::ports::Mail;
use sand_domain::profile::mailbox::{CONFIRMATION_LINK_VALID, RESET_LINK_VALID};
use sand_domain::public_paths;
use sand_domain::text::french_duration;
use time::OffsetDateTime;

/// What every message needs from configuration.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The sender, e.g. `SAND <ne-pas-repondre@attestations.example.fr>`.
    pub from: Mailbox,
    /// The operator's name, signed at the foot of every message.
    pub operator: String,
    /// The public address of the service, without a trailing slash; links are built on it.
    pub public_url: String,
}

/// Why a message could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("template: {0}")]
    Template(#[from] askama::Error),
    #[error("message: {0}")]
    Message(#[from] lettre::error::Error),
    #[error("address: {0}")]
    Address(#[from] lettre::address::AddressError),
}

/// `Content-Language` (RFC 3282): the messages are in French.
#[derive(Debug, Clone)]
struct ContentLanguage;

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "fr".to_owned())
    }
}

/// `List-Unsubscribe` (RFC 2369): the address that stops this kind of mail.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(value: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(
            value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned(),
        ))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post` (RFC 8058): a `POST` to the `List-Unsubscribe` address stops
/// the mails at once, with no page to open.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `24 novembre 2026 à 11h05 (heure de Paris)`: a mail is read alone, so each time says
/// its zone.
fn french_time(at: OffsetDateTime) -> String {
    format!("{} (heure de Paris)", sand_domain::text::french_moment(at))
}

macro_rules! templates {
    ($($name:ident => $text:literal, $html:literal { $($field:ident: $ty:ty),* })+) => {
        $(
            mod $name {
                use askama::Template;

                #[derive(Template)]
                #[template(path = $text, escape = "none")]
                pub(super) struct Text<'a> {
                    pub operator: &'a str,
                    pub link: &'a str,
                    $(pub $field: $ty,)*
                }

                #[derive(Template)]
                #[template(path = $html)]
                pub(super) struct Html<'a> {
                    pub subject: &'a str,
                    pub operator: &'a str,
                    pub link: &'a str,
                    $(pub $field: $ty,)*
                }
            }
        )+
    };
}

templates! {
    verify_email => "verify_email.txt", "verify_email.html" { valid_for: &'a str }
    password_reset => "password_reset.txt", "password_reset.html" { valid_for: &'a str }
    profile_deleted => "profile_deleted.txt", "profile_deleted.html" { }
    security_change => "security_change.txt", "security_change.html" { what: &'a str }
    attestation_verified => "attestation_verified.txt", "attestation_verified.html" {
        scope: &'a str, at: &'a str, organisation: Option<&'a str>, stop: &'a str
    }
    record_withdrawn => "record_withdrawn.txt", "record_withdrawn.html" { scope: &'a str }
    wallet_tx_code => "wallet_tx_code.txt", "wallet_tx_code.html" {
        scope: &'a str, code: &'a str, until: &'a str
    }
    key_guessing => "key_guessing.txt", "key_guessing.html" { scope: &'a str }
    attestation_taken_over => "attestation_taken_over.txt", "attestation_taken_over.html" { scope: &'a str }
    link_released => "link_released.txt", "link_released.html" { scope: &'a str, reason: &'a str }
}

/// `base` + `path` + the token as the link's query.
fn token_link(base: &str, path: &str, token: &sand_domain::SecretToken) -> String {
    format!(
        "{base}{path}?{}={}",
        public_paths::TOKEN,
        query_value(token.expose())
    )
}

/// Renders both parts of `mail` and its subject.
fn render(mail: &Mail, s: &MailSettings) -> Result<(String, String, String), ComposeError> {
    let base = s.public_url.trim_end_matches('/');
    let operator = s.operator.as_str();
    Ok(match mail {
        Mail::VerifyEmail { token, .. } => {
            let subject = "Confirmez votre adresse e-mail";
            let link = token_link(base, public_paths::CONFIRM_EMAIL, token);
            let valid_for = &french_duration(CONFIRMATION_LINK_VALID);
            (
                subject.to_owned(),
                verify_email::Text {
                    operator,
                    link: &link,
                    valid_for,
                }
                .render()?,
                verify_email::Html {
                    subject,
                    operator,
                    link: &link,
                    valid_for,
                }
                .render()?,
            )
        }
        Mail::PasswordReset { token, .. } => {
            let subject = "Réinitialisation de votre mot de passe";
            let link = token_link(base, public_paths::RESET_PASSWORD, token);
            let valid_for = &french_duration(RESET_LINK_VALID);
            (
                subject.to_owned(),
                password_reset::Text {
                    operator,
                    link: &link,
                    valid_for,
                }
                .render()?,
                password_reset::Html {
                    subject,
                    operator,
                    link: &link,
                    valid_for,
                }
                .render()?,
            )
        }
        Mail::SecurityChange { change, .. } => {
            use sand_domain::ports::SecurityChange as C;
            let (subject, what) = match change {
                C::PasswordChanged => (
                    "Votre mot de passe a été changé",
                    "Le mot de passe de votre profil vient d'être changé depuis votre espace.",
                ),
                C::PasswordReset => (
                    "Votre mot de passe a été réinitialisé",
                    "Le mot de passe de votre profil vient d'être réinitialisé par le lien envoyé à cette adresse ; toutes vos sessions ouvertes ont été fermées.",
                ),
                C::SecondFactorEnabled => (
                    "Double authentification activée",
                    "La double authentification vient d'être activée sur votre profil : un code de votre application vous sera demandé à chaque connexion.",
                ),
                C::SecondFactorDisabled => (
                    "Double authentification désactivée",
                    "La double authentification vient d'être désactivée sur votre profil : le mot de passe suffit de nouveau pour vous connecter.",
                ),
            };
            let link = format!("{base}{}", public_paths::PROFILE);
            (
                subject.to_owned(),
                security_change::Text {
                    operator,
                    link: &link,
                    what,
                }
                .render()?,
                security_change::Html {
                    subject,
                    operator,
                    link: &link,
                    what,
                }
                .render()?,
            )
        }
        Mail::ProfileDeleted { .. } => {
            let subject = "Votre profil a été supprimé";
            let link = format!("{base}/");
            (
                subject.to_owned(),
                profile_deleted::Text {
                    operator,
                    link: &link,
                }
                .render()?,
                profile_deleted::Html {
                    subject,
                    operator,
                    link: &link,
                }
                .render()?,
            )
        }
        Mail::AttestationVerified {
            scope,
            at,
            organisation,
            stop,
            ..
        } => {
            let subject = "Une de vos attestations a été vérifiée";
            let link = format!("{base}{}", public_paths::SPACE);
            let stop = token_link(base, public_paths::STOP_VERIFICATION_NOTICES, stop);
            let scope = scope.to_string();
            let at = french_time(*at);
            let organisation = organisation.as_deref();
            (
                subject.to_owned(),
                attestation_verified::Text {
                    operator,
                    link: &link,
                    scope: &scope,
                    at: &at,
                    organisation,
                    stop: &stop,
                }
                .render()?,
                attestation_verified::Html {
                    subject,
                    operator,
                    link: &link,
                    scope: &scope,
                    at: &at,
                    organisation,
                    stop: &stop,
                }
                .render()?,
            )
        }
        Mail::RecordWithdrawn { scope, .. } => {
            let subject = "Un de vos diplômes a été retiré par le service des examens";
            let link = format!("{base}{}", public_paths::SPACE);
            let scope = scope.to_string();
            (
                subject.to_owned(),
                record_withdrawn::Text {
                    operator,
                    link: &link,
                    scope: &scope,
                }
                .render()?,
                record_withdrawn::Html {
                    subject,
                    operator,
                    link: &link,
                    scope: &scope,
                }
                .render()?,
            )
        }
        Mail::AttestationTakenOver { scope, .. } => {
            let subject = "Un diplôme a quitté votre profil";
            let link = format!("{base}{}", public_paths::SPACE);
            let scope = scope.to_string();
            (
                subject.to_owned(),
                attestation_taken_over::Text {
                    operator,
                    link: &link,
                    scope: &scope,
                }
                .render()?,
                attestation_taken_over::Html {
                    subject,
                    operator,
                    link: &link,
                    scope: &scope,
                }
                .render()?,
            )
        }
        Mail::LinkReleased { scope, reason, .. } => {
            let subject = "Le service des examens a détaché un diplôme de votre profil";
            let link = format!("{base}{}", public_paths::SPACE);
            let scope = scope.to_string();
            (
                subject.to_owned(),
                link_released::Text {
                    operator,
                    link: &link,
                    scope: &scope,
                    reason: reason.label(),
                }
                .render()?,
                link_released::Html {
                    subject,
                    operator,
                    link: &link,
                    scope: &scope,
                    reason: reason.label(),
                }
                .render()?,
            )
        }
        Mail::WalletTxCode {
            scope,
            code,
            expires_at,
            ..
        } => {
            let subject = "Votre code pour ajouter un diplôme à votre portefeuille";
            let link = format!("{base}{}", public_paths::SPACE);
            let scope = scope.to_string();
            let until = french_time(*expires_at);
            (
                subject.to_owned(),
                wallet_tx_code::Text {
                    operator,
                    link: &link,
                    scope: &scope,
                    code: code.expose(),
                    until: &until,
                }
                .render()?,
                wallet_tx_code::Html {
                    subject,
                    operator,
                    link: &link,
                    scope: &scope,
                    code: code.expose(),
                    until: &until,
                }
                .render()?,
            )
        }
        Mail::KeyGuessing { scope, .. } => {
            let subject = "Tentatives de vérification de votre clé de contrôle";
            let link = format!("{base}{}", public_paths::SPACE);
            let scope = scope.to_string();
            (
                subject.to_owned(),
                key_guessing::Text {
                    operator,
                    link: &link,
                    scope: &scope,
                }
                .render()?,
                key_guessing::Html {
                    subject,
                    operator,
                    link: &link,
                    scope: &scope,
                }
                .render()?,
            )
        }
    })
}

fn recipient(mail: &Mail) -> &sand_domain::credentials::Email {
    match mail {
        Mail::VerifyEmail { to, .. }
        | Mail::PasswordReset { to, .. }
        | Mail::ProfileDeleted { to }
        | Mail::SecurityChange { to, .. }
        | Mail::AttestationVerified { to, .. }
        | Mail::RecordWithdrawn { to, .. }
        | Mail::KeyGuessing { to, .. }
        | Mail::WalletTxCode { to, .. }
        | Mail::AttestationTakenOver { to, .. }
        | Mail::LinkReleased { to, .. } => to,
    }
}

/// The e-mail for `mail`: French, `multipart/alternative` with a plain text and an HTML
/// part, both UTF-8.
///
/// # Errors
/// [`ComposeError`] (an address the mail system refuses, a template error).
pub fn compose(mail: &Mail, settings: &MailSettings) -> Result<Message, ComposeError> {
    let (subject, text, html) = render(mail, settings)?;
    let to: Mailbox = recipient(mail).as_str().parse()?;
    let mut message = Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .header(ContentLanguage);
    // the one mail the holder chose to receive: mail clients offer to stop it in one
    // click (RFC 2369's address, RFC 8058's one-click POST to it)
    if let Mail::AttestationVerified { stop, .. } = mail {
        let base = settings.public_url.trim_end_matches('/');
        message = message
            .header(ListUnsubscribe(token_link(
                base,
                public_paths::STOP_VERIFICATION_NOTICES,
                stop,
            )))
            .header(ListUnsubscribePost);
    }
    Ok(message.multipart(MultiPart::alternative_plain_html(text, html))?)
}

#[cfg(test)]
mod tests;
