//! Assembles the tower stack every request goes through:
//! headers/auth → sensitive-header marking → trace span → retry → per-attempt
//! timeout → user layers → transport.

use std::sync::Arc;
use std::time::Duration;

use clickclack_proto::headers::BEARER_PREFIX;
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, USER_AGENT};
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use tower::ServiceBuilder;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;

use crate::body::{RequestBody, ResponseBody};
use crate::error::BoxError;
use crate::retry::{RetryPolicy, RetryState};
use crate::token::BotToken;
use crate::transport::Transport;
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

/// Builds the full stack around `transport`.
pub(crate) fn build_stack(
    transport: Transport,
    user_layers: &[LayerFn],
    defaults: HeaderDefaults,
    retry: RetryPolicy,
    attempt_timeout: Duration,
) -> Transport {
    // Innermost guard: whatever user layers did to the request, credentials
    // only ever leave for the configured origin.
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
    let defaults = Arc::new(defaults);
    let svc = ServiceBuilder::new()
        .map_request(move |req: Request<RequestBody>| defaults.apply(req))
        .layer(SetSensitiveRequestHeadersLayer::new([
            AUTHORIZATION,
            PROXY_AUTHORIZATION,
            COOKIE,
        ]))
        .map_response(|resp: Response<_>| resp.map(|b: tower_http::trace::ResponseBody<ResponseBody, _, _, _, _>| b.boxed()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<RequestBody>| {
                    let cid = req
                        .headers()
                        .get(CORRELATION_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    // Path only: the query may carry nonces or other data.
                    tracing::debug_span!(
                        "clickclack.http",
                        method = %req.method(),
                        path = %req.uri().path(),
                        correlation_id = cid,
                    )
                })
                .on_failure(|class: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span| {
                    tracing::debug!(failure = %class, latency_ms = latency.as_millis() as u64, "request failed");
                }),
        )
        .layer(RetryLayer::new(RetryState::new(retry)))
        .layer(TimeoutLayer::new(attempt_timeout))
        .service(inner);
    BoxCloneSyncService::new(svc)
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
