//! Rate limits: per client address on every entry point that checks a secret, per
//! e-mail on login, per profile on attaching (matching is an oracle too), and on
//! verification the wrong answers per control key per day (counted on the canonical key,
//! per client and from all clients). docs/security.md has the arithmetic.
//!
//! [`Limiters`] holds the rules; the counts live behind [`LimitCounters`]: in this
//! process ([`LocalCounters`], governor's GCRA, the single-node default) or in a store
//! every node shares (the `sand-limits` crate), so that a client spread over several
//! nodes gets the budget of one (docs/operations.md, "Running past one machine").

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sand_domain::control_key::ControlKey;
use sand_domain::profile::ProfileId;
use time::{Date, Duration, OffsetDateTime};

/// Allowed rates. Each is a burst that refills evenly over its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Login attempts per client address per minute.
    pub logins_per_client_per_minute: u32,
    /// Login attempts on one account from one client address per hour.
    pub logins_per_account_per_client_per_hour: u32,
    /// Failed logins on one account within an hour, from all clients, after which the
    /// account is slowed (not locked): browsers that never signed in to it get one
    /// attempt per [`RateLimits::login_slowing_interval_secs`].
    pub login_failures_before_slowing: u32,
    /// The interval between attempts on a slowed account, in seconds.
    pub login_slowing_interval_secs: u32,
    /// Account creations per client address per hour.
    pub accounts_per_client_per_hour: u32,
    /// Password-reset and verification-mail requests per client address per hour.
    pub mail_requests_per_client_per_hour: u32,
    /// Mails with a link (confirmation, password reset) to one address per hour, whoever
    /// asks: nobody can flood a mailbox from many addresses.
    pub mails_per_address_per_hour: u32,
    /// Verifications per client address per minute (pages and API; a batch counts each item).
    pub verifications_per_client_per_minute: u32,
    /// Wrong answers (unknown key, wrong name or birth date) one client may get for one
    /// control key in a day; then that client is refused for that key until the next day.
    pub wrong_answers_per_key_per_client_per_day: u32,
    /// Wrong answers for one control key in a day, from all clients, after which
    /// checking the key also requires the holder's birth date for the rest of the day
    /// (and its holder is told, once).
    pub wrong_answers_per_key_per_day: u32,
    /// Attestation file checks per client address per minute.
    pub file_checks_per_client_per_minute: u32,
    /// Attach attempts per profile per hour.
    pub attaches_per_profile_per_hour: u32,
    /// Openings of share links per client address per minute (found or not).
    pub share_openings_per_client_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            logins_per_client_per_minute: 10,
            logins_per_account_per_client_per_hour: 10,
            login_failures_before_slowing: 20,
            login_slowing_interval_secs: 30,
            accounts_per_client_per_hour: 10,
            mail_requests_per_client_per_hour: 10,
            mails_per_address_per_hour: 3,
            verifications_per_client_per_minute: 30,
            wrong_answers_per_key_per_client_per_day: 5,
            wrong_answers_per_key_per_day: 50,
            file_checks_per_client_per_minute: 10,
            attaches_per_profile_per_hour: 20,
            share_openings_per_client_per_minute: 30,
        }
    }
}

/// A budget that refills evenly (GCRA): `burst` units, one back every `period / burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    LoginsPerClient,
    LoginsPerAccountAndClient,
    AccountsPerClient,
    MailRequestsPerClient,
    MailsPerAddress,
    VerificationsPerClient,
    FileChecksPerClient,
    AttachesPerProfile,
    ShareOpeningsPerClient,
}

impl Bucket {
    pub const ALL: [Self; 9] = [
        Self::LoginsPerClient,
        Self::LoginsPerAccountAndClient,
        Self::AccountsPerClient,
        Self::MailRequestsPerClient,
        Self::MailsPerAddress,
        Self::VerificationsPerClient,
        Self::FileChecksPerClient,
        Self::AttachesPerProfile,
        Self::ShareOpeningsPerClient,
    ];

    /// A stable name (shared stores key their counters with it).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::LoginsPerClient => "logins",
            Self::LoginsPerAccountAndClient => "logins_account",
            Self::AccountsPerClient => "accounts",
            Self::MailRequestsPerClient => "mail_requests",
            Self::MailsPerAddress => "mails_to",
            Self::VerificationsPerClient => "verifications",
            Self::FileChecksPerClient => "file_checks",
            Self::AttachesPerProfile => "attaches",
            Self::ShareOpeningsPerClient => "share_openings",
        }
    }

    /// The burst and the period it refills over, under `limits` (a zero burst counts as one).
    #[must_use]
    pub fn quota(self, limits: &RateLimits) -> (NonZeroU32, std::time::Duration) {
        const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
        const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);
        let (n, period) = match self {
            Self::LoginsPerClient => (limits.logins_per_client_per_minute, MINUTE),
            Self::LoginsPerAccountAndClient => {
                (limits.logins_per_account_per_client_per_hour, HOUR)
            }
            Self::AccountsPerClient => (limits.accounts_per_client_per_hour, HOUR),
            Self::MailRequestsPerClient => (limits.mail_requests_per_client_per_hour, HOUR),
            Self::MailsPerAddress => (limits.mails_per_address_per_hour, HOUR),
            Self::VerificationsPerClient => (limits.verifications_per_client_per_minute, MINUTE),
            Self::FileChecksPerClient => (limits.file_checks_per_client_per_minute, MINUTE),
            Self::AttachesPerProfile => (limits.attaches_per_profile_per_hour, HOUR),
            Self::ShareOpeningsPerClient => (limits.share_openings_per_client_per_minute, MINUTE),
        };
        (NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN), period)
    }
}

/// A count that starts again from zero when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tally {
    /// Wrong answers one client got for one key, today (the day is in the counter's key).
    WrongAnswersPerKeyAndClient,
    /// Wrong answers for one key from all clients, today.
    WrongAnswersPerKey,
    /// Failed logins on one account, within an hour of the first.
    LoginFailures,
}

impl Tally {
    /// A stable name (shared stores key their counters with it).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::WrongAnswersPerKeyAndClient => "wrong_key_client",
            Self::WrongAnswersPerKey => "wrong_key",
            Self::LoginFailures => "login_failures",
        }
    }

    /// How long a count lasts after its first unit.
    #[must_use]
    pub const fn window(self) -> Duration {
        match self {
            Self::WrongAnswersPerKeyAndClient | Self::WrongAnswersPerKey => Duration::DAY,
            Self::LoginFailures => FAILURE_WINDOW,
        }
    }
}

/// Whether the counts are shared between nodes, as readiness and the metrics tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Counted in this process: the single-node default.
    Local,
    /// Counted in the shared store.
    Shared,
    /// The shared store did not answer: counted in this process until it does again.
    Degraded,
}

impl Sharing {
    /// A stable code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Local => "locales",
            Self::Shared => "partagees",
            Self::Degraded => "locales_en_secours",
        }
    }
}

/// Where the limits keep their counts. Every operation answers: a shared store that
/// fails falls back to counting in the process (and says so through [`Self::sharing`]),
/// it never refuses everybody nor lets everybody through.
#[async_trait]
pub trait LimitCounters: Send + Sync + fmt::Debug {
    /// Takes one unit of `key`'s budget in `bucket`; `false` when it is spent.
    async fn take(&self, bucket: Bucket, key: &str) -> bool;

    /// `key`'s count in `tally` (`now` decides whether its window ended).
    async fn count(&self, tally: Tally, key: &str, now: OffsetDateTime) -> u32;

    /// Adds one to `key`'s count in `tally`; returns the new count.
    async fn add(&self, tally: Tally, key: &str, now: OffsetDateTime) -> u32;

    /// Forgets `key`'s count in `tally`.
    async fn clear(&self, tally: Tally, key: &str);

    /// Claims the one attempt per `interval` a slowed account allows (`key` names it):
    /// `None` when claimed, or how long until the next one.
    async fn claim(&self, key: &str, now: OffsetDateTime, interval: Duration) -> Option<Duration>;

    /// Forgets what is spent (bounded memory); run by the housekeeping.
    fn forget_idle(&self, now: OffsetDateTime);

    /// Whether the counts are shared right now.
    fn sharing(&self) -> Sharing {
        Sharing::Local
    }

    /// How many operations fell back to counting in the process since the start.
    fn fallbacks(&self) -> u64 {
        0
    }
}

/// The counts in this process's memory (governor's GCRA for the budgets).
pub struct LocalCounters {
    buckets: Vec<DefaultKeyedRateLimiter<String>>,
    tallies: Mutex<HashMap<(Tally, String), (OffsetDateTime, u32)>>,
    slots: Mutex<HashMap<String, OffsetDateTime>>,
}

impl fmt::Debug for LocalCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCounters").finish_non_exhaustive()
    }
}

impl LocalCounters {
    #[must_use]
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            buckets: Bucket::ALL
                .iter()
                .map(|bucket| {
                    let (burst, period) = bucket.quota(limits);
                    let quota = Quota::with_period(period / burst.get())
                        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
                        .allow_burst(burst);
                    RateLimiter::keyed(quota)
                })
                .collect(),
            tallies: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn bucket(&self, bucket: Bucket) -> &DefaultKeyedRateLimiter<String> {
        // built from Bucket::ALL, in its order
        &self.buckets[bucket as usize]
    }

    fn with_tally<T>(
        &self,
        tally: Tally,
        key: &str,
        now: OffsetDateTime,
        f: impl FnOnce(&mut (OffsetDateTime, u32)) -> T,
    ) -> T {
        let mut tallies = self.tallies.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = tallies.entry((tally, key.to_owned())).or_insert((now, 0));
        if now - entry.0 > tally.window() {
            *entry = (now, 0);
        }
        f(entry)
    }
}

#[async_trait]
impl LimitCounters for LocalCounters {
    async fn take(&self, bucket: Bucket, key: &str) -> bool {
        self.bucket(bucket).check_key(&key.to_owned()).is_ok()
    }

    async fn count(&self, tally: Tally, key: &str, now: OffsetDateTime) -> u32 {
        self.with_tally(tally, key, now, |entry| entry.1)
    }

    async fn add(&self, tally: Tally, key: &str, now: OffsetDateTime) -> u32 {
        self.with_tally(tally, key, now, |entry| {
            entry.1 = entry.1.saturating_add(1);
            entry.1
        })
    }

    async fn clear(&self, tally: Tally, key: &str) {
        self.tallies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(tally, key.to_owned()));
    }

    async fn claim(&self, key: &str, now: OffsetDateTime, interval: Duration) -> Option<Duration> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        match slots.get(key) {
            Some(last) if now < *last + interval => Some(*last + interval - now),
            _ => {
                slots.insert(key.to_owned(), now);
                None
            }
        }
    }

    fn forget_idle(&self, now: OffsetDateTime) {
        for bucket in &self.buckets {
            bucket.retain_recent();
        }
        self.tallies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(tally, _), (since, _)| now - *since <= tally.window());
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, last| now - *last <= FAILURE_WINDOW);
    }
}

/// A client, as the limits see it: an IPv4 address or an IPv6 /64 network (one
/// subscriber usually holds a whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(u128);

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(u128::from(u32::from(v4))),
                None => Self((u128::from(v6) >> 64) << 64 | 1),
            },
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// What the limits allow for one control key, before it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyGate {
    /// This client has had its wrong answers for this key today.
    Refused,
    /// The key may be checked; with `birth_date_required` the holder's birth date must be
    /// given too (the key collected too many wrong answers today).
    Open { birth_date_required: bool },
}

/// What the limits allow a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    Allowed,
    /// The client's budget, or its budget on this account, is spent.
    TooMany,
    /// The account is slowed: the next attempt from an unknown browser in this long.
    SlowedDown {
        retry_after_secs: u64,
    },
}

/// Failed logins are counted per account over this window.
const FAILURE_WINDOW: Duration = Duration::HOUR;

/// The counter keys of one day: a control key's counts start again each day (UTC, by the
/// service's clock), and the day is part of the key so that a shared store agrees.
fn daily(today: Date, parts: std::fmt::Arguments<'_>) -> (String, OffsetDateTime) {
    (format!("{today}:{parts}"), today.midnight().assume_utc())
}

/// Every limiter of the service: the rules, over counts kept in [`LimitCounters`].
#[derive(Debug, Clone)]
pub struct Limiters {
    limits: RateLimits,
    counters: Arc<dyn LimitCounters>,
}

impl Limiters {
    /// The limits, counted in this process.
    #[must_use]
    pub fn new(limits: &RateLimits) -> Self {
        Self::counted_in(limits, Arc::new(LocalCounters::new(limits)))
    }

    /// The limits, counted in `counters` (a store shared between nodes).
    #[must_use]
    pub fn counted_in(limits: &RateLimits, counters: Arc<dyn LimitCounters>) -> Self {
        Self {
            limits: *limits,
            counters,
        }
    }

    /// Where the counts are, right now.
    #[must_use]
    pub fn sharing(&self) -> Sharing {
        self.counters.sharing()
    }

    /// How many counts fell back to this process since the start.
    #[must_use]
    pub fn fallbacks(&self) -> u64 {
        self.counters.fallbacks()
    }

    /// Whether a login attempt on the account `email_key` may go on now.
    ///
    /// The client's budget and its budget on this account are spent by every attempt.
    /// An account that failed too often this hour is slowed, never locked: a browser that
    /// signed in to it before (`known_device`) passes; others get one attempt per
    /// interval, and are told how long to wait.
    pub async fn login(
        &self,
        now: OffsetDateTime,
        client: ClientKey,
        email_key: &str,
        known_device: bool,
    ) -> LoginGate {
        if !self
            .counters
            .take(Bucket::LoginsPerClient, &client.to_string())
            .await
            || !self
                .counters
                .take(
                    Bucket::LoginsPerAccountAndClient,
                    &format!("{email_key}|{client}"),
                )
                .await
        {
            return LoginGate::TooMany;
        }
        if known_device {
            return LoginGate::Allowed;
        }
        let failures = self
            .counters
            .count(Tally::LoginFailures, email_key, now)
            .await;
        if failures < self.limits.login_failures_before_slowing {
            return LoginGate::Allowed;
        }
        let interval = Duration::seconds(i64::from(self.limits.login_slowing_interval_secs));
        match self.counters.claim(email_key, now, interval).await {
            None => LoginGate::Allowed,
            Some(wait) => LoginGate::SlowedDown {
                retry_after_secs: u64::try_from(wait.whole_seconds()).unwrap_or(0).max(1),
            },
        }
    }

    /// Counts a failed login on the account `email_key`.
    pub async fn login_failed(&self, now: OffsetDateTime, email_key: &str) {
        self.counters
            .add(Tally::LoginFailures, email_key, now)
            .await;
    }

    /// Forgets the failures of an account (its owner completed a password reset).
    pub async fn login_cleared(&self, email_key: &str) {
        self.counters.clear(Tally::LoginFailures, email_key).await;
    }

    pub async fn account(&self, client: ClientKey) -> bool {
        self.counters
            .take(Bucket::AccountsPerClient, &client.to_string())
            .await
    }

    pub async fn mail_request(&self, client: ClientKey) -> bool {
        self.counters
            .take(Bucket::MailRequestsPerClient, &client.to_string())
            .await
    }

    /// Whether one more mail with a link may go to `address` (lower-cased) this hour.
    pub async fn mail_to(&self, address: &str) -> bool {
        self.counters
            .take(Bucket::MailsPerAddress, &address.to_lowercase())
            .await
    }

    /// Whether `client` may open a share link now.
    pub async fn share_opening(&self, client: ClientKey) -> bool {
        self.counters
            .take(Bucket::ShareOpeningsPerClient, &client.to_string())
            .await
    }

    /// Whether `client` may verify a key now (its per-minute budget, pages and API).
    pub async fn verification(&self, client: ClientKey) -> bool {
        self.counters
            .take(Bucket::VerificationsPerClient, &client.to_string())
            .await
    }

    /// What the limits allow `client` for `key` today.
    pub async fn key_gate(&self, today: Date, client: ClientKey, key: &ControlKey) -> KeyGate {
        let (by_client, day) = daily(today, format_args!("{}|{client}", key.as_str()));
        if self
            .counters
            .count(Tally::WrongAnswersPerKeyAndClient, &by_client, day)
            .await
            >= self.limits.wrong_answers_per_key_per_client_per_day
        {
            return KeyGate::Refused;
        }
        let (by_key, day) = daily(today, format_args!("{}", key.as_str()));
        KeyGate::Open {
            birth_date_required: self
                .counters
                .count(Tally::WrongAnswersPerKey, &by_key, day)
                .await
                >= self.limits.wrong_answers_per_key_per_day,
        }
    }

    /// Counts a wrong answer `client` got for `key`. Returns `true` when this answer is
    /// the one that makes the key require the birth date (once a day per key: the
    /// moment to tell its holder).
    pub async fn wrong_answer(&self, today: Date, client: ClientKey, key: &ControlKey) -> bool {
        let (by_client, day) = daily(today, format_args!("{}|{client}", key.as_str()));
        self.counters
            .add(Tally::WrongAnswersPerKeyAndClient, &by_client, day)
            .await;
        let (by_key, day) = daily(today, format_args!("{}", key.as_str()));
        self.counters
            .add(Tally::WrongAnswersPerKey, &by_key, day)
            .await
            == self.limits.wrong_answers_per_key_per_day
    }

    /// Whether `client` may have an attestation file checked now.
    pub async fn file_check(&self, client: ClientKey) -> bool {
        self.counters
            .take(Bucket::FileChecksPerClient, &client.to_string())
            .await
    }

    pub async fn attach(&self, profile: ProfileId) -> bool {
        self.counters
            .take(Bucket::AttachesPerProfile, &profile.0.to_string())
            .await
    }

    /// Forgets clients whose budget is full again (bounded memory).
    pub fn forget_idle(&self, now: OffsetDateTime) {
        self.counters.forget_idle(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Date = time::macros::date!(2026 - 11 - 24);

    fn client(last: u8) -> ClientKey {
        ClientKey::from(IpAddr::from([192, 0, 2, last]))
    }

    fn key(text: &str) -> ControlKey {
        ControlKey::parse(text).unwrap()
    }

    #[tokio::test]
    async fn a_client_is_refused_once_its_burst_is_spent_and_others_are_not() {
        let limits = RateLimits {
            verifications_per_client_per_minute: 3,
            ..RateLimits::default()
        };
        let limiters = Limiters::new(&limits);
        for _ in 0..3 {
            assert!(limiters.verification(client(1)).await);
        }
        assert!(!limiters.verification(client(1)).await);
        assert!(limiters.verification(client(2)).await);
    }

    #[tokio::test]
    async fn every_spelling_of_a_key_shares_one_budget() {
        let limiters = Limiters::new(&RateLimits::default());
        let typed = ["2A0WEJRH", "2AOWEJRH", "2aowejrh"];
        for spelling in typed.iter().cycle().take(5) {
            assert_eq!(
                limiters.key_gate(DAY, client(1), &key(spelling)).await,
                KeyGate::Open {
                    birth_date_required: false
                }
            );
            limiters.wrong_answer(DAY, client(1), &key(spelling)).await;
        }
        for spelling in typed {
            assert_eq!(
                limiters.key_gate(DAY, client(1), &key(spelling)).await,
                KeyGate::Refused
            );
        }
        // another client, another key, or the next day: untouched
        assert!(matches!(
            limiters.key_gate(DAY, client(2), &key("2A0WEJRH")).await,
            KeyGate::Open { .. }
        ));
        assert!(matches!(
            limiters.key_gate(DAY, client(1), &key("2A0WEJRK")).await,
            KeyGate::Open { .. }
        ));
        assert!(matches!(
            limiters
                .key_gate(DAY.next_day().unwrap(), client(1), &key("2A0WEJRH"))
                .await,
            KeyGate::Open { .. }
        ));
    }

    #[tokio::test]
    async fn many_wrong_answers_from_everywhere_require_the_birth_date_for_the_day_and_tell_once() {
        let limits = RateLimits {
            wrong_answers_per_key_per_day: 10,
            ..RateLimits::default()
        };
        let limiters = Limiters::new(&limits);
        let k = key("7K3M9QXR");
        let mut told = 0;
        for last in 0..30u8 {
            if limiters.wrong_answer(DAY, client(last), &k).await {
                told += 1;
            }
        }
        assert_eq!(told, 1, "the holder is told once a day");
        assert_eq!(
            limiters.key_gate(DAY, client(200), &k).await,
            KeyGate::Open {
                birth_date_required: true
            }
        );
        assert_eq!(
            limiters
                .key_gate(DAY.next_day().unwrap(), client(200), &k)
                .await,
            KeyGate::Open {
                birth_date_required: false
            }
        );
    }

    #[test]
    fn an_ipv6_subscriber_network_is_one_client() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::from(a), ClientKey::from(b));
        assert_ne!(ClientKey::from(a), ClientKey::from(c));
    }
}
