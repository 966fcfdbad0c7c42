//! A deployment past one machine, on this one, from Debian's packages and the project's
//! own binary: a PostgreSQL primary and its streaming replica (`pg_basebackup -R`), the
//! shared limit store (`redis-server`), two `sand serve` nodes, a real SMTP sink
//! (tests/smtp_sink.py), and HAProxy in front, balancing round-robin with health checks
//! on `/health/ready` and retrying a request a dead node dropped. Every port is chosen
//! by the system; every process stops when the [`Cluster`] is dropped.
//!
//! Shared by the cluster tests and `just bench-cluster` (`#[path]`-included).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The server secret every node shares.
pub const SECRET: &str = "cluster-test-secret-shared-by-every-node-0123456789";

fn die(what: &str) -> ! {
    panic!(
        "the cluster topology needs {what}: tests/run.sh installs it (Debian packages postgresql, redis-server, haproxy; python3 with aiosmtpd)"
    )
}

/// A port free now (the system's choice); bound by its user just after.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn pg_bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap_or_else(|_| die("PostgreSQL's server binaries"))
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop().unwrap_or_else(|| die("PostgreSQL's initdb"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs a PostgreSQL tool as the cluster's owner (`postgres` when the tests run as root).
fn pg(tool: &str) -> Command {
    let path = pg_bindir().join(tool);
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(path);
        command
    } else {
        Command::new(path)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One PostgreSQL server of the pair.
#[derive(Debug)]
pub struct Postgres {
    pub data: PathBuf,
    pub port: u16,
    log: PathBuf,
    options: String,
}

impl Postgres {
    /// `postgres://postgres@127.0.0.1:PORT/DB` (the administrator).
    pub fn admin_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn start(&self) {
        let mut command = pg("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-w", "-t", "60", "-o", &self.options, "start"]);
        run(command, "pg_ctl start");
    }

    /// Stops at once, as a crash would.
    pub fn crash(&self) {
        let mut command = pg("pg_ctl");
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = command.output();
    }

    /// One SQL statement as the administrator, its text output.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new(pg_bindir().join("psql"))
            .arg(self.admin_url(database))
            .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"));
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// A `sand serve` node.
#[derive(Debug)]
pub struct Node {
    pub name: &'static str,
    pub child: Option<Child>,
    pub address: String,
}

impl Node {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Kills the node at once (SIGKILL): no graceful stop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What the nodes are started with beyond the topology.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// Extra `sand serve` arguments (limits…).
    pub args: Vec<String>,
    /// Whether the nodes count the limits in the shared store.
    pub shared_limits: bool,
    /// Whether the nodes read from the replica.
    pub replica_reads: bool,
    /// `SAND_LOG`.
    pub log: String,
    /// The binary (the test's debug build, or the benchmark's release build).
    pub sand: PathBuf,
}

/// The whole topology.
#[derive(Debug)]
pub struct Cluster {
    pub dir: PathBuf,
    pub primary: Postgres,
    pub replica: Postgres,
    pub database: String,
    /// The web role's login, on both servers.
    pub web_login: String,
    redis: Option<Child>,
    pub redis_socket: PathBuf,
    smtp: Option<(Child, ChildStdin)>,
    pub smtp_port: u16,
    pub mail_dir: PathBuf,
    pub nodes: Vec<Node>,
    haproxy: Option<Child>,
    pub balancer_port: u16,
    /// What the next nodes are started with.
    pub settings: NodeSettings,
}

impl Cluster {
    /// The primary, the replica, the limit store and the SMTP sink; no node yet.
    pub fn start(name: &str, settings: NodeSettings) -> Self {
        let dir = std::env::temp_dir().join(format!("sand-cluster-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mail_dir = dir.join("mail");
        std::fs::create_dir_all(&mail_dir).unwrap();
        let pg_dir = dir.join("pg");
        std::fs::create_dir_all(&pg_dir).unwrap();
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("-R").arg("postgres").arg(&pg_dir);
                    c
                },
                "chown postgres",
            );
        }
        let options = |port: u16| {
            format!(
                "-p {port} -h 127.0.0.1 -k {} -c fsync=off -c full_page_writes=off \
                 -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on \
                 -c max_connections=200 -c wal_receiver_status_interval=1",
                pg_dir.display()
            )
        };
        let primary = Postgres {
            data: pg_dir.join("primary"),
            port: free_port(),
            log: pg_dir.join("primary.log"),
            options: String::new(),
        };
        let primary = Postgres {
            options: options(primary.port),
            ..primary
        };
        let mut initdb = pg("initdb");
        initdb.arg("-D").arg(&primary.data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");
        primary.start();
        let database = "sand".to_owned();
        primary.psql("postgres", &format!("CREATE DATABASE {database}"));

        // the replica: a base backup of the primary that streams from it (-R)
        let replica = Postgres {
            data: pg_dir.join("replica"),
            port: free_port(),
            log: pg_dir.join("replica.log"),
            options: String::new(),
        };
        let replica = Postgres {
            options: options(replica.port),
            ..replica
        };
        let mut backup = pg("pg_basebackup");
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &primary.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(&replica.data)
            .args(["-R", "-X", "stream", "-c", "fast"]);
        run(backup, "pg_basebackup");
        replica.start();

        // the shared limit store, on a socket of its own
        let redis_socket = dir.join("redis.sock");
        let redis = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&redis_socket)
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|_| die("redis-server"));

        // the SMTP sink prints its port, then serves until its standard input closes
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut sink = Command::new("python3")
            .arg(root.join("tests/smtp_sink.py"))
            .arg(&mail_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|_| die("python3"));
        let mut first = String::new();
        BufReader::new(sink.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let smtp_port: u16 = first
            .trim()
            .parse()
            .unwrap_or_else(|_| die("the SMTP sink (python3 -m pip install aiosmtpd)"));
        let stdin = sink.stdin.take().unwrap();

        let cluster = Self {
            dir,
            primary,
            replica,
            database,
            web_login: "cluster_web".to_owned(),
            redis: Some(redis),
            redis_socket,
            smtp: Some((sink, stdin)),
            smtp_port,
            mail_dir,
            nodes: Vec::new(),
            haproxy: None,
            balancer_port: free_port(),
            settings,
        };
        cluster.wait_for_redis();
        cluster
    }

    fn wait_for_redis(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !Command::new("redis-cli")
            .arg("-s")
            .arg(&self.redis_socket)
            .arg("ping")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `sand` binary with the shared secret.
    pub fn sand(&self) -> Command {
        let mut command = Command::new(&self.settings.sand);
        command.env("SAND_SECRET", SECRET).current_dir(&self.dir);
        command
    }

    /// Migrates the primary and creates the web role's login.
    pub fn migrate(&self) {
        let mut migrate = self.sand();
        migrate.args([
            "migrate",
            "--database-url",
            &self.primary.admin_url(&self.database),
        ]);
        run(migrate, "sand migrate");
        self.primary.psql(
            &self.database,
            &format!("CREATE ROLE {} LOGIN IN ROLE sand_web", self.web_login),
        );
    }

    /// Imports the batches of `manifests` (unsigned) into the primary.
    pub fn import(&self, manifests: &[PathBuf]) {
        let mut import = self.sand();
        import
            .arg("import")
            .args(manifests)
            .args(["--quiet", "--allow-unsigned", "--database-url"])
            .arg(self.primary.admin_url(&self.database));
        run(import, "sand import");
    }

    fn web_url(&self, server: &Postgres) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{}",
            self.web_login, server.port, self.database
        )
    }

    /// Starts node `name` (as the web role) and returns its index.
    pub fn start_node(&mut self, name: &'static str) -> usize {
        let mut command = self.sand();
        command
            .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
            .args(["--database-url", &self.web_url(&self.primary)])
            .args(["--public-url", &self.public_url()])
            .args(["--smtp-host", "127.0.0.1", "--smtp-port"])
            .arg(self.smtp_port.to_string())
            .args(["--smtp-security", "none"])
            .args(&self.settings.args)
            .env("SAND_LOG", &self.settings.log)
            .env("SAND_MAIL_DIR", self.dir.join(format!("mail-{name}")))
            .stderr(Stdio::inherit());
        if self.settings.replica_reads {
            command
                .args(["--database-read-url", &self.web_url(&self.replica)])
                .args([
                    "--database-read-max-lag-ms",
                    "500",
                    "--database-read-check-ms",
                    "50",
                ]);
        }
        if self.settings.shared_limits {
            command
                .arg("--rate-limit-store-url")
                .arg(format!("redis+unix://{}", self.redis_socket.display()));
        }
        let served = sand_testkit::serve(command).unwrap_or_else(|e| panic!("node {name}: {e}"));
        self.nodes.push(Node {
            name,
            address: served.ready.listen.clone(),
            child: Some(served.child),
        });
        self.nodes.len() - 1
    }

    /// The address every user reaches: the balancer.
    pub fn public_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.balancer_port)
    }

    /// Starts HAProxy in front of the nodes started so far, and waits until it sees
    /// every one of them ready.
    pub fn start_balancer(&mut self) {
        self.stop_balancer();
        let servers: String = self
            .nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| format!("    server {} {} check\n", n.name, n.address))
            .collect();
        let config = format!(
            "global\n    maxconn 2000\n    stats socket {dir}/haproxy.sock mode 600 level admin\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\
             \x20   retries 3\n    option redispatch 1\n    retry-on conn-failure empty-response response-timeout\n\
             \x20   option http-buffer-request\n\
             frontend www\n    bind 127.0.0.1:{port}\n    http-request set-header X-Forwarded-For %[src]\n    default_backend sand\n\
             backend sand\n    balance roundrobin\n    option httpchk GET /health/ready\n    http-check expect status 200\n\
             \x20   default-server inter 100ms fall 2 rise 2\n    http-response set-header X-Sand-Node %s\n{servers}",
            dir = self.dir.display(),
            port = self.balancer_port,
        );
        let path = self.dir.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let haproxy = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|_| die("haproxy"));
        self.haproxy = Some(haproxy);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.balancer_up() < self.nodes.iter().filter(|n| n.child.is_some()).count() {
            assert!(
                Instant::now() < deadline,
                "HAProxy did not see the nodes ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops HAProxy.
    pub fn stop_balancer(&mut self) {
        if let Some(mut haproxy) = self.haproxy.take() {
            let _ = haproxy.kill();
            let _ = haproxy.wait();
        }
    }

    /// How many servers HAProxy counts as up.
    pub fn balancer_up(&self) -> usize {
        let Ok(mut stream) = std::os::unix::net::UnixStream::connect(self.dir.join("haproxy.sock"))
        else {
            return 0;
        };
        let _ = stream.write_all(b"show stat\n");
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut text);
        text.lines()
            .filter(|l| l.starts_with("sand,") && !l.starts_with("sand,BACKEND"))
            .filter(|l| l.split(',').nth(17) == Some("UP"))
            .count()
    }

    /// Stops the limit store (as a crash would).
    pub fn stop_redis(&mut self) {
        if let Some(mut redis) = self.redis.take() {
            let _ = redis.kill();
            let _ = redis.wait();
        }
    }

    /// The `.json` messages the SMTP sink received.
    pub fn mails(&self) -> Vec<serde_json::Value> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.mail_dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.retain(|p| p.extension().is_some_and(|e| e == "json"));
        names.sort();
        names
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_balancer();
        for node in &mut self.nodes {
            node.kill();
        }
        if let Some((mut sink, stdin)) = self.smtp.take() {
            drop(stdin);
            let _ = sink.kill();
            let _ = sink.wait();
        }
        self.stop_redis();
        self.replica.crash();
        self.primary.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
