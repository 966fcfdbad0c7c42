//! For the signed-in graduate (the pages' session cookie, declared as the security
//! scheme `session`): their diplomas, attaching one, its key, its attestation, deleting
//! it, deleting the profile. The same operations as the pages' ([`crate::graduate`]).

use std::sync::Arc;

use poem::Response;
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Object, OpenApi};
use sand_domain::diploma::{DiplomaScope, Session, SessionError};
use sand_domain::link::LinkState;
use sand_domain::link::attach::AttachOutcome;
use sand_domain::link::list::MyDiploma;

use super::{Answer, ApiError, ApiTags, AwardJson, Refusals, StepJson, rfc3339};
use crate::api_types::{AcademieCode, DiplomaCode, IsoDateText, Text};
use crate::error_code::ErrorCode;
use crate::graduate;
use crate::present::before_coverage_text;
use crate::state::AppState;
use crate::web::{SignedIn, Visitor, WebError, clear_session_cookie, link_id};

/// An attached diploma.
#[derive(Debug, Object)]
pub struct MyDiplomaJson {
    pub id: String,
    /// What was awarded.
    #[oai(flatten)]
    pub award: AwardJson,
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
    /// Opened through the holder's share link of this label (then no `organisme`).
    #[oai(skip_serializing_if_is_none)]
    pub lien_partage: Option<String>,
}

impl MyDiplomaJson {
    /// One of the graduate's diplomas, its issuer named from `issuers`.
    pub(crate) fn of(d: &MyDiploma, issuers: &sand_domain::issuer::IssuerRegistry) -> Self {
        let withdrawn = !matches!(d.link.state, LinkState::Active);
        Self {
            id: d.link.id.0.to_string(),
            award: AwardJson::of(
                &d.record.scope,
                &d.record.award,
                d.record.source.exam_office,
                issuers,
            ),
            cle: (!withdrawn).then(|| d.link.key.as_str().to_owned()),
            cle_depuis: rfc3339(d.link.key_issued_at),
            retire: withdrawn,
            verifications: d
                .verifications
                .iter()
                .map(|v| VerificationEventJson {
                    le: rfc3339(v.at),
                    organisme: v.organisation.as_ref().map(ToString::to_string),
                    lien_partage: v.share.as_ref().map(ToString::to_string),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct AttachBody {
    /// Diploma kind code (`GET /catalogue`), e.g. `BACG`.
    pub diplome: DiplomaCode,
    /// The session's year. The service covers 2009 to 2100: an earlier year is answered
    /// 422 `session_non_couverte`, with the office to ask instead.
    #[oai(validator(minimum(value = "1900"), maximum(value = "2100")))]
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
    /// Not attached (`non_disponible`, `session_non_couverte`, `aucune_correspondance`,
    /// `service_examens`, `supprime_entre_temps`): `etapes` says what to do.
    #[oai(status = 422)]
    NotAttached(Json<ApiError>),
}

#[derive(ApiResponse)]
enum DeleteMeResponse {
    /// Deleted (or already gone); the session cookie is cleared.
    #[oai(status = 204)]
    Done(#[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    Done,
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

/// A share link of one of my diplomas.
#[derive(Debug, Object)]
pub struct ShareJson {
    pub id: String,
    /// The diploma (its id in `GET /moi/diplomes`).
    pub diplome_id: String,
    /// Whom it is for, as the holder wrote it.
    pub destinataire: String,
    /// The address to hand over, while it opens (absent once expired or revoked).
    #[oai(skip_serializing_if_is_none)]
    pub adresse: Option<String>,
    /// `actif`, `expire` or `revoque`.
    pub etat: String,
    /// RFC 3339.
    pub cree_le: String,
    /// The first instant it no longer opens (RFC 3339): midnight, Paris time, after its
    /// last day.
    pub expire_le: String,
    #[oai(skip_serializing_if_is_none)]
    pub revoque_le: Option<String>,
}

impl ShareJson {
    fn of(state: &AppState, share: &sand_domain::sharing::ShareLink) -> Self {
        use sand_domain::sharing::ShareState;
        let state_now = share.state(state.ports.clock.now());
        Self {
            id: share.id.0.to_string(),
            diplome_id: share.link.0.to_string(),
            destinataire: share.label.to_string(),
            adresse: (state_now == ShareState::Live).then(|| graduate::share_address(state, share)),
            etat: match state_now {
                ShareState::Live => "actif",
                ShareState::Expired => "expire",
                ShareState::Revoked => "revoque",
            }
            .to_owned(),
            cree_le: rfc3339(share.created_at),
            expire_le: rfc3339(share.expires_at),
            revoque_le: share.revoked_at.map(rfc3339),
        }
    }
}

/// A share link to create.
#[derive(Debug, Object)]
pub struct ShareBody {
    /// Whom it is for, e.g. `Entreprise X, recrutement mars` (1–80 characters, shown to
    /// the recipient and in my verifications).
    #[oai(validator(max_length = 200))]
    pub destinataire: Text,
    /// The last day it opens (ISO 8601 `AAAA-MM-JJ`, Paris time), from today to a year
    /// from today.
    pub dernier_jour: IsoDateText,
}

#[derive(ApiResponse)]
enum CreateShareResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<ShareJson>),
    /// Not created: `destinataire_invalide`, `date_invalide`, `date_passee`,
    /// `date_trop_lointaine`, `trop_de_liens` (20 live share links at most).
    #[oai(status = 422)]
    Refused(Json<ApiError>),
}

/// An offer for my wallet (OpenID4VCI): the wallet opens `offre` (as a link or a QR
/// code) and asks for the 6-digit transaction code sent to my e-mail address.
#[derive(Debug, Object)]
pub struct WalletOfferJson {
    /// The credential offer, `openid-credential-offer://?credential_offer=…`.
    pub offre: String,
    /// The first instant it can no longer be redeemed (RFC 3339): 10 minutes on.
    pub expire_le: String,
}

/// As [`AttestationRefusals`], or no wallet here, or too many mails asked for.
#[derive(Debug)]
pub struct WalletRefusals;

impl Refusals for WalletRefusals {
    const LIST: &'static [(u16, &'static str)] = &[
        NOT_SIGNED_IN,
        (
            404,
            "Aucun diplôme de ce numéro dans ce profil, ou pas de portefeuille sur ce service (`introuvable`).",
        ),
        (
            410,
            "Le service des examens a retiré ce résultat (`retire`).",
        ),
        (
            429,
            "Trop de demandes d'envoi d'e-mail de ce client (`trop_de_demandes`).",
        ),
    ];
}

#[derive(ApiResponse)]
enum WalletOfferResponse {
    /// The offer, made.
    #[oai(status = 201)]
    Created(Json<WalletOfferJson>),
}

/// No valid session, or no such share link of mine (or already revoked).
#[derive(Debug)]
pub struct OwnShareRefusals;

impl Refusals for OwnShareRefusals {
    const LIST: &'static [(u16, &'static str)] = &[
        NOT_SIGNED_IN,
        (
            404,
            "Aucun lien de partage actif de ce numéro dans ce profil (`introuvable`).",
        ),
    ];
}

/// An empty JSON object (state-changing calls without parameters still take JSON).
#[derive(Debug, Object)]
pub struct Empty {}

/// No valid session.
#[derive(Debug)]
pub struct SignedInRefusals;

const NOT_SIGNED_IN: (u16, &str) = (401, "Pas de session valide (`non_connecte`).");
const NO_SUCH_DIPLOMA: (u16, &str) = (
    404,
    "Aucun diplôme de ce numéro dans ce profil (`introuvable`).",
);

impl Refusals for SignedInRefusals {
    const LIST: &'static [(u16, &'static str)] = &[NOT_SIGNED_IN];
}

/// No valid session, or too many attempts.
#[derive(Debug)]
pub struct AttachRefusals;

impl Refusals for AttachRefusals {
    const LIST: &'static [(u16, &'static str)] = &[
        NOT_SIGNED_IN,
        (
            429,
            "Trop de tentatives de rattachement de ce profil (`trop_de_demandes`).",
        ),
    ];
}

/// No valid session, or no such diploma in the profile.
#[derive(Debug)]
pub struct OwnDiplomaRefusals;

impl Refusals for OwnDiplomaRefusals {
    const LIST: &'static [(u16, &'static str)] = &[NOT_SIGNED_IN, NO_SUCH_DIPLOMA];
}

/// As [`OwnDiplomaRefusals`], or the result withdrawn.
#[derive(Debug)]
pub struct AttestationRefusals;

impl Refusals for AttestationRefusals {
    const LIST: &'static [(u16, &'static str)] = &[
        NOT_SIGNED_IN,
        NO_SUCH_DIPLOMA,
        (
            410,
            "Le service des examens a retiré ce résultat (`retire`).",
        ),
    ];
}

/// The signed-in graduate's operations.
#[derive(Debug)]
pub struct MeApi;

#[OpenApi]
impl MeApi {
    /// My attached diplomas, with their keys and verifications.
    #[oai(path = "/moi/diplomes", method = "get", tag = "ApiTags::Me")]
    async fn my_diplomas(
        &self,
        state: Data<&Arc<AppState>>,
        me: SignedIn,
    ) -> Answer<Json<Vec<MyDiplomaJson>>, SignedInRefusals> {
        let list = graduate::diplomas(&state, &me).await?;
        Ok(Json(
            list.iter()
                .map(|d| MyDiplomaJson::of(d, &state.settings.issuers))
                .collect(),
        ))
    }

    /// Attach a diploma (matched on my identity at exam time).
    #[oai(path = "/moi/diplomes", method = "post", tag = "ApiTags::Me")]
    async fn attach(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        body: Json<AttachBody>,
        me: SignedIn,
    ) -> Answer<AttachResponse, AttachRefusals> {
        let not_attached =
            |code: ErrorCode, message: &str, steps: &[sand_domain::link::attach::SupportStep]| {
                AttachResponse::NotAttached(Json(ApiError {
                    etapes: Some(
                        steps
                            .iter()
                            .map(|step| {
                                StepJson::of(
                                    step,
                                    state.ports.franceconnect.is_some(),
                                    &state.settings.issuers,
                                )
                            })
                            .collect(),
                    ),
                    ..ApiError::new(&visitor, code, message.to_owned())
                }))
            };
        // the schema's upper bound is the domain's (a test holds them equal); below the
        // service's coverage, the answer says where to ask instead
        let session = match Session::new(body.session) {
            Ok(session) => session,
            Err(SessionError::TooEarly) => {
                let academie = body.academie.0;
                return Ok(not_attached(
                    ErrorCode::SessionNonCouverte,
                    &before_coverage_text(Some(academie), &state.settings.issuers),
                    &[sand_domain::link::attach::SupportStep::StandardProcedure { academie }],
                ));
            }
            Err(_) => return Err(WebError::BadRequest.into()),
        };
        let scope = DiplomaScope {
            kind: body.diplome.0,
            session,
            academie: body.academie.0,
        };
        Ok(match graduate::attach(&state, &me, scope).await? {
            // answered from the attach itself: another request of the holder may delete
            // the link before a re-read would see it
            AttachOutcome::Attached { link, record } => {
                AttachResponse::Created(Json(MyDiplomaJson::of(
                    &MyDiploma {
                        link,
                        record: *record,
                        verifications: Vec::new(),
                    },
                    &state.settings.issuers,
                )))
            }
            AttachOutcome::AlreadyAttachedToYou { link } => {
                match graduate::diploma(&state, &me, link).await {
                    Ok(d) => AttachResponse::Already(Json(MyDiplomaJson::of(
                        &d,
                        &state.settings.issuers,
                    ))),
                    // deleted by another request of the holder in the meantime
                    Err(WebError::NoSuchDiploma) => not_attached(
                        ErrorCode::SupprimeEntreTemps,
                        "Ce diplôme vient d'être supprimé de votre espace par une autre demande : rattachez-le de nouveau.",
                        &[],
                    ),
                    Err(e) => return Err(e.into()),
                }
            }
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
        #[oai(validator(max_length = 64))] id: Path<String>,
        me: SignedIn,
    ) -> Answer<Deleted, OwnDiplomaRefusals> {
        graduate::detach(&state, &me, link_id(&id)?).await?;
        Ok(Deleted::Done)
    }

    /// Draw a new control key; the old one stops verifying at once.
    #[oai(path = "/moi/diplomes/:id/cle", method = "post", tag = "ApiTags::Me")]
    async fn renew(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(validator(max_length = 64))] id: Path<String>,
        _body: Json<Empty>,
        me: SignedIn,
    ) -> Answer<Json<MyDiplomaJson>, OwnDiplomaRefusals> {
        let link = graduate::renew_key(&state, &me, link_id(&id)?).await?;
        let renewed = graduate::diploma(&state, &me, link.id).await?;
        Ok(Json(MyDiplomaJson::of(&renewed, &state.settings.issuers)))
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
        #[oai(validator(max_length = 64))] id: Path<String>,
        me: SignedIn,
    ) -> Answer<PdfDownload, AttestationRefusals> {
        let rendered = graduate::download(&state, &me, link_id(&id)?).await?;
        Ok(PdfDownload {
            bytes: rendered.bytes,
            file_name: rendered.file_name,
        })
    }

    /// My share links (every diploma's), newest first, expired and revoked ones too.
    #[oai(path = "/moi/partages", method = "get", tag = "ApiTags::Me")]
    async fn my_shares(
        &self,
        state: Data<&Arc<AppState>>,
        me: SignedIn,
    ) -> Answer<Json<Vec<ShareJson>>, SignedInRefusals> {
        let shares = state
            .ports
            .shares
            .list_for_profile(me.profile)
            .await
            .map_err(WebError::from)?;
        Ok(Json(
            shares.iter().map(|s| ShareJson::of(&state, s)).collect(),
        ))
    }

    /// Share one of my diplomas with one recipient: an address that shows it verified,
    /// without a name to type, until its last day or until I revoke it.
    #[oai(
        path = "/moi/diplomes/:id/partages",
        method = "post",
        tag = "ApiTags::Me"
    )]
    async fn create_share(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        #[oai(validator(max_length = 64))] id: Path<String>,
        body: Json<ShareBody>,
        me: SignedIn,
    ) -> Answer<CreateShareResponse, OwnDiplomaRefusals> {
        use sand_domain::sharing::{CreateShareError, MAX_LABEL_CHARS};
        let refused = |code: ErrorCode, message: &str| {
            CreateShareResponse::Refused(Json(ApiError::new(&visitor, code, message.to_owned())))
        };
        let link = link_id(&id)?;
        let Some(last_day) =
            sand_domain::text::read_date(&body.dernier_jour.0, sand_domain::text::DateWriting::Iso)
                .and_then(|(y, m, d)| {
                    time::Month::try_from(m)
                        .ok()
                        .and_then(|m| time::Date::from_calendar_date(y, m, d).ok())
                })
        else {
            return Ok(refused(ErrorCode::DateInvalide, "Cette date n'existe pas."));
        };
        Ok(
            match graduate::create_share(&state, &me, link, body.0.destinataire.0, last_day).await {
                Ok(share) => CreateShareResponse::Created(Json(ShareJson::of(&state, &share))),
                Err(CreateShareError::MalformedLabel(_)) => refused(
                    ErrorCode::DestinataireInvalide,
                    &format!(
                        "Indiquez à qui ce lien est destiné, en {MAX_LABEL_CHARS} caractères visibles au plus."
                    ),
                ),
                Err(CreateShareError::LastDayPast) => refused(
                    ErrorCode::DatePassee,
                    "Le dernier jour de validité ne peut pas être passé.",
                ),
                Err(CreateShareError::LastDayTooFar) => refused(
                    ErrorCode::DateTropLointaine,
                    "Un lien de partage vaut au plus un an.",
                ),
                Err(CreateShareError::TooManyLive) => refused(
                    ErrorCode::TropDeLiens,
                    "Trop de liens de partage valables : révoquez-en un avant d'en créer un autre.",
                ),
                Err(CreateShareError::NotFound) => return Err(WebError::NoSuchDiploma.into()),
                Err(CreateShareError::Unexpected(e)) => return Err(WebError::from(e).into()),
            },
        )
    }

    /// Put one of my diplomas in my digital identity wallet: an OpenID4VCI credential
    /// offer (pre-authorized code, valid 10 minutes, once), its transaction code sent to
    /// my e-mail address; a new offer ends the unused older one (docs/wallet.md).
    #[oai(
        path = "/moi/diplomes/:id/portefeuille",
        method = "post",
        tag = "ApiTags::Me"
    )]
    async fn offer_to_wallet(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        #[oai(validator(max_length = 64))] id: Path<String>,
        _body: Json<Empty>,
        me: SignedIn,
    ) -> Answer<WalletOfferResponse, WalletRefusals> {
        let (offre, expires_at) =
            graduate::offer_to_wallet(&state, &me, visitor.client, link_id(&id)?).await?;
        Ok(WalletOfferResponse::Created(Json(WalletOfferJson {
            offre,
            expire_le: rfc3339(expires_at),
        })))
    }

    /// Revoke one of my share links: it stops opening at once.
    #[oai(path = "/moi/partages/:id", method = "delete", tag = "ApiTags::Me")]
    async fn revoke_share(
        &self,
        state: Data<&Arc<AppState>>,
        #[oai(validator(max_length = 64))] id: Path<String>,
        me: SignedIn,
    ) -> Answer<Deleted, OwnShareRefusals> {
        let share = uuid::Uuid::try_parse(&id)
            .map(sand_domain::sharing::ShareId)
            .map_err(|_| WebError::NoSuchDiploma)?;
        graduate::revoke_share(&state, &me, share).await?;
        Ok(Deleted::Done)
    }

    /// Delete my profile: all personal data and links, at once; a confirmation e-mail.
    #[oai(path = "/moi", method = "delete", tag = "ApiTags::Me")]
    async fn delete_me(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        me: SignedIn,
    ) -> Answer<DeleteMeResponse, SignedInRefusals> {
        graduate::delete_profile(&state, visitor.0, &me).await?;
        Ok(DeleteMeResponse::Done(clear_session_cookie(&state)))
    }
}
