//! Counters per account, exposed in the Prometheus text format (0.0.4) by the
//! `prometheus-client` crate, and the optional `/healthz` + `/metrics` HTTP
//! endpoint (`--metrics-addr`).
//!
//! The counters live in [`AccountMetrics`] (plain atomics the pipeline bumps);
//! on each scrape a [`Collector`] snapshots them and `prometheus-client`
//! encodes the families (names, `# HELP`/`# TYPE`, label escaping, histogram
//! buckets). Exposed families, each labelled `account`:
//! `clickclack_gateway_{events,replies,skipped,reconnects,resyncs,model_errors,
//! failed_visibly,undeliverable,gaps_skipped,deferred}_total` (counters),
//! `clickclack_gateway_model_latency_seconds` (histogram) and
//! `clickclack_gateway_account_up` (gauge).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::status::{Lifecycle, StatusBoard};
use crate::state::FleetSnapshot;

/// Connections the metrics endpoint serves at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 32;
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a metrics connection stays open (keep-alive included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Upper bounds (seconds) of the model latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The counters of one account.
#[derive(Debug)]
pub struct AccountMetrics {
    /// Durable events received.
    pub events: AtomicU64,
    /// Replies delivered (including replays the server recognised).
    pub replies: AtomicU64,
    /// Messages not answered (policy, age, unreadable, own).
    pub skipped: AtomicU64,
    /// Reconnect attempts.
    pub reconnects: AtomicU64,
    /// Resyncs (close 4001).
    pub resyncs: AtomicU64,
    /// Model / agent turns that failed after the retry window.
    pub model_errors: AtomicU64,
    /// Visible failure replies posted (the model or agent could not answer).
    pub failed_visibly: AtomicU64,
    /// Replies that could not be posted at all (for example a DM without an
    /// active recipient, a missing scope).
    pub undeliverable: AtomicU64,
    /// Gaps skipped: resync gaps not readable after retrying, and lost cursors.
    pub gaps_skipped: AtomicU64,
    /// Events deferred because their conversation's queue was full; they are
    /// read again from the committed cursor once that conversation drains.
    pub deferred: AtomicU64,
    latency: Histogram,
    model_calls: AtomicU64,
}

impl Default for AccountMetrics {
    fn default() -> Self {
        AccountMetrics {
            events: AtomicU64::new(0),
            replies: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            model_errors: AtomicU64::new(0),
            failed_visibly: AtomicU64::new(0),
            undeliverable: AtomicU64::new(0),
            gaps_skipped: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            latency: Histogram::new(LATENCY_BUCKETS),
            model_calls: AtomicU64::new(0),
        }
    }
}

impl AccountMetrics {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one model (or agent) call duration.
    pub fn observe_model_latency(&self, elapsed: Duration) {
        self.latency.observe(elapsed.as_secs_f64());
        self.model_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// Model calls observed.
    pub fn model_calls(&self) -> u64 {
        self.model_calls.load(Ordering::Relaxed)
    }
}

/// A counter family's name (without `_total`, which the encoder adds), help
/// text and field.
type CounterFamily = (
    &'static str,
    &'static str,
    fn(&AccountMetrics) -> &AtomicU64,
);

/// Every counter family, in exposition order.
const COUNTERS: [CounterFamily; 10] = [
    (
        "clickclack_gateway_events",
        "Durable realtime events received.",
        |m| &m.events,
    ),
    ("clickclack_gateway_replies", "Replies delivered.", |m| {
        &m.replies
    }),
    (
        "clickclack_gateway_skipped",
        "Inbound messages not answered (policy, age, unreadable).",
        |m| &m.skipped,
    ),
    (
        "clickclack_gateway_reconnects",
        "Realtime reconnect attempts.",
        |m| &m.reconnects,
    ),
    (
        "clickclack_gateway_resyncs",
        "Realtime resyncs (close 4001).",
        |m| &m.resyncs,
    ),
    (
        "clickclack_gateway_model_errors",
        "Turns whose model or agent calls failed after the retry window.",
        |m| &m.model_errors,
    ),
    (
        "clickclack_gateway_failed_visibly",
        "Visible failure replies posted.",
        |m| &m.failed_visibly,
    ),
    (
        "clickclack_gateway_undeliverable",
        "Replies that could not be posted (not retried).",
        |m| &m.undeliverable,
    ),
    (
        "clickclack_gateway_gaps_skipped",
        "Gaps skipped: resync gaps not readable after retrying, and lost cursors.",
        |m| &m.gaps_skipped,
    ),
    (
        "clickclack_gateway_deferred",
        "Events deferred because their conversation's queue was full (read again later).",
        |m| &m.deferred,
    ),
];

/// The counters of every account of a gateway.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    accounts: Arc<Mutex<BTreeMap<String, Arc<AccountMetrics>>>>,
    /// The fleet section (leases, epochs), for a replica on PostgreSQL.
    pub(crate) fleet: super::fleet_metrics::FleetSource,
}

/// One scrape: the accounts' counters and their up state, encoded by
/// `prometheus-client`.
#[derive(Debug)]
struct Scrape {
    accounts: Vec<(String, Arc<AccountMetrics>)>,
    up: Option<Vec<(String, bool)>>,
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, get) in COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (account, m) in &self.accounts {
                let labels = [("account", account.as_str())];
                ConstCounter::new(get(m).load(Ordering::Relaxed))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "clickclack_gateway_model_latency_seconds",
            "Model or agent call latency.",
            None,
            MetricType::Histogram,
        )?;
        for (account, m) in &self.accounts {
            let labels = [("account", account.as_str())];
            m.latency.encode(family.encode_family(&labels)?)?;
        }
        if let Some(up) = &self.up {
            let mut family = encoder.encode_descriptor(
                "clickclack_gateway_account_up",
                "1 when the account's realtime socket is open.",
                None,
                MetricType::Gauge,
            )?;
            for (account, up) in up {
                let labels = [("account", account.as_str())];
                ConstGauge::new(i64::from(*up)).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

impl Metrics {
    /// The counters of `account_id` (created on first use).
    pub fn account(&self, account_id: &str) -> Arc<AccountMetrics> {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(accounts.entry(account_id.to_owned()).or_default())
    }

    fn snapshot(&self) -> Vec<(String, Arc<AccountMetrics>)> {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }

    /// Renders every counter in the Prometheus text exposition format
    /// (version 0.0.4), with the accounts' up gauge when `status` is given.
    pub fn render(&self, status: Option<&StatusBoard>) -> String {
        let scrape = Scrape {
            accounts: self.snapshot(),
            up: status.map(|status| {
                status
                    .all()
                    .into_iter()
                    .map(|s| (s.account_id, s.lifecycle == Lifecycle::Ready))
                    .collect()
            }),
        };
        let mut registry = Registry::default();
        registry.register_collector(Box::new(scrape));
        if let Some(fleet) = self.fleet.collector() {
            registry.register_collector(Box::new(fleet));
        }
        let mut out = String::new();
        if let Err(error) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        {
            // Writing into a String cannot fail; keep what was encoded.
            tracing::warn!(%error, "metrics encoding failed");
        }
        out
    }
}

fn text(status: StatusCode, body: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    resp
}

/// The `/healthz` answer.
///
/// - Accounts served: 200 when every one is `ready`, else 503; the body lists
///   each account with its lifecycle.
/// - A fleet replica that serves no account is a **standby**: 200 (`standby`
///   in the body) while its heartbeats reach the state database, since it can
///   take accounts over; 503 once it cannot.
/// - No account and no fleet: 503 (nothing runs).
fn health(all: &[super::AccountStatus], fleet: Option<&FleetSnapshot>) -> (StatusCode, String) {
    let mut body = String::new();
    for s in all {
        let _ = writeln!(body, "{} {}", s.account_id, s.lifecycle);
    }
    if !all.is_empty() {
        return if all.iter().all(|s| s.lifecycle == Lifecycle::Ready) {
            (StatusCode::OK, format!("ok\n{body}"))
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, body)
        };
    }
    match fleet {
        Some(f) if f.database_reachable() => (
            StatusCode::OK,
            format!(
                "ok\nstandby: replica {} holds no account ({} live replicas); it takes accounts over when a replica leaves\n",
                f.replica, f.live_replicas
            ),
        ),
        Some(f) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "standby: replica {} holds no account and its heartbeats do not reach the state database; it cannot take accounts over\n",
                f.replica
            ),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no account is running\n".to_owned(),
        ),
    }
}

async fn serve(
    req: Request<Incoming>,
    metrics: Metrics,
    status: StatusBoard,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method().as_str(), req.uri().path()) {
        ("GET", "/metrics") => text(
            StatusCode::OK,
            metrics.render(Some(&status)),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        ),
        ("GET", "/healthz") => {
            let (code, body) = health(&status.all(), metrics.fleet.snapshot().as_ref());
            text(code, body, "text/plain; charset=utf-8")
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "not found\n".to_owned(),
            "text/plain; charset=utf-8",
        ),
    })
}

/// A running metrics endpoint.
#[derive(Debug)]
pub(crate) struct MetricsServer {
    pub(crate) addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` and serves `/metrics` and `/healthz`.
    pub(crate) async fn start(
        addr: SocketAddr,
        metrics: Metrics,
        status: StatusBoard,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            // Connections live in this set so stopping the server (dropping
            // this task) also ends kept-alive scrapers' connections.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => return,
                };
                while connections.try_join_next().is_some() {}
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // E.g. out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "metrics endpoint accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if connections.len() >= MAX_CONNECTIONS {
                    // Full: close at once so idle clients cannot exhaust the
                    // process's file descriptors (cursor saves need them).
                    drop(stream);
                    continue;
                }
                let (metrics, status) = (metrics.clone(), status.clone());
                connections.spawn(async move {
                    let service =
                        service_fn(move |req| serve(req, metrics.clone(), status.clone()));
                    let connection = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
                });
            }
        });
        tracing::info!(addr = %addr, "metrics endpoint listening (/metrics, /healthz)");
        Ok(MetricsServer { addr, stop, task })
    }

    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod server_tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    /// One parsed sample line: name, labels, value.
    type Sample = (String, BTreeMap<String, String>, f64);

    /// A strict parser of the Prometheus text format 0.0.4: every line is a
    /// `# HELP`, a `# TYPE` or a sample `name{k="v",...} value` whose family
    /// was typed before; anything else is an error naming the line.
    fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
        let mut typed = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').ok_or(line)?;
                typed.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let name_end = line
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .ok_or(line)?;
            let name = &line[..name_end];
            let mut rest = &line[name_end..];
            let mut labels = BTreeMap::new();
            if let Some(body) = rest.strip_prefix('{') {
                let mut chars = body.char_indices().peekable();
                let mut key = String::new();
                let end = loop {
                    let (i, c) = chars.next().ok_or(line)?;
                    match c {
                        '}' if key.is_empty() => break i,
                        ',' if key.is_empty() => {}
                        '=' => {
                            if chars.next().map(|(_, c)| c) != Some('"') {
                                return Err(format!("unquoted label value: {line}"));
                            }
                            let mut value = String::new();
                            loop {
                                match chars.next().ok_or(line)?.1 {
                                    '"' => break,
                                    '\\' => match chars.next().ok_or(line)?.1 {
                                        'n' => value.push('\n'),
                                        c @ ('\\' | '"') => value.push(c),
                                        c => return Err(format!("bad escape \\{c}: {line}")),
                                    },
                                    c => value.push(c),
                                }
                            }
                            labels.insert(std::mem::take(&mut key), value);
                        }
                        c if c.is_ascii_alphanumeric() || c == '_' => key.push(c),
                        _ => return Err(format!("bad label syntax: {line}")),
                    }
                };
                rest = &body[end + 1..];
            }
            let value = rest.strip_prefix(' ').ok_or(line)?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().map_err(|_| format!("bad value: {line}"))?,
            };
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| typed.get(*base).is_some_and(|k| k == "histogram"))
                .unwrap_or(name);
            if !typed.contains_key(family) {
                return Err(format!("sample before its # TYPE: {line}"));
            }
            samples.push((name.to_owned(), labels, value));
        }
        Ok(samples)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels.len() == l.len()
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
    }

    #[tokio::test]
    async fn metrics_scrape_over_a_socket_parses() {
        let metrics = Metrics::default();
        let work = metrics.account("work");
        for _ in 0..3 {
            AccountMetrics::bump(&work.replies);
        }
        AccountMetrics::bump(&work.deferred);
        work.observe_model_latency(Duration::from_millis(300));
        work.observe_model_latency(Duration::from_secs(90));
        // A label value that needs escaping.
        let odd = metrics.account("we\"ird\\name\n");
        AccountMetrics::bump(&odd.events);
        let status = StatusBoard::default();
        status.register("work", "http://127.0.0.1:1");
        status.set("work", Lifecycle::Ready, None);
        let server = MetricsServer::start(SocketAddr::from(([127, 0, 0, 1], 0)), metrics, status)
            .await
            .expect("bind");

        let mut scrape = TcpStream::connect(server.addr).await.expect("connect");
        scrape
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        scrape.read_to_string(&mut response).await.expect("read");
        let (head, body) = response.split_once("\r\n\r\n").expect("http response");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
        let samples = parse_exposition(body).unwrap_or_else(|e| panic!("{e}\n{body}"));
        let work = [("account", "work")];
        assert_eq!(
            value(&samples, "clickclack_gateway_replies_total", &work),
            Some(3.0)
        );
        assert_eq!(
            value(&samples, "clickclack_gateway_deferred_total", &work),
            Some(1.0)
        );
        assert_eq!(
            value(&samples, "clickclack_gateway_events_total", &work),
            Some(0.0)
        );
        assert_eq!(
            value(
                &samples,
                "clickclack_gateway_events_total",
                &[("account", "we\"ird\\name\n")]
            ),
            Some(1.0)
        );
        let latency = "clickclack_gateway_model_latency_seconds";
        assert_eq!(
            value(&samples, &format!("{latency}_count"), &work),
            Some(2.0)
        );
        assert_eq!(
            value(
                &samples,
                &format!("{latency}_bucket"),
                &[("account", "work"), ("le", "0.5")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                &format!("{latency}_bucket"),
                &[("account", "work"), ("le", "+Inf")]
            ),
            Some(2.0)
        );
        assert_eq!(
            value(&samples, "clickclack_gateway_account_up", &work),
            Some(1.0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_are_capped_and_timed_out() {
        let server = MetricsServer::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            Metrics::default(),
            StatusBoard::default(),
        )
        .await
        .expect("bind");
        let mut idle = Vec::new();
        for _ in 0..(MAX_CONNECTIONS + 8) {
            idle.push(TcpStream::connect(server.addr).await.expect("connect"));
        }
        // Each idle connection is closed: over the cap at once, the others
        // when their headers do not arrive in time.
        for stream in &mut idle {
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(120), stream.read(&mut buf)).await;
            assert!(
                matches!(read, Ok(Ok(0)) | Ok(Err(_))),
                "an idle connection stays open: {read:?}"
            );
        }
        drop(idle);
        let mut scrape = TcpStream::connect(server.addr).await.expect("connect");
        scrape
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut response = String::new();
        scrape.read_to_string(&mut response).await.expect("read");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::AccountStatus;
    use crate::state::{BackendKind, ReplicaId};

    fn standby(last_heartbeat: Option<tokio::time::Instant>) -> FleetSnapshot {
        FleetSnapshot {
            live_replicas: 3,
            last_heartbeat,
            ..FleetSnapshot::new(
                ReplicaId::new("r2"),
                BackendKind::Postgres,
                Duration::from_secs(5),
            )
        }
    }

    #[test]
    fn accounts_are_healthy_only_when_all_are_ready() {
        let mut a = AccountStatus::new("a", "http://x");
        a.lifecycle = Lifecycle::Ready;
        let b = AccountStatus::new("b", "http://x");
        let (code, body) = health(std::slice::from_ref(&a), None);
        assert_eq!((code, body.as_str()), (StatusCode::OK, "ok\na ready\n"));
        let (code, body) = health(&[a, b], None);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("b starting"), "{body}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_standby_replica_is_healthy_while_it_reaches_the_database() {
        let now = tokio::time::Instant::now();
        let (code, body) = health(&[], Some(&standby(Some(now))));
        assert_eq!(code, StatusCode::OK);
        assert!(
            body.starts_with("ok\nstandby: replica r2 holds no account"),
            "{body}"
        );
        // Heartbeats stopped reaching the database for longer than a lease.
        tokio::time::advance(Duration::from_secs(6)).await;
        let (code, body) = health(&[], Some(&standby(Some(now))));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("do not reach the state database"), "{body}");
        let (code, _) = health(&[], Some(&standby(None)));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        // Not a fleet replica and nothing running: unhealthy.
        let (code, _) = health(&[], None);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
    }
}
