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

    /// The status, stable code and texts of this error (the texts are in the Fluent
    /// files, French and English): the one table of them.
    pub(crate) fn meaning(&self, lang: crate::i18n::Lang) -> Meaning {
        let (status, code, title, text) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorCode::Introuvable,
                "error-not-found-title",
                "error-not-found",
            ),
            Self::NoSuchDiploma => (
                StatusCode::NOT_FOUND,
                ErrorCode::Introuvable,
                "error-no-such-diploma-title",
                "error-no-such-diploma",
            ),
            Self::Withdrawn => (
                StatusCode::GONE,
                ErrorCode::Retire,
                "error-withdrawn-title",
                "error-withdrawn",
            ),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodeNonAutorisee,
                "error-method-title",
                "error-method",
            ),
            Self::BadRequest => (
                StatusCode::BAD_REQUEST,
                ErrorCode::RequeteInvalide,
                "error-bad-request-title",
                "error-bad-request",
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                ErrorCode::FormulaireExpire,
                "error-csrf-title",
                "error-csrf",
            ),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::TropVolumineux,
                "error-too-large-title",
                "error-too-large",
            ),
            Self::TooManyRequests(limited) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TropDeDemandes,
                "error-too-many-title",
                match limited {
                    Limited::Verifications => "error-too-many-verifications",
                    Limited::Attachments => "error-too-many-attachments",
                    Limited::FileChecks => "error-too-many-file-checks",
                    Limited::Requests => "error-too-many-requests",
                },
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Indisponible,
                "error-unavailable-title",
                "error-unavailable",
            ),
            Self::SignIn => (
                StatusCode::UNAUTHORIZED,
                ErrorCode::NonConnecte,
                "error-sign-in-title",
                "error-sign-in",
            ),
            Self::Unexpected(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ErreurInterne,
                "error-unexpected-title",
                "error-unexpected",
            ),
        };
        Meaning {
            status,
            code,
            title: lang.t(title),
            text: lang.t(text),
        }
    }
}

/// What an error means to the one who asked: its status, stable code, and title and text
/// in the answer's language (the text is the API's `message` too).
pub(crate) struct Meaning {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub title: String,
    pub text: String,
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
        self.meaning(crate::i18n::Lang::Fr).status
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
            WebError::from(RenewKeyError::NotFound)
                .meaning(crate::i18n::Lang::Fr)
                .code,
            ErrorCode::Introuvable
        );
        assert_eq!(
            WebError::TooManyRequests(Limited::Attachments)
                .meaning(crate::i18n::Lang::Fr)
                .code,
            ErrorCode::TropDeDemandes
        );
    }
}
