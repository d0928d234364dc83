//! The client side of the out-of-process benchmarks: `bench-run --client
//! SPEC.json` runs one workload against an external `clickclack-dev` and
//! prints one JSON line with wall time, CPU time (`getrusage` of this
//! process, which runs nothing else) and memory.
//!
//! The Node peer (`xtask/bench-node/peer.mjs`) reads the same spec and
//! prints the same JSON, so both sides are measured the same way.
//!
//! Workloads (`"workload"`) and implementations (`"impl"`):
//! - `replay`: read the replay pages (`ours`: `RealtimeStream` + a commit
//!   per event; `bare`: fastwebsockets + `Event::from_slice`);
//! - `send`: `concurrency` senders for `seconds` (`ours`: `Client::send_message`;
//!   `bare`: hyper_util POSTs of the same JSON, body read, not decoded);
//! - `idle`: one connection per token in `tokens`, then RSS (`ours`: a
//!   `Client` + `RealtimeStream` per account; `gateway`: the real gateway
//!   with one account per token; `bare`: fastwebsockets sockets).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clickclack_client::Client;
use clickclack_proto::event::Event;
use clickclack_proto::requests::CreateMessage;
use clickclack_proto::{ChannelId, Cursor, WorkspaceId};
use clickclack_realtime::{RealtimeItem, RealtimeStream};
use fastwebsockets::OpCode;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::cpu::CpuSample;
use super::harness::{Latencies, rss_kib};

/// One replay page: connect after `after`, read `count` events ending at `last`.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub(crate) after: Cursor,
    pub(crate) count: usize,
    pub(crate) last: Cursor,
}

impl Page {
    pub(crate) fn to_json(&self) -> Value {
        json!({ "after": self.after.as_str(), "count": self.count, "last": self.last.as_str() })
    }

    fn from_json(v: &Value) -> Result<Page, String> {
        Ok(Page {
            after: Cursor::from(str_field(v, "after")?),
            count: v
                .get("count")
                .and_then(Value::as_u64)
                .ok_or("page without count")? as usize,
            last: Cursor::from(str_field(v, "last")?),
        })
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("the bench spec has no string `{key}`"))
}

/// One timed pass: items done, wall time, CPU time, context switches.
#[derive(Debug, Clone, Copy)]
struct Pass {
    items: usize,
    wall: Duration,
    cpu: Duration,
    switches: u64,
}

impl Pass {
    fn to_json(self) -> Value {
        json!({
            "items": self.items,
            "wall_ns": self.wall.as_nanos() as u64,
            "cpu_ns": self.cpu.as_nanos() as u64,
            "switches": self.switches,
        })
    }
}

/// Times `f` in wall and CPU time.
async fn timed<F: Future<Output = Result<usize, String>>>(f: F) -> Result<Pass, String> {
    let cpu = CpuSample::now();
    let started = Instant::now();
    let items = f.await?;
    let wall = started.elapsed();
    let after = CpuSample::now();
    Ok(Pass {
        items,
        wall,
        cpu: cpu.cpu_until(&after),
        switches: cpu.switches_until(&after),
    })
}

/// `bench-run --client SPEC.json`: runs the workload, prints one JSON line.
pub(crate) fn run_client(args: &[String]) -> Result<(), String> {
    let path = args.first().ok_or("--client needs a spec file")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("read {path}: {e}"))?;
    let spec: Value = serde_json::from_str(&text).map_err(|e| format!("parse {path}: {e}"))?;
    let runtime = match spec.get("flavour").and_then(Value::as_str) {
        Some("current") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    }
    .map_err(|e| format!("runtime: {e}"))?;
    let out = runtime.block_on(async move {
        let workload = str_field(&spec, "workload")?;
        let imp = str_field(&spec, "impl")?;
        match (workload, imp) {
            ("replay", "ours" | "bare") => replay(&spec, imp == "ours").await,
            ("send", "ours" | "bare") => send(&spec, imp == "ours").await,
            ("idle", "ours" | "gateway" | "bare") => idle(&spec, imp).await,
            _ => Err(format!("unknown client workload {workload}/{imp}")),
        }
    })?;
    println!("{out}");
    Ok(())
}

fn passes_json(passes: &[Pass]) -> Value {
    Value::Array(passes.iter().map(|p| p.to_json()).collect())
}

async fn replay(spec: &Value, ours: bool) -> Result<Value, String> {
    let base_url = str_field(spec, "base_url")?.to_owned();
    let token = str_field(spec, "token")?.to_owned();
    let workspace = WorkspaceId::from(str_field(spec, "workspace")?);
    let pages = spec
        .get("pages")
        .and_then(Value::as_array)
        .ok_or("the bench spec has no pages")?
        .iter()
        .map(Page::from_json)
        .collect::<Result<Vec<_>, _>>()?;
    let rounds = spec.get("passes").and_then(Value::as_u64).unwrap_or(2) as usize;
    let client = Client::builder(base_url.clone())
        .token(token.clone())
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let mut passes = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let pass = if ours {
            timed(replay_ours(&client, &workspace, &pages)).await?
        } else {
            timed(replay_bare(&base_url, &token, &workspace, &pages)).await?
        };
        passes.push(pass);
    }
    Ok(json!({ "passes": passes_json(&passes), "max_rss_kib": CpuSample::now().max_rss_kib }))
}

/// Reads every page through `RealtimeStream`, committing each event.
async fn replay_ours(
    client: &Client,
    workspace: &WorkspaceId,
    pages: &[Page],
) -> Result<usize, String> {
    let mut total = 0;
    for page in pages {
        let mut stream = RealtimeStream::builder(client.clone(), workspace.clone())
            .start_after(page.after.clone())
            .start()
            .await
            .map_err(|e| format!("stream start: {e}"))?;
        let mut got = 0;
        let mut last = None;
        while got < page.count {
            match stream.next_event().await {
                Some(Ok(RealtimeItem::Event(event))) => {
                    got += 1;
                    stream
                        .commit(event.cursor())
                        .await
                        .map_err(|e| format!("commit: {e}"))?;
                    last = Some(event.cursor);
                }
                Some(Ok(RealtimeItem::Resync { reason, .. })) => {
                    return Err(format!("unexpected resync after {got} events: {reason:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("stream error after {got} events: {e}")),
                None => return Err(format!("stream ended after {got} events")),
            }
        }
        if last.as_ref() != Some(&page.last) {
            return Err("the stream did not end the page on the expected cursor".to_owned());
        }
        total += got;
    }
    Ok(total)
}

/// Reads every page with a bare fastwebsockets socket + `Event::from_slice`.
async fn replay_bare(
    base_url: &str,
    token: &str,
    workspace: &WorkspaceId,
    pages: &[Page],
) -> Result<usize, String> {
    let addr = socket_addr(base_url)?;
    let mut total = 0;
    for page in pages {
        let mut ws = super::realtime::bare_connect(addr, token, workspace, &page.after).await?;
        let mut got = 0;
        let mut last = None;
        while got < page.count {
            let frame = ws
                .read_frame()
                .await
                .map_err(|e| format!("bare read after {got} frames: {e}"))?;
            match frame.opcode {
                OpCode::Text | OpCode::Binary => {
                    got += 1;
                    let event = Event::from_slice(&frame.payload)
                        .map_err(|e| format!("bare decode: {e}"))?;
                    last = Some(event.cursor);
                }
                OpCode::Close => return Err(format!("bare reader: closed after {got} frames")),
                _ => {}
            }
        }
        if last.as_ref() != Some(&page.last) {
            return Err("the bare reader did not end the page on the expected cursor".to_owned());
        }
        total += got;
    }
    Ok(total)
}

fn socket_addr(base_url: &str) -> Result<std::net::SocketAddr, String> {
    base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("base URL {base_url} is not http://IP:PORT: {e}"))
}

async fn send(spec: &Value, ours: bool) -> Result<Value, String> {
    let base_url = str_field(spec, "base_url")?.to_owned();
    let token = str_field(spec, "token")?.to_owned();
    let channel = ChannelId::from(str_field(spec, "channel")?);
    let body = str_field(spec, "body")?.to_owned();
    let senders = spec.get("concurrency").and_then(Value::as_u64).unwrap_or(1) as usize;
    let seconds = spec.get("seconds").and_then(Value::as_f64).unwrap_or(1.0);
    let duration = Duration::from_secs_f64(seconds);
    let (pass, mut latencies) = if ours {
        let client = Client::builder(base_url)
            .token(token)
            .build()
            .map_err(|e| format!("client: {e}"))?;
        drive(senders, duration, move || {
            let client = client.clone();
            let channel = channel.clone();
            let body = body.clone();
            async move {
                client
                    .send_message(&channel, CreateMessage::new(body))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("send_message: {e}"))
            }
        })
        .await?
    } else {
        let client: HyperClient<HttpConnector, Full<Bytes>> =
            HyperClient::builder(TokioExecutor::new()).build_http();
        let uri: http::Uri = format!("{base_url}/api/channels/{channel}/messages")
            .parse()
            .map_err(|e| format!("uri: {e}"))?;
        let auth = format!("Bearer {token}");
        drive(senders, duration, move || {
            bare_post(client.clone(), uri.clone(), auth.clone(), body.clone())
        })
        .await?
    };
    Ok(json!({
        "passes": passes_json(&[pass]),
        "p50_ms": latencies.percentile_ms(50.0),
        "p99_ms": latencies.percentile_ms(99.0),
        "max_rss_kib": CpuSample::now().max_rss_kib,
    }))
}

/// One bare POST of the JSON `send_message` sends (body + fresh nonce).
async fn bare_post(
    client: HyperClient<HttpConnector, Full<Bytes>>,
    uri: http::Uri,
    auth: String,
    body: String,
) -> Result<(), String> {
    let request = CreateMessage::new(body).with_nonce(clickclack_client::generate_nonce());
    let bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    let req = http::Request::post(uri)
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, auth)
        .header(USER_AGENT, "bench-bare-hyper")
        .body(Full::new(Bytes::from(bytes)))
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
    Ok(())
}

/// `senders` tasks sending back to back for `duration` after one warm-up
/// send each (which opens the keep-alive connections).
async fn drive<F, Fut>(
    senders: usize,
    duration: Duration,
    send: F,
) -> Result<(Pass, Latencies), String>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let send = Arc::new(send);
    let mut warm = Vec::with_capacity(senders);
    for _ in 0..senders {
        warm.push(tokio::spawn(send()));
    }
    for task in warm {
        task.await.map_err(|e| format!("warm-up task: {e}"))??;
    }
    let mut all = Latencies::default();
    let pass = timed(async {
        let deadline = Instant::now() + duration;
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
        for task in tasks {
            all.extend(task.await.map_err(|e| format!("sender task: {e}"))??);
        }
        Ok(all.len())
    })
    .await?;
    Ok((pass, all))
}

/// With this variable set, an `idle` client exits right after measuring,
/// without shutting anything down (`heaptrack` then reports the idle
/// accounts' memory as "leaked"):
/// `BENCH_EXIT_AFTER_MEASURE=1 heaptrack xtask bench-run --client SPEC`.
const EXIT_AFTER_MEASURE: &str = "BENCH_EXIT_AFTER_MEASURE";

async fn idle(spec: &Value, imp: &str) -> Result<Value, String> {
    let base_url = str_field(spec, "base_url")?.to_owned();
    let workspace = WorkspaceId::from(str_field(spec, "workspace")?);
    let slug = str_field(spec, "workspace_slug")?.to_owned();
    let tail = Cursor::from(str_field(spec, "tail")?);
    let tokens: Vec<String> = spec
        .get("tokens")
        .and_then(Value::as_array)
        .ok_or("the bench spec has no tokens")?
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    let addr = socket_addr(&base_url)?;
    let first = tokens.first().ok_or("no tokens")?;
    // Warm the allocator, runtime and connection paths with one bare socket.
    drop(super::realtime::bare_connect(addr, first, &workspace, &tail).await?);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = rss_kib().ok_or("no VmRSS")?;
    let started = Instant::now();
    let mut gateway = None;
    let mut streams = Vec::new();
    let mut sockets = Vec::new();
    match imp {
        "gateway" => {
            let accounts: Vec<(String, String)> =
                tokens.iter().map(|t| (t.clone(), slug.clone())).collect();
            gateway = Some(super::gateway::start_gateway_for(&base_url, &accounts).await?);
        }
        "ours" => {
            for token in &tokens {
                streams.push(connect_ours(&base_url, token, &workspace, &tail).await?);
            }
        }
        _ => {
            for token in &tokens {
                sockets.push(super::realtime::bare_connect(addr, token, &workspace, &tail).await?);
            }
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = rss_kib().ok_or("no VmRSS")?;
    let after_trim = trimmed_rss_kib().unwrap_or(after);
    if std::env::var_os(EXIT_AFTER_MEASURE).is_some() {
        // For heap profilers: what is still allocated at exit is what the
        // idle accounts held when RSS was read.
        println!(
            "{}",
            json!({ "n": tokens.len(), "before_kib": before, "after_kib": after, "connect_secs": connect_secs })
        );
        std::process::exit(0);
    }
    if let Some(g) = gateway {
        g.gateway.shutdown().await;
    }
    drop(streams);
    drop(sockets);
    Ok(json!({
        "n": tokens.len(),
        "before_kib": before,
        "after_kib": after,
        "after_trim_kib": after_trim,
        "connect_secs": connect_secs,
    }))
}

/// RSS after giving the allocator's free pages back to the kernel
/// (`malloc_trim`): what the idle accounts hold, without the free memory
/// the startup burst left in glibc's heaps. Reported next to the plain RSS,
/// which stays the measured value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trimmed_rss_kib() -> Option<u64> {
    // SAFETY: `malloc_trim` only releases free memory of glibc's allocator.
    unsafe { libc::malloc_trim(0) };
    rss_kib()
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trimmed_rss_kib() -> Option<u64> {
    None
}

/// A `Client` + `RealtimeStream` for one account, returned once connected.
async fn connect_ours(
    base_url: &str,
    token: &str,
    workspace: &WorkspaceId,
    tail: &Cursor,
) -> Result<RealtimeStream, String> {
    let client = Client::builder(base_url.to_owned())
        .token(token.to_owned())
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let mut stream = RealtimeStream::builder(client, workspace.clone())
        .start_after(tail.clone())
        .start()
        .await
        .map_err(|e| format!("stream: {e}"))?;
    loop {
        match stream.next_event().await {
            Some(Ok(RealtimeItem::Connected { .. })) => return Ok(stream),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("stream: {e}")),
            None => return Err("stream ended".to_owned()),
        }
    }
}
