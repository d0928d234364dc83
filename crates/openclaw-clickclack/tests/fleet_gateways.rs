//! Three real gateway processes (the binary) on one PostgreSQL cluster and
//! the testkit, with short lease timings (`--lease-ttl-ms 1500
//! --lease-heartbeat-ms 300`):
//!
//! 1. the thirty accounts are spread ten per replica, and every message is
//!    answered once;
//! 2. SIGKILL one replica: its accounts are taken over and the messages
//!    posted right after the kill are answered once (the time from the kill
//!    to the last answer is printed: the takeover time);
//! 3. SIGSTOP one replica past its lease: the survivor takes its accounts
//!    and answers; after SIGCONT the woken replica drops every account, no
//!    cursor moves backwards and nothing is answered twice.
//!
//! Real processes, so real time; every wait is bounded and the bound is only
//! a failure message, never the property tested.

#[path = "../../../xtask/src/chaos_engine.rs"]
mod chaos_engine;
#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chaos_engine::{World, held_leases};
use clickclack_proto::MessageId;
use clickclack_testkit::TestServer;
use clickclack_testkit::model_stub::ModelStub;
use openclaw_clickclack::state::{StateBackend, StateLocation};

const ACCOUNTS: usize = 30;
const LIMIT: Duration = Duration::from_secs(60);

/// One gateway process; killed when dropped.
struct Replica {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Replica {
    fn start(bin: &Path, dir: &Path, config: &Path, url: &str, name: &str) -> Replica {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("gateway")
            .args(["--state", url, "--replica-id", name])
            .args(["--lease-ttl-ms", "1500", "--lease-heartbeat-ms", "300"])
            .args(["--shutdown-grace", "2"])
            .env_remove("CLICKCLACK_BOT_TOKEN")
            .env_remove("OPENCLAW_CONFIG_PATH")
            .env_remove("OPENCLAW_CLICKCLACK_STATE_URL")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::from(file.try_clone().expect("log file")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn the gateway binary");
        Replica {
            name: name.to_owned(),
            child,
            log,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig} {}", self.name);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!("--- {} (last lines) ---", self.name);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Owner of every account (live leases only).
async fn owners(backend: &Arc<dyn StateBackend>) -> BTreeMap<String, String> {
    match backend.assignment().await {
        Ok(a) => a
            .leases
            .iter()
            .filter(|l| l.is_held())
            .filter_map(|l| Some((l.account.clone(), l.owner.as_ref()?.to_string())))
            .collect(),
        Err(_) => BTreeMap::new(),
    }
}

/// Committed cursor of every account.
async fn cursors(backend: &Arc<dyn StateBackend>) -> BTreeMap<String, Option<String>> {
    backend
        .assignment()
        .await
        .expect("assignment")
        .leases
        .into_iter()
        .map(|l| (l.account, l.cursor))
        .collect()
}

async fn wait_until<F, Fut>(what: &str, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !cond().await {
        assert!(started.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

struct Fleet {
    server: TestServer,
    world: World,
}

impl Fleet {
    fn post(&self, account: usize, body: &str) -> MessageId {
        let a = &self.world.accounts[account];
        self.server
            .post_message(&a.human.user.id, &a.channels[0], body)
            .id
    }

    /// Bot replies to `source` in the account's `#general`.
    fn replies(&self, account: usize, source: &MessageId) -> usize {
        let a = &self.world.accounts[account];
        self.server
            .channel_messages(&a.channels[0])
            .into_iter()
            .filter(|m| {
                m.author_id == a.bot.user.id && m.quoted_message_id.as_ref() == Some(source)
            })
            .count()
    }

    fn index(&self, account: &str) -> usize {
        self.world
            .accounts
            .iter()
            .position(|a| a.id == account)
            .expect("known account")
    }

    /// Posts one message to each of `accounts`.
    fn post_all(&self, accounts: &[String], tag: &str) -> Vec<(usize, MessageId)> {
        accounts
            .iter()
            .map(|a| {
                let i = self.index(a);
                (i, self.post(i, &format!("{tag} for {a}")))
            })
            .collect()
    }

    async fn answered_once(&self, posted: &[(usize, MessageId)], what: &str) -> Duration {
        let took = wait_until(what, || async {
            posted.iter().all(|(i, id)| self.replies(*i, id) >= 1)
        })
        .await;
        for (i, id) in posted {
            assert_eq!(
                self.replies(*i, id),
                1,
                "{what}: message {id} answered twice"
            );
        }
        took
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateway_processes_share_take_over_and_fence() {
    let url = tokio::task::spawn_blocking(|| pg_cluster::shared().schema_url("fleet_gateways"))
        .await
        .expect("join")
        .expect("schema");
    let location: StateLocation = url.parse().expect("url");
    let server = TestServer::start().await;
    let model = ModelStub::start().await;
    let world = World::build(&server, ACCOUNTS);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json5");
    std::fs::write(&config, world.config(&server.base_url(), &model.base_url())).expect("config");
    let fleet = Fleet { server, world };
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_openclaw-clickclack"));
    let mut replicas: Vec<Option<Replica>> = ["r0", "r1", "r2"]
        .iter()
        .map(|n| Some(Replica::start(&bin, dir.path(), &config, &url, n)))
        .collect();
    let backend = location.open().await.expect("open the state database");

    // 1. Even split, every message answered once.
    wait_until("thirty accounts held ten per replica", || async {
        let owners = owners(&backend).await;
        let mut per: BTreeMap<&str, usize> = BTreeMap::new();
        for o in owners.values() {
            *per.entry(o.as_str()).or_default() += 1;
        }
        owners.len() == ACCOUNTS && per.len() == 3 && per.values().all(|n| *n == ACCOUNTS / 3)
    })
    .await;
    // A brand-new account starts at the server's tail; its first anchor is
    // committed at once, so every later message is answered.
    wait_until("every account anchored", || async {
        cursors(&backend)
            .await
            .values()
            .filter(|c| c.is_some())
            .count()
            == ACCOUNTS
    })
    .await;
    let all: Vec<String> = fleet.world.accounts.iter().map(|a| a.id.clone()).collect();
    let first = fleet.post_all(&all, "hello");
    fleet.answered_once(&first, "every account answers").await;

    // 2. SIGKILL r0: its accounts answer again.
    let victims: Vec<String> = owners(&backend)
        .await
        .into_iter()
        .filter(|(_, o)| o == "r0")
        .map(|(a, _)| a)
        .collect();
    assert_eq!(victims.len(), ACCOUNTS / 3);
    let killed_at = Instant::now();
    replicas[0].take().expect("r0").signal("-KILL");
    let after_kill = fleet.post_all(&victims, "after the kill");
    fleet
        .answered_once(&after_kill, "the killed replica's accounts answer again")
        .await;
    let takeover = killed_at.elapsed();
    println!(
        "takeover after SIGKILL: {} ms (lease ttl 1500 ms, heartbeat 300 ms)",
        takeover.as_millis()
    );
    fleet.answered_once(&first, "earlier messages").await;

    // 3. SIGSTOP r1 past its lease, then SIGCONT.
    wait_until("the survivors hold every account", || async {
        let owners = owners(&backend).await;
        owners.len() == ACCOUNTS && owners.values().all(|o| o != "r0")
    })
    .await;
    let paused: Vec<String> = owners(&backend)
        .await
        .into_iter()
        .filter(|(_, o)| o == "r1")
        .map(|(a, _)| a)
        .collect();
    assert!(!paused.is_empty(), "r1 holds accounts");
    replicas[1].as_ref().expect("r1").signal("-STOP");
    wait_until("r2 took the paused replica's accounts", || async {
        let owners = owners(&backend).await;
        paused
            .iter()
            .all(|a| owners.get(a).map(String::as_str) == Some("r2"))
    })
    .await;
    // The epochs r2 took them at: a write by the woken replica under its old
    // lease would show an older epoch; a later hand-back through the normal
    // acquisition (rebalancing to a fair share) shows a newer one.
    let taken_over = held_leases(&backend).await;
    let while_paused = fleet.post_all(&paused, "while r1 sleeps");
    fleet
        .answered_once(&while_paused, "r2 answers for the paused replica")
        .await;
    let before_wake = cursors(&backend).await;
    let r1 = replicas[1].as_ref().expect("r1");
    r1.signal("-CONT");
    wait_until("the woken replica drops its accounts", || async {
        let log = r1.log();
        paused
            .iter()
            .all(|a| log.contains(&format!("[{a}] lease lost")))
    })
    .await;
    // Activity after the wake-up: r2 still serves them, r1 answers nothing.
    let after_wake = fleet.post_all(&paused, "after r1 woke");
    fleet
        .answered_once(&after_wake, "answers after the wake-up")
        .await;
    let after = cursors(&backend).await;
    for a in &paused {
        let (old, new) = (&before_wake[a], &after[a]);
        assert!(
            new >= old,
            "cursor of {a} moved backwards: {old:?} -> {new:?}"
        );
    }
    for posted in [&first, &after_kill, &while_paused, &after_wake] {
        fleet.answered_once(posted, "final count").await;
    }
    let now_held = held_leases(&backend).await;
    assert!(
        paused
            .iter()
            .all(|a| match (now_held.get(a), taken_over.get(a)) {
                (Some((owner, epoch)), Some((_, took))) => owner == "r2" || epoch > took,
                _ => true,
            }),
        "the woken replica took accounts back by writing under its old lease: taken over {taken_over:?}, now {now_held:?}"
    );
    drop(replicas);
}
