//! For everyone: the catalogue of what the service covers.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::verification::NoRefusal;
use super::{Answer, ApiError, ApiTags, StepJson};
use crate::api_types::{AcademieCode, DiplomaCode};
use crate::error_code::ErrorCode;
use crate::present::{CatalogueEntry, before_coverage_text, catalogue_entries};
use crate::state::AppState;
use crate::web::Visitor;

/// The public reference data.
#[derive(Debug)]
pub struct CatalogueApi;

#[derive(ApiResponse)]
enum CatalogueResponse {
    /// The matching entries.
    #[oai(status = 200)]
    Entries(Json<Vec<CatalogueEntry>>),
    /// `session_non_couverte`: a session before 2009, which the service does not cover;
    /// with `academie`, `etapes` names the office that holds its results.
    #[oai(status = 422)]
    NotCovered(Json<ApiError>),
}

#[OpenApi]
impl CatalogueApi {
    /// Every available diploma kind × session × académie, optionally filtered.
    #[oai(path = "/catalogue", method = "get", tag = "ApiTags::Catalogue")]
    async fn catalogue(
        &self,
        state: Data<&Arc<AppState>>,
        visitor: Data<&Visitor>,
        academie: Query<Option<AcademieCode>>,
        diplome: Query<Option<DiplomaCode>>,
        /// The session's year; one before 2009 is answered 422 `session_non_couverte`.
        #[oai(validator(minimum(value = "1900"), maximum(value = "2100")))]
        session: Query<Option<u16>>,
    ) -> Answer<CatalogueResponse, NoRefusal> {
        let academie = academie.0.map(|a| a.0);
        let kind = diplome.0.map(|k| k.0);
        if let Some(year) = session.0
            && year < sand_domain::diploma::FIRST_SESSION
        {
            let issuers = &state.settings.issuers;
            return Ok(CatalogueResponse::NotCovered(Json(ApiError {
                etapes: academie.map(|academie| {
                    vec![StepJson::of(
                        &sand_domain::link::attach::SupportStep::StandardProcedure { academie },
                        state.ports.franceconnect.is_some(),
                        issuers,
                    )]
                }),
                ..ApiError::new(
                    &visitor,
                    ErrorCode::SessionNonCouverte,
                    before_coverage_text(academie, issuers),
                )
            })));
        }
        Ok(CatalogueResponse::Entries(Json(
            catalogue_entries(&state, academie, kind, session.0).await?,
        )))
    }
}
