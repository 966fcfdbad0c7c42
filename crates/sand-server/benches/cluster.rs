//! `just bench-cluster`: verification requests/s through a real balancer (HAProxy,
//! round-robin) with one SAND node, then with two, on the topology the cluster tests use
//! (tests/cluster/topology.rs: a PostgreSQL primary and its streaming replica, the limits
//! in a shared Redis). Printed beside the same node measured without the balancer, in the
//! same run, and a line with the limits counted in each node, to show what sharing them
//! costs.
//!
//! On one 2-core machine every process (wrk, HAProxy, the nodes, PostgreSQL, Redis)
//! shares the same cores: the second node shows the overhead of the topology, not a
//! second machine's capacity. `SAND_CLUSTER_RECORDS`, `SAND_CLUSTER_KEYS`,
//! `SAND_CLUSTER_SECONDS` and `SAND_CLUSTER_CONNECTIONS` change the sizes (defaults
//! 100 000, 10 000, 10, 32).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic
)]

#[path = "../tests/support/attach.rs"]
mod attach;
// the tests' topology; the benchmark reads no mail
#[allow(dead_code)]
#[path = "../tests/cluster/topology.rs"]
mod topology;
#[path = "../tests/support/wrk.rs"]
mod wrk;

use std::io::Write;
use std::path::PathBuf;

use topology::{Cluster, NodeSettings, SECRET};
use wrk::{Figures, env_or, wrk};

fn line(what: &str, f: &Figures, baseline: Option<&Figures>) {
    let ratio = baseline.map_or(String::new(), |b| {
        format!("  ×{:.2}", f.requests_per_second / b.requests_per_second)
    });
    println!(
        "  {what:<52} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  erreurs {}{ratio}",
        f.requests_per_second, f.p50_ms, f.p99_ms, f.errors
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let records = env_or("SAND_CLUSTER_RECORDS", 100_000);
    let wanted = env_or("SAND_CLUSTER_KEYS", 10_000);
    let seconds = env_or("SAND_CLUSTER_SECONDS", 10);
    let connections = env_or("SAND_CLUSTER_CONNECTIONS", 32);
    wrk::require_wrk();
    let unlimited = [
        "--verifications-per-minute",
        "1000000000",
        "--wrong-answers-per-key-per-client",
        "1000000000",
        "--wrong-answers-per-key",
        "1000000000",
    ];
    let mut cluster = Cluster::start(
        "bench",
        NodeSettings {
            args: unlimited.iter().map(|a| (*a).to_owned()).collect(),
            shared_limits: true,
            replica_reads: true,
            log: "warn".to_owned(),
            sand: PathBuf::from(env!("CARGO_BIN_EXE_sand")),
        },
    );
    println!("Préparation : {records} diplômes importés, {wanted} clés rattachées…");
    cluster.migrate();
    let demo = cluster.dir.join("demo");
    let out = cluster
        .sand()
        .args([
            "demo",
            "generate",
            "--records",
            &records.to_string(),
            "--single-batch",
            "--out",
        ])
        .arg(&demo)
        .output()
        .unwrap();
    assert!(out.status.success());
    cluster.import(&[demo]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let keys = runtime.block_on(attach::attach_keys(
        &cluster.primary.admin_url(&cluster.database),
        SECRET,
        wanted,
    ));
    let keys_file = cluster.dir.join("keys.txt");
    let mut file = std::fs::File::create(&keys_file).unwrap();
    for attached in &keys {
        writeln!(file, "{};{}", attached.key, attached.name).unwrap();
    }
    let script = cluster.dir.join("valid.lua");
    wrk::write_valid_script(&script, &keys_file);
    let path = "/api/v1/verifications";
    println!(
        "PostgreSQL primaire + réplique en flux (fsync, full_page_writes off : jetable), limites dans Redis, \
         wrk -c{connections} {seconds} s, clés valides"
    );

    let a = cluster.start_node("a");
    let direct = wrk(
        &cluster.nodes[a].url(),
        path,
        Some(&script),
        seconds,
        connections,
    );
    line("un nœud, sans répartiteur", &direct, None);
    cluster.start_balancer();
    let one = wrk(
        &cluster.public_url(),
        path,
        Some(&script),
        seconds,
        connections,
    );
    line("HAProxy → un nœud", &one, Some(&direct));
    cluster.start_node("b");
    cluster.start_balancer();
    let two = wrk(
        &cluster.public_url(),
        path,
        Some(&script),
        seconds,
        connections,
    );
    line("HAProxy → deux nœuds", &two, Some(&direct));

    // the same two nodes' work with the limits counted in each node
    for node in &mut cluster.nodes {
        node.kill();
    }
    cluster.settings.shared_limits = false;
    cluster.start_node("c");
    cluster.start_node("d");
    cluster.start_balancer();
    let local = wrk(
        &cluster.public_url(),
        path,
        Some(&script),
        seconds,
        connections,
    );
    line(
        "HAProxy → deux nœuds, limites comptées par nœud",
        &local,
        Some(&direct),
    );
    println!(
        "  deux nœuds ÷ un nœud (via HAProxy) : {:.2} ; limites partagées ÷ par nœud : {:.2}",
        two.requests_per_second / one.requests_per_second,
        two.requests_per_second / local.requests_per_second
    );
}
