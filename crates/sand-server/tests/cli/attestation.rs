//! `sand keys generate`, `sand attestation sample` and `sand attestation verify`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::stdout;

fn work_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "sand-cli-attestation-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `sand` in `dir` with no signing key from the environment.
fn sand_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sand"));
    command
        .current_dir(dir)
        .args(args)
        .env_remove("SAND_SIGNING_KEY_FILE")
        .env_remove("SAND_SIGNING_KEY")
        .env_remove("SAND_VERIFICATION_KEY_FILES");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

fn file_starting(dir: &Path, prefix: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .unwrap()
}

#[test]
fn keys_are_generated_private_and_never_printed() {
    let dir = work_dir();
    let out = sand_in(&dir, &["keys", "generate", "--out", "keys"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secret = file_starting(&dir.join("keys"), "signing-key-");
    let public = file_starting(&dir.join("keys"), "public-key-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let pem = std::fs::read_to_string(&secret).unwrap();
    assert!(pem.contains("BEGIN PRIVATE KEY"));
    let body = pem.lines().nth(1).unwrap();
    assert!(!stdout(&out).contains(body), "the secret was printed");
    assert!(
        std::fs::read_to_string(public)
            .unwrap()
            .contains("BEGIN PUBLIC KEY")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_sample_with_a_real_key_verifies_and_an_edited_copy_does_not() {
    let dir = work_dir();
    assert!(
        sand_in(&dir, &["keys", "generate", "--out", "keys"], &[])
            .status
            .success()
    );
    let secret = file_starting(&dir.join("keys"), "signing-key-");
    let public = file_starting(&dir.join("keys"), "public-key-");
    let secret = secret.to_str().unwrap();
    let public = public.to_str().unwrap();

    let out = sand_in(
        &dir,
        &["attestation", "sample", "--out", "a.pdf"],
        &[
            ("SAND_SIGNING_KEY_FILE", secret),
            ("SAND_OPERATOR_NAME", "Opérateur d'essai"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout(&out).contains("SPÉCIMEN"));

    // unknown key without the public key
    let out = sand_in(&dir, &["attestation", "verify", "a.pdf"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("CLÉ INCONNUE"), "{}", stdout(&out));

    // authentic with it (flag, or the environment)
    let out = sand_in(
        &dir,
        &["attestation", "verify", "--public-key", public, "a.pdf"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("AUTHENTIQUE"), "{text}");
    assert!(
        text.contains("Titulaire : Madame Camille, Marie Durand"),
        "{text}"
    );
    assert!(text.contains("Clé de contrôle : SPEC1MEN"), "{text}");
    let out = sand_in(
        &dir,
        &["attestation", "verify", "a.pdf"],
        &[("SAND_VERIFICATION_KEY_FILES", public)],
    );
    assert_eq!(out.status.code(), Some(0));

    // one byte changed
    let mut bytes = std::fs::read(dir.join("a.pdf")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(dir.join("b.pdf"), bytes).unwrap();
    let out = sand_in(
        &dir,
        &["attestation", "verify", "--public-key", public, "b.pdf"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("MODIFIÉ"), "{}", stdout(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_demo_sample_is_a_specimen_and_its_check_says_so() {
    let dir = work_dir();
    let out = sand_in(&dir, &["attestation", "sample", "--out", "demo.pdf"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("SPÉCIMEN"));
    let out = sand_in(&dir, &["attestation", "verify", "demo.pdf"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("DÉMONSTRATION"), "{}", stdout(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_keys_and_files_get_clear_errors() {
    let dir = work_dir();
    std::fs::write(dir.join("bad.pem"), "not a key").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("bad.pem"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    let out = sand_in(
        &dir,
        &["attestation", "sample", "--signing-key-file", "bad.pem"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PKCS#8"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a key file others can read is refused
    assert!(
        sand_in(&dir, &["keys", "generate", "--out", "k"], &[])
            .status
            .success()
    );
    let secret = file_starting(&dir.join("k"), "signing-key-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = sand_in(
            &dir,
            &[
                "attestation",
                "sample",
                "--signing-key-file",
                secret.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
    }

    // not a PDF, a missing file, a huge file
    std::fs::write(dir.join("x.pdf"), b"\x00\x01binary").unwrap();
    let out = sand_in(&dir, &["attestation", "verify", "x.pdf"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("NON RECONNU"));
    let out = sand_in(&dir, &["attestation", "verify", "missing.pdf"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pdf"));
    let big = std::fs::File::create(dir.join("big.pdf")).unwrap();
    big.set_len(50 * 1024 * 1024).unwrap();
    let out = sand_in(&dir, &["attestation", "verify", "big.pdf"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("trop grand"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_verification_receipt_is_checked_as_json_and_as_pdf_and_a_changed_one_is_refused() {
    use sand_attestation::{Issuer, PdfAttestationRenderer, SigningKeys};
    use sand_domain::link::{Link, LinkId, LinkState};
    use sand_domain::ports::ReceiptSigner as _;
    use sand_domain::profile::ProfileId;
    use sand_domain::verification::VerifiedDiploma;
    use sand_domain::verification::receipt::{ReceiptFormat, VerificationReceipt};

    let dir = work_dir();
    assert!(
        sand_in(&dir, &["keys", "generate", "--out", "keys"], &[])
            .status
            .success()
    );
    let secret = file_starting(&dir.join("keys"), "signing-key-");
    let public = file_starting(&dir.join("keys"), "public-key-");
    let public = public.to_str().unwrap();
    let keys = SigningKeys::from_file(&secret).unwrap();
    let renderer = PdfAttestationRenderer::new(
        Issuer {
            operator: "Opérateur d'essai".into(),
            verification_url: "https://sand.example/verifier".into(),
        },
        std::sync::Arc::new(keys),
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let attestation = sand_attestation::sample::sample_attestation(now).unwrap();
    let link = Link {
        id: LinkId(uuid::Uuid::new_v4()),
        profile: ProfileId(uuid::Uuid::new_v4()),
        record: attestation.record.id,
        key: attestation.key,
        created_at: now,
        key_issued_at: now,
        state: LinkState::Active,
    };
    let signed = renderer
        .sign(&VerificationReceipt {
            checked_at: now,
            key: attestation.key,
            typed_name: "Durand".into(),
            typed_birth_date: None,
            organisation: None,
            diploma: VerifiedDiploma::of(&link, &attestation.record),
        })
        .unwrap();
    for (name, format) in [
        ("r.json", ReceiptFormat::Json),
        ("r.pdf", ReceiptFormat::Pdf),
    ] {
        let file = renderer.file(&signed, format).unwrap().unwrap();
        std::fs::write(dir.join(name), &file.bytes).unwrap();
        let out = sand_in(
            &dir,
            &["attestation", "verify", "--public-key", public, name],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("REÇU AUTHENTIQUE"),
            "{}",
            stdout(&out)
        );
        assert!(
            stdout(&out).contains("Clé de contrôle : SPEC1MEN"),
            "{}",
            stdout(&out)
        );
        // without the public key: unknown
        let out = sand_in(&dir, &["attestation", "verify", name], &[]);
        assert_eq!(out.status.code(), Some(1));
        assert!(stdout(&out).contains("CLÉ INCONNUE"), "{}", stdout(&out));
    }
    // the JSON's claims changed: forged; the PDF's bytes changed: altered
    let json = std::fs::read_to_string(dir.join("r.json")).unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&json).unwrap();
    let payload = document["payload"].as_str().unwrap();
    let mut changed = payload.to_owned();
    changed.replace_range(10..11, if &payload[10..11] == "A" { "B" } else { "A" });
    document["payload"] = changed.into();
    std::fs::write(dir.join("f.json"), document.to_string()).unwrap();
    let out = sand_in(
        &dir,
        &["attestation", "verify", "--public-key", public, "f.json"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FALSIFIÉ") || stdout(&out).contains("NON RECONNU"),
        "{}",
        stdout(&out)
    );
    let mut pdf = std::fs::read(dir.join("r.pdf")).unwrap();
    let middle = pdf.len() / 2;
    pdf[middle] ^= 0x20;
    std::fs::write(dir.join("f.pdf"), pdf).unwrap();
    let out = sand_in(
        &dir,
        &["attestation", "verify", "--public-key", public, "f.pdf"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("MODIFIÉ"), "{}", stdout(&out));
    // neither an attestation nor a receipt
    std::fs::write(dir.join("n.txt"), "bonjour").unwrap();
    let out = sand_in(&dir, &["attestation", "verify", "n.txt"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("NON RECONNU"), "{}", stdout(&out));
    std::fs::remove_dir_all(dir).unwrap();
}
