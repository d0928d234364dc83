//! Assembles the tower stack every request goes through:
//! headers/auth → sensitive-header marking → trace span → retry → per-attempt
//! timeout → user layers → transport.
//!
//! The stack is one concrete type ([`Stack`]): on the default transport a
//! request is not boxed anywhere on its way to hyper (hyper-util boxes its
//! own future once), the response body is hyper's own, and the span costs
//! nothing when tracing is off. User layers and a custom transport work on
//! the boxed [`Transport`] type, below the retry and timeout layers.

use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::task::{Context, Poll};

use clickclack_proto::headers::BEARER_PREFIX;
use futures_util::future::{BoxFuture, Either};
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, USER_AGENT};
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use tower::Service;
use tower::retry::Retry;
use tower::timeout::Timeout;
use tower::util::BoxCloneSyncService;
use tower_http::sensitive_headers::SetSensitiveRequestHeaders;
use tracing::Instrument;

use crate::body::{RequestBody, ResponseBody, WireBody};
use crate::error::BoxError;
use crate::retry::{RetryPolicy, RetryState};
use crate::token::BotToken;
use crate::transport::{Transport, Wire};
use crate::url::BaseUrl;

/// The `X-Correlation-ID` header.
pub(crate) const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// Default headers added by the outermost layer.
#[derive(Clone)]
pub(crate) struct HeaderDefaults {
    pub(crate) base: BaseUrl,
    pub(crate) authorization: Option<HeaderValue>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) correlation_id: Option<HeaderValue>,
}

impl HeaderDefaults {
    pub(crate) fn new(
        base: BaseUrl,
        token: Option<&BotToken>,
        user_agent: HeaderValue,
        correlation_id: Option<HeaderValue>,
    ) -> Result<Self, http::header::InvalidHeaderValue> {
        let authorization = match token {
            Some(t) => {
                let mut v =
                    HeaderValue::from_str(&format!("{BEARER_PREFIX}{}", t.expose_secret()))?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Self {
            base,
            authorization,
            user_agent,
            correlation_id,
        })
    }

    /// Adds `Authorization` (only for the configured origin), `User-Agent` and
    /// the client-wide `X-Correlation-ID` when the request has none.
    fn apply(&self, mut req: Request<RequestBody>) -> Request<RequestBody> {
        let same_origin = self.base.same_origin(req.uri());
        let headers = req.headers_mut();
        if same_origin {
            if let Some(auth) = &self.authorization
                && !headers.contains_key(AUTHORIZATION)
            {
                headers.insert(AUTHORIZATION, auth.clone());
            }
        } else {
            // Never leak credentials to another origin.
            headers.remove(AUTHORIZATION);
            headers.remove(COOKIE);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
        if let Some(cid) = &self.correlation_id
            && !headers.contains_key(CORRELATION_ID)
        {
            headers.insert(CORRELATION_ID, cid.clone());
        }
        req
    }
}

/// A user layer, type-erased.
pub(crate) type LayerFn = Arc<dyn Fn(Transport) -> Transport + Send + Sync>;

/// The whole stack, as one concrete type: no boxing per request on the
/// default transport (user layers and custom transports sit, boxed, inside
/// [`Wire::Layered`]).
pub(crate) type Stack =
    Headers<SetSensitiveRequestHeaders<Traced<Retry<RetryState, Timeout<Wire>>>>>;

/// Builds the full stack around `wire` (the default hyper client, or a
/// custom transport), adding the user layers, if any, around the transport.
pub(crate) fn build_stack(
    wire: Wire,
    user_layers: &[LayerFn],
    defaults: HeaderDefaults,
    retry: RetryPolicy,
    attempt_timeout: Duration,
) -> Stack {
    let wire = match wire {
        Wire::Hyper(http) if user_layers.is_empty() => Wire::Hyper(http),
        Wire::Hyper(http) => layered(crate::transport::boxed(http), user_layers, &defaults),
        Wire::Layered(t) => layered(t, user_layers, &defaults),
    };
    Headers {
        defaults: Arc::new(defaults),
        inner: SetSensitiveRequestHeaders::new(
            Traced(Retry::new(
                RetryState::new(retry),
                Timeout::new(wire, attempt_timeout),
            )),
            [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE],
        ),
    }
}

/// The user layers around `transport`, with an innermost guard: whatever
/// user layers did to the request, credentials only ever leave for the
/// configured origin.
fn layered(transport: Transport, user_layers: &[LayerFn], defaults: &HeaderDefaults) -> Wire {
    let guard_base = defaults.base.clone();
    let mut inner: Transport = BoxCloneSyncService::new(tower::ServiceExt::map_request(
        transport,
        move |mut req: Request<RequestBody>| {
            if !guard_base.same_origin(req.uri()) {
                let h = req.headers_mut();
                if h.remove(AUTHORIZATION).is_some() {
                    tracing::warn!(
                        path = %req.uri().path(),
                        "dropped the Authorization header of a request to another origin"
                    );
                }
                req.headers_mut().remove(COOKIE);
            }
            req
        },
    ));
    for layer in user_layers.iter().rev() {
        inner = layer(inner);
    }
    Wire::Layered(inner)
}

/// The outermost layer: default headers and `Authorization` (see
/// [`HeaderDefaults::apply`]).
#[derive(Clone)]
pub(crate) struct Headers<S> {
    defaults: Arc<HeaderDefaults>,
    inner: S,
}

impl<S> Service<Request<RequestBody>> for Headers<S>
where
    S: Service<Request<RequestBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        self.inner.call(self.defaults.apply(req))
    }
}

/// The tracing layer: a `clickclack.http` debug span (method and path, no
/// query, no token) around all attempts of one call, and a debug event when
/// the call fails. With the span disabled (no subscriber, or above debug),
/// the request passes straight through: nothing is allocated, timed or
/// wrapped.
#[derive(Clone)]
pub(crate) struct Traced<S>(S);

/// The future of [`Traced`]: the inner future untouched when tracing is
/// off, else boxed with its span.
pub(crate) type TracedFuture<F> = Either<F, BoxFuture<'static, <F as Future>::Output>>;

impl<S> Service<Request<RequestBody>> for Traced<S>
where
    S: Service<Request<RequestBody>, Response = Response<WireBody>, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = TracedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<RequestBody>) -> Self::Future {
        // Path only: the query may carry nonces or other data. The field
        // values are only evaluated when the span is enabled.
        let span = tracing::debug_span!(
            "clickclack.http",
            method = %req.method(),
            path = %req.uri().path(),
            correlation_id = correlation_of(&req),
        );
        if span.is_disabled() {
            return Either::Left(self.0.call(req));
        }
        let future = {
            let _entered = span.enter();
            self.0.call(req)
        };
        Either::Right(Box::pin(
            async move {
                let started = tokio::time::Instant::now();
                let result = future.await;
                let failure = match &result {
                    Ok(resp) if resp.status().is_server_error() => {
                        Some(format!("status code {}", resp.status().as_u16()))
                    }
                    Ok(_) => None,
                    Err(e) => Some(format!("error: {e}")),
                };
                if let Some(failure) = failure {
                    tracing::debug!(
                        failure = %failure,
                        latency_ms = started.elapsed().as_millis() as u64,
                        "request failed"
                    );
                }
                result
            }
            .instrument(span),
        ))
    }
}

fn correlation_of(req: &Request<RequestBody>) -> &str {
    req.headers()
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Wraps a user layer into a [`LayerFn`].
pub(crate) fn erase_layer<L>(layer: L) -> LayerFn
where
    L: tower::Layer<Transport> + Send + Sync + 'static,
    L::Service: tower::Service<Request<RequestBody>, Response = Response<ResponseBody>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    <L::Service as tower::Service<Request<RequestBody>>>::Future: Send + 'static,
{
    Arc::new(move |inner: Transport| BoxCloneSyncService::new(layer.layer(inner)))
}

/// Erases a user transport into a [`Transport`].
pub(crate) fn erase_transport<S, B>(svc: S) -> Transport
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    use tower::ServiceExt;
    BoxCloneSyncService::new(
        svc.map_response(|r: Response<B>| r.map(|b| b.map_err(Into::into).boxed()))
            .map_err(Into::into),
    )
}
