//! [`ClientBuilder`]: configuration of a [`Client`].

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use std::time::Duration;
use tokio::sync::OnceCell;

use http::{HeaderValue, Request, Response};

use crate::body::{DEFAULT_MAX_DOWNLOAD_BYTES, RequestBody, ResponseBody};
use crate::client::{Client, ClientInner};
use crate::error::{BoxError, Error, ErrorKind};
use crate::retry::RetryPolicy;
use crate::stack::{HeaderDefaults, LayerFn, build_stack, erase_layer, erase_transport};
use crate::tls::TlsSettings;
use crate::token::BotToken;
use crate::transport::{
    DEFAULT_POOL_MAX_IDLE_PER_HOST, HyperSettings, TlsRoots, Transport, Wire, hyper_transport,
};
use crate::url::BaseUrl;
use clickclack_proto::ids::WorkspaceId;

/// The default per-attempt timeout (30 s, like the OpenClaw plugin).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds a [`Client`]. Start with [`Client::builder`].
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    token: Option<BotToken>,
    user_agent: Option<String>,
    connect_timeout: Option<Duration>,
    request_timeout: Duration,
    retry: RetryPolicy,
    correlation_id: Option<String>,
    layers: Vec<LayerFn>,
    transport: Option<Transport>,
    tls: TlsSettings,
    max_download_bytes: u64,
    workspace: Option<WorkspaceId>,
    pool_max_idle_per_host: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("user_agent", &self.user_agent)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("correlation_id", &self.correlation_id)
            .field("layers", &self.layers.len())
            .field("custom_transport", &self.transport.is_some())
            .field("tls", &self.tls)
            .field("max_download_bytes", &self.max_download_bytes)
            .field("workspace", &self.workspace)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

impl ClientBuilder {
    pub(crate) fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: None,
            user_agent: None,
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            correlation_id: None,
            layers: Vec::new(),
            transport: None,
            tls: TlsSettings::default(),
            max_download_bytes: DEFAULT_MAX_DOWNLOAD_BYTES,
            workspace: None,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
        }
    }

    /// The bearer token (`ccb_…` bot token). Sent only to the base URL's origin.
    pub fn token(mut self, token: impl Into<BotToken>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The `User-Agent` (default `clickclack-rs/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// The TCP connect timeout of the default transport (`None`: no limit).
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// The timeout of one attempt until response headers arrive, and of
    /// reading a response body (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The retry policy.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// An `X-Correlation-ID` sent with every request (1–128 chars of
    /// `[A-Za-z0-9._:-]`; checked by [`build`](Self::build)). Per call, use
    /// [`Client::with_correlation_id`].
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Which root certificates HTTPS trusts (default: webpki roots); extra
    /// certificates set with [`tls`](Self::tls) are kept.
    pub fn tls_roots(mut self, roots: TlsRoots) -> Self {
        self.tls = self.tls.with_roots(roots);
        self
    }

    /// The TLS trust (base roots plus extra CA certificates, e.g. a private
    /// CA). REST and the realtime WebSocket of this client use it.
    pub fn tls(mut self, tls: TlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// The cap for [`Client::download_upload`] (default 64 MiB).
    pub fn max_download_bytes(mut self, max: u64) -> Self {
        self.max_download_bytes = max;
        self
    }

    /// How many idle keep-alive connections the default transport keeps per
    /// origin (default [`DEFAULT_POOL_MAX_IDLE_PER_HOST`], 64). Set it to at
    /// least the number of requests you run concurrently, or connections over
    /// the cap are closed after a burst of responses and opened again; lower
    /// it to save memory (about 25 KiB per idle connection). Clients with
    /// different caps do not share a connection pool.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// The workspace used to reconcile ambiguous sends through
    /// `GET /api/messages/by-nonce`. Without it, the client asks
    /// `GET /api/workspaces` once (a bot token sees exactly one workspace).
    pub fn workspace(mut self, workspace: impl Into<WorkspaceId>) -> Self {
        self.workspace = Some(workspace.into());
        self
    }

    /// Adds a tower layer around the transport. Layers run once per attempt,
    /// inside the retry and timeout layers; the first added is the outermost.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<Transport> + Send + Sync + 'static,
        L::Service: tower::Service<
                Request<RequestBody>,
                Response = Response<ResponseBody>,
                Error = BoxError,
            > + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<Request<RequestBody>>>::Future: Send + 'static,
    {
        self.layers.push(erase_layer(layer));
        self
    }

    /// Replaces the default hyper transport with any tower `Service`
    /// (for example an in-memory router, a proxy client, or a recorder).
    /// `connect_timeout` then has no effect, and the TLS settings apply only
    /// to connections made outside it (the realtime WebSocket).
    pub fn transport<S, B>(mut self, service: S) -> Self
    where
        S: tower::Service<Request<RequestBody>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        self.transport = Some(erase_transport(service));
        self
    }

    /// Builds the client. Fails on an invalid base URL, token, user agent or
    /// correlation id, or if TLS cannot be set up. Requests must run inside a
    /// Tokio runtime (with the time driver enabled).
    pub fn build(self) -> Result<Client, Error> {
        let base = BaseUrl::parse(&self.base_url)?;
        if base.scheme() == "http" && !is_loopback_host(base.host()) {
            // Once per client: the token would cross the network in clear text.
            tracing::warn!(
                host = %base.host(),
                "plain http:// to a non-loopback host: the bot token is sent unencrypted; use https://"
            );
        }
        if let Some(t) = &self.token
            && t.is_empty()
        {
            return Err(Error::new(ErrorKind::InvalidRequest).with_detail("the token is empty"));
        }
        let ua = self
            .user_agent
            .unwrap_or_else(|| concat!("clickclack-rs/", env!("CARGO_PKG_VERSION")).to_owned());
        let user_agent = HeaderValue::from_str(&ua).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest)
                .with_detail("invalid user agent")
                .with_source(e)
        })?;
        let correlation_id = match self.correlation_id {
            Some(c) => Some(crate::client::correlation_header(&c)?),
            None => None,
        };
        let defaults = HeaderDefaults::new(
            base.clone(),
            self.token.as_ref(),
            user_agent,
            correlation_id,
        )
        .map_err(|_| {
            Error::new(ErrorKind::InvalidRequest)
                .with_detail("the token contains characters not allowed in a header")
        })?;
        let tls_config = std::sync::OnceLock::new();
        let transport = match self.transport {
            Some(t) => Wire::Layered(t),
            None => {
                let tls = self.tls.shared_client_config()?;
                let _ = tls_config.set(Arc::clone(&tls));
                Wire::Hyper(hyper_transport(&HyperSettings {
                    connect_timeout: self.connect_timeout,
                    tls,
                    pool_idle_timeout: Duration::from_secs(60),
                    pool_max_idle_per_host: self.pool_max_idle_per_host,
                }))
            }
        };
        let service = build_stack(
            transport,
            &self.layers,
            defaults,
            self.retry.clone(),
            self.request_timeout,
        );
        Ok(Client::from_inner(Arc::new(ClientInner {
            base,
            token: self.token,
            service,
            request_timeout: self.request_timeout,
            retry: self.retry,
            max_download_bytes: self.max_download_bytes,
            workspace: self.workspace,
            tls: self.tls,
            tls_config,
            token_rejected: AtomicBool::new(false),
            workspaces_cache: OnceCell::new(),
        })))
    }
}

/// Whether `host` is a loopback name or address (`localhost`, `127.0.0.0/8`, `::1`).
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "a.localhost",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in [
            "chat.example.com",
            "10.0.0.1",
            "192.168.1.2",
            "::2",
            "localhost.example.com",
        ] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }
}
