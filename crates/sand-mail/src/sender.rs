//! The background sender: delivers the outbox's due mails, retries with exponential
//! backoff when the relay is down or says "later", and gives up only on a permanent
//! refusal or after a long time.

use std::future::Future;
use std::sync::Arc;

use sand_domain::PortError;
use sand_domain::ports::MailQueue;
use time::{Duration, OffsetDateTime};
use tracing::{info, warn};

use crate::compose::{MailSettings, compose};
use crate::transport::{DeliveryError, MailTransport};

/// How the sender paces itself.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Mails claimed per round.
    pub batch: u32,
    /// How long a claimed mail is reserved to this sender.
    pub lease: Duration,
    /// Delay before the second attempt; doubled at each further attempt…
    pub first_retry: Duration,
    /// …up to this.
    pub max_retry: Duration,
    /// Attempts after which a mail that still fails is abandoned (kept for the operator).
    pub max_attempts: u32,
    /// Pause between rounds when nothing was due.
    pub idle: std::time::Duration,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            batch: 20,
            lease: Duration::minutes(5),
            first_retry: Duration::seconds(30),
            max_retry: Duration::hours(1),
            // with the defaults: about three days of attempts
            max_attempts: 80,
            idle: std::time::Duration::from_secs(5),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendReport {
    pub delivered: u32,
    pub retried: u32,
    pub abandoned: u32,
}

/// Delivers the outbox.
pub struct OutboxSender {
    queue: Arc<dyn MailQueue>,
    transport: MailTransport,
    mail: MailSettings,
    settings: SenderSettings,
}

impl std::fmt::Debug for OutboxSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxSender")
            .field("transport", &self.transport)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl OutboxSender {
    #[must_use]
    pub fn new(
        queue: Arc<dyn MailQueue>,
        transport: MailTransport,
        mail: MailSettings,
        settings: SenderSettings,
    ) -> Self {
        Self {
            queue,
            transport,
            mail,
            settings,
        }
    }

    /// The delay before attempt `attempts + 1`.
    #[must_use]
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        let delay = self.settings.first_retry * 2_i32.saturating_pow(doublings);
        delay.min(self.settings.max_retry)
    }

    /// One round: claims the mails due at `now` and tries each once.
    ///
    /// # Errors
    /// [`PortError`] when the outbox cannot be read or updated (nothing is lost: a claimed
    /// mail whose outcome was not recorded is tried again when its lease ends).
    pub async fn send_due(&self, now: OffsetDateTime) -> Result<SendReport, PortError> {
        let mut report = SendReport::default();
        let due = self
            .queue
            .claim_due(now, self.settings.lease, self.settings.batch)
            .await?;
        for queued in due {
            let outcome = match compose(&queued.mail, &self.mail) {
                Ok(message) => self.transport.deliver(&message).await,
                Err(e) => Err(DeliveryError::Permanent(e.to_string())),
            };
            match outcome {
                Ok(()) => {
                    self.queue.delivered(queued.id).await?;
                    report.delivered += 1;
                }
                Err(DeliveryError::Temporary(error))
                    if queued.attempts < self.settings.max_attempts =>
                {
                    let at = now + self.backoff(queued.attempts);
                    warn!(mail = ?queued.id, attempts = queued.attempts, %error, retry_at = %at, "mail not delivered, will retry");
                    self.queue.retry_at(queued.id, at, &error).await?;
                    report.retried += 1;
                }
                Err(DeliveryError::Temporary(error) | DeliveryError::Permanent(error)) => {
                    warn!(mail = ?queued.id, attempts = queued.attempts, %error, "mail abandoned");
                    self.queue.abandon(queued.id, now, &error).await?;
                    report.abandoned += 1;
                }
            }
        }
        if report != SendReport::default() {
            info!(
                delivered = report.delivered,
                retried = report.retried,
                abandoned = report.abandoned,
                "outbox round"
            );
        }
        Ok(report)
    }

    /// Runs rounds until `shutdown` completes; a round in progress is finished first.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.send_due(OffsetDateTime::now_utc()).await {
                Ok(report) => report != SendReport::default(),
                Err(e) => {
                    warn!(error = %e, "outbox unavailable");
                    false
                }
            };
            if busy {
                // a backlog: the next round at once, unless asked to stop (a round is a
                // few messages, so a stop waits for one round at most)
                tokio::select! {
                    biased;
                    () = &mut shutdown => return,
                    () = std::future::ready(()) => continue,
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.settings.idle) => {}
            }
        }
    }
}
