//! Accepting and serving HTTP connections within bounds, so that clients
//! that connect and then stall (or trickle bytes) cannot pile up until the
//! agent runs out of file descriptors or of places for the operator.
//!
//! The policy, per [`ConnectionLimits`]:
//! - at most `max_connections` are served at once; while that many are
//!   open the agent stops accepting, so further clients wait in the
//!   kernel's listen backlog (and are refused by the kernel once it is
//!   full) until one closes;
//! - a request head (request line and headers) that has not fully arrived
//!   `header_timeout` after the server started waiting for it closes the
//!   connection;
//! - a connection on which nothing was read or written for `idle_timeout`
//!   is closed (server-sent event streams write a keep-alive every 15 s,
//!   so a live stream is never idle that long).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::{sleep, Instant, Sleep};
use tower_service::Service;

/// How many connections the server holds open, and for how long a silent
/// one is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// Longest wait for a complete request head.
    pub header_timeout: Duration,
    /// Longest time without a byte read or written.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// 128 connections (twice the event stream limit), 10 s for a request
    /// head, 60 s of silence.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 128,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes;
/// the connections still open are then cut. Each request carries the
/// client's address as [`ConnectInfo<SocketAddr>`].
pub async fn serve_within(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Finished connections are reaped here, so the set stays as small
        // as the number of open connections.
        while connections.try_join_next().is_some() {}
        let place = tokio::select! {
            place = places.clone().acquire_owned() => place,
            () = &mut shutdown => break,
        };
        let Ok(place) = place else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            // Out of descriptors, or a connection reset before it was
            // accepted: wait a moment rather than spin.
            Err(_) => {
                sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle_timeout));
        let app = app.clone();
        // Each request carries the client's address. A router is always
        // ready: calling it without `poll_ready` is allowed.
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(client));
            let mut app = app.clone();
            async move { app.call(request).await }
        });
        connections.spawn(async move {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(io, service);
            // Errors (a client gone, a timeout) end the connection only.
            let _ = connection.await;
            drop(place);
        });
    }
    connections.shutdown().await;
    Ok(())
}

/// A stream that fails with [`io::ErrorKind::TimedOut`] once nothing was
/// read or written on it for its idle time.
struct IdleTimeout {
    stream: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl IdleTimeout {
    fn new(stream: TcpStream, idle: Duration) -> Self {
        IdleTimeout {
            stream,
            idle,
            deadline: Box::pin(sleep(idle)),
        }
    }

    fn touch(&mut self) {
        let next = Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// `Ready(Err)` once the deadline passed while the stream waited.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        ready!(self.deadline.as_mut().poll(cx));
        Poll::Ready(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection idle for too long",
        ))
    }
}

impl AsyncRead for IdleTimeout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => this.poll_expired(cx).map(Err),
        }
    }
}

impl AsyncWrite for IdleTimeout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, data) {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    this.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_expired(cx).map(Err),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use std::io::{Read, Write};
    use std::net::SocketAddr;

    const LIMITS: ConnectionLimits = ConnectionLimits {
        max_connections: 2,
        header_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(600),
    };

    /// A server with `LIMITS` answering "ok" on `/` (and echoing the body
    /// of `POST /echo`), on its own runtime
    /// thread; stopped when the returned sender is dropped.
    fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                address_tx
                    .send(listener.local_addr().expect("address"))
                    .expect("send");
                let app = Router::new()
                    .route("/", get(|| async { "ok" }))
                    .route("/echo", post(|body: String| async move { body }));
                let _ = serve_within(listener, app, LIMITS, async {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        (address_rx.recv().expect("address"), stop)
    }

    fn get_root(address: SocketAddr) -> String {
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    /// Reads until the server closes the connection; how long that took.
    fn time_to_close(stream: &mut std::net::TcpStream) -> Duration {
        let started = std::time::Instant::now();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
        started.elapsed()
    }

    #[test]
    fn clients_that_stall_do_not_keep_others_out() {
        let (address, _stop) = start();
        // Both places taken by clients that never send a byte.
        let _silent: Vec<_> = (0..2)
            .map(|_| std::net::TcpStream::connect(address).expect("connect"))
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        // A third client waits for a place, then is served once the
        // silent ones are cut by the header timeout.
        let started = std::time::Instant::now();
        let answer = get_root(address);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
        assert!(answer.ends_with("ok"), "{answer:?}");
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "served at once although both places were taken ({:?})",
            started.elapsed()
        );
    }

    #[test]
    fn a_request_head_trickled_in_is_cut_at_the_header_timeout() {
        let (address, _stop) = start();
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream.write_all(b"GET / HTTP/1.1\r\n").expect("write");
        let writer = stream.try_clone().expect("clone");
        // One header byte every 50 ms, never finishing the head.
        let trickle = std::thread::spawn(move || {
            let mut writer = writer;
            for _ in 0..100 {
                if writer.write_all(b"a").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let closed_after = time_to_close(&mut stream);
        assert!(
            closed_after < Duration::from_secs(3),
            "still open after {closed_after:?}"
        );
        let _ = trickle.join();
        // The server still answers.
        assert!(get_root(address).ends_with("ok"));
    }

    /// Sends `request` on a new connection to a new server, then waits
    /// for the server to close it; how long that took.
    fn closed_after_sending(request: &[u8]) -> Duration {
        let (address, _stop) = start();
        let mut stream = std::net::TcpStream::connect(address).expect("connect");
        stream.write_all(request).expect("write");
        time_to_close(&mut stream)
    }

    #[test]
    fn a_request_whose_body_stalls_is_cut_at_the_idle_timeout() {
        // A complete head announcing 100 bytes of body, then nothing.
        let closed_after = closed_after_sending(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
        );
        assert!(
            closed_after >= Duration::from_millis(400) && closed_after < Duration::from_secs(3),
            "closed after {closed_after:?}"
        );
    }

    #[test]
    fn an_idle_kept_alive_connection_is_closed() {
        // The answer comes, then the connection stays open (keep-alive)
        // until a timeout.
        let closed_after = closed_after_sending(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            closed_after >= Duration::from_millis(250) && closed_after < Duration::from_secs(3),
            "closed after {closed_after:?}"
        );
    }
}
