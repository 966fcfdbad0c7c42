//! Reads that tolerate a little lag, routed to a PostgreSQL streaming replica while it
//! keeps up: the catalogue and the attach candidate lookup. Everything else (writes,
//! sessions, verification, the records a holder already attached) stays on the primary.
//!
//! A watcher compares, every [`ReplicaSettings::check_every`], the primary's WAL position
//! with the position the replica has replayed. The lag is the age of the newest primary
//! position the replica has reached (0 when it has reached the current one): a replica
//! whose replay is paused, or that stopped receiving, ages while the primary writes; an
//! idle pair stays at 0. Above [`ReplicaSettings::max_lag`], when the replica does not
//! answer, or when it is not in recovery (promoted: it may diverge), the reads go to the
//! primary until the next check finds it fit again.

use std::collections::VecDeque;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sand_domain::PortError;
use sand_domain::diploma::DiplomaScope;
use sand_domain::identity::IdentityKey;
use sand_domain::issuer::IssuedScope;
use sand_domain::ports::{
    Catalogue, CatalogueRevision, PrimaryReads, ReadRoute, ReadRouting, RecordReader,
};
use sand_domain::record::{DiplomaRecord, RecordId};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use tokio::task::JoinHandle;

use crate::Store;

/// How the replica is watched.
#[derive(Debug, Clone, Copy)]
pub struct ReplicaSettings {
    /// Above this lag, the reads go to the primary.
    pub max_lag: Duration,
    /// How often the lag is measured.
    pub check_every: Duration,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        Self {
            max_lag: Duration::from_secs(5),
            check_every: Duration::from_secs(1),
        }
    }
}

/// The lag-tolerant reads, on the replica while it keeps up.
#[derive(Debug, Clone)]
pub struct ReplicaRouting {
    primary: Store,
    replica: Store,
    route: Arc<RwLock<ReadRoute>>,
}

/// A WAL position, as `pg_lsn` prints it (`16/B374D848`).
fn lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    Some(u64::from_str_radix(high, 16).ok()? << 32 | u64::from_str_radix(low, 16).ok()?)
}

/// The `columns` first columns of the one row of `sql`, each as text.
async fn text_of(
    store: &Store,
    sql: &str,
    columns: usize,
) -> Result<Vec<Option<String>>, PortError> {
    let row = store
        .db
        .query_one_raw(Statement::from_string(DatabaseBackend::Postgres, sql))
        .await
        .map_err(crate::error::port)?
        .ok_or_else(|| PortError::unavailable("no row"))?;
    (0..columns)
        .map(|i| {
            row.try_get_by_index::<Option<String>>(i)
                .map_err(crate::error::port)
        })
        .collect()
}

/// The primary positions seen, oldest first, to date the replica's position.
#[derive(Debug, Default)]
struct Samples(VecDeque<(Instant, u64)>);

impl Samples {
    /// The lag of a replica at `replayed`, the primary being at `current` now.
    fn lag(&mut self, now: Instant, current: u64, replayed: u64) -> Duration {
        // a day of samples at one a second is far past any threshold
        if self.0.len() >= 100_000 {
            self.0.pop_front();
        }
        self.0.push_back((now, current));
        // the newest sample the replica has reached dates it; older ones are of no use
        let reached = self.0.iter().rposition(|(_, at)| *at <= replayed);
        match reached {
            Some(i) => {
                self.0.drain(..i);
                now.saturating_duration_since(self.0.front().map_or(now, |(t, _)| *t))
            }
            // behind every sample kept: at least as old as the oldest
            None => now.saturating_duration_since(self.0.front().map_or(now, |(t, _)| *t)),
        }
    }
}

impl ReplicaRouting {
    /// Routes between `primary` and `replica` (both PostgreSQL) and starts watching the
    /// replica; the reads stay on the primary until the first check.
    #[must_use]
    pub fn start(
        primary: Store,
        replica: Store,
        settings: ReplicaSettings,
    ) -> (Self, JoinHandle<()>) {
        let routing = Self {
            primary,
            replica,
            route: Arc::new(RwLock::new(ReadRoute::Primary {
                why: PrimaryReads::NotChecked,
                lag: None,
            })),
        };
        let watcher = routing.clone();
        let task = tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut tick = tokio::time::interval(settings.check_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                watcher.check(&mut samples, settings.max_lag).await;
            }
        });
        (routing, task)
    }

    async fn check(&self, samples: &mut Samples, max_lag: Duration) {
        let Ok(primary) = text_of(&self.primary, "SELECT pg_current_wal_lsn()::text", 1).await
        else {
            // the primary's own readiness says it is away; the route is kept
            return;
        };
        let Some(current) = primary.first().cloned().flatten().as_deref().and_then(lsn) else {
            return;
        };
        let replica = text_of(
            &self.replica,
            "SELECT pg_is_in_recovery()::text, pg_last_wal_replay_lsn()::text",
            2,
        )
        .await;
        let now = Instant::now();
        let route = match replica.as_deref() {
            Err(error) => {
                tracing::debug!(error = %error, "the read replica does not answer");
                ReadRoute::Primary {
                    why: PrimaryReads::Unreachable,
                    lag: None,
                }
            }
            Ok([Some(recovery), replayed, ..]) if recovery == "true" => {
                let replayed = replayed.as_deref().and_then(lsn).unwrap_or(0);
                let lag = samples.lag(now, current, replayed);
                if lag > max_lag {
                    ReadRoute::Primary {
                        why: PrimaryReads::Lagging,
                        lag: Some(lag),
                    }
                } else {
                    ReadRoute::Replica { lag }
                }
            }
            Ok(_) => ReadRoute::Primary {
                why: PrimaryReads::NotAReplica,
                lag: None,
            },
        };
        let mut current_route = self.route.write().unwrap_or_else(PoisonError::into_inner);
        let moved = std::mem::discriminant(&*current_route) != std::mem::discriminant(&route)
            || matches!((&*current_route, &route), (ReadRoute::Primary { why: a, .. }, ReadRoute::Primary { why: b, .. }) if a != b);
        if moved {
            match route {
                ReadRoute::Replica { lag } => tracing::info!(
                    lag_ms = u64::try_from(lag.as_millis()).unwrap_or(u64::MAX),
                    "the catalogue and the attach lookup read from the replica"
                ),
                ReadRoute::Primary { why, lag } => tracing::warn!(
                    reason = why.code(),
                    lag_ms = lag.map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX)),
                    "the catalogue and the attach lookup read from the primary"
                ),
            }
        }
        *current_route = route;
    }

    fn reader(&self) -> &Store {
        match self.reads() {
            ReadRoute::Replica { .. } => &self.replica,
            ReadRoute::Primary { .. } => &self.primary,
        }
    }
}

impl ReadRouting for ReplicaRouting {
    fn reads(&self) -> ReadRoute {
        *self.route.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Catalogue for ReplicaRouting {
    async fn published_scopes(&self) -> Result<Vec<IssuedScope>, PortError> {
        self.reader().catalogue().published_scopes().await
    }

    async fn published_scopes_since(
        &self,
        known: Option<CatalogueRevision>,
    ) -> Result<Option<(CatalogueRevision, Vec<IssuedScope>)>, PortError> {
        // the revision and the scopes from the same side
        self.reader()
            .catalogue()
            .published_scopes_since(known)
            .await
    }

    async fn is_published(&self, scope: &DiplomaScope) -> Result<bool, PortError> {
        self.reader().catalogue().is_published(scope).await
    }
}

#[async_trait]
impl RecordReader for ReplicaRouting {
    async fn find_candidates(
        &self,
        scope: &DiplomaScope,
        key: &IdentityKey,
    ) -> Result<Vec<DiplomaRecord>, PortError> {
        self.reader()
            .record_reader()
            .find_candidates(scope, key)
            .await
    }

    /// Always the primary: a holder sees at once the record they attached.
    async fn get_many(&self, ids: &[RecordId]) -> Result<Vec<DiplomaRecord>, PortError> {
        self.primary.record_reader().get_many(ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_read_as_postgresql_prints_them() {
        assert_eq!(lsn("0/0"), Some(0));
        assert_eq!(lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(lsn("nonsense"), None);
        assert_eq!(lsn("1/zz"), None);
    }

    #[test]
    fn the_lag_is_the_age_of_the_newest_primary_position_reached() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut samples = Samples::default();
        // caught up: nothing to wait for
        assert_eq!(samples.lag(at(0), 100, 100), Duration::ZERO);
        assert_eq!(samples.lag(at(1), 100, 100), Duration::ZERO);
        // the primary writes, the replica stops at 100: it ages from its last position
        assert_eq!(samples.lag(at(2), 200, 100), Duration::from_secs(1));
        assert_eq!(samples.lag(at(5), 300, 100), Duration::from_secs(4));
        // it replays up to 200 (seen at 2 s): 3 s behind at 5 s… then catches up
        assert_eq!(samples.lag(at(5), 300, 200), Duration::from_secs(3));
        assert_eq!(samples.lag(at(6), 300, 300), Duration::ZERO);
    }
}
