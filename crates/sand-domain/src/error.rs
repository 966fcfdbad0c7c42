//! The one error type ports return for infrastructure failures.
//!
//! Ports return their business outcomes in their own types and signal infrastructure
//! failure with [`PortError`]. The cause is kept (boxed) for logging by the adapter that
//! maps it, but the domain never names an infrastructure type.

/// A boxed cause, for logs only.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An adapter could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A dependency (database, mail relay, identity provider) is down or overloaded;
    /// trying again later may work. Delivery mechanisms answer 503.
    #[error("a dependency of the service is unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug, corrupt data, a misconfiguration. Delivery mechanisms answer
    /// 500 with a request id.
    #[error("unexpected infrastructure failure")]
    Unexpected(#[source] BoxError),
}

impl PortError {
    /// Wraps any error as [`PortError::Unexpected`].
    pub fn unexpected(cause: impl Into<BoxError>) -> Self {
        Self::Unexpected(cause.into())
    }

    /// Wraps any error as [`PortError::Unavailable`].
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable(cause.into())
    }

    /// Whether trying again later may succeed.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
