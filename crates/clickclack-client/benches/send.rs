//! Sequential sends of a 100-byte message to the testkit over keep-alive.
//!
//! ```text
//! cargo bench -p clickclack-client --bench send            # 3000 sends
//! BENCH_SENDS=500 cargo bench -p clickclack-client --bench send
//! ```
//!
//! Prints messages/s and p50/p99 latency for `Client::send_message`, and the
//! same numbers for a bare hyper-util client posting the same bytes (no tower
//! stack, no response decode) as the ceiling measured in the same run.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clickclack_client::Client;
use clickclack_client::proto::requests::CreateMessage;
use clickclack_testkit::TestServer;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

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

fn main() {
    let sends: usize = std::env::var("BENCH_SENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
        .max(10);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench: no runtime: {e}");
            return;
        }
    };
    rt.block_on(async move {
        let server = TestServer::start().await;
        let seed = server.seed();
        let body = "x".repeat(100);

        // The SDK client.
        let client = match Client::builder(server.base_url())
            .token(seed.bot.token.as_str())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bench: {e}");
                return;
            }
        };
        for _ in 0..100 {
            let _ = client
                .send_message(&seed.general.id, CreateMessage::new(body.clone()))
                .await;
        }
        let mut lat = Vec::with_capacity(sends);
        let start = Instant::now();
        for _ in 0..sends {
            let t = Instant::now();
            if let Err(e) = client
                .send_message(&seed.general.id, CreateMessage::new(body.clone()))
                .await
            {
                eprintln!("bench: send failed: {e}");
                return;
            }
            lat.push(t.elapsed());
        }
        let sdk = stats(lat, start.elapsed());

        // Baseline: bare hyper-util, same request bytes, body drained not decoded.
        let bare: HyperClient<_, Full<Bytes>> =
            HyperClient::builder(TokioExecutor::new()).build_http();
        let uri = format!(
            "{}/api/channels/{}/messages",
            server.base_url(),
            seed.general.id
        );
        let auth = format!("Bearer {}", seed.bot.token);
        let post = |i: usize| {
            let json = format!(r#"{{"body":"{body}","nonce":"bare-{i}"}}"#);
            http::Request::post(uri.as_str())
                .header("authorization", auth.as_str())
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(json)))
        };
        let mut lat = Vec::with_capacity(sends);
        let start = Instant::now();
        for i in 0..sends + 100 {
            let Ok(req) = post(i) else { return };
            let t = Instant::now();
            match bare.request(req).await {
                Ok(resp) => {
                    let _ = resp.into_body().collect().await;
                }
                Err(e) => {
                    eprintln!("bench: bare request failed: {e}");
                    return;
                }
            }
            if i >= 100 {
                lat.push(t.elapsed());
            }
        }
        let base = stats(lat, start.elapsed());

        println!("sequential sends of a 100-byte message, keep-alive, {sends} sends");
        println!(
            "  clickclack-client send_message : {:>8.0} msg/s  p50 {:>6.0} us  p99 {:>6.0} us",
            sdk.per_sec,
            sdk.p50.as_secs_f64() * 1e6,
            sdk.p99.as_secs_f64() * 1e6
        );
        println!(
            "  bare hyper-util (baseline)     : {:>8.0} msg/s  p50 {:>6.0} us  p99 {:>6.0} us",
            base.per_sec,
            base.p50.as_secs_f64() * 1e6,
            base.p99.as_secs_f64() * 1e6
        );
        println!(
            "  ratio sdk/baseline             : {:.2}",
            sdk.per_sec / base.per_sec
        );
    });
}
