//! The HTTP transport (hyper-util legacy client over hyper-rustls) and the
//! classification of transport failures.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::body::{RequestBody, ResponseBody, WireBody};
use crate::error::{BoxError, Error, ErrorKind};

/// The service every request goes through: a boxed, cloneable tower
/// `Service<Request<RequestBody>>` returning `Response<ResponseBody>`.
///
/// A custom transport (see [`ClientBuilder::transport`](crate::ClientBuilder::transport))
/// and user layers work with this type.
pub type Transport = BoxCloneSyncService<Request<RequestBody>, Response<ResponseBody>, BoxError>;

/// Which root certificates HTTPS connections trust.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsRoots {
    /// The Mozilla roots compiled into the binary (`webpki-roots`).
    #[default]
    WebPki,
    /// The operating system's trust store (`rustls-native-certs`).
    Native,
}

/// A rustls client configuration with the `ring` provider, safe default
/// protocol versions and the chosen roots (shorthand for
/// [`TlsSettings::new(roots).client_config()`](crate::TlsSettings::client_config);
/// a built [`Client`](crate::Client) hands out its own with
/// [`Client::tls_client_config`](crate::Client::tls_client_config)).
pub fn tls_config(roots: TlsRoots) -> Result<rustls::ClientConfig, Error> {
    crate::tls::TlsSettings::new(roots).client_config()
}

/// Settings for the default hyper transport.
#[derive(Clone, Debug)]
pub(crate) struct HyperSettings {
    pub(crate) connect_timeout: Option<Duration>,
    /// The client's one TLS configuration (its root store is shared).
    pub(crate) tls: std::sync::Arc<rustls::ClientConfig>,
    pub(crate) pool_idle_timeout: Duration,
    /// Idle keep-alive connections kept per origin.
    pub(crate) pool_max_idle_per_host: usize,
}

/// The HTTP client under the default transport.
type Http = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, RequestBody>;

/// One pooled HTTP client, shared by every [`Client`](crate::Client) built
/// with the same settings on the same runtime (see [`hyper_transport`]).
#[derive(Clone)]
pub(crate) struct SharedHttp(Arc<Http>);

impl tower::Service<Request<RequestBody>> for SharedHttp {
    type Response = Response<hyper::body::Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = hyper_util::client::legacy::ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        self.0.request(req)
    }
}

/// Where a shared client may be reused: same runtime (its connection tasks
/// live there), same TLS configuration, same timeouts.
struct PoolKey {
    runtime: tokio::runtime::Id,
    tls: Weak<rustls::ClientConfig>,
    connect_timeout: Option<Duration>,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
}

impl PoolKey {
    fn matches(&self, other: &PoolKey) -> bool {
        self.runtime == other.runtime
            && self.tls.ptr_eq(&other.tls)
            && self.connect_timeout == other.connect_timeout
            && self.pool_idle_timeout == other.pool_idle_timeout
            && self.pool_max_idle_per_host == other.pool_max_idle_per_host
    }
}

/// Builds the default transport: hyper-util's pooled client over rustls
/// (`ring` provider), serving both `https://` and plain `http://`.
///
/// Clients built on a Tokio runtime with the same settings share one
/// connection pool (one per origin inside it) while any of them is alive,
/// so a thousand bot accounts on one server keep one pool, not a thousand;
/// the auth header is per request, so sharing connections is safe.
pub(crate) fn hyper_transport(settings: &HyperSettings) -> SharedHttp {
    static SHARED: Mutex<Vec<(PoolKey, Weak<Http>)>> = Mutex::new(Vec::new());
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return SharedHttp(Arc::new(new_http(settings)));
    };
    let key = PoolKey {
        runtime: runtime.id(),
        tls: Arc::downgrade(&settings.tls),
        connect_timeout: settings.connect_timeout,
        pool_idle_timeout: settings.pool_idle_timeout,
        pool_max_idle_per_host: settings.pool_max_idle_per_host,
    };
    let mut shared = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    shared.retain(|(_, http)| http.strong_count() > 0);
    let http = match shared
        .iter()
        .filter(|(k, _)| k.matches(&key))
        .find_map(|(_, http)| http.upgrade())
    {
        Some(http) => http,
        None => {
            let http = Arc::new(new_http(settings));
            shared.push((key, Arc::downgrade(&http)));
            http
        }
    };
    drop(shared);
    SharedHttp(http)
}

/// Idle keep-alive connections kept per origin by the shared pool, unless
/// the builder says otherwise
/// ([`ClientBuilder::pool_max_idle_per_host`](crate::ClientBuilder::pool_max_idle_per_host)).
///
/// Each idle HTTP/1 connection holds about 25 KiB in hyper (read buffer,
/// write buffer, dispatch queue). A gateway starting 1,000 accounts at once
/// opens up to 1,000 connections; without a cap every one of them would
/// stay in the pool until the idle timeout, some 25 KiB per account. The
/// cap must not be below the number of concurrent senders, though: their
/// responses arrive in bursts, so for a moment nearly all their connections
/// are idle at once, and every connection over the cap is closed and opened
/// again for the next request (a 32 cap made 64 concurrent senders open
/// ~80 extra connections in two seconds, where bare hyper opened none).
/// 64 keeps 64 concurrent senders on their connections and a 1,000-account
/// startup at ~1.6 KiB of idle connections per account.
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 64;

fn new_http(settings: &HyperSettings) -> Http {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(settings.connect_timeout);
    let https = HttpsConnectorBuilder::new()
        .with_tls_config((*settings.tls).clone())
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(settings.pool_idle_timeout)
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .build(https)
}

/// The default transport as a [`Transport`], for user layers to wrap.
pub(crate) fn boxed(http: SharedHttp) -> Transport {
    let svc = http
        .map_response(|resp: Response<hyper::body::Incoming>| {
            resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed())
        })
        .map_err(|e| Box::new(e) as BoxError);
    BoxCloneSyncService::new(svc)
}

/// The bottom of the stack: the pooled hyper client called directly (the
/// default: no boxing of the request future or the body), or a boxed
/// [`Transport`] when the caller added layers or a transport of their own.
#[derive(Clone)]
pub(crate) enum Wire {
    /// The default transport, no user layers.
    Hyper(SharedHttp),
    /// User layers and/or a custom transport.
    Layered(Transport),
}

impl tower::Service<Request<RequestBody>> for Wire {
    type Response = Response<WireBody>;
    type Error = BoxError;
    type Future = WireFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            Wire::Hyper(_) => Poll::Ready(Ok(())),
            Wire::Layered(t) => t.poll_ready(cx),
        }
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        match self {
            Wire::Hyper(http) => WireFuture::Hyper(http.0.request(req)),
            Wire::Layered(t) => WireFuture::Layered(t.call(req)),
        }
    }
}

/// The response future of [`Wire`] (both variants are already boxed
/// inside, so this adds no allocation).
pub(crate) enum WireFuture {
    Hyper(hyper_util::client::legacy::ResponseFuture),
    Layered(<Transport as tower::Service<Request<RequestBody>>>::Future),
}

impl Future for WireFuture {
    type Output = Result<Response<WireBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            WireFuture::Hyper(f) => Pin::new(f).poll(cx).map(|r| {
                r.map(|resp| resp.map(WireBody::Incoming))
                    .map_err(|e| Box::new(e) as BoxError)
            }),
            WireFuture::Layered(f) => Pin::new(f)
                .poll(cx)
                .map(|r| r.map(|resp| resp.map(WireBody::Boxed))),
        }
    }
}

/// How a transport failure relates to the request having reached the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// The request was certainly not sent (connect failure).
    NotSent,
    /// A per-attempt timeout elapsed; the request may have been processed.
    Timeout,
    /// The connection failed; the request may have been processed.
    MaybeSent,
    /// Not a transport failure (for example a local error from a layer).
    Other,
}

fn chain<'a>(
    e: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(e), |e: &&'a (dyn StdError + 'static)| (*e).source())
}

/// Classifies a transport error by walking its source chain.
pub(crate) fn classify_transport_error(e: &BoxError) -> FailureKind {
    let root: &(dyn StdError + 'static) = &**e;
    for err in chain(root) {
        if err.is::<tower::timeout::error::Elapsed>() || err.is::<tokio::time::error::Elapsed>() {
            return FailureKind::Timeout;
        }
        if let Some(h) = err.downcast_ref::<hyper_util::client::legacy::Error>()
            && h.is_connect()
        {
            return FailureKind::NotSent;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return FailureKind::Timeout;
        }
        if err.is::<LocalError>() {
            return FailureKind::Other;
        }
    }
    FailureKind::MaybeSent
}

/// An error produced locally by one of the client's own layers (nothing sent).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct LocalError(pub(crate) String);

/// Turns a transport error into a client [`Error`].
pub(crate) fn transport_error(e: BoxError) -> Error {
    match classify_transport_error(&e) {
        FailureKind::Timeout => Error::new(ErrorKind::Timeout)
            .with_detail("no response within the request timeout")
            .with_ambiguous(true)
            .with_source(e),
        FailureKind::NotSent => Error::new(ErrorKind::Transport)
            .with_detail("could not connect")
            .with_source(e),
        FailureKind::MaybeSent => Error::new(ErrorKind::Transport)
            .with_detail("the connection failed after the request was sent")
            .with_ambiguous(true)
            .with_source(e),
        FailureKind::Other => Error::new(ErrorKind::InvalidRequest).with_source(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_timeouts_and_io() {
        let e: BoxError = Box::new(tower::timeout::error::Elapsed::new());
        assert_eq!(classify_transport_error(&e), FailureKind::Timeout);
        let e: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(classify_transport_error(&e), FailureKind::MaybeSent);
        let e: BoxError = Box::new(LocalError("x".into()));
        assert_eq!(classify_transport_error(&e), FailureKind::Other);
        assert!(transport_error(Box::new(tower::timeout::error::Elapsed::new())).is_ambiguous());
    }
}
