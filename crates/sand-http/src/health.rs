//! The operators' endpoints: `/health/live` (the process answers) and `/health/ready`
//! (it can serve: database reachable and migrated, signing key loaded), for load
//! balancers and orchestrators; and the metrics scrape (`GET /metrics`), served on its
//! own private address. Readiness and the store's figures come from the domain's
//! [`ServiceHealth`] port.

use std::sync::Arc;

use async_trait::async_trait;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{EndpointExt, Response, Route, get, handler};
use sand_domain::PortError;
use sand_domain::ports::{NotReady, ServiceHealth, StoreFigures};

use crate::state::AppState;

/// Always ready, with empty figures (tests, or a composition without dependencies
/// worth checking).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysReady;

#[async_trait]
impl ServiceHealth for AlwaysReady {
    async fn ready(&self) -> Result<(), NotReady> {
        Ok(())
    }

    async fn figures(&self) -> Result<StoreFigures, PortError> {
        Ok(StoreFigures::default())
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(body.to_string())
}

#[handler]
pub async fn live() -> Response {
    json(StatusCode::OK, serde_json::json!({ "status": "ok" }))
}

#[handler]
pub async fn ready(state: Data<&Arc<AppState>>) -> Response {
    match state.ports.health.ready().await {
        Ok(()) => json(StatusCode::OK, serde_json::json!({ "status": "ok" })),
        Err(reason) => {
            tracing::warn!(reason = %crate::error::error_chain(&reason), "not ready");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "indisponible", "raison": reason.to_string() }),
            )
        }
    }
}

#[handler]
async fn scrape(state: Data<&Arc<AppState>>) -> Response {
    let figures = state.ports.health.figures().await;
    if let Err(reason) = &figures {
        tracing::warn!(error = %crate::error::error_chain(reason), "metrics: the store did not answer");
    }
    state.metrics.store(figures.ok());
    match state.metrics.encode() {
        Ok(text) => Response::builder()
            .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
            .header("cache-control", "no-store")
            .body(text),
        Err(_) => Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .finish(),
    }
}

/// The metrics endpoint (`GET /metrics`), to serve on its own private address.
pub fn metrics_endpoint(state: Arc<AppState>) -> poem::endpoint::BoxEndpoint<'static, Response> {
    Route::new()
        .at("/metrics", get(scrape))
        .data(state)
        .map_to_response()
        .boxed()
}
