//! The JSON API (`/api/v1`, OpenAPI 3 at `/api/v1/openapi.json`, interactive page at
//! `/api/v1/docs`): verification (one, or a batch of up to 100), the catalogue, the
//! attestation signature keys and the check of an attestation file, and the graduate's
//! own operations for a signed-in session (the session cookie of the pages).
//!
//! State-changing calls take a JSON body: a browser cannot send one cross-site without a
//! CORS preflight, which this API never grants; the session cookie is SameSite=Lax too.

use std::sync::Arc;

use poem::web::Data;
use poem::{Endpoint as _, EndpointExt as _, Response, Route};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi, OpenApiService, Tags};
use sand_attestation::{Verdict, verify_pdf};
use sand_domain::diploma::DiplomaScope;
use sand_domain::identity::BirthDate;
use sand_domain::link::LinkState;
use sand_domain::link::attach::{AttachDiplomaError, AttachDiplomaRequest, AttachOutcome};
use sand_domain::link::attestation::{DownloadAttestationError, DownloadAttestationRequest};
use sand_domain::link::detach::{DetachDiplomaError, DetachDiplomaRequest};
use sand_domain::link::list::MyDiploma;
use sand_domain::link::renew_key::{RenewKeyError, RenewKeyRequest};
use sand_domain::profile::delete::DeleteProfileError;
use sand_domain::verification::{VerifiedDiploma, VerifyError, VerifyOutcome, VerifyRequest};

use crate::api_types::{AcademieCode, DiplomaCode, Text};
use crate::error_code::ErrorCode;
use crate::present::{
    CatalogueEntry, ShownDiploma, catalogue_entries, step_text, verify_error_text,
};
use crate::state::AppState;
use crate::verifying::{self, Checked};
use crate::web::{Visitor, WebError, clear_session_cookie, link_id};

/// Most verifications in one batch.
pub const MAX_BATCH: usize = 100;

/// A JSON error body, as every API error is answered.
#[derive(Debug, Object)]
pub struct ApiError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// French message for a person.
    pub message: String,
    /// Quote it to support.
    pub request_id: String,
    /// What to do, in order (a refused attachment only).
    #[oai(skip_serializing_if_is_none)]
    pub etapes: Option<Vec<StepJson>>,
}

/// One step of what to do after a refusal.
#[derive(Debug, Object)]
pub struct StepJson {
    /// Stable code: `verifier_catalogue`, `attendre_resultats_definitifs`,
    /// `procedure_habituelle`, `verifier_nom_naissance`, `verifier_prenoms`,
    /// `verifier_date_naissance`, `recreer_profil_ou_franceconnect`,
    /// `contacter_service_examens`.
    pub code: String,
    /// The step in French, for a person.
    pub texte: String,
    /// The académie concerned (code), for the steps that name one.
    #[oai(skip_serializing_if_is_none)]
    pub academie: Option<String>,
    /// Where to do it on this site (a path), when there is such a page.
    #[oai(skip_serializing_if_is_none)]
    pub lien: Option<String>,
}

impl From<&sand_domain::link::attach::SupportStep> for StepJson {
    fn from(step: &sand_domain::link::attach::SupportStep) -> Self {
        use sand_domain::link::attach::SupportStep as S;
        let (code, academie) = match step {
            S::CheckTheCatalogue => ("verifier_catalogue", None),
            S::WaitForFinalResults => ("attendre_resultats_definitifs", None),
            S::StandardProcedure { academie } => ("procedure_habituelle", Some(*academie)),
            S::CheckBirthName => ("verifier_nom_naissance", None),
            S::CheckAllFirstNames => ("verifier_prenoms", None),
            S::CheckBirthDate => ("verifier_date_naissance", None),
            S::RecreateProfileOrUseFranceConnect => ("recreer_profil_ou_franceconnect", None),
            S::ContactExamOffice { academie } => ("contacter_service_examens", Some(*academie)),
        };
        let (texte, lien, _) = step_text(step);
        Self {
            code: code.to_owned(),
            texte,
            academie: academie.map(|a| a.code().to_owned()),
            lien: (!lien.is_empty()).then_some(lien),
        }
    }
}

fn error(visitor: &Visitor, code: ErrorCode, message: &str) -> Json<ApiError> {
    Json(ApiError {
        code,
        message: message.to_owned(),
        request_id: visitor.request_id.clone(),
        etapes: None,
    })
}

#[derive(Tags)]
enum ApiTags {
    /// For verifiers: check a control key with the holder's name.
    Verification,
    /// Public reference data.
    Catalogue,
    /// Attestation signatures.
    Attestations,
    /// The signed-in graduate's own diplomas and profile.
    Me,
}

/// A key and a name to check. What the schema cannot say is refused with 422 and a
/// code naming the field: a name that is not one (`nom_invalide`), an organisation with
/// invisible control characters (`organisme_invalide`), a date that does not exist
/// (`date_naissance_invalide`).
#[derive(Debug, Clone, Object)]
pub struct VerificationBody {
    /// The 8-character control key: digits and letters except U, in either case (O reads
    /// as 0, I and L as 1); spaces, dots, dashes and underscores between them are ignored.
    #[oai(validator(
        max_length = 32,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000._\u2010\u2011\u2013-]*(?:[0-9A-TV-Za-tv-z][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000._\u2010\u2011\u2013-]*){8}$"
    ))]
    pub cle: Text,
    /// The holder's birth name: letters (any alphabet), spaces, hyphens, apostrophes and
    /// dots, with at least one letter.
    #[oai(validator(min_length = 1, max_length = 80))]
    pub nom: Text,
    /// The verifying organisation, shown to the holder (optional; null is absent).
    #[oai(nullable, validator(max_length = 120))]
    pub organisme: Option<Text>,
    /// The holder's birth date (ISO 8601, `AAAA-MM-JJ`), as printed on the attestation.
    /// Optional; when given it must match too. Required for a key that collected many
    /// wrong names today (422, code `date_naissance_requise`).
    #[oai(nullable, validator(pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"))]
    pub date_naissance: Option<Text>,
}

/// One verification of a batch: checked as `POST /verifications` checks one, but a
/// field it would refuse is reported in this item's result (`code`), so that one typing
/// error does not refuse the whole batch.
#[derive(Debug, Clone, Object)]
pub struct BatchVerificationBody {
    /// The control key, as in `POST /verifications`.
    #[oai(validator(max_length = 32))]
    pub cle: Text,
    /// The holder's birth name.
    #[oai(validator(max_length = 80))]
    pub nom: Text,
    /// The verifying organisation, shown to the holder (optional; null is absent).
    #[oai(nullable, validator(max_length = 120))]
    pub organisme: Option<Text>,
    /// The holder's birth date (ISO 8601, `AAAA-MM-JJ`), optional.
    #[oai(nullable, validator(max_length = 10))]
    pub date_naissance: Option<Text>,
}

impl From<BatchVerificationBody> for VerificationBody {
    fn from(b: BatchVerificationBody) -> Self {
        Self {
            cle: b.cle,
            nom: b.nom,
            organisme: b.organisme,
            date_naissance: b.date_naissance,
        }
    }
}

/// A valid attestation's content: codes for machines beside names for people, ISO 8601
/// dates.
#[derive(Debug, Clone, Object)]
pub struct VerifiedDiplomaJson {
    /// The holder as a person reads it (first names, birth name, usage name).
    pub titulaire: String,
    /// Birth name, as the exam office recorded it.
    pub nom_naissance: String,
    #[oai(skip_serializing_if_is_none)]
    pub nom_usage: Option<String>,
    /// First names, in civil-status order.
    pub prenoms: Vec<String>,
    /// ISO 8601 date (`AAAA-MM-JJ`).
    pub date_naissance: String,
    /// Diploma kind code (`GET /catalogue`), e.g. `BACG`.
    pub diplome: String,
    /// Its title, e.g. `Baccalauréat général`.
    pub diplome_nom: String,
    #[oai(skip_serializing_if_is_none)]
    pub specialite: Option<String>,
    /// Mention code: `P` (passable), `AB`, `B`, `TB`, `TBF` (très bien avec félicitations).
    #[oai(skip_serializing_if_is_none)]
    pub mention: Option<String>,
    /// The mention as printed, e.g. `Très bien`.
    #[oai(skip_serializing_if_is_none)]
    pub mention_nom: Option<String>,
    /// Exam session (year).
    pub session: u16,
    /// Académie code, e.g. `10`.
    pub academie: String,
    /// Its name, e.g. `Lyon`.
    pub academie_nom: String,
    /// ISO 8601 date of the jury's deliberation.
    pub date_deliberation: String,
}

impl From<&VerifiedDiploma> for VerifiedDiplomaJson {
    fn from(d: &VerifiedDiploma) -> Self {
        Self {
            titulaire: ShownDiploma::of(d).holder,
            nom_naissance: d.birth_name.to_string(),
            nom_usage: d.usage_name.as_ref().map(ToString::to_string),
            prenoms: d
                .first_names
                .names()
                .iter()
                .map(ToString::to_string)
                .collect(),
            date_naissance: d.birth_date.date().to_string(),
            diplome: d.scope.kind.code().to_owned(),
            diplome_nom: d.scope.kind.title().to_owned(),
            specialite: d.award.speciality.as_ref().map(ToString::to_string),
            mention: d.award.mention.map(|m| m.code().to_owned()),
            mention_nom: d.award.mention.map(|m| m.label().to_owned()),
            session: d.scope.session.year(),
            academie: d.scope.academie.code().to_owned(),
            academie_nom: d.scope.academie.name().to_owned(),
            date_deliberation: d.deliberation_date().to_string(),
        }
    }
}

/// The answer to a verification: one answer for "unknown key" and "wrong name".
#[derive(Debug, Clone, Object)]
pub struct VerificationResult {
    pub valide: bool,
    /// Present when `valide`.
    #[oai(skip_serializing_if_is_none)]
    pub diplome: Option<Box<VerifiedDiplomaJson>>,
    /// When the check was made (RFC 3339).
    pub verifie_le: String,
}

#[derive(ApiResponse)]
enum VerifyResponse {
    /// Checked (valid or not).
    #[oai(status = 200)]
    Ok(Json<VerificationResult>),
    /// A field the schema accepts is refused by a rule it cannot state (`nom_invalide`,
    /// `organisme_invalide`, `date_naissance_invalide`), or this key needs the birth date
    /// today (`date_naissance_requise`).
    #[oai(status = 422)]
    Unprocessable(Json<ApiError>),
    /// Too many verifications from this client or of this key.
    #[oai(status = 429)]
    TooMany(Json<ApiError>),
}

/// Up to 100 keys and names.
#[derive(Debug, Object)]
pub struct VerificationBatchBody {
    #[oai(validator(max_items = 100))]
    pub verifications: Vec<BatchVerificationBody>,
}

/// One result of a batch, in the order asked.
#[derive(Debug, Object)]
pub struct BatchItem {
    pub valide: bool,
    #[oai(skip_serializing_if_is_none)]
    pub diplome: Option<Box<VerifiedDiplomaJson>>,
    /// Why this item could not be checked (malformed field, or rate limit).
    #[oai(skip_serializing_if_is_none)]
    pub erreur: Option<String>,
    /// The stable code of `erreur` (`cle_invalide`, `nom_invalide`,
    /// `organisme_invalide`, `date_naissance_invalide`, `date_naissance_requise`,
    /// `trop_de_demandes`).
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<ErrorCode>,
}

#[derive(Debug, Object)]
pub struct VerificationBatchResult {
    pub resultats: Vec<BatchItem>,
    pub verifie_le: String,
}

#[derive(ApiResponse)]
enum BatchResponse {
    #[oai(status = 200)]
    Ok(Json<VerificationBatchResult>),
    #[oai(status = 429)]
    TooMany(Json<ApiError>),
}

/// A public key that signs attestations.
#[derive(Debug, Object)]
pub struct SigningKeyJson {
    /// Key id as printed in attestations (16 hex digits).
    pub id: String,
    pub algorithme: String,
    /// The public demonstration key: its signatures prove nothing.
    pub demonstration: bool,
    /// SubjectPublicKeyInfo, PEM.
    pub pem: String,
}

#[derive(Debug, Object)]
pub struct KeySet {
    pub cles: Vec<SigningKeyJson>,
}

/// What the check of an attestation file found.
#[derive(Debug, Object)]
pub struct FileCheck {
    /// `intacte`, `modifiee`, `cle_inconnue`, `falsifiee` or `non_attestation`.
    pub verdict: String,
    pub demonstration: bool,
    /// The signed control key (check it online: only that says it is still valid).
    #[oai(skip_serializing_if_is_none)]
    pub cle: Option<String>,
    pub message: String,
}

#[derive(ApiResponse)]
enum FileCheckResponse {
    #[oai(status = 200)]
    Ok(Json<FileCheck>),
    #[oai(status = 413)]
    TooLarge(Json<ApiError>),
    /// Too many file checks from this client.
    #[oai(status = 429)]
    TooMany(Json<ApiError>),
}

/// An attached diploma.
#[derive(Debug, Object)]
pub struct MyDiplomaJson {
    pub id: String,
    /// Diploma kind code, e.g. `BACG`.
    pub diplome: String,
    pub diplome_nom: String,
    pub session: u16,
    /// Académie code, e.g. `10`.
    pub academie: String,
    pub academie_nom: String,
    #[oai(skip_serializing_if_is_none)]
    pub specialite: Option<String>,
    /// Mention code (`P`, `AB`, `B`, `TB`, `TBF`).
    #[oai(skip_serializing_if_is_none)]
    pub mention: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub mention_nom: Option<String>,
    /// `None` once withdrawn by the exam office.
    #[oai(skip_serializing_if_is_none)]
    pub cle: Option<String>,
    pub cle_depuis: String,
    pub retire: bool,
    pub verifications: Vec<VerificationEventJson>,
}

#[derive(Debug, Object)]
pub struct VerificationEventJson {
    pub le: String,
    #[oai(skip_serializing_if_is_none)]
    pub organisme: Option<String>,
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl From<&MyDiploma> for MyDiplomaJson {
    fn from(d: &MyDiploma) -> Self {
        let withdrawn = !matches!(d.link.state, LinkState::Active);
        Self {
            id: d.link.id.0.to_string(),
            diplome: d.record.scope.kind.code().to_owned(),
            diplome_nom: d.record.scope.kind.title().to_owned(),
            session: d.record.scope.session.year(),
            academie: d.record.scope.academie.code().to_owned(),
            academie_nom: d.record.scope.academie.name().to_owned(),
            specialite: d.record.award.speciality.as_ref().map(ToString::to_string),
            mention: d.record.award.mention.map(|m| m.code().to_owned()),
            mention_nom: d.record.award.mention.map(|m| m.label().to_owned()),
            cle: (!withdrawn).then(|| d.link.key.as_str().to_owned()),
            cle_depuis: rfc3339(d.link.key_issued_at),
            retire: withdrawn,
            verifications: d
                .verifications
                .iter()
                .map(|v| VerificationEventJson {
                    le: rfc3339(v.at),
                    organisme: v.organisation.as_ref().map(ToString::to_string),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct AttachBody {
    /// Diploma kind code (`GET /catalogue`), e.g. `BACG`.
    pub diplome: DiplomaCode,
    /// The session's year (the service covers 2009 to 2100).
    #[oai(validator(minimum(value = "2009"), maximum(value = "2100")))]
    pub session: u16,
    /// Académie code, e.g. `10` for Lyon.
    pub academie: AcademieCode,
}

#[derive(ApiResponse)]
enum AttachResponse {
    /// Attached.
    #[oai(status = 201)]
    Created(Json<MyDiplomaJson>),
    /// Already attached to this profile.
    #[oai(status = 200)]
    Already(Json<MyDiplomaJson>),
    #[oai(status = 401)]
    Unauthorized(Json<ApiError>),
    /// Not attached (`non_disponible`, `aucune_correspondance`, `service_examens`,
    /// `supprime_entre_temps`): `etapes` says what to do.
    #[oai(status = 422)]
    NotAttached(Json<ApiError>),
    #[oai(status = 429)]
    TooMany(Json<ApiError>),
}

#[derive(ApiResponse)]
enum ListResponse {
    #[oai(status = 200)]
    Ok(Json<Vec<MyDiplomaJson>>),
    #[oai(status = 401)]
    Unauthorized(Json<ApiError>),
}

#[derive(ApiResponse)]
enum OneResponse {
    #[oai(status = 200)]
    Ok(Json<MyDiplomaJson>),
    #[oai(status = 401)]
    Unauthorized(Json<ApiError>),
    /// No such diploma in this profile.
    #[oai(status = 404)]
    NotFound(Json<ApiError>),
}

#[derive(ApiResponse)]
enum EmptyResponse {
    #[oai(status = 204)]
    Done,
    #[oai(status = 401)]
    Unauthorized(Json<ApiError>),
    #[oai(status = 404)]
    NotFound(Json<ApiError>),
}

#[derive(ApiResponse)]
enum DeleteMeResponse {
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
    #[oai(status = 401)]
    Unauthorized(Json<ApiError>),
}

/// A PDF to download, served as `application/pdf` (poem-openapi's `Attachment` says
/// `application/octet-stream`, which tells a client nothing).
#[derive(Debug)]
pub struct PdfDownload {
    bytes: Vec<u8>,
    file_name: String,
}

impl PdfDownload {
    fn content_disposition(&self) -> String {
        let safe: String = self
            .file_name
            .chars()
            .filter(|c| !matches!(c, '"' | '\\') && !c.is_control())
            .collect();
        format!("attachment; filename=\"{safe}\"")
    }
}

impl poem_openapi::payload::Payload for PdfDownload {
    const CONTENT_TYPE: &'static str = "application/pdf";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        Binary::<Vec<u8>>::schema_ref()
    }
}

impl poem::IntoResponse for PdfDownload {
    fn into_response(self) -> Response {
        let disposition = self.content_disposition();
        Response::builder()
            .content_type("application/pdf")
            .header(poem::http::header::CONTENT_DISPOSITION, disposition)
            .body(self.bytes)
    }
}

impl ApiResponse for PdfDownload {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::payload::Payload as _;
        use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses};
        use poem_openapi::types::Type as _;
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The signed attestation.",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![MetaHeader {
                    name: "Content-Disposition".to_owned(),
                    description: Some("`attachment`, with the file name.".to_owned()),
                    required: true,
                    deprecated: false,
                    schema: String::schema_ref(),
                }],
            }],
        }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
}

#[derive(ApiResponse)]
enum PdfResponse {
    #[oai(status = 200)]
    Ok(PdfDownload),
    #[oai(status = 401)]
    Unauthorized(Json<ApiError>),
    #[oai(status = 404)]
    NotFound(Json<ApiError>),
    /// The exam office withdrew the record.
    #[oai(status = 410)]
    Gone(Json<ApiError>),
}

/// An empty JSON object (state-changing calls without parameters still take JSON).
#[derive(Debug, Object)]
pub struct Empty {}

/// The API.
#[derive(Debug)]
pub struct Api;

fn unauthorized(visitor: &Visitor) -> Json<ApiError> {
    error(visitor, ErrorCode::NonConnecte, "Connectez-vous d'abord.")
}

fn not_found(visitor: &Visitor) -> Json<ApiError> {
    error(
        visitor,
        ErrorCode::Introuvable,
        "Aucun diplôme de ce numéro dans votre profil.",
    )
}

/// Why one verification could not be answered valid or not.
enum CheckRefusal {
    /// Malformed field, or the birth date required: (code, French message).
    Invalid(ErrorCode, String),
    /// A rate limit.
    TooMany,
}

async fn check_one(
    state: &AppState,
    client: crate::limits::ClientKey,
    body: VerificationBody,
) -> Result<Result<VerificationResult, CheckRefusal>, WebError> {
    let birth_date = match body.date_naissance.as_ref().map(|d| d.0.trim()) {
        None | Some("") => None,
        Some(text) => match BirthDate::parse_iso(text, state.ports.clock.now().date()) {
            Ok(date) => Some(date),
            Err(_) => {
                return Ok(Err(CheckRefusal::Invalid(
                    ErrorCode::DateNaissanceInvalide,
                    "date_naissance : indiquez une date qui existe, au format AAAA-MM-JJ."
                        .to_owned(),
                )));
            }
        },
    };
    let request = VerifyRequest {
        key: body.cle.0,
        holder_name: body.nom.0,
        organisation: body.organisme.map(|o| o.0).unwrap_or_default(),
        birth_date,
        birth_date_required: false,
    };
    let now = rfc3339(state.ports.clock.now());
    let Checked::Done(result) = verifying::verify(state, client, request).await else {
        return Ok(Err(CheckRefusal::TooMany));
    };
    match result {
        Ok(VerifyOutcome::Valid(d)) => Ok(Ok(VerificationResult {
            valide: true,
            diplome: Some(Box::new(VerifiedDiplomaJson::from(&*d))),
            verifie_le: now,
        })),
        Ok(VerifyOutcome::NotValid) => Ok(Ok(VerificationResult {
            valide: false,
            diplome: None,
            verifie_le: now,
        })),
        Err(VerifyError::Unexpected(e)) => Err(WebError::from(e)),
        Err(e) => {
            let code = match e {
                VerifyError::MalformedKey(_) => ErrorCode::CleInvalide,
                VerifyError::MalformedName(_) => ErrorCode::NomInvalide,
                VerifyError::MalformedOrganisation(_) => ErrorCode::OrganismeInvalide,
                VerifyError::BirthDateRequired => ErrorCode::DateNaissanceRequise,
                VerifyError::Unexpected(_) => ErrorCode::ErreurInterne,
            };
            Ok(Err(CheckRefusal::Invalid(
                code,
                verify_error_text(&e)
                    .unwrap_or("Demande invalide.")
                    .to_owned(),
            )))
        }
    }
}

const TOO_MANY_VERIFICATIONS: &str = "Trop de vérifications : patientez avant de réessayer.";

#[OpenApi]
impl Api {
    /// Check one control key with the holder's birth name.
    ///
    /// An unknown key and a name that does not match get the same answer.
    #[oai(
        path = "/verifications",
        method = "post",
        tag = "ApiTags::Verification"
    )]
    async fn verify(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        body: Json<VerificationBody>,
    ) -> poem::Result<VerifyResponse> {
        Ok(match check_one(&state, visitor.client, body.0).await? {
            Ok(result) => VerifyResponse::Ok(Json(result)),
            Err(CheckRefusal::Invalid(code, message)) => {
                VerifyResponse::Unprocessable(error(&visitor, code, &message))
            }
            Err(CheckRefusal::TooMany) => VerifyResponse::TooMany(error(
                &visitor,
                ErrorCode::TropDeDemandes,
                TOO_MANY_VERIFICATIONS,
            )),
        })
    }

    /// Check up to 100 keys at once (for employers). Each item counts against the
    /// client's verification rate.
    #[oai(
        path = "/verifications/lot",
        method = "post",
        tag = "ApiTags::Verification"
    )]
    async fn verify_batch(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        body: Json<VerificationBatchBody>,
    ) -> poem::Result<BatchResponse> {
        // at most MAX_BATCH items: the schema's maxItems, checked before this runs
        let mut results = Vec::with_capacity(body.verifications.len());
        for item in body.0.verifications {
            results.push(
                match check_one(&state, visitor.client, item.into()).await? {
                    Ok(r) => BatchItem {
                        valide: r.valide,
                        diplome: r.diplome,
                        erreur: None,
                        code: None,
                    },
                    Err(CheckRefusal::TooMany) if results.is_empty() => {
                        return Ok(BatchResponse::TooMany(error(
                            &visitor,
                            ErrorCode::TropDeDemandes,
                            TOO_MANY_VERIFICATIONS,
                        )));
                    }
                    Err(CheckRefusal::TooMany) => BatchItem {
                        valide: false,
                        diplome: None,
                        erreur: Some(
                            "Limite de vérifications atteinte : réessayez plus tard.".to_owned(),
                        ),
                        code: Some(ErrorCode::TropDeDemandes),
                    },
                    Err(CheckRefusal::Invalid(code, message)) => BatchItem {
                        valide: false,
                        diplome: None,
                        erreur: Some(message),
                        code: Some(code),
                    },
                },
            );
        }
        Ok(BatchResponse::Ok(Json(VerificationBatchResult {
            resultats: results,
            verifie_le: rfc3339(state.ports.clock.now()),
        })))
    }

    /// Every available diploma kind × session × académie, optionally filtered.
    #[oai(path = "/catalogue", method = "get", tag = "ApiTags::Catalogue")]
    async fn catalogue(
        &self,
        state: Data<&Arc<AppState>>,
        academie: Query<Option<AcademieCode>>,
        diplome: Query<Option<DiplomaCode>>,
        #[oai(validator(minimum(value = "2009"), maximum(value = "2100")))] session: Query<
            Option<u16>,
        >,
    ) -> poem::Result<Json<Vec<CatalogueEntry>>> {
        let academie = academie.0.map(|a| a.0);
        let kind = diplome.0.map(|k| k.0);
        Ok(Json(
            catalogue_entries(&state, academie, kind, session.0).await?,
        ))
    }

    /// The public keys that sign attestations (current and previous ones).
    #[oai(
        path = "/cles-signature",
        method = "get",
        tag = "ApiTags::Attestations"
    )]
    async fn keys(&self, state: Data<&Arc<AppState>>) -> poem::Result<Json<KeySet>> {
        Ok(key_set(&state).map(Json)?)
    }

    /// Check an attestation PDF (at most 5 MB): is it exactly as issued?
    #[oai(
        path = "/attestations/controle",
        method = "post",
        tag = "ApiTags::Attestations"
    )]
    async fn check_file(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        body: Binary<Vec<u8>>,
    ) -> poem::Result<FileCheckResponse> {
        if !state.limiters.file_check(visitor.client) {
            return Ok(FileCheckResponse::TooMany(error(
                &visitor,
                ErrorCode::TropDeDemandes,
                "Trop de contrôles de fichiers : patientez avant de réessayer.",
            )));
        }
        if body.0.len() > state.settings.max_pdf_bytes {
            return Ok(FileCheckResponse::TooLarge(error(
                &visitor,
                ErrorCode::TropVolumineux,
                "5 Mo au plus.",
            )));
        }
        // reading a document of up to 5 MB is CPU work: off the async runtime, so that
        // a few uploads cannot stall every other request
        let keys = Arc::clone(&state);
        let bytes = body.0;
        let verdict = crate::system::off_runtime(move || {
            tracing::debug!(bytes = bytes.len(), "reading an uploaded document");
            verify_pdf(&bytes, &keys.verification_keys)
        })
        .await
        .map_err(WebError::unexpected)?;
        let check = match verdict {
            Verdict::Intact { facts, demo, .. } => FileCheck {
                verdict: "intacte".to_owned(),
                demonstration: demo,
                cle: Some(facts.control_key),
                message: "Le fichier est intact et signé par ce service. Vérifiez en ligne sa clé avec le nom du titulaire : seule cette vérification dit s'il est encore valide.".to_owned(),
            },
            Verdict::Altered { facts, demo } => FileCheck {
                verdict: "modifiee".to_owned(),
                demonstration: demo,
                cle: Some(facts.control_key),
                message: "Le fichier a été modifié après sa production : ne vous fiez pas à son contenu.".to_owned(),
            },
            Verdict::UnknownKey(_) => FileCheck { verdict: "cle_inconnue".to_owned(), demonstration: false, cle: None, message: "Signé par une clé que ce service ne connaît pas.".to_owned() },
            Verdict::Forged => FileCheck { verdict: "falsifiee".to_owned(), demonstration: false, cle: None, message: "La signature ne correspond pas au contenu : document falsifié.".to_owned() },
            Verdict::NotAnAttestation(_) => FileCheck { verdict: "non_attestation".to_owned(), demonstration: false, cle: None, message: "Ce fichier n'est pas une attestation de ce service.".to_owned() },
        };
        Ok(FileCheckResponse::Ok(Json(check)))
    }

    /// My attached diplomas, with their keys and verifications.
    #[oai(path = "/moi/diplomes", method = "get", tag = "ApiTags::Me")]
    async fn my_diplomas(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
    ) -> poem::Result<ListResponse> {
        let Some(me) = &visitor.signed_in else {
            return Ok(ListResponse::Unauthorized(unauthorized(&visitor)));
        };
        let list = state
            .list
            .execute(me.profile)
            .await
            .map_err(WebError::from)?;
        Ok(ListResponse::Ok(Json(
            list.iter().map(MyDiplomaJson::from).collect(),
        )))
    }

    /// Attach a diploma (matched on my identity at exam time).
    #[oai(path = "/moi/diplomes", method = "post", tag = "ApiTags::Me")]
    async fn attach(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        body: Json<AttachBody>,
    ) -> poem::Result<AttachResponse> {
        let Some(me) = &visitor.signed_in else {
            return Ok(AttachResponse::Unauthorized(unauthorized(&visitor)));
        };
        // the schema bounds the session as the domain does (a test holds them equal)
        let session = sand_domain::diploma::Session::new(body.session).map_err(|e| {
            poem::Error::from_string(
                format!("session : {e}"),
                poem::http::StatusCode::BAD_REQUEST,
            )
        })?;
        let scope = DiplomaScope {
            kind: body.diplome.0,
            session,
            academie: body.academie.0,
        };
        if !state.limiters.attach(me.profile) {
            return Ok(AttachResponse::TooMany(error(
                &visitor,
                ErrorCode::TropDeDemandes,
                "Trop de tentatives de rattachement : réessayez plus tard.",
            )));
        }
        let result = state
            .attach
            .execute(AttachDiplomaRequest {
                profile: me.profile,
                scope,
            })
            .await;
        state.metrics.attach(&result);
        let outcome = match result {
            Ok(o) => o,
            Err(AttachDiplomaError::ProfileNotFound) => {
                return Ok(AttachResponse::Unauthorized(unauthorized(&visitor)));
            }
            Err(AttachDiplomaError::KeySpaceExhausted) => {
                return Err(WebError::unexpected("control key space exhausted").into());
            }
            Err(AttachDiplomaError::Unexpected(e)) => return Err(WebError::from(e).into()),
        };
        let not_attached =
            |code: ErrorCode, message: &str, steps: &[sand_domain::link::attach::SupportStep]| {
                AttachResponse::NotAttached(Json(ApiError {
                    code,
                    message: message.to_owned(),
                    request_id: visitor.request_id.clone(),
                    etapes: Some(steps.iter().map(StepJson::from).collect()),
                }))
            };
        let find = |id| async move {
            let list = state
                .list
                .execute(me.profile)
                .await
                .map_err(WebError::from)?;
            Ok::<_, WebError>(
                list.iter()
                    .find(|d| d.link.id == id)
                    .map(MyDiplomaJson::from),
            )
        };
        Ok(match outcome {
            // answered from the attach itself: another request of the holder may delete
            // the link before a re-read would see it
            AttachOutcome::Attached { link, record } => {
                AttachResponse::Created(Json(MyDiplomaJson::from(&MyDiploma {
                    link,
                    record: *record,
                    verifications: Vec::new(),
                })))
            }
            AttachOutcome::AlreadyAttachedToYou { link } => match find(link).await? {
                Some(d) => AttachResponse::Already(Json(d)),
                // deleted by another request of the holder in the meantime
                None => not_attached(
                    ErrorCode::SupprimeEntreTemps,
                    "Ce diplôme vient d'être supprimé de votre espace par une autre demande : rattachez-le de nouveau.",
                    &[],
                ),
            },
            AttachOutcome::NotInCatalogue { next_steps, .. } => not_attached(
                ErrorCode::NonDisponible,
                "Ce diplôme n'est pas disponible dans ce service.",
                &next_steps,
            ),
            AttachOutcome::NoMatch { next_steps, .. } => not_attached(
                ErrorCode::AucuneCorrespondance,
                "Aucun résultat de ce diplôme ne porte l'identité de votre profil.",
                &next_steps,
            ),
            AttachOutcome::AmbiguousHomonyms { next_steps, .. }
            | AttachOutcome::AttachedToAnotherProfile { next_steps, .. } => not_attached(
                ErrorCode::ServiceExamens,
                "Ce diplôme ne peut pas être rattaché automatiquement.",
                &next_steps,
            ),
        })
    }

    /// Delete an attestation: the link goes, the key stops verifying, the record stays.
    #[oai(path = "/moi/diplomes/:id", method = "delete", tag = "ApiTags::Me")]
    async fn detach(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        #[oai(validator(max_length = 64))] id: Path<String>,
    ) -> poem::Result<EmptyResponse> {
        let Some(me) = &visitor.signed_in else {
            return Ok(EmptyResponse::Unauthorized(unauthorized(&visitor)));
        };
        let Ok(link) = link_id(&id.0) else {
            return Ok(EmptyResponse::NotFound(not_found(&visitor)));
        };
        match state
            .detach
            .execute(DetachDiplomaRequest {
                profile: me.profile,
                link,
            })
            .await
        {
            Ok(()) => Ok(EmptyResponse::Done),
            Err(DetachDiplomaError::NotFound) => Ok(EmptyResponse::NotFound(not_found(&visitor))),
            Err(DetachDiplomaError::Unexpected(e)) => Err(WebError::from(e).into()),
        }
    }

    /// Draw a new control key; the old one stops verifying at once.
    #[oai(path = "/moi/diplomes/:id/cle", method = "post", tag = "ApiTags::Me")]
    async fn renew(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        #[oai(validator(max_length = 64))] id: Path<String>,
        _body: Json<Empty>,
    ) -> poem::Result<OneResponse> {
        let Some(me) = &visitor.signed_in else {
            return Ok(OneResponse::Unauthorized(unauthorized(&visitor)));
        };
        let Ok(link) = link_id(&id.0) else {
            return Ok(OneResponse::NotFound(not_found(&visitor)));
        };
        match state
            .renew_key
            .execute(RenewKeyRequest {
                profile: me.profile,
                link,
            })
            .await
        {
            Ok(_) => {
                let list = state
                    .list
                    .execute(me.profile)
                    .await
                    .map_err(WebError::from)?;
                match list.iter().find(|d| d.link.id == link) {
                    Some(d) => Ok(OneResponse::Ok(Json(d.into()))),
                    None => Ok(OneResponse::NotFound(not_found(&visitor))),
                }
            }
            Err(RenewKeyError::NotFound) => Ok(OneResponse::NotFound(not_found(&visitor))),
            Err(RenewKeyError::KeySpaceExhausted) => {
                Err(WebError::unexpected("control key space exhausted").into())
            }
            Err(RenewKeyError::Unexpected(e)) => Err(WebError::from(e).into()),
        }
    }

    /// The certified attestation (signed PDF).
    #[oai(
        path = "/moi/diplomes/:id/attestation",
        method = "get",
        tag = "ApiTags::Me"
    )]
    async fn attestation(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        #[oai(validator(max_length = 64))] id: Path<String>,
    ) -> poem::Result<PdfResponse> {
        let Some(me) = &visitor.signed_in else {
            return Ok(PdfResponse::Unauthorized(unauthorized(&visitor)));
        };
        let Ok(link) = link_id(&id.0) else {
            return Ok(PdfResponse::NotFound(not_found(&visitor)));
        };
        match state
            .download
            .execute(DownloadAttestationRequest {
                profile: me.profile,
                link,
            })
            .await
        {
            Ok(rendered) => Ok(PdfResponse::Ok(PdfDownload {
                bytes: rendered.bytes,
                file_name: rendered.file_name,
            })),
            Err(DownloadAttestationError::NotFound) => {
                Ok(PdfResponse::NotFound(not_found(&visitor)))
            }
            Err(DownloadAttestationError::Withdrawn) => Ok(PdfResponse::Gone(error(
                &visitor,
                ErrorCode::Retire,
                "Le service des examens a retiré ce résultat.",
            ))),
            Err(DownloadAttestationError::Unexpected(e)) => Err(WebError::from(e).into()),
        }
    }

    /// Delete my profile: all personal data and links, at once; a confirmation e-mail.
    #[oai(path = "/moi", method = "delete", tag = "ApiTags::Me")]
    async fn delete_me(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
    ) -> poem::Result<DeleteMeResponse> {
        let Some(me) = &visitor.signed_in else {
            return Ok(DeleteMeResponse::Unauthorized(unauthorized(&visitor)));
        };
        match state.delete_profile.execute(me.profile).await {
            Ok(_) => {
                crate::audit::record(
                    &state,
                    &visitor,
                    crate::audit::SecurityEvent::ProfileDeleted,
                    crate::audit::Subject::Visitor,
                );
                Ok(DeleteMeResponse::Done(clear_session_cookie(&state)))
            }
            Err(DeleteProfileError::NotFound) => {
                Ok(DeleteMeResponse::Done(clear_session_cookie(&state)))
            }
            Err(DeleteProfileError::Unexpected(e)) => Err(WebError::from(e).into()),
        }
    }
}

pub(crate) fn key_set(state: &AppState) -> Result<KeySet, WebError> {
    let cles = state
        .verification_keys
        .iter()
        .map(|k| {
            Ok(SigningKeyJson {
                id: k.id.to_string(),
                algorithme: "Ed25519".to_owned(),
                demonstration: k.demo,
                pem: k.to_pem().map_err(WebError::unexpected)?,
            })
        })
        .collect::<Result<Vec<_>, WebError>>()?;
    Ok(KeySet { cles })
}

/// The OpenAPI service of the API.
#[must_use]
pub fn service(public_url: &str) -> OpenApiService<Api, ()> {
    OpenApiService::new(Api, "SAND", env!("CARGO_PKG_VERSION"))
        .description("Vérification d'attestations de diplômes, catalogue, et opérations du diplômé connecté.")
        .server(format!("{public_url}/api/v1"))
}

/// The errors any operation may answer, whatever its handler does: the request could
/// not be read (400, 413, 415), too many requests (429), the service failed (500) or is
/// temporarily unavailable (503); and 404 where the path names a resource.
const COMMON_ERRORS: [(&str, &str); 7] = [
    ("400", "Demande mal formée (paramètre ou corps illisible)."),
    ("404", "Ressource introuvable."),
    ("413", "Corps de la demande trop volumineux."),
    ("415", "Type de contenu non accepté."),
    ("429", "Trop de demandes : réessayez plus tard."),
    ("500", "Erreur inattendue (citez request_id au support)."),
    (
        "503",
        "Service momentanément indisponible : réessayez plus tard.",
    ),
];

/// The name of the session security scheme in the document.
const SESSION_SCHEME: &str = "session";

/// The OpenAPI document, with the common error answers documented on every operation,
/// and the pages' session cookie as the security scheme of the graduate's operations
/// (`/moi…`).
#[must_use]
pub fn spec_json(public_url: &str) -> String {
    let text = service(public_url).spec();
    let Ok(mut spec) = serde_json::from_str::<serde_json::Value>(&text) else {
        return text;
    };
    let error = serde_json::json!({
        "application/json; charset=utf-8": {
            "schema": { "$ref": "#/components/schemas/ApiError" }
        }
    });
    if let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for (path, item) in paths.iter_mut() {
            let Some(operations) = item.as_object_mut() else {
                continue;
            };
            for operation in operations.values_mut() {
                if path.starts_with("/moi")
                    && let Some(operation) = operation.as_object_mut()
                {
                    operation.insert(
                        "security".to_owned(),
                        serde_json::json!([{ SESSION_SCHEME: [] }]),
                    );
                }
                let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for (status, description) in COMMON_ERRORS {
                    if status == "404" && !path.contains('{') {
                        continue;
                    }
                    responses.entry(status).or_insert_with(|| {
                        serde_json::json!({ "description": description, "content": error.clone() })
                    });
                }
            }
        }
    }
    let cookie = crate::web::session_cookie_name_for(public_url.starts_with("https://"));
    if let Some(components) = spec.get_mut("components").and_then(|c| c.as_object_mut()) {
        components.insert(
            "securitySchemes".to_owned(),
            serde_json::json!({
                SESSION_SCHEME: {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookie,
                    "description": "La session des pages : se connecter sur /connexion (mot de passe ou FranceConnect), puis envoyer ce cookie. Sans session valide, 401 `non_connecte`.",
                }
            }),
        );
    }
    serde_json::to_string_pretty(&spec).unwrap_or(text)
}

/// Each path template of the document (split into segments, `{…}` for a parameter)
/// with the methods it answers, as an `Allow` header value.
fn allowed_methods(spec: &str) -> Vec<(Vec<String>, String)> {
    let Ok(spec) = serde_json::from_str::<serde_json::Value>(spec) else {
        return Vec::new();
    };
    let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) else {
        return Vec::new();
    };
    paths
        .iter()
        .map(|(path, item)| {
            let segments = path.split('/').map(str::to_owned).collect();
            let mut methods: Vec<String> = item
                .as_object()
                .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                .unwrap_or_default();
            if methods.iter().any(|m| m == "GET") {
                methods.push("HEAD".to_owned());
            }
            (segments, methods.join(", "))
        })
        .collect()
}

/// The `Allow` value for a path under `/api/v1`, from [`allowed_methods`].
fn allow_for(table: &[(Vec<String>, String)], path: &str) -> String {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let asked: Vec<&str> = path.split('/').collect();
    table
        .iter()
        .find(|(template, _)| {
            template.len() == asked.len()
                && template
                    .iter()
                    .zip(&asked)
                    .all(|(t, a)| t.starts_with('{') || t == a)
        })
        .map(|(_, allow)| allow.clone())
        .unwrap_or_default()
}

/// `/api/v1` with its document and interactive page.
pub(crate) fn routes(public_url: &str) -> Route {
    let service = service(public_url);
    let docs = service.swagger_ui();
    let spec = spec_json(public_url);
    let allowed = Arc::new(allowed_methods(&spec));
    // a path of the document asked with another method: 405 and the methods it answers
    let service = service.around(move |ep, req| {
        let allowed = Arc::clone(&allowed);
        async move {
            // the path below this nest: `/verifications`
            let path = req.uri().path().to_owned();
            match ep.call(req).await {
                Err(e) if e.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED => {
                    Err(WebError::MethodNotAllowed(allow_for(&allowed, &path)).into())
                }
                other => other,
            }
        }
    });

    Route::new()
        .at(
            "/openapi.json",
            poem::endpoint::make_sync(move |_| {
                Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(spec.clone())
            }),
        )
        .nest("/docs", docs)
        .nest("/", service)
}
