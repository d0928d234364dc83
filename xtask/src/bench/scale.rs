//! Benchmark 5: scale. RSS per idle account with N accounts connected in
//! one gateway process, against the minimal client + realtime loop per
//! account, and a bare fastwebsockets connection (≈ the testkit's own
//! per-connection share, since the testkit runs in the same process).
//!
//! Each side is measured in a fresh child process (`bench-run --probe …`)
//! so memory freed by one side never hides the other's. RSS is read from
//! `/proc/self/status` (`VmRSS`) after the accounts exist in the testkit and
//! again once every account is connected.

use std::process::Command;
use std::time::{Duration, Instant};

use clickclack_testkit::TestServer;

use super::Options;
use super::gateway::{accounts, start_gateway, start_minimal};
use super::harness::{round3, rss_kib};
use super::realtime::bare_connect;
use super::report::{Goal, Record};

/// Runs the scale group.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let n = if options.quick { 100 } else { 1_000 };
    let ours = probe("gateway", n)?;
    let base = probe("minimal", n)?;
    let bare = probe("bare", n)?;
    Ok(vec![
        Record::new(
            format!("gateway.scale.{n}_idle"),
            "KiB/account",
            ours.kib_per_conn,
            "minimal client+realtime loop",
            base.kib_per_conn,
            Goal::ValueBelow(100.0),
        )
        .param("accounts", n)
        .param("open_connections", ours.open)
        .param("rss_before_kib", ours.before_kib)
        .param("rss_after_kib", ours.after_kib)
        .param("baseline_rss_before_kib", base.before_kib)
        .param("baseline_rss_after_kib", base.after_kib)
        .param("testkit_share_kib_per_conn", bare.kib_per_conn)
        .param("gateway_ready_seconds", round3(ours.connect_secs))
        .param("baseline_ready_seconds", round3(base.connect_secs))
        .note(format!(
            "RSS includes the in-process testkit's side of each connection (~{:.1} KiB/conn measured with bare sockets)",
            bare.kib_per_conn
        )),
    ])
}

/// One probe's result, as the child prints it.
#[derive(Debug)]
struct Probe {
    before_kib: u64,
    after_kib: u64,
    kib_per_conn: f64,
    connect_secs: f64,
    open: u64,
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
        open: num("open") as u64,
    })
}

/// The child side of [`probe`]: connects `n` idle accounts of `kind`
/// (`gateway`, `minimal` or `bare`) to an in-process testkit, then prints
/// RSS as JSON.
pub(crate) fn run_probe(args: &[String]) -> Result<(), String> {
    let kind = args
        .first()
        .map(String::as_str)
        .unwrap_or_default()
        .to_owned();
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
        let accounts = accounts(&server, n, "idle");
        let base_url = server.base_url();
        // Warm the allocator, runtime and connection paths with one bare socket.
        let first = accounts.first().ok_or("no accounts")?;
        let tail = server.latest_cursor(&first.workspace).ok_or("no tail cursor")?;
        drop(bare_connect(server.addr(), &first.token, &first.workspace, &tail).await?);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let before = rss_kib().ok_or("no VmRSS")?;
        let started = Instant::now();
        let mut gateway = None;
        let mut minimal = Vec::new();
        let mut sockets = Vec::new();
        match kind.as_str() {
            "gateway" => gateway = Some(start_gateway(&base_url, &accounts).await?),
            "minimal" => {
                for a in &accounts {
                    minimal.push(start_minimal(&base_url, a).await?);
                }
            }
            _ => {
                for a in &accounts {
                    let tail = server.latest_cursor(&a.workspace).ok_or("no tail cursor")?;
                    sockets.push(bare_connect(server.addr(), &a.token, &a.workspace, &tail).await?);
                }
            }
        }
        let connect_secs = started.elapsed().as_secs_f64();
        // The server registers a socket in a task spawned after the upgrade.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut open = server.open_realtime_connections();
        while open < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
            open = server.open_realtime_connections();
        }
        if open < n {
            return Err(format!("only {open} of {n} connections are open on the server"));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after = rss_kib().ok_or("no VmRSS")?;
        let per = after.saturating_sub(before) as f64 / n as f64;
        if let Some(g) = gateway {
            g.gateway.shutdown().await;
        }
        drop(sockets);
        Ok::<_, String>(format!(
            "{{\"before_kib\":{before},\"after_kib\":{after},\"kib_per_conn\":{per:.3},\"connect_secs\":{connect_secs:.4},\"open\":{open}}}"
        ))
    })?;
    println!("{line}");
    Ok(())
}
