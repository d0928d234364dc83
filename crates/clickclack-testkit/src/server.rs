//! The listener, per-connection hyper service, and the request pipeline
//! (correlation id, counters, faults, routing).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::faults::{FaultState, Faults};
use crate::http::{Ctx, Resp, error_response, parse_query};
use crate::hub::Kill;
use crate::ids::{random_token, valid_correlation_id};
use crate::raw::ServerBody;
use crate::router;
use crate::store::Store;

/// State shared by every connection of one server.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) faults: FaultState,
    /// Whether `/admin/*` (loopback-only HTTP admin API) is served.
    pub(crate) admin_http: bool,
}

/// A ClickClack-compatible server on loopback. Dropping it stops the server
/// and drops every open connection.
pub struct TestServer {
    pub(crate) shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0`. Must be called inside a Tokio
    /// runtime with I/O and time enabled (e.g. `#[tokio::test]`); the server's
    /// tasks run on that runtime.
    ///
    /// # Panics
    ///
    /// Panics if no loopback port can be bound (use
    /// [`try_start`](Self::try_start) to handle that).
    pub async fn start() -> TestServer {
        match Self::try_start().await {
            Ok(server) => server,
            Err(e) => panic!("clickclack-testkit: cannot bind 127.0.0.1:0: {e}"),
        }
    }

    /// Starts a server on `127.0.0.1:0`, returning bind errors.
    pub async fn try_start() -> io::Result<TestServer> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts a server on `addr` (the HTTP admin API stays off).
    pub async fn bind(addr: SocketAddr) -> io::Result<TestServer> {
        Self::bind_with(addr, false).await
    }

    pub(crate) async fn bind_with(addr: SocketAddr, admin_http: bool) -> io::Result<TestServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            admin_http,
            ..Shared::default()
        });
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), rx));
        Ok(TestServer {
            shared,
            addr,
            shutdown,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT` (no trailing slash).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Fault injection and counters.
    pub fn faults(&self) -> Faults {
        Faults {
            shared: self.shared.clone(),
        }
    }

    /// Realtime upgrade requests received so far.
    pub fn realtime_connection_attempts(&self) -> u64 {
        self.faults().realtime_connection_attempts()
    }

    /// Realtime sockets open right now.
    pub fn open_realtime_connections(&self) -> usize {
        self.faults().open_realtime_connections()
    }

    /// Requests received whose method matches and path starts with `path_prefix`.
    pub fn request_count(&self, method: &str, path_prefix: &str) -> u64 {
        self.faults().request_count(method, path_prefix)
    }

    /// Stops accepting and drops every connection (also done on drop).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.task.abort();
        self.shared.store.hub.kill_all(Kill::Drop);
    }
}

impl std::fmt::Debug for TestServer {
    // Manual: the store holds raw session tokens, which must never be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_connection(stream, peer, shared.clone(), shutdown.clone()));
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let kill = Arc::new(Notify::new());
    let svc_kill = kill.clone();
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        let kill = svc_kill.clone();
        async move { Ok::<_, Infallible>(handle(shared, peer, kill, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
        _ = shutdown.changed() => {}
    }
}

async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    kill: Arc<Notify>,
    req: Request<Incoming>,
) -> http::Response<ServerBody> {
    let correlation_id = req
        .headers()
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_correlation_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| random_token(26));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    if router::is_realtime_ws(&method, &path) {
        shared
            .faults
            .realtime_attempts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let plan = shared.faults.on_request(method.as_str(), &path);
    if let Some(raw) = plan.raw {
        return raw.into_response(shared.faults.raw_sent.clone());
    }
    let mut resp: Resp = if let Some(failure) = plan.fail {
        let mut resp = error_response(&ApiError::new(failure.status, failure.message));
        if let Some(secs) = failure.retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    } else if router::is_realtime_ws(&method, &path) {
        match crate::ws::handle(&shared, req, peer, &correlation_id).await {
            Some(resp) => resp,
            None => {
                kill.notify_one();
                return std::future::pending().await;
            }
        }
    } else {
        let (parts, body) = req.into_parts();
        let mut ctx = Ctx {
            query: parse_query(parts.uri.query()),
            method,
            path,
            headers: parts.headers,
            correlation_id: correlation_id.clone(),
            peer,
            body: Some(body),
        };
        match router::route(&shared, &mut ctx).await {
            Ok(resp) => resp,
            Err(err) => error_response(&err),
        }
    };
    if let Ok(v) = HeaderValue::from_str(&correlation_id) {
        resp.headers_mut().insert("x-correlation-id", v);
    }
    if let Some(delay) = plan.delay {
        tokio::time::sleep(delay).await;
    }
    if plan.lose {
        kill.notify_one();
        return std::future::pending().await;
    }
    resp.map(ServerBody::from)
}
