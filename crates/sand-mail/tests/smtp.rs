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
    /// On a port the system chooses (the sink prints it).
    fn start() -> Self {
        Self::start_with(&[])
    }

    /// With the sink's options (`--tls-cert`, `--user`, …).
    fn start_with(options: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "sand-smtp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(&dir)
            .args(options)
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
            extra_root_certificate: None,
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
    assert_eq!(m["subject"], "Confirmez votre adresse e-mail");
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
    assert!(html.contains("Confirmer mon adresse e-mail"), "{html}");
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
            stop: sand_domain::SecretToken::new("arret-jeton".to_owned()),
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
    // a relay that closes every connection at once (the address is held by the test:
    // no port is freed and reused by someone else meanwhile)
    let relay = RelayAddress::down().await;
    let transport = MailTransport::new(&TransportConfig::Smtp {
        host: "127.0.0.1".into(),
        port: relay.port,
        security: Security::None,
        credentials: None,
        extra_root_certificate: None,
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

// ---------------------------------------------------------------------------------------
// The outbox sender, on a real outbox (SQLite through sand-persistence) and a real relay

use std::sync::Arc;

use sand_domain::ports::{MailQueue, Mailer};
use sand_mail::{OutboxSender, SendReport, SenderSettings};
use sand_persistence::{DatabaseRoles, KeyProtector, Store, StoreSettings};

async fn outbox_store() -> (Store, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "sand-outbox-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let url = format!("sqlite://{}", dir.join("sand.db").display());
    let store = Store::connect(
        &StoreSettings::new(&url),
        KeyProtector::from_secret(&[7; 32]).unwrap(),
    )
    .await
    .unwrap();
    store.migrate(&DatabaseRoles::default()).await.unwrap();
    (store, dir)
}

fn smtp_to(port: u16) -> MailTransport {
    MailTransport::new(&TransportConfig::Smtp {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        credentials: None,
        extra_root_certificate: None,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// The relay's address as the sender knows it: a listener the test holds for the whole
/// test (no port is freed and reused), that refuses mail while the relay is "down" and
/// relays to `upstream` once it is set.
struct RelayAddress {
    port: u16,
    upstream: tokio::sync::watch::Sender<Option<u16>>,
}

impl RelayAddress {
    async fn down() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (upstream, watch) = tokio::sync::watch::channel(None::<u16>);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // down: the connection is closed at once, as a stopped relay's would be
                let Some(to) = *watch.borrow() else {
                    drop(client);
                    continue;
                };
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port, upstream }
    }

    /// The relay is back: connections go to `sink`.
    fn up(&self, sink: &Sink) {
        self.upstream.send_replace(Some(sink.port));
    }
}

#[tokio::test]
async fn a_relay_that_is_down_delays_mail_and_never_loses_it() {
    let (store, dir) = outbox_store().await;
    let queue: Arc<dyn MailQueue> = Arc::new(store.mail_queue());
    store
        .mailer()
        .send(Mail::ProfileDeleted {
            to: Email::parse("camille.durand@exemple.fr").unwrap(),
        })
        .await
        .unwrap();

    // the relay is down: the mail stays, with a later attempt scheduled
    let relay = RelayAddress::down().await;
    let sender = OutboxSender::new(
        Arc::clone(&queue),
        smtp_to(relay.port),
        settings(),
        SenderSettings::default(),
    );
    let now = time::OffsetDateTime::now_utc();
    assert_eq!(
        sender.send_due(now).await.unwrap(),
        SendReport {
            delivered: 0,
            retried: 1,
            abandoned: 0
        }
    );
    assert_eq!(queue.depth().await.unwrap(), 1);
    // not due again before its backoff
    assert_eq!(
        sender
            .send_due(now + time::Duration::seconds(10))
            .await
            .unwrap(),
        SendReport::default()
    );

    // the relay comes back on the same address: the next round delivers
    let sink = Sink::start();
    relay.up(&sink);
    let report = sender
        .send_due(now + time::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(queue.depth().await.unwrap(), 0);
    let received = sink.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["subject"], "Votre profil a été supprimé");
    drop(sink);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_refused_recipient_is_abandoned_not_retried_forever() {
    let (store, dir) = outbox_store().await;
    let queue: Arc<dyn MailQueue> = Arc::new(store.mail_queue());
    let sink = Sink::start();
    for to in ["refuse@exemple.fr", "ok@exemple.fr"] {
        store
            .mailer()
            .send(Mail::ProfileDeleted {
                to: Email::parse(to).unwrap(),
            })
            .await
            .unwrap();
    }
    let sender = OutboxSender::new(
        Arc::clone(&queue),
        sink.transport(),
        settings(),
        SenderSettings::default(),
    );
    let report = sender
        .send_due(time::OffsetDateTime::now_utc() + time::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        report,
        SendReport {
            delivered: 1,
            retried: 0,
            abandoned: 1
        }
    );
    assert_eq!(queue.depth().await.unwrap(), 0);
    assert_eq!(sink.received().len(), 1);
    drop(sink);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn backoff_doubles_up_to_its_ceiling() {
    let sender = OutboxSender::new(
        Arc::new(sand_domain::ports::MockMailQueue::new()),
        MailTransport::new(&TransportConfig::Directory(std::env::temp_dir())).unwrap(),
        settings(),
        SenderSettings::default(),
    );
    assert_eq!(sender.backoff(1), time::Duration::seconds(30));
    assert_eq!(sender.backoff(2), time::Duration::seconds(60));
    assert_eq!(sender.backoff(5), time::Duration::seconds(480));
    assert_eq!(sender.backoff(50), time::Duration::hours(1));
}

/// A throw-away certificate authority and a certificate it signed for `localhost`
/// (openssl, which `bash tests/run.sh` installs): (CA PEM, certificate file, key file).
fn test_certificates(dir: &Path) -> (Vec<u8>, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs (`bash tests/run.sh` installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=SAND test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "relay.key",
        "-out",
        "relay.csr",
    ]);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "relay.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "relay.pem",
    ]);
    (
        std::fs::read(dir.join("ca.pem")).unwrap(),
        dir.join("relay.pem"),
        dir.join("relay.key"),
    )
}

fn starttls_transport(
    port: u16,
    ca: Option<Vec<u8>>,
    credentials: Option<(&str, &str)>,
    security: Security,
) -> MailTransport {
    MailTransport::new(&TransportConfig::Smtp {
        host: "localhost".into(),
        port,
        security,
        credentials: credentials.map(|(u, p)| (u.to_owned(), p.to_owned())),
        extra_root_certificate: ca,
        timeout: Duration::from_secs(10),
    })
    .unwrap()
}

#[tokio::test]
async fn starttls_and_smtp_login_deliver_and_nothing_weaker_does() {
    let certs = std::env::temp_dir().join(format!("sand-smtp-tls-{}", std::process::id()));
    let (ca, cert, key) = test_certificates(&certs);
    let sink = Sink::start_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
        "--user",
        "sand",
        "--password",
        "mot de passe du relais",
    ]);
    let message = compose(
        &Mail::ProfileDeleted {
            to: Email::parse("camille.durand@exemple.fr").unwrap(),
        },
        &settings(),
    )
    .unwrap();

    // STARTTLS (the default), the relay's authority trusted, the right login: delivered
    starttls_transport(
        sink.port,
        Some(ca.clone()),
        Some(("sand", "mot de passe du relais")),
        Security::StartTls,
    )
    .deliver(&message)
    .await
    .unwrap();
    assert_eq!(sink.received().len(), 1);

    // a wrong password is refused
    assert!(
        starttls_transport(
            sink.port,
            Some(ca.clone()),
            Some(("sand", "faux")),
            Security::StartTls
        )
        .deliver(&message)
        .await
        .is_err()
    );
    // a certificate nobody we trust signed is refused (no silent downgrade)
    assert!(
        starttls_transport(
            sink.port,
            None,
            Some(("sand", "mot de passe du relais")),
            Security::StartTls
        )
        .deliver(&message)
        .await
        .is_err()
    );
    // without TLS the relay takes nothing, and no password is sent in clear
    assert!(
        starttls_transport(sink.port, None, None, Security::None)
            .deliver(&message)
            .await
            .is_err()
    );
    assert_eq!(
        sink.received().len(),
        1,
        "only the protected delivery arrived"
    );
    drop(sink);
    let _ = std::fs::remove_dir_all(certs);
}
