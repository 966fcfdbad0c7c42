//! Delivery to a real SMTP server (aiosmtpd, started by each test on a free port) and to a
//! directory; the delivered messages are read back with Python's e-mail parser.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sand_domain::SecretToken;
use sand_domain::academie::Academie;
use sand_domain::credentials::Email;
use sand_domain::diploma::{DiplomaKind, DiplomaScope, Session};
use sand_mail::{
    DeliveryError, Mail, MailSettings, MailTransport, Security, TransportConfig, compose,
};
use time::macros::datetime;

/// A running SMTP sink; stops when dropped (its stdin closes).
struct Sink {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Sink {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sand-smtp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("the SMTP sink did not start (is aiosmtpd installed? `bash tests/run.sh` installs it): {line:?}")
        });
        Self { child, port, dir }
    }

    fn transport(&self) -> MailTransport {
        MailTransport::new(&TransportConfig::Smtp {
            host: "127.0.0.1".into(),
            port: self.port,
            security: Security::None,
            credentials: None,
            timeout: Duration::from_secs(10),
        })
        .unwrap()
    }

    fn received(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p: &PathBuf| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn settings() -> MailSettings {
    MailSettings {
        from: "Attestations d'essai <ne-pas-repondre@attestations.example.fr>"
            .parse()
            .unwrap(),
        operator: "Opérateur d'essai — Académie".to_owned(),
        public_url: "https://attestations.example.fr".to_owned(),
        verify_email_valid_for: "48 heures".to_owned(),
        password_reset_valid_for: "1 heure".to_owned(),
    }
}

fn scope() -> DiplomaScope {
    DiplomaScope {
        kind: DiplomaKind::BacGeneral,
        session: Session::new(2021).unwrap(),
        academie: Academie::Lyon,
    }
}

#[tokio::test]
async fn a_message_is_delivered_with_its_headers_accents_and_links() {
    let sink = Sink::start();
    let mail = Mail::VerifyEmail {
        to: Email::parse("camille.durand@exemple.fr").unwrap(),
        token: SecretToken::new("Zx9-_abc".to_owned()),
    };
    let message = compose(&mail, &settings()).unwrap();
    sink.transport().deliver(&message).await.unwrap();

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m["mail_from"], "ne-pas-repondre@attestations.example.fr");
    assert_eq!(m["rcpt_tos"][0], "camille.durand@exemple.fr");
    assert_eq!(
        m["from"],
        "Attestations d'essai <ne-pas-repondre@attestations.example.fr>"
    );
    assert_eq!(m["to"], "camille.durand@exemple.fr");
    assert_eq!(m["subject"], "Confirmez votre adresse électronique");
    assert_eq!(m["content_language"], "fr");
    assert_eq!(m["content_type"], "multipart/alternative");
    assert_eq!(m["text_charset"], "utf-8");
    let text = m["text"].as_str().unwrap();
    assert!(
        text.contains("https://attestations.example.fr/compte/confirmer?jeton=Zx9-_abc"),
        "{text}"
    );
    assert!(text.contains("Opérateur d'essai — Académie"), "{text}");
    assert!(text.contains("48 heures"), "{text}");
    let html = m["html"].as_str().unwrap();
    assert!(
        html.contains(
            "<a href=\"https://attestations.example.fr/compte/confirmer?jeton=Zx9-_abc\""
        ),
        "{html}"
    );
    assert!(
        html.contains("Confirmer mon adresse électronique"),
        "{html}"
    );
    assert!(html.contains("lang=\"fr\""));
}

#[tokio::test]
async fn every_kind_of_message_goes_through() {
    let sink = Sink::start();
    let transport = sink.transport();
    let to = || Email::parse("zoe.helene@exemple.fr").unwrap();
    let mails = [
        Mail::PasswordReset {
            to: to(),
            token: SecretToken::new("reset".to_owned()),
        },
        Mail::ProfileDeleted { to: to() },
        Mail::AttestationVerified {
            to: to(),
            scope: scope(),
            at: datetime!(2026-11-24 10:05 UTC),
            organisation: Some("Société Générale".to_owned()),
        },
        Mail::RecordWithdrawn {
            to: to(),
            scope: scope(),
        },
    ];
    for mail in &mails {
        transport
            .deliver(&compose(mail, &settings()).unwrap())
            .await
            .unwrap();
    }
    let received = sink.received();
    let subjects: Vec<&str> = received
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "Réinitialisation de votre mot de passe",
            "Votre profil a été supprimé",
            "Une de vos attestations a été vérifiée",
            "Un de vos diplômes a été retiré par le service des examens",
        ]
    );
    let verified = received[2]["text"].as_str().unwrap();
    assert!(verified.contains("Baccalauréat général, session 2021, académie de Lyon"));
    assert!(verified.contains("« Société Générale »"));
}

#[tokio::test]
async fn a_relay_that_is_down_is_a_temporary_failure() {
    // a port nothing listens on: take a free one from the system, then close it
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let transport = MailTransport::new(&TransportConfig::Smtp {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        credentials: None,
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let message = compose(
        &Mail::ProfileDeleted {
            to: Email::parse("a@exemple.fr").unwrap(),
        },
        &settings(),
    )
    .unwrap();
    match transport.deliver(&message).await {
        Err(DeliveryError::Temporary(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_directory_transport_writes_readable_eml_files() {
    let dir = std::env::temp_dir().join(format!("sand-mail-dir-{}", std::process::id()));
    let transport = MailTransport::new(&TransportConfig::Directory(dir.clone())).unwrap();
    let message = compose(
        &Mail::ProfileDeleted {
            to: Email::parse("a@exemple.fr").unwrap(),
        },
        &settings(),
    )
    .unwrap();
    transport.deliver(&message).await.unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: a@exemple.fr"), "{raw}");
    assert!(raw.contains("multipart/alternative"));
    std::fs::remove_dir_all(dir).unwrap();
}
