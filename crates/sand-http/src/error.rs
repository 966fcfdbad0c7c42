//! Why a request failed, in one place: the typed [`WebError`] every handler returns, the
//! one mapping of each domain error to it (`From<…> for WebError`), and what each means
//! (status, stable [`ErrorCode`], French texts). The frame renders it once, as an error
//! page in the design or as the API's JSON error body, with the request id. A leaf: it
//! depends only on the domain and on the error codes.

use std::sync::Arc;

use poem::http::StatusCode;
use sand_domain::PortError;
use sand_domain::link::attach::AttachDiplomaError;
use sand_domain::link::attestation::DownloadAttestationError;
use sand_domain::link::detach::DetachDiplomaError;
use sand_domain::link::renew_key::RenewKeyError;
use sand_domain::profile::delete::DeleteProfileError;

use crate::error_code::ErrorCode;

/// What a rate limit refused (the API says which; a page says "too many requests").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Verifications of control keys (per client, and wrong answers per key).
    Verifications,
    /// Attachment attempts of one profile.
    Attachments,
    /// Checks of attestation files.
    FileChecks,
    /// Logins, accounts, mail requests: the pages' limits.
    Requests,
}

/// The cause of a 5xx, kept typed (with its chain of sources) until it is logged once,
/// where the error is rendered.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    fn of(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(Arc::from(cause.into()))
    }
}

impl std::fmt::Debug for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&error_chain(&*self.0))
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Why a request failed; rendered as a page in the design, or as JSON under `/api`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebError {
    #[error("page not found")]
    NotFound,
    /// A diploma id that is not one of the signed-in graduate's (or not an id at all):
    /// the same answer whether it exists elsewhere or not.
    #[error("no such diploma in this profile")]
    NoSuchDiploma,
    /// The exam office withdrew the result: no attestation can be produced.
    #[error("result withdrawn by its exam office")]
    Withdrawn,
    /// An API path asked with a method it does not answer; the methods it answers, for
    /// the `Allow` header.
    #[error("method not allowed (allowed: {0})")]
    MethodNotAllowed(String),
    #[error("malformed request")]
    BadRequest,
    #[error("the form's CSRF token is missing or wrong")]
    Csrf,
    #[error("request body too large")]
    TooLarge,
    #[error("too many requests ({0:?})")]
    TooManyRequests(Limited),
    #[error("a dependency is unavailable: {0}")]
    Unavailable(#[source] Cause),
    #[error("unexpected: {0}")]
    Unexpected(#[source] Cause),
    #[error("sign-in required")]
    SignIn,
}

impl WebError {
    /// A 5xx, keeping its cause (logged once, where the error is rendered).
    pub fn unexpected(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unexpected(Cause::of(cause))
    }

    /// The status, code and French texts of this error: the one table of them.
    pub(crate) fn meaning(&self) -> Meaning {
        let (status, code, title, text) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorCode::Introuvable,
                "Page introuvable",
                "L'adresse demandée n'existe pas ou plus. Vérifiez-la, ou repartez de l'accueil.",
            ),
            Self::NoSuchDiploma => (
                StatusCode::NOT_FOUND,
                ErrorCode::Introuvable,
                "Diplôme introuvable",
                "Aucun diplôme de ce numéro dans votre profil : il a peut-être été supprimé. Repartez de votre espace.",
            ),
            Self::Withdrawn => (
                StatusCode::GONE,
                ErrorCode::Retire,
                "Attestation retirée",
                "Le service des examens a retiré ce résultat : aucune attestation ne peut plus être produite. Contactez-le pour en savoir plus.",
            ),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodeNonAutorisee,
                "Méthode non autorisée",
                "Cette adresse ne répond pas à cette méthode HTTP (voir l'en-tête Allow).",
            ),
            Self::BadRequest => (
                StatusCode::BAD_REQUEST,
                ErrorCode::RequeteInvalide,
                "Demande incomprise",
                "Votre demande est incomplète ou mal formée. Revenez à la page précédente et réessayez.",
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                ErrorCode::FormulaireExpire,
                "Formulaire expiré",
                "Ce formulaire a expiré ou ne vient pas de ce site. Rechargez la page, puis envoyez-le de nouveau.",
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TropVolumineux,
                "Envoi trop volumineux",
                "Ce que vous avez envoyé dépasse la taille acceptée.",
            ),
            Self::TooManyRequests(limited) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TropDeDemandes,
                "Trop de demandes",
                match limited {
                    Limited::Verifications => {
                        "Trop de vérifications : patientez avant de réessayer."
                    }
                    Limited::Attachments => {
                        "Trop de tentatives de rattachement : réessayez plus tard."
                    }
                    Limited::FileChecks => {
                        "Trop de contrôles de fichiers : patientez avant de réessayer."
                    }
                    Limited::Requests => {
                        "Vous avez fait beaucoup de demandes en peu de temps. Patientez quelques minutes avant de réessayer."
                    }
                },
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Indisponible,
                "Service momentanément indisponible",
                "Le service ne peut pas répondre pour l'instant. Réessayez dans quelques minutes : rien de ce que vous aviez déjà enregistré n'est perdu.",
            ),
            Self::SignIn => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::NonConnecte,
                "Connexion nécessaire",
                "Connectez-vous d'abord.",
            ),
            Self::Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ErreurInterne,
                "Erreur inattendue",
                "Une erreur inattendue nous empêche de répondre. Réessayez plus tard ; si elle persiste, indiquez au support le numéro de demande ci-dessous.",
            ),
        };
        Meaning {
            status,
            code,
            title,
            text,
        }
    }
}

/// What an error means to the one who asked: its status, stable code, and French title
/// and text (the text is the API's `message` too).
pub(crate) struct Meaning {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub title: &'static str,
    pub text: &'static str,
}

impl From<PortError> for WebError {
    fn from(e: PortError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(Cause::of(e))
        } else {
            Self::Unexpected(Cause::of(e))
        }
    }
}

impl From<AttachDiplomaError> for WebError {
    fn from(e: AttachDiplomaError) -> Self {
        match e {
            // the profile was deleted under this session
            AttachDiplomaError::ProfileNotFound => Self::SignIn,
            AttachDiplomaError::KeySpaceExhausted => Self::unexpected(e),
            AttachDiplomaError::Unexpected(e) => e.into(),
        }
    }
}

impl From<RenewKeyError> for WebError {
    fn from(e: RenewKeyError) -> Self {
        match e {
            RenewKeyError::NotFound => Self::NoSuchDiploma,
            RenewKeyError::KeySpaceExhausted => Self::unexpected(e),
            RenewKeyError::Unexpected(e) => e.into(),
        }
    }
}

impl From<DetachDiplomaError> for WebError {
    fn from(e: DetachDiplomaError) -> Self {
        match e {
            DetachDiplomaError::NotFound => Self::NoSuchDiploma,
            DetachDiplomaError::Unexpected(e) => e.into(),
        }
    }
}

impl From<DownloadAttestationError> for WebError {
    fn from(e: DownloadAttestationError) -> Self {
        match e {
            DownloadAttestationError::NotFound => Self::NoSuchDiploma,
            DownloadAttestationError::Withdrawn => Self::Withdrawn,
            DownloadAttestationError::Unexpected(e) => e.into(),
        }
    }
}

impl From<DeleteProfileError> for WebError {
    fn from(e: DeleteProfileError) -> Self {
        match e {
            // already gone: the caller's session is as good as ended
            DeleteProfileError::NotFound => Self::SignIn,
            DeleteProfileError::Unexpected(e) => e.into(),
        }
    }
}

/// An error and the causes below it, on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl poem::error::ResponseError for WebError {
    fn status(&self) -> StatusCode {
        self.meaning().status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_keeps_its_chain_until_it_is_logged() {
        let port = PortError::unexpected(std::io::Error::other("disk full"));
        let web = WebError::from(AttachDiplomaError::Unexpected(port));
        let WebError::Unexpected(cause) = &web else {
            panic!("expected a 500, got {web:?}");
        };
        assert!(format!("{cause:?}").contains("disk full"), "{cause:?}");
        assert!(std::error::Error::source(&web).is_some());
    }

    #[test]
    fn each_refusal_has_one_status_and_code() {
        use poem::error::ResponseError as _;
        assert_eq!(WebError::NoSuchDiploma.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            WebError::from(DownloadAttestationError::Withdrawn).status(),
            StatusCode::GONE
        );
        assert_eq!(
            WebError::from(RenewKeyError::NotFound).meaning().code,
            ErrorCode::Introuvable
        );
        assert_eq!(
            WebError::TooManyRequests(Limited::Attachments)
                .meaning()
                .code,
            ErrorCode::TropDeDemandes
        );
    }
}
