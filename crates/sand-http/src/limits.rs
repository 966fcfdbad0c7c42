//! Rate limits (governor's GCRA, in memory, per process): per client address on every
//! entry point that checks a secret, per e-mail on login, per profile on attaching
//! (matching is an oracle too), and on verification the wrong answers per control key
//! per day (counted on the canonical key, per client and from all clients).
//! docs/security.md has the arithmetic; docs/operations.md how to share them between
//! nodes.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};

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

type Keyed<K> = DefaultKeyedRateLimiter<K>;

fn per_minute<K: Hash + Eq + Clone>(n: u32) -> Keyed<K> {
    RateLimiter::keyed(Quota::per_minute(
        NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
    ))
}

fn per_hour<K: Hash + Eq + Clone>(n: u32) -> Keyed<K> {
    RateLimiter::keyed(Quota::per_hour(
        NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
    ))
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

/// Counts per key that start again from zero each day (UTC, by the service's clock).
#[derive(Debug)]
struct DailyCounts<K> {
    counts: Mutex<(Option<Date>, HashMap<K, u32>)>,
}

impl<K: Hash + Eq> Default for DailyCounts<K> {
    fn default() -> Self {
        Self {
            counts: Mutex::new((None, HashMap::new())),
        }
    }
}

type DayCounts<K> = (Option<Date>, HashMap<K, u32>);

impl<K: Hash + Eq> DailyCounts<K> {
    fn today(&self, today: Date) -> std::sync::MutexGuard<'_, DayCounts<K>> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.0 != Some(today) {
            // a new day: yesterday's counts are forgotten (bounded memory)
            *counts = (Some(today), HashMap::new());
        }
        counts
    }

    fn count(&self, today: Date, key: &K) -> u32 {
        self.today(today).1.get(key).copied().unwrap_or(0)
    }

    /// Adds one; returns the new count.
    fn add(&self, today: Date, key: K) -> u32 {
        let mut counts = self.today(today);
        let n = counts.1.entry(key).or_insert(0);
        *n = n.saturating_add(1);
        *n
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

/// One account's failed logins in the current window.
#[derive(Debug)]
struct AccountFailures {
    since: OffsetDateTime,
    count: u32,
    /// When an unknown browser last got its one attempt on the slowed account.
    last_slowed_attempt: Option<OffsetDateTime>,
}

impl AccountFailures {
    fn forget_old(&mut self, now: OffsetDateTime) {
        if now - self.since > FAILURE_WINDOW {
            *self = Self {
                since: now,
                count: 0,
                last_slowed_attempt: None,
            };
        }
    }
}

/// A control key as the limits count it: canonical (`O` read as `0`, `I`/`L` as `1`),
/// so that spellings of one key share one budget.
type CanonicalKey = String;

/// Every limiter of the service.
#[derive(Debug)]
pub struct Limiters {
    limits: RateLimits,
    logins_per_client: Keyed<ClientKey>,
    logins_per_account_and_client: Keyed<(String, ClientKey)>,
    login_failures: Mutex<HashMap<String, AccountFailures>>,
    accounts: Keyed<ClientKey>,
    mail_requests: Keyed<ClientKey>,
    mails_per_address: Keyed<String>,
    verifications_per_client: Keyed<ClientKey>,
    wrong_per_key_and_client: DailyCounts<(CanonicalKey, ClientKey)>,
    wrong_per_key: DailyCounts<CanonicalKey>,
    file_checks: Keyed<ClientKey>,
    attaches: Keyed<ProfileId>,
    share_openings: Keyed<ClientKey>,
}

impl Limiters {
    #[must_use]
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            limits: *limits,
            logins_per_client: per_minute(limits.logins_per_client_per_minute),
            logins_per_account_and_client: per_hour(limits.logins_per_account_per_client_per_hour),
            login_failures: Mutex::new(HashMap::new()),
            accounts: per_hour(limits.accounts_per_client_per_hour),
            mail_requests: per_hour(limits.mail_requests_per_client_per_hour),
            mails_per_address: per_hour(limits.mails_per_address_per_hour),
            verifications_per_client: per_minute(limits.verifications_per_client_per_minute),
            wrong_per_key_and_client: DailyCounts::default(),
            wrong_per_key: DailyCounts::default(),
            file_checks: per_minute(limits.file_checks_per_client_per_minute),
            attaches: per_hour(limits.attaches_per_profile_per_hour),
            share_openings: per_minute(limits.share_openings_per_client_per_minute),
        }
    }

    /// Whether a login attempt on the account `email_key` may go on now.
    ///
    /// The client's budget and its budget on this account are spent by every attempt.
    /// An account that failed too often this hour is slowed, never locked: a browser that
    /// signed in to it before (`known_device`) passes; others get one attempt per
    /// interval, and are told how long to wait.
    pub fn login(
        &self,
        now: OffsetDateTime,
        client: ClientKey,
        email_key: &str,
        known_device: bool,
    ) -> LoginGate {
        if self.logins_per_client.check_key(&client).is_err()
            || self
                .logins_per_account_and_client
                .check_key(&(email_key.to_owned(), client))
                .is_err()
        {
            return LoginGate::TooMany;
        }
        if known_device {
            return LoginGate::Allowed;
        }
        let mut failures = self
            .login_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(account) = failures.get_mut(email_key) else {
            return LoginGate::Allowed;
        };
        account.forget_old(now);
        if account.count < self.limits.login_failures_before_slowing {
            return LoginGate::Allowed;
        }
        let interval = Duration::seconds(i64::from(self.limits.login_slowing_interval_secs));
        match account.last_slowed_attempt {
            Some(last) if now < last + interval => LoginGate::SlowedDown {
                retry_after_secs: u64::try_from((last + interval - now).whole_seconds())
                    .unwrap_or(0)
                    .max(1),
            },
            _ => {
                account.last_slowed_attempt = Some(now);
                LoginGate::Allowed
            }
        }
    }

    /// Counts a failed login on the account `email_key`.
    pub fn login_failed(&self, now: OffsetDateTime, email_key: &str) {
        let mut failures = self
            .login_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let account = failures
            .entry(email_key.to_owned())
            .or_insert(AccountFailures {
                since: now,
                count: 0,
                last_slowed_attempt: None,
            });
        account.forget_old(now);
        account.count = account.count.saturating_add(1);
    }

    /// Forgets the failures of an account (its owner completed a password reset).
    pub fn login_cleared(&self, email_key: &str) {
        self.login_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(email_key);
    }

    pub fn account(&self, client: ClientKey) -> bool {
        self.accounts.check_key(&client).is_ok()
    }

    pub fn mail_request(&self, client: ClientKey) -> bool {
        self.mail_requests.check_key(&client).is_ok()
    }

    /// Whether one more mail with a link may go to `address` (lower-cased) this hour.
    pub fn mail_to(&self, address: &str) -> bool {
        self.mails_per_address
            .check_key(&address.to_lowercase())
            .is_ok()
    }

    /// Whether `client` may open a share link now.
    pub fn share_opening(&self, client: ClientKey) -> bool {
        self.share_openings.check_key(&client).is_ok()
    }

    /// Whether `client` may verify a key now (its per-minute budget, pages and API).
    pub fn verification(&self, client: ClientKey) -> bool {
        self.verifications_per_client.check_key(&client).is_ok()
    }

    /// What the limits allow `client` for `key` today.
    #[must_use]
    pub fn key_gate(&self, today: Date, client: ClientKey, key: &ControlKey) -> KeyGate {
        let key = key.as_str().to_owned();
        let by_client = self
            .wrong_per_key_and_client
            .count(today, &(key.clone(), client));
        if by_client >= self.limits.wrong_answers_per_key_per_client_per_day {
            return KeyGate::Refused;
        }
        KeyGate::Open {
            birth_date_required: self.wrong_per_key.count(today, &key)
                >= self.limits.wrong_answers_per_key_per_day,
        }
    }

    /// Counts a wrong answer `client` got for `key`. Returns `true` when this answer is
    /// the one that makes the key require the birth date (once a day per key: the
    /// moment to tell its holder).
    pub fn wrong_answer(&self, today: Date, client: ClientKey, key: &ControlKey) -> bool {
        let key = key.as_str().to_owned();
        self.wrong_per_key_and_client
            .add(today, (key.clone(), client));
        self.wrong_per_key.add(today, key) == self.limits.wrong_answers_per_key_per_day
    }

    /// Whether `client` may have an attestation file checked now.
    pub fn file_check(&self, client: ClientKey) -> bool {
        self.file_checks.check_key(&client).is_ok()
    }

    pub fn attach(&self, profile: ProfileId) -> bool {
        self.attaches.check_key(&profile).is_ok()
    }

    /// Forgets clients whose budget is full again (bounded memory).
    pub fn forget_idle(&self, now: OffsetDateTime) {
        self.logins_per_client.retain_recent();
        self.logins_per_account_and_client.retain_recent();
        if let Some(now) = now.checked_sub(FAILURE_WINDOW) {
            self.login_failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, account| account.since >= now);
        }
        self.accounts.retain_recent();
        self.mail_requests.retain_recent();
        self.mails_per_address.retain_recent();
        self.verifications_per_client.retain_recent();
        self.file_checks.retain_recent();
        self.attaches.retain_recent();
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

    #[test]
    fn a_client_is_refused_once_its_burst_is_spent_and_others_are_not() {
        let limits = RateLimits {
            verifications_per_client_per_minute: 3,
            ..RateLimits::default()
        };
        let limiters = Limiters::new(&limits);
        for _ in 0..3 {
            assert!(limiters.verification(client(1)));
        }
        assert!(!limiters.verification(client(1)));
        assert!(limiters.verification(client(2)));
    }

    #[test]
    fn every_spelling_of_a_key_shares_one_budget() {
        let limiters = Limiters::new(&RateLimits::default());
        let typed = ["2A0WEJRH", "2AOWEJRH", "2aowejrh"];
        for spelling in typed.iter().cycle().take(5) {
            assert_eq!(
                limiters.key_gate(DAY, client(1), &key(spelling)),
                KeyGate::Open {
                    birth_date_required: false
                }
            );
            limiters.wrong_answer(DAY, client(1), &key(spelling));
        }
        for spelling in typed {
            assert_eq!(
                limiters.key_gate(DAY, client(1), &key(spelling)),
                KeyGate::Refused
            );
        }
        // another client, another key, or the next day: untouched
        assert!(matches!(
            limiters.key_gate(DAY, client(2), &key("2A0WEJRH")),
            KeyGate::Open { .. }
        ));
        assert!(matches!(
            limiters.key_gate(DAY, client(1), &key("2A0WEJRK")),
            KeyGate::Open { .. }
        ));
        assert!(matches!(
            limiters.key_gate(DAY.next_day().unwrap(), client(1), &key("2A0WEJRH")),
            KeyGate::Open { .. }
        ));
    }

    #[test]
    fn many_wrong_answers_from_everywhere_require_the_birth_date_for_the_day_and_tell_once() {
        let limits = RateLimits {
            wrong_answers_per_key_per_day: 10,
            ..RateLimits::default()
        };
        let limiters = Limiters::new(&limits);
        let k = key("7K3M9QXR");
        let mut told = 0;
        for last in 0..30u8 {
            if limiters.wrong_answer(DAY, client(last), &k) {
                told += 1;
            }
        }
        assert_eq!(told, 1, "the holder is told once a day");
        assert_eq!(
            limiters.key_gate(DAY, client(200), &k),
            KeyGate::Open {
                birth_date_required: true
            }
        );
        assert_eq!(
            limiters.key_gate(DAY.next_day().unwrap(), client(200), &k),
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
