//! The chaos engine shared by `cargo xtask chaos` (a real gateway process,
//! killed and restarted) and the short seeded run inside `cargo test`
//! (`crates/openclaw-clickclack/tests/chaos.rs`, which includes this file with
//! `#[path]` and runs the gateway in-process).
//!
//! A [`World`] of several accounts (one workspace, human, two channels and a
//! DM each) lives on a testkit server. A driver posts human messages (channel
//! roots, thread replies, DMs), each tagged `[chaos:N]`; the model stub echoes
//! the tag back, so every bot reply names the message it answers. A seeded
//! scheduler applies the testkit's faults meanwhile. At the end the checker
//! counts replies per tagged message: lost and duplicated must be 0, and
//! messages made older than `catchUpMaxAge` while the gateway was down must
//! get no reply.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clickclack_proto::{ChannelId, ConversationId, Cursor, MessageId, WorkspaceId};
use clickclack_realtime::{CursorStore, FileCursorStore};
use clickclack_testkit::model_stub::{ModelStub, StubFault};
use clickclack_testkit::{BotSpec, RawResponse, TestBot, TestServer, TestUser};
use openclaw_clickclack::nonce::reply_nonce;
use openclaw_clickclack::state::StateBackend;
use tokio::task::JoinHandle;

/// The start of every visible failure reply of the gateway.
pub const FAILURE_REPLY_PREFIX: &str = "I couldn't answer this";

/// The model the gateway talks to during chaos: the testkit's echo
/// [`ModelStub`] with its own fault programming — 503 bodies, 200 HTML pages,
/// late answers, connections cut without a response (`fail_for`) and a port
/// that stops listening (`stop_listening` / `resume_listening`).
pub struct ChaosModel {
    stub: Arc<ModelStub>,
    resume: Mutex<Option<JoinHandle<()>>>,
}

impl ChaosModel {
    /// Starts the echo stub on `127.0.0.1:<free port>`.
    pub async fn start() -> Result<ChaosModel, String> {
        Ok(ChaosModel {
            stub: Arc::new(ModelStub::start().await),
            resume: Mutex::new(None),
        })
    }

    /// The provider `baseUrl` (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> String {
        self.stub.base_url()
    }

    /// Completions the stub received so far (faulted ones included).
    pub fn calls(&self) -> u64 {
        self.stub.request_count()
    }

    /// Every call during `for_` gets `fault`.
    fn fail_for(&self, for_: Duration, fault: StubFault) {
        self.stub.fail_for(for_, fault);
    }

    /// Nothing listens on the model's port during `for_` (connections are
    /// refused, open ones cut); then it listens again on the same port.
    fn refuse_for(&self, for_: Duration) {
        self.stub.stop_listening();
        let stub = Arc::clone(&self.stub);
        let task = tokio::spawn(async move {
            tokio::time::sleep(for_).await;
            // The port was ours a moment ago; retry if the OS is slow to free it.
            while stub.resume_listening().await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        if let Some(old) = lock(&self.resume).replace(task) {
            old.abort();
        }
    }

    /// Back to answering.
    pub async fn clear(&self) {
        self.stub.clear_faults();
        if let Some(task) = lock(&self.resume).take() {
            task.abort();
        }
        while self.stub.resume_listening().await.is_err() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for ChaosModel {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.resume).take() {
            task.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one chaos run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seed of every random choice (posts and faults).
    pub seed: u64,
    /// How long messages are posted and faults applied.
    pub duration: Duration,
    /// Accounts (each its own workspace and bot).
    pub accounts: usize,
    /// The gateway's `catchUpMaxAge` during the stale phase (messages are
    /// made older than this).
    pub catch_up_max_age: Duration,
    /// Gap between two posts, in ms (uniform in the range).
    pub post_gap_ms: (u64, u64),
    /// Gap between two faults, in ms (uniform in the range).
    pub fault_gap_ms: (u64, u64),
    /// Whether the gateway is crashed and restarted.
    pub restarts: bool,
    /// Whether to run the stale phase (messages older than `catchUpMaxAge`).
    pub stale_phase: bool,
    /// How long the end check waits for replies to arrive.
    pub settle: Duration,
    /// Log every fault.
    pub verbose: bool,
}

/// Controls the gateway under test.
pub trait GatewayControl {
    /// Starts the gateway (returns once it runs, not necessarily ready).
    fn start(&mut self) -> impl Future<Output = Result<(), String>>;
    /// Stops it abruptly, without committing anything more (SIGKILL).
    fn crash(&mut self) -> impl Future<Output = ()>;
    /// Stops it gracefully (SIGTERM): intake stops, in-flight turns get the
    /// grace, the rest is replayed after the restart.
    fn terminate(&mut self) -> impl Future<Output = ()>;
    /// Whether it runs.
    fn is_running(&self) -> bool;
    /// Whether every account is `ready`.
    fn all_ready(&mut self) -> impl Future<Output = bool>;
    /// Reconnects and resyncs so far, over every gateway instance.
    fn counters(&mut self) -> impl Future<Output = (u64, u64)>;
    /// Peak resident memory of the gateway so far, in bytes.
    fn max_rss(&mut self) -> Option<u64>;
    /// Makes every message posted so far older than `by` for the gateway.
    fn age_messages(&mut self, by: Duration) -> impl Future<Output = ()>;
    /// Undoes [`age_messages`](Self::age_messages) for messages posted later.
    fn unage(&mut self) -> impl Future<Output = Result<(), String>>;
}

/// One account of the world.
pub struct Account {
    /// The account id in the config.
    pub id: String,
    /// Its workspace.
    pub workspace: WorkspaceId,
    /// The human who posts.
    pub human: TestUser,
    /// `#general` and `#random`.
    pub channels: Vec<ChannelId>,
    /// The bot.
    pub bot: TestBot,
    /// The human's DM with the bot.
    pub dm: ConversationId,
    /// Human root messages (thread roots for later replies).
    pub roots: Vec<MessageId>,
}

/// Every account on one server.
pub struct World {
    /// The accounts.
    pub accounts: Vec<Account>,
}

impl World {
    /// Creates `n` accounts on `server`.
    pub fn build(server: &TestServer, n: usize) -> World {
        let accounts = (0..n)
            .map(|i| {
                let ws = server.create_workspace(&format!("Chaos {i}"));
                let human = server.create_user(&ws.id, &format!("Human {i}"));
                let general = server.create_channel(&ws.id, &human.user.id, "general");
                let random = server.create_channel(&ws.id, &human.user.id, "random");
                let handle = format!("chaosbot{i}");
                let bot = server.create_bot(
                    BotSpec::new(&ws.id, &format!("Chaos Bot {i}"))
                        .handle(&handle)
                        .scopes(["bot:write"]),
                );
                let dm = server.open_dm(&ws.id, &human.user.id, &bot.user.id).id;
                Account {
                    id: format!("acct{i}"),
                    workspace: ws.id,
                    human,
                    channels: vec![general.id, random.id],
                    bot,
                    dm,
                    roots: Vec::new(),
                }
            })
            .collect();
        World { accounts }
    }

    /// The OpenClaw config (JSON5, accounts form) for every account, replying
    /// with the model at `model_url` (an OpenAI-compatible `/v1` base).
    pub fn config(&self, base_url: &str, model_url: &str) -> String {
        let mut accounts = String::new();
        for a in &self.accounts {
            let _ = writeln!(
                accounts,
                "        {}: {{ token: \"{}\", workspace: \"{}\" }},",
                a.id, a.bot.token, a.workspace
            );
        }
        format!(
            r#"{{
  channels: {{
    clickclack: {{
      enabled: true,
      baseUrl: "{base_url}",
      replyMode: "model",
      model: "stub/echo",
      reconnectMs: 100,
      accounts: {{
{accounts}      }},
    }},
  }},
  models: {{ providers: {{ stub: {{ baseUrl: "{model_url}", api: "openai-completions" }} }} }},
}}"#
        )
    }
}

/// Where a message was posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A channel root.
    Channel,
    /// A reply in a thread.
    Thread,
    /// A DM.
    Dm,
}

/// One human message.
#[derive(Debug, Clone)]
pub struct Posted {
    /// Tag number (`[chaos:N]`).
    pub n: u64,
    /// Message id.
    pub id: MessageId,
    /// Account index.
    pub account: usize,
    /// Where.
    pub kind: Kind,
    /// Posted while the gateway was down and then made older than `catchUpMaxAge`.
    pub stale: bool,
}

/// The figures of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Human messages posted (including stale ones).
    pub posted: u64,
    /// Posted per kind.
    pub posted_by_kind: BTreeMap<String, u64>,
    /// Messages that must be answered.
    pub expected: u64,
    /// Of those, answered at least once.
    pub delivered: u64,
    /// Bot replies seen in total.
    pub replies_seen: u64,
    /// Expected but never answered.
    pub lost: u64,
    /// Replies beyond the first for one message.
    pub duplicated: u64,
    /// Unanswered messages inside a gap the gateway reported (a `Resync`
    /// after a cursor fault: deliberate, visible, not lost).
    pub gap_reported: u64,
    /// Unanswered messages inside a cursor-fault gap nobody reported (must be 0).
    pub gap_silent: u64,
    /// Expected messages answered with a visible failure reply instead.
    pub failed_visibly: u64,
    /// Expected messages with no bot reply at all (neither an answer nor a
    /// visible failure). Must be 0.
    pub silent: u64,
    /// Model calls the stub saw.
    pub model_calls: u64,
    /// Messages older than `catchUpMaxAge` (posted while down).
    pub stale_posted: u64,
    /// Replies to those (must be 0).
    pub stale_replied: u64,
    /// Faults applied, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Gateway restarts (crash + start).
    pub restarts: u64,
    /// Realtime reconnects counted by the gateway.
    pub reconnects: u64,
    /// Realtime resyncs counted by the gateway.
    pub resyncs: u64,
    /// Realtime upgrade requests the server saw.
    pub server_connection_attempts: u64,
    /// Peak resident memory of the gateway.
    pub max_rss_bytes: Option<u64>,
    /// Whether every account was `ready` at the end.
    pub all_ready: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Example problems (first few lost / duplicated tags).
    pub problems: Vec<String>,
}

impl Report {
    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.gap_silent == 0
            && self.silent == 0
            && self.stale_replied == 0
            && self.all_ready
            && self.expected > 0
    }

    /// The figures, one per line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "chaos seed {}", self.seed);
        let _ = writeln!(
            s,
            "  posted                 {} ({})",
            self.posted,
            self.posted_by_kind
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(s, "  replies expected       {}", self.expected);
        let _ = writeln!(s, "  replies delivered      {}", self.delivered);
        let _ = writeln!(s, "  bot replies seen       {}", self.replies_seen);
        let _ = writeln!(s, "  lost                   {}", self.lost);
        let _ = writeln!(s, "  duplicated             {}", self.duplicated);
        let _ = writeln!(s, "  silent                 {}", self.silent);
        let _ = writeln!(s, "  visible failure replies {}", self.failed_visibly);
        let _ = writeln!(s, "  model calls            {}", self.model_calls);
        let _ = writeln!(
            s,
            "  cursor-fault gaps      reported {} (deliberate), silent {}",
            self.gap_reported, self.gap_silent
        );
        let _ = writeln!(
            s,
            "  older than catchUpMaxAge: posted {}, replied {}",
            self.stale_posted, self.stale_replied
        );
        let _ = writeln!(s, "  gateway restarts       {}", self.restarts);
        let _ = writeln!(s, "  reconnects             {}", self.reconnects);
        let _ = writeln!(s, "  resyncs                {}", self.resyncs);
        let _ = writeln!(
            s,
            "  realtime connects seen {}",
            self.server_connection_attempts
        );
        let _ = writeln!(
            s,
            "  faults                 {}",
            self.faults
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rss = self.max_rss_bytes.map_or_else(
            || "n/a".to_owned(),
            |b| format!("{:.1} MiB", b as f64 / 1048576.0),
        );
        let _ = writeln!(s, "  max memory (RSS)       {rss}");
        let _ = writeln!(s, "  every account ready    {}", self.all_ready);
        let _ = writeln!(s, "  elapsed                {:.1?}", self.elapsed);
        for p in &self.problems {
            let _ = writeln!(s, "  problem: {p}");
        }
        let _ = writeln!(
            s,
            "  result                 {}",
            if self.passed() {
                "PASS".to_owned()
            } else {
                format!("FAIL (replay with --seed {})", self.seed)
            }
        );
        s
    }
}

/// The faults the scheduler picks from.
#[derive(Debug, Clone)]
enum Fault {
    DropSockets,
    Close1013,
    Resync4001,
    Refuse(Duration),
    Burst {
        method: &'static str,
        prefix: &'static str,
        n: usize,
        status: u16,
    },
    Delay {
        method: &'static str,
        prefix: &'static str,
        delay: Duration,
        n: usize,
    },
    LoseResponse {
        prefix: &'static str,
    },
    Restart {
        /// SIGTERM (graceful shutdown within the grace) instead of SIGKILL.
        graceful: bool,
        down: Duration,
        /// Done to one account's cursor file while the gateway is down.
        cursor: Option<CursorFault>,
    },
    /// The model answers 503 for a while.
    Model503(Duration),
    /// The model answers slowly for a while.
    ModelSlow {
        delay: Duration,
        for_: Duration,
    },
    /// Nothing listens on the model's port for a while.
    ModelRefused(Duration),
    /// A proxy in front of the model answers 200 with an HTML page for a while.
    ModelHtml(Duration),
    /// The model's connections are cut without a response for a while (a
    /// timeout or reset as the gateway sees it).
    ModelCut(Duration),
    /// ClickClack answers 200 with a body that is not its JSON.
    RestGarbage {
        method: &'static str,
        prefix: &'static str,
        n: usize,
    },
}

/// What a real deployment does to a cursor file between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorFault {
    /// A server restored from an older backup: the file is ahead of the server.
    Ahead,
    /// An operator deletes the file.
    Deleted,
    /// A crash leaves it empty; the operator restores it from a backup.
    Emptied,
}

impl CursorFault {
    fn name(self) -> &'static str {
        match self {
            CursorFault::Ahead => "cursor-ahead",
            CursorFault::Deleted => "cursor-deleted",
            CursorFault::Emptied => "cursor-emptied",
        }
    }
}

/// Messages of one account that a cursor fault may deliberately skip: those
/// unanswered when it was applied, and those posted until shortly after the
/// gateway runs again (until the stream has re-anchored).
#[derive(Debug)]
struct Gap {
    account: usize,
    tags: std::collections::HashSet<u64>,
    open_until: Option<Instant>,
}

/// How long after the restart a cursor-fault gap stays open (the stream
/// connects, gets 4001 or notices the lost file, and re-anchors).
const GAP_SETTLE: Duration = Duration::from_secs(8);
/// A cursor that sorts after everything the server issues for decades.
const CURSOR_FAR_AHEAD: &str = "cur_7zzzzzzzzzzzzzzzzzzzzzzzzz";

impl Fault {
    fn name(&self) -> String {
        match self {
            Fault::DropSockets => "drop".into(),
            Fault::Close1013 => "close-1013".into(),
            Fault::Resync4001 => "prune+4001".into(),
            Fault::Refuse(_) => "refuse".into(),
            Fault::Burst { status, .. } => format!("burst-{status}"),
            Fault::Delay { .. } => "delay".into(),
            Fault::LoseResponse { .. } => "lost-response".into(),
            Fault::Restart {
                graceful: false, ..
            } => "sigkill-restart".into(),
            Fault::Restart { graceful: true, .. } => "sigterm-restart".into(),
            Fault::Model503(_) => "model-503".into(),
            Fault::ModelSlow { .. } => "model-slow".into(),
            Fault::ModelRefused(_) => "model-refused".into(),
            Fault::ModelHtml(_) => "model-html-200".into(),
            Fault::ModelCut(_) => "model-cut".into(),
            Fault::RestGarbage { .. } => "rest-200-garbage".into(),
        }
    }
}

const SEND_PREFIXES: [&str; 3] = ["/api/channels/", "/api/messages/", "/api/dms/"];

fn pick_fault(rng: &mut fastrand::Rng, restarts: bool, model: bool) -> Fault {
    let ms = |rng: &mut fastrand::Rng, lo: u64, hi: u64| Duration::from_millis(rng.u64(lo..=hi));
    if model && rng.u32(0..100) < 30 {
        // Model and proxy faults, shorter than the gateway's retry window.
        return match rng.u32(0..6) {
            0 => Fault::Model503(ms(rng, 1000, 8000)),
            5 => Fault::ModelCut(ms(rng, 500, 4000)),
            1 => Fault::ModelSlow {
                delay: ms(rng, 1000, 4000),
                for_: ms(rng, 2000, 8000),
            },
            2 => Fault::ModelRefused(ms(rng, 1000, 6000)),
            3 => Fault::ModelHtml(ms(rng, 1000, 6000)),
            _ => Fault::RestGarbage {
                method: if rng.bool() { "GET" } else { "POST" },
                prefix: if rng.bool() {
                    "/api/messages/"
                } else {
                    SEND_PREFIXES[rng.usize(0..3)]
                },
                n: rng.usize(1..=3),
            },
        };
    }
    loop {
        return match rng.u32(0..100) {
            0..=14 => Fault::DropSockets,
            15..=24 => Fault::Close1013,
            25..=34 => Fault::Resync4001,
            35..=42 => Fault::Refuse(ms(rng, 300, 2000)),
            43..=54 => Fault::Burst {
                method: "POST",
                prefix: SEND_PREFIXES[rng.usize(0..3)],
                n: rng.usize(1..=5),
                status: if rng.bool() { 503 } else { 500 },
            },
            55..=62 => Fault::Burst {
                method: "GET",
                prefix: "/api/messages/",
                n: rng.usize(1..=4),
                status: if rng.bool() { 503 } else { 502 },
            },
            63..=74 => Fault::Delay {
                method: if rng.bool() { "POST" } else { "GET" },
                prefix: if rng.bool() {
                    "/api/messages/"
                } else {
                    "/api/channels/"
                },
                delay: ms(rng, 100, 1500),
                n: rng.usize(1..=4),
            },
            75..=89 => Fault::LoseResponse {
                prefix: SEND_PREFIXES[rng.usize(0..3)],
            },
            _ if restarts => Fault::Restart {
                graceful: rng.u32(0..3) == 0,
                down: ms(rng, 100, 2500),
                cursor: match rng.u32(0..6) {
                    0 => Some(CursorFault::Ahead),
                    1 => Some(CursorFault::Deleted),
                    2 => Some(CursorFault::Emptied),
                    _ => None,
                },
            },
            _ => continue,
        };
    }
}

fn tag(n: u64) -> String {
    format!("[chaos:{n}]")
}

/// All `[chaos:N]` tags in `body`.
fn tags_in(body: &str) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("[chaos:") {
        rest = &rest[i + 7..];
        let end = rest.find(']').unwrap_or(rest.len());
        if let Ok(n) = rest[..end].parse() {
            out.push(n);
        }
        rest = &rest[end..];
    }
    out
}

/// The committed cursor of `account` in the gateway's state directory.
pub async fn committed(state_dir: &Path, account: &Account) -> Option<Cursor> {
    let key = format!("{}.{}", account.id, account.workspace);
    FileCursorStore::new(state_dir)
        .load(&key)
        .await
        .ok()
        .flatten()
}

/// Runs the chaos plan against `gateway` on `server`.
pub struct Chaos<'a, G: GatewayControl> {
    plan: Plan,
    server: &'a TestServer,
    world: World,
    state_dir: PathBuf,
    gateway: G,
    model: Option<&'a ChaosModel>,
    rng: fastrand::Rng,
    posted: Vec<Posted>,
    /// Cursor-fault gaps (messages that may be deliberately skipped).
    gaps: Vec<Gap>,
    next_tag: u64,
    report: Report,
    peak_rss: Option<u64>,
    log: Box<dyn FnMut(&str) + 'a>,
}

impl<'a, G: GatewayControl> Chaos<'a, G> {
    /// A run of `plan` on `server` with `world`; cursors live in `state_dir`.
    pub fn new(
        plan: Plan,
        server: &'a TestServer,
        world: World,
        state_dir: PathBuf,
        gateway: G,
        log: impl FnMut(&str) + 'a,
    ) -> Self {
        let rng = fastrand::Rng::with_seed(plan.seed);
        let report = Report {
            seed: plan.seed,
            ..Report::default()
        };
        Chaos {
            plan,
            server,
            world,
            state_dir,
            gateway,
            model: None,
            rng,
            posted: Vec::new(),
            gaps: Vec::new(),
            next_tag: 0,
            report,
            peak_rss: None,
            log: Box::new(log),
        }
    }

    /// Adds model faults (503, slow, refused, HTML 200) and REST
    /// 200-with-garbage faults; the gateway must use `model`'s base URL.
    #[must_use]
    pub fn with_model(mut self, model: &'a ChaosModel) -> Self {
        self.model = Some(model);
        self
    }

    fn post(&mut self, stale: bool, kind: Option<Kind>, account: Option<usize>) {
        let a = account.unwrap_or_else(|| self.rng.usize(0..self.world.accounts.len()));
        let mut kind = kind.unwrap_or_else(|| match self.rng.u32(0..10) {
            0..=4 => Kind::Channel,
            5..=7 => Kind::Thread,
            _ => Kind::Dm,
        });
        if kind == Kind::Thread && self.world.accounts[a].roots.is_empty() {
            kind = Kind::Channel;
        }
        self.next_tag += 1;
        let n = self.next_tag;
        let body = format!("question {} {}", tag(n), if stale { "(old)" } else { "" });
        let acct = &self.world.accounts[a];
        let id = match kind {
            Kind::Channel => {
                let ch = &acct.channels[self.rng.usize(0..acct.channels.len())];
                let m = self.server.post_message(&acct.human.user.id, ch, &body);
                m.id
            }
            Kind::Thread => {
                let root = acct.roots[self.rng.usize(0..acct.roots.len())].clone();
                self.server
                    .post_thread_reply(&acct.human.user.id, &root, &body)
                    .id
            }
            Kind::Dm => self.server.post_dm(&acct.human.user.id, &acct.dm, &body).id,
        };
        if kind == Kind::Channel {
            self.world.accounts[a].roots.push(id.clone());
        }
        *self
            .report
            .posted_by_kind
            .entry(format!("{kind:?}").to_lowercase())
            .or_default() += 1;
        self.posted.push(Posted {
            n,
            id,
            account: a,
            kind,
            stale,
        });
        if !stale {
            self.note_gap_exposure(a, n);
        }
    }

    async fn apply(&mut self, fault: Fault, restart_at: &mut Option<Instant>) {
        let faults = self.server.faults();
        if matches!(
            fault,
            Fault::DropSockets | Fault::Close1013 | Fault::Resync4001
        ) {
            // A socket fault needs sockets: give reconnects up to 2 s.
            let deadline = Instant::now() + Duration::from_secs(2);
            while faults.open_realtime_connections() == 0 {
                if Instant::now() >= deadline || !self.gateway.is_running() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if self.plan.verbose {
            (self.log)(&format!(
                "fault {} ({} sockets open)",
                fault.name(),
                faults.open_realtime_connections()
            ));
        }
        match &fault {
            Fault::DropSockets => faults.drop_realtime(),
            Fault::Close1013 => faults.close_realtime(
                1013,
                "realtime buffer overflow; reconnect with after_cursor to replay",
            ),
            Fault::Resync4001 => {
                // Prune what every account has committed (never what it still
                // needs), then force a resync.
                for a in &self.world.accounts {
                    if let Some(c) = committed(&self.state_dir, a).await {
                        self.server.prune_events_before(&a.workspace, &c);
                    }
                }
                faults.close_realtime(4001, "realtime replay limit exceeded; resync required");
            }
            Fault::Refuse(d) => {
                faults.refuse_connections(*d);
                faults.drop_realtime();
            }
            Fault::Burst {
                method,
                prefix,
                n,
                status,
            } => faults.fail_next(method, prefix, *n, *status),
            Fault::Delay {
                method,
                prefix,
                delay,
                n,
            } => faults.delay(method, prefix, *delay, *n),
            Fault::LoseResponse { prefix } => faults.lose_next_response("POST", prefix),
            Fault::Model503(d) => {
                if let Some(m) = self.model {
                    m.fail_for(*d, StubFault::Status(503));
                }
            }
            Fault::ModelSlow { delay, for_ } => {
                if let Some(m) = self.model {
                    m.fail_for(*for_, StubFault::Delay(*delay));
                }
            }
            Fault::ModelRefused(d) => {
                if let Some(m) = self.model {
                    m.refuse_for(*d);
                }
            }
            Fault::ModelHtml(d) => {
                if let Some(m) = self.model {
                    m.fail_for(*d, StubFault::Html);
                }
            }
            Fault::ModelCut(d) => {
                if let Some(m) = self.model {
                    m.fail_for(*d, StubFault::CloseConnection);
                }
            }
            Fault::RestGarbage { method, prefix, n } => faults.respond_next_n(
                method,
                prefix,
                *n,
                RawResponse::new(200)
                    .header("content-type", "text/html")
                    .body("<html><body>proxy error page</body></html>"),
            ),
            Fault::Restart {
                graceful,
                down,
                cursor,
            } => {
                if restart_at.is_some() || !self.gateway.is_running() {
                    return;
                }
                self.sample_rss();
                if *graceful {
                    self.gateway.terminate().await;
                } else {
                    self.gateway.crash().await;
                }
                self.report.restarts += 1;
                *restart_at = Some(Instant::now() + *down);
                if let Some(cursor) = cursor {
                    self.cursor_fault(*cursor).await;
                }
            }
        }
        *self.report.faults.entry(fault.name()).or_default() += 1;
    }

    /// Applies `fault` to a random account's cursor file (the gateway is down).
    async fn cursor_fault(&mut self, fault: CursorFault) {
        let a = self.rng.usize(0..self.world.accounts.len());
        let acct = &self.world.accounts[a];
        let key = format!("{}.{}", acct.id, acct.workspace);
        let store = FileCursorStore::new(&self.state_dir);
        let path = store.path_for(&key);
        let Ok(original) = std::fs::read(&path) else {
            return; // No cursor yet: nothing a deployment could damage.
        };
        match fault {
            CursorFault::Ahead => {
                if std::fs::write(&path, format!("{CURSOR_FAR_AHEAD}\n")).is_err() {
                    return;
                }
            }
            CursorFault::Deleted => {
                if std::fs::remove_file(&path).is_err() {
                    return;
                }
            }
            CursorFault::Emptied => {
                if std::fs::write(&path, b"").is_err() {
                    return;
                }
                // What the gateway meets at start: an error naming the file
                // and the ways out, never a silent start at the tail.
                let shown = match store.load(&key).await {
                    Err(e) => e.to_string(),
                    Ok(c) => format!("loaded {c:?}"),
                };
                let named = shown.contains(&path.display().to_string())
                    && shown.contains("delete it")
                    && shown.contains("restore it");
                if !named {
                    self.report.gap_silent += 1;
                    self.report.problems.push(format!(
                        "an emptied cursor file was not refused clearly: {shown}"
                    ));
                }
                // The operator's way out: restore the file from a backup.
                let _ = std::fs::write(&path, &original);
                *self.report.faults.entry(fault.name().into()).or_default() += 1;
                return;
            }
        }
        let (counts, _) = self.reply_counts();
        let tags = self
            .posted
            .iter()
            .filter(|p| p.account == a && !p.stale && !counts.contains_key(&p.n))
            .map(|p| p.n)
            .collect();
        self.gaps.push(Gap {
            account: a,
            tags,
            open_until: None,
        });
        *self.report.faults.entry(fault.name().into()).or_default() += 1;
    }

    /// Adds a new message of `account` to the cursor-fault gaps still open.
    fn note_gap_exposure(&mut self, account: usize, n: u64) {
        let now = Instant::now();
        let running = self.gateway.is_running();
        for gap in &mut self.gaps {
            if gap.open_until.is_none() && running {
                gap.open_until = Some(now + GAP_SETTLE);
            }
            if gap.account == account && gap.open_until.is_none_or(|until| now <= until) {
                gap.tags.insert(n);
            }
        }
    }

    fn sample_rss(&mut self) {
        if let Some(r) = self.gateway.max_rss() {
            self.peak_rss = Some(self.peak_rss.map_or(r, |p| p.max(r)));
        }
    }

    /// Whether `p` was posted inside a cursor-fault gap (it may be skipped).
    fn in_cursor_gap(&self, p: &Posted) -> bool {
        self.gaps
            .iter()
            .any(|g| g.account == p.account && g.tags.contains(&p.n))
    }

    /// Waits until every expected message is answered (or `limit` passes).
    async fn drain(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let (counts, _, failures) = self.replies();
            // A message inside a cursor-fault gap may be skipped on purpose
            // (`finish` checks that the gap was reported): not waited for.
            let done = self
                .posted
                .iter()
                .filter(|p| !p.stale && !self.in_cursor_gap(p))
                .all(|p| {
                    counts.get(&p.n).copied().unwrap_or(0) >= 1 || self.failed_visibly(p, &failures)
                });
            if done && self.gateway.all_ready().await {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Replies per tag, and the number of bot messages seen.
    fn reply_counts(&self) -> (HashMap<u64, u64>, u64) {
        let (counts, seen, _) = self.replies();
        (counts, seen)
    }

    /// Replies per tag, bot messages seen, and the nonces of every bot
    /// message that is a visible failure reply.
    fn replies(&self) -> (HashMap<u64, u64>, u64, HashSet<String>) {
        let mut counts: HashMap<u64, u64> = HashMap::new();
        let mut failures = HashSet::new();
        let mut seen = 0;
        for a in &self.world.accounts {
            let bot = &a.bot.user.id;
            let mut msgs = Vec::new();
            for ch in &a.channels {
                msgs.extend(self.server.channel_messages(ch));
            }
            for root in &a.roots {
                msgs.extend(self.server.thread_replies(root));
            }
            msgs.extend(self.server.dm_messages(&a.dm));
            for m in msgs.iter().filter(|m| &m.author_id == bot) {
                seen += 1;
                for n in tags_in(&m.body) {
                    *counts.entry(n).or_default() += 1;
                }
                if m.body.starts_with(FAILURE_REPLY_PREFIX)
                    && let Some(nonce) = &m.nonce
                {
                    failures.insert(nonce.clone());
                }
            }
        }
        (counts, seen, failures)
    }

    /// Whether `p` got a visible failure reply (found by its reply nonce).
    fn failed_visibly(&self, p: &Posted, failures: &HashSet<String>) -> bool {
        let account = &self.world.accounts[p.account].id;
        failures.contains(&reply_nonce(account, p.id.as_str(), 0))
    }

    /// The stale phase: drain, crash, post while down, age those messages
    /// past `catchUpMaxAge`, restart, wait until they are committed, un-age.
    async fn stale_phase(&mut self) -> Result<(), String> {
        (self.log)("stale phase: draining");
        self.drain(self.plan.settle).await;
        self.sample_rss();
        if self.gateway.is_running() {
            self.gateway.crash().await;
            self.report.restarts += 1;
        }
        let mut last = Vec::new();
        for a in 0..self.world.accounts.len() {
            for kind in [Kind::Channel, Kind::Thread, Kind::Dm] {
                self.post(true, Some(kind), Some(a));
            }
            last.push(self.posted.last().map(|p| p.id.clone()));
        }
        (self.log)("stale phase: ageing the messages posted while down");
        self.gateway
            .age_messages(self.plan.catch_up_max_age + Duration::from_secs(2))
            .await;
        self.gateway.start().await?;
        // Wait until each account committed past its last stale message. A
        // restart whose stored cursor was pruned meanwhile re-anchors (4001)
        // and reads the gap back over REST first, which can take longer than
        // a plain replay on a loaded machine: allow three settle periods.
        let deadline = Instant::now() + self.plan.settle * 3;
        for (a, id) in last.iter().enumerate() {
            let Some(id) = id else { continue };
            let acct = &self.world.accounts[a];
            let cursor = self
                .server
                .events(&acct.workspace)
                .into_iter()
                .find(|e| e.message_id() == Some(id))
                .map(|e| e.cursor().clone());
            let Some(cursor) = cursor else { continue };
            loop {
                let stored = committed(&self.state_dir, acct).await;
                if stored.as_ref().is_some_and(|c| c >= &cursor) {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(format!(
                        "account {} did not commit past its stale messages (stored cursor {}, last stale message's {cursor})",
                        acct.id,
                        stored.map_or_else(|| "none".to_owned(), |c| c.to_string()),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.gateway.unage().await?;
        (self.log)("stale phase: done");
        Ok(())
    }

    /// Runs the plan and returns the figures.
    pub async fn run(mut self) -> Result<Report, String> {
        let started = Instant::now();
        let attempts_before = self.server.faults().realtime_connection_attempts();
        self.gateway.start().await?;
        // Wait for the first ready (startup is not what is measured).
        let ready_deadline = Instant::now() + self.plan.settle;
        while !self.gateway.all_ready().await {
            if Instant::now() >= ready_deadline {
                return Err("the gateway never became ready".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let end = Instant::now() + self.plan.duration;
        let half = Instant::now() + self.plan.duration / 2;
        let mut stale_done = !self.plan.stale_phase;
        let mut next_post = Instant::now();
        let mut next_fault = Instant::now() + self.fault_gap();
        let mut restart_at: Option<Instant> = None;
        let mut next_log = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if !stale_done && Instant::now() >= half {
                if let Some(_at) = restart_at.take() {
                    self.gateway.start().await?;
                }
                self.server.faults().clear();
                if let Some(m) = self.model {
                    m.clear().await;
                }
                self.stale_phase().await?;
                stale_done = true;
                next_fault = Instant::now() + self.fault_gap();
                next_post = Instant::now();
            }
            let mut wake = next_post.min(next_fault).min(end);
            if let Some(at) = restart_at {
                wake = wake.min(at);
            }
            tokio::time::sleep_until(wake.into()).await;
            let now = Instant::now();
            if restart_at.is_some_and(|at| now >= at) {
                restart_at = None;
                self.gateway.start().await?;
            }
            if now >= next_post {
                self.post(false, None, None);
                next_post = now + self.post_gap();
            }
            if now >= next_fault {
                let fault = pick_fault(&mut self.rng, self.plan.restarts, self.model.is_some());
                self.apply(fault, &mut restart_at).await;
                next_fault = now + self.fault_gap();
            }
            if now >= next_log {
                self.sample_rss();
                let (counts, _) = self.reply_counts();
                (self.log)(&format!(
                    "{:>5.0?} posted {} answered {} restarts {}",
                    started.elapsed(),
                    self.posted.len(),
                    counts.len(),
                    self.report.restarts
                ));
                next_log = now + Duration::from_secs(10);
            }
        }
        // Calm: no more faults; the gateway must recover on its own.
        self.server.faults().clear();
        if let Some(m) = self.model {
            m.clear().await;
        }
        if restart_at.take().is_some() || !self.gateway.is_running() {
            self.gateway.start().await?;
        }
        (self.log)("faults stopped; waiting for every reply");
        self.drain(self.plan.settle).await;
        // A short quiet period so a late duplicate would be seen.
        tokio::time::sleep(Duration::from_millis(500)).await;
        self.sample_rss();
        self.finish(started, attempts_before).await
    }

    async fn finish(mut self, started: Instant, attempts_before: u64) -> Result<Report, String> {
        let (counts, seen, failures) = self.replies();
        let (reconnects, resyncs) = self.gateway.counters().await;
        // A gap is reported when the gateway saw at least one resync per gap.
        let gaps_reported = resyncs >= self.gaps.len() as u64;
        let mut r = std::mem::take(&mut self.report);
        r.model_calls = self.model.map_or(0, ChaosModel::calls);
        r.posted = self.posted.len() as u64;
        r.replies_seen = seen;
        for p in &self.posted {
            let c = counts.get(&p.n).copied().unwrap_or(0);
            if p.stale {
                r.stale_posted += 1;
                if c > 0 || self.failed_visibly(p, &failures) {
                    r.stale_replied += 1;
                    r.problems
                        .push(format!("stale {} answered ({:?})", tag(p.n), p.kind));
                }
                continue;
            }
            r.expected += 1;
            let failed = self.failed_visibly(p, &failures);
            if c == 0 && !failed && self.in_cursor_gap(p) {
                // Skipped inside a cursor-fault gap: deliberate if reported.
                r.expected -= 1;
                if gaps_reported {
                    r.gap_reported += 1;
                } else {
                    r.gap_silent += 1;
                    if r.problems.len() < 10 {
                        r.problems
                            .push(format!("{} skipped in an unreported gap", tag(p.n)));
                    }
                }
                continue;
            }
            if failed {
                r.failed_visibly += 1;
                if c >= 1 {
                    // An answer and a failure reply: two replies.
                    r.duplicated += 1;
                }
            }
            if c == 0 && !failed {
                r.silent += 1;
                if r.problems.len() < 10 {
                    r.problems.push(format!(
                        "silent {} {:?} {} in {}",
                        tag(p.n),
                        p.kind,
                        p.id,
                        self.world.accounts[p.account].id
                    ));
                }
            }
            if c >= 1 {
                r.delivered += 1;
            } else {
                r.lost += 1;
                if r.problems.len() < 10 {
                    r.problems.push(format!(
                        "lost {} {:?} {} in {}",
                        tag(p.n),
                        p.kind,
                        p.id,
                        self.world.accounts[p.account].id
                    ));
                }
            }
            if c > 1 {
                r.duplicated += c - 1;
                if r.problems.len() < 10 {
                    r.problems.push(format!("{} answered {c} times", tag(p.n)));
                }
            }
        }
        r.reconnects = reconnects;
        r.resyncs = resyncs;
        r.server_connection_attempts =
            self.server.faults().realtime_connection_attempts() - attempts_before;
        r.all_ready = self.gateway.all_ready().await;
        r.max_rss_bytes = self.peak_rss;
        r.elapsed = started.elapsed();
        Ok(r)
    }

    fn post_gap(&mut self) -> Duration {
        let (lo, hi) = self.plan.post_gap_ms;
        Duration::from_millis(self.rng.u64(lo..=hi.max(lo)))
    }

    fn fault_gap(&mut self) -> Duration {
        let (lo, hi) = self.plan.fault_gap_ms;
        Duration::from_millis(self.rng.u64(lo..=hi.max(lo)))
    }
}

/// Peak resident memory (`VmHWM`) of process `pid` (`self` for this one), in bytes.
pub fn peak_rss(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Owner and epoch of every held lease.
pub(crate) async fn held_leases(
    backend: &Arc<dyn StateBackend>,
) -> BTreeMap<String, (String, i64)> {
    match backend.assignment().await {
        Ok(a) => a
            .leases
            .iter()
            .filter(|l| l.is_held())
            .filter_map(|l| {
                Some((
                    l.account.clone(),
                    (l.owner.as_ref()?.to_string(), l.epoch.get()),
                ))
            })
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found() {
        assert_eq!(
            tags_in("echo: question [chaos:12] x [chaos:3]"),
            vec![12, 3]
        );
        assert!(tags_in("[chaos:x]").is_empty());
    }
}
