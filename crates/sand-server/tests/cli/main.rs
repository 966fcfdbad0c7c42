//! The `sand` binary, run as a user runs it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod attestation;
mod config;
mod faults;
mod import;
mod secret;
mod staff;

use std::process::{Command, Output};

fn sand(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sand"))
        .args(args)
        .output()
        .expect("the sand binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 output")
}

#[test]
fn help_lists_every_command() {
    let out = sand(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for command in [
        "migrate",
        "import",
        "demo",
        "keys",
        "attestation",
        "db",
        "academies",
        "diploma-kinds",
        "normalize",
    ] {
        assert!(text.contains(command), "{command} missing from:\n{text}");
    }
}

/// Every option of every command says, in French, what it is for, and `sand --help` says
/// what bare `sand` does.
#[test]
fn every_option_of_every_command_is_described() {
    let top = stdout(&sand(&["--help"]));
    assert!(
        top.contains("Lancé sans commande, `sand` démarre le site de démonstration"),
        "{top}"
    );
    let mut commands: Vec<Vec<String>> = vec![Vec::new()];
    let mut undescribed = Vec::new();
    let mut english = Vec::new();
    let mut seen = 0;
    while let Some(path) = commands.pop() {
        seen += 1;
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let text = stdout(&sand(&args));
        // in French: no line of ours reads as English (clap's own headings and lines,
        // value names and the env/default notes aside)
        for line in text.lines() {
            let ours = !(line.trim_start().starts_with('[')
                || line.contains("Print help")
                || line.contains("Print version")
                || line.contains("Print this message")
                || line.starts_with("Usage:")
                || line.trim_start().starts_with("Possible values"));
            let lower = format!(" {} ", line.to_lowercase());
            if ours
                && [" the ", " and ", " with ", " from ", " is ", " when "]
                    .iter()
                    .any(|w| lower.contains(w))
            {
                english.push(format!("sand {}: {line}", path.join(" ")));
            }
        }
        let mut section = "";
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().copied().enumerate() {
            if line.ends_with(':') && !line.starts_with(' ') {
                section = line;
                continue;
            }
            let item = line.trim_start();
            if section == "Commands:" && line.starts_with("  ") && !item.is_empty() {
                let name = item.split_whitespace().next().unwrap_or_default();
                if name != "help" {
                    let mut sub = path.clone();
                    sub.push(name.to_owned());
                    commands.push(sub);
                }
            }
            let is_option = item.starts_with("--")
                || (item.starts_with('-')
                    && item.chars().nth(1).is_some_and(char::is_alphanumeric));
            if section == "Options:" && is_option {
                // the flag and its value name, then two spaces, then what it is for
                // (or, in the long layout, on the lines below it, further indented)
                let inline = item
                    .split_once("  ")
                    .map(|(_, rest)| rest.trim())
                    .is_some_and(|rest| !rest.is_empty() && !rest.starts_with("[default"));
                let indent = line.len() - item.len();
                let below = lines.get(n + 1).is_some_and(|next| {
                    let text = next.trim_start();
                    next.len() - text.len() > indent
                        && !text.is_empty()
                        && !text.starts_with('-')
                        && !text.starts_with("[default")
                });
                let described = inline || below;
                if !described {
                    undescribed.push(format!("sand {} {item}", path.join(" ")));
                }
            }
        }
    }
    assert!(seen > 15, "{seen} commands read");
    assert!(undescribed.is_empty(), "{}", undescribed.join("\n"));
    assert!(
        english.is_empty(),
        "help in English:\n{}",
        english.join("\n")
    );
}

#[test]
fn academies_lists_overseas_academies_with_their_codes() {
    let out = sand(&["academies"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("28\tLa Réunion\toui"));
    assert!(text.contains("43\tMayotte\toui"));
    assert!(text.contains("05\tCaen\tnon\tNormandie (sessions 2020+)"));
    assert!(
        !text.contains("SIEC"),
        "the SIEC is an exam office, not an académie"
    );
}

#[test]
fn normalize_shows_the_matching_forms() {
    let out = sand(&["normalize", "N'Diaye", "Cœur", "E\u{301}lodie"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("N'Diaye\tN DIAYE\tNDIAYE"));
    assert!(text.contains("Cœur\tCOEUR\tCOEUR"));
    assert!(text.contains("\tELODIE\tELODIE"));
}

#[test]
fn bad_usage_fails_with_a_clear_message() {
    let out = sand(&["normalize"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("required"), "{err}");

    let out = sand(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}

fn temp_sqlite_url() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("sand-cli-{}", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", dir.join("nested").join("sand.db").display());
    (dir, url)
}

fn sand_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
    command
        .args(args)
        .env_remove("SAND_DATABASE_URL")
        .env_remove("SAND_SINGLE_USER");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("the sand binary runs")
}

#[test]
fn migrate_creates_the_sqlite_database_and_is_idempotent() {
    let (dir, url) = temp_sqlite_url();
    let first = sand(&["migrate", "--database-url", &url]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout(&first).contains("15 migration(s) appliquée(s)"),
        "{}",
        stdout(&first)
    );
    assert!(dir.join("nested").join("sand.db").exists());

    // the URL may also come from the environment
    let second = sand_env(&["migrate"], &[("SAND_DATABASE_URL", &url)]);
    assert!(second.status.success());
    assert!(stdout(&second).contains("à jour"), "{}", stdout(&second));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sqlite_may_serve_only_a_declared_single_user_deployment() {
    let (dir, url) = temp_sqlite_url();
    let refused = sand(&["db", "check-access", "--database-url", &url]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--single-user"));

    let accepted = sand_env(
        &["db", "check-access", "--database-url", &url],
        &[("SAND_SINGLE_USER", "true")],
    );
    assert!(
        accepted.status.success(),
        "{}",
        String::from_utf8_lossy(&accepted.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_database_urls_get_a_clear_error() {
    let out = sand(&["migrate", "--database-url", "mysql://root@localhost/sand"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("URL de base de données non prise en charge")
    );

    // nothing listens on port 1
    let out = sand(&[
        "migrate",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/sand",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("impossible de se connecter à la base de données")
    );
}

/// A fresh PostgreSQL database for one test (the test command provides the server).
fn postgres_database() -> (String, String) {
    let admin = std::env::var("SAND_TEST_POSTGRES_URL")
        .expect("SAND_TEST_POSTGRES_URL is not set: run the suite with `bash tests/run.sh`");
    let name = format!("sand_cli_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&admin).await.unwrap();
        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let (base, _) = admin.rsplit_once('/').unwrap();
    (format!("{base}/{name}"), name)
}

#[test]
fn migrate_sets_up_postgresql_and_an_administrator_may_not_serve() {
    let (url, name) = postgres_database();
    let suffix = &name[name.len() - 8..];
    let (web, importer) = (
        format!("cli_web_{suffix}"),
        format!("cli_importer_{suffix}"),
    );
    let out = sand(&[
        "migrate",
        "--database-url",
        &url,
        "--web-role",
        &web,
        "--importer-role",
        &importer,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("m20261124_000002_create_profiles_and_links"));

    // the test user is a superuser: it can write records, so the web server must refuse it
    let refused = sand(&[
        "db",
        "check-access",
        "--database-url",
        &url,
        "--single-user",
    ]);
    assert_eq!(refused.status.code(), Some(3));
    let err = String::from_utf8_lossy(&refused.stderr).to_string();
    assert!(
        err.contains("diploma_record: INSERT") && err.contains("rôle web"),
        "{err}"
    );

    // a role name that is not an identifier is refused before any SQL runs
    let out = sand(&[
        "migrate",
        "--database-url",
        &url,
        "--web-role",
        "web; DROP TABLE profile",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid role name"));
}

/// The demonstration on PostgreSQL (as the load benchmark runs it): the site is served;
/// the back office, which needs a connection of its own role there, is not, and the start
/// says why; asked for explicitly without that connection, it is refused.
#[test]
fn the_demonstration_on_postgresql_serves_the_site_and_says_why_not_the_back_office() {
    let (url, name) = postgres_database();
    let web = format!("cli_demo_web_{}", &name[name.len() - 8..]);
    let out = sand(&["migrate", "--database-url", &url, "--web-role", &web]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = format!("{web}_login");
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(&url).await.unwrap();
        db.execute_unprepared(&format!("CREATE ROLE {login} LOGIN IN ROLE {web}"))
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let web_url = format!("postgres://{login}@{}", url.split_once('@').unwrap().1);
    let dir = std::env::temp_dir().join(format!("sand-demo-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let command = |extra: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
        command
            .current_dir(&dir)
            .args([
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                &web_url,
            ])
            .args(extra)
            .env_remove("SAND_CONFIG")
            .env_remove("SAND_STAFF_LISTEN")
            .env_remove("SAND_STAFF_DATABASE_URL")
            .env("SAND_SECRET", "a-secret-of-more-than-thirty-two-bytes-0123")
            .stderr(std::process::Stdio::piped());
        command
    };
    let served = sand_testkit::serve(command(&[])).expect("the demonstration starts on PostgreSQL");
    assert!(
        served
            .stdout
            .contains("Espace agents non servi : sur PostgreSQL"),
        "{}",
        served.stdout
    );
    assert!(
        !served.stdout.contains("Espace agents sur http"),
        "{}",
        served.stdout
    );
    let mut child = served.child;
    let _ = child.kill();
    let _ = child.wait();
    let refused = command(&["--staff-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("SAND_STAFF_DATABASE_URL"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sand_alone_loads_the_demo_set_into_the_embedded_database_once_and_serves_it() {
    let dir = std::env::temp_dir().join(format!(
        "sand-first-start-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let first = serve_demo_once(&dir);
    // the rectorats' and the SIEC's batches, an agricultural authority's and a
    // university's (fictional), each signed by its issuer's key, every signature checked
    assert!(
        first.stdout.contains("10100 enregistrements lus") && first.stdout.contains("0 refusé(s)"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("lots signés"), "{}", first.stdout);
    // the back office too, on its own address, with an agent of each role
    assert!(
        first.stdout.contains("Espace agents sur http://127.0.0.1:"),
        "{}",
        first.stdout
    );
    for agent in [
        "demo.aide",
        "demo.lyon",
        "demo.siec",
        "demo.admin",
        "demo.audit",
    ] {
        assert!(
            first
                .stdout
                .lines()
                .any(|l| l.trim_start().starts_with(agent) && l.split('\t').count() == 4),
            "{agent}: {}",
            first.stdout
        );
    }
    let url = format!("sqlite://{}", dir.join("data/sand.db").display());
    let keys = sand(&["issuers", "keys", "--database-url", &url]);
    let keys = stdout(&keys);
    for issuer in ["10", "SIEC", "DEMO-AGRI", "DEMO-UNIV"] {
        assert!(
            keys.lines().any(|l| l.split('\t').nth(1) == Some(issuer)),
            "{issuer}: {keys}"
        );
    }
    assert!(
        first.stdout.contains("Durand, Camille, Marie"),
        "{}",
        first.stdout
    );
    assert!(dir.join("data/sand.db").exists());
    assert!(first.home.starts_with("HTTP/1.1 200"), "{}", first.home);
    assert!(
        first.home.contains("Site de démonstration"),
        "{}",
        first.home
    );
    assert!(first.home.contains("Lefèvre"), "{}", first.home);

    let second = serve_demo_once(&dir);
    assert!(
        second.stdout.contains(" 0 enregistrements lus"),
        "{}",
        second.stdout
    );
    std::fs::remove_dir_all(dir).unwrap();
}

struct DemoRun {
    stdout: String,
    home: String,
}

/// Runs `sand` alone on a free port, fetches the home page, stops it with SIGTERM and
/// checks that it stopped cleanly.
fn serve_demo_once(dir: &std::path::Path) -> DemoRun {
    use std::io::{BufReader, Read, Write};
    let mut child = Command::new(env!("CARGO_BIN_EXE_sand"))
        .current_dir(dir)
        .env_remove("SAND_DATABASE_URL")
        .env("SAND_LISTEN", "127.0.0.1:0")
        .env("SAND_READY_JSON", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut stdout = String::new();
    let address = sand_testkit::read_ready(&mut reader, &mut stdout)
        .unwrap()
        .listen;
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut home = String::new();
    stream.read_to_string(&mut home).unwrap();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "GET /health/ready HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut ready = String::new();
    stream.read_to_string(&mut ready).unwrap();
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "sand did not stop cleanly on SIGTERM: {status}"
    );
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    stdout.push_str(&rest);
    DemoRun { stdout, home }
}

#[test]
fn a_bad_issuers_file_is_refused_with_its_line_by_serve_and_by_sand_issuers() {
    let dir = std::env::temp_dir().join(format!("sand-issuers-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let head = "format = \"sand-issuers/1\"\n\n";
    for (content, message) in [
        (
            format!("{head}[contact.\"99\"]\nemail = \"a@b.fr\"\n"),
            "ligne 3 : contact pour « 99 », qui n'est pas un émetteur connu",
        ),
        (
            format!("{head}[contact.\"10\"]\nemail = \"pas une adresse\"\n"),
            "ligne 4 : « pas une adresse » n'est pas une adresse e-mail",
        ),
        (
            format!("{head}[contact.\"10\"]\nweb = \"javascript:alert(1)\"\n"),
            "« javascript:alert(1) » n'est pas une adresse https:// valide",
        ),
        (
            format!("{head}[contact.\"10\"]\nfax = \"01\"\n"),
            "ligne 4 : clé inconnue `fax`",
        ),
        (
            format!(
                "{head}[[issuer]]\ncode = \"LYON2\"\nkind = \"rectorat\"\nname = \"Bis\"\nserves = [\"10\"]\n"
            ),
            "ligne 3 : l'académie 10 (Lyon) a deux services des examens : « 10 » et « LYON2 »",
        ),
        (
            format!("{head}[[issuer]]\ncode = \"X\"\nkind = \"université\"\nname = \"U\"\n"),
            "ligne 5 : nature « université » inconnue",
        ),
        (
            format!(
                "{head}[[issuer]]\ncode = \"0691774D\"\nkind = \"enseignement-superieur\"\nname = \"U\"\nexports = [\"10\", \"98\"]\n"
            ),
            "ligne 7 : code d'académie « 98 » inconnu",
        ),
        (
            "format = \"sand-issuers/9\"\n".to_owned(),
            "ligne 1 : format « sand-issuers/9 » inconnu",
        ),
        (
            format!("{head}[contact.\"10\"\n"),
            "ligne 3 : syntaxe TOML invalide",
        ),
    ] {
        std::fs::write(dir.join("issuers.toml"), &content).unwrap();
        let serve = Command::new(env!("CARGO_BIN_EXE_sand"))
            .current_dir(&dir)
            .args(["serve", "--demo", "--issuers-file", "issuers.toml"])
            .env("SAND_LISTEN", "127.0.0.1:0")
            .env_remove("SAND_DATABASE_URL")
            .output()
            .unwrap();
        assert_eq!(serve.status.code(), Some(78), "{content}");
        let stderr = String::from_utf8_lossy(&serve.stderr);
        assert!(stderr.contains("issuers.toml"), "{content}: {stderr}");
        assert!(stderr.contains(message), "{content}: {stderr}");
        let list = Command::new(env!("CARGO_BIN_EXE_sand"))
            .current_dir(&dir)
            .args(["issuers", "list", "--issuers-file", "issuers.toml"])
            .output()
            .unwrap();
        assert_eq!(list.status.code(), Some(78), "{content}");
        assert!(String::from_utf8_lossy(&list.stderr).contains(message));
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sand_issuers_lists_the_shipped_registry_with_the_operators_contacts() {
    let out = Command::new(env!("CARGO_BIN_EXE_sand"))
        .args(["issuers", "list", "--issuers-file"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/examples/issuers.toml"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = |code: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{code}\t")))
            .unwrap_or_else(|| panic!("{code}: {stdout}"))
            .to_owned()
    };
    assert!(line("SIEC").contains("\t01,24,25\thttps://www.siec.education.fr\toui"));
    assert!(line("10").ends_with("\t10\thttps://www.ac-lyon.fr\toui\t"));
    assert!(line("70").contains("\t05,21,70\t"));
    assert!(
        line("01").contains("\t\thttps://www.ac-paris.fr\tnon"),
        "answers nobody"
    );
}

#[test]
fn the_old_exam_offices_setting_is_refused_with_the_way_to_migrate() {
    let dir = std::env::temp_dir().join(format!(
        "sand-old-offices-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sand"))
        .current_dir(&dir)
        .args(["serve", "--demo"])
        .env("SAND_EXAM_OFFICES_FILE", "/etc/sand/exam-offices.toml")
        .env("SAND_LISTEN", "127.0.0.1:0")
        .env_remove("SAND_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("remplacé par SAND_ISSUERS_FILE"),
        "{stderr}"
    );
    assert!(stderr.contains("[contact.\"10\"]"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn serve_refuses_to_start_without_its_secrets_and_says_which() {
    let dir = std::env::temp_dir().join(format!("sand-secrets-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let serve = |extra: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
        command
            .current_dir(&dir)
            .arg("serve")
            .args(extra)
            .env("SAND_LISTEN", "127.0.0.1:0")
            .env_remove("SAND_DATABASE_URL")
            .env_remove("SAND_SECRET")
            .env_remove("SAND_SECRET_FILE")
            .env_remove("SAND_SIGNING_KEY")
            .env_remove("SAND_SIGNING_KEY_FILE");
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(serve(&[], &[]).contains("aucun secret du serveur : définissez SAND_SECRET_FILE"));
    assert!(serve(&[], &[("SAND_SECRET", "court")]).contains("au moins 32 octets"));
    let secret = "0123456789abcdef0123456789abcdef";
    assert!(
        serve(&[], &[("SAND_SECRET", secret)]).contains("aucune clé de signature des attestations")
    );
    let file = dir.join("secret.key");
    std::fs::write(&file, secret).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            serve(&["--secret-file", "secret.key"], &[])
                .contains("lisible par d'autres utilisateurs")
        );
    }
    assert!(
        serve(
            &["--demo"],
            &[("SAND_FRANCECONNECT_ISSUER", "http://127.0.0.1:1")]
        )
        .contains("FranceConnect exige SAND_FRANCECONNECT_ISSUER, SAND_FRANCECONNECT_CLIENT_ID")
    );
    assert!(
        serve(&["--demo"], &[("SAND_PROCONNECT_CLIENT_ID", "sand-agents")])
            .contains("ProConnect exige SAND_PROCONNECT_ISSUER, SAND_PROCONNECT_CLIENT_ID")
    );
    std::fs::remove_dir_all(dir).unwrap();
}
