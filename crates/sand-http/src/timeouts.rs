//! Connection deadlines, so that a client cannot hold a connection open by sending
//! slowly (slowloris) when the service is exposed directly:
//!
//! - **header**: once a request has begun, its header block must be complete within
//!   `header` (a half-sent header is dropped);
//! - **request**: once a request has begun, it must be received whole *and* answered
//!   within `request` — a body sent five bytes at a time defeats any per-read timeout,
//!   not this deadline;
//! - **idle**: a kept-alive connection with no request under way closes after `idle`.
//!
//! [`GuardedAcceptor`] wraps any poem acceptor; each connection's I/O is a
//! [`GuardedIo`] that tracks where the connection is (idle, in a request's header, in
//! its body or processing) from the bytes it carries: reads start a request, the end of
//! the header block (`CRLF CRLF`) ends the header phase, the first byte written back
//! (the answer) makes the connection idle again. When the phase's deadline passes, the
//! next read fails with `TimedOut` and the server closes the connection.
//!
//! HTTP/2 with prior knowledge (its preface) keeps only the idle deadline: its frames do
//! not follow the phases above (SAND is served as HTTP/1.1 behind its TLS proxy).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The deadlines of every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// From a request's first byte to the end of its header block.
    pub header: Duration,
    /// From a request's first byte to the first byte of its answer.
    pub request: Duration,
    /// A connection with no request under way.
    pub idle: Duration,
}

impl Default for ConnectionTimeouts {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            request: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }
}

/// Wraps an acceptor: every connection it accepts keeps [`ConnectionTimeouts`].
#[derive(Debug)]
pub struct GuardedAcceptor<A> {
    inner: A,
    timeouts: ConnectionTimeouts,
}

impl<A> GuardedAcceptor<A> {
    #[must_use]
    pub fn new(inner: A, timeouts: ConnectionTimeouts) -> Self {
        Self { inner, timeouts }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let (io, local, remote, scheme) = self.inner.accept().await?;
        Ok((GuardedIo::new(io, self.timeouts), local, remote, scheme))
    }
}

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request under way.
    Idle,
    /// A request began at `started`; its header block is not complete.
    Header { started: Instant },
    /// A request began at `started`; its body is being read or it is being processed.
    Request { started: Instant },
    /// HTTP/2 with prior knowledge: only the idle deadline applies.
    Http2,
}

const END_OF_HEADER: [u8; 4] = *b"\r\n\r\n";
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

/// A connection's I/O under [`ConnectionTimeouts`].
#[derive(Debug)]
pub struct GuardedIo<T> {
    inner: T,
    timeouts: ConnectionTimeouts,
    phase: Phase,
    /// The last bytes read (to find `CRLF CRLF` across reads).
    tail: [u8; 3],
    /// The first bytes of the connection (to recognise HTTP/2's preface).
    first: Vec<u8>,
    last_activity: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<T> GuardedIo<T> {
    fn new(inner: T, timeouts: ConnectionTimeouts) -> Self {
        let now = Instant::now();
        Self {
            inner,
            timeouts,
            phase: Phase::Idle,
            tail: [0; 3],
            first: Vec::new(),
            last_activity: now,
            timer: Box::pin(tokio::time::sleep_until(now + timeouts.idle)),
        }
    }

    fn deadline(&self) -> Instant {
        match self.phase {
            Phase::Idle | Phase::Http2 => self.last_activity + self.timeouts.idle,
            Phase::Header { started } => started + self.timeouts.header,
            Phase::Request { started } => started + self.timeouts.request,
        }
    }

    /// Follows the phases through `bytes` just read.
    fn saw_read(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        self.last_activity = now;
        if bytes.is_empty() || self.phase == Phase::Http2 {
            return;
        }
        if self.first.len() < HTTP2_PREFACE.len() {
            let take = (HTTP2_PREFACE.len() - self.first.len()).min(bytes.len());
            self.first.extend_from_slice(&bytes[..take]);
            if self.first.len() == HTTP2_PREFACE.len() && self.first == HTTP2_PREFACE {
                self.phase = Phase::Http2;
                return;
            }
        }
        if self.phase == Phase::Idle {
            self.phase = Phase::Header { started: now };
        }
        if let Phase::Header { started } = self.phase
            && self.ends_header(bytes)
        {
            self.phase = Phase::Request { started };
        }
        self.keep_tail(bytes);
    }

    /// Whether `CRLF CRLF` is in the bytes read so far (the last three kept) and `bytes`.
    fn ends_header(&self, bytes: &[u8]) -> bool {
        let head = &bytes[..bytes.len().min(3)];
        let mut seam = [0u8; 6];
        seam[..3].copy_from_slice(&self.tail);
        seam[3..3 + head.len()].copy_from_slice(head);
        seam[..3 + head.len()]
            .windows(4)
            .any(|w| w == END_OF_HEADER)
            || bytes.windows(4).any(|w| w == END_OF_HEADER)
    }

    fn keep_tail(&mut self, bytes: &[u8]) {
        if let Some(last) = bytes.len().checked_sub(3).map(|at| &bytes[at..]) {
            self.tail.copy_from_slice(last);
        } else {
            for &b in bytes {
                self.tail = [self.tail[1], self.tail[2], b];
            }
        }
    }

    /// An answer is being written: the request is over, the connection is idle again.
    fn saw_write(&mut self) {
        self.last_activity = Instant::now();
        if self.phase != Phase::Http2 {
            self.phase = Phase::Idle;
            self.tail = [0; 3];
        }
    }

    /// `Err(TimedOut)` once the current phase's deadline has passed; otherwise arms the
    /// timer so that the task is woken at the deadline.
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let deadline = self.deadline();
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection deadline passed",
            ));
        }
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection deadline passed",
            ));
        }
        Ok(())
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                this.saw_read(read);
                if read.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                // data that arrives after the deadline does not save the request
                match this.check_deadline(cx) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(e) => Poll::Ready(Err(e)),
                }
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.check_deadline(cx) {
                Ok(()) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.saw_write();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            this.saw_write();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn io() -> GuardedIo<()> {
        GuardedIo::new((), ConnectionTimeouts::default())
    }

    #[tokio::test]
    async fn the_phases_follow_the_bytes_even_split_across_reads() {
        let mut io = io();
        assert_eq!(io.phase, Phase::Idle);
        io.saw_read(b"POST / HTTP/1.1\r\nHost: x\r");
        assert!(matches!(io.phase, Phase::Header { .. }));
        io.saw_read(b"\n\r");
        assert!(matches!(io.phase, Phase::Header { .. }));
        io.saw_read(b"\nbody");
        assert!(matches!(io.phase, Phase::Request { .. }));
        io.saw_write();
        assert_eq!(io.phase, Phase::Idle);
    }

    #[tokio::test]
    async fn http2_with_prior_knowledge_keeps_only_the_idle_deadline() {
        let mut io = io();
        io.saw_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert_eq!(io.phase, Phase::Http2);
        io.saw_read(b"\x00\x00\x12\x04");
        assert_eq!(io.phase, Phase::Http2);
    }
}
