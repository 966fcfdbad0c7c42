//! `sand staff` and `sand audit`: local back-office accounts with a second factor, and
//! the audit log's export and purge, on the embedded database and on PostgreSQL.

use std::process::Output;

use crate::{postgres_database, sand_env, stdout, temp_sqlite_url};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Setup {
    env: Vec<(String, String)>,
    dir: std::path::PathBuf,
}

impl Setup {
    fn new(url: String) -> Self {
        let dir =
            std::env::temp_dir().join(format!("sand-staff-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("secret.key");
        std::fs::write(&secret, "0123456789abcdef0123456789abcdef-staff-test\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Self {
            env: vec![
                ("SAND_DATABASE_URL".to_owned(), url),
                ("SAND_SECRET_FILE".to_owned(), secret.display().to_string()),
                ("USER".to_owned(), "exploitant".to_owned()),
            ],
            dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        sand_env(args, &env)
    }
}

fn accounts_and_log(url: String) {
    let s = Setup::new(url);
    let added = s.run(&[
        "staff",
        "add",
        "lyon.n2",
        "--nom",
        "Agent de Lyon",
        "--role",
        "niveau2",
        "--emetteur",
        "10",
    ]);
    assert!(added.status.success(), "{}", stderr(&added));
    let text = stdout(&added);
    assert!(
        text.contains("Agent « lyon.n2 » ajouté : Service des examens (niveau 2), émetteurs 10."),
        "{text}"
    );
    let password = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("mot de passe : "))
        .unwrap();
    assert_eq!(password.len(), 24);
    assert!(text.contains("otpauth://totp/"), "{text}");

    for (args, code, said) in [
        (
            vec![
                "staff", "add", "lyon.n2", "--nom", "Autre", "--role", "auditeur",
            ],
            3,
            "l'identifiant « lyon.n2 » est déjà pris",
        ),
        (
            vec!["staff", "add", "agent", "--nom", "A", "--role", "niveau2"],
            2,
            "--emetteur",
        ),
        (
            vec![
                "staff",
                "add",
                "agent",
                "--nom",
                "A",
                "--role",
                "niveau2",
                "--emetteur",
                "ZZ",
            ],
            2,
            "émetteur « ZZ » inconnu",
        ),
        (
            vec![
                "staff",
                "add",
                "Robert'); DROP TABLE staff_member;--",
                "--nom",
                "A",
                "--role",
                "niveau1",
            ],
            2,
            "n'est pas un identifiant",
        ),
        (
            vec![
                "staff",
                "add",
                "agent",
                "--nom",
                &"x".repeat(5000),
                "--role",
                "auditeur",
            ],
            2,
            "trop long",
        ),
        (
            vec![
                "staff",
                "add",
                "agent",
                "--nom",
                "A\u{1b}[31m",
                "--role",
                "auditeur",
            ],
            2,
            "caractères de contrôle",
        ),
        (
            vec!["staff", "totp", "personne"],
            3,
            "aucun agent « personne »",
        ),
        (
            vec!["audit", "export", "--depuis", "hier"],
            2,
            "attendu AAAA-MM-JJ",
        ),
        (
            vec![
                "audit",
                "export",
                "--depuis",
                "2026-12-02",
                "--jusqua",
                "2026-12-01",
            ],
            2,
            "--jusqua précède --depuis",
        ),
    ] {
        let out = s.run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
    // a wrong server secret cannot open the second factor: an error, not a wrong code
    let mut wrong = Setup::new(s.env[0].1.clone());
    wrong.env[1].1 = {
        let other = wrong.dir.join("other.key");
        std::fs::write(&other, "another-secret-of-more-than-32-bytes-for-sure\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        other.display().to_string()
    };
    let refused = wrong.run(&["staff", "totp", "lyon.n2"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("secret"), "{}", stderr(&refused));

    let code = s.run(&["staff", "totp", "lyon.n2"]);
    assert!(code.status.success(), "{}", stderr(&code));
    let code = stdout(&code);
    assert!(
        code.trim().len() == 6 && code.trim().chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );

    let list = stdout(&s.run(&["staff", "list"]));
    assert!(
        list.starts_with("identifiant\trôle\témetteurs\tnom"),
        "{list}"
    );
    assert!(
        list.contains("lyon.n2\tniveau2\t10\tAgent de Lyon\t"),
        "{list}"
    );
    assert_eq!(
        list.lines().count(),
        2,
        "the refused ones were not added: {list}"
    );
    let closing_date = |list: &str| {
        list.lines()
            .find(|l| l.starts_with("lyon.n2\t"))
            .and_then(|l| l.split('\t').nth(5).map(str::to_owned))
            .unwrap()
    };
    assert_eq!(closing_date(&list), "", "open: no closing date: {list}");

    // the access changes: an address for ProConnect and a SIRET, then a role
    let changed = s.run(&[
        "staff",
        "change",
        "lyon.n2",
        "--adresse",
        "Claire.Moreau@ac-lyon.fr",
        "--siret",
        "196 912 345 00013",
        "--emetteur",
        "10",
        "--emetteur",
        "08",
    ]);
    assert!(changed.status.success(), "{}", stderr(&changed));
    assert!(
        stdout(&changed).contains(
            "Accès de l'agent « lyon.n2 » modifié : Service des examens (niveau 2), émetteurs 10, 08 ; ses sessions ouvertes sont fermées."
        ),
        "{}",
        stdout(&changed)
    );
    let list = stdout(&s.run(&["staff", "list"]));
    assert!(
        list.contains("\tclaire.moreau@ac-lyon.fr\t19691234500013"),
        "{list}"
    );
    let readdressed = s.run(&["staff", "change", "lyon.n2", "--sans-siret"]);
    assert!(
        stdout(&readdressed).ends_with("émetteurs 10, 08.\n"),
        "no change of rights, no sessions ended: {}",
        stdout(&readdressed)
    );
    // a second agent cannot take the address; hostile and wrong requests are refused
    let second = s.run(&[
        "staff", "add", "aide.n1", "--nom", "Aide", "--role", "niveau1",
    ]);
    assert!(second.status.success(), "{}", stderr(&second));
    for (args, code, said) in [
        (
            vec![
                "staff",
                "change",
                "aide.n1",
                "--adresse",
                "claire.moreau@ac-lyon.fr",
            ],
            3,
            "déjà celle d'un autre agent",
        ),
        (
            vec![
                "staff",
                "add",
                "lyon.bis",
                "--nom",
                "Bis",
                "--role",
                "auditeur",
                "--adresse",
                "claire.moreau@ac-lyon.fr",
            ],
            3,
            "déjà celle d'un autre agent",
        ),
        (
            vec!["staff", "change", "aide.n1", "--adresse", "pas-une-adresse"],
            2,
            "n'est pas une adresse e-mail valide",
        ),
        (
            vec!["staff", "change", "aide.n1", "--siret", "123"],
            2,
            "n'est pas un SIRET",
        ),
        (
            vec!["staff", "change", "aide.n1", "--role", "niveau2"],
            2,
            "--emetteur",
        ),
        (
            vec!["staff", "change", "aide.n1", "--emetteur", "10"],
            2,
            "seuls les agents de niveau 2",
        ),
        (
            vec!["staff", "change", "personne", "--role", "auditeur"],
            3,
            "aucun compte ouvert « personne »",
        ),
        (
            vec![
                "staff",
                "change",
                "aide.n1",
                "--adresse",
                "a@b.fr",
                "--sans-adresse",
            ],
            2,
            "cannot be used with",
        ),
    ] {
        let out = s.run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(said), "{args:?}: {}", stderr(&out));
    }
    // level 2 to auditor: the issuers go with the role
    let auditor = s.run(&["staff", "change", "aide.n1", "--role", "auditeur"]);
    assert!(auditor.status.success(), "{}", stderr(&auditor));
    assert!(stdout(&auditor).contains("Audit ; ses sessions ouvertes sont fermées."));

    let closed = s.run(&["staff", "close", "lyon.n2"]);
    assert!(closed.status.success(), "{}", stderr(&closed));
    assert!(stdout(&closed).contains("Compte de l'agent « lyon.n2 » fermé."));
    let again = s.run(&["staff", "close", "lyon.n2"]);
    assert_eq!(again.status.code(), Some(3));
    assert!(stderr(&again).contains("aucun compte ouvert « lyon.n2 »"));
    let list = stdout(&s.run(&["staff", "list"]));
    assert_ne!(closing_date(&list), "", "closed: a closing date: {list}");

    // the log: the one addition, by the operator, ids and codes only
    let csv_path = s.dir.join("journal.csv");
    let exported = s.run(&[
        "audit",
        "export",
        "--sortie",
        &csv_path.display().to_string(),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    assert!(stdout(&exported).contains("6 ligne(s) exportée(s)"));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "numero;date;acteur;action;resultats;rattachement;lot;detail;origine"
    );
    assert_eq!(
        lines.len(),
        7,
        "two additions, three changes and the closing: {csv}"
    );
    assert!(
        lines[1].contains(";operateur:exploitant;ajout_agent;;;;lyon.n2 (niveau2);cli"),
        "{csv}"
    );

    // nothing is old enough to purge; the purge is logged
    let purged = s.run(&["audit", "purge"]);
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert!(stdout(&purged).starts_with("0 ligne(s) du journal antérieure(s)"));
    let out = s.run(&["audit", "purge", "--conservation-jours", "1"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a retention under 30 days is refused"
    );
    let after = stdout(&s.run(&["audit", "export"]));
    assert!(
        after.contains(";operateur:exploitant;purge_journal;"),
        "{after}"
    );
    std::fs::remove_dir_all(&s.dir).unwrap();
    std::fs::remove_dir_all(&wrong.dir).unwrap();
}

#[test]
fn staff_accounts_and_the_audit_log_on_sqlite() {
    let (dir, url) = temp_sqlite_url();
    accounts_and_log(url);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn staff_accounts_and_the_audit_log_on_postgresql() {
    let (url, _name) = postgres_database();
    let migrated = sand_env(
        &["migrate", "--backoffice-role", "sand_backoffice_cli_test"],
        &[("SAND_DATABASE_URL", url.as_str())],
    );
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    accounts_and_log(url);
}
