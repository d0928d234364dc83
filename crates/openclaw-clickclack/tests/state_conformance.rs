//! One conformance suite, two backends: every case runs against the file
//! backend (a temp state dir) and against PostgreSQL (a throwaway cluster,
//! one per test binary, one schema per test).
//!
//! A case gets two handles, `a` and `b`, standing for two replicas: for
//! PostgreSQL two separate connection pools to the same schema, for files the
//! same backend (one process owns a state dir; replicas inside it share it).

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::sync::Arc;
use std::time::Duration;

use clickclack_proto::Cursor;
use openclaw_clickclack::state::{
    BackendKind, FileBackend, LeaseEpoch, ReplicaId, StateBackend, StateError, StateLocation,
};

struct Pair {
    a: Arc<dyn StateBackend>,
    b: Arc<dyn StateBackend>,
    _dir: Option<tempfile::TempDir>,
}

const LONG: Duration = Duration::from_secs(60);

async fn files() -> Pair {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend: Arc<dyn StateBackend> = Arc::new(
        FileBackend::open(dir.path().join("state"))
            .await
            .expect("open"),
    );
    Pair {
        a: Arc::clone(&backend),
        b: backend,
        _dir: Some(dir),
    }
}

async fn postgres(case: &str) -> Pair {
    let schema = format!("conf_{case}");
    let url = tokio::task::spawn_blocking(move || pg_cluster::shared().schema_url(&schema))
        .await
        .expect("join")
        .expect("schema");
    let location: StateLocation = url.parse().expect("url");
    let a = location.open().await.expect("connect a");
    let b = location.open().await.expect("connect b");
    assert_eq!(a.kind(), BackendKind::Postgres);
    Pair { a, b, _dir: None }
}

fn r(name: &str) -> ReplicaId {
    ReplicaId::new(name)
}

fn accounts(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

async fn cursors_round_trip_under_a_lease(p: Pair) {
    p.a.register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    assert_eq!(
        p.a.load_cursor("support", "support.wsp_1")
            .await
            .expect("load"),
        None
    );
    let grant =
        p.a.acquire(&r("A"), "support", LONG)
            .await
            .expect("acquire")
            .expect("free");
    for c in ["cur_0001", "cur_0002"] {
        p.a.commit_cursor(
            &r("A"),
            "support",
            grant.epoch,
            "support.wsp_1",
            &Cursor::new(c),
        )
        .await
        .expect("commit");
        assert_eq!(
            p.b.load_cursor("support", "support.wsp_1")
                .await
                .expect("load"),
            Some(Cursor::new(c)),
            "the other replica sees the committed cursor"
        );
    }
    let err =
        p.a.commit_cursor(
            &r("A"),
            "support",
            grant.epoch,
            "support.wsp_1",
            &Cursor::new("two words"),
        )
        .await
        .expect_err("not a cursor");
    assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
}

async fn epochs_grow_with_every_acquisition(p: Pair) {
    p.a.register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    let mut last = LeaseEpoch::default();
    for (backend, who) in [(&p.a, "A"), (&p.b, "B"), (&p.a, "A")] {
        let grant = backend
            .acquire(&r(who), "support", LONG)
            .await
            .expect("acquire")
            .expect("free");
        assert!(grant.epoch > last, "{} > {last}", grant.epoch);
        last = grant.epoch;
        backend
            .release(&r(who), "support", grant.epoch)
            .await
            .expect("release");
    }
}

async fn a_held_lease_is_not_claimable(p: Pair) {
    p.a.register_accounts(&accounts(&["support", "sales"]))
        .await
        .expect("register");
    let grant =
        p.a.acquire(&r("A"), "support", LONG)
            .await
            .expect("acquire")
            .expect("free");
    assert_eq!(
        p.b.acquire(&r("B"), "support", LONG)
            .await
            .expect("acquire"),
        None
    );
    assert_eq!(
        p.b.claimable(&accounts(&["support", "sales", "unknown"]))
            .await
            .expect("claimable"),
        accounts(&["sales"])
    );
    let renewed =
        p.a.renew(&r("A"), &[("support".to_owned(), grant.epoch)], LONG)
            .await
            .expect("renew");
    assert_eq!(renewed, accounts(&["support"]));
    let not_mine =
        p.b.renew(&r("B"), &[("support".to_owned(), grant.epoch)], LONG)
            .await
            .expect("renew");
    assert!(not_mine.is_empty(), "B cannot renew A's lease");
}

async fn an_expired_lease_is_taken_over_and_the_old_epoch_is_fenced(p: Pair) {
    p.a.register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    // A's lease expires at once (ttl 0): as if A stopped renewing.
    let old =
        p.a.acquire(&r("A"), "support", Duration::ZERO)
            .await
            .expect("acquire")
            .expect("free");
    p.a.commit_cursor(&r("A"), "support", old.epoch, "k", &Cursor::new("cur_0005"))
        .await
        .expect("commit while held");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let new =
        p.b.acquire(&r("B"), "support", LONG)
            .await
            .expect("acquire")
            .expect("expired");
    assert!(new.epoch > old.epoch);
    assert_eq!(new.previous_owner, Some(r("A")));
    // B resumes from A's last commit.
    assert_eq!(
        p.b.load_cursor("support", "k").await.expect("load"),
        Some(Cursor::new("cur_0005"))
    );
    // A wakes: its commit (backwards or forwards) is refused and writes nothing.
    for stale in ["cur_0001", "cur_0009"] {
        let err =
            p.a.commit_cursor(&r("A"), "support", old.epoch, "k", &Cursor::new(stale))
                .await
                .expect_err("fenced");
        assert!(err.is_fenced(), "{err}");
        assert!(err.to_string().contains("no longer held"), "{err}");
    }
    assert_eq!(
        p.b.load_cursor("support", "k").await.expect("load"),
        Some(Cursor::new("cur_0005"))
    );
    // Nor can it renew or release B's lease.
    let renewed =
        p.a.renew(&r("A"), &[("support".to_owned(), old.epoch)], LONG)
            .await
            .expect("renew");
    assert!(renewed.is_empty());
    p.a.release(&r("A"), "support", old.epoch)
        .await
        .expect("release is a no-op");
    assert_eq!(
        p.b.renew(&r("B"), &[("support".to_owned(), new.epoch)], LONG)
            .await
            .expect("renew"),
        accounts(&["support"])
    );
    let status = p.b.assignment().await.expect("status");
    let row = status
        .leases
        .iter()
        .find(|l| l.account == "support")
        .expect("row");
    assert_eq!(row.owner, Some(r("B")));
    assert_eq!(row.epoch, new.epoch);
    assert_eq!(row.takeovers, 1);
    assert!(row.is_held());
    // B commits at its epoch.
    p.b.commit_cursor(&r("B"), "support", new.epoch, "k", &Cursor::new("cur_0006"))
        .await
        .expect("new owner commits");
}

async fn a_released_lease_is_free_at_once(p: Pair) {
    p.a.register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    let grant =
        p.a.acquire(&r("A"), "support", LONG)
            .await
            .expect("acquire")
            .expect("free");
    p.a.release(&r("A"), "support", grant.epoch)
        .await
        .expect("release");
    let err =
        p.a.commit_cursor(&r("A"), "support", grant.epoch, "k", &Cursor::new("cur_1"))
            .await
            .expect_err("released");
    assert!(err.is_fenced());
    let next =
        p.b.acquire(&r("B"), "support", LONG)
            .await
            .expect("acquire")
            .expect("released");
    assert_eq!(
        next.previous_owner, None,
        "a clean release is not a takeover"
    );
    let status = p.b.assignment().await.expect("status");
    assert_eq!(status.leases[0].takeovers, 0);
}

async fn writes_without_a_lease_are_fenced(p: Pair) {
    p.a.register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    for account in ["support", "never-registered"] {
        let err =
            p.a.commit_cursor(
                &r("A"),
                account,
                LeaseEpoch::new(1),
                "k",
                &Cursor::new("cur_1"),
            )
            .await
            .expect_err("no lease");
        assert!(err.is_fenced(), "{err}");
    }
    assert_eq!(
        p.a.acquire(&r("A"), "never-registered", LONG)
            .await
            .expect("acquire"),
        None
    );
}

async fn membership_follows_heartbeats(p: Pair) {
    assert_eq!(
        p.a.heartbeat(&r("B"), LONG).await.expect("hb"),
        vec![r("B")]
    );
    assert_eq!(
        p.b.heartbeat(&r("A"), LONG).await.expect("hb"),
        vec![r("A"), r("B")]
    );
    p.a.heartbeat(&r("C"), Duration::ZERO).await.expect("hb");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        p.b.heartbeat(&r("A"), LONG).await.expect("hb"),
        vec![r("A"), r("B")],
        "C expired"
    );
    p.a.leave(&r("A")).await.expect("leave");
    assert_eq!(
        p.b.heartbeat(&r("B"), LONG).await.expect("hb"),
        vec![r("B")]
    );
    let status = p.a.assignment().await.expect("status");
    assert_eq!(
        status.replicas.first().map(|x| x.replica.clone()),
        Some(r("B")),
        "live first"
    );
}

async fn racing_acquisitions_have_one_winner(p: Pair) {
    p.a.register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let backend = if i % 2 == 0 {
            Arc::clone(&p.a)
        } else {
            Arc::clone(&p.b)
        };
        tasks.push(tokio::spawn(async move {
            backend.acquire(&r(&format!("R{i}")), "support", LONG).await
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.expect("join").expect("acquire").is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod files {
            $(#[tokio::test] async fn $case() { super::$case(super::files().await).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() {
                super::$case(super::postgres(stringify!($case)).await).await
            })*
        }
    };
}

conformance!(
    cursors_round_trip_under_a_lease,
    epochs_grow_with_every_acquisition,
    a_held_lease_is_not_claimable,
    an_expired_lease_is_taken_over_and_the_old_epoch_is_fenced,
    a_released_lease_is_free_at_once,
    writes_without_a_lease_are_fenced,
    membership_follows_heartbeats,
    racing_acquisitions_have_one_winner,
);

#[tokio::test]
async fn a_second_gateway_on_one_state_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = FileBackend::open(dir.path()).await.expect("first");
    let err = FileBackend::open(dir.path()).await.expect_err("locked");
    let text = err.to_string();
    assert!(text.contains("is in use by another gateway"), "{text}");
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    drop(first);
    let again = FileBackend::open(dir.path())
        .await
        .expect("lock released with the backend");
    drop(again);
}

#[tokio::test]
async fn file_epochs_keep_growing_across_processes_and_cursor_files_stay_readable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = FileBackend::open(dir.path()).await.expect("open");
    first
        .register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    let e1 = first
        .acquire(&r("A"), "support", LONG)
        .await
        .expect("acquire")
        .expect("free")
        .epoch;
    first
        .commit_cursor(
            &r("A"),
            "support",
            e1,
            "support.wsp_1",
            &Cursor::new("cur_7"),
        )
        .await
        .expect("commit");
    drop(first);
    // The file layout: <key>.cursor, text, two checksummed copies.
    let path = dir.path().join("support.wsp_1.cursor");
    let text = std::fs::read_to_string(&path).expect("file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("cursor cur_7 gen 1 crc32 ")),
        "{text:?}"
    );
    let second = FileBackend::open(dir.path()).await.expect("reopen");
    second
        .register_accounts(&accounts(&["support"]))
        .await
        .expect("register");
    let e2 = second
        .acquire(&r("A"), "support", LONG)
        .await
        .expect("acquire")
        .expect("free")
        .epoch;
    assert!(e2 > e1, "{e2} > {e1}");
    assert_eq!(
        second
            .load_cursor("support", "support.wsp_1")
            .await
            .expect("load"),
        Some(Cursor::new("cur_7"))
    );
    // A file of the earlier layout (one line, or written by hand) is read.
    std::fs::write(&path, "cur_6\n").expect("write");
    assert_eq!(
        second
            .load_cursor("support", "support.wsp_1")
            .await
            .expect("load"),
        Some(Cursor::new("cur_6"))
    );
}
