//! Faults around the process and its disk: a full or read-only disk under the embedded
//! database, and `kill -9` in the middle of a burst of attaches and detaches.

#![allow(clippy::panic, clippy::zombie_processes)] // the started child is returned to the caller, which stops it

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub(crate) const PASSWORD: &str = "une phrase de passe assez longue";

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sand-{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn sand(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sand"))
        .current_dir(dir)
        .args(args)
        .env_remove("SAND_DATABASE_URL")
        .env_remove("SAND_CONFIG")
        .output()
        .unwrap()
}

/// `sand serve --demo` on `database`, started: (child, address), or its stderr if it
/// stopped before listening.
pub(crate) fn serve(dir: &Path, database: &str) -> Result<(Child, String), String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
    command
        .current_dir(dir)
        .args([
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database,
        ])
        .args(["--mail-dir", "mail"])
        .env_remove("SAND_CONFIG")
        .stderr(Stdio::piped());
    let served = sand_testkit::serve(command)?;
    Ok((served.child, served.ready.listen))
}

pub(crate) fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A minimal HTTP/1.1 client with a cookie jar (one connection a request).
pub(crate) struct Http {
    pub(crate) address: String,
    pub(crate) cookies: BTreeMap<String, String>,
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Http {
    pub(crate) fn new(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    pub(crate) fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, String) {
        // a server killed before the connection: no answer at all, status 0
        let Ok(mut stream) = TcpStream::connect(&self.address) else {
            return (0, String::new());
        };
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.address
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        let (content_type, body) = body.unwrap_or(("text/plain", ""));
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        // a server killed mid-answer: an empty response, status 0
        let _ = stream.read_to_string(&mut response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        for line in head.lines() {
            if let Some(set) = line
                .strip_prefix("set-cookie: ")
                .or_else(|| line.strip_prefix("Set-Cookie: "))
            {
                let pair = set.split(';').next().unwrap();
                if let Some((name, value)) = pair.split_once('=') {
                    if value.is_empty() || set.contains("Max-Age=0") {
                        self.cookies.remove(name);
                    } else {
                        self.cookies.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
        }
        (status, body.to_owned())
    }

    pub(crate) fn get(&mut self, path: &str) -> (u16, String) {
        self.send("GET", path, None)
    }

    pub(crate) fn csrf(&mut self, page: &str) -> String {
        csrf_in(&self.get(page).1)
    }

    pub(crate) fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        self.send(
            "POST",
            path,
            Some(("application/x-www-form-urlencoded", &body.join("&"))),
        )
    }

    pub(crate) fn register(
        &mut self,
        birth_name: &str,
        first_names: &str,
        birth_date: &str,
        email: &str,
    ) -> (u16, String) {
        let token = self.csrf("/compte/creer");
        let fields = [
            ("nom", birth_name),
            ("prenoms", first_names),
            ("naissance", birth_date),
            ("email", email),
        ];
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(&fields);
        let (status, page) = self.post_form("/compte/creer", &all);
        assert_eq!(status, 200, "{page}");
        let token = csrf_in(&page);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(&fields);
        all.extend_from_slice(&[("mot_de_passe", PASSWORD), ("confirmation", PASSWORD)]);
        self.post_form("/compte/creer/confirmer", &all)
    }
}

/// The CSRF token of the form in `page`.
pub(crate) fn csrf_in(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// Waits for the confirmation mail to `email` in `mail_dir` (the outbox sender writes
/// it within its round) and returns the token of its link.
pub(crate) fn confirmation_token(mail_dir: &Path, email: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(entries) = std::fs::read_dir(mail_dir) {
            for entry in entries.flatten() {
                let raw = std::fs::read_to_string(entry.path()).unwrap_or_default();
                let text = raw
                    .replace("=\r\n", "")
                    .replace("=\n", "")
                    .replace("=3D", "=");
                if text.contains(email)
                    && let Some(at) = text.find("/compte/confirmer?jeton=")
                {
                    let token: String = text[at + 24..]
                        .chars()
                        .take_while(|c| {
                            c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.'
                        })
                        .collect();
                    return token;
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no confirmation mail for {email}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Camille Durand (born 2003-04-12, the demo set's first graduate) registers on the
/// service at `address`, confirms from the mail written under `work/mail`, and is signed in.
pub(crate) fn signed_up(address: &str, work: &Path) -> Http {
    let mut camille = Http::new(address);
    let (status, page) = camille.register(
        "Durand",
        "Camille Marie",
        "2003-04-12",
        "camille@exemple.fr",
    );
    assert!(status == 200 || status == 303, "{page}");
    let token = confirmation_token(&work.join("mail"), "camille@exemple.fr");
    // the link asks for the password chosen at registration, then signs in
    let csrf = camille.csrf(&format!("/compte/confirmer?jeton={token}"));
    let (status, _) = camille.post_form(
        "/compte/confirmer",
        &[
            ("csrf", &csrf),
            ("jeton", &token),
            ("mot_de_passe", PASSWORD),
        ],
    );
    assert_eq!(status, 303);
    camille
}

/// A tmpfs of `size` mounted on a new directory (the test needs root, as in CI).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = temp_dir("tmpfs");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "this test mounts a small tmpfs to fill it: it needs root (as the test command runs)"
        );
        Self(dir)
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Fills the file system to the last byte.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while file.write_all(&block).is_ok() {}
        let _ = file.write_all(&[0u8; 1]);
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn an_embedded_database_on_a_full_or_read_only_disk_is_a_clear_error_at_start_and_on_write() {
    let disk = Tmpfs::mount("2m");
    let work = temp_dir("disk-work");
    let database = format!("sqlite://{}", disk.0.join("sand.db").display());
    assert!(
        sand(&work, &["migrate", "--database-url", &database])
            .status
            .success()
    );

    disk.remount("ro");
    let stderr = serve(&work, &database).expect_err("started on a read-only disk");
    assert!(
        stderr.contains("la base de données ne peut pas être écrite"),
        "{stderr}"
    );
    disk.remount("rw");

    disk.fill();
    let stderr = serve(&work, &database).expect_err("started on a full disk");
    assert!(
        stderr.contains("la base de données ne peut pas être écrite"),
        "{stderr}"
    );
    disk.free();

    // the disk fills while the service runs: a write is refused with a clear 503 page,
    // and goes through once there is room again
    let (child, address) = serve(&work, &database).unwrap();
    let mut b = Http::new(&address);
    disk.fill();
    let (status, page) = b.register(
        "Durand",
        "Camille Marie",
        "2003-04-12",
        "camille@exemple.fr",
    );
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("Service momentanément indisponible"));
    disk.free();
    let (status, page) = b.register(
        "Durand",
        "Camille Marie",
        "2003-04-12",
        "camille@exemple.fr",
    );
    assert!(status == 200 || status == 303, "{status}: {page}");
    stop(child);
    let check = sand(&work, &["migrate", "--database-url", &database]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn kill_9_during_a_burst_of_attaches_and_detaches_leaves_no_half_done_link() {
    let work = temp_dir("kill9");
    let database = format!("sqlite://{}", work.join("sand.db").display());
    let out = sand(
        &work,
        &["demo", "generate", "--records", "300", "--out", "demo"],
    );
    assert!(out.status.success());
    let out = sand(
        &work,
        &["import", "demo", "--quiet", "--database-url", &database],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (child, address) = serve(&work, &database).unwrap();
    let camille = signed_up(&address, &work);

    // attach, detach, attach… from four clients sharing the session, then kill -9
    let cookies = camille.cookies.clone();
    let attached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let address = address.clone();
            let cookies = cookies.clone();
            let attached = std::sync::Arc::clone(&attached);
            std::thread::spawn(move || {
                let mut b = Http { address, cookies };
                for _ in 0..200 {
                    let (status, body) = b.send(
                        "POST",
                        "/api/v1/moi/diplomes",
                        Some((
                            "application/json",
                            r#"{"diplome":"BACG","session":2021,"academie":"10"}"#,
                        )),
                    );
                    if status == 0 {
                        return; // killed
                    }
                    // concurrent writers on one SQLite file: answers, never a failure
                    // (422 when another worker deleted the link between the two steps
                    // of "already yours")
                    assert!(
                        [200, 201, 429].contains(&status)
                            || (status == 422 && body.contains("supprime_entre_temps")),
                        "attach answered {status}: {body}"
                    );
                    if let Some(at) = body.find("\"id\":\"") {
                        attached.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let id = &body[at + 6..at + 6 + 36];
                        let (status, body) =
                            b.send("DELETE", &format!("/api/v1/moi/diplomes/{id}"), None);
                        if status == 0 {
                            return;
                        }
                        // another worker may have deleted it first
                        assert!(
                            [204, 404].contains(&status),
                            "delete answered {status}: {body}"
                        );
                    }
                }
            })
        })
        .collect();
    // let the burst run, then kill the server without warning
    let mut probe = Http {
        address: address.clone(),
        cookies: cookies.clone(),
    };
    for _ in 0..30 {
        probe.get("/api/v1/moi/diplomes");
    }
    let killed = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut child = child;
    child.wait().unwrap();
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(
        attached.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the burst attached nothing before the kill"
    );

    // after a restart: the database is whole, and each link is there with a key that
    // verifies, or absent
    let (child, address) = serve(&work, &database).unwrap();
    let mut camille = Http {
        address: address.clone(),
        cookies,
    };
    let (status, list) = camille.get("/api/v1/moi/diplomes");
    assert_eq!(status, 200, "{list}");
    let links = list.matches("\"id\":\"").count();
    assert!(links <= 1, "one diploma can be attached once: {list}");
    if links == 1 {
        let at = list
            .find("\"cle\":\"")
            .expect("an attached diploma has its key")
            + 7;
        let key = &list[at..at + list[at..].find('"').unwrap()];
        let (status, answer) = Http::new(&address).send(
            "POST",
            "/api/v1/verifications",
            Some((
                "application/json",
                &format!(r#"{{"cle":"{key}","nom":"Durand"}}"#),
            )),
        );
        assert_eq!(status, 200);
        assert!(answer.contains("\"valide\":true"), "{answer}");
    }
    stop(child);
    // SQLite's own checks: the file is whole and no row points at a missing one
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let db = sea_orm::Database::connect(&database).await.unwrap();
        let integrity = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(integrity.try_get_by_index::<String>(0).unwrap(), "ok");
        let orphans = db
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA foreign_key_check",
            ))
            .await
            .unwrap();
        assert!(
            orphans.is_empty(),
            "{} rows point at missing rows",
            orphans.len()
        );
        db.close().await.unwrap();
    });
    std::fs::remove_dir_all(work).unwrap();
}
