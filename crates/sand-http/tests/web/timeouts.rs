//! Slow clients against the real server on a real socket (port 0): a half-sent header,
//! an idle kept-alive connection and a body sent five bytes at a time are each closed
//! at their deadline, while a normal client is served, twice on one connection.

use std::time::{Duration, Instant};

use poem::listener::{Acceptor, Listener, TcpListener};
use sand_http::timeouts::{ConnectionTimeouts, GuardedAcceptor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestApp;

const TIMEOUTS: ConnectionTimeouts = ConnectionTimeouts {
    header: Duration::from_millis(400),
    request: Duration::from_millis(800),
    idle: Duration::from_millis(600),
};

/// Serves the app with [`TIMEOUTS`]; returns its address.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let acceptor = GuardedAcceptor::new(
        TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap(),
        TIMEOUTS,
    );
    let address = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let endpoint = sand_http::app(app.state.clone());
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(endpoint));
    address
}

/// Sends `drip` every 50 ms (if any) until the server closes the connection; returns
/// how long that took, or fails after 10 s.
async fn closed_after(stream: &mut TcpStream, drip: Option<&[u8]>) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the connection is still open after 10 s"
        );
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return started.elapsed(),
                // an answer (e.g. 408) may precede the close: keep reading
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Some(bytes) = drip
                    && stream.write_all(bytes).await.is_err()
                {
                    return started.elapsed();
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_half_sent_header_is_cut_off_at_the_header_deadline() {
    let app = TestApp::new().await;
    let mut stream = TcpStream::connect(serve(&app).await).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: sand\r\n")
        .await
        .unwrap();
    let took = closed_after(&mut stream, Some(b"X-Lent: a\r\n")).await;
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_connection_is_closed_at_the_idle_deadline() {
    let app = TestApp::new().await;
    let mut stream = TcpStream::connect(serve(&app).await).await.unwrap();
    let took = closed_after(&mut stream, None).await;
    assert!(took >= Duration::from_millis(500), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_sent_five_bytes_at_a_time_is_cut_off_at_the_request_deadline() {
    let app = TestApp::new().await;
    let mut stream = TcpStream::connect(serve(&app).await).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/attestations/controle HTTP/1.1\r\nHost: sand\r\n\
              Content-Type: application/pdf\r\nContent-Length: 5000000\r\n\r\n",
        )
        .await
        .unwrap();
    // five bytes every 50 ms: each read is quick, the whole never arrives
    let took = closed_after(&mut stream, Some(b"%PDF-")).await;
    assert!(took >= Duration::from_millis(700), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_normal_client_is_served_twice_on_one_kept_alive_connection() {
    let app = TestApp::new().await;
    let mut stream = TcpStream::connect(serve(&app).await).await.unwrap();
    for _ in 0..2 {
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: sand\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed early");
            answer.extend_from_slice(&buf[..n]);
        }
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        // the whole body of this small answer, before the next request
        let length: usize = text
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap();
        let header_end = text.find("\r\n\r\n").unwrap() + 4;
        while answer.len() < header_end + length {
            let n = stream.read(&mut buf).await.unwrap();
            answer.extend_from_slice(&buf[..n]);
        }
    }
}
