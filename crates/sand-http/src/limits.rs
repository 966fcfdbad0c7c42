//! Rate limits (governor's GCRA, in memory, per process): per client address on every
//! entry point that checks a secret, per control key on verification, per e-mail on
//! login, per profile on attaching (matching is an oracle too). docs/security.md has the
//! arithmetic; docs/operations.md how to share them between nodes.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sand_domain::profile::ProfileId;

/// Allowed rates. Each is a burst that refills evenly over its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Login attempts per client address per minute.
    pub logins_per_client_per_minute: u32,
    /// Login attempts per e-mail address per hour (distributed guessing of one account).
    pub logins_per_email_per_hour: u32,
    /// Account creations per client address per hour.
    pub accounts_per_client_per_hour: u32,
    /// Password-reset and verification-mail requests per client address per hour.
    pub mail_requests_per_client_per_hour: u32,
    /// Verifications per client address per minute (pages and API; a batch counts each item).
    pub verifications_per_client_per_minute: u32,
    /// Verifications of one control key per hour, from anywhere.
    pub verifications_per_key_per_hour: u32,
    /// Attach attempts per profile per hour.
    pub attaches_per_profile_per_hour: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            logins_per_client_per_minute: 10,
            logins_per_email_per_hour: 20,
            accounts_per_client_per_hour: 10,
            mail_requests_per_client_per_hour: 10,
            verifications_per_client_per_minute: 30,
            verifications_per_key_per_hour: 20,
            attaches_per_profile_per_hour: 20,
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

/// Every limiter of the service.
#[derive(Debug)]
pub struct Limiters {
    logins_per_client: Keyed<ClientKey>,
    logins_per_email: Keyed<String>,
    accounts: Keyed<ClientKey>,
    mail_requests: Keyed<ClientKey>,
    verifications_per_client: Keyed<ClientKey>,
    verifications_per_key: Keyed<String>,
    attaches: Keyed<ProfileId>,
}

impl Limiters {
    #[must_use]
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            logins_per_client: per_minute(limits.logins_per_client_per_minute),
            logins_per_email: per_hour(limits.logins_per_email_per_hour),
            accounts: per_hour(limits.accounts_per_client_per_hour),
            mail_requests: per_hour(limits.mail_requests_per_client_per_hour),
            verifications_per_client: per_minute(limits.verifications_per_client_per_minute),
            verifications_per_key: per_hour(limits.verifications_per_key_per_hour),
            attaches: per_hour(limits.attaches_per_profile_per_hour),
        }
    }

    /// Whether a login attempt may go on (both the client and the account have budget).
    pub fn login(&self, client: ClientKey, email_key: &str) -> bool {
        self.logins_per_client.check_key(&client).is_ok()
            && self
                .logins_per_email
                .check_key(&email_key.to_owned())
                .is_ok()
    }

    pub fn account(&self, client: ClientKey) -> bool {
        self.accounts.check_key(&client).is_ok()
    }

    pub fn mail_request(&self, client: ClientKey) -> bool {
        self.mail_requests.check_key(&client).is_ok()
    }

    /// Whether `client` may verify `key` now. The key is counted as typed (upper-cased,
    /// separators removed), valid or not.
    pub fn verification(&self, client: ClientKey, key: &str) -> bool {
        let key: String = key
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        self.verifications_per_client.check_key(&client).is_ok()
            && self.verifications_per_key.check_key(&key).is_ok()
    }

    pub fn attach(&self, profile: ProfileId) -> bool {
        self.attaches.check_key(&profile).is_ok()
    }

    /// Forgets clients whose budget is full again (bounded memory).
    pub fn forget_idle(&self) {
        self.logins_per_client.retain_recent();
        self.logins_per_email.retain_recent();
        self.accounts.retain_recent();
        self.mail_requests.retain_recent();
        self.verifications_per_client.retain_recent();
        self.verifications_per_key.retain_recent();
        self.attaches.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_is_refused_once_its_burst_is_spent_and_others_are_not() {
        let limits = RateLimits {
            verifications_per_client_per_minute: 3,
            ..RateLimits::default()
        };
        let limiters = Limiters::new(&limits);
        let a = ClientKey::from(IpAddr::from([192, 0, 2, 1]));
        let b = ClientKey::from(IpAddr::from([192, 0, 2, 2]));
        for i in 0..3 {
            assert!(limiters.verification(a, &format!("KEY{i}")));
        }
        assert!(!limiters.verification(a, "KEY9"));
        assert!(limiters.verification(b, "KEY9"));
    }

    #[test]
    fn one_key_is_limited_whoever_asks() {
        let limits = RateLimits {
            verifications_per_key_per_hour: 2,
            ..RateLimits::default()
        };
        let limiters = Limiters::new(&limits);
        for last in 1..=2u8 {
            let client = ClientKey::from(IpAddr::from([198, 51, 100, last]));
            assert!(limiters.verification(client, "ab12-cd34"));
        }
        let client = ClientKey::from(IpAddr::from([198, 51, 100, 3]));
        assert!(!limiters.verification(client, "AB12CD34"));
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
