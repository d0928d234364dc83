//! The bounded hand-over from the connection (driver and socket reader) to
//! the consumer: a queue the consumer takes in whole batches.
//!
//! 1. A sender pushes one item under a short lock and wakes the consumer
//!    only if it is parked. The socket reader hands over whole batches
//!    ([`Sender::send_batch`], one lock per batch) and wakes the consumer
//!    once per burst (when the socket has nothing more for now, or the
//!    queue is full), so a burst costs one wake-up — on a multi-thread
//!    runtime one cross-thread hand-over — not one per event.
//! 2. The consumer swaps the whole queue out in one lock ([`Receiver::poll_batch`])
//!    and hands the items out one by one from its own buffer.
//! 3. When the queue holds `cap` items a sender waits for the consumer to
//!    take them: a slow consumer stops the socket reader, and TCP flow
//!    control pushes back on the server.
//! 4. The queue grows only when items arrive and gives large buffers back
//!    once drained; when the consumer parks on an empty queue both buffers
//!    are released (an idle stream holds none: one allocation per burst,
//!    never one per item).
//!
//! Dropping the [`Receiver`] fails every send; dropping the last [`Sender`]
//! ends the consumer's side after the queued items.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;

/// Buffers larger than this many items are released once drained.
const KEEP_CAPACITY: usize = 16;

struct State<T> {
    queue: VecDeque<T>,
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
            queue: VecDeque::new(),
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
        Receiver { inner },
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
        if state.queue.len() >= self.inner.cap {
            return Err(TrySendError::Full(item));
        }
        state.queue.push_back(item);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// The most items the queue holds.
    pub(crate) fn capacity(&self) -> usize {
        self.inner.cap
    }

    /// 1.: moves every item of `items` into the queue, in order, one lock
    /// per attempt, waiting for the consumer while the queue is full (3.).
    /// A parked consumer is woken when `wake` is set or the queue is full;
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
                if state.queue.is_empty() && items.len() <= self.inner.cap {
                    // The common case: the whole batch becomes the queue.
                    std::mem::swap(&mut state.queue, items);
                } else {
                    let room = self.inner.cap.saturating_sub(state.queue.len());
                    state.queue.extend(items.drain(..room.min(items.len())));
                }
                let done = items.is_empty();
                let full = state.queue.len() >= self.inner.cap;
                let waker = if (wake || full) && !state.queue.is_empty() {
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
                    if state.queue.len() < self.inner.cap {
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
    /// 2.: moves every queued item into `out` (which must be empty).
    /// `Ready(false)`: every sender is gone and nothing is left.
    pub(crate) fn poll_batch(&mut self, cx: &mut Context<'_>, out: &mut VecDeque<T>) -> Poll<bool> {
        let mut state = self.inner.lock();
        if !state.queue.is_empty() {
            std::mem::swap(&mut state.queue, out);
            // 4.: the consumer's old buffer becomes the queue; keep it small.
            if state.queue.capacity() > KEEP_CAPACITY {
                state.queue = VecDeque::new();
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
        if state.queue.capacity() > 0 {
            state.queue = VecDeque::new();
        }
        if out.capacity() > 0 {
            *out = VecDeque::new();
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
        let queued = std::mem::take(&mut state.queue);
        drop(state);
        drop(queued);
        self.inner.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use std::time::Duration;

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
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        let mut cx = Context::from_waker(&waker);
        let (tx, mut rx) = channel(3);
        let mut out = VecDeque::new();
        assert!(rx.poll_batch(&mut cx, &mut out).is_pending());
        let mut items = VecDeque::from([1, 2]);
        tx.send_batch(&mut items, false).await.expect("room");
        assert!(items.is_empty());
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            0,
            "a quiet batch wakes nobody"
        );
        tx.send_batch(&mut items, true)
            .await
            .expect("nothing to send");
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
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
            wakes.0.load(Ordering::SeqCst),
            1,
            "nothing queued, no wake-up"
        );
        // Five items into a queue of three: the consumer is woken when it is
        // full, and the rest waits for room.
        let sender = tokio::spawn(async move {
            let mut items = VecDeque::from([3, 4, 5, 6, 7]);
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
        assert_eq!(got, vec![3, 4, 5, 6, 7]);
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
