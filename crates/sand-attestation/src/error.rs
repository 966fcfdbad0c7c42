//! Why an attestation could not be made (rendering, or sealing it with its signature).

use crate::payload::PayloadError;

/// Why a document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("the embedded font cannot be read")]
    Font,
    #[error("the QR code cannot hold the verification address: {0}")]
    Qr(String),
    #[error("the PDF cannot be written: {0}")]
    Pdf(String),
}
