//! `sand secret`: a new server secret, its rotation over a real database with a real
//! attached diploma, and secrets refused on the command line.

#![allow(clippy::panic)]

use std::path::Path;

use crate::faults::{Http, PASSWORD, sand, serve, signed_up, stop, temp_dir};

/// Verifies `key` against the service at `address`: whether it answered valid.
fn verifies(address: &str, key: &str) -> bool {
    let (status, answer) = Http::new(address).send(
        "POST",
        "/api/v1/verifications",
        Some((
            "application/json",
            &format!(r#"{{"cle":"{key}","nom":"Durand"}}"#),
        )),
    );
    assert_eq!(status, 200, "{answer}");
    answer.contains("\"valide\":true")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_rotated_secret_keeps_every_key_verifying_and_the_old_one_finds_none() {
    let work = temp_dir("rotate");
    let database = format!("sqlite://{}", work.join("sand.db").display());
    assert!(
        sand(
            &work,
            &["demo", "generate", "--records", "50", "--out", "demo"]
        )
        .status
        .success()
    );
    let out = sand(
        &work,
        &["import", "demo", "--quiet", "--database-url", &database],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a graduate attaches a diploma under the demo secret (data/secret.key)
    let (child, address) = serve(&work, &database).unwrap();
    let mut camille = signed_up(&address, &work);
    let (status, body) = camille.send(
        "POST",
        "/api/v1/moi/diplomes",
        Some((
            "application/json",
            r#"{"diplome":"BACG","session":2021,"academie":"10"}"#,
        )),
    );
    assert_eq!(status, 201, "{body}");
    let at = body.find("\"cle\":\"").unwrap() + 7;
    let key = body[at..at + 8].to_owned();
    assert!(verifies(&address, &key));
    stop(child);

    // a new secret: private, never over an existing file
    let out = sand(&work, &["secret", "generate", "new.key"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&work.join("new.key")), 0o600);
    let again = sand(&work, &["secret", "generate", "new.key"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("impossible de créer new.key"));

    // `sand secret rotate` from the demo secret to `new_file`
    let rotate = |new_file: &str| {
        sand(
            &work,
            &[
                "secret",
                "rotate",
                "--quiet",
                "--database-url",
                &database,
                "--current-secret-file",
                "data/secret.key",
                "--new-secret-file",
                new_file,
            ],
        )
    };
    // the same secret twice, or a secret readable by others: refused, nothing done
    let same = rotate("data/secret.key");
    assert_eq!(
        same.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(
        String::from_utf8_lossy(&same.stderr).contains("le nouveau secret est le secret actuel")
    );
    std::fs::write(work.join("open.key"), "x".repeat(40)).unwrap();
    let open = rotate("open.key");
    assert_eq!(
        open.status.code(),
        Some(78),
        "{}",
        String::from_utf8_lossy(&open.stderr)
    );
    assert!(String::from_utf8_lossy(&open.stderr).contains("lisible par d'autres utilisateurs"));

    // the rotation, then again (nothing left to do)
    let out = rotate("new.key");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("re-protégées : 1 ;"), "{said}");
    let out = rotate("new.key");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("re-protégées : 0 ; déjà sous le nouveau secret : 1"),
        "{said}"
    );

    // the service on the old secret finds no key; on the new one, the key verifies
    let (child, address) = serve(&work, &database).unwrap();
    assert!(
        !verifies(&address, &key),
        "the old secret still finds the key"
    );
    stop(child);
    std::fs::copy(work.join("new.key"), work.join("data/secret.key")).unwrap();
    let (child, address) = serve(&work, &database).unwrap();
    assert!(
        verifies(&address, &key),
        "the key does not verify under the new secret"
    );
    // and its holder still sees it
    let mut camille = Http::new(&address);
    let csrf = camille.csrf("/connexion");
    let (status, _) = camille.post_form(
        "/connexion",
        &[
            ("csrf", &csrf),
            ("email", "camille@exemple.fr"),
            ("mot_de_passe", PASSWORD),
        ],
    );
    assert_eq!(status, 303);
    let (status, list) = camille.get("/api/v1/moi/diplomes");
    assert_eq!(status, 200);
    assert!(list.contains(&key), "{list}");
    stop(child);
    std::fs::remove_dir_all(work).unwrap();
}

#[test]
fn secrets_on_the_command_line_are_refused_and_say_where_to_put_them() {
    let work = temp_dir("cmdline");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "serve",
                "--demo",
                "--secret",
                "a-secret-of-more-than-thirty-two-bytes-0123",
            ],
            "SAND_SECRET",
        ),
        (
            &["serve", "--demo", "--smtp-password", "hunter2"],
            "SAND_SMTP_PASSWORD",
        ),
        (
            &["serve", "--demo", "--franceconnect-client-secret", "s"],
            "SAND_FRANCECONNECT_CLIENT_SECRET",
        ),
        (
            &[
                "serve",
                "--demo",
                "--signing-key=-----BEGIN PRIVATE KEY-----",
            ],
            "SAND_SIGNING_KEY",
        ),
        (
            &[
                "config",
                "check",
                "--secret",
                "a-secret-of-more-than-thirty-two-bytes-0123",
            ],
            "SAND_SECRET",
        ),
        (
            &[
                "serve",
                "--demo",
                "--database-url",
                "postgres://sand:hunter2@localhost/sand",
            ],
            "PGPASSWORD",
        ),
        (
            &[
                "migrate",
                "--database-url",
                "postgres://sand:hunter2@localhost/sand",
            ],
            "PGPASSWORD",
        ),
    ];
    for (args, instead) in cases {
        // an unusable listen address: were the refusal to regress, `serve` would stop at
        // it with another message instead of serving forever
        let mut args = args.to_vec();
        if args[0] == "serve" {
            args.extend(["--listen", "not-an-address"]);
        }
        let out = sand(&work, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {stderr}");
        assert!(
            stderr.contains("refusée en ligne de commande"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(instead), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "the refusal repeats the secret: {stderr}"
        );
    }
    // the same from the environment is fine (config check proves it without serving)
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sand"))
        .current_dir(&work)
        .args([
            "config",
            "check",
            "--demo",
            "--database-url",
            "postgres://sand@localhost/sand",
        ])
        .env("SAND_SECRET", "a-secret-of-more-than-thirty-two-bytes-0123")
        .env_remove("SAND_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(work).unwrap();
}
