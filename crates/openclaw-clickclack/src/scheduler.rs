//! Per-conversation ordering with cross-conversation concurrency.
//!
//! The gateway submits events in cursor order, each with a [`ConversationKey`]
//! (a DM, a channel's top level, or a thread). The [`Scheduler`]:
//!
//! - runs the events of one conversation strictly one after another, in
//!   submission order;
//! - runs different conversations concurrently, at most
//!   [`SchedulerConfig::max_concurrency`] jobs at a time (a fair tokio
//!   `Semaphore`), so one slow model call does not stall everyone;
//! - reports the committed cursor as the **contiguous prefix** of finished
//!   events ([`CommitTracker`]): an event's cursor is committed only once it and
//!   every event submitted before it have finished;
//! - bounds memory: at most [`SchedulerConfig::max_in_flight`] events may be
//!   submitted but not yet committed; [`Scheduler::submit`] waits for room
//!   (backpressure on the event reader). There is one worker task per
//!   conversation that currently has work, never more tasks than that.
//!
//! A job that returns [`JobOutcome::Retry`] (or panics) **halts** the
//! scheduler: queued jobs that have not started are dropped, running jobs
//! finish, the committed cursor stays before the failed event, and further
//! submissions fail. The caller then waits for [`Scheduler::wait_idle`],
//! and replays from [`Scheduler::committed`] with a fresh scheduler (replies
//! carry deterministic nonces, so replaying finished events is harmless).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use openclaw_clickclack::scheduler::{ConversationKey, JobOutcome, Scheduler, SchedulerConfig};
//!
//! let scheduler = Scheduler::new(SchedulerConfig::default(), None::<String>);
//! for (cursor, channel) in [("cur_1", "chn_a"), ("cur_2", "chn_b"), ("cur_3", "chn_a")] {
//!     scheduler
//!         .submit(cursor.to_owned(), ConversationKey::channel(channel), async { JobOutcome::Done })
//!         .await
//!         .unwrap();
//! }
//! scheduler.wait_idle().await;
//! assert_eq!(scheduler.committed().as_deref(), Some("cur_3"));
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::FutureExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::AbortHandle;

/// Identifies one ordered conversation: a DM, a channel's top level, or a thread.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConversationKey(String);

impl ConversationKey {
    /// A raw key.
    pub fn new(key: impl Into<String>) -> Self {
        ConversationKey(key.into())
    }

    /// A direct conversation (`dm:<conversation id>`).
    pub fn direct(conversation_id: &str) -> Self {
        ConversationKey(format!("dm:{conversation_id}"))
    }

    /// A channel's top level (`channel:<channel id>`).
    pub fn channel(channel_id: &str) -> Self {
        ConversationKey(format!("channel:{channel_id}"))
    }

    /// A thread (`thread:<root message id>`).
    pub fn thread(root_message_id: &str) -> Self {
        ConversationKey(format!("thread:{root_message_id}"))
    }

    /// The key of a message: its thread when it is a thread reply (has a
    /// parent and a root), else its DM, else its channel; `None` when the
    /// message names none of these.
    pub fn for_message(
        direct_conversation_id: Option<&str>,
        channel_id: Option<&str>,
        thread_root_id: Option<&str>,
        parent_message_id: Option<&str>,
    ) -> Option<Self> {
        match (parent_message_id, thread_root_id) {
            (Some(_), Some(root)) => Some(Self::thread(root)),
            _ => direct_conversation_id
                .map(Self::direct)
                .or_else(|| channel_id.map(Self::channel))
                .or_else(|| thread_root_id.map(Self::thread)),
        }
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConversationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Handle for one registered entry of a [`CommitTracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Debug)]
struct Slot<C> {
    cursor: C,
    done: bool,
}

/// Tracks the committed cursor as the contiguous prefix of finished entries.
///
/// Entries are registered in cursor order and completed in any order;
/// [`CommitTracker::committed`] is the cursor of the last entry whose
/// predecessors have all completed. Memory is proportional to the
/// uncommitted entries.
#[derive(Debug)]
pub struct CommitTracker<C> {
    next: u64,
    base: u64,
    window: VecDeque<Slot<C>>,
    committed: Option<C>,
}

impl<C> Default for CommitTracker<C> {
    fn default() -> Self {
        Self::new(None)
    }
}

impl<C> CommitTracker<C> {
    /// A tracker whose committed cursor starts at `start`.
    pub fn new(start: Option<C>) -> Self {
        CommitTracker {
            next: 0,
            base: 0,
            window: VecDeque::new(),
            committed: start,
        }
    }

    /// Registers the next entry (cursors must be registered in order).
    pub fn register(&mut self, cursor: C) -> Ticket {
        let ticket = Ticket(self.next);
        self.next += 1;
        self.window.push_back(Slot {
            cursor,
            done: false,
        });
        ticket
    }

    /// Marks an entry finished. Returns how many entries became committed by
    /// this call (0 when a predecessor is still pending, or the ticket was
    /// already completed or is unknown).
    pub fn complete(&mut self, ticket: Ticket) -> usize {
        let Some(index) = ticket.0.checked_sub(self.base) else {
            return 0;
        };
        let Some(slot) = usize::try_from(index)
            .ok()
            .and_then(|i| self.window.get_mut(i))
        else {
            return 0;
        };
        slot.done = true;
        let mut advanced = 0;
        while self.window.front().is_some_and(|s| s.done) {
            if let Some(slot) = self.window.pop_front() {
                self.committed = Some(slot.cursor);
                self.base += 1;
                advanced += 1;
            }
        }
        advanced
    }

    /// The committed cursor (the start value until something commits).
    pub fn committed(&self) -> Option<&C> {
        self.committed.as_ref()
    }

    /// Registered entries not yet committed.
    pub fn pending(&self) -> usize {
        self.window.len()
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Finished (answered, or deliberately skipped): its cursor may be committed.
    Done,
    /// Not finished and must be replayed: halts the scheduler (see the module docs).
    Retry,
}

/// Why [`Scheduler::submit`] refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError {
    /// A job asked for a replay (or panicked); replay from the committed cursor.
    #[error("scheduler halted: an event must be replayed from the committed cursor")]
    Halted,
    /// [`Scheduler::close`] was called.
    #[error("scheduler closed")]
    Closed,
}

/// Scheduler limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Jobs running at once across conversations (default 8, minimum 1).
    pub max_concurrency: usize,
    /// Events submitted but not yet committed (default 256, minimum 1);
    /// `submit` waits when reached.
    pub max_in_flight: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_concurrency: 8,
            max_in_flight: 256,
        }
    }
}

/// A point-in-time view of a scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Jobs queued or running.
    pub outstanding: usize,
    /// Submitted events not yet committed.
    pub uncommitted: usize,
    /// Conversations with a live worker.
    pub active_conversations: usize,
    /// Whether a job asked for a replay.
    pub halted: bool,
}

type Job = Pin<Box<dyn Future<Output = JobOutcome> + Send + 'static>>;

struct Conversation {
    jobs: VecDeque<(Ticket, Job)>,
    worker: Option<AbortHandle>,
}

struct State<C> {
    tracker: CommitTracker<C>,
    conversations: HashMap<ConversationKey, Conversation>,
    outstanding: usize,
    halted: bool,
    closed: bool,
    aborted: bool,
}

struct Shared<C> {
    state: Mutex<State<C>>,
    concurrency: Semaphore,
    in_flight: Semaphore,
    committed: watch::Sender<Option<C>>,
    idle: watch::Sender<bool>,
}

impl<C> Shared<C> {
    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // Only plain bookkeeping happens under this lock; recover from poisoning.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<C: Clone> Shared<C> {
    /// Applies a completion under the lock and publishes commit progress.
    fn finish(&self, state: &mut State<C>, ticket: Ticket) {
        let advanced = state.tracker.complete(ticket);
        if advanced > 0 {
            self.in_flight.add_permits(advanced);
            self.committed
                .send_replace(state.tracker.committed().cloned());
        }
    }

    fn job_ended(&self, state: &mut State<C>) {
        state.outstanding = state.outstanding.saturating_sub(1);
        if state.outstanding == 0 {
            self.idle.send_replace(true);
        }
    }

    fn halt(&self, state: &mut State<C>) {
        state.halted = true;
        self.in_flight.close();
    }
}

/// Runs jobs in per-conversation order with bounded cross-conversation
/// concurrency and tracks the committed cursor. See the module docs.
///
/// Dropping the scheduler aborts its workers (running jobs are cancelled);
/// call [`Scheduler::close`] and [`Scheduler::wait_idle`] first for a graceful stop.
pub struct Scheduler<C> {
    shared: Arc<Shared<C>>,
}

impl<C> fmt::Debug for Scheduler<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl<C: Clone + Send + Sync + 'static> Scheduler<C> {
    /// A scheduler whose committed cursor starts at `start`.
    pub fn new(config: SchedulerConfig, start: Option<C>) -> Self {
        let (committed, _) = watch::channel(start.clone());
        let (idle, _) = watch::channel(true);
        Scheduler {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    tracker: CommitTracker::new(start),
                    conversations: HashMap::new(),
                    outstanding: 0,
                    halted: false,
                    closed: false,
                    aborted: false,
                }),
                concurrency: Semaphore::new(config.max_concurrency.max(1)),
                in_flight: Semaphore::new(config.max_in_flight.max(1)),
                committed,
                idle,
            }),
        }
    }

    /// Submits the next event (in cursor order) with its job. Waits while
    /// `max_in_flight` events are uncommitted. The job starts after every
    /// earlier job of the same conversation has finished.
    pub async fn submit<F>(
        &self,
        cursor: C,
        key: ConversationKey,
        job: F,
    ) -> Result<Ticket, SubmitError>
    where
        F: Future<Output = JobOutcome> + Send + 'static,
    {
        self.enqueue(cursor, Some((key, Box::pin(job)))).await
    }

    /// Submits an event that needs no work (filtered, or not a message): it
    /// is committed as soon as everything before it has finished.
    pub async fn submit_completed(&self, cursor: C) -> Result<Ticket, SubmitError> {
        self.enqueue(cursor, None).await
    }

    async fn enqueue(
        &self,
        cursor: C,
        job: Option<(ConversationKey, Job)>,
    ) -> Result<Ticket, SubmitError> {
        let shared = &self.shared;
        self.refusal()?;
        match shared.in_flight.acquire().await {
            // Released in `finish` when the entry is committed.
            Ok(permit) => permit.forget(),
            Err(_) => return Err(self.refusal().err().unwrap_or(SubmitError::Closed)),
        }
        let mut state = shared.lock();
        if state.halted || state.closed {
            shared.in_flight.add_permits(1);
            return Err(if state.halted {
                SubmitError::Halted
            } else {
                SubmitError::Closed
            });
        }
        let ticket = state.tracker.register(cursor);
        let Some((key, job)) = job else {
            shared.finish(&mut state, ticket);
            return Ok(ticket);
        };
        state.outstanding += 1;
        if state.outstanding == 1 {
            shared.idle.send_replace(false);
        }
        if let Some(conversation) = state.conversations.get_mut(&key) {
            conversation.jobs.push_back((ticket, job));
        } else {
            let worker = tokio::spawn(run_conversation(Arc::clone(shared), key.clone()));
            state.conversations.insert(
                key,
                Conversation {
                    jobs: VecDeque::from([(ticket, job)]),
                    worker: Some(worker.abort_handle()),
                },
            );
        }
        Ok(ticket)
    }

    fn refusal(&self) -> Result<(), SubmitError> {
        let state = self.shared.lock();
        if state.halted {
            Err(SubmitError::Halted)
        } else if state.closed {
            Err(SubmitError::Closed)
        } else {
            Ok(())
        }
    }

    /// The committed cursor: the last event whose predecessors all finished.
    pub fn committed(&self) -> Option<C> {
        self.shared.committed.borrow().clone()
    }

    /// A receiver that changes whenever the committed cursor advances.
    pub fn subscribe_committed(&self) -> watch::Receiver<Option<C>> {
        self.shared.committed.subscribe()
    }

    /// Whether a job asked for a replay.
    pub fn is_halted(&self) -> bool {
        self.shared.lock().halted
    }

    /// Counters.
    pub fn stats(&self) -> SchedulerStats {
        let state = self.shared.lock();
        SchedulerStats {
            outstanding: state.outstanding,
            uncommitted: state.tracker.pending(),
            active_conversations: state.conversations.len(),
            halted: state.halted,
        }
    }

    /// Refuses further submissions; queued jobs still run.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.in_flight.close();
    }

    /// Waits until no job is queued or running.
    pub async fn wait_idle(&self) {
        let mut idle = self.shared.idle.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = idle.wait_for(|idle| *idle).await;
    }

    /// Cancels every queued and running job now (e.g. after a shutdown
    /// deadline). The committed cursor stays where it is.
    pub fn abort(&self) {
        let mut state = self.shared.lock();
        state.aborted = true;
        state.closed = true;
        self.shared.in_flight.close();
        for (_, conversation) in state.conversations.drain() {
            if let Some(worker) = conversation.worker {
                worker.abort();
            }
        }
        state.outstanding = 0;
        self.shared.idle.send_replace(true);
    }
}

impl<C> Drop for Scheduler<C> {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.aborted = true;
        for (_, conversation) in state.conversations.drain() {
            if let Some(worker) = conversation.worker {
                worker.abort();
            }
        }
    }
}

/// The worker of one conversation: runs its queue in order, then exits.
async fn run_conversation<C: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<C>>,
    key: ConversationKey,
) {
    loop {
        let (ticket, job, halted) = {
            let mut state = shared.lock();
            if state.aborted {
                return;
            }
            let next = state
                .conversations
                .get_mut(&key)
                .and_then(|c| c.jobs.pop_front());
            match next {
                Some((ticket, job)) => (ticket, job, state.halted),
                None => {
                    state.conversations.remove(&key);
                    return;
                }
            }
        };
        let outcome = if halted {
            None
        } else {
            run_job(&shared, job).await
        };
        let mut state = shared.lock();
        if state.aborted {
            return;
        }
        match outcome {
            Some(JobOutcome::Done) => shared.finish(&mut state, ticket),
            Some(JobOutcome::Retry) => shared.halt(&mut state),
            None => {}
        }
        shared.job_ended(&mut state);
    }
}

/// Runs one job under a concurrency permit; `None` when the scheduler halted
/// while the job waited for its turn. A panic counts as [`JobOutcome::Retry`].
async fn run_job<C>(shared: &Shared<C>, job: Job) -> Option<JobOutcome> {
    let _permit = shared.concurrency.acquire().await.ok()?;
    if shared.lock().halted {
        return None;
    }
    match AssertUnwindSafe(job).catch_unwind().await {
        Ok(outcome) => Some(outcome),
        Err(_) => {
            tracing::error!("gateway job panicked; the event will be replayed");
            Some(JobOutcome::Retry)
        }
    }
}

#[cfg(test)]
mod tests;
