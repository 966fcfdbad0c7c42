//! Faults: the database goes away while the service runs, and comes back.
//!
//! The app reaches a real PostgreSQL through a TCP proxy the test controls: cutting the
//! proxy drops every open connection and refuses new ones, as a crashed or partitioned
//! database does.

use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::{Browser, TestApp};

/// A TCP proxy that can be cut and restored.
pub struct Proxy {
    pub port: u16,
    up: watch::Sender<bool>,
    /// Connections being relayed.
    open: watch::Receiver<usize>,
}

impl Proxy {
    pub async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, _) = watch::channel(true);
        let state = up.clone();
        let (open_tx, open) = watch::channel(0_usize);
        let open_tx = Arc::new(open_tx);
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !*state.borrow() {
                    drop(client);
                    continue;
                }
                let mut cut = state.subscribe();
                let upstream = upstream.clone();
                let open = Arc::clone(&open_tx);
                open.send_modify(|n| *n += 1);
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        tokio::select! {
                            _ = copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.wait_for(|up| !*up) => {}
                        }
                    }
                    // both sockets are closed when this task ends
                    drop(client);
                    open.send_modify(|n| *n -= 1);
                });
            }
        });
        Self { port, up, open }
    }

    /// Drops every connection and refuses new ones; returns once every relayed
    /// connection is closed (no query is cut half-way by the test's own timing).
    pub async fn cut(&self) {
        self.up.send_replace(false);
        let mut open = self.open.clone();
        let _ = open.wait_for(|n| *n == 0).await;
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// A fresh PostgreSQL database reached through a proxy: (proxy, url through it).
async fn postgres_behind_a_proxy() -> (Proxy, String) {
    let admin = std::env::var("SAND_TEST_POSTGRES_URL")
        .expect("SAND_TEST_POSTGRES_URL is not set: run the suite with `bash tests/run.sh`");
    let name = format!("sand_faults_{}", uuid::Uuid::new_v4().simple());
    {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&admin).await.unwrap();
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        db.close().await.unwrap();
    }
    // postgres://user@host:port/db → host:port
    let rest = admin.split_once("://").unwrap().1;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split('/').next().unwrap().to_owned();
    let user = rest.split_once('@').map_or("postgres", |(u, _)| u);
    let proxy = Proxy::to(host_port).await;
    let url = format!("postgres://{user}@127.0.0.1:{}/{name}", proxy.port);
    (proxy, url)
}

async fn dashboard(b: &mut Browser<'_>) -> crate::support::Page {
    b.get("/espace").await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_goes_away_503_in_the_design_then_recovery_and_no_answered_write_lost() {
    let (proxy, url) = postgres_behind_a_proxy().await;
    let app = Arc::new(TestApp::on_database(&url).await);
    let mut camille = app
        .signed_in(
            "Durand",
            "Camille Marie",
            "2003-04-12",
            "camille@exemple.fr",
        )
        .await;
    assert_eq!(camille.attach("BACG", "2021", "10").await.status, 303);
    let key = crate::key_of(&dashboard(&mut camille).await);

    proxy.cut().await;
    // pages: a 503 page in the design, with the request id; the API: a 503 JSON error
    let page = dashboard(&mut camille).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("Service momentanément indisponible"));
    assert!(
        page.body
            .contains("rien de ce que vous aviez déjà enregistré")
    );
    assert!(page.body.contains(page.header("x-request-id")));
    assert!(
        page.body.contains("sand.css"),
        "not in the design: {}",
        page.body
    );
    assert_eq!(
        page.header("retry-after"),
        "30",
        "an outage says when to come back"
    );
    let api = camille.get("/api/v1/moi/diplomes").await;
    assert_eq!(api.status, 503);
    assert_eq!(api.header("retry-after"), "30");
    assert!(
        api.body.contains("\"code\":\"indisponible\""),
        "{}",
        api.body
    );
    let verify = Browser::verify(&app, &key, "Durand").await;
    assert_eq!(verify.status, 503);
    assert!(!verify.body.contains("Attestation valide"));
    // pages that need no database still answer
    assert_eq!(camille.get("/static/sand.css").await.status, 200);

    proxy.restore();
    // the service recovers by itself: no restart, the same session
    let page = dashboard(&mut camille).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&key[..4]),
        "the attach made before the outage is kept"
    );

    // a burst of verifications while the database goes away in the middle: every one
    // answered "valid" left its verification event; the others were answered 503
    let mut tasks = Vec::new();
    let mut before_the_cut = Vec::new();
    for i in 0..40 {
        let app = Arc::clone(&app);
        let key = key.clone();
        let task = tokio::spawn(async move {
            let mut b = app.browser();
            let token = b.get("/verifier").await.csrf();
            let page = b
                .post_form(
                    "/verifier",
                    &[
                        ("csrf", token.as_str()),
                        ("cle", &key),
                        ("nom", "Durand"),
                        ("organisme", &format!("Organisme {i:02}")),
                    ],
                )
                .await;
            (i, page.status, page.body.contains("Attestation valide"))
        });
        // the first ten are answered before the cut: some answers are surely valid
        if i < 10 {
            let answered = task.await.unwrap();
            assert!(
                answered.2,
                "verification {i}, before the cut, was not valid"
            );
            before_the_cut.push(answered);
        } else {
            tasks.push(task);
        }
        if i == 20 {
            proxy.cut().await;
        }
    }
    let mut answered_valid = Vec::new();
    let mut refused = 0;
    let mut answers = before_the_cut;
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    for (i, status, valid) in answers {
        assert!(status == 200 || status == 503, "{status}");
        assert_eq!(valid, status == 200);
        refused += usize::from(status == 503);
        if valid {
            answered_valid.push(format!("Organisme {i:02}"));
        }
    }
    // the 19 sent after the cut at least were refused; the first ten were valid
    assert!(refused >= 19, "{refused}");
    assert!(answered_valid.len() >= 10, "{answered_valid:?}");
    proxy.restore();
    let page = dashboard(&mut camille).await;
    assert_eq!(page.status, 200);
    for organisation in &answered_valid {
        assert!(
            page.body.contains(organisation.as_str()),
            "{organisation} was answered valid but its verification is not recorded"
        );
    }
}
