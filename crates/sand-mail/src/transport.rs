//! Delivering messages: SMTP, or `.eml` files in a directory.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the mail relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    StartTls,
    /// No encryption: only for a relay on the same machine or in tests.
    None,
}

/// Where mail goes.
#[derive(Clone)]
pub enum TransportConfig {
    Smtp {
        host: String,
        port: u16,
        security: Security,
        /// User name and password, if the relay wants them.
        credentials: Option<(String, String)>,
        /// A certificate authority to trust besides the public ones (PEM), for a relay
        /// whose certificate an internal authority signed.
        extra_root_certificate: Option<Vec<u8>>,
        /// Limit for each network operation.
        timeout: Duration,
    },
    /// One `.eml` file per message, for a person to read (the embedded default).
    Directory(PathBuf),
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp {
                host,
                port,
                security,
                credentials,
                extra_root_certificate,
                timeout,
            } => f
                .debug_struct("Smtp")
                .field("host", host)
                .field("port", port)
                .field("security", security)
                .field("user", &credentials.as_ref().map(|(user, _)| user))
                .field("extra_root_certificate", &extra_root_certificate.is_some())
                .field("timeout", timeout)
                .finish_non_exhaustive(),
            Self::Directory(dir) => f.debug_tuple("Directory").field(dir).finish(),
        }
    }
}

/// Why a message was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: the relay is down, busy, or said "try later".
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// Will fail again: the relay refused the message or the address for good.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

enum Inner {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(AsyncFileTransport<Tokio1Executor>),
}

/// A configured transport.
pub struct MailTransport {
    inner: Inner,
}

impl std::fmt::Debug for MailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.inner {
            Inner::Smtp(_) => "MailTransport(smtp)",
            Inner::Directory(_) => "MailTransport(directory)",
        })
    }
}

impl MailTransport {
    /// Builds the transport (no connection is made yet).
    ///
    /// # Errors
    /// [`DeliveryError::Permanent`] for a configuration that cannot work (bad TLS
    /// parameters, a directory that cannot be created).
    pub fn new(config: &TransportConfig) -> Result<Self, DeliveryError> {
        let inner = match config {
            TransportConfig::Smtp {
                host,
                port,
                security,
                credentials,
                extra_root_certificate,
                timeout,
            } => {
                let permanent =
                    |e: lettre::transport::smtp::Error| DeliveryError::Permanent(e.to_string());
                let parameters = || -> Result<TlsParameters, DeliveryError> {
                    let mut tls = TlsParameters::builder(host.clone());
                    if let Some(pem) = extra_root_certificate {
                        tls = tls
                            .add_root_certificate(Certificate::from_pem(pem).map_err(permanent)?);
                    }
                    tls.build_rustls().map_err(permanent)
                };
                let tls = match security {
                    Security::Tls => Tls::Wrapper(parameters()?),
                    Security::StartTls => Tls::Required(parameters()?),
                    Security::None => Tls::None,
                };
                let builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).tls(tls);
                let mut builder = builder.port(*port).timeout(Some(*timeout));
                if let Some((user, password)) = credentials {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Inner::Smtp(builder.build())
            }
            TransportConfig::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| DeliveryError::Permanent(format!("{}: {e}", dir.display())))?;
                Inner::Directory(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
        };
        Ok(Self { inner })
    }

    /// Delivers one message.
    ///
    /// # Errors
    /// [`DeliveryError`], telling whether trying again later may succeed.
    pub async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        match &self.inner {
            Inner::Smtp(smtp) => smtp.send(message.clone()).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    DeliveryError::Permanent(e.to_string())
                } else {
                    DeliveryError::Temporary(e.to_string())
                }
            }),
            Inner::Directory(files) => files
                .send(message.clone())
                .await
                .map(|_| ())
                .map_err(|e| DeliveryError::Temporary(e.to_string())),
        }
    }
}
