//! [`Client`]: the request core shared by every typed endpoint method.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use clickclack_proto::ids::WorkspaceId;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::body::{
    Capped, MAX_ERROR_BODY_BYTES, MAX_JSON_BODY_BYTES, RequestBody, WireBody, announces_more_than,
    decode_json, read_capped,
};
use crate::builder::ClientBuilder;
use crate::error::{Error, ErrorKind};
use crate::retry::{Idempotency, RequestMeta, RetryPolicy};
use crate::stack::{CORRELATION_ID, Stack};
use crate::token::BotToken;
use crate::transport::{TlsRoots, transport_error};
use crate::url::{ApiPath, BaseUrl, Query};

/// A ClickClack REST client. Cheap to clone (clones share the connection pool
/// and the "token rejected" state); `Send + Sync`.
///
/// Build one with [`Client::builder`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
    correlation_id: Option<HeaderValue>,
}

pub(crate) struct ClientInner {
    pub(crate) base: BaseUrl,
    pub(crate) token: Option<BotToken>,
    pub(crate) service: Stack,
    pub(crate) request_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_download_bytes: u64,
    pub(crate) workspace: Option<WorkspaceId>,
    pub(crate) tls: crate::tls::TlsSettings,
    /// Built once (at `build` for the default transport, else on first use).
    pub(crate) tls_config: std::sync::OnceLock<Arc<rustls::ClientConfig>>,
    pub(crate) token_rejected: AtomicBool,
    pub(crate) workspaces_cache: OnceCell<Vec<WorkspaceId>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base)
            .field("token", &self.inner.token)
            .field("request_timeout", &self.inner.request_timeout)
            .field("retry", &self.inner.retry)
            .field("correlation_id", &self.correlation_id)
            .field(
                "token_rejected",
                &self.inner.token_rejected.load(Ordering::Relaxed),
            )
            .finish_non_exhaustive()
    }
}

/// Validates an `X-Correlation-ID` value the way the server does
/// (1–128 chars of `[A-Za-z0-9._:-]`).
pub(crate) fn correlation_header(id: &str) -> Result<HeaderValue, Error> {
    if !clickclack_proto::headers::is_valid_correlation_id(id) {
        return Err(Error::new(ErrorKind::InvalidRequest)
            .with_detail("a correlation id must be 1-128 chars of [A-Za-z0-9._:-]"));
    }
    HeaderValue::from_str(id).map_err(|e| Error::new(ErrorKind::InvalidRequest).with_source(e))
}

/// `future` with a `limit`, without arming a timer when it is ready at its
/// first poll (a small response body usually arrives with the headers, and a
/// timer costs a clock read and a timer-wheel entry).
async fn ready_or_timeout<F: Future>(
    limit: Duration,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    match first {
        Some(out) => Ok(out),
        None => tokio::time::timeout(limit, future).await,
    }
}

/// One API call, before it is sent.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) path: ApiPath,
    pub(crate) query: Query,
    pub(crate) body: RequestBody,
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) idempotency: Idempotency,
    pub(crate) accept_json: bool,
}

impl Call {
    pub(crate) fn new(method: Method, path: ApiPath) -> Self {
        let idempotency = match method {
            Method::GET | Method::HEAD | Method::PUT => Idempotency::Safe,
            _ => Idempotency::Unsafe,
        };
        Self {
            method,
            path,
            query: Query::new(),
            body: RequestBody::empty(),
            content_type: None,
            idempotency,
            accept_json: true,
        }
    }

    pub(crate) fn get(path: ApiPath) -> Self {
        Self::new(Method::GET, path)
    }

    pub(crate) fn query(mut self, query: Query) -> Self {
        self.query = query;
        self
    }

    pub(crate) fn json<T: serde::Serialize>(mut self, body: &T) -> Result<Self, Error> {
        // Room for a message with its nonce, so the buffer does not grow
        // while writing (`to_vec` starts at 128 bytes).
        let mut bytes = Vec::with_capacity(256);
        serde_json::to_writer(&mut bytes, body).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest)
                .with_method(self.method.clone())
                .with_path(self.path.to_string())
                .with_detail("could not encode the request body")
                .with_source(e)
        })?;
        self.body = RequestBody::full(bytes);
        self.content_type = Some(HeaderValue::from_static("application/json"));
        Ok(self)
    }

    pub(crate) fn idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = idempotency;
        self
    }
}

/// A successful response whose body has not been read yet.
pub(crate) struct Success {
    pub(crate) method: Method,
    /// The request path (for error messages).
    pub(crate) path: ApiPath,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: WireBody,
}

impl Client {
    /// Starts building a client for `base_url` (for example
    /// `https://chat.example.com` or `http://127.0.0.1:8080/prefix`).
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    pub(crate) fn from_inner(inner: Arc<ClientInner>) -> Self {
        Self {
            inner,
            correlation_id: None,
        }
    }

    /// The API base as configured, without a trailing slash
    /// (e.g. `http://127.0.0.1:1234` or `https://host/prefix`).
    pub fn base_url(&self) -> String {
        self.inner.base.as_string()
    }

    /// The parsed base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.inner.base
    }

    /// The token, if one was configured.
    pub fn token(&self) -> Option<&BotToken> {
        self.inner.token.as_ref()
    }

    /// The per-attempt request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// The TLS roots configured for HTTPS (use with [`tls_config`](crate::tls_config)
    /// for other connections to the same server).
    pub fn tls_roots(&self) -> TlsRoots {
        self.inner.tls.roots()
    }

    /// The client's TLS configuration: the one its HTTPS connections use
    /// (same root store, extra CA certificates included), without ALPN.
    /// Other connections to the same server — the realtime WebSocket — use
    /// it so they trust exactly what REST trusts.
    ///
    /// # Errors
    ///
    /// A `Transport` error when the roots cannot be loaded (only possible
    /// with a custom transport, where nothing was built yet).
    pub fn tls_client_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        if let Some(config) = self.inner.tls_config.get() {
            return Ok(Arc::clone(config));
        }
        let built = self.inner.tls.shared_client_config()?;
        Ok(Arc::clone(self.inner.tls_config.get_or_init(|| built)))
    }

    /// The workspace configured with [`ClientBuilder::workspace`], if any.
    pub fn configured_workspace(&self) -> Option<&WorkspaceId> {
        self.inner.workspace.as_ref()
    }

    /// Whether a 401 was received: the client then fails fast (sends nothing)
    /// until a new one is built.
    pub fn is_token_rejected(&self) -> bool {
        self.inner.token_rejected.load(Ordering::Acquire)
    }

    /// A handle that sends `X-Correlation-ID: id` with each request (it shares
    /// everything else with `self`). The id must be 1–128 chars of `[A-Za-z0-9._:-]`.
    pub fn with_correlation_id(&self, id: &str) -> Result<Client, Error> {
        Ok(Client {
            inner: Arc::clone(&self.inner),
            correlation_id: Some(correlation_header(id)?),
        })
    }

    /// The correlation id of this handle, if any.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_ref().and_then(|v| v.to_str().ok())
    }

    pub(crate) fn inner(&self) -> &ClientInner {
        &self.inner
    }

    pub(crate) fn max_download_bytes(&self) -> u64 {
        self.inner.max_download_bytes
    }

    fn rejected_error(&self, method: &Method, path: &str) -> Error {
        Error::new(ErrorKind::Unauthorized)
            .with_method(method.clone())
            .with_path(path)
            .with_detail(
                "the token was rejected earlier (HTTP 401); not sending. Build a new client with a valid token",
            )
    }

    /// Sends a call through the stack and returns the successful response,
    /// or the mapped error (reading at most 8 KiB of an error body).
    pub(crate) async fn send(&self, call: Call) -> Result<Success, Error> {
        let method = call.method.clone();
        let path = call.path;
        if self.is_token_rejected() {
            return Err(self.rejected_error(&method, path.as_str()));
        }
        path.check().map_err(|e| e.with_method(method.clone()))?;
        let uri = self
            .inner
            .base
            .join(&path, &call.query)
            .map_err(|e| e.with_method(method.clone()))?;
        let mut req = Request::new(call.body);
        *req.method_mut() = call.method;
        *req.uri_mut() = uri;
        // Room for every header the stack adds, so the map never grows.
        *req.headers_mut() = HeaderMap::with_capacity(8);
        let headers = req.headers_mut();
        if call.accept_json {
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        if let Some(ct) = call.content_type {
            headers.insert(CONTENT_TYPE, ct);
        }
        if let Some(cid) = &self.correlation_id {
            headers.insert(CORRELATION_ID, cid.clone());
        }
        req.extensions_mut().insert(RequestMeta {
            idempotency: call.idempotency,
            started: Instant::now(),
        });
        let resp: Response<WireBody> = self
            .inner
            .service
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| transport_error(e).with_context_if_missing(&method, path.as_str()))?;
        let (parts, body) = resp.into_parts();
        if parts.status.is_success() {
            return Ok(Success {
                method,
                path,
                status: parts.status,
                headers: parts.headers,
                body,
            });
        }
        if parts.status == StatusCode::UNAUTHORIZED {
            self.inner.token_rejected.store(true, Ordering::Release);
            tracing::warn!(method = %method, path = %path, "token rejected (401); the client will fail fast until rebuilt");
        }
        let bytes = self.read_error_body(body).await;
        let err = Error::from_response(
            method,
            path.as_str().to_owned(),
            parts.status,
            &parts.headers,
            &bytes,
        );
        let ambiguous = matches!(parts.status.as_u16(), 502 | 504);
        Err(err.with_ambiguous(ambiguous))
    }

    async fn read_error_body(&self, body: WireBody) -> Bytes {
        match ready_or_timeout(
            self.inner.request_timeout,
            read_capped(body, MAX_ERROR_BODY_BYTES),
        )
        .await
        {
            Ok(Ok(Capped::Complete(b) | Capped::Truncated(b))) => b,
            _ => Bytes::new(),
        }
    }

    /// Reads a success body as JSON (16 MiB cap, path-naming decode errors).
    pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        success: Success,
    ) -> Result<T, Error> {
        self.read_decoded(success, |bytes| decode_json::<T>(&bytes))
            .await
    }

    /// Reads a success body (16 MiB cap) and hands it to `decode`; a decode
    /// error names the method and path and is not ambiguous (the server
    /// answered).
    pub(crate) async fn read_decoded<T>(
        &self,
        success: Success,
        decode: impl FnOnce(Bytes) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let Success {
            method,
            path,
            status,
            body,
            ..
        } = success;
        let ctx = |e: Error| e.with_context_if_missing(&method, path.as_str());
        if announces_more_than(&body, MAX_JSON_BODY_BYTES) {
            return Err(ctx(Error::new(ErrorKind::Decode).with_detail(format!(
                "the response body exceeds {MAX_JSON_BODY_BYTES} bytes"
            ))));
        }
        let read = ready_or_timeout(
            self.inner.request_timeout,
            read_capped(body, MAX_JSON_BODY_BYTES),
        )
        .await
        .map_err(|e| {
            ctx(Error::new(ErrorKind::Timeout)
                .with_detail("timed out reading the response body")
                .with_ambiguous(true)
                .with_source(e))
        })?
        .map_err(|e| {
            ctx(Error::new(ErrorKind::Transport)
                .with_detail("the connection failed while reading the response body")
                .with_ambiguous(true)
                .with_source(e))
        })?;
        let bytes = match read {
            Capped::Complete(b) => b,
            Capped::Truncated(_) => {
                return Err(ctx(Error::new(ErrorKind::Decode).with_detail(format!(
                    "the response body exceeds {MAX_JSON_BODY_BYTES} bytes"
                ))));
            }
        };
        decode(bytes).map_err(|e| {
            let mut e = ctx(e);
            if status.is_success() {
                e = e.with_ambiguous(false);
            }
            e
        })
    }

    /// Sends a call and decodes the JSON success body.
    pub(crate) async fn json<T: serde::de::DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<T, Error> {
        let success = self.send(call).await?;
        self.read_json(success).await
    }
}
