//! `/health/live` (the process answers) and `/health/ready` (it can serve: database
//! reachable and migrated, signing key loaded), for load balancers and orchestrators.

use std::sync::Arc;

use async_trait::async_trait;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Response, handler};

use crate::state::AppState;

/// What readiness depends on, checked by the composition root's adapters.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `Ok(())` when the service can serve; otherwise a short reason (no secret in it).
    async fn ready(&self) -> Result<(), String>;

    /// What the store holds, for the metrics (the outbox's depth, the imports).
    async fn figures(&self) -> Result<crate::metrics::StoreFigures, String> {
        Ok(crate::metrics::StoreFigures::default())
    }
}

/// Always ready (tests, or a composition without dependencies worth checking).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysReady;

#[async_trait]
impl HealthCheck for AlwaysReady {
    async fn ready(&self) -> Result<(), String> {
        Ok(())
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
            tracing::warn!(reason = %reason, "not ready");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "indisponible", "raison": reason }),
            )
        }
    }
}
