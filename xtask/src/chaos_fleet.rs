//! `cargo xtask chaos --fleet N [--minutes M] [--seed S] [--accounts A]`:
//! the chaos suite against N real gateway processes sharing one throwaway
//! PostgreSQL cluster (`--state postgres://…`, default lease timings: ttl
//! 5 s, heartbeat 1 s).
//!
//! On top of the testkit and model faults of [`crate::chaos_engine`] (whose
//! "restart" fault SIGKILLs one random replica and starts it again), a
//! seeded fleet scheduler:
//!
//! - SIGKILLs a random replica (restarted 1–4 s later);
//! - SIGSTOPs a random replica past its lease (8–12 s), then SIGCONTs it;
//! - restarts PostgreSQL (`pg_ctl restart`).
//!
//! After every kill or pause it measures the **takeover time**: from the
//! signal until every account the victim held is held at a newer lease
//! epoch (by a survivor, or by the killed replica's restarted process) and
//! reported `ready` (its own line of `/healthz`, whatever the status code)
//! by a replica that is not paused. Next to it, the coarser "whole-replica"
//! figure waits until the new owners' `/healthz` is 200, i.e. also for their
//! *other* accounts (one of them in a long reconnect backoff delays it). The
//! report adds the backend, the fleet faults and the p50/p99/max takeover
//! times to the usual figures.
//!
//! Every replica's output goes to one `fleet.log`, each line prefixed with
//! the replica's name; fleet events are printed with their UTC time. An
//! unanswered message (no reply, no visible failure) is printed with its
//! trace from that log — the lines naming it, then its account's connection,
//! resync and lease lines around its post time — and counts as **silent**
//! unless a line gives a skip reason. The run fails unless lost = 0,
//! duplicated = 0 and silent = 0. The cursor-file faults and
//! the stale phase of the single-gateway run do not apply (the cursors live
//! in PostgreSQL).

#[path = "../../crates/openclaw-clickclack/tests/support/pg_cluster.rs"]
mod pg_cluster;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clickclack_testkit::TestServer;
use openclaw_clickclack::state::{StateBackend, StateLocation};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

use crate::chaos::{Args, counter, http_get};
use crate::chaos_engine::{self, Chaos, ChaosModel, GatewayControl, Plan, World, held_leases};

/// Runs the fleet chaos suite (`args` include `--fleet N`).
pub(crate) fn chaos(args: Args) -> Result<(), String> {
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
    let bin = crate::chaos::target_dir()
        .join("debug")
        .join("openclaw-clickclack");
    if !bin.exists() {
        return Err(format!("gateway binary not found at {}", bin.display()));
    }
    let cluster = pg_cluster::PgCluster::start()?;
    let url = cluster.schema_url("fleet_chaos")?;
    let cluster = Arc::new(cluster);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let seed = args.seed;
    let (report, fleet) = rt.block_on(run(args, bin, url, cluster))?;
    println!("{}", report.render());
    println!("{}", fleet.render());
    if report.passed() && fleet.passed() {
        Ok(())
    } else {
        Err(format!(
            "fleet chaos failed; replay with `cargo xtask chaos --fleet {} --seed {seed} --minutes {}`",
            fleet.replicas,
            report.elapsed.as_secs_f64() / 60.0
        ))
    }
}

/// What the fleet scheduler did and measured.
#[derive(Debug, Default)]
struct FleetReport {
    replicas: usize,
    kills: u64,
    pauses: u64,
    pg_restarts: u64,
    /// Takeover times, one per kill/pause whose victim held accounts: until
    /// each of its accounts is `ready` on its new owner.
    takeovers: Vec<Duration>,
    /// The same takeovers by the older criterion: until every replica that
    /// took one of the accounts answers `/healthz` 200 (all of *its* accounts
    /// ready, including ones that were never moved). A bound when never met.
    whole_replica: Vec<Duration>,
    /// Kills/pauses whose accounts were not taken over within the bound.
    stuck: Vec<String>,
    /// Unanswered messages (no reply, no visible failure) with their log
    /// trace; `true` when a line gives a skip reason, else the loss is silent.
    unanswered: Vec<(String, bool, Vec<String>)>,
    /// Leases acquired / taken over / lost / fenced commits, summed over
    /// every replica's last `/metrics` (replicas killed before a scrape are missing).
    counters: BTreeMap<&'static str, u64>,
}

/// Prints one fleet event with the wall-clock time (UTC, as in the replicas' logs).
fn say(what: &str) {
    println!("chaos: {} {what}", utc_now());
}

/// Now as `HH:MM:SS.mmmZ` (UTC).
fn utc_now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let day_ms = ms % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// Appends every line of `from` to `log` as `<replica> <line>`.
async fn prefix_lines(from: impl tokio::io::AsyncRead + Unpin, log: PathBuf, replica: String) {
    use std::io::Write as _;
    use tokio::io::AsyncBufReadExt as _;
    let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    else {
        return;
    };
    let mut lines = tokio::io::BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        // One write per line: O_APPEND keeps lines of different replicas whole.
        let _ = file.write_all(format!("{replica} {line}\n").as_bytes());
    }
}

/// Milliseconds since the epoch encoded in a ULID-based id (`msg_<ulid>`).
fn id_time_ms(id: &str) -> Option<u64> {
    const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
    let ulid = id.split_once('_')?.1;
    ulid.get(..10)?.bytes().try_fold(0u64, |acc, b| {
        let digit = CROCKFORD
            .iter()
            .position(|&c| c == b.to_ascii_lowercase())?;
        Some((acc << 5) | digit as u64)
    })
}

/// Milliseconds since the epoch of a log line's RFC 3339 UTC timestamp
/// (after the replica prefix), e.g. `2026-11-29T10:55:05.201523Z`.
fn line_time_ms(line: &str) -> Option<u64> {
    let ts = line.split_whitespace().nth(1)?;
    let (date, time) = ts.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms = (days * 86_400 + h * 3600 + min * 60) * 1000 + (sec * 1000.0) as i64;
    u64::try_from(ms).ok()
}

/// The trace of one unanswered message in the fleet log: every line naming
/// it, then its account's connection, resync and lease lines from 15 s
/// before it was posted to 60 s after.
fn trace_message(log: &str, id: &str, account: &str) -> (bool, Vec<String>) {
    let named: Vec<String> = log
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_owned)
        .collect();
    let skipped = named
        .iter()
        .any(|l| l.contains("skipped") || l.contains("skipping"));
    let mut out = named;
    if let Some(at) = id_time_ms(id) {
        let tag = format!("[{account}]");
        let span = format!("account={account}");
        let keys = [
            "resync",
            "re-anchored",
            "lease",
            "handed",
            "handing",
            "connected",
            "starting",
            "ready",
            "stopp",
        ];
        out.extend(
            log.lines()
                .filter(|l| l.contains(&tag) || l.contains(&span))
                .filter(|l| keys.iter().any(|k| l.contains(k)))
                .filter(|l| line_time_ms(l).is_some_and(|t| t + 15_000 >= at && t <= at + 60_000))
                .map(str::to_owned),
        );
    }
    (skipped, out)
}

/// Longest wait for one takeover before it is reported as stuck.
const TAKEOVER_BOUND: Duration = Duration::from_secs(60);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

impl FleetReport {
    fn passed(&self) -> bool {
        self.stuck.is_empty() && self.silent() == 0
    }

    /// Unanswered messages without a logged skip reason.
    fn silent(&self) -> usize {
        self.unanswered
            .iter()
            .filter(|(_, skipped, _)| !skipped)
            .count()
    }

    fn render(&self) -> String {
        let mut sorted = self.takeovers.clone();
        sorted.sort();
        let ms = |d: Duration| format!("{} ms", d.as_millis());
        let mut s = String::new();
        s.push_str("fleet\n");
        s.push_str("  backend                postgres\n");
        s.push_str(&format!("  replicas               {}\n", self.replicas));
        s.push_str(&format!("  replica kills          {}\n", self.kills));
        s.push_str(&format!("  replica pauses         {}\n", self.pauses));
        s.push_str(&format!("  postgres restarts      {}\n", self.pg_restarts));
        s.push_str(&format!("  takeovers measured     {}\n", sorted.len()));
        s.push_str(&format!(
            "  takeover p50/p99/max   {} / {} / {}\n",
            ms(percentile(&sorted, 50.0)),
            ms(percentile(&sorted, 99.0)),
            ms(sorted.last().copied().unwrap_or_default())
        ));
        let mut whole = self.whole_replica.clone();
        whole.sort();
        s.push_str(&format!(
            "  whole-replica criterion {} / {} / {} (until the new owners' /healthz is 200)\n",
            ms(percentile(&whole, 50.0)),
            ms(percentile(&whole, 99.0)),
            ms(whole.last().copied().unwrap_or_default())
        ));
        for (name, value) in &self.counters {
            s.push_str(&format!("  {name:<22} {value}\n"));
        }
        for stuck in &self.stuck {
            s.push_str(&format!("  STUCK: {stuck}\n"));
        }
        s.push_str(&format!(
            "  unanswered             {} (skipped with a logged reason {}, silent {})\n",
            self.unanswered.len(),
            self.unanswered.len() - self.silent(),
            self.silent()
        ));
        for (what, skipped, trace) in &self.unanswered {
            let kind = if *skipped { "skipped" } else { "SILENT" };
            s.push_str(&format!("  {kind}: {what}\n"));
            if trace.is_empty() {
                s.push_str("    (no log line)\n");
            }
            for line in trace.iter().take(40) {
                s.push_str(&format!("    {line}\n"));
            }
        }
        s
    }
}

/// One replica process.
struct Replica {
    name: String,
    child: Option<Child>,
    metrics: Option<String>,
    paused: bool,
}

/// Every replica; shared by the engine's control and the fleet scheduler.
struct Replicas {
    bin: PathBuf,
    config: PathBuf,
    url: String,
    log: PathBuf,
    list: Vec<Replica>,
    /// Counters of replicas that were killed (scraped just before).
    dead_totals: BTreeMap<&'static str, u64>,
}

const FLEET_COUNTERS: [(&str, &str); 5] = [
    ("acquisitions", "clickclack_fleet_lease_acquisitions_total"),
    ("takeovers", "clickclack_fleet_lease_takeovers_total"),
    ("losses", "clickclack_fleet_lease_losses_total"),
    ("fenced commits", "clickclack_fleet_fenced_commits_total"),
    ("backend errors", "clickclack_fleet_backend_errors_total"),
];

impl Replicas {
    async fn start(&mut self, i: usize) -> Result<(), String> {
        if self.list[i].child.is_some() {
            return Ok(());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .arg("gateway")
            .args(["--state", &self.url, "--replica-id", &self.list[i].name])
            .args(["--metrics-addr", &addr])
            .env_remove("CLICKCLACK_BOT_TOKEN")
            .env_remove("OPENCLAW_CONFIG_PATH")
            .env_remove("OPENCLAW_CLICKCLACK_STATE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        // Every line in the shared log names its replica.
        let name = &self.list[i].name;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(prefix_lines(out, self.log.clone(), name.clone()));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(prefix_lines(err, self.log.clone(), name.clone()));
        }
        let r = &mut self.list[i];
        r.child = Some(child);
        r.metrics = Some(addr);
        r.paused = false;
        Ok(())
    }

    fn pid(&self, i: usize) -> Option<i32> {
        self.list[i]
            .child
            .as_ref()?
            .id()
            .and_then(|p| i32::try_from(p).ok())
    }

    fn signal(&self, i: usize, sig: i32) {
        if let Some(pid) = self.pid(i) {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    async fn kill(&mut self, i: usize) {
        let scraped = self.scrape(i).await;
        for (k, v) in scraped {
            *self.dead_totals.entry(k).or_default() += v;
        }
        if self.list[i].paused {
            self.signal(i, libc::SIGCONT);
        }
        if let Some(mut child) = self.list[i].child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.list[i].metrics = None;
        self.list[i].paused = false;
    }

    async fn scrape(&self, i: usize) -> BTreeMap<&'static str, u64> {
        let mut out = BTreeMap::new();
        let Some(addr) = &self.list[i].metrics else {
            return out;
        };
        if self.list[i].paused {
            return out;
        }
        if let Some((200, body)) = http_get(addr, "/metrics").await {
            for (label, name) in FLEET_COUNTERS {
                out.insert(label, counter(&body, name));
            }
            out.insert(
                "reconnects",
                counter(&body, "clickclack_gateway_reconnects_total"),
            );
            out.insert(
                "resyncs",
                counter(&body, "clickclack_gateway_resyncs_total"),
            );
        }
        out
    }

    async fn totals(&self) -> BTreeMap<&'static str, u64> {
        let mut sum = self.dead_totals.clone();
        for i in 0..self.list.len() {
            for (k, v) in self.scrape(i).await {
                *sum.entry(k).or_default() += v;
            }
        }
        sum
    }

    /// Accounts reported `ready` by some running, unpaused replica other than `except`.
    ///
    /// Also returns the accounts of replicas whose whole `/healthz` is 200
    /// (every account they serve is ready): the older, coarser criterion,
    /// reported next to the per-account one.
    async fn ready_elsewhere(&self, except: Option<usize>) -> (Vec<String>, Vec<String>) {
        let mut ready = Vec::new();
        let mut on_healthy = Vec::new();
        for (i, r) in self.list.iter().enumerate() {
            if Some(i) == except || r.paused {
                continue;
            }
            let Some(addr) = &r.metrics else { continue };
            // Per account: one account still connecting (503) must not hide
            // the others that already answer.
            if let Some((code, body)) = http_get(addr, "/healthz").await {
                for line in body.lines() {
                    if let Some(account) = line.trim().strip_suffix(" ready") {
                        let account = account
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .to_owned();
                        if code == 200 {
                            on_healthy.push(account.clone());
                        }
                        ready.push(account);
                    }
                }
            }
        }
        (ready, on_healthy)
    }
}

/// The fleet as the chaos engine sees one gateway: `crash` SIGKILLs one
/// random replica, `start` restarts every replica that is down.
struct FleetControl {
    replicas: Arc<Mutex<Replicas>>,
    accounts: Vec<String>,
    rng: fastrand::Rng,
    kills: Arc<Mutex<Vec<(usize, Instant)>>>,
}

impl GatewayControl for FleetControl {
    async fn start(&mut self) -> Result<(), String> {
        let mut r = self.replicas.lock().await;
        for i in 0..r.list.len() {
            r.start(i).await?;
        }
        Ok(())
    }

    async fn crash(&mut self) {
        let mut r = self.replicas.lock().await;
        let running: Vec<usize> = (0..r.list.len())
            .filter(|i| r.list[*i].child.is_some())
            .collect();
        if running.len() < 2 {
            return;
        }
        let i = running[self.rng.usize(0..running.len())];
        self.kills.lock().await.push((i, Instant::now()));
        r.kill(i).await;
    }

    async fn terminate(&mut self) {
        // A graceful stop of one replica: SIGTERM, it hands its accounts back.
        let mut r = self.replicas.lock().await;
        let running: Vec<usize> = (0..r.list.len())
            .filter(|i| r.list[*i].child.is_some() && !r.list[*i].paused)
            .collect();
        if running.len() < 2 {
            return;
        }
        let i = running[self.rng.usize(0..running.len())];
        for (k, v) in r.scrape(i).await {
            *r.dead_totals.entry(k).or_default() += v;
        }
        r.signal(i, libc::SIGTERM);
        if let Some(mut child) = r.list[i].child.take()
            && tokio::time::timeout(Duration::from_secs(20), child.wait())
                .await
                .is_err()
        {
            println!(
                "chaos: {} ignored SIGTERM for 20 s; killing it",
                r.list[i].name
            );
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        r.list[i].metrics = None;
    }

    fn is_running(&self) -> bool {
        // At least one replica always runs: the engine may "crash" one.
        true
    }

    async fn all_ready(&mut self) -> bool {
        let r = self.replicas.lock().await;
        let (ready, _) = r.ready_elsewhere(None).await;
        self.accounts.iter().all(|a| ready.contains(a))
    }

    async fn counters(&mut self) -> (u64, u64) {
        let t = self.replicas.lock().await.totals().await;
        (
            t.get("reconnects").copied().unwrap_or(0),
            t.get("resyncs").copied().unwrap_or(0),
        )
    }

    fn max_rss(&mut self) -> Option<u64> {
        None
    }

    async fn age_messages(&mut self, by: Duration) {
        tokio::time::sleep(by).await;
    }

    async fn unage(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Waits until every account in `held` (account, epoch at the fault) is
/// held at a newer epoch — by a survivor, or by the victim's restarted
/// process — and `ready` on a replica that is not paused; the time since
/// the fault, or `None` (stuck).
async fn measure_takeover(
    replicas: &Arc<Mutex<Replicas>>,
    backend: &Arc<dyn StateBackend>,
    held: &[(String, i64)],
    since: Instant,
) -> (Option<Duration>, Option<Duration>) {
    let (mut per_account, mut whole_replica) = (None, None);
    loop {
        let now = held_leases(backend).await;
        let moved = held
            .iter()
            .all(|(a, epoch)| now.get(a).is_some_and(|(_, e)| e > epoch));
        if moved {
            let (ready, on_healthy) = replicas.lock().await.ready_elsewhere(None).await;
            if per_account.is_none() && held.iter().all(|(a, _)| ready.contains(a)) {
                per_account = Some(since.elapsed());
            }
            if whole_replica.is_none() && held.iter().all(|(a, _)| on_healthy.contains(a)) {
                whole_replica = Some(since.elapsed());
            }
        }
        if (per_account.is_some() && whole_replica.is_some()) || since.elapsed() > TAKEOVER_BOUND {
            return (per_account, whole_replica);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run(
    args: Args,
    bin: PathBuf,
    url: String,
    cluster: Arc<pg_cluster::PgCluster>,
) -> Result<(chaos_engine::Report, FleetReport), String> {
    let replica_count = args.replicas.unwrap_or(3);
    let server = TestServer::start().await;
    let model = ChaosModel::start().await?;
    let world = World::build(&server, args.accounts);
    let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let config = dir.path().join("openclaw.json5");
    std::fs::write(&config, world.config(&server.base_url(), &model.base_url()))
        .map_err(|e| format!("write config: {e}"))?;
    let log = dir.path().join("fleet.log");
    println!(
        "chaos: fleet of {} replicas on postgres, seed {} for {} min, {} accounts; log {}",
        replica_count,
        args.seed,
        args.minutes,
        args.accounts,
        log.display()
    );
    let location: StateLocation = url.parse().map_err(|e| format!("state url: {e}"))?;
    let backend = location
        .open()
        .await
        .map_err(|e| format!("state database: {e}"))?;
    let replicas = Arc::new(Mutex::new(Replicas {
        bin,
        config,
        url,
        log: log.clone(),
        list: (0..replica_count)
            .map(|i| Replica {
                name: format!("replica-{i}"),
                child: None,
                metrics: None,
                paused: false,
            })
            .collect(),
        dead_totals: BTreeMap::new(),
    }));
    let kills = Arc::new(Mutex::new(Vec::new()));
    let accounts: Vec<String> = world.accounts.iter().map(|a| a.id.clone()).collect();
    let control = FleetControl {
        replicas: Arc::clone(&replicas),
        accounts,
        rng: fastrand::Rng::with_seed(args.seed ^ 0xf1ee7),
        kills: Arc::clone(&kills),
    };
    let duration = Duration::from_secs_f64(args.minutes * 60.0);
    let plan = Plan {
        seed: args.seed,
        duration,
        accounts: args.accounts,
        catch_up_max_age: Duration::from_secs(600),
        post_gap_ms: (30, 300),
        fault_gap_ms: (400, 2500),
        restarts: true,
        stale_phase: false,
        settle: Duration::from_secs(90),
        verbose: std::env::var_os("CHAOS_VERBOSE").is_some(),
    };
    let state_dir = dir.path().join("unused-state-dir");
    let chaos = Chaos::new(plan, &server, world, state_dir, control, say).with_model(&model);
    let report = Arc::new(Mutex::new(FleetReport {
        replicas: replica_count,
        ..FleetReport::default()
    }));
    let stop = Arc::new(tokio::sync::Notify::new());
    let scheduler = tokio::spawn(fleet_faults(
        Arc::clone(&replicas),
        Arc::clone(&backend),
        // The cluster lives until `run` returns (dropping the last Arc stops it).
        Arc::clone(&cluster),
        Arc::clone(&kills),
        Arc::clone(&report),
        args.seed,
        Instant::now() + duration,
        stop.clone(),
    ));
    let engine = chaos.run().await;
    stop.notify_one();
    let _ = scheduler.await;
    let mut fleet = std::mem::take(&mut *report.lock().await);
    fleet.counters = replicas
        .lock()
        .await
        .totals()
        .await
        .into_iter()
        .filter(|(k, _)| FLEET_COUNTERS.iter().any(|(l, _)| l == k))
        .collect();
    {
        let mut r = replicas.lock().await;
        for i in 0..r.list.len() {
            r.kill(i).await;
        }
    }
    drop(cluster);
    if let Ok(report) = &engine {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for p in report
            .problems
            .iter()
            .filter_map(|p| p.strip_prefix("silent "))
        {
            // "[chaos:N] Kind msg_… in acct"
            let words: Vec<&str> = p.split_whitespace().collect();
            let id = words.iter().find(|w| w.starts_with("msg_")).copied();
            let account = words.last().copied();
            if let (Some(id), Some(account)) = (id, account) {
                let (skipped, trace) = trace_message(&text, id, account);
                fleet.unanswered.push((p.to_owned(), skipped, trace));
            }
        }
    }
    if engine.as_ref().map_or(true, |r| !r.passed()) || !fleet.passed() {
        let kept = dir.keep();
        println!("chaos: kept {}", kept.display());
    }
    Ok((engine?, fleet))
}

/// The fleet scheduler: kills, pauses and PostgreSQL restarts until `end`,
/// and a takeover measurement after every kill (its own or the engine's).
#[allow(clippy::too_many_arguments)]
async fn fleet_faults(
    replicas: Arc<Mutex<Replicas>>,
    backend: Arc<dyn StateBackend>,
    cluster: Arc<pg_cluster::PgCluster>,
    kills: Arc<Mutex<Vec<(usize, Instant)>>>,
    report: Arc<Mutex<FleetReport>>,
    seed: u64,
    end: Instant,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_f1ee);
    // Who held what, refreshed every loop: the victim's accounts at the fault.
    let mut last_owners: BTreeMap<String, (String, i64)> = BTreeMap::new();
    let mut next_fault = Instant::now() + Duration::from_secs(rng.u64(10..20));
    let mut measurements = tokio::task::JoinSet::new();
    let mut restart_at: Vec<(usize, Instant)> = Vec::new();
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let current = held_leases(&backend).await;
        if !current.is_empty() {
            last_owners = current;
        }
        // Kills by the engine: measure their takeover and restart them later.
        let engine_kills: Vec<(usize, Instant)> = std::mem::take(&mut *kills.lock().await);
        for (i, at) in engine_kills {
            report.lock().await.kills += 1;
            spawn_measure(
                &mut measurements,
                &replicas,
                &backend,
                &report,
                &last_owners,
                i,
                at,
            )
            .await;
        }
        // Restarts due.
        let due: Vec<usize> = restart_at
            .iter()
            .filter(|(_, at)| now >= *at)
            .map(|(i, _)| *i)
            .collect();
        restart_at.retain(|(_, at)| now < *at);
        for i in due {
            let _ = replicas.lock().await.start(i).await;
        }
        while measurements.try_join_next().is_some() {}
        // One fleet fault at a time: the next waits until the last takeover was measured.
        if now >= next_fault && measurements.is_empty() {
            next_fault = now + Duration::from_secs(rng.u64(10..25));
            let mut r = replicas.lock().await;
            let up: Vec<usize> = (0..r.list.len())
                .filter(|i| r.list[*i].child.is_some() && !r.list[*i].paused)
                .collect();
            match rng.u8(0..10) {
                0..=3 if up.len() >= 2 => {
                    let i = up[rng.usize(0..up.len())];
                    let at = Instant::now();
                    r.kill(i).await;
                    say(&format!("fleet SIGKILL {}", r.list[i].name));
                    drop(r);
                    report.lock().await.kills += 1;
                    restart_at.push((i, at + Duration::from_millis(rng.u64(1000..4000))));
                    spawn_measure(
                        &mut measurements,
                        &replicas,
                        &backend,
                        &report,
                        &last_owners,
                        i,
                        at,
                    )
                    .await;
                }
                4..=7 if up.len() >= 2 => {
                    let i = up[rng.usize(0..up.len())];
                    let at = Instant::now();
                    r.signal(i, libc::SIGSTOP);
                    r.list[i].paused = true;
                    say(&format!("fleet SIGSTOP {}", r.list[i].name));
                    drop(r);
                    report.lock().await.pauses += 1;
                    spawn_measure(
                        &mut measurements,
                        &replicas,
                        &backend,
                        &report,
                        &last_owners,
                        i,
                        at,
                    )
                    .await;
                    let pause = Duration::from_millis(rng.u64(8000..12000));
                    let replicas = Arc::clone(&replicas);
                    tokio::spawn(async move {
                        tokio::time::sleep(pause).await;
                        let mut r = replicas.lock().await;
                        if r.list[i].paused {
                            r.signal(i, libc::SIGCONT);
                            r.list[i].paused = false;
                            say(&format!("fleet SIGCONT {}", r.list[i].name));
                        }
                    });
                }
                _ => {
                    drop(r);
                    let cluster = Arc::clone(&cluster);
                    say("fleet postgres restart");
                    match tokio::task::spawn_blocking(move || cluster.restart()).await {
                        Ok(Ok(())) => report.lock().await.pg_restarts += 1,
                        Ok(Err(e)) => println!("chaos: postgres restart failed: {e}"),
                        Err(e) => println!("chaos: postgres restart failed: {e}"),
                    }
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
            () = stop.notified() => break,
        }
    }
    // Bring everything back so the engine's final checks see every account.
    {
        let mut r = replicas.lock().await;
        for i in 0..r.list.len() {
            if r.list[i].paused {
                r.signal(i, libc::SIGCONT);
                r.list[i].paused = false;
            }
            let _ = r.start(i).await;
        }
    }
    while measurements.join_next().await.is_some() {}
}

async fn spawn_measure(
    set: &mut tokio::task::JoinSet<()>,
    replicas: &Arc<Mutex<Replicas>>,
    backend: &Arc<dyn StateBackend>,
    report: &Arc<Mutex<FleetReport>>,
    last_owners: &BTreeMap<String, (String, i64)>,
    victim: usize,
    at: Instant,
) {
    let name = replicas.lock().await.list[victim].name.clone();
    let held: Vec<(String, i64)> = last_owners
        .iter()
        .filter(|(_, (o, _))| *o == name)
        .map(|(a, (_, e))| (a.clone(), *e))
        .collect();
    if held.is_empty() {
        return;
    }
    let (replicas, backend, report) = (
        Arc::clone(replicas),
        Arc::clone(backend),
        Arc::clone(report),
    );
    set.spawn(async move {
        let accounts: Vec<&String> = held.iter().map(|(a, _)| a).collect();
        let (took, whole) = measure_takeover(&replicas, &backend, &held, at).await;
        report
            .lock()
            .await
            .whole_replica
            .push(whole.unwrap_or(TAKEOVER_BOUND));
        match took {
            Some(took) => {
                say(&format!(
                    "fleet takeover of {} account(s) of {name} in {} ms",
                    held.len(),
                    took.as_millis()
                ));
                report.lock().await.takeovers.push(took);
            }
            None => report.lock().await.stuck.push(format!(
                "{name}'s accounts {accounts:?} not taken over within {TAKEOVER_BOUND:?}"
            )),
        }
    });
}
