//! Past one machine, tested: two `sand serve` nodes behind HAProxy (round-robin, health
//! checks on `/health/ready`), a PostgreSQL primary and its streaming replica, the rate
//! limits in a shared Redis, a real SMTP sink (topology.rs starts them all). Everything a
//! user does goes through the balancer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod topology;

#[path = "../support/attach.rs"]
mod attach;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sand_domain::credentials::{Email, Password};
use sand_domain::identity::{BirthDate, BirthName, FirstNames, Identity};
use sand_domain::ports::{Clock, Mail, Mailer, PasswordHasher, ProfileRepository};
use sand_domain::profile::{NewCredentials, NewProfile};
use sand_http::hasher::Argon2Hasher;
use sand_http::system::SystemClock;
use sand_persistence::keys::KeyProtector;
use sand_persistence::{Store, StoreSettings};
use topology::{Cluster, NodeSettings, SECRET};

fn settings(args: &[&str], shared_limits: bool, replica_reads: bool) -> NodeSettings {
    NodeSettings {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        shared_limits,
        replica_reads,
        log: "warn".to_owned(),
        sand: PathBuf::from(env!("CARGO_BIN_EXE_sand")),
    }
}

/// A demonstration data set of three scopes (batches of 200), written once per cluster.
fn manifests(cluster: &Cluster) -> Vec<PathBuf> {
    let out = cluster.dir.join("data");
    let status = cluster
        .sand()
        .args([
            "demo",
            "generate",
            "--records",
            "600",
            "--seed",
            "3",
            "--batch-size",
            "200",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success());
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    manifests.sort();
    assert_eq!(manifests.len(), 3, "{manifests:?}");
    manifests
}

/// The primary's store, as its administrator, with the nodes' secret.
async fn admin_store(cluster: &Cluster) -> Store {
    Store::connect(
        &StoreSettings::new(cluster.primary.admin_url(&cluster.database)),
        KeyProtector::from_secret(SECRET.as_bytes()).unwrap(),
    )
    .await
    .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn node_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-sand-node")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned()
}

async fn verify(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    name: &str,
) -> (u16, String, serde_json::Value) {
    let response = client
        .post(format!("{base}/api/v1/verifications"))
        .json(&serde_json::json!({ "cle": key, "nom": name }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the client saw an error: {e}"));
    let node = node_of(&response);
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, node, body)
}

async fn ready(client: &reqwest::Client, node: &str) -> serde_json::Value {
    client
        .get(format!("{node}/health/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Polls `node`'s readiness until `wanted` holds (bounded).
async fn ready_until(
    client: &reqwest::Client,
    node: &str,
    what: &str,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = ready(client, node).await;
        if wanted(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{node}: never {what}; last {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_burst_costs_no_answer_and_every_valid_answer_has_its_event() {
    let mut cluster = Cluster::start(
        "burst",
        settings(&["--verifications-per-minute", "1000000"], true, true),
    );
    cluster.migrate();
    cluster.import(&manifests(&cluster));
    let keys = attach::attach_keys(&cluster.primary.admin_url(&cluster.database), SECRET, 30).await;
    cluster.start_node("a");
    cluster.start_node("b");
    cluster.start_balancer();
    let base = cluster.public_url();

    let mut victim = cluster.nodes[0].child.take().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let total = 600;
    let keys = Arc::new(keys);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (keys, answered, base) = (Arc::clone(&keys), Arc::clone(&answered), base.clone());
        tasks.push(tokio::spawn(async move {
            let client = http();
            let mut seen = Vec::new();
            for i in (worker..total).step_by(8) {
                let attached = &keys[i % keys.len()];
                let (status, node, body) =
                    verify(&client, &base, &attached.key, &attached.name).await;
                answered.fetch_add(1, Ordering::SeqCst);
                seen.push((i, status, node, body["valide"] == true));
            }
            seen
        }));
    }
    // node a dies (SIGKILL) once a quarter of the burst is answered
    let killer = {
        let answered = Arc::clone(&answered);
        tokio::spawn(async move {
            while answered.load(Ordering::SeqCst) < total / 4 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            victim.kill().unwrap();
            victim.wait().unwrap();
            answered.load(Ordering::SeqCst)
        })
    };
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    let killed_at = killer.await.unwrap();
    assert!(killed_at < total, "the node was killed mid-burst");

    let failed: Vec<_> = results
        .iter()
        .filter(|(_, status, _, valid)| *status != 200 || !valid)
        .collect();
    assert!(
        failed.is_empty(),
        "{} answers were not 200 valid: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let by_node = results
        .iter()
        .fold(HashMap::<&str, usize>::new(), |mut m, (_, _, node, _)| {
            *m.entry(node.as_str()).or_default() += 1;
            m
        });
    assert!(by_node.get("a").copied().unwrap_or(0) > 0, "{by_node:?}");
    assert!(
        by_node.get("b").copied().unwrap_or(0) > total / 2,
        "{by_node:?}"
    );

    // every valid answer has its event: per holder, at least as many events as answers
    // (a request retried after node a wrote its event may have two)
    let mut answers: HashMap<String, usize> = HashMap::new();
    for (i, _, _, _) in &results {
        *answers
            .entry(keys[i % keys.len()].name.clone())
            .or_default() += 1;
    }
    let events: HashMap<String, usize> = cluster
        .primary
        .psql(
            &cluster.database,
            "SELECT r.birth_name, count(*) FROM verification_event e JOIN link l ON l.id = e.link_id \
             JOIN diploma_record r ON r.id = l.record_id GROUP BY 1",
        )
        .lines()
        .map(|l| {
            let (name, n) = l.rsplit_once('|').unwrap();
            (name.to_owned(), n.parse().unwrap())
        })
        .collect();
    for (name, n) in &answers {
        let recorded = events.get(name).copied().unwrap_or(0);
        assert!(
            recorded >= *n,
            "{name}: {n} valid answers, {recorded} events"
        );
    }
    let extra: usize = events.values().sum::<usize>() - total;
    eprintln!(
        "burst: {total} answered, 0 errors, node a killed after {killed_at}, by node {by_node:?}, {extra} event(s) of retried requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_those_of_one_node_and_a_session_opened_on_one_node_works_on_the_other() {
    let mut cluster = Cluster::start(
        "limits",
        settings(
            &[
                "--share-openings-per-minute",
                "12",
                "--wrong-answers-per-key-per-client",
                "5",
            ],
            true,
            false,
        ),
    );
    cluster.migrate();
    cluster.start_node("a");
    cluster.start_node("b");
    cluster.start_balancer();
    let base = cluster.public_url();
    let client = http();
    for node in &cluster.nodes {
        let body = ready(&client, &node.url()).await;
        assert_eq!(body["limites"], "partagees", "{body}");
    }

    // a budget per client per minute: 12 openings, whichever node answers
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    let mut nodes: HashMap<String, usize> = HashMap::new();
    for i in 0..30 {
        let response = client
            .get(format!("{base}/partage/{:0>43}", i))
            .send()
            .await
            .unwrap();
        *nodes.entry(node_of(&response)).or_default() += 1;
        *statuses.entry(response.status().as_u16()).or_default() += 1;
    }
    assert_eq!(statuses.get(&404), Some(&12), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&18), "{statuses:?}");
    assert_eq!(nodes.len(), 2, "both nodes answered: {nodes:?}");

    // a key guesser: 5 wrong answers for one key, then refused, across the nodes
    let mut wrong = 0;
    let mut refused = 0;
    for _ in 0..12 {
        match verify(&client, &base, "2A0WEJRH", "DURAND").await {
            (200, _, body) if body["valide"] == false => wrong += 1,
            (429, _, _) => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!((wrong, refused), (5, 7));

    // a session opened through one node is valid on the other
    let store = admin_store(&cluster).await;
    let password = "un mot de passe de cluster";
    let email = Email::parse("camille.noeud@example.org").unwrap();
    let birth_name = BirthName::parse("Noeud").unwrap();
    let hash = Argon2Hasher::new(1)
        .hash(&Password::new_for_account(password, &email, &birth_name).unwrap())
        .await
        .unwrap();
    let today = SystemClock.now().date();
    store
        .profiles()
        .create(NewProfile {
            identity: Identity {
                birth_name,
                first_names: FirstNames::parse_text("Camille").unwrap(),
                birth_date: BirthDate::parse_iso("2001-02-03", today).unwrap(),
                birth_place: None,
                birth_place_code: None,
            },
            email,
            email_verified: true,
            credentials: NewCredentials::Password(hash),
            identity_certified: false,
            birth_date_presumed: false,
            created_at: SystemClock.now(),
        })
        .await
        .unwrap();
    let form = client
        .get(format!("{base}/connexion"))
        .send()
        .await
        .unwrap();
    let mut cookies: Vec<String> = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let page = form.text().await.unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let login = client
        .post(format!("{base}/connexion"))
        .header("cookie", cookies.join("; "))
        .header("origin", &base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "camille.noeud@example.org"),
            ("mot_de_passe", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303, "{:?}", login.text().await);
    let opened_on = node_of(&login);
    cookies.extend(
        login
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned()),
    );
    let mut served_by = HashMap::<String, usize>::new();
    for _ in 0..6 {
        let mine = client
            .get(format!("{base}/api/v1/moi/diplomes"))
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        assert_eq!(mine.status().as_u16(), 200);
        *served_by.entry(node_of(&mine)).or_default() += 1;
    }
    assert_eq!(
        served_by.len(),
        2,
        "opened on {opened_on}, used on {served_by:?}"
    );

    // the limit store goes away: both nodes keep serving, each within its own limits,
    // and say so
    cluster.stop_redis();
    for _ in 0..4 {
        let (status, _, _) = verify(&client, &base, "7K3M9QXR", "MARTIN").await;
        assert_eq!(status, 200);
    }
    for node in &cluster.nodes {
        ready_until(&client, &node.url(), "counting on its own", |b| {
            b["status"] == "ok" && b["limites"] == "locales_en_secours"
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_to_the_primary_while_the_replica_lags_past_the_threshold_or_is_down() {
    let mut cluster = Cluster::start("replica", settings(&[], false, true));
    cluster.migrate();
    let manifests = manifests(&cluster);
    cluster.import(&manifests[..2]);
    cluster.start_node("a");
    cluster.start_node("b");
    cluster.start_balancer();
    let base = cluster.public_url();
    let client = http();
    let nodes: Vec<String> = cluster.nodes.iter().map(topology::Node::url).collect();
    for node in &nodes {
        let body = ready_until(&client, node, "reading from the replica", |b| {
            b["lectures"]["depuis"] == "replique"
        })
        .await;
        assert_eq!(body["status"], "ok");
    }
    let catalogue = |client: reqwest::Client, base: String| async move {
        let response = client
            .get(format!("{base}/api/v1/catalogue"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        response.text().await.unwrap()
    };
    let before = catalogue(client.clone(), base.clone()).await;
    assert!(!before.contains("2021"), "{before}");

    // replay paused on the replica, a new batch on the primary: past the threshold
    // (500 ms), the catalogue is read from the primary and shows the batch
    cluster
        .replica
        .psql("postgres", "SELECT pg_wal_replay_pause()");
    cluster.import(&manifests[2..]);
    for node in &nodes {
        let body = ready_until(&client, node, "reading from the primary", |b| {
            b["lectures"]["depuis"] == "primaire"
        })
        .await;
        assert_eq!(body["lectures"]["raison"], "replique_en_retard", "{body}");
        assert!(
            body["lectures"]["retard_ms"].as_u64().unwrap() >= 500,
            "{body}"
        );
        assert_eq!(
            body["status"], "ok",
            "a lagging replica does not stop the node"
        );
    }
    for _ in 0..4 {
        let now = catalogue(client.clone(), base.clone()).await;
        assert!(now.contains("2021"), "read from the primary: {now}");
    }

    // replay resumed: back to the replica
    cluster
        .replica
        .psql("postgres", "SELECT pg_wal_replay_resume()");
    for node in &nodes {
        ready_until(&client, node, "back on the replica", |b| {
            b["lectures"]["depuis"] == "replique"
        })
        .await;
    }

    // the replica down: the primary serves, readiness says why
    cluster.replica.crash();
    for node in &nodes {
        let body = ready_until(&client, node, "reading from the primary", |b| {
            b["lectures"]["raison"] == "replique_injoignable"
        })
        .await;
        assert_eq!(body["status"], "ok", "{body}");
    }
    for _ in 0..4 {
        assert!(
            catalogue(client.clone(), base.clone())
                .await
                .contains("2021")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_live_senders_deliver_each_mail_of_the_outbox_once() {
    let mut cluster = Cluster::start("outbox", settings(&[], false, false));
    cluster.migrate();
    cluster.start_node("a");
    cluster.start_node("b");
    let store = admin_store(&cluster).await;
    let mailer = store.mailer();
    let count = 60;
    for i in 0..count {
        mailer
            .send(Mail::ProfileDeleted {
                to: Email::parse(&format!("destinataire{i}@example.org")).unwrap(),
            })
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let depth = cluster
            .primary
            .psql(&cluster.database, "SELECT count(*) FROM mail_outbox");
        if depth == "0" && cluster.mails().len() >= count {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox was not emptied: {depth} left, {} delivered",
            cluster.mails().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut delivered: HashMap<String, usize> = HashMap::new();
    for mail in cluster.mails() {
        for to in mail["rcpt_tos"].as_array().unwrap() {
            *delivered
                .entry(to.as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert_eq!(delivered.len(), count, "{delivered:?}");
    assert!(
        delivered.values().all(|n| *n == 1),
        "a mail was sent twice: {delivered:?}"
    );
}
