//! For everyone: the catalogue of what the service covers.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;

use super::verification::NoRefusal;
use super::{Answer, ApiTags};
use crate::api_types::{AcademieCode, DiplomaCode};
use crate::present::{CatalogueEntry, catalogue_entries};
use crate::state::AppState;

/// The public reference data.
#[derive(Debug)]
pub struct CatalogueApi;

#[OpenApi]
impl CatalogueApi {
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
    ) -> Answer<Json<Vec<CatalogueEntry>>, NoRefusal> {
        let academie = academie.0.map(|a| a.0);
        let kind = diplome.0.map(|k| k.0);
        Ok(Json(
            catalogue_entries(&state, academie, kind, session.0).await?,
        ))
    }
}
