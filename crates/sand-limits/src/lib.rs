//! The rate limits' counts shared by every node, in Redis or Valkey
//! (docs/adr/0007-shared-rate-limits.md says why there and not in PostgreSQL).
//!
//! Each check is one Lua script, run atomically by the store in one round trip: GCRA for
//! the budgets (the same arithmetic as governor's, on the store's clock), counters that
//! expire with their window, and the slowed account's one attempt per interval as a key
//! set only if absent. Keys are keyed hashes (HMAC-SHA-256 with a key derived from the
//! service's secret): the store never holds an address, an e-mail or a control key.
//!
//! When the store does not answer within its timeout, the check is counted in the node
//! (a [`LocalCounters`]), a warning is logged when this starts and a notice when it ends,
//! [`LimitCounters::fallbacks`] counts the checks counted locally, and the store is not
//! asked again for [`SharedSettings::retry_after`]: the service keeps serving, each node
//! within its own limits, never with none.

use std::fmt;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use sand_http::RateLimits;
use sand_http::limits::{Bucket, LimitCounters, LocalCounters, Sharing, Tally};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

/// GCRA: the key holds the theoretical arrival time (ms, the store's clock).
/// ARGV: the emission interval (ms), the burst. Returns 1 when a unit was taken.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - interval * tonumber(ARGV[2]) > now then return 0 end
redis.call('SET', KEYS[1], next_tat, 'PX', next_tat - now)
return 1
";

/// A counter that lives `ARGV[1]` ms from its first unit. Returns the new count.
const ADD: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

const COUNT: &str = r"return tonumber(redis.call('GET', KEYS[1]) or '0')";

const CLEAR: &str = r"return redis.call('DEL', KEYS[1])";

/// One attempt per `ARGV[1]` ms: -1 when claimed, else the ms until the next one.
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return -1 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left
";

/// How the shared counts are reached.
#[derive(Debug, Clone, Copy)]
pub struct SharedSettings {
    /// How long one check may wait for the store before it is counted in the node.
    pub timeout: StdDuration,
    /// After a failure, how long checks are counted in the node before the store is
    /// asked again.
    pub retry_after: StdDuration,
}

impl Default for SharedSettings {
    fn default() -> Self {
        Self {
            timeout: StdDuration::from_millis(250),
            retry_after: StdDuration::from_secs(1),
        }
    }
}

/// What can stop the shared counts from being set up (not a store that is down: that
/// only degrades).
#[derive(Debug, thiserror::Error)]
pub enum SharedLimitsError {
    #[error("adresse du magasin des limites invalide : {0}")]
    Url(#[source] redis::RedisError),
    #[error("le secret du service ne peut pas servir de clé de hachage des limites")]
    Secret,
}

/// The counts in Redis/Valkey, shared by every node; in the node while the store is away.
pub struct SharedCounters {
    limits: RateLimits,
    connection: ConnectionManager,
    hashing: Hmac<Sha256>,
    settings: SharedSettings,
    local: LocalCounters,
    away_until: Mutex<Option<Instant>>,
    fallbacks: AtomicU64,
    scripts: Scripts,
}

struct Scripts {
    gcra: Script,
    add: Script,
    count: Script,
    clear: Script,
    claim: Script,
}

impl fmt::Debug for SharedCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCounters")
            .field("settings", &self.settings)
            .field("sharing", &self.sharing())
            .finish_non_exhaustive()
    }
}

impl SharedCounters {
    /// Counts for `limits` in the store at `url` (`redis://host:port/db`). Connects on
    /// the first check: a store that is not up yet only means counting in the node until
    /// it is. `secret` keys the hashes of the counters' names (the same on every node).
    ///
    /// # Errors
    /// An address that is not a Redis URL.
    pub fn new(
        url: &str,
        secret: &[u8],
        limits: &RateLimits,
        settings: SharedSettings,
    ) -> Result<Self, SharedLimitsError> {
        let client = Client::open(url).map_err(SharedLimitsError::Url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(settings.retry_after);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(SharedLimitsError::Url)?;
        // a key of its own, derived from the service's secret
        let derived = Hmac::<Sha256>::new_from_slice(secret)
            .map(|mac| {
                mac.chain_update(b"sand rate-limit counter names")
                    .finalize()
            })
            .map_err(|_| SharedLimitsError::Secret)?;
        let hashing = Hmac::<Sha256>::new_from_slice(&derived.into_bytes())
            .map_err(|_| SharedLimitsError::Secret)?;
        Ok(Self {
            limits: *limits,
            connection,
            hashing,
            settings,
            local: LocalCounters::new(limits),
            away_until: Mutex::new(None),
            fallbacks: AtomicU64::new(0),
            scripts: Scripts {
                gcra: Script::new(GCRA),
                add: Script::new(ADD),
                count: Script::new(COUNT),
                clear: Script::new(CLEAR),
                claim: Script::new(CLAIM),
            },
        })
    }

    /// The store's name of a counter: its kind and a keyed hash of what it counts.
    fn name(&self, kind: &str, key: &str) -> String {
        let digest = self.hashing.clone().chain_update(key.as_bytes()).finalize();
        format!(
            "sand:limit:{kind}:{}",
            hex::encode(&digest.into_bytes()[..16])
        )
    }

    fn away(&self) -> bool {
        let mut away = self
            .away_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *away {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                // time to ask the store again (a failure sets it back)
                *away = None;
                false
            }
            None => false,
        }
    }

    fn went_away(&self, error: &dyn fmt::Display) {
        let mut away = self
            .away_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if away.is_none() {
            tracing::warn!(
                error = %error,
                event = "rate_limit_store_down",
                "the shared rate-limit store does not answer: this node counts the limits on its own until it does"
            );
        }
        *away = Some(Instant::now() + self.settings.retry_after);
    }

    /// Runs `script` on the counter `name` with `args`; `None` when the store did not
    /// answer (then the caller counts in the node).
    async fn run(&self, script: &Script, name: &str, args: &[i64]) -> Option<i64> {
        if self.away() {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut invocation = script.key(name);
        for arg in args {
            invocation.arg(*arg);
        }
        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(
            self.settings.timeout,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await;
        let failure: Box<dyn fmt::Display + Send> = match answer {
            Ok(Ok(value)) => {
                let was_away = self
                    .away_until
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
                    .is_some();
                if was_away {
                    tracing::info!(
                        event = "rate_limit_store_back",
                        "the shared rate-limit store answers again: the limits are shared"
                    );
                }
                return Some(value);
            }
            Ok(Err(e)) => Box::new(e),
            Err(_) => Box::new("no answer within the timeout"),
        };
        self.went_away(&failure);
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        None
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.whole_milliseconds())
        .unwrap_or(i64::MAX)
        .max(1)
}

#[async_trait]
impl LimitCounters for SharedCounters {
    async fn take(&self, bucket: Bucket, key: &str) -> bool {
        let (burst, period) = bucket.quota(&self.limits);
        let interval = i64::try_from((period / burst.get()).as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let name = self.name(bucket.name(), key);
        match self
            .run(
                &self.scripts.gcra,
                &name,
                &[interval, i64::from(burst.get())],
            )
            .await
        {
            Some(taken) => taken == 1,
            None => self.local.take(bucket, key).await,
        }
    }

    async fn count(&self, tally: Tally, key: &str, now: OffsetDateTime) -> u32 {
        let name = self.name(tally.name(), key);
        match self.run(&self.scripts.count, &name, &[]).await {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => self.local.count(tally, key, now).await,
        }
    }

    async fn add(&self, tally: Tally, key: &str, now: OffsetDateTime) -> u32 {
        let name = self.name(tally.name(), key);
        // a daily tally's key holds its day; it may go a day after its first unit
        match self
            .run(&self.scripts.add, &name, &[millis(tally.window())])
            .await
        {
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
            None => self.local.add(tally, key, now).await,
        }
    }

    async fn clear(&self, tally: Tally, key: &str) {
        let name = self.name(tally.name(), key);
        if self.run(&self.scripts.clear, &name, &[]).await.is_none() {
            self.local.clear(tally, key).await;
        }
    }

    async fn claim(&self, key: &str, now: OffsetDateTime, interval: Duration) -> Option<Duration> {
        let name = self.name("slowed", key);
        match self
            .run(&self.scripts.claim, &name, &[millis(interval)])
            .await
        {
            Some(-1) => None,
            Some(left) => Some(Duration::milliseconds(left)),
            None => self.local.claim(key, now, interval).await,
        }
    }

    fn forget_idle(&self, now: OffsetDateTime) {
        // the store expires its own counters
        self.local.forget_idle(now);
    }

    fn sharing(&self) -> Sharing {
        let away = self
            .away_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if away {
            Sharing::Degraded
        } else {
            Sharing::Shared
        }
    }

    fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
}
