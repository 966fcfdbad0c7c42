//! Prometheus metrics (prometheus-client, OpenMetrics text): requests by route and
//! status with their latencies, verifications and attaches by outcome, and figures read
//! from the store at each scrape (mail outbox depth, import batches).
//!
//! Served by [`crate::health::metrics_endpoint`] on a separate, private address
//! (`SAND_METRICS_LISTEN`), never on the public one.

use std::time::Duration;

use poem::http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sand_domain::link::attach::{AttachDiplomaError, AttachOutcome};
use sand_domain::ports::StoreFigures;
use sand_domain::verification::{VerifyError, VerifyOutcome};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    verifications: Family<OutcomeLabels, Counter>,
    attaches: Family<OutcomeLabels, Counter>,
    share_openings: Family<OutcomeLabels, Counter>,
    mails_capped: Counter,
    mail_pending: Gauge,
    mail_abandoned: Gauge,
    import_batches: Gauge,
    diploma_records: Gauge,
    last_import: Gauge,
    store_up: Gauge,
    limits_shared: Gauge,
    limit_fallbacks: Gauge,
    reads_on_replica: Gauge,
    replica_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~4 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sand");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            latency.clone(),
        );
        let verifications = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "verifications",
            "Control key verifications, by outcome (valid, not_valid, invalid_request, error)",
            verifications.clone(),
        );
        let attaches = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "attaches",
            "Diploma attach attempts, by outcome",
            attaches.clone(),
        );
        let share_openings = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "share_openings",
            "Share links opened, by outcome (shown, not_open)",
            share_openings.clone(),
        );
        for outcome in ["shown", "not_open"] {
            share_openings
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(0);
        }
        let mails_capped = Counter::default();
        registry.register(
            "mails_capped",
            "Mails with a link not sent because their address had its hour's share",
            mails_capped.clone(),
        );
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let gauge = Gauge::default();
            registry.register(name, help, gauge.clone());
            gauge
        };
        let mail_pending = gauge(
            &mut registry,
            "mail_outbox_pending",
            "Mail in the outbox waiting to be sent",
        );
        let mail_abandoned = gauge(
            &mut registry,
            "mail_outbox_abandoned",
            "Mail abandoned after its last attempt",
        );
        let import_batches = gauge(
            &mut registry,
            "import_batches",
            "Import batches in the store (one per imported scope)",
        );
        let diploma_records = gauge(
            &mut registry,
            "diploma_records",
            "Diploma records in the store",
        );
        let last_import = gauge(
            &mut registry,
            "last_import_timestamp_seconds",
            "When the last import batch was applied (Unix time), 0 if none",
        );
        let store_up = gauge(
            &mut registry,
            "store_up",
            "1 when the store answered the last scrape",
        );
        let limits_shared = gauge(
            &mut registry,
            "rate_limits_shared",
            "1 when the rate limits are counted in the store shared by the nodes, 0 when in this node (configured so, or the store does not answer)",
        );
        let limit_fallbacks = gauge(
            &mut registry,
            "rate_limit_fallbacks",
            "Rate-limit checks counted in this node because the shared store did not answer, since the start",
        );
        let reads_on_replica = gauge(
            &mut registry,
            "reads_on_replica",
            "1 when the catalogue and the attach lookup read from the replica, 0 from the primary",
        );
        let replica_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "replica_lag_seconds",
            "How far the read replica was behind the primary at its last check (0 without a replica)",
            replica_lag.clone(),
        );
        // every outcome shows from the start, at 0, so that rates work from the first scrape
        for outcome in ["valid", "not_valid", "invalid_request", "error"] {
            verifications
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(0);
        }
        for outcome in [
            "attached",
            "already_attached",
            "not_in_catalogue",
            "no_match",
            "homonyms",
            "attached_elsewhere",
            "error",
        ] {
            attaches.get_or_create(&OutcomeLabels { outcome }).inc_by(0);
        }
        Self {
            registry,
            requests,
            latency,
            verifications,
            attaches,
            share_openings,
            mails_capped,
            mail_pending,
            mail_abandoned,
            import_batches,
            diploma_records,
            last_import,
            store_up,
            limits_shared,
            limit_fallbacks,
            reads_on_replica,
            replica_lag,
        }
    }
}

fn gauge_value(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Metrics {
    /// Counts one answered request. `route` is the pattern the router matched (`None`
    /// when no route matched, or the request was answered before routing): labels come
    /// from the route table, never from the path a client sent, so their number is
    /// bounded whatever clients send.
    pub fn request(&self, route: Option<&str>, method: &str, status: StatusCode, took: Duration) {
        let route = route_label(route);
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" => method,
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                method: method.to_owned(),
                status: status.as_u16(),
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(took.as_secs_f64());
    }

    /// Counts one verification by its outcome.
    pub fn verification(&self, result: &Result<VerifyOutcome, VerifyError>) {
        let outcome = match result {
            Ok(VerifyOutcome::Valid(_)) => "valid",
            Ok(VerifyOutcome::NotValid) => "not_valid",
            Err(VerifyError::Unexpected(_)) => "error",
            Err(_) => "invalid_request",
        };
        self.verifications
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one opening of a share link: it showed a diploma, or it did not open.
    pub fn share_opening(&self, shown: bool) {
        let outcome = if shown { "shown" } else { "not_open" };
        self.share_openings
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one attach attempt by its outcome.
    pub fn attach(&self, result: &Result<AttachOutcome, AttachDiplomaError>) {
        let outcome = match result {
            Ok(AttachOutcome::Attached { .. }) => "attached",
            Ok(AttachOutcome::AlreadyAttachedToYou { .. }) => "already_attached",
            Ok(AttachOutcome::NotInCatalogue { .. }) => "not_in_catalogue",
            Ok(AttachOutcome::NoMatch { .. }) => "no_match",
            Ok(AttachOutcome::AmbiguousHomonyms { .. }) => "homonyms",
            Ok(AttachOutcome::AttachedToAnotherProfile { .. }) => "attached_elsewhere",
            Err(_) => "error",
        };
        self.attaches
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts a mail not sent: its address had its hour's share.
    pub fn mail_capped(&self) {
        self.mails_capped.inc();
    }

    /// Mails not sent so far because their address had its hour's share.
    #[must_use]
    pub fn mails_capped(&self) -> u64 {
        self.mails_capped.get()
    }

    /// Takes the store's figures (`None`: the store did not answer).
    pub fn store(&self, figures: Option<StoreFigures>) {
        let Some(f) = figures else {
            self.store_up.set(0);
            return;
        };
        self.store_up.set(1);
        self.mail_pending.set(gauge_value(f.mail_pending));
        self.mail_abandoned.set(gauge_value(f.mail_abandoned));
        self.import_batches.set(gauge_value(f.import_batches));
        self.diploma_records.set(gauge_value(f.diploma_records));
        self.last_import.set(
            f.last_import
                .map_or(0, time::OffsetDateTime::unix_timestamp),
        );
    }

    /// Where the limits are counted, and how many checks fell back to the node.
    pub fn limits(&self, sharing: crate::limits::Sharing, fallbacks: u64) {
        self.limits_shared
            .set(i64::from(sharing == crate::limits::Sharing::Shared));
        self.limit_fallbacks.set(gauge_value(fallbacks));
    }

    /// Where the lag-tolerant reads go.
    pub fn reads(&self, route: Option<sand_domain::ports::ReadRoute>) {
        use sand_domain::ports::ReadRoute;
        let (on_replica, lag) = match route {
            Some(ReadRoute::Replica { lag }) => (1, Some(lag)),
            Some(ReadRoute::Primary { lag, .. }) => (0, lag),
            None => (0, None),
        };
        self.reads_on_replica.set(on_replica);
        self.replica_lag
            .set(lag.map_or(0.0, |lag| lag.as_secs_f64()));
    }

    /// The OpenMetrics text.
    ///
    /// # Errors
    /// Never in practice (writing into a string).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The label of a matched route pattern; one label for everything unmatched.
#[must_use]
pub fn route_label(pattern: Option<&str>) -> String {
    match pattern {
        // patterns come from the route table; the bound is a guard, not a limit in use
        Some(p) if p.len() <= 200 => p.to_owned(),
        _ => UNMATCHED.to_owned(),
    }
}

/// The route label of requests no route matched (unknown paths, refused before routing).
pub const UNMATCHED: &str = "(inconnue)";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn route_labels_are_patterns_or_one_label_for_the_unmatched() {
        assert_eq!(route_label(Some("/verifier")), "/verifier");
        assert_eq!(
            route_label(Some("/espace/diplomes/:id/cle")),
            "/espace/diplomes/:id/cle"
        );
        assert_eq!(route_label(None), "(inconnue)");
    }

    #[test]
    fn the_text_holds_every_family_once_counted() {
        let metrics = Metrics::default();
        metrics.request(Some("/"), "GET", StatusCode::OK, Duration::from_millis(3));
        metrics.verification(&Ok(VerifyOutcome::NotValid));
        metrics.store(Some(StoreFigures {
            mail_pending: 4,
            ..StoreFigures::default()
        }));
        let text = metrics.encode().unwrap();
        assert!(
            text.contains(r#"sand_http_requests_total{route="/",method="GET",status="200"} 1"#),
            "{text}"
        );
        assert!(text.contains(r#"sand_verifications_total{outcome="not_valid"} 1"#));
        assert!(text.contains("sand_mail_outbox_pending 4"));
        assert!(text.contains("sand_http_request_duration_seconds_bucket"));
        assert!(text.ends_with("# EOF\n"));
    }
}
