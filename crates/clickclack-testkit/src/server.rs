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
use crate::gojson::GoShape;
use crate::http::{Ctx, Resp, error_response, parse_query};
use crate::hub::Kill;
use crate::ids::{random_token, valid_correlation_id};
use crate::raw::ServerBody;
use crate::router;
use crate::store::Store;

/// State shared by every connection of one server.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) faults: FaultState,
    /// Whether `/admin/*` (loopback-only HTTP admin API) is served.
    pub(crate) admin_http: bool,
    /// The bound address (for URLs the server hands out).
    pub(crate) local_addr: SocketAddr,
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

    /// Options for a server that should differ from the default (a Go
    /// server of the current version): see [`TestServerBuilder`].
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    pub(crate) async fn bind_with(addr: SocketAddr, admin_http: bool) -> io::Result<TestServer> {
        TestServer::builder()
            .addr(addr)
            .admin_http(admin_http)
            .start()
            .await
    }

    async fn start_with(options: TestServerBuilder) -> io::Result<TestServer> {
        let listener = TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            admin_http: options.admin_http,
            local_addr: addr,
            store: Store::default(),
            faults: FaultState::default(),
        });
        shared.store.write(|d| {
            d.shape = if options.empty_lists_as_arrays {
                GoShape::EmptyArrays
            } else {
                GoShape::Go
            };
            d.omit_tail_cursor = options.omit_tail_cursor;
            d.legacy_attachment_links = options.legacy_attachment_links;
            d.message_provenance = options.message_provenance;
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

    /// Switches `GET /api/realtime/events?include_tail=true` between the
    /// current server (`true`: `tail_cursor` is always in the response, `""`
    /// while nothing is visible) and an older server (`false`: the key is
    /// never sent, so a client must find the tail by paging).
    pub fn set_tail_cursor_supported(&self, supported: bool) {
        self.shared.store.write(|d| d.omit_tail_cursor = !supported);
    }

    /// Switches between a current server (`false`: `upload_id` attaches in
    /// the create, linking emits no event) and an older one (`true`: see
    /// [`TestServerBuilder::legacy_attachment_links`]).
    pub fn set_legacy_attachment_links(&self, legacy: bool) {
        self.shared
            .store
            .write(|d| d.legacy_attachment_links = legacy);
    }

    /// Stops accepting and drops every connection (also done on drop).
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        self.task.abort();
        self.shared.store.hub.kill_all(Kill::Drop);
    }
}

/// Options for [`TestServer::builder`]. The defaults behave like a current
/// Go ClickClack server on `127.0.0.1:0`; each option makes the server
/// older or kinder on purpose.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use clickclack_testkit::TestServer;
///
/// // A server from before `tail_cursor` existed.
/// let old = TestServer::builder().without_tail_cursor().start().await?;
/// assert!(old.base_url().starts_with("http://127.0.0.1:"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    addr: SocketAddr,
    admin_http: bool,
    empty_lists_as_arrays: bool,
    omit_tail_cursor: bool,
    legacy_attachment_links: bool,
    message_provenance: bool,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_http: false,
            empty_lists_as_arrays: DEFAULT_EMPTY_LISTS_AS_ARRAYS,
            omit_tail_cursor: false,
            legacy_attachment_links: false,
            message_provenance: false,
        }
    }
}

/// Whether a default server renders empty lists as `[]` instead of Go's `null`.
const DEFAULT_EMPTY_LISTS_AS_ARRAYS: bool = false;

impl TestServerBuilder {
    /// The address to bind (default `127.0.0.1:0`).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    pub(crate) fn admin_http(mut self, on: bool) -> Self {
        self.admin_http = on;
        self
    }

    /// Kinder than the real server: every empty list is `[]`, a page root
    /// without replies has no `thread_state`, and an empty `tail_cursor` is
    /// left out. Only for debugging a client; a test that needs this hides a
    /// decoder bug, because the Go server sends `null` for empty lists.
    pub fn empty_lists_as_arrays(mut self, on: bool) -> Self {
        self.empty_lists_as_arrays = on;
        self
    }

    /// Acts like an older server whose `GET /api/realtime/events` never sends
    /// `tail_cursor`, even with `include_tail=true` (see also
    /// [`TestServer::set_tail_cursor_supported`]).
    pub fn without_tail_cursor(mut self) -> Self {
        self.omit_tail_cursor = true;
        self
    }

    /// Acts like an older server that links uploads only after the create:
    /// `upload_id` in a message create is ignored (an unknown field to it),
    /// so clients post the message first and then link each upload with
    /// `POST /api/messages/{id}/attachments`, which emits one
    /// `message.updated` per link (see also
    /// [`TestServer::set_legacy_attachment_links`]).
    pub fn legacy_attachment_links(mut self) -> Self {
        self.legacy_attachment_links = true;
        self
    }

    /// Acts like a newer server than protocol.md's that keeps message
    /// provenance: `author_model`, `author_thinking` and `author_runtime`
    /// of a create are stored and rendered on the message (`omitempty`).
    /// The default server ignores them, as Go ignores unknown fields.
    pub fn message_provenance(mut self) -> Self {
        self.message_provenance = true;
        self
    }

    /// Binds and starts the server (its tasks run on the current Tokio runtime).
    pub async fn start(self) -> io::Result<TestServer> {
        TestServer::start_with(self).await
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
