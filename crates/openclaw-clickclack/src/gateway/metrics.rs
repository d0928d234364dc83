//! Counters per account, rendered in the Prometheus text format, and the
//! optional `/healthz` + `/metrics` HTTP endpoint (`--metrics-addr`).

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
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::status::{Lifecycle, StatusBoard};

/// Connections the metrics endpoint serves at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 32;
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a metrics connection stays open (keep-alive included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// Upper bounds (seconds) of the model latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The counters of one account.
#[derive(Debug, Default)]
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
    /// Resync gaps that could not be read back after retrying.
    pub gaps_skipped: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl AccountMetrics {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one model (or agent) call duration.
    pub fn observe_model_latency(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bucket, bound) in self.latency_buckets.iter().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Model calls observed.
    pub fn model_calls(&self) -> u64 {
        self.latency_count.load(Ordering::Relaxed)
    }
}

/// A counter's name, help text and field.
type Counter = (
    &'static str,
    &'static str,
    fn(&AccountMetrics) -> &AtomicU64,
);

/// The counters of every account of a gateway.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    accounts: Arc<Mutex<BTreeMap<String, Arc<AccountMetrics>>>>,
    /// The fleet section (leases, epochs), for a replica on PostgreSQL.
    pub(crate) fleet: super::fleet_metrics::FleetSource,
}

/// The `# HELP` and `# TYPE` lines of one metric family.
fn write_header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
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

    /// Renders every counter in the Prometheus text exposition format.
    pub fn render(&self, status: Option<&StatusBoard>) -> String {
        let accounts = self.snapshot();
        let mut out = String::new();
        let counters: [Counter; 9] = [
            (
                "clickclack_gateway_events_total",
                "Durable realtime events received.",
                |m| &m.events,
            ),
            (
                "clickclack_gateway_replies_total",
                "Replies delivered.",
                |m| &m.replies,
            ),
            (
                "clickclack_gateway_skipped_total",
                "Inbound messages not answered (policy, age, unreadable).",
                |m| &m.skipped,
            ),
            (
                "clickclack_gateway_reconnects_total",
                "Realtime reconnect attempts.",
                |m| &m.reconnects,
            ),
            (
                "clickclack_gateway_resyncs_total",
                "Realtime resyncs (close 4001).",
                |m| &m.resyncs,
            ),
            (
                "clickclack_gateway_model_errors_total",
                "Turns whose model or agent calls failed after the retry window.",
                |m| &m.model_errors,
            ),
            (
                "clickclack_gateway_failed_visibly_total",
                "Visible failure replies posted.",
                |m| &m.failed_visibly,
            ),
            (
                "clickclack_gateway_undeliverable_total",
                "Replies that could not be posted (not retried).",
                |m| &m.undeliverable,
            ),
            (
                "clickclack_gateway_gaps_skipped_total",
                "Resync gaps that could not be read back after retrying.",
                |m| &m.gaps_skipped,
            ),
        ];
        for (name, help, get) in counters {
            write_header(&mut out, name, help, "counter");
            for (account, m) in &accounts {
                let _ = writeln!(
                    out,
                    "{name}{{account=\"{}\"}} {}",
                    escape_label(account),
                    get(m).load(Ordering::Relaxed)
                );
            }
        }
        let name = "clickclack_gateway_model_latency_seconds";
        write_header(&mut out, name, "Model or agent call latency.", "histogram");
        for (account, m) in &accounts {
            let account = escape_label(account);
            for (bucket, bound) in m.latency_buckets.iter().zip(LATENCY_BUCKETS) {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{account=\"{account}\",le=\"{bound}\"}} {}",
                    bucket.load(Ordering::Relaxed)
                );
            }
            let count = m.latency_count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{account=\"{account}\",le=\"+Inf\"}} {count}"
            );
            let sum = m.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1_000_000.0;
            let _ = writeln!(out, "{name}_sum{{account=\"{account}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{account=\"{account}\"}} {count}");
        }
        if let Some(status) = status {
            let name = "clickclack_gateway_account_up";
            write_header(
                &mut out,
                name,
                "1 when the account's realtime socket is open.",
                "gauge",
            );
            for s in status.all() {
                let up = u8::from(s.lifecycle == Lifecycle::Ready);
                let _ = writeln!(
                    out,
                    "{name}{{account=\"{}\"}} {up}",
                    escape_label(&s.account_id)
                );
            }
        }
        self.fleet.render(&mut out);
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

async fn serve(
    req: Request<Incoming>,
    metrics: Metrics,
    status: StatusBoard,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match (req.method().as_str(), req.uri().path()) {
        ("GET", "/metrics") => text(
            StatusCode::OK,
            metrics.render(Some(&status)),
            "text/plain; version=0.0.4; charset=utf-8",
        ),
        ("GET", "/healthz") => {
            let all = status.all();
            let healthy = !all.is_empty() && all.iter().all(|s| s.lifecycle == Lifecycle::Ready);
            let mut body = String::new();
            for s in &all {
                let _ = writeln!(body, "{} {}", s.account_id, s.lifecycle);
            }
            let code = if healthy {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(
                code,
                if healthy { format!("ok\n{body}") } else { body },
                "text/plain; charset=utf-8",
            )
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
