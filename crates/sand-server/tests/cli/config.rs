//! `sand config check` and the layered configuration of `sand serve`; `sand keys rotate`.

#![allow(clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SECRET: &str = "a-secret-of-more-than-thirty-two-bytes-0123456789";

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sand-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// `sand` in `dir` with a clean SAND_* environment plus `env`.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
    command.current_dir(dir).args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("SAND_") {
            command.env_remove(key);
        }
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The line of `config check` for one key.
fn line<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no line for {key} in:\n{out}"))
}

#[test]
fn defaults_then_file_then_environment_then_command_line() {
    let dir = temp_dir();
    let file = write(
        &dir,
        "sand.toml",
        "demo = true\nlisten = \"127.0.0.1:7001\"\nsmtp_port = 2525\noperator = \"Rectorat de test\"\n\
         mail_from = \"SAND <sand@example.fr>\"\npublic_keys = [\"a.pem\", \"b.pem\"]\n",
        0o644,
    );
    let file = file.to_str().unwrap();
    // the public keys do not exist: the layering is shown, then the check fails on them
    let out = run(
        &dir,
        &["config", "check", "--config", file, "--smtp-port", "2626"],
        &[
            ("SAND_LISTEN", "127.0.0.1:7002"),
            ("SAND_MAIL_DIR", "courrier"),
        ],
    );
    let stdout = text(&out.stdout);
    assert!(
        line(&stdout, "listen").contains("= 127.0.0.1:7002   # environnement"),
        "{stdout}"
    );
    assert!(line(&stdout, "smtp_port").contains("= 2626   # ligne de commande"));
    assert!(line(&stdout, "operator").contains("= Rectorat de test   # fichier"));
    assert!(line(&stdout, "mail_dir").contains("= courrier   # environnement"));
    assert!(line(&stdout, "smtp_security").contains("= starttls   # défaut"));
    assert!(line(&stdout, "public_keys").contains("= a.pem,b.pem   # fichier"));
    assert!(line(&stdout, "public_url").contains("(non défini)"));
    assert_eq!(out.status.code(), Some(78), "{stdout}");
    assert!(text(&out.stderr).contains("impossible de lire la clé publique a.pem"));

    // without them it is valid, and `serve` reads the same file
    let file = write(
        &dir,
        "ok.toml",
        "demo = true\nlisten = \"127.0.0.1:0\"\n",
        0o644,
    );
    let out = run(
        &dir,
        &["config", "check"],
        &[("SAND_CONFIG", file.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("Configuration valide"), "{stdout}");
    assert!(line(&stdout, "demo").contains("= true   # fichier"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn secrets_are_never_printed_and_must_not_be_readable_by_others() {
    let dir = temp_dir();
    let body = format!(
        "demo = true\nsecret = \"{SECRET}\"\nsmtp_host = \"relay\"\nsmtp_user = \"u\"\nsmtp_password = \"hunter2-password\"\n"
    );
    let open = write(&dir, "open.toml", &body, 0o644);
    let out = run(
        &dir,
        &["config", "check", "--config", open.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(78));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("contient des secrets (secret, smtp_password) et est lisible par les autres utilisateurs"),
        "{stderr}"
    );

    let closed = write(&dir, "closed.toml", &body, 0o600);
    let out = run(
        &dir,
        &["config", "check", "--config", closed.to_str().unwrap()],
        &[
            ("SAND_FRANCECONNECT_CLIENT_SECRET", "fc-client-secret"),
            ("SAND_DATABASE_URL", "postgres://web:pg-password@db/sand"),
        ],
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    for secret in [
        SECRET,
        "hunter2-password",
        "pg-password",
        "fc-client-secret",
    ] {
        assert!(!all.contains(secret), "{secret} printed:\n{all}");
    }
    assert!(line(&all, "secret").contains("******** (défini)   # fichier"));
    assert!(line(&all, "database_url").contains("postgres://web:********@db/sand"));
    // an incomplete FranceConnect configuration is what makes this one invalid
    assert_eq!(out.status.code(), Some(78));
    assert!(all.contains("FranceConnect exige"), "{all}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_configuration_file_gets_a_clear_error_naming_the_file_and_key() {
    let dir = temp_dir();
    let cases = [
        (
            "listne = \"127.0.0.1:1\"\n",
            "clé inconnue `listne` (clés connues : listen,",
        ),
        (
            "smtp_port = \"abc\"\n",
            "`smtp_port` : valeur refusée (invalid value 'abc'",
        ),
        (
            "smtp_port = 70000\n",
            "`smtp_port` : valeur refusée (invalid value '70000'",
        ),
        (
            "smtp_security = \"ssl\"\n",
            "`smtp_security` : valeur refusée (invalid value 'ssl'",
        ),
        ("demo = \"oui\"\n", "`demo` : true ou false est attendu"),
        (
            "listen = [\"a\", \"b\"]\n",
            "`listen` : une seule valeur est attendue",
        ),
        (
            "[serve]\nlisten = \"a\"\n",
            "`serve` : une chaîne, un nombre, un booléen ou une liste est attendu, et non une table",
        ),
        ("config = \"other.toml\"\n", "clé inconnue `config`"),
        ("listen = \"127.0.0.1:1\n", "TOML parse error at line 1"),
        ("\u{0}\u{1}binary", "TOML parse error"),
    ];
    for (body, expected) in cases {
        let file = write(&dir, "bad.toml", body, 0o600);
        for command in [&["serve"][..], &["config", "check"][..]] {
            let mut args = command.to_vec();
            args.extend(["--config", file.to_str().unwrap()]);
            let out = run(&dir, &args, &[]);
            assert_eq!(out.status.code(), Some(78), "{body}");
            let stderr = text(&out.stderr);
            assert!(
                stderr.contains(&format!("fichier de configuration {}", file.display())),
                "{stderr}"
            );
            assert!(stderr.contains(expected), "{body}: {stderr}");
        }
    }
    let big = write(&dir, "big.toml", &"# comment\n".repeat(30_000), 0o600);
    let out = run(&dir, &["serve", "--config", big.to_str().unwrap()], &[]);
    assert!(text(&out.stderr).contains("plus de 256 Kio"));
    let out = run(&dir, &["serve", "--config", "missing.toml"], &[]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        text(&out.stderr).contains("impossible de lire le fichier de configuration missing.toml")
    );
    // other commands do not read it
    let out = run(&dir, &["academies"], &[("SAND_CONFIG", "missing.toml")]);
    assert!(out.status.success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn keys_rotate_keeps_every_previous_public_key_and_prints_the_new_settings() {
    let dir = temp_dir();
    let out = run(&dir, &["keys", "rotate", "--dir", "keys"], &[]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("aucune clé à remplacer dans keys"));

    assert!(
        run(&dir, &["keys", "generate", "--out", "keys"], &[])
            .status
            .success()
    );
    let first = run(&dir, &["keys", "rotate", "--dir", "keys"], &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = run(&dir, &["keys", "rotate", "--dir", "keys"], &[]);
    let stdout = text(&second.stdout);
    let setting = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{stdout}"))
            .to_owned()
    };
    let signing = setting("SAND_SIGNING_KEY_FILE=");
    let previous = setting("SAND_VERIFICATION_KEY_FILES=");
    assert_eq!(previous.split(',').count(), 2, "{stdout}");
    assert!(!previous.contains(signing.replace("signing-key-", "public-key-").as_str()));

    // the service starts with the printed settings
    let out = run(
        &dir,
        &["config", "check", "--demo"],
        &[
            ("SAND_SIGNING_KEY_FILE", &signing),
            ("SAND_VERIFICATION_KEY_FILES", &previous),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn outside_demo_mode_transport_never_fails_open_without_its_named_override() {
    let dir = temp_dir();
    let out = run(&dir, &["keys", "generate", "--out", "keys"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signing = std::fs::read_dir(dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("signing-key-")
        })
        .unwrap();
    let signing = signing.to_str().unwrap().to_owned();
    let base: Vec<(&str, &str)> = vec![
        ("SAND_SECRET", SECRET),
        ("SAND_SIGNING_KEY_FILE", &signing),
        ("SAND_PUBLIC_URL", "https://diplome.example.fr"),
        (
            "SAND_DATABASE_URL",
            "postgres://sand@db.example.fr/sand?sslmode=verify-full",
        ),
        ("SAND_SMTP_HOST", "relay.example.fr"),
    ];
    let check = |changes: &[(&'static str, &'static str)], removed: &[&str]| {
        let mut env: Vec<(&str, &str)> = base
            .iter()
            .filter(|(k, _)| !removed.contains(k) && !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        env.extend_from_slice(changes);
        let out = run(&dir, &["config", "check"], &env);
        (
            out.status.code(),
            format!("{}{}", text(&out.stdout), text(&out.stderr)),
        )
    };
    let (status, said) = check(&[], &[]);
    assert_eq!(status, Some(0), "{said}");

    // each hole, refused, then let through by its own override and said
    // (variables set, variables removed, the refusal, the override that lets it through)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("SAND_PUBLIC_URL", "http://diplome.example.fr")],
            &[],
            "doit être une adresse https://",
            "SAND_ALLOW_PLAIN_HTTP",
        ),
        (
            &[],
            &["SAND_PUBLIC_URL"],
            "doit être une adresse https://",
            "SAND_ALLOW_PLAIN_HTTP",
        ),
        (
            &[("SAND_DATABASE_URL", "postgres://sand@db.example.fr/sand")],
            &[],
            "son certificat n'est pas vérifié",
            "SAND_ALLOW_UNVERIFIED_DATABASE_TLS",
        ),
        (
            &[(
                "SAND_DATABASE_URL",
                "postgres://sand@10.0.0.5:5432/sand?sslmode=prefer",
            )],
            &[],
            "son certificat n'est pas vérifié",
            "SAND_ALLOW_UNVERIFIED_DATABASE_TLS",
        ),
        (
            &[("SAND_SMTP_SECURITY", "none")],
            &[],
            "SAND_SMTP_SECURITY=none vers relay.example.fr",
            "SAND_ALLOW_PLAIN_SMTP",
        ),
        (
            &[],
            &["SAND_SMTP_HOST"],
            "exige un relais SMTP",
            "SAND_MAIL_TO_FILES",
        ),
    ];
    for (changes, removed, refusal, name) in cases {
        let (status, said) = check(changes, removed);
        assert_eq!(status, Some(78), "{changes:?} {removed:?}: {said}");
        assert!(said.contains(refusal) && said.contains(name), "{said}");
        let mut with_override = changes.to_vec();
        with_override.push((name, "true"));
        let (status, said) = check(&with_override, removed);
        assert_eq!(status, Some(0), "{name}: {said}");
        assert!(
            said.contains(&format!("{name} :")),
            "the override is said: {said}"
        );
    }
    // what stays on this machine needs no override
    for (key, value) in [
        ("SAND_DATABASE_URL", "postgres://sand@localhost/sand"),
        ("SAND_DATABASE_URL", "postgres://sand@127.0.0.1:5432/sand"),
        ("SAND_DATABASE_URL", "postgres://sand@[::1]/sand"),
        (
            "SAND_DATABASE_URL",
            "postgres://sand@db.example.fr/sand?host=/run/postgresql",
        ),
        ("SAND_DATABASE_URL", "sqlite://data/sand.db"),
    ] {
        let (status, said) = check(&[(key, value)], &[]);
        assert_eq!(status, Some(0), "{value}: {said}");
    }
    let (status, said) = check(
        &[
            ("SAND_SMTP_HOST", "127.0.0.1"),
            ("SAND_SMTP_SECURITY", "none"),
        ],
        &[],
    );
    assert_eq!(status, Some(0), "{said}");
    // ProConnect: all three settings, for a back office that listens, and a test
    // environment's exemption from the second factor said at every start
    let proconnect: &[(&str, &str)] = &[
        (
            "SAND_PROCONNECT_ISSUER",
            "https://proconnect.example.gouv.fr/api/v2",
        ),
        ("SAND_PROCONNECT_CLIENT_ID", "sand-agents"),
        ("SAND_PROCONNECT_CLIENT_SECRET", "pc-client-secret"),
    ];
    let (status, said) = check(&proconnect[..2], &[]);
    assert_eq!(status, Some(78), "{said}");
    assert!(
        said.contains("ProConnect exige SAND_PROCONNECT_ISSUER"),
        "{said}"
    );
    let (status, said) = check(proconnect, &[]);
    assert_eq!(status, Some(78), "{said}");
    assert!(
        said.contains("définissez aussi SAND_STAFF_LISTEN"),
        "{said}"
    );
    let mut listening = proconnect.to_vec();
    listening.push(("SAND_STAFF_LISTEN", "10.1.2.3:8081"));
    let (status, said) = check(&listening, &[]);
    assert_eq!(status, Some(0), "{said}");
    assert!(
        said.contains("ProConnect configuré pour l'espace agents"),
        "{said}"
    );
    assert!(!said.contains("pc-client-secret"), "{said}");
    listening.push(("SAND_PROCONNECT_SECOND_FACTOR_OPTIONAL", "true"));
    let (status, said) = check(&listening, &[]);
    assert_eq!(status, Some(0), "{said}");
    assert!(said.contains("SANS exiger de second facteur"), "{said}");
    // a relay's certificate authority that cannot be read, or is no certificate
    std::fs::write(dir.join("garbage.pem"), "not a certificate").unwrap();
    for (file, said) in [
        (
            "missing.pem",
            "SAND_SMTP_CA_FILE missing.pem : No such file",
        ),
        (
            "garbage.pem",
            "SAND_SMTP_CA_FILE garbage.pem : ce fichier ne contient aucun certificat PEM",
        ),
    ] {
        let out = run(
            &dir,
            &[
                "config",
                "check",
                "--demo",
                "--smtp-host",
                "relay.example.fr",
                "--smtp-ca-file",
                file,
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(78));
        assert!(text(&out.stderr).contains(said), "{}", text(&out.stderr));
    }
    // the demonstration site needs none of this
    let out = run(&dir, &["config", "check", "--demo"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The accessibility statement's contact and plan are addresses a person can follow:
/// anything else (a script address, a bare word) is refused before the service starts.
#[test]
fn the_accessibility_statement_accepts_only_real_addresses() {
    let dir = temp_dir();
    for (key, value, accepted) in [
        (
            "SAND_ACCESSIBILITY_CONTACT",
            "accessibilite@exemple.fr",
            true,
        ),
        (
            "SAND_ACCESSIBILITY_CONTACT",
            "https://exemple.fr/contact",
            true,
        ),
        ("SAND_ACCESSIBILITY_CONTACT", "javascript:alert(1)", false),
        ("SAND_ACCESSIBILITY_CONTACT", "appelez-nous", false),
        ("SAND_ACCESSIBILITY_PLAN", "https://exemple.fr/schema", true),
        ("SAND_ACCESSIBILITY_PLAN", "http://exemple.fr/schema", false),
        ("SAND_ACCESSIBILITY_AUDIT", "audit\u{7}", false),
        ("SAND_ACCESSIBILITY_STATUS", "totalement", true),
        ("SAND_ACCESSIBILITY_STATUS", "presque", false),
    ] {
        let out = run(
            &dir,
            &["config", "check"],
            &[("SAND_DEMO", "true"), (key, value)],
        );
        assert_eq!(
            out.status.success(),
            accepted,
            "{key}={value:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        if !accepted && key != "SAND_ACCESSIBILITY_STATUS" {
            assert!(text(&out.stderr).contains(key), "{}", text(&out.stderr));
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// A P-256 key for the tests only (written by `openssl genpkey -algorithm EC -pkeyopt
/// ec_paramgen_curve:P-256`): it signs nothing outside them.
const TEST_CREDENTIAL_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg75SC8mqgQt8K7/4d
pqcAq4ogaoseUcsXerhQW/hPslmhRANCAATd/X9rcARedjHDPbRjwaoha1nDZvKv
cRacBAo0QYuqOvuA+O59D1hPYxMUuNQ2MOH+zV2IJzsol57bAbl2Yxt/
-----END PRIVATE KEY-----
";

#[test]
fn the_credential_key_is_said_at_the_check_and_refused_when_others_can_read_it() {
    let dir = temp_dir();
    // the demonstration signs status lists with the public demonstration key
    let out = run(&dir, &["config", "check", "--demo"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("clé des justificatifs (ES256)")
            && text(&out.stdout).contains("(démonstration)"),
        "{}",
        text(&out.stdout)
    );
    // a key of its own, readable by its owner only
    let path = dir.join("credential.pem");
    std::fs::write(&path, TEST_CREDENTIAL_KEY).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = run(
            &dir,
            &["config", "check", "--demo"],
            &[("SAND_CREDENTIAL_KEY_FILE", path.to_str().unwrap())],
        );
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("chmod 600"),
            "{}",
            text(&out.stderr)
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = run(
        &dir,
        &["config", "check", "--demo"],
        &[("SAND_CREDENTIAL_KEY_FILE", path.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let note = said
        .split("clé des justificatifs (ES256)")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        !note.is_empty() && !note.contains("démonstration"),
        "{said}"
    );
    // not a key: a clear error
    std::fs::write(&path, "pas une clé").unwrap();
    let out = run(
        &dir,
        &["config", "check", "--demo"],
        &[("SAND_CREDENTIAL_KEY_FILE", path.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("clé des justificatifs"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_settings_of_several_nodes_are_checked_and_refused_clearly() {
    let dir = temp_dir();
    let base = [("SAND_SECRET", SECRET), ("SAND_DEMO", "true")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        run(&dir, &["config", "check"], &env)
    };
    // a replica only with PostgreSQL, on both sides
    for (primary, replica) in [
        ("sqlite://data/sand.db", "postgres://web@replica/sand"),
        ("postgres://web@db/sand", "sqlite://data/replica.db"),
    ] {
        let out = with(&[
            ("SAND_DATABASE_URL", primary),
            ("SAND_DATABASE_READ_URL", replica),
        ]);
        assert_eq!(out.status.code(), Some(78), "{primary} {replica}");
        assert!(
            text(&out.stderr).contains("une réplique en lecture ne se conçoit qu'avec PostgreSQL"),
            "{}",
            text(&out.stderr)
        );
    }
    // the lag threshold and the check interval are bounded numbers
    for (key, value, expected) in [
        ("SAND_DATABASE_READ_MAX_LAG_MS", "0", "invalid value '0'"),
        (
            "SAND_DATABASE_READ_MAX_LAG_MS",
            "cinq",
            "invalid value 'cinq'",
        ),
        ("SAND_DATABASE_READ_CHECK_MS", "1", "invalid value '1'"),
    ] {
        let out = with(&[(key, value)]);
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        assert!(
            text(&out.stderr).contains(expected),
            "{}",
            text(&out.stderr)
        );
    }
    // the limit store: a Redis URL, or a clear refusal
    for url in [
        "http://redis:6379",
        "pas une adresse",
        &"redis://h/".repeat(2000),
    ] {
        let out = run(
            &dir,
            &["config", "check"],
            &[
                ("SAND_SECRET", SECRET),
                ("SAND_DEMO", "true"),
                ("SAND_RATE_LIMIT_STORE_URL", url),
            ],
        );
        assert_eq!(out.status.code(), Some(78), "{url}");
        assert!(
            text(&out.stderr)
                .contains("SAND_RATE_LIMIT_STORE_URL : adresse du magasin des limites invalide"),
            "{}",
            text(&out.stderr)
        );
    }
    // accepted, and said
    let out = with(&[
        ("SAND_DATABASE_URL", "postgres://web@db/sand"),
        ("SAND_DATABASE_READ_URL", "postgres://web@replica/sand"),
        (
            "SAND_RATE_LIMIT_STORE_URL",
            "redis://:motdepasse@limits.internal:6379/0",
        ),
    ]);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(
        all.contains("réplique en lecture pour le catalogue"),
        "{all}"
    );
    assert!(
        all.contains("limites de débit partagées entre les nœuds"),
        "{all}"
    );
    assert!(
        line(&all, "rate_limit_store_url").contains("redis://:********@limits.internal"),
        "{all}"
    );
    assert!(
        !all.contains("motdepasse"),
        "the store's password is never printed: {all}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
