//! For verifiers: check one control key, or a batch of up to 100; the public keys that
//! sign attestations; the check of an attestation file.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use sand_attestation::{Verdict, verify_pdf};
use sand_domain::identity::BirthDate;
use sand_domain::verification::{VerifiedDiploma, VerifyError, VerifyOutcome, VerifyRequest};

use super::{Answer, ApiError, ApiTags, AwardJson, Refusals, rfc3339};
use crate::api_types::{IsoDateText, KeyText, Text};
use crate::error::{Limited, WebError};
use crate::error_code::ErrorCode;
use crate::i18n::Lang;
use crate::limits::ClientKey;
use crate::present::{ShownDiploma, verify_error_text};
use crate::state::AppState;
use crate::verifying::{self, Checked};
use crate::web::Visitor;

/// Most verifications in one batch.
pub const MAX_BATCH: usize = 100;

/// A key and a name to check. What the schema cannot say is refused with 422 and a
/// code naming the field: a name that is not one (`nom_invalide`), an organisation with
/// invisible control characters (`organisme_invalide`), a date that does not exist
/// (`date_naissance_invalide`).
#[derive(Debug, Clone, Object)]
pub struct VerificationBody {
    /// The 8-character control key: digits and letters except U, in either case (O reads
    /// as 0, I and L as 1); spaces, dots, dashes and underscores between them are ignored.
    pub cle: KeyText,
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
    #[oai(nullable)]
    pub date_naissance: Option<IsoDateText>,
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
            cle: KeyText(b.cle.0),
            nom: b.nom,
            organisme: b.organisme,
            date_naissance: b.date_naissance.map(|d| IsoDateText(d.0)),
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
    /// What was awarded.
    #[oai(flatten)]
    pub award: AwardJson,
    /// ISO 8601 date of the jury's deliberation.
    pub date_deliberation: String,
}

impl VerifiedDiplomaJson {
    /// The verified diploma, its issuer named from `issuers`.
    pub(crate) fn of(d: &VerifiedDiploma, issuers: &sand_domain::issuer::IssuerRegistry) -> Self {
        Self {
            titulaire: ShownDiploma::of(d, Lang::Fr, issuers).holder,
            nom_naissance: d.birth_name.to_string(),
            nom_usage: d.usage_name.as_ref().map(ToString::to_string),
            prenoms: d
                .first_names
                .names()
                .iter()
                .map(ToString::to_string)
                .collect(),
            date_naissance: d.birth_date.date().to_string(),
            award: AwardJson::of(&d.scope, &d.award, d.exam_office, issuers),
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
    /// Present when `valide`: the signed receipt of this verification, a compact JWS
    /// (RFC 7515, `alg` EdDSA, `typ` `sand-verification-receipt+jwt`, `kid` a key of
    /// `/.well-known/sand-attestation-keys.json`) stating what was checked, when, for
    /// which organisation, and the answer. Keep it to prove the verification later.
    #[oai(skip_serializing_if_is_none)]
    pub recu: Option<String>,
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

/// A verification refused by a limit.
#[derive(Debug)]
pub struct VerifyRefusals;

impl Refusals for VerifyRefusals {
    const LIST: &'static [(u16, &'static str)] = &[(
        429,
        "Trop de vérifications de ce client, ou de réponses fausses pour cette clé aujourd'hui (`trop_de_demandes`).",
    )];
}

/// A file check refused by its size or a limit.
#[derive(Debug)]
pub struct FileCheckRefusals;

impl Refusals for FileCheckRefusals {
    const LIST: &'static [(u16, &'static str)] = &[
        (413, "Fichier de plus de 5 Mo (`trop_volumineux`)."),
        (
            429,
            "Trop de contrôles de fichiers de ce client (`trop_de_demandes`).",
        ),
    ];
}

/// No refusal of its own.
#[derive(Debug)]
pub struct NoRefusal;

impl Refusals for NoRefusal {
    const LIST: &'static [(u16, &'static str)] = &[];
}

/// A field refused by a rule the schema cannot state, or the birth date required
/// today: (code, French message).
struct Invalid(ErrorCode, String);

async fn check_one(
    state: &AppState,
    client: ClientKey,
    lang: Lang,
    body: VerificationBody,
) -> Result<Result<VerificationResult, Invalid>, WebError> {
    let birth_date = match body.date_naissance.as_ref().map(|d| d.0.trim()) {
        None | Some("") => None,
        Some(text) => match BirthDate::parse_iso(text, state.ports.clock.now().date()) {
            Ok(date) => Some(date),
            Err(_) => {
                return Ok(Err(Invalid(
                    ErrorCode::DateNaissanceInvalide,
                    lang.t("api-birth-date-invalid"),
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
    let Checked::Done(result) = verifying::verify(state, client, request.clone()).await else {
        return Err(WebError::TooManyRequests(Limited::Verifications));
    };
    match result {
        Ok(VerifyOutcome::Valid(d)) => Ok(Ok(VerificationResult {
            valide: true,
            diplome: Some(Box::new(VerifiedDiplomaJson::of(
                &d,
                &state.settings.issuers,
            ))),
            verifie_le: now,
            recu: verifying::receipt(state, &request, &d),
        })),
        Ok(VerifyOutcome::NotValid) => Ok(Ok(VerificationResult {
            valide: false,
            diplome: None,
            verifie_le: now,
            recu: None,
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
            Ok(Err(Invalid(
                code,
                verify_error_text(&e, lang).unwrap_or_else(|| lang.t("error-bad-request")),
            )))
        }
    }
}

/// The verifiers' operations.
#[derive(Debug)]
pub struct VerificationApi;

#[OpenApi]
impl VerificationApi {
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
    ) -> Answer<VerifyResponse, VerifyRefusals> {
        Ok(
            match check_one(&state, visitor.client, visitor.lang, body.0).await? {
                Ok(result) => VerifyResponse::Ok(Json(result)),
                Err(Invalid(code, message)) => {
                    VerifyResponse::Unprocessable(Json(ApiError::new(&visitor, code, message)))
                }
            },
        )
    }

    /// Check up to 100 keys at once (for employers). Each item counts against the
    /// client's verification rate: once it is spent, the remaining items answer
    /// `trop_de_demandes` (and the whole batch 429 when it was spent before the first).
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
    ) -> Answer<Json<VerificationBatchResult>, VerifyRefusals> {
        // at most MAX_BATCH items: the schema's maxItems, checked before this runs
        let mut results = Vec::with_capacity(body.verifications.len());
        for item in body.0.verifications {
            let result = match check_one(&state, visitor.client, visitor.lang, item.into()).await {
                Ok(Ok(r)) => BatchItem {
                    valide: r.valide,
                    diplome: r.diplome,
                    erreur: None,
                    code: None,
                },
                Ok(Err(Invalid(code, message))) => BatchItem {
                    valide: false,
                    diplome: None,
                    erreur: Some(message),
                    code: Some(code),
                },
                Err(e @ WebError::TooManyRequests(_)) if results.is_empty() => return Err(e.into()),
                Err(WebError::TooManyRequests(_)) => BatchItem {
                    valide: false,
                    diplome: None,
                    erreur: Some(visitor.lang.t("api-batch-limit")),
                    code: Some(ErrorCode::TropDeDemandes),
                },
                Err(e) => return Err(e.into()),
            };
            results.push(result);
        }
        Ok(Json(VerificationBatchResult {
            resultats: results,
            verifie_le: rfc3339(state.ports.clock.now()),
        }))
    }

    /// The public keys that sign attestations (current and previous ones).
    #[oai(
        path = "/cles-signature",
        method = "get",
        tag = "ApiTags::Attestations"
    )]
    async fn keys(&self, state: Data<&Arc<AppState>>) -> Answer<Json<KeySet>, NoRefusal> {
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
    ) -> Answer<Json<FileCheck>, FileCheckRefusals> {
        if !state.limiters.file_check(visitor.client).await {
            return Err(WebError::TooManyRequests(Limited::FileChecks).into());
        }
        if body.0.len() > state.settings.max_pdf_bytes {
            return Err(WebError::TooLarge.into());
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
        Ok(Json(file_check(verdict, visitor.lang)))
    }
}

/// What a verifier is told of a file's verdict (the texts the verification page shows).
fn file_check(verdict: Verdict, lang: Lang) -> FileCheck {
    let shown = crate::present::file_verdict(verdict, lang);
    FileCheck {
        verdict: shown.code.to_owned(),
        demonstration: shown.demo,
        cle: shown.key,
        message: shown.text,
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
