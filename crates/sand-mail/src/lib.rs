//! SAND's mail: the domain's [`Mail`] messages turned into French e-mails — a plain text
//! part and an accessible HTML part, from templates — and the transports that deliver
//! them: SMTP (implicit TLS, STARTTLS or plain, optional authentication, timeouts) in
//! production, a directory of `.eml` files for the embedded and demonstration default —
//! and the background [`OutboxSender`] that delivers the mail outbox (mails are queued
//! in the transaction of the change that causes them; a relay that is down delays mail,
//! it never loses it).

mod compose;
mod sender;
mod transport;

pub use compose::{ComposeError, MailSettings, compose};
pub use sender::{OutboxSender, SendReport, SenderSettings};
pub use transport::{DeliveryError, MailTransport, Security, TransportConfig};

pub use lettre::Message;
pub use lettre::message::Mailbox;
pub use sand_domain::ports::Mail;
