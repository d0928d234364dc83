//! The HTTP transport (hyper-util legacy client over hyper-rustls) and the
//! classification of transport failures.

use std::error::Error as StdError;
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::body::{RequestBody, ResponseBody};
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
}

/// Builds the default transport: hyper-util's pooled client over rustls
/// (`ring` provider), serving both `https://` and plain `http://`.
pub(crate) fn hyper_transport(settings: &HyperSettings) -> Result<Transport, Error> {
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
    let client: HyperClient<_, RequestBody> = HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(settings.pool_idle_timeout)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .timer(hyper_util::rt::TokioTimer::new())
        .build(https);
    let svc = client
        .map_response(|resp: Response<hyper::body::Incoming>| {
            resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed())
        })
        .map_err(|e| Box::new(e) as BoxError);
    Ok(BoxCloneSyncService::new(svc))
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
