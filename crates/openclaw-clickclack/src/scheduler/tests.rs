use std::sync::Arc;

use futures_util::FutureExt;
use proptest::prelude::*;
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};

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
