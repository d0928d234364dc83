//! Benchmark 3: REST sends. `Client::send_message` with a 100-byte body from
//! 1, 8 and 64 concurrent senders over keep-alive, against bare
//! `hyper_util::client::legacy::Client` POSTs of the same bytes and headers
//! (no tower stack, no response decode: the body is read and dropped).
//! `send_message` decodes only the new message's id (`SentMessage`); the
//! full typed response is decoded only when a caller asks for it.
//!
//! Every round gets a fresh testkit so the store size is the same for both
//! sides; rounds alternate ours/bare and the best round of each side counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clickclack_client::{Client, SentMessage};
use clickclack_proto::ChannelId;
use clickclack_proto::requests::CreateMessage;
use clickclack_testkit::TestServer;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Options;
use super::harness::{Latencies, per_second, round3};
use super::report::{Goal, Record};

/// Exactly 100 bytes of message body.
const BODY: &str = "Build #4821 passed on main: 1,204 tests, 0 failures, coverage 87.3%. Artifacts uploaded to staging..";

/// One side's result at one concurrency.
#[derive(Debug, Default)]
struct Run {
    sent: usize,
    elapsed: Duration,
    latencies: Latencies,
}

impl Run {
    fn rate(&self) -> f64 {
        per_second(self.sent, self.elapsed)
    }
}

/// What a round needs: a fresh server, its channel and the bot token.
struct Target {
    _server: TestServer,
    base_url: String,
    channel: ChannelId,
    token: String,
}

async fn target() -> Target {
    let server = TestServer::start().await;
    let seed = server.seed();
    Target {
        base_url: server.base_url(),
        channel: seed.general.id.clone(),
        token: seed.bot.token.clone(),
        _server: server,
    }
}

/// `senders` tasks, each sending back to back until `deadline`.
async fn drive<F, Fut>(senders: usize, duration: Duration, send: F) -> Result<Run, String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let send = Arc::new(send);
    // Warm-up: open the keep-alive connections.
    let mut warm = Vec::with_capacity(senders);
    for _ in 0..senders {
        let send = Arc::clone(&send);
        warm.push(tokio::spawn(async move { send().await }));
    }
    for task in warm {
        task.await.map_err(|e| format!("warm-up task: {e}"))??;
    }
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::with_capacity(senders);
    for _ in 0..senders {
        let send = Arc::clone(&send);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                send().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut run = Run::default();
    for task in tasks {
        let latencies = task.await.map_err(|e| format!("sender task: {e}"))??;
        run.latencies.extend(latencies);
    }
    run.elapsed = start.elapsed();
    run.sent = run.latencies.len();
    Ok(run)
}

async fn ours(senders: usize, duration: Duration) -> Result<Run, String> {
    let t = target().await;
    let client = Client::builder(t.base_url.clone())
        .token(t.token.clone())
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let channel = t.channel.clone();
    let run = drive(senders, duration, move || {
        let client = client.clone();
        let channel = channel.clone();
        async move {
            client
                .send_message(&channel, CreateMessage::new(BODY))
                .await
                .map(|_| ())
                .map_err(|e| format!("send_message: {e}"))
        }
    })
    .await;
    drop(t);
    run
}

async fn bare(senders: usize, duration: Duration, decode: bool) -> Result<Run, String> {
    let t = target().await;
    let client: HyperClient<HttpConnector, Full<Bytes>> =
        HyperClient::builder(TokioExecutor::new()).build_http();
    let uri: http::Uri = format!("{}/api/channels/{}/messages", t.base_url, t.channel)
        .parse()
        .map_err(|e| format!("uri: {e}"))?;
    let auth = format!("Bearer {}", t.token);
    let run = drive(senders, duration, move || {
        let client = client.clone();
        let uri = uri.clone();
        let auth = auth.clone();
        async move {
            // The same JSON the client sends: the body plus a fresh nonce.
            let request = CreateMessage::new(BODY).with_nonce(clickclack_client::generate_nonce());
            let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
            let req = http::Request::post(uri)
                .header(ACCEPT, "application/json")
                .header(CONTENT_TYPE, "application/json")
                .header(AUTHORIZATION, auth)
                .header(USER_AGENT, "bench-bare-hyper")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let resp = client
                .request(req)
                .await
                .map_err(|e| format!("bare POST: {e}"))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("bare body: {e}"))?
                .to_bytes();
            if !status.is_success() {
                return Err(format!(
                    "bare POST: HTTP {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
            if decode {
                // What `send_message` decodes: the id, the body kept.
                SentMessage::from_json(bytes).map_err(|e| format!("bare decode: {e}"))?;
            }
            Ok(())
        }
    })
    .await;
    drop(t);
    run
}

/// Runs the REST benchmark.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let (rounds, duration) = if options.quick {
        (1, Duration::from_millis(400))
    } else {
        (2, Duration::from_secs(3))
    };
    let mut records = Vec::new();
    for senders in [1usize, 8, 64] {
        let mut best_ours: Option<Run> = None;
        let mut best_bare: Option<Run> = None;
        for _ in 0..rounds {
            let b = bare(senders, duration, false).await?;
            if best_bare.as_ref().is_none_or(|x| b.rate() > x.rate()) {
                best_bare = Some(b);
            }
            let o = ours(senders, duration).await?;
            if best_ours.as_ref().is_none_or(|x| o.rate() > x.rate()) {
                best_ours = Some(o);
            }
        }
        let (Some(mut o), Some(mut b)) = (best_ours, best_bare) else {
            return Err("no REST rounds ran".to_owned());
        };
        let label = if senders == 1 { " (sequential)" } else { "" };
        records.push(
            Record::new(
                format!("rest.send.c{senders}{label}"),
                "msg/s",
                o.rate(),
                "bare hyper_util",
                b.rate(),
                Goal::RatioAtLeast(0.85),
            )
            .param("senders", senders)
            .param("body_bytes", BODY.len())
            .param("seconds_per_round", duration.as_secs_f64())
            .param("rounds_per_side", rounds)
            .param("messages", o.sent)
            .param("baseline_messages", b.sent),
        );
        for (p, name) in [(50.0, "p50"), (99.0, "p99")] {
            records.push(
                Record::new(
                    format!("rest.send.c{senders}.{name}"),
                    "ms",
                    round3(o.latencies.percentile_ms(p)),
                    "bare hyper_util",
                    round3(b.latencies.percentile_ms(p)),
                    Goal::None,
                )
                .param("senders", senders),
            );
        }
    }
    // Attribution (informational): the bare client plus the response decode
    // every `send_message` caller gets (`SentMessage`: the id, the body kept),
    // sequential.
    let (mut best_decode, mut best_bare) = (0.0f64, 0.0f64);
    for _ in 0..rounds {
        best_bare = best_bare.max(bare(1, duration, false).await?.rate());
        best_decode = best_decode.max(bare(1, duration, true).await?.rate());
    }
    records.push(
        Record::new(
            "rest.send.c1.bare_plus_decode",
            "msg/s",
            best_decode,
            "bare hyper_util",
            best_bare,
            Goal::None,
        )
        .param("senders", 1)
        .param(
            "measures",
            "bare hyper_util + SentMessage::from_json (what send_message decodes)",
        ),
    );
    Ok(records)
}
