//! Benchmarks 4–6: gateway end to end, scale and startup.
//!
//! The gateway rows need `openclaw-clickclack`'s gateway; until it is usable
//! from the library they are reported as skipped. What can be measured
//! without it is the SDK's share of an idle account: memory per idle
//! `RealtimeStream` (with its `Client`) connected to the testkit, against a
//! bare fastwebsockets connection. Each side is measured in a fresh child
//! process (`bench-run --probe …`) so freed memory of one side never hides
//! the other's; the testkit runs inside the child, so both numbers include
//! the server's per-connection memory.

use std::process::Command;
use std::time::{Duration, Instant};

use clickclack_client::Client;
use clickclack_realtime::{RealtimeItem, RealtimeStream};
use clickclack_testkit::TestServer;

use super::Options;
use super::harness::{rss_kib, round3};
use super::realtime::bare_connect;
use super::report::{Goal, Record};

/// Why the gateway rows are skipped.
const NO_GATEWAY: &str = "gateway not available (crates/openclaw-clickclack has no usable gateway module yet)";

/// Runs the scale group.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let accounts = if options.quick { 100 } else { 1_000 };
    let mut records = Vec::new();
    for (name, unit, goal) in [
        ("gateway.e2e.1_account", "replies/s", Goal::RatioAtLeast(0.8)),
        ("gateway.e2e.100_accounts", "replies/s", Goal::RatioAtLeast(0.8)),
        ("gateway.e2e.p99_overhead", "ms", Goal::OverheadBelow(5.0)),
        ("gateway.scale.1000_idle", "KiB/account", Goal::ValueBelow(100.0)),
        ("gateway.startup.1_account", "ms", Goal::None),
        ("gateway.startup.100_accounts", "ms", Goal::None),
    ] {
        records.push(Record::skipped(name, unit, goal, NO_GATEWAY));
    }
    let ours = probe("streams", accounts)?;
    let bare = probe("bare", accounts)?;
    records.push(
        Record::new(
            format!("sdk.idle_stream.{accounts}"),
            "KiB/conn",
            ours.kib_per_conn,
            "bare fastwebsockets",
            bare.kib_per_conn,
            Goal::ValueBelow(100.0),
        )
        .param("connections", accounts)
        .param("rss_before_kib", ours.before_kib)
        .param("rss_after_kib", ours.after_kib)
        .param("baseline_rss_before_kib", bare.before_kib)
        .param("baseline_rss_after_kib", bare.after_kib)
        .param("connect_all_seconds", round3(ours.connect_secs))
        .param("baseline_connect_all_seconds", round3(bare.connect_secs))
        .param("includes_testkit_side", true)
        .note("SDK part of an idle account (Client + RealtimeStream, testkit in the same process); the gateway's own number is skipped"),
    );
    Ok(records)
}

/// One probe's result, as the child prints it.
#[derive(Debug)]
struct Probe {
    before_kib: u64,
    after_kib: u64,
    kib_per_conn: f64,
    connect_secs: f64,
}

/// Runs `bench-run --probe <kind> <n>` in a fresh process.
fn probe(kind: &str, n: usize) -> Result<Probe, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let out = Command::new(exe)
        .args(["bench-run", "--probe", kind, &n.to_string()])
        .output()
        .map_err(|e| format!("probe {kind}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "probe {kind} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(text.trim()).map_err(|e| format!("probe {kind} output: {e}"))?;
    let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    Ok(Probe {
        before_kib: num("before_kib") as u64,
        after_kib: num("after_kib") as u64,
        kib_per_conn: num("kib_per_conn"),
        connect_secs: num("connect_secs"),
    })
}

/// The child side of [`probe`]: opens `n` idle connections of `kind`
/// (`streams` or `bare`) to an in-process testkit, then prints RSS as JSON.
pub(crate) fn run_probe(args: &[String]) -> Result<(), String> {
    let kind = args.first().map(String::as_str).unwrap_or_default().to_owned();
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .ok_or("--probe needs a kind and a count")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let line = runtime.block_on(async move {
        let server = TestServer::start().await;
        let seed = server.seed();
        let tail = server
            .latest_cursor(&seed.workspace.id)
            .ok_or("no tail cursor")?;
        let client = Client::builder(server.base_url())
            .token(seed.bot.token.clone())
            .build()
            .map_err(|e| format!("client: {e}"))?;
        // Warm the allocator and runtime with one connection of each kind.
        let warm = bare_connect(server.addr(), &seed.bot.token, &seed.workspace.id, &tail).await?;
        drop(warm);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = rss_kib().ok_or("no VmRSS")?;
        let started = Instant::now();
        let mut streams = Vec::new();
        let mut sockets = Vec::new();
        for _ in 0..n {
            if kind == "streams" {
                // One client per account, as a gateway account has.
                let client = Client::builder(server.base_url())
                    .token(seed.bot.token.clone())
                    .build()
                    .map_err(|e| format!("client: {e}"))?;
                let mut stream = RealtimeStream::builder(client, seed.workspace.id.clone())
                    .start_after(tail.clone())
                    .start()
                    .await
                    .map_err(|e| format!("stream: {e}"))?;
                // Wait until it is connected.
                loop {
                    match stream.next_event().await {
                        Some(Ok(RealtimeItem::Connected { .. })) => break,
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(format!("stream: {e}")),
                        None => return Err("stream ended".to_owned()),
                    }
                }
                streams.push(stream);
            } else {
                sockets.push(
                    bare_connect(server.addr(), &seed.bot.token, &seed.workspace.id, &tail).await?,
                );
            }
        }
        let connect_secs = started.elapsed().as_secs_f64();
        let open = server.open_realtime_connections();
        if open < n {
            return Err(format!("only {open} of {n} connections are open on the server"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = rss_kib().ok_or("no VmRSS")?;
        drop(client);
        let per = after.saturating_sub(before) as f64 / n as f64;
        Ok::<_, String>(format!(
            "{{\"before_kib\":{before},\"after_kib\":{after},\"kib_per_conn\":{per:.3},\"connect_secs\":{connect_secs:.4}}}"
        ))
    })?;
    println!("{line}");
    Ok(())
}
