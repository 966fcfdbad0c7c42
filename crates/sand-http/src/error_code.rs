//! The stable codes of every error the service answers (the JSON API's `code`, the
//! pages' error kinds): one list, documented in the OpenAPI document as an `enum`, so a
//! client can match on them and a new code cannot appear without being declared.

use poem_openapi::Enum;
use poem_openapi::types::ToJSON as _;

/// A stable, machine-readable error code; the French message beside it is for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request breaks the OpenAPI document (type, list, bounds, pattern, length),
    /// or a page form is unreadable.
    RequeteInvalide,
    /// No such address, or a resource that is not the caller's.
    Introuvable,
    /// The path does not answer this method (see `Allow`).
    MethodeNonAutorisee,
    /// A page form without its anti-forgery token (expired, or from another site).
    FormulaireExpire,
    /// The body is larger than accepted.
    TropVolumineux,
    /// A rate limit: see `Retry-After`.
    TropDeDemandes,
    /// A dependency (the database) is unavailable: see `Retry-After`.
    Indisponible,
    /// An unexpected failure: quote the request id to support.
    ErreurInterne,
    /// The operation needs a signed-in session.
    NonConnecte,
    /// A control key that is not 8 characters of the key alphabet (batch items).
    CleInvalide,
    /// A holder's name that is not a name.
    NomInvalide,
    /// An organisation name with invisible control characters, or too long.
    OrganismeInvalide,
    /// A birth date that does not exist.
    DateNaissanceInvalide,
    /// This key needs the holder's birth date today (many wrong names were tried).
    DateNaissanceRequise,
    /// Attach: this diploma, session and académie are not available in the service.
    NonDisponible,
    /// A session before the service's coverage (2009): `etapes` names the office that
    /// holds that académie's results (the SIEC for Paris, Créteil and Versailles).
    SessionNonCouverte,
    /// Attach: no result of this diploma carries the profile's identity.
    AucuneCorrespondance,
    /// Attach: only the exam office can settle it (homonyms, or attached elsewhere).
    ServiceExamens,
    /// Attach: the link was deleted by another request meanwhile.
    SupprimeEntreTemps,
    /// The exam office withdrew this result.
    Retire,
    /// A share link's recipient label that is empty, too long, or has invisible
    /// characters.
    DestinataireInvalide,
    /// A date that does not exist (a 31 February).
    DateInvalide,
    /// A share link's last day in the past.
    DatePassee,
    /// A share link's last day more than a year away.
    DateTropLointaine,
    /// The profile already holds the most live share links allowed.
    TropDeLiens,
}

impl ErrorCode {
    /// The code as written on the wire (`trop_de_demandes`).
    #[must_use]
    pub fn as_str(self) -> String {
        match self.to_json() {
            Some(serde_json::Value::String(code)) => code,
            _ => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_in_snake_case() {
        assert_eq!(ErrorCode::TropDeDemandes.as_str(), "trop_de_demandes");
        assert_eq!(
            ErrorCode::DateNaissanceRequise.as_str(),
            "date_naissance_requise"
        );
        assert_eq!(ErrorCode::Retire.as_str(), "retire");
    }
}
