//! Sequential sends of a 100-byte message over keep-alive.
//!
//! ```text
//! cargo bench -p clickclack-client --bench send            # 3000 sends to an in-process testkit
//! BENCH_SENDS=500 cargo bench -p clickclack-client --bench send
//! ```
//!
//! Prints messages/s and p50/p99 latency for `Client::send_message`, and the
//! same numbers for a bare hyper-util client posting the same bytes (no tower
//! stack, no response decode) as the ceiling measured in the same run.
//!
//! Against an external server (`clickclack-dev serve`), so that a profiler
//! sees the client alone — e.g. instruction counts per send under callgrind,
//! which are exact where wall time on a shared machine is not:
//!
//! ```text
//! BENCH_BASE_URL=http://127.0.0.1:PORT BENCH_TOKEN=ccb_… BENCH_CHANNEL=chn_… \
//! BENCH_IMPL=ours BENCH_SENDS=2000 BENCH_FLAVOUR=current \
//!   valgrind --tool=callgrind target/release/deps/send-…
//! ```
//!
//! `BENCH_IMPL` is `ours`, `bare` or `both` (default); `BENCH_FLAVOUR` is
//! `current` or `multi` (default, 2 workers). Subtracting the counts of two
//! runs with different `BENCH_SENDS` gives the cost of one send.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clickclack_client::Client;
use clickclack_client::proto::ChannelId;
use clickclack_client::proto::requests::CreateMessage;
use clickclack_testkit::TestServer;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

/// Exactly 100 bytes of message body.
const BODY: &str = "Build #4821 passed on main: 1,204 tests, 0 failures, coverage 87.3%. Artifacts uploaded to staging..";

/// Warm-up sends before measuring (opens the connection, warms the allocator).
const WARM_UP: usize = 100;

struct Stats {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut lat: Vec<Duration>, total: Duration) -> Stats {
    lat.sort();
    let pick = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        per_sec: lat.len() as f64 / total.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
    }
}

/// Where to send.
struct Target {
    base_url: String,
    token: String,
    channel: ChannelId,
}

async fn ours(target: &Target, sends: usize) -> Result<Stats, String> {
    let client = Client::builder(target.base_url.as_str())
        .token(target.token.as_str())
        .build()
        .map_err(|e| e.to_string())?;
    let send = || client.send_message(&target.channel, CreateMessage::new(BODY));
    for _ in 0..WARM_UP {
        send().await.map_err(|e| format!("send failed: {e}"))?;
    }
    let mut lat = Vec::with_capacity(sends);
    let start = Instant::now();
    for _ in 0..sends {
        let t = Instant::now();
        send().await.map_err(|e| format!("send failed: {e}"))?;
        lat.push(t.elapsed());
    }
    Ok(stats(lat, start.elapsed()))
}

/// Bare hyper-util: the same request bytes and headers (a fresh nonce
/// each), the body drained, not decoded.
async fn bare(target: &Target, sends: usize) -> Result<Stats, String> {
    let client: HyperClient<_, Full<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let uri: http::Uri = format!(
        "{}/api/channels/{}/messages",
        target.base_url, target.channel
    )
    .parse()
    .map_err(|e| format!("uri: {e}"))?;
    let auth = format!("Bearer {}", target.token);
    let post = || async {
        let request = CreateMessage::new(BODY).with_nonce(clickclack_client::generate_nonce());
        let json = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        let req = http::Request::post(uri.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .header(AUTHORIZATION, auth.as_str())
            .header(USER_AGENT, "bench-bare-hyper")
            .body(Full::new(Bytes::from(json)))
            .map_err(|e| e.to_string())?;
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("bare request failed: {e}"))?;
        let status = resp.status();
        resp.into_body()
            .collect()
            .await
            .map_err(|e| format!("bare body: {e}"))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("bare request: HTTP {status}"))
        }
    };
    for _ in 0..WARM_UP {
        post().await?;
    }
    let mut lat = Vec::with_capacity(sends);
    let start = Instant::now();
    for _ in 0..sends {
        let t = Instant::now();
        post().await?;
        lat.push(t.elapsed());
    }
    Ok(stats(lat, start.elapsed()))
}

fn print(name: &str, s: &Stats) {
    println!(
        "  {name:<31}: {:>8.0} msg/s  p50 {:>6.0} us  p99 {:>6.0} us",
        s.per_sec,
        s.p50.as_secs_f64() * 1e6,
        s.p99.as_secs_f64() * 1e6
    );
}

async fn run(target: &Target, sends: usize, which: &str) -> Result<(), String> {
    println!("sequential sends of a 100-byte message, keep-alive, {sends} sends");
    let sdk = match which {
        "ours" | "both" => Some(ours(target, sends).await?),
        _ => None,
    };
    let base = match which {
        "bare" | "both" => Some(bare(target, sends).await?),
        _ => None,
    };
    if let Some(s) = &sdk {
        print("clickclack-client send_message", s);
    }
    if let Some(b) = &base {
        print("bare hyper-util (baseline)", b);
    }
    if let (Some(s), Some(b)) = (sdk, base) {
        println!(
            "  ratio sdk/baseline             : {:.2}",
            s.per_sec / b.per_sec
        );
    }
    Ok(())
}

fn main() {
    let env = |k: &str| std::env::var(k).ok();
    let sends: usize = env("BENCH_SENDS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
        .max(10);
    let which = env("BENCH_IMPL").unwrap_or_else(|| "both".to_owned());
    let runtime = match env("BENCH_FLAVOUR").as_deref() {
        Some("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    };
    let rt = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: no runtime: {e}");
            return;
        }
    };
    let result = rt.block_on(async move {
        match env("BENCH_BASE_URL") {
            Some(base_url) => {
                let target = Target {
                    base_url,
                    token: env("BENCH_TOKEN").ok_or("BENCH_TOKEN is not set")?,
                    channel: ChannelId::from(
                        env("BENCH_CHANNEL").ok_or("BENCH_CHANNEL is not set")?,
                    ),
                };
                run(&target, sends, &which).await
            }
            None => {
                let server = TestServer::start().await;
                let seed = server.seed();
                let target = Target {
                    base_url: server.base_url(),
                    token: seed.bot.token.clone(),
                    channel: seed.general.id.clone(),
                };
                run(&target, sends, &which).await
            }
        }
    });
    if let Err(e) = result {
        eprintln!("bench: {e}");
    }
}
