//! Fencing and recovery across processes, on real PostgreSQL clusters:
//!
//! - a replica in a child process is frozen with SIGSTOP past its lease; the
//!   other replica takes its accounts; after SIGCONT the frozen replica's
//!   cursor commits are all refused and it drops every account — it writes
//!   nothing;
//! - PostgreSQL is restarted under three replicas: they recover, every
//!   account is owned again and commits go through.
//!
//! Each test starts its own cluster (a restart must not disturb the other).

#[path = "support/fleet.rs"]
mod fleet_support;
#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use fleet_support::{accounts, wait_for};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_proto::Cursor;
use openclaw_clickclack::state::{
    LeaseManager, LeaseTimings, ReplicaId, StateBackend, StateLocation,
};
use tokio_util::sync::CancellationToken;

const FAST: LeaseTimings = LeaseTimings {
    ttl: Duration::from_millis(900),
    heartbeat: Duration::from_millis(200),
};

/// An in-process replica whose "runner" commits `cur_<tag>_<n>` every 50 ms
/// for each held account until the lease is lost or handed off.
struct Replica {
    held: Arc<Mutex<BTreeMap<String, i64>>>,
    commits: Arc<Mutex<u64>>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn start(backend: Arc<dyn StateBackend>, name: &str, accounts: Vec<String>) -> Replica {
    let (manager, mut leases) = LeaseManager::new(backend, ReplicaId::new(name), accounts, FAST);
    let shutdown = CancellationToken::new();
    let held = Arc::new(Mutex::new(BTreeMap::new()));
    let commits = Arc::new(Mutex::new(0u64));
    let run = tokio::spawn(
        manager
            .drain_grace(Duration::from_secs(3))
            .run(shutdown.clone()),
    );
    let (h, c, tag) = (Arc::clone(&held), Arc::clone(&commits), name.to_owned());
    let task = tokio::spawn(async move {
        let mut runners = Vec::new();
        while let Some(lease) = leases.recv().await {
            let (h, c, tag) = (Arc::clone(&h), Arc::clone(&c), tag.clone());
            runners.push(tokio::spawn(async move {
                h.lock()
                    .unwrap()
                    .insert(lease.account().to_owned(), lease.epoch().get());
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        _ = lease.lost() => break,
                        _ = lease.handoff_requested() => break,
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                    }
                    n += 1;
                    let cursor = Cursor::new(format!("cur_{tag}_{n:06}"));
                    if lease.commit_cursor("k", &cursor).await.is_ok() {
                        *c.lock().unwrap() += 1;
                    }
                }
                h.lock().unwrap().remove(lease.account());
            }));
        }
        for r in runners {
            let _ = r.await;
        }
        let _ = run.await;
    });
    Replica {
        held,
        commits,
        shutdown,
        task,
    }
}

impl Replica {
    fn count(&self) -> usize {
        self.held.lock().unwrap().len()
    }
    fn commits(&self) -> u64 {
        *self.commits.lock().unwrap()
    }
    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// The child-process replica of `a_paused_replica_is_fenced_and_writes_nothing`.
/// Prints `HELD <account>`, `FENCED <account>`, `LOST <account>` lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of a_paused_replica_is_fenced_and_writes_nothing (started by it)"]
async fn child_replica() {
    let url = std::env::var("FLEET_CHILD_URL").expect("FLEET_CHILD_URL");
    let location: StateLocation = url.parse().expect("url");
    let backend = location.open().await.expect("open");
    let (manager, mut leases) =
        LeaseManager::new(backend, ReplicaId::new("paused"), accounts(20), FAST);
    tokio::spawn(manager.run(CancellationToken::new()));
    let say = |line: String| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    while let Some(lease) = leases.recv().await {
        say(format!("HELD {}", lease.account()));
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                tokio::select! {
                    _ = lease.handoff_requested() => { say(format!("HANDOFF {}", lease.account())); return; }
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
                n += 1;
                let cursor = Cursor::new(format!("cur_paused_{n:06}"));
                match lease.commit_cursor("k", &cursor).await {
                    Ok(()) => {}
                    Err(e) if e.is_fenced() => {
                        say(format!("FENCED {}", lease.account()));
                        return;
                    }
                    Err(_) => {}
                }
                if lease.is_lost() {
                    say(format!("LOST {}", lease.account()));
                    return;
                }
            }
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_replica_is_fenced_and_writes_nothing() {
    let cluster = tokio::task::spawn_blocking(pg_cluster::PgCluster::start)
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL test cluster: {e}"));
    let url = cluster.schema_url("pause").expect("schema");
    let location: StateLocation = url.parse().expect("url");
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "child_replica",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FLEET_CHILD_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child replica");
    let pid = child.id().to_string();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let stdout = child.stdout.take().expect("stdout");
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let child_holds = |lines: &[String]| {
        let mut held = std::collections::BTreeSet::new();
        // libtest may print "test child_replica ... " before the first line.
        let after =
            |l: &str, word: &str| l.find(word).map(|i| l[i + word.len()..].trim().to_owned());
        for l in lines {
            if let Some(a) = after(l, "HELD ") {
                held.insert(a);
            }
            for gone in ["HANDOFF ", "FENCED ", "LOST "] {
                if let Some(a) = after(l, gone) {
                    held.remove(&a);
                }
            }
        }
        held
    };
    let b = start(location.open().await.expect("open"), "b", accounts(20));
    wait_for(
        "a 10/10 split between the child and b",
        Duration::from_secs(30),
        || b.count() == 10 && child_holds(&lines.lock().unwrap()).len() == 10,
    )
    .await;
    let paused: Vec<String> = child_holds(&lines.lock().unwrap()).into_iter().collect();

    // Freeze the child past its lease: b takes its accounts.
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let took = wait_for("b owns all 20", Duration::from_secs(15), || b.count() == 20).await;
    eprintln!(
        "takeover after SIGSTOP: {took:?} (lease {:?}, heartbeat {:?})",
        FAST.ttl, FAST.heartbeat
    );
    // Let b commit for its new accounts, then record what the database holds.
    let committed = b.commits();
    wait_for(
        "b commits on the taken accounts",
        Duration::from_secs(10),
        || b.commits() > committed + 40,
    )
    .await;

    // Wake the child: every write it tries is refused, and it drops every account.
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    wait_for(
        "the woken child dropped all its accounts",
        Duration::from_secs(15),
        || child_holds(&lines.lock().unwrap()).is_empty(),
    )
    .await;
    let backend = location.open().await.expect("open");
    // Every child task has returned: no write of it can still be in flight.
    let status = backend.assignment().await.expect("status");
    for row in status.leases.iter().filter(|l| paused.contains(&l.account)) {
        assert_eq!(row.owner, Some(ReplicaId::new("b")), "{row:?}");
        let cursor = row.cursor.clone().unwrap_or_default();
        assert!(
            cursor.starts_with("cur_b_"),
            "the paused replica wrote after losing its lease: {row:?}"
        );
        assert_eq!(row.takeovers, 1, "{row:?}");
    }
    let _ = child.kill();
    let _ = child.wait();
    b.stop().await;
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_recover_from_a_postgres_restart() {
    let cluster = tokio::task::spawn_blocking(pg_cluster::PgCluster::start)
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL test cluster: {e}"));
    let location: StateLocation = cluster
        .schema_url("restart")
        .expect("schema")
        .parse()
        .expect("url");
    let mut replicas = Vec::new();
    for name in ["r1", "r2", "r3"] {
        replicas.push(start(
            location.open().await.expect("open"),
            name,
            accounts(15),
        ));
    }
    let split = |replicas: &[Replica]| replicas.iter().map(Replica::count).collect::<Vec<_>>();
    wait_for("a 5/5/5 split", Duration::from_secs(30), || {
        split(&replicas) == vec![5, 5, 5]
    })
    .await;
    let cluster = Arc::new(cluster);
    let c = Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || c.restart())
        .await
        .expect("join")
        .expect("restart");
    let before: u64 = replicas.iter().map(Replica::commits).sum();
    wait_for(
        "every account owned again and commits flowing",
        Duration::from_secs(30),
        || {
            split(&replicas) == vec![5, 5, 5]
                && replicas.iter().map(Replica::commits).sum::<u64>() > before + 100
        },
    )
    .await;
    let status = location
        .open()
        .await
        .expect("open")
        .assignment()
        .await
        .expect("status");
    assert!(status.leases.iter().all(|l| l.is_held()), "{status:?}");
    for r in replicas {
        r.stop().await;
    }
}
