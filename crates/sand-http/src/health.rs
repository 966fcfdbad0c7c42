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
use sand_domain::ports::{NotReady, ReadRoute, ServiceHealth, StoreFigures};

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

/// Where the lag-tolerant reads go, for readiness: `{"depuis": "replique", "retard_ms": …}`
/// or `{"depuis": "primaire", "raison": CODE, "retard_ms": …}`.
fn reads_report(route: ReadRoute) -> serde_json::Value {
    let millis = |lag: std::time::Duration| u64::try_from(lag.as_millis()).unwrap_or(u64::MAX);
    match route {
        ReadRoute::Replica { lag } => {
            serde_json::json!({ "depuis": "replique", "retard_ms": millis(lag) })
        }
        ReadRoute::Primary { why, lag } => serde_json::json!({
            "depuis": "primaire",
            "raison": why.code(),
            "retard_ms": lag.map(millis),
        }),
    }
}

/// Readiness: 200 when the node can serve, 503 (with the reason) when not. A node whose
/// replica lags, or whose shared limit store is away, still serves: its answer says where
/// it reads (`lectures`, with a replica) and where it counts the limits (`limites`).
#[handler]
pub async fn ready(state: Data<&Arc<AppState>>) -> Response {
    let mut body = match state.ports.health.ready().await {
        Ok(()) => serde_json::json!({ "status": "ok" }),
        Err(reason) => {
            tracing::warn!(reason = %crate::error::error_chain(&reason), "not ready");
            serde_json::json!({ "status": "indisponible", "raison": reason.to_string() })
        }
    };
    let status = if body["status"] == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    body["limites"] = state.limiters.sharing().code().into();
    if let Some(routing) = &state.read_routing {
        body["lectures"] = reads_report(routing.reads());
    }
    json(status, body)
}

#[handler]
async fn scrape(state: Data<&Arc<AppState>>) -> Response {
    let figures = state.ports.health.figures().await;
    if let Err(reason) = &figures {
        tracing::warn!(error = %crate::error::error_chain(reason), "metrics: the store did not answer");
    }
    state.metrics.store(figures.ok());
    state
        .metrics
        .limits(state.limiters.sharing(), state.limiters.fallbacks());
    state
        .metrics
        .reads(state.read_routing.as_ref().map(|routing| routing.reads()));
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
