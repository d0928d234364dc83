//! Lease managers of several replicas on one PostgreSQL database (a real
//! throwaway cluster): even split, takeover after a crash, handover on a
//! clean shutdown, and a single replica on the file backend.

#[path = "support/fleet.rs"]
mod fleet_support;
#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use fleet_support::{accounts, wait_for};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_clickclack::state::{
    FileBackend, Lease, LeaseManager, LeaseTimings, ReplicaId, StateBackend, StateLocation,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const FAST: LeaseTimings = LeaseTimings {
    ttl: Duration::from_millis(600),
    heartbeat: Duration::from_millis(150),
};

/// One replica: its manager and a "runner" that holds each lease until
/// asked to hand off or told it is lost.
struct Replica {
    id: ReplicaId,
    held: Arc<Mutex<BTreeMap<String, i64>>>,
    shutdown: CancellationToken,
    manager: JoinHandle<()>,
    runner: JoinHandle<()>,
    /// Leases kept alive after a simulated crash (never dropped = never released).
    frozen: Arc<Mutex<Vec<Lease>>>,
    crash: CancellationToken,
}

fn start(backend: Arc<dyn StateBackend>, name: &str, accounts: Vec<String>) -> Replica {
    let id = ReplicaId::new(name);
    let (manager, mut leases) = LeaseManager::new(backend, id.clone(), accounts, FAST);
    let manager = manager.drain_grace(Duration::from_secs(5));
    let shutdown = CancellationToken::new();
    let crash = CancellationToken::new();
    let held = Arc::new(Mutex::new(BTreeMap::new()));
    let frozen = Arc::new(Mutex::new(Vec::new()));
    let manager = tokio::spawn(manager.run(shutdown.clone()));
    let (h, f, c) = (Arc::clone(&held), Arc::clone(&frozen), crash.clone());
    let runner = tokio::spawn(async move {
        let mut tasks = Vec::new();
        loop {
            let lease = tokio::select! {
                l = leases.recv() => match l { Some(l) => l, None => break },
                _ = c.cancelled() => break,
            };
            let (h, f, c) = (Arc::clone(&h), Arc::clone(&f), c.clone());
            tasks.push(tokio::spawn(async move {
                h.lock()
                    .unwrap()
                    .insert(lease.account().to_owned(), lease.epoch().get());
                tokio::select! {
                    _ = lease.lost() => {}
                    _ = lease.handoff_requested() => {}
                    _ = c.cancelled() => {
                        f.lock().unwrap().push(lease);
                        return;
                    }
                }
                h.lock().unwrap().remove(lease.account());
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    Replica {
        id,
        held,
        shutdown,
        manager,
        runner,
        frozen,
        crash,
    }
}

impl Replica {
    fn count(&self) -> usize {
        self.held.lock().unwrap().len()
    }

    fn accounts(&self) -> Vec<String> {
        self.held.lock().unwrap().keys().cloned().collect()
    }

    /// SIGKILL in-process: the manager stops at once, nothing is released.
    async fn crash(self) {
        self.manager.abort();
        self.crash.cancel();
        let _ = self.runner.await;
        let _ = self.manager.await;
        self.frozen.lock().unwrap().clear();
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.manager.await;
        let _ = self.runner.await;
    }
}

async fn postgres(schema: &str) -> StateLocation {
    let schema = schema.to_owned();
    tokio::task::spawn_blocking(move || pg_cluster::shared().schema_url(&schema))
        .await
        .expect("join")
        .expect("schema")
        .parse()
        .expect("url")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_split_thirty_accounts_and_take_over_a_crashed_one() {
    let location = postgres("fleet_split").await;
    let mut replicas = Vec::new();
    for name in ["replica-a", "replica-b", "replica-c"] {
        replicas.push(start(
            location.open().await.expect("open"),
            name,
            accounts(30),
        ));
    }
    wait_for("an even 10/10/10 split", Duration::from_secs(20), || {
        replicas.iter().map(Replica::count).collect::<Vec<_>>() == vec![10, 10, 10]
    })
    .await;
    let mut all: Vec<String> = replicas.iter().flat_map(Replica::accounts).collect();
    all.sort();
    assert_eq!(all, accounts(30), "every account owned exactly once");

    let victim = replicas.remove(1);
    let orphaned = victim.accounts();
    victim.crash().await;
    let took = wait_for(
        "the survivors own every account (15/15)",
        FAST.takeover_bound() * 4 + Duration::from_secs(2),
        || replicas.iter().map(Replica::count).collect::<Vec<_>>() == vec![15, 15],
    )
    .await;
    eprintln!(
        "takeover of {} accounts took {took:?} (bound {:?})",
        orphaned.len(),
        FAST.takeover_bound()
    );
    let status = location
        .open()
        .await
        .expect("open")
        .assignment()
        .await
        .expect("status");
    for row in status
        .leases
        .iter()
        .filter(|l| orphaned.contains(&l.account))
    {
        assert_eq!(row.takeovers, 1, "{row:?}");
        assert_ne!(row.owner.as_ref(), Some(&ReplicaId::new("replica-b")));
    }
    for r in replicas {
        r.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_joins_gets_its_share_and_one_that_leaves_hands_back() {
    let location = postgres("fleet_join_leave").await;
    let a = start(location.open().await.expect("open"), "a", accounts(12));
    wait_for("a holds all 12", Duration::from_secs(10), || {
        a.count() == 12
    })
    .await;
    let b = start(location.open().await.expect("open"), "b", accounts(12));
    wait_for("6/6 after b joins", Duration::from_secs(10), || {
        a.count() == 6 && b.count() == 6
    })
    .await;
    let a_id = a.id.clone();
    // A clean shutdown releases at once: no takeover, no waiting for expiry.
    a.stop().await;
    wait_for("b holds all 12", Duration::from_secs(10), || {
        b.count() == 12
    })
    .await;
    let backend = location.open().await.expect("open");
    let status = backend.assignment().await.expect("status");
    assert!(status.leases.iter().all(|l| l.takeovers == 0), "{status:?}");
    assert!(
        status.replicas.iter().all(|r| r.replica != a_id),
        "a left the membership"
    );
    b.stop().await;
    let status = backend.assignment().await.expect("status");
    assert!(
        status.leases.iter().all(|l| l.owner.is_none()),
        "{status:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn one_replica_on_files_owns_every_account_and_releases_them_at_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend: Arc<dyn StateBackend> =
        Arc::new(FileBackend::open(dir.path()).await.expect("open"));
    let (manager, mut leases) = LeaseManager::new(
        Arc::clone(&backend),
        ReplicaId::new("solo"),
        accounts(3),
        LeaseTimings::default(),
    );
    let snapshot = manager.snapshot();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(manager.run(shutdown.clone()));
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(leases.recv().await.expect("lease"));
    }
    // Renewals keep them: a minute later they are still held.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(held.iter().all(|l| !l.is_lost()));
    assert_eq!(snapshot.borrow().held.len(), 3);
    shutdown.cancel();
    for lease in &held {
        lease.handoff_requested().await;
    }
    drop(held);
    run.await.expect("manager ends");
    let status = backend.assignment().await.expect("status");
    assert!(
        status.leases.iter().all(|l| l.owner.is_none()),
        "{status:?}"
    );
    assert_eq!(snapshot.borrow().released, 3);
}
