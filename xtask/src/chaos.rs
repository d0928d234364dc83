//! `cargo xtask chaos [--minutes N] [--seed S] [--accounts N]`: the chaos
//! suite against a real `openclaw-clickclack gateway` process, which is
//! killed (SIGKILL) or stopped (SIGTERM) and restarted with its persisted
//! state directory while the testkit's faults fire, and the testkit's model
//! stub has outages (503, slow, refused, HTML 200, connections cut). Prints the figures; fails unless lost = 0,
//! duplicated = 0, silent = 0 (every human message has exactly one bot reply:
//! an answer or a visible failure), no reply to a message older than
//! `catchUpMaxAge`, and every account is ready again. A failing seed is printed for replay.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clickclack_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::chaos_engine::{self, Chaos, ChaosModel, GatewayControl, Plan, World};

/// `catchUpMaxAge` of the gateway (`--catch-up-max-age`) during the run: a
/// message delayed by the chaos for longer than this would rightly be
/// skipped, so it is the gateway's default (10 minutes).
const CATCH_UP_SECS: u64 = 600;
/// `catchUpMaxAge` during the stale phase: the gateway is restarted with it,
/// after the messages posted while it was down became older by waiting.
const STALE_CATCH_UP_SECS: u64 = 5;

/// The options of `cargo xtask chaos`.
pub(crate) struct Args {
    pub(crate) minutes: f64,
    pub(crate) seed: u64,
    pub(crate) accounts: usize,
    /// `--fleet N`: replicas on PostgreSQL instead of one gateway.
    pub(crate) replicas: Option<usize>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        minutes: 2.0,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        accounts: 0,
        replicas: None,
    };
    let mut accounts = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = a.as_str();
        let value = it.next().ok_or_else(|| format!("{name} needs a value"))?;
        let number = |what: &str| format!("{name}: {what}");
        match name {
            "--minutes" => out.minutes = value.parse().map_err(|e| number(&format!("{e}")))?,
            "--seed" => out.seed = value.parse().map_err(|e| number(&format!("{e}")))?,
            "--accounts" => accounts = Some(value.parse().map_err(|e| number(&format!("{e}")))?),
            "--fleet" => {
                out.replicas = Some(value.parse().map_err(|e| number(&format!("{e}")))?);
            }
            other => return Err(format!("unknown chaos option `{other}`")),
        }
    }
    // One gateway: 4 accounts; a fleet: 9, so every replica holds some.
    out.accounts = accounts.unwrap_or(if out.replicas.is_some() { 9 } else { 4 });
    if out.minutes.is_nan() || out.minutes <= 0.0 || out.accounts == 0 {
        return Err("--minutes and --accounts must be positive".to_owned());
    }
    if out.replicas.is_some_and(|n| n < 2) {
        return Err("--fleet needs at least 2 replicas".to_owned());
    }
    Ok(out)
}

/// Runs the chaos suite.
pub fn chaos(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    if args.replicas.is_some() {
        return crate::chaos_fleet::chaos(args);
    }
    crate::cargo(
        &[
            "build",
            "-p",
            "openclaw-clickclack",
            "--bin",
            "openclaw-clickclack",
        ],
        &[],
    )?;
    let bin = target_dir().join("debug").join("openclaw-clickclack");
    if !bin.exists() {
        return Err(format!("gateway binary not found at {}", bin.display()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let report = rt.block_on(run(args, bin))?;
    println!("{}", report.render());
    if report.passed() {
        Ok(())
    } else {
        Err(format!(
            "chaos failed; replay with `cargo xtask chaos --seed {} --minutes {}`",
            report.seed,
            report.elapsed.as_secs_f64() / 60.0
        ))
    }
}

pub(crate) fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), |root| root.join("target"))
}

async fn run(args: Args, bin: PathBuf) -> Result<chaos_engine::Report, String> {
    let server = TestServer::start().await;
    let model = ChaosModel::start().await?;
    let world = World::build(&server, args.accounts);
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let config = dir.path().join("openclaw.json5");
    std::fs::write(&config, world.config(&server.base_url(), &model.base_url()))
        .map_err(|e| format!("write config: {e}"))?;
    let state = dir.path().join("state");
    let log = dir.path().join("gateway.log");
    println!(
        "chaos: seed {} for {} min, {} accounts; gateway log {}",
        args.seed,
        args.minutes,
        args.accounts,
        log.display()
    );
    let gateway = Process {
        bin,
        config,
        state: state.clone(),
        log: log.clone(),
        accounts: world.accounts.iter().map(|a| a.id.clone()).collect(),
        child: None,
        metrics: None,
        totals: (0, 0),
        peak: None,
        short_age: false,
    };
    let plan = Plan {
        seed: args.seed,
        duration: Duration::from_secs_f64(args.minutes * 60.0),
        accounts: args.accounts,
        catch_up_max_age: Duration::from_secs(STALE_CATCH_UP_SECS),
        post_gap_ms: (30, 300),
        fault_gap_ms: (400, 2500),
        restarts: true,
        stale_phase: true,
        settle: Duration::from_secs(90),
        verbose: std::env::var_os("CHAOS_VERBOSE").is_some(),
    };
    let chaos = Chaos::new(plan, &server, world, state, gateway, |line| {
        println!("chaos: {line}");
    })
    .with_model(&model);
    let report = chaos.run().await;
    if report.as_ref().map_or(true, |r| !r.passed()) {
        // Keep the logs of a failing run.
        let kept = dir.keep();
        println!("chaos: kept {}", kept.display());
    }
    report
}

/// The gateway as a child process.
struct Process {
    bin: PathBuf,
    config: PathBuf,
    state: PathBuf,
    log: PathBuf,
    accounts: Vec<String>,
    child: Option<Child>,
    metrics: Option<String>,
    totals: (u64, u64),
    peak: Option<u64>,
    /// Runs with [`STALE_CATCH_UP_SECS`] (the stale phase).
    short_age: bool,
}

/// `GET` over a fresh connection; `(status, body)`.
pub(crate) async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let fut = async {
        let mut sock = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        sock.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::new();
        sock.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(2), fut)
        .await
        .ok()
        .flatten()
}

/// The sum of counter `name` over all its label sets.
pub(crate) fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b'{'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

impl Process {
    async fn scrape(&self) -> (u64, u64) {
        let Some(addr) = &self.metrics else {
            return (0, 0);
        };
        match http_get(addr, "/metrics").await {
            Some((200, body)) => (
                counter(&body, "clickclack_gateway_reconnects_total"),
                counter(&body, "clickclack_gateway_resyncs_total"),
            ),
            _ => (0, 0),
        }
    }

    fn pid(&self) -> Option<String> {
        self.child.as_ref()?.id().map(|p| p.to_string())
    }
}

impl GatewayControl for Process {
    async fn start(&mut self) -> Result<(), String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log file: {e}"))?;
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .arg("gateway")
            .arg("--state-dir")
            .arg(&self.state)
            .args(["--metrics-addr", &addr])
            .args([
                "--catch-up-max-age",
                &if self.short_age {
                    STALE_CATCH_UP_SECS
                } else {
                    CATCH_UP_SECS
                }
                .to_string(),
            ])
            .env_remove("CLICKCLACK_BOT_TOKEN")
            .env_remove("OPENCLAW_CONFIG_PATH")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        self.metrics = Some(addr);
        Ok(())
    }

    async fn crash(&mut self) {
        let (r, s) = self.scrape().await;
        self.totals.0 += r;
        self.totals.1 += s;
        let _ = self.max_rss();
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.metrics = None;
    }

    async fn terminate(&mut self) {
        let (r, s) = self.scrape().await;
        self.totals.0 += r;
        self.totals.1 += s;
        let _ = self.max_rss();
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
                // SAFETY: `kill` only sends a signal to our own child process.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            // The gateway's grace is 10 s, plus 2 s to cut: more is a hang.
            if tokio::time::timeout(Duration::from_secs(15), child.wait())
                .await
                .is_err()
            {
                println!("chaos: the gateway ignored SIGTERM for 15 s; killing it");
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
        self.metrics = None;
    }

    fn is_running(&self) -> bool {
        self.child.is_some()
    }

    async fn all_ready(&mut self) -> bool {
        let Some(addr) = &self.metrics else {
            return false;
        };
        matches!(http_get(addr, "/healthz").await, Some((200, body))
            if self.accounts.iter().all(|a| body.contains(&format!("{a} ready"))))
    }

    async fn counters(&mut self) -> (u64, u64) {
        let (r, s) = self.scrape().await;
        (self.totals.0 + r, self.totals.1 + s)
    }

    fn max_rss(&mut self) -> Option<u64> {
        if let Some(now) = self.pid().and_then(|p| chaos_engine::peak_rss(&p)) {
            self.peak = Some(self.peak.map_or(now, |p| p.max(now)));
        }
        self.peak
    }

    async fn age_messages(&mut self, by: Duration) {
        // A real process, a real clock: wait until they are that old, and
        // start with the short catchUpMaxAge.
        self.short_age = true;
        tokio::time::sleep(by).await;
    }

    async fn unage(&mut self) -> Result<(), String> {
        // Back to the normal catchUpMaxAge: a restart with the state dir.
        self.short_age = false;
        self.crash().await;
        self.start().await
    }
}
