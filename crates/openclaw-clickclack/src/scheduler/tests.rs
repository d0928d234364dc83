use std::sync::Arc;

use futures_util::FutureExt;
use proptest::prelude::*;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot, watch};

use super::*;

/// A job that reports its start, waits for its gate, then reports its end.
async fn gated(
    name: &'static str,
    log: mpsc::UnboundedSender<String>,
    gate: oneshot::Receiver<JobOutcome>,
) -> JobOutcome {
    let _ = log.send(format!("start {name}"));
    let outcome = gate.await.unwrap_or(JobOutcome::Done);
    let _ = log.send(format!("end {name}"));
    outcome
}

async fn settle() {
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
}

fn drain(rx: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = rx.try_recv() {
        out.push(line);
    }
    out
}

fn cfg(max_concurrency: usize, max_in_flight: usize) -> SchedulerConfig {
    SchedulerConfig {
        max_concurrency,
        max_in_flight,
        ..SchedulerConfig::default()
    }
}

#[test]
fn tracker_commits_contiguous_prefix() {
    let mut t = CommitTracker::new(Some("cur_0"));
    let a = t.register("cur_1");
    let b = t.register("cur_2");
    let c = t.register("cur_3");
    assert_eq!(t.complete(c), 0);
    assert_eq!(t.committed(), Some(&"cur_0"));
    assert_eq!(t.complete(a), 1);
    assert_eq!(t.committed(), Some(&"cur_1"));
    assert_eq!(t.complete(b), 2);
    assert_eq!(t.committed(), Some(&"cur_3"));
    assert_eq!(t.pending(), 0);
    // Completing twice or an old ticket is a no-op.
    assert_eq!(t.complete(a), 0);
    assert_eq!(t.complete(Ticket(99)), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn tracker_matches_a_model(order in Just((0..40usize).collect::<Vec<_>>()).prop_shuffle()) {
        let mut t = CommitTracker::new(None);
        let tickets: Vec<Ticket> = (0..order.len()).map(|i| t.register(i)).collect();
        let mut done = vec![false; order.len()];
        for &i in &order {
            t.complete(tickets[i]);
            done[i] = true;
            let prefix = done.iter().take_while(|d| **d).count();
            let want = prefix.checked_sub(1);
            prop_assert_eq!(t.committed().copied(), want);
            prop_assert_eq!(t.pending(), order.len() - prefix);
        }
    }
}

#[test]
fn conversation_keys() {
    assert_eq!(
        ConversationKey::for_message(None, Some("chn_1"), Some("msg_r"), Some("msg_r")),
        Some(ConversationKey::thread("msg_r"))
    );
    assert_eq!(
        ConversationKey::for_message(None, Some("chn_1"), Some("msg_1"), None),
        Some(ConversationKey::channel("chn_1"))
    );
    assert_eq!(
        ConversationKey::for_message(Some("dm_1"), None, Some("msg_1"), None),
        Some(ConversationKey::direct("dm_1"))
    );
    assert_eq!(ConversationKey::for_message(None, None, None, None), None);
    assert_eq!(ConversationKey::thread("m").to_string(), "thread:m");
}

#[tokio::test]
async fn one_conversation_runs_strictly_in_order() {
    let s = Scheduler::new(cfg(4, 16), None);
    let (log, mut rx) = mpsc::unbounded_channel();
    let mut gates = Vec::new();
    for (i, name) in ["a1", "a2", "a3"].into_iter().enumerate() {
        let (tx, gate) = oneshot::channel();
        gates.push(tx);
        s.submit(
            i,
            ConversationKey::channel("a"),
            gated(name, log.clone(), gate),
        )
        .await
        .unwrap();
    }
    settle().await;
    assert_eq!(drain(&mut rx), ["start a1"]);
    // Releasing later gates first changes nothing: order is by submission.
    let mut gates = gates.into_iter().rev().collect::<Vec<_>>();
    let g1 = gates.pop().unwrap();
    let g2 = gates.pop().unwrap();
    let g3 = gates.pop().unwrap();
    g3.send(JobOutcome::Done).unwrap();
    g2.send(JobOutcome::Done).unwrap();
    settle().await;
    assert!(drain(&mut rx).is_empty());
    assert_eq!(s.committed(), None);
    g1.send(JobOutcome::Done).unwrap();
    s.wait_idle().await;
    assert_eq!(
        drain(&mut rx),
        ["end a1", "start a2", "end a2", "start a3", "end a3"]
    );
    assert_eq!(s.committed(), Some(2));
    assert_eq!(s.stats().active_conversations, 0);
}

#[tokio::test]
async fn conversations_run_concurrently_and_commit_in_cursor_order() {
    let s = Scheduler::new(cfg(4, 16), Some(0));
    let (log, mut rx) = mpsc::unbounded_channel();
    let (slow_tx, slow_gate) = oneshot::channel();
    let (fast_tx, fast_gate) = oneshot::channel();
    s.submit(
        1,
        ConversationKey::channel("slow"),
        gated("slow", log.clone(), slow_gate),
    )
    .await
    .unwrap();
    s.submit(
        2,
        ConversationKey::direct("fast"),
        gated("fast", log.clone(), fast_gate),
    )
    .await
    .unwrap();
    s.submit_completed(3).await.unwrap();
    let mut committed = s.subscribe_committed();
    fast_tx.send(JobOutcome::Done).unwrap();
    settle().await;
    let lines = drain(&mut rx);
    assert!(lines.contains(&"end fast".to_owned()), "{lines:?}");
    assert!(!lines.contains(&"end slow".to_owned()));
    // The fast conversation finished, but the slow one is first in cursor order.
    assert_eq!(s.committed(), Some(0));
    assert_eq!(s.stats().uncommitted, 3);
    slow_tx.send(JobOutcome::Done).unwrap();
    committed.wait_for(|c| *c == Some(3)).await.unwrap();
    s.wait_idle().await;
    assert_eq!(s.stats().uncommitted, 0);
}

#[tokio::test]
async fn concurrency_is_limited() {
    let s = Scheduler::new(cfg(2, 16), None);
    let (log, mut rx) = mpsc::unbounded_channel();
    let mut gates = Vec::new();
    for (i, name) in ["x", "y", "z"].into_iter().enumerate() {
        let (tx, gate) = oneshot::channel();
        gates.push(tx);
        s.submit(
            i,
            ConversationKey::channel(name),
            gated(name, log.clone(), gate),
        )
        .await
        .unwrap();
    }
    settle().await;
    assert_eq!(drain(&mut rx), ["start x", "start y"]);
    let mut gates = gates.into_iter();
    gates.next().unwrap().send(JobOutcome::Done).unwrap();
    settle().await;
    assert_eq!(drain(&mut rx), ["end x", "start z"]);
    for g in gates {
        g.send(JobOutcome::Done).unwrap();
    }
    s.wait_idle().await;
    assert_eq!(s.committed(), Some(2));
}

#[tokio::test]
async fn submit_waits_when_max_in_flight_is_reached() {
    let s = Scheduler::new(cfg(4, 2), None);
    let (log, _rx) = mpsc::unbounded_channel();
    let (g1, gate1) = oneshot::channel();
    let (g2, gate2) = oneshot::channel();
    s.submit(
        1,
        ConversationKey::channel("a"),
        gated("a", log.clone(), gate1),
    )
    .await
    .unwrap();
    s.submit(
        2,
        ConversationKey::channel("b"),
        gated("b", log.clone(), gate2),
    )
    .await
    .unwrap();
    let third = s.submit(3, ConversationKey::channel("c"), async { JobOutcome::Done });
    tokio::pin!(third);
    assert!(
        (&mut third).now_or_never().is_none(),
        "third submit must wait"
    );
    // Finishing the second event frees nothing: the first is still uncommitted.
    g2.send(JobOutcome::Done).unwrap();
    settle().await;
    assert!((&mut third).now_or_never().is_none());
    g1.send(JobOutcome::Done).unwrap();
    third.await.unwrap();
    s.wait_idle().await;
    assert_eq!(s.committed(), Some(3));
}

#[tokio::test]
async fn retry_halts_without_running_later_jobs_of_the_conversation() {
    let s = Scheduler::new(cfg(4, 16), Some(0));
    let (log, mut rx) = mpsc::unbounded_channel();
    let (fail_tx, fail_gate) = oneshot::channel();
    let (other_tx, other_gate) = oneshot::channel();
    let (_later_tx, later_gate) = oneshot::channel();
    s.submit(
        1,
        ConversationKey::thread("t"),
        gated("t1", log.clone(), fail_gate),
    )
    .await
    .unwrap();
    s.submit(
        2,
        ConversationKey::channel("c"),
        gated("c1", log.clone(), other_gate),
    )
    .await
    .unwrap();
    s.submit(
        3,
        ConversationKey::thread("t"),
        gated("t2", log.clone(), later_gate),
    )
    .await
    .unwrap();
    settle().await;
    fail_tx.send(JobOutcome::Retry).unwrap();
    settle().await;
    assert!(s.is_halted());
    assert_eq!(
        s.submit(4, ConversationKey::channel("d"), async { JobOutcome::Done })
            .await,
        Err(SubmitError::Halted)
    );
    // A job already running elsewhere still finishes.
    other_tx.send(JobOutcome::Done).unwrap();
    s.wait_idle().await;
    let lines = drain(&mut rx);
    assert!(!lines.iter().any(|l| l == "start t2"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "end c1"));
    assert_eq!(s.committed(), Some(0));
}

#[tokio::test]
async fn a_panicking_job_halts_instead_of_wedging() {
    let s = Scheduler::new(cfg(1, 4), None::<u32>);
    s.submit(1, ConversationKey::channel("a"), async { panic!("boom") })
        .await
        .unwrap();
    s.wait_idle().await;
    assert!(s.is_halted());
    assert_eq!(s.committed(), None);
}

#[tokio::test]
async fn close_drains_queued_work_and_abort_cancels() {
    let s = Scheduler::new(cfg(2, 8), None);
    let (log, mut rx) = mpsc::unbounded_channel();
    let (g, gate) = oneshot::channel();
    s.submit(
        1,
        ConversationKey::channel("a"),
        gated("a", log.clone(), gate),
    )
    .await
    .unwrap();
    s.close();
    assert_eq!(
        s.submit(2, ConversationKey::channel("b"), async { JobOutcome::Done })
            .await,
        Err(SubmitError::Closed)
    );
    g.send(JobOutcome::Done).unwrap();
    s.wait_idle().await;
    assert_eq!(s.committed(), Some(1));
    assert_eq!(drain(&mut rx), ["start a", "end a"]);

    let s = Scheduler::new(cfg(2, 8), None);
    let blocked = Arc::new(AsyncMutex::new(()));
    let hold = blocked.clone().lock_owned().await;
    let b = blocked.clone();
    s.submit(1, ConversationKey::channel("a"), async move {
        let _g = b.lock().await;
        JobOutcome::Done
    })
    .await
    .unwrap();
    settle().await;
    s.abort();
    s.wait_idle().await;
    assert_eq!(s.committed(), None);
    drop(hold);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_events_across_conversations_keep_per_conversation_order() {
    let s = Scheduler::new(cfg(3, 8), None);
    let seen = Arc::new(std::sync::Mutex::new(HashMap::<usize, Vec<usize>>::new()));
    for i in 0..200usize {
        let conv = i % 7;
        let seen = seen.clone();
        s.submit(i, ConversationKey::channel(&conv.to_string()), async move {
            tokio::task::yield_now().await;
            seen.lock().unwrap().entry(conv).or_default().push(i);
            JobOutcome::Done
        })
        .await
        .unwrap();
    }
    s.wait_idle().await;
    assert_eq!(s.committed(), Some(199));
    for (conv, order) in seen.lock().unwrap().iter() {
        let want: Vec<usize> = (0..200).filter(|i| i % 7 == *conv).collect();
        assert_eq!(order, &want);
    }
}

/// One row of the per-conversation bound table: events in cursor order (the
/// index is the cursor), each `(conversation, blocks until released)`.
struct BoundCase {
    name: &'static str,
    per_conversation: usize,
    events: &'static [(&'static str, bool)],
    /// Events submitted as [`Submitted::Deferred`].
    deferred: &'static [usize],
    /// Events that finish while the blocking ones still block.
    finished_while_blocked: &'static [usize],
    /// Committed cursor once everything that can run has run.
    committed_after: Option<usize>,
    /// Whether the scheduler asks to be replaced at the end.
    replay_after: bool,
}

const BOUND_CASES: &[BoundCase] = &[
    BoundCase {
        name: "a slow conversation at its cap does not stall the others",
        per_conversation: 2,
        events: &[
            ("a", true),
            ("a", true),
            ("a", true),
            ("b", false),
            ("b", false),
        ],
        deferred: &[2],
        finished_while_blocked: &[3, 4],
        committed_after: Some(1),
        replay_after: true,
    },
    BoundCase {
        name: "under the cap nothing is deferred",
        per_conversation: 4,
        events: &[("a", true), ("a", false), ("b", false)],
        deferred: &[],
        finished_while_blocked: &[2],
        committed_after: Some(2),
        replay_after: false,
    },
    BoundCase {
        name: "deferral is sticky: a later event of the conversation never overtakes",
        per_conversation: 1,
        events: &[("a", true), ("a", false), ("b", false), ("a", false)],
        deferred: &[1, 3],
        finished_while_blocked: &[2],
        committed_after: Some(0),
        replay_after: true,
    },
    BoundCase {
        name: "the commit never passes a deferred event",
        per_conversation: 1,
        events: &[("a", true), ("a", false), ("b", false), ("c", false)],
        deferred: &[1],
        finished_while_blocked: &[2, 3],
        committed_after: Some(0),
        replay_after: true,
    },
    BoundCase {
        name: "caps are per conversation",
        per_conversation: 1,
        events: &[("a", true), ("b", true), ("c", false), ("d", false)],
        deferred: &[],
        finished_while_blocked: &[2, 3],
        committed_after: Some(3),
        replay_after: false,
    },
];

#[tokio::test]
async fn per_conversation_bound_table() {
    for case in BOUND_CASES {
        let s = Scheduler::new(
            SchedulerConfig {
                max_concurrency: 8,
                max_per_conversation: case.per_conversation,
                ..SchedulerConfig::default()
            },
            None,
        );
        let (release, released) = watch::channel(false);
        let (log, mut rx) = mpsc::unbounded_channel();
        let mut deferred = Vec::new();
        for (i, &(conversation, blocks)) in case.events.iter().enumerate() {
            let (log, mut released) = (log.clone(), released.clone());
            let submitted = s
                .submit(i, ConversationKey::channel(conversation), async move {
                    if blocks {
                        let _ = released.wait_for(|r| *r).await;
                    }
                    let _ = log.send(i.to_string());
                    JobOutcome::Done
                })
                .await
                .unwrap_or_else(|e| panic!("{}: submit {i}: {e}", case.name));
            if let Submitted::Deferred(_) = submitted {
                deferred.push(i);
            }
            settle().await;
        }
        assert_eq!(deferred, case.deferred, "{}: deferred", case.name);
        let mut finished: Vec<usize> = drain(&mut rx).iter().map(|l| l.parse().unwrap()).collect();
        finished.sort_unstable();
        assert_eq!(
            finished, case.finished_while_blocked,
            "{}: finished",
            case.name
        );
        assert_eq!(
            s.committed(),
            None,
            "{}: the blocked first event holds the commit",
            case.name
        );
        assert!(
            s.replay_requested().now_or_never().is_none(),
            "{}: no replay while the deferred conversation still runs",
            case.name
        );
        assert_eq!(s.stats().deferred, case.deferred.len(), "{}", case.name);

        release.send_replace(true);
        s.wait_idle().await;
        assert_eq!(
            s.committed(),
            case.committed_after,
            "{}: committed",
            case.name
        );
        assert_eq!(
            s.replay_requested().now_or_never().is_some(),
            case.replay_after,
            "{}: replay requested",
            case.name
        );
        // Deferred jobs were dropped, never run.
        let ran: Vec<usize> = drain(&mut rx).iter().map(|l| l.parse().unwrap()).collect();
        assert!(
            ran.iter().all(|i| !case.deferred.contains(i)),
            "{}: a deferred job ran: {ran:?}",
            case.name
        );
    }
}

#[tokio::test]
async fn submit_waits_when_max_jobs_is_reached_but_not_for_a_full_conversation() {
    let s = Scheduler::new(
        SchedulerConfig {
            max_concurrency: 8,
            max_jobs: 2,
            max_per_conversation: 1,
            ..SchedulerConfig::default()
        },
        None,
    );
    let (log, _rx) = mpsc::unbounded_channel();
    let (ga, gate_a) = oneshot::channel();
    let (gb, gate_b) = oneshot::channel();
    s.submit(
        0,
        ConversationKey::channel("a"),
        gated("a", log.clone(), gate_a),
    )
    .await
    .unwrap();
    s.submit(
        1,
        ConversationKey::channel("b"),
        gated("b", log.clone(), gate_b),
    )
    .await
    .unwrap();
    // Conversation `a` is full: deferred at once, no waiting.
    let full = s
        .submit(2, ConversationKey::channel("a"), async { JobOutcome::Done })
        .now_or_never();
    assert!(matches!(full, Some(Ok(Submitted::Deferred(_)))), "{full:?}");
    // A new conversation needs a job slot: both are taken, so it waits.
    let third = s.submit(3, ConversationKey::channel("c"), async { JobOutcome::Done });
    tokio::pin!(third);
    assert!(
        (&mut third).now_or_never().is_none(),
        "submit must wait for a job slot"
    );
    gb.send(JobOutcome::Done).unwrap();
    assert!(matches!(third.await, Ok(Submitted::Queued(_))));
    ga.send(JobOutcome::Done).unwrap();
    s.wait_idle().await;
    assert_eq!(
        s.committed(),
        Some(1),
        "the deferred event 2 holds the commit"
    );
}

/// A scheduler whose commit hook waits for a permit of the returned
/// semaphore (starting with `permits`) per call, then reports the cursor.
fn held_hook_scheduler(
    permits: usize,
) -> (
    Scheduler<usize>,
    mpsc::UnboundedReceiver<usize>,
    Arc<tokio::sync::Semaphore>,
) {
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let permits = Arc::new(tokio::sync::Semaphore::new(permits));
    let hook_permits = Arc::clone(&permits);
    let s = Scheduler::with_commit_hook(cfg(4, 16), None, move |cursor: usize| {
        let (seen_tx, permits) = (seen_tx.clone(), Arc::clone(&hook_permits));
        async move {
            if let Ok(permit) = permits.acquire().await {
                permit.forget();
            }
            let _ = seen_tx.send(cursor);
        }
    });
    (s, seen, permits)
}

#[tokio::test]
async fn the_commit_hook_gets_each_advance_from_the_task_that_caused_it() {
    // The hook waits for a permit per call, so the test sees it running.
    let (s, mut seen, permits) = held_hook_scheduler(1);
    // Nothing pending: the caller's own call hands the cursor over.
    s.submit_completed(0).await.unwrap();
    assert_eq!(seen.try_recv().ok(), Some(0));

    let (log, _rx) = mpsc::unbounded_channel();
    let (a_tx, a_gate) = oneshot::channel();
    let (b_tx, b_gate) = oneshot::channel();
    s.submit(
        1,
        ConversationKey::channel("a"),
        gated("a", log.clone(), a_gate),
    )
    .await
    .unwrap();
    s.submit(
        2,
        ConversationKey::channel("b"),
        gated("b", log.clone(), b_gate),
    )
    .await
    .unwrap();
    s.submit_completed(3).await.unwrap();
    // Finishing behind a pending event advances nothing: no call.
    b_tx.send(JobOutcome::Done).unwrap();
    settle().await;
    assert!(seen.try_recv().is_err());
    assert_eq!(s.committed(), Some(0));
    // The first event finishes: one call with the whole prefix, and the
    // scheduler is not idle until that call returned.
    a_tx.send(JobOutcome::Done).unwrap();
    settle().await;
    assert_eq!(s.committed(), Some(3));
    let mut idle = std::pin::pin!(s.wait_idle());
    assert!(
        idle.as_mut().now_or_never().is_none(),
        "idle before the hook returned"
    );
    permits.add_permits(1);
    idle.await;
    assert_eq!(seen.try_recv().ok(), Some(3));
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn the_next_event_of_a_drained_conversation_does_not_wait_for_the_hook() {
    let (s, mut seen, permits) = held_hook_scheduler(0);
    let key = ConversationKey::channel("a");
    let (log, mut rx) = mpsc::unbounded_channel();
    let (first_tx, first_gate) = oneshot::channel();
    s.submit(1, key.clone(), gated("first", log.clone(), first_gate))
        .await
        .unwrap();
    first_tx.send(JobOutcome::Done).unwrap();
    settle().await;
    // The first job finished; its hook is held. The next event of the same
    // conversation runs now, in order after the first.
    let (second_tx, second_gate) = oneshot::channel();
    s.submit(2, key.clone(), gated("second", log.clone(), second_gate))
        .await
        .unwrap();
    settle().await;
    assert_eq!(
        drain(&mut rx),
        ["start first", "end first", "start second"].map(String::from)
    );
    assert!(seen.try_recv().is_err(), "the hook is still held");
    second_tx.send(JobOutcome::Done).unwrap();
    settle().await;
    assert_eq!(drain(&mut rx), ["end second".to_owned()]);
    // Not idle before every hook returned; both cursors reach the hook.
    let mut idle = std::pin::pin!(s.wait_idle());
    assert!(idle.as_mut().now_or_never().is_none());
    permits.add_permits(2);
    idle.await;
    let mut got = vec![seen.try_recv().unwrap(), seen.try_recv().unwrap()];
    got.sort_unstable();
    assert_eq!(got, [1, 2]);
    assert_eq!(s.committed(), Some(2));
}
