//! The shared counts against a real Redis (Debian's `redis-server`, started by each test
//! on a Unix socket of its own: no port to choose, nothing shared between tests). Two
//! [`SharedCounters`] on one store stand for two nodes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sand_domain::control_key::ControlKey;
use sand_http::RateLimits;
use sand_http::limits::{ClientKey, KeyGate, Limiters, LoginGate, Sharing};
use sand_limits::{SharedCounters, SharedSettings};
use time::macros::{date, datetime};

const SECRET: &[u8] = b"the service's secret, the same on every node";

/// A `redis-server` of the test's own, stopped when dropped.
struct Store {
    child: Option<Child>,
    dir: PathBuf,
}

impl Store {
    fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sand-limits-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut store = Self { child: None, dir };
        store.up();
        store
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn up(&mut self) {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(self.socket())
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is needed by these tests (Debian package redis-server; tests/run.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn answers(&self) -> bool {
        Command::new("redis-cli")
            .arg("-s")
            .arg(self.socket())
            .arg("ping")
            .output()
            .is_ok_and(|out| out.stdout.starts_with(b"PONG"))
    }

    fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn keys(&self) -> String {
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(self.socket())
            .args(["--scan", "--pattern", "*"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn node(store: &Store, limits: &RateLimits, settings: SharedSettings) -> Limiters {
    let counters = SharedCounters::new(&store.url(), SECRET, limits, settings).unwrap();
    Limiters::counted_in(limits, Arc::new(counters))
}

fn client(last: u8) -> ClientKey {
    ClientKey::from(IpAddr::from([192, 0, 2, last]))
}

#[tokio::test]
async fn a_client_spread_over_two_nodes_gets_the_budget_of_one() {
    let store = Store::start("budget");
    let limits = RateLimits {
        verifications_per_client_per_minute: 7,
        ..RateLimits::default()
    };
    let (a, b) = (
        node(&store, &limits, SharedSettings::default()),
        node(&store, &limits, SharedSettings::default()),
    );
    let mut allowed = 0;
    for i in 0..20 {
        let node = if i % 2 == 0 { &a } else { &b };
        if node.verification(client(1)).await {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 7, "one budget across the nodes");
    assert!(
        a.verification(client(2)).await,
        "another client has its own"
    );
    assert_eq!(a.sharing(), Sharing::Shared);
    assert_eq!(a.fallbacks() + b.fallbacks(), 0);

    // the store holds keyed hashes, never what is counted
    let keys = store.keys();
    assert!(keys.contains("sand:limit:verifications:"), "{keys}");
    assert!(
        !keys.contains("c0000201") && !keys.contains("192.0.2"),
        "{keys}"
    );
}

#[tokio::test]
async fn a_key_guesser_spread_over_two_nodes_is_refused_as_by_one_and_the_key_tightens_once() {
    let store = Store::start("guesser");
    let limits = RateLimits {
        wrong_answers_per_key_per_client_per_day: 5,
        wrong_answers_per_key_per_day: 8,
        ..RateLimits::default()
    };
    let (a, b) = (
        node(&store, &limits, SharedSettings::default()),
        node(&store, &limits, SharedSettings::default()),
    );
    let key = ControlKey::parse("2A0WEJRH").unwrap();
    let day = date!(2026 - 12 - 07);
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert!(matches!(
            node.key_gate(day, client(1), &key).await,
            KeyGate::Open { .. }
        ));
        node.wrong_answer(day, client(1), &key).await;
    }
    assert_eq!(a.key_gate(day, client(1), &key).await, KeyGate::Refused);
    assert_eq!(b.key_gate(day, client(1), &key).await, KeyGate::Refused);
    // another spelling of the key is the same key
    let spelled = ControlKey::parse("2aowejrh").unwrap();
    assert_eq!(b.key_gate(day, client(1), &spelled).await, KeyGate::Refused);

    // from all clients: the holder is told once, whichever node counts the 8th
    let mut told = 0;
    for last in 10..20u8 {
        let node = if last % 2 == 0 { &a } else { &b };
        if node.wrong_answer(day, client(last), &key).await {
            told += 1;
        }
    }
    assert_eq!(
        told, 1,
        "5 + 10 wrong answers: the 8th was among them, counted once"
    );
    assert_eq!(
        a.key_gate(day, client(99), &key).await,
        KeyGate::Open {
            birth_date_required: true
        }
    );
    // the next day starts again
    assert_eq!(
        b.key_gate(day.next_day().unwrap(), client(1), &key).await,
        KeyGate::Open {
            birth_date_required: false
        }
    );
}

#[tokio::test]
async fn a_slowed_account_gets_one_attempt_per_interval_across_nodes_and_a_reset_ends_it() {
    let store = Store::start("slowed");
    let limits = RateLimits {
        login_failures_before_slowing: 3,
        login_slowing_interval_secs: 30,
        ..RateLimits::default()
    };
    let (a, b) = (
        node(&store, &limits, SharedSettings::default()),
        node(&store, &limits, SharedSettings::default()),
    );
    let now = datetime!(2026-12-07 10:00 UTC);
    let account = "camille@example.org";
    for i in 0..3 {
        let node = if i % 2 == 0 { &a } else { &b };
        node.login_failed(now, account).await;
    }
    // the one attempt of the interval, then the other node refuses with the wait
    assert_eq!(
        a.login(now, client(1), account, false).await,
        LoginGate::Allowed
    );
    match b.login(now, client(2), account, false).await {
        LoginGate::SlowedDown { retry_after_secs } => {
            assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}");
        }
        other => panic!("expected a slowed account, got {other:?}"),
    }
    // a browser that signed in before passes
    assert_eq!(
        b.login(now, client(3), account, true).await,
        LoginGate::Allowed
    );
    // a completed reset on one node ends the slowing everywhere
    a.login_cleared(account).await;
    assert_eq!(
        b.login(now, client(4), account, false).await,
        LoginGate::Allowed
    );
    assert_eq!(
        b.login(now, client(4), account, false).await,
        LoginGate::Allowed
    );
    assert!(!store.keys().contains("camille"));
}

#[tokio::test]
async fn with_the_store_down_each_node_counts_on_its_own_says_so_and_shares_again_when_it_is_back()
{
    let mut store = Store::start("down");
    let limits = RateLimits {
        verifications_per_client_per_minute: 4,
        ..RateLimits::default()
    };
    let settings = SharedSettings {
        timeout: Duration::from_millis(200),
        retry_after: Duration::from_millis(50),
    };
    let a = node(&store, &limits, settings);
    assert!(a.verification(client(1)).await);
    assert_eq!(a.sharing(), Sharing::Shared);

    store.down();
    let started = Instant::now();
    let mut allowed = 0;
    for _ in 0..10 {
        if a.verification(client(1)).await {
            allowed += 1;
        }
    }
    // never open, never closed: the node's own budget
    assert_eq!(allowed, 4, "counted on the node while the store is away");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a store that is down must not hold the requests: {:?}",
        started.elapsed()
    );
    assert_eq!(a.sharing(), Sharing::Degraded);
    assert!(a.fallbacks() >= 10, "{}", a.fallbacks());

    store.up();
    // the store is asked again once `retry_after` has passed; bounded wait for that
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        a.verification(client(5)).await;
        if a.sharing() == Sharing::Shared {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the limits were not shared again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = a.fallbacks();
    assert!(a.verification(client(6)).await);
    assert_eq!(a.fallbacks(), before, "counted in the store again");
}

#[tokio::test]
async fn an_address_that_is_not_a_store_is_refused_at_start() {
    let limits = RateLimits::default();
    let error = SharedCounters::new(
        "http://example.org",
        SECRET,
        &limits,
        SharedSettings::default(),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("adresse du magasin des limites"),
        "{error}"
    );
}
