//! The bounded hand-over from the connection (driver and socket reader) to
//! the consumer: a queue the consumer takes in whole batches.
//!
//! 1. A sender pushes one item under a short lock and wakes the consumer
//!    only if it is parked. The socket reader hands over whole batches
//!    ([`Sender::send_batch`], one lock per batch) and wakes the consumer
//!    when the socket has nothing more for now (the end of a burst) or the
//!    queue is half full (so the consumer drains it while the reader goes
//!    on, and the reader does not stop at a full queue). A burst costs one
//!    wake-up per half queue — on a multi-thread runtime one cross-thread
//!    hand-over and one park of the consumer — not one per event.
//! 2. The queue is a list of batches: a sender's batch is queued whole
//!    (its buffer moves, the items are not copied) and the consumer takes
//!    one batch per lock ([`Receiver::poll_batch`]), handing the items out
//!    one by one from its own buffer.
//! 3. When the queue holds `cap` items a sender waits for the consumer to
//!    take them: a slow consumer stops the socket reader, and TCP flow
//!    control pushes back on the server.
//! 4. Drained batch buffers go back to the senders (a small free list), so
//!    while items keep coming nothing is allocated. Buffers are released
//!    after a small burst — when the consumer parks having taken less than a
//!    batch since it last parked, or when a sender calls
//!    [`Sender::release_spare`] — so an idle stream holds none, and a replay
//!    allocates a few buffers once, not a few per burst.
//!
//! Dropping the [`Receiver`] fails every send; dropping the last [`Sender`]
//! ends the consumer's side after the queued items.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

/// The most items a sender hands over at once; buffers up to this size
/// circulate between the sender, the queue and the consumer while items keep
/// coming (no allocation per batch), larger ones are released once drained.
pub(crate) const BATCH: usize = 32;

/// The most drained buffers kept for senders.
const MAX_SPARE: usize = 8;

struct State<T> {
    /// Queued batches, oldest first, `len` items in all.
    batches: VecDeque<VecDeque<T>>,
    len: usize,
    /// Drained batch buffers for senders to refill.
    spare: Vec<VecDeque<T>>,
    senders: usize,
    receiver_alive: bool,
    /// The parked consumer.
    waker: Option<Waker>,
    /// A sender waits for room.
    sender_waiting: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    cap: usize,
    room: Notify,
}

impl<T> Inner<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The consumer went away; the item comes back.
#[derive(Debug)]
pub(crate) struct Closed<T>(pub(crate) T);

/// Why [`Sender::try_send`] did not queue the item.
#[derive(Debug)]
pub(crate) enum TrySendError<T> {
    /// The queue is full.
    Full(T),
    /// The consumer went away.
    Closed(T),
}

/// The sending side (cloneable: the driver and the socket reader).
pub(crate) struct Sender<T> {
    inner: Arc<Inner<T>>,
}

/// The consuming side.
pub(crate) struct Receiver<T> {
    inner: Arc<Inner<T>>,
    /// Items taken since the consumer last parked.
    taken: usize,
}

impl<T> std::fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("handoff::Sender").finish_non_exhaustive()
    }
}

impl<T> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("handoff::Receiver").finish_non_exhaustive()
    }
}

/// A hand-over holding at most `cap` (≥ 1) items.
pub(crate) fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: Mutex::new(State {
            batches: VecDeque::new(),
            len: 0,
            spare: Vec::new(),
            senders: 1,
            receiver_alive: true,
            waker: None,
            sender_waiting: false,
        }),
        cap: cap.max(1),
        room: Notify::new(),
    });
    (
        Sender {
            inner: Arc::clone(&inner),
        },
        Receiver { inner, taken: 0 },
    )
}

impl<T> Sender<T> {
    /// 1.: queues `item` unless the queue is full or the consumer is gone,
    /// and wakes the consumer.
    pub(crate) fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        let mut state = self.inner.lock();
        if !state.receiver_alive {
            return Err(TrySendError::Closed(item));
        }
        if state.len >= self.inner.cap {
            return Err(TrySendError::Full(item));
        }
        state.len += 1;
        match state.batches.back_mut() {
            Some(last) if last.len() < last.capacity() => last.push_back(item),
            _ => {
                let mut batch = state.spare.pop().unwrap_or_default();
                batch.push_back(item);
                state.batches.push_back(batch);
            }
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// 4.: drops the drained buffers kept for senders (after a small burst).
    pub(crate) fn release_spare(&self) {
        let spare = std::mem::take(&mut self.inner.lock().spare);
        drop(spare);
    }

    /// The most items the queue holds.
    pub(crate) fn capacity(&self) -> usize {
        self.inner.cap
    }

    /// 1.: moves every item of `items` into the queue, in order, one lock
    /// per attempt, waiting for the consumer while the queue is full (3.).
    /// When the whole batch fits, its buffer is queued and `items` gets an
    /// empty (recycled) one.
    /// A parked consumer is woken when `wake` is set or the queue is half full;
    /// otherwise it stays parked until a later waking call. Cancel-safe:
    /// items not yet moved stay in `items`.
    pub(crate) async fn send_batch(
        &self,
        items: &mut VecDeque<T>,
        wake: bool,
    ) -> Result<(), Closed<()>> {
        loop {
            let notified = self.inner.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a drain in between is not missed.
            notified.as_mut().enable();
            let (done, waker) = {
                let mut state = self.inner.lock();
                if !state.receiver_alive {
                    return Err(Closed(()));
                }
                let take = items.len().min(self.inner.cap.saturating_sub(state.len));
                if take > 0 && take == items.len() {
                    // The common case: the batch's buffer is queued whole.
                    state.len += items.len();
                    let empty = state.spare.pop().unwrap_or_default();
                    let batch = std::mem::replace(items, empty);
                    state.batches.push_back(batch);
                } else if take > 0 {
                    let part: VecDeque<T> = items.drain(..take).collect();
                    state.len += take;
                    state.batches.push_back(part);
                }
                let done = items.is_empty();
                let half_full = state.len >= self.inner.cap.div_ceil(2);
                let waker = if (wake || half_full) && state.len > 0 {
                    state.waker.take()
                } else {
                    None
                };
                if !done {
                    state.sender_waiting = true;
                }
                (done, waker)
            };
            if let Some(waker) = waker {
                waker.wake();
            }
            if done {
                return Ok(());
            }
            notified.await;
        }
    }

    /// 3.: queues `item`, waiting for room. Cancel-safe: dropping the future
    /// before it completes queues nothing.
    pub(crate) async fn send(&self, mut item: T) -> Result<(), Closed<T>> {
        loop {
            let notified = self.inner.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a drain in between is not missed.
            notified.as_mut().enable();
            match self.try_send(item) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(back)) => return Err(Closed(back)),
                Err(TrySendError::Full(back)) => {
                    item = back;
                    let mut state = self.inner.lock();
                    if !state.receiver_alive {
                        return Err(Closed(item));
                    }
                    if state.len < self.inner.cap {
                        continue;
                    }
                    state.sender_waiting = true;
                    // Full of quietly queued items: the consumer must run.
                    let waker = state.waker.take();
                    drop(state);
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            }
            notified.await;
        }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.inner.lock().senders += 1;
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.senders -= 1;
        let waker = (state.senders == 0).then(|| state.waker.take()).flatten();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// 2.: moves the oldest queued batch into `out` (which must be empty).
    /// `Ready(false)`: every sender is gone and nothing is left.
    pub(crate) fn poll_batch(&mut self, cx: &mut Context<'_>, out: &mut VecDeque<T>) -> Poll<bool> {
        let mut state = self.inner.lock();
        if let Some(batch) = state.batches.pop_front() {
            state.len -= batch.len();
            self.taken = self.taken.saturating_add(batch.len());
            let drained = std::mem::replace(out, batch);
            // 4.: the drained buffer goes back to the senders if it is small.
            let keep = drained.capacity() > 0
                && drained.capacity() <= BATCH
                && state.spare.len() < MAX_SPARE;
            if keep {
                state.spare.push(drained);
            }
            let wake_senders = std::mem::take(&mut state.sender_waiting);
            drop(state);
            if wake_senders {
                self.inner.room.notify_waiters();
            }
            return Poll::Ready(true);
        }
        if state.senders == 0 {
            return Poll::Ready(false);
        }
        // 4.: about to park with nothing queued; `out` is empty too.
        if std::mem::take(&mut self.taken) < BATCH {
            state.spare = Vec::new();
            if state.batches.capacity() > 0 {
                state.batches = VecDeque::new();
            }
            if out.capacity() > 0 {
                *out = VecDeque::new();
            }
        }
        match &mut state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        state.receiver_alive = false;
        let queued = std::mem::take(&mut state.batches);
        drop(state);
        drop(queued);
        self.inner.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A waker that counts its wake-ups.
    fn counting_waker() -> (Arc<AtomicUsize>, Waker) {
        struct Count(Arc<AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let wakes = Arc::new(AtomicUsize::new(0));
        (Arc::clone(&wakes), Waker::from(Arc::new(Count(wakes))))
    }

    async fn batch(rx: &mut Receiver<u32>) -> Option<Vec<u32>> {
        let mut out = VecDeque::new();
        poll_fn(|cx| rx.poll_batch(cx, &mut out))
            .await
            .then(|| out.into_iter().collect())
    }

    #[tokio::test]
    async fn items_arrive_in_order_in_batches_and_end_with_the_senders() {
        let (tx, mut rx) = channel(4);
        let tx2 = tx.clone();
        tx.try_send(1).expect("room");
        tx2.send(2).await.expect("room");
        tx.try_send(3).expect("room");
        assert_eq!(batch(&mut rx).await, Some(vec![1, 2, 3]));
        tx.try_send(4).expect("room");
        drop(tx);
        drop(tx2);
        assert_eq!(batch(&mut rx).await, Some(vec![4]));
        assert_eq!(batch(&mut rx).await, None);
    }

    #[tokio::test]
    async fn a_full_queue_makes_senders_wait_until_the_consumer_takes_a_batch() {
        let (tx, mut rx) = channel(2);
        tx.try_send(1).expect("room");
        tx.try_send(2).expect("room");
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        let waiting = tokio::spawn(async move {
            tx.send(3).await.expect("sent");
            tx.send(4).await.expect("sent");
        });
        assert_eq!(batch(&mut rx).await, Some(vec![1, 2]));
        let mut rest = Vec::new();
        while let Some(b) = batch(&mut rx).await {
            rest.extend(b);
        }
        assert_eq!(rest, vec![3, 4]);
        waiting.await.expect("sender");
    }

    #[tokio::test]
    async fn batches_keep_order_wake_once_and_wait_for_room() {
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel(5);
        let mut out = VecDeque::new();
        assert!(rx.poll_batch(&mut cx, &mut out).is_pending());
        let mut items = VecDeque::from([1, 2]);
        tx.send_batch(&mut items, false).await.expect("room");
        assert!(items.is_empty());
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            0,
            "a quiet batch below half the capacity wakes nobody"
        );
        tx.send_batch(&mut items, true)
            .await
            .expect("nothing to send");
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "the burst's end wakes the consumer once"
        );
        assert!(matches!(
            rx.poll_batch(&mut cx, &mut out),
            Poll::Ready(true)
        ));
        assert_eq!(out.drain(..).collect::<Vec<_>>(), vec![1, 2]);
        assert!(rx.poll_batch(&mut cx, &mut out).is_pending());
        tx.send_batch(&mut VecDeque::new(), true)
            .await
            .expect("empty");
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "nothing queued, no wake-up"
        );
        // Seven items into a queue of five: the consumer is woken when it is
        // half full, and the rest waits for room.
        let sender = tokio::spawn(async move {
            let mut items = VecDeque::from([3, 4, 5, 6, 7, 8, 9]);
            tx.send_batch(&mut items, false).await.expect("room");
        });
        // A consumer that is never woken would park forever: the guard turns
        // that deadlock into a failure.
        let got = tokio::time::timeout(Duration::from_secs(30), async {
            let mut got = Vec::new();
            while let Some(batch) = batch(&mut rx).await {
                got.extend(batch);
            }
            got
        })
        .await
        .expect("the consumer was woken for every batch");
        sender.await.expect("sender");
        assert_eq!(got, vec![3, 4, 5, 6, 7, 8, 9]);
    }

    #[tokio::test]
    async fn quiet_batches_wake_the_consumer_once_the_queue_is_half_full() {
        let (wakes, waker) = counting_waker();
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel(8);
        let mut out = VecDeque::new();
        assert!(rx.poll_batch(&mut cx, &mut out).is_pending());
        tx.send_batch(&mut VecDeque::from([1, 2, 3]), false)
            .await
            .expect("room");
        assert_eq!(wakes.load(Ordering::SeqCst), 0, "3 of 8: still quiet");
        tx.send_batch(&mut VecDeque::from([4]), false)
            .await
            .expect("room");
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "4 of 8: the consumer starts draining before the reader has to wait"
        );
        assert!(matches!(
            rx.poll_batch(&mut cx, &mut out),
            Poll::Ready(true)
        ));
    }

    #[tokio::test]
    async fn buffers_are_kept_through_a_replay_and_released_after_a_small_burst() {
        let (tx, mut rx) = channel(64);
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = VecDeque::new();
        let spare = |tx: &Sender<u32>| tx.inner.lock().spare.len();
        let mut recycled = 0;
        for _ in 0..3 {
            let mut items: VecDeque<u32> = (0..BATCH as u32).collect();
            tx.send_batch(&mut items, true).await.expect("room");
            recycled = items.capacity();
            assert!(rx.poll_batch(&mut cx, &mut out).is_ready());
            out.clear();
            assert!(rx.poll_batch(&mut cx, &mut out).is_pending());
        }
        assert_eq!(recycled, BATCH, "drained buffers come back to the sender");
        assert!(
            spare(&tx) > 0 || out.capacity() > 0,
            "a replay keeps its buffers"
        );
        tx.try_send(1).expect("room");
        assert!(rx.poll_batch(&mut cx, &mut out).is_ready());
        out.clear();
        assert!(rx.poll_batch(&mut cx, &mut out).is_pending());
        assert_eq!(spare(&tx), 0);
        assert_eq!(out.capacity(), 0, "a trickle keeps none");
        let mut items: VecDeque<u32> = (0..BATCH as u32).collect();
        tx.send_batch(&mut items, true).await.expect("room");
        tx.release_spare();
        assert_eq!(spare(&tx), 0);
    }

    #[tokio::test]
    async fn a_dropped_receiver_fails_waiting_and_new_sends() {
        let (tx, rx) = channel(1);
        tx.try_send(1).expect("room");
        let tx2 = tx.clone();
        let waiting = tokio::spawn(async move { tx2.send(2).await.map_err(|Closed(v)| v) });
        tokio::task::yield_now().await;
        drop(rx);
        assert_eq!(waiting.await.expect("task"), Err(2));
        assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));
    }
}

#[cfg(test)]
mod stress {
    use super::*;
    use proptest::prelude::*;
    use std::future::poll_fn;

    /// One sender's plan: batches of the given sizes (0 = a single `send`),
    /// each handed over with or without waking the consumer.
    fn run(cap: usize, plan: Vec<(usize, bool)>, multi: bool) -> Vec<u32> {
        let runtime = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("runtime");
        runtime.block_on(async move {
            let (tx, mut rx) = channel(cap);
            let sender = tokio::spawn(async move {
                let mut next = 0u32;
                let mut items = VecDeque::new();
                for (size, wake) in plan {
                    if size == 0 {
                        tx.send(next).await.expect("consumer alive");
                        next += 1;
                        continue;
                    }
                    for _ in 0..size {
                        items.push_back(next);
                        next += 1;
                    }
                    tx.send_batch(&mut items, wake)
                        .await
                        .expect("consumer alive");
                    if next.is_multiple_of(7) {
                        tokio::task::yield_now().await;
                    }
                }
                // The end of the burst.
                tx.send_batch(&mut items, true)
                    .await
                    .expect("consumer alive");
            });
            let got = tokio::time::timeout(std::time::Duration::from_secs(20), async {
                let mut got = Vec::new();
                let mut out = VecDeque::new();
                while poll_fn(|cx| rx.poll_batch(cx, &mut out)).await {
                    got.extend(out.drain(..));
                }
                got
            })
            .await
            .expect("no lost wake-up");
            sender.await.expect("sender");
            got
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn every_item_arrives_once_in_order_without_a_lost_wake_up(
            cap in 1usize..70,
            plan in proptest::collection::vec((0usize..40, any::<bool>()), 0..60),
            multi in any::<bool>(),
        ) {
            let total: usize = plan.iter().map(|(n, _)| (*n).max(1)).sum();
            let got = run(cap, plan, multi);
            prop_assert_eq!(got, (0..total as u32).collect::<Vec<_>>());
        }
    }
}
