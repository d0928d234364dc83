//! When and how requests are retried: the [`RetryPolicy`] settings and the
//! tower [`tower::retry::Policy`] that applies them.

use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, Request, Response, StatusCode};
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::body::{RequestBody, WireBody};
use crate::error::BoxError;
use crate::transport::{FailureKind, classify_transport_error};

/// Retry settings of a [`Client`](crate::Client).
///
/// Only safe requests are retried: `GET`, `HEAD`, `PUT`, and creates keyed by a
/// nonce (every message, thread-reply and DM create the client sends). Retries
/// happen on connection failures, HTTP 429, 502, 503 and 504, and (for
/// `GET`/`HEAD`/`PUT`) on per-attempt timeouts. Delays use [`Backoff`] with full
/// jitter; a `Retry-After` header raises the delay (never past
/// [`RetryPolicy::max_retry_after`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    backoff: Backoff,
    total_deadline: Option<Duration>,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 4 attempts, backoff 100 ms → 5 s, total deadline 60 s, `Retry-After` up to 30 s.
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
            total_deadline: Some(Duration::from_secs(60)),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Never retry (one attempt).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the maximum number of attempts, including the first (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the backoff between attempts.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets (or removes) the deadline for all attempts of one call together.
    pub fn with_total_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.total_deadline = deadline;
        self
    }

    /// Sets the longest `Retry-After` the client waits for; a longer one ends
    /// the retries and surfaces [`ErrorKind::RateLimited`](crate::ErrorKind::RateLimited).
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The maximum number of attempts.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The total deadline.
    pub fn total_deadline(&self) -> Option<Duration> {
        self.total_deadline
    }

    /// The longest honoured `Retry-After`.
    pub fn max_retry_after(&self) -> Duration {
        self.max_retry_after
    }
}

/// How safe it is to repeat a request; the client stores it in the request's
/// extensions (inside [`RequestMeta`]), where a custom tower layer can read it.
/// Without it, the method decides (`GET`/`HEAD`/`PUT` are safe).
///
/// Non-exhaustive: a later release may add a finer class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Idempotency {
    /// Repeating has no extra effect.
    Safe,
    /// A create carrying a nonce: the server replays instead of creating twice.
    /// Ambiguous failures are reconciled by the client, not resent here.
    NonceKeyed,
    /// Never repeat.
    Unsafe,
}

/// Per-call data the client attaches to each request's extensions.
///
/// Only the client creates it; a custom tower layer (see
/// [`ClientBuilder::layer`](crate::ClientBuilder::layer)) may read it with
/// `request.extensions().get::<RequestMeta>()`. Non-exhaustive: a later
/// release may attach more.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RequestMeta {
    /// How safe a retry is.
    pub idempotency: Idempotency,
    /// When the call started (for the total deadline).
    pub started: Instant,
}

fn idempotency_of(req: &Request<RequestBody>) -> Idempotency {
    if let Some(meta) = req.extensions().get::<RequestMeta>() {
        return meta.idempotency;
    }
    match *req.method() {
        Method::GET | Method::HEAD | Method::PUT => Idempotency::Safe,
        _ => Idempotency::Unsafe,
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date (relative to `now`).
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let s = value.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(s).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The tower retry policy (one copy per call).
#[derive(Clone, Debug)]
pub(crate) struct RetryState {
    policy: RetryPolicy,
    attempt: u32,
}

impl RetryState {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        Self { policy, attempt: 0 }
    }

    /// Decides whether to retry and after how long.
    fn decide<B>(
        &mut self,
        req: &Request<RequestBody>,
        result: &Result<Response<B>, BoxError>,
    ) -> Option<Duration> {
        let idem = idempotency_of(req);
        if idem == Idempotency::Unsafe {
            return None;
        }
        let retry_after = match result {
            Ok(resp) => {
                if !matches!(
                    resp.status(),
                    StatusCode::TOO_MANY_REQUESTS
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ) {
                    return None;
                }
                resp.headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| parse_retry_after(v, SystemTime::now()))
            }
            Err(e) => match classify_transport_error(e) {
                FailureKind::NotSent => None,
                FailureKind::Timeout | FailureKind::MaybeSent => {
                    if idem != Idempotency::Safe {
                        return None;
                    }
                    None
                }
                FailureKind::Other => return None,
            },
        };
        if let Some(ra) = retry_after
            && ra > self.policy.max_retry_after
        {
            return None;
        }
        let retry_index = self.attempt;
        self.attempt += 1;
        if self.attempt >= self.policy.max_attempts {
            return None;
        }
        let jittered = self.policy.backoff.delay(retry_index);
        let delay = retry_after.map_or(jittered, |ra| ra.max(jittered));
        if let (Some(deadline), Some(meta)) = (
            self.policy.total_deadline,
            req.extensions().get::<RequestMeta>(),
        ) && meta.started.elapsed() + delay >= deadline
        {
            return None;
        }
        Some(delay)
    }
}

impl tower::retry::Policy<Request<RequestBody>, Response<WireBody>, BoxError> for RetryState {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        req: &mut Request<RequestBody>,
        result: &mut Result<Response<WireBody>, BoxError>,
    ) -> Option<Self::Future> {
        let delay = self.decide(req, result)?;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        tracing::debug!(
            attempt = self.attempt + 1,
            delay_ms = delay.as_millis() as u64,
            status,
            "retrying request"
        );
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<RequestBody>) -> Option<Request<RequestBody>> {
        if self.policy.max_attempts <= 1 || idempotency_of(req) == Idempotency::Unsafe {
            return None;
        }
        let body = req.body().try_clone()?;
        let mut out = Request::new(body);
        *out.method_mut() = req.method().clone();
        *out.uri_mut() = req.uri().clone();
        *out.version_mut() = req.version();
        *out.headers_mut() = req.headers().clone();
        *out.extensions_mut() = req.extensions().clone();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn retry_after_seconds_and_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("7"), now),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&HeaderValue::from_str(&date).unwrap(), now),
            Some(Duration::from_secs(12))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&HeaderValue::from_str(&past).unwrap(), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("soon"), now),
            None
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("-1"), now),
            None
        );
    }

    fn req(method: Method, idem: Option<Idempotency>) -> Request<RequestBody> {
        let mut r = Request::new(RequestBody::full(&b"{}"[..]));
        *r.method_mut() = method;
        if let Some(i) = idem {
            r.extensions_mut().insert(RequestMeta {
                idempotency: i,
                started: Instant::now(),
            });
        }
        r
    }

    fn resp(
        status: u16,
        retry_after: Option<&'static str>,
    ) -> Result<Response<WireBody>, BoxError> {
        use http_body_util::BodyExt;
        let mut r = Response::new(WireBody::Boxed(
            http_body_util::Empty::new().map_err(|n| match n {}).boxed(),
        ));
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        if let Some(v) = retry_after {
            r.headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static(v));
        }
        Ok(r)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_only_safe_requests_on_retryable_statuses() {
        let p = RetryPolicy::default();
        let mut s = RetryState::new(p.clone());
        assert!(
            s.decide(&req(Method::GET, None), &resp(503, None))
                .is_some()
        );
        let mut s = RetryState::new(p.clone());
        assert!(
            s.decide(&req(Method::POST, None), &resp(503, None))
                .is_none()
        );
        let mut s = RetryState::new(p.clone());
        assert!(
            s.decide(
                &req(Method::POST, Some(Idempotency::NonceKeyed)),
                &resp(429, None)
            )
            .is_some()
        );
        let mut s = RetryState::new(p.clone());
        assert!(
            s.decide(&req(Method::GET, None), &resp(500, None))
                .is_none()
        );
        let mut s = RetryState::new(p.clone());
        assert!(
            s.decide(&req(Method::GET, None), &resp(404, None))
                .is_none()
        );
        let mut s = RetryState::new(p);
        assert!(
            s.decide(
                &req(Method::PUT, Some(Idempotency::Unsafe)),
                &resp(503, None)
            )
            .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_capped_and_retry_after_is_honoured() {
        let p = RetryPolicy::default().with_max_attempts(3);
        let mut s = RetryState::new(p);
        let r = req(Method::GET, Some(Idempotency::Safe));
        let d = s.decide(&r, &resp(503, Some("2"))).unwrap();
        assert!(d >= Duration::from_secs(2));
        assert!(s.decide(&r, &resp(503, None)).is_some());
        assert!(s.decide(&r, &resp(503, None)).is_none());
        // A Retry-After longer than the max ends the retries.
        let mut s = RetryState::new(RetryPolicy::default());
        assert!(s.decide(&r, &resp(429, Some("3600"))).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn total_deadline_stops_retries() {
        let p = RetryPolicy::default()
            .with_total_deadline(Some(Duration::from_secs(1)))
            .with_max_attempts(10);
        let mut s = RetryState::new(p);
        let r = req(Method::GET, Some(Idempotency::Safe));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(s.decide(&r, &resp(503, None)).is_none());
    }

    #[test]
    fn clone_request_copies_everything() {
        let mut s = RetryState::new(RetryPolicy::default());
        let mut r = req(Method::PUT, Some(Idempotency::Safe));
        r.headers_mut().insert("x-a", HeaderValue::from_static("1"));
        let c = tower::retry::Policy::<_, Response<WireBody>, BoxError>::clone_request(&mut s, &r)
            .unwrap();
        assert_eq!(c.method(), Method::PUT);
        assert_eq!(c.headers()["x-a"], "1");
        assert!(c.extensions().get::<RequestMeta>().is_some());
        let mut none = RetryState::new(RetryPolicy::none());
        assert!(
            tower::retry::Policy::<_, Response<WireBody>, BoxError>::clone_request(&mut none, &r)
                .is_none()
        );
    }
}
