//! Fault injection and request counters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::StatusCode;
use tokio::time::Instant;

use crate::hub::Kill;
use crate::raw::RawResponse;
use crate::server::Shared;

/// An injected HTTP failure: status, `{"error": message}` body, and an
/// optional `Retry-After` header (seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) retry_after: Option<u64>,
}

impl Failure {
    /// A failure with `status` (invalid codes become 500) and the body
    /// `{"error":"injected fault"}`.
    pub fn new(status: u16) -> Failure {
        Failure {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: "injected fault".to_owned(),
            retry_after: None,
        }
    }

    /// Sets the `error` string of the body (e.g. the server's
    /// `session verification unavailable; retry later` for a 503).
    pub fn message(mut self, message: &str) -> Failure {
        self.message = message.to_owned();
        self
    }

    /// Adds `Retry-After: <seconds>` (ClickClack itself never sends it; proxies may).
    pub fn retry_after(mut self, seconds: u64) -> Failure {
        self.retry_after = Some(seconds);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::route_matches;

    #[test]
    fn route_patterns() {
        assert!(route_matches("/api/messages/*", "/api/messages/msg_1"));
        assert!(!route_matches(
            "/api/messages/*",
            "/api/messages/msg_1/thread"
        ));
        assert!(!route_matches("/api/messages/*", "/api/messages"));
        assert!(route_matches(
            "/api/realtime/events",
            "/api/realtime/events"
        ));
        assert!(route_matches("*", "*"));
    }
}

#[derive(Debug, Clone)]
enum RuleKind {
    Fail(Failure),
    Delay(Duration),
    Lose,
    Raw(Box<RawResponse>),
}

#[derive(Debug, Clone)]
struct Rule {
    method: String,
    prefix: String,
    remaining: usize,
    kind: RuleKind,
}

impl Rule {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.remaining > 0
            && self.method.eq_ignore_ascii_case(method)
            && path.starts_with(&self.prefix)
    }
}

/// What the request pipeline should do for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) fail: Option<Failure>,
    pub(crate) delay: Option<Duration>,
    pub(crate) lose: bool,
    pub(crate) raw: Option<RawResponse>,
}

/// Shared fault and counter state.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    rules: Mutex<Vec<Rule>>,
    refuse_until: Mutex<Option<Instant>>,
    pub(crate) realtime_attempts: AtomicU64,
    requests: Mutex<HashMap<(String, String), u64>>,
    /// Body bytes produced by raw (hostile) responses so far.
    pub(crate) raw_sent: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultState {
    /// Counts the request and consumes matching rules (one of each kind).
    pub(crate) fn on_request(&self, method: &str, path: &str) -> Plan {
        {
            let mut requests = lock(&self.requests);
            let key = (method.to_owned(), path.to_owned());
            *requests.entry(key).or_insert(0) += 1;
        }
        let mut plan = Plan::default();
        let mut rules = lock(&self.rules);
        for rule in rules.iter_mut() {
            if !rule.matches(method, path) {
                continue;
            }
            match rule.kind {
                RuleKind::Fail(ref f) if plan.fail.is_none() => {
                    plan.fail = Some(f.clone());
                    rule.remaining -= 1;
                }
                RuleKind::Delay(d) if plan.delay.is_none() => {
                    plan.delay = Some(d);
                    rule.remaining -= 1;
                }
                RuleKind::Lose if !plan.lose => {
                    plan.lose = true;
                    rule.remaining -= 1;
                }
                RuleKind::Raw(ref raw) if plan.raw.is_none() => {
                    plan.raw = Some((**raw).clone());
                    rule.remaining -= 1;
                }
                _ => {}
            }
        }
        rules.retain(|r| r.remaining > 0);
        plan
    }

    /// True while new realtime connections are refused.
    pub(crate) fn refusing(&self) -> bool {
        lock(&self.refuse_until).is_some_and(|until| Instant::now() < until)
    }

    fn count(&self, method: &str, prefix: &str) -> u64 {
        lock(&self.requests)
            .iter()
            .filter(|((m, p), _)| m.eq_ignore_ascii_case(method) && p.starts_with(prefix))
            .map(|(_, n)| *n)
            .sum()
    }

    fn count_route(&self, method: &str, pattern: &str) -> u64 {
        lock(&self.requests)
            .iter()
            .filter(|((m, p), _)| m.eq_ignore_ascii_case(method) && route_matches(pattern, p))
            .map(|(_, n)| *n)
            .sum()
    }

    fn add(&self, method: &str, prefix: &str, n: usize, kind: RuleKind) {
        if n == 0 {
            return;
        }
        lock(&self.rules).push(Rule {
            method: method.to_owned(),
            prefix: prefix.to_owned(),
            remaining: n,
            kind,
        });
    }
}

/// True when `path` has as many segments as `pattern` and each equals the
/// pattern's segment or the pattern's segment is `*`.
fn route_matches(pattern: &str, path: &str) -> bool {
    let mut pat = pattern.split('/');
    let mut seg = path.split('/');
    loop {
        match (pat.next(), seg.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) if p == "*" || p == s => {}
            _ => return false,
        }
    }
}

/// Fault injection for one [`TestServer`](crate::TestServer), from
/// [`TestServer::faults`](crate::TestServer::faults).
///
/// Request faults match on the HTTP method (case-insensitive) and a path
/// prefix (without the query string), e.g. `("POST", "/api/channels/")`.
#[derive(Clone)]
pub struct Faults {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults").finish_non_exhaustive()
    }
}

impl Faults {
    /// Closes every open realtime socket with a close frame carrying `code`
    /// and `reason` (e.g. `4001`, `1013`, `1008`).
    pub fn close_realtime(&self, code: u16, reason: &str) {
        self.shared
            .store
            .hub
            .kill_all(Kill::Close(code, reason.to_owned()));
    }

    /// Drops every open realtime socket abruptly, without a close frame.
    pub fn drop_realtime(&self) {
        self.shared.store.hub.kill_all(Kill::Drop);
    }

    /// For `duration`, realtime upgrade requests are counted as attempts and
    /// then their TCP connection is closed without any response.
    pub fn refuse_connections(&self, duration: Duration) {
        *lock(&self.shared.faults.refuse_until) = Some(Instant::now() + duration);
    }

    /// The next `n` requests matching `method` + `path_prefix` fail with
    /// `status` and `{"error":"injected fault"}`, without being handled.
    /// This also applies to `GET /api/realtime/ws` (a pre-upgrade HTTP error).
    pub fn fail_next(&self, method: &str, path_prefix: &str, n: usize, status: u16) {
        self.fail_next_with(method, path_prefix, n, Failure::new(status));
    }

    /// Like [`fail_next`](Self::fail_next) with a custom body / `Retry-After`.
    pub fn fail_next_with(&self, method: &str, path_prefix: &str, n: usize, failure: Failure) {
        self.shared
            .faults
            .add(method, path_prefix, n, RuleKind::Fail(failure));
    }

    /// The next `n` matching requests are handled (and committed) at once,
    /// but their responses are held back for `delay`.
    pub fn delay(&self, method: &str, path_prefix: &str, delay: Duration, n: usize) {
        self.shared
            .faults
            .add(method, path_prefix, n, RuleKind::Delay(delay));
    }

    /// The next matching request is handled (its write is committed), then the
    /// connection is closed without sending the response: the "lost response".
    pub fn lose_next_response(&self, method: &str, path_prefix: &str) {
        self.shared
            .faults
            .add(method, path_prefix, 1, RuleKind::Lose);
    }

    /// The next request matching `method` + `path_prefix` is not handled:
    /// the server answers with `response` verbatim (truncated or huge
    /// bodies, wrong content types, slow bodies, redirects — see
    /// [`RawResponse`]). This also applies to `GET /api/realtime/ws`.
    pub fn respond_next(&self, method: &str, path_prefix: &str, response: RawResponse) {
        self.respond_next_n(method, path_prefix, 1, response);
    }

    /// Like [`respond_next`](Self::respond_next) for the next `n` matching requests.
    pub fn respond_next_n(&self, method: &str, path_prefix: &str, n: usize, response: RawResponse) {
        self.shared
            .faults
            .add(method, path_prefix, n, RuleKind::Raw(Box::new(response)));
    }

    /// Body bytes the server has produced for [`RawResponse`]s so far (a
    /// client that stops reading a huge body keeps this small).
    pub fn raw_body_bytes_sent(&self) -> u64 {
        self.shared.faults.raw_sent.load(Ordering::Relaxed)
    }

    /// Prunes every workspace's durable event log, so every cursor issued so
    /// far becomes unknown (a socket resuming from one is closed with 4001).
    /// New events get new cursors; until then `tail_cursor` is absent.
    pub fn prune_log(&self) {
        self.shared.store.write(|d| {
            for log in d.logs.values_mut() {
                log.prune_before(None);
            }
        });
    }

    /// Stops (or resumes) delivery on every open socket. While paused, the
    /// 32-event ephemeral buffer fills up, and the next ephemeral event beyond
    /// it closes the socket with 1013.
    pub fn pause_realtime(&self, paused: bool) {
        self.shared.store.hub.set_paused(paused);
    }

    /// Behaves like an older ClickClack server that predates `tail_cursor`:
    /// `GET /api/realtime/events?include_tail=true` answers without it (the
    /// page itself is unchanged). Not reset by [`clear`](Self::clear).
    /// Same switch as [`TestServer::set_tail_cursor_supported`](crate::TestServer::set_tail_cursor_supported).
    pub fn omit_tail_cursor(&self, omit: bool) {
        self.shared.store.write(|d| d.omit_tail_cursor = omit);
    }

    /// Removes every pending request fault and the connection refusal.
    pub fn clear(&self) {
        lock(&self.shared.faults.rules).clear();
        *lock(&self.shared.faults.refuse_until) = None;
        self.shared.store.hub.set_paused(false);
    }

    /// Realtime upgrade requests received so far (including refused and
    /// rejected ones).
    pub fn realtime_connection_attempts(&self) -> u64 {
        self.shared.faults.realtime_attempts.load(Ordering::Relaxed)
    }

    /// Realtime sockets open right now.
    pub fn open_realtime_connections(&self) -> usize {
        self.shared.store.hub.open_count()
    }

    /// Requests received so far whose method matches and whose path starts
    /// with `path_prefix`.
    pub fn request_count(&self, method: &str, path_prefix: &str) -> u64 {
        self.shared.faults.count(method, path_prefix)
    }

    /// Requests received so far for one route: the method matches
    /// (case-insensitive) and the path (without query) matches `pattern`
    /// segment by segment, where `*` stands for exactly one segment. For
    /// example `route_count("GET", "/api/messages/*")` counts message fetches
    /// but not `/api/messages/{id}/thread`, and `"/api/realtime/events"`
    /// counts only that path. Use it to assert a bounded number of requests.
    pub fn route_count(&self, method: &str, pattern: &str) -> u64 {
        self.shared.faults.count_route(method, pattern)
    }

    /// Every request received so far as `(method, path, count)`, sorted by
    /// path then method (paths without the query string).
    pub fn request_counts(&self) -> Vec<(String, String, u64)> {
        let mut out: Vec<(String, String, u64)> = lock(&self.shared.faults.requests)
            .iter()
            .map(|((m, p), n)| (m.clone(), p.clone(), *n))
            .collect();
        out.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        out
    }

    /// All requests received so far (every method and path, including
    /// realtime upgrades).
    pub fn total_request_count(&self) -> u64 {
        lock(&self.shared.faults.requests).values().sum()
    }

    /// Forgets every request counted so far (e.g. after a test's setup), so
    /// later counts cover only what follows.
    pub fn reset_request_counts(&self) {
        lock(&self.shared.faults.requests).clear();
    }
}
