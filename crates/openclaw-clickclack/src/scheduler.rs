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
//! - bounds memory with three limits, so that one slow or flooding
//!   conversation delays only itself:
//!   1. **per conversation**: at most [`SchedulerConfig::max_per_conversation`]
//!      jobs queued or running. An event of a conversation at its cap is
//!      **deferred** ([`Submitted::Deferred`]): it keeps its place in the
//!      commit order (the committed cursor never passes it in this
//!      scheduler) but its job is dropped, and every later event of that
//!      conversation is deferred too (order). The reader does not wait, so
//!      the other conversations keep flowing. When the deferred
//!      conversation's queue has drained, [`Scheduler::replay_requested`]
//!      fires: the caller stops reading, lets the queued jobs finish and
//!      reads again from [`Scheduler::committed`] with a fresh scheduler —
//!      the deferred events come back from the server's log; events that
//!      were answered meanwhile are recognised by their reply nonces before
//!      any model call;
//!   2. **jobs per account**: at most [`SchedulerConfig::max_jobs`] jobs queued
//!      or running across conversations (boxed futures: the real memory);
//!   3. **uncommitted per account**: at most [`SchedulerConfig::max_in_flight`]
//!      events submitted but not yet committed (a cursor each; finished
//!      events wait here behind a slow earlier one).
//!
//!   [`Scheduler::submit`] waits only for limits 2 and 3 (backpressure on the
//!   event reader when the whole account is overloaded). There is one worker
//!   task per conversation that currently has work, never more tasks than
//!   that (plus, briefly, a retired worker that only finishes handing its
//!   last cursor to the [commit hook](Scheduler::with_commit_hook)).
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
use tokio::sync::{Notify, Semaphore, watch};
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

/// What [`Scheduler::submit`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Submitted {
    /// Queued behind the earlier jobs of its conversation.
    Queued(Ticket),
    /// Its conversation was at [`SchedulerConfig::max_per_conversation`] (or
    /// already had deferred events): the job was dropped and the event stays
    /// uncommitted until it is read again (see the module docs).
    Deferred(Ticket),
}

impl Submitted {
    /// The event's place in the commit order.
    pub fn ticket(self) -> Ticket {
        match self {
            Submitted::Queued(t) | Submitted::Deferred(t) => t,
        }
    }
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
    /// Events submitted but not yet committed (default 4096, minimum 1);
    /// `submit` waits when reached.
    pub max_in_flight: usize,
    /// Jobs queued or running across conversations (default 256, minimum 1);
    /// `submit` waits when reached.
    pub max_jobs: usize,
    /// Jobs queued or running in one conversation (default 64, minimum 1);
    /// further events of that conversation are deferred, never waited for.
    pub max_per_conversation: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_concurrency: 8,
            max_in_flight: 4096,
            max_jobs: 256,
            max_per_conversation: 64,
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
    /// Events deferred because their conversation was at its cap.
    pub deferred: usize,
}

type Job = Pin<Box<dyn Future<Output = JobOutcome> + Send + 'static>>;

/// What [`Scheduler::with_commit_hook`] calls with the committed cursor.
type CommitHook<C> = Box<dyn Fn(C) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

struct Conversation {
    jobs: VecDeque<(Ticket, Job)>,
    /// Whether the worker is running a job (popped from `jobs`).
    running: bool,
    worker: Option<AbortHandle>,
}

impl Conversation {
    /// Jobs queued or running.
    fn held(&self) -> usize {
        self.jobs.len() + usize::from(self.running)
    }
}

struct State<C> {
    tracker: CommitTracker<C>,
    conversations: HashMap<ConversationKey, Conversation>,
    /// Conversations with deferred events: their later events are deferred too.
    deferred: std::collections::HashSet<ConversationKey>,
    deferred_events: usize,
    per_conversation: usize,
    outstanding: usize,
    halted: bool,
    closed: bool,
    aborted: bool,
    /// Set once a conversation with deferred events has drained.
    replay_wanted: bool,
}

struct Shared<C> {
    state: Mutex<State<C>>,
    concurrency: Semaphore,
    /// Limit 3: uncommitted events; a permit is returned when its event commits.
    in_flight: Semaphore,
    /// Limit 2: jobs queued or running; a permit is returned when its job ends.
    jobs: Semaphore,
    committed: watch::Sender<Option<C>>,
    /// Woken when the scheduler became idle (`outstanding == 0`); waiters
    /// check [`State`] (a `Notify`, not a watch channel: an idle account's
    /// scheduler is paid per account).
    idle: Notify,
    /// Woken when a replay was requested (or the scheduler was aborted).
    /// Separate from `idle`: the account's reader waits on this one all the
    /// time, and a busy account becomes idle after nearly every turn, so a
    /// shared `Notify` woke the reader once per turn for nothing.
    replay: Notify,
    /// Called, outside the lock, by the task whose completion advanced the
    /// committed cursor (see [`Scheduler::with_commit_hook`]).
    on_commit: Option<CommitHook<C>>,
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
    /// Returns the new committed cursor when it advanced and a commit hook
    /// wants it (call [`Shared::commit_hook`] with it once the lock is released).
    #[must_use]
    fn finish(&self, state: &mut State<C>, ticket: Ticket) -> Option<C> {
        let advanced = state.tracker.complete(ticket);
        if advanced == 0 {
            return None;
        }
        self.in_flight.add_permits(advanced);
        let committed = state.tracker.committed().cloned();
        let hooked = committed.clone().filter(|_| self.on_commit.is_some());
        self.committed.send_replace(committed);
        hooked
    }

    /// Hands `cursor` to the commit hook, if any (never under the lock).
    async fn commit_hook(&self, cursor: Option<C>) {
        if let (Some(hook), Some(cursor)) = (&self.on_commit, cursor) {
            hook(cursor).await;
        }
    }

    fn job_ended(&self, state: &mut State<C>) {
        self.jobs.add_permits(1);
        state.outstanding = state.outstanding.saturating_sub(1);
        if state.outstanding == 0 {
            self.idle.notify_waiters();
        }
    }

    fn halt(&self, state: &mut State<C>) {
        state.halted = true;
        self.in_flight.close();
        self.jobs.close();
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
        Self::build(config, start, None)
    }

    /// A scheduler that also hands every advance of the committed cursor to
    /// `hook`, from the task that caused it: the worker whose job finished,
    /// or the caller of [`Scheduler::submit_completed`]. The hook runs
    /// before that job counts as ended ([`Scheduler::wait_idle`] waits for
    /// it) and before the worker starts the conversation's next job. Hooks
    /// of different workers may run concurrently and finish out of order, so
    /// the receiver must ignore a cursor older than one it already has (a
    /// realtime stream's commit does).
    ///
    /// The gateway commits to its realtime stream this way: no task has to
    /// be woken just to pass the cursor on.
    pub fn with_commit_hook<F, Fut>(config: SchedulerConfig, start: Option<C>, hook: F) -> Self
    where
        F: Fn(C) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::build(
            config,
            start,
            Some(Box::new(move |cursor| Box::pin(hook(cursor)))),
        )
    }

    fn build(config: SchedulerConfig, start: Option<C>, on_commit: Option<CommitHook<C>>) -> Self {
        let (committed, _) = watch::channel(start.clone());
        Scheduler {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    tracker: CommitTracker::new(start),
                    conversations: HashMap::new(),
                    deferred: std::collections::HashSet::new(),
                    deferred_events: 0,
                    per_conversation: config.max_per_conversation.max(1),
                    outstanding: 0,
                    halted: false,
                    closed: false,
                    aborted: false,
                    replay_wanted: false,
                }),
                concurrency: Semaphore::new(config.max_concurrency.max(1)),
                in_flight: Semaphore::new(config.max_in_flight.max(1)),
                jobs: Semaphore::new(config.max_jobs.max(1)),
                committed,
                idle: Notify::new(),
                replay: Notify::new(),
                on_commit,
            }),
        }
    }

    /// Submits the next event (in cursor order) with its job. Waits while
    /// `max_in_flight` events are uncommitted or `max_jobs` jobs are queued;
    /// never waits for a full conversation (the event is deferred instead,
    /// see the module docs). The job starts after every earlier job of the
    /// same conversation has finished.
    pub async fn submit<F>(
        &self,
        cursor: C,
        key: ConversationKey,
        job: F,
    ) -> Result<Submitted, SubmitError>
    where
        F: Future<Output = JobOutcome> + Send + 'static,
    {
        self.refusal()?;
        let mut job_permit = false;
        self.acquire(&self.shared.in_flight).await?;
        if !self.must_defer(&key) {
            if let Err(e) = self.acquire(&self.shared.jobs).await {
                self.shared.in_flight.add_permits(1);
                return Err(e);
            }
            job_permit = true;
        }
        let shared = &self.shared;
        let mut state = shared.lock();
        if let Err(e) = Self::accepting(&state) {
            shared.in_flight.add_permits(1);
            if job_permit {
                shared.jobs.add_permits(1);
            }
            return Err(e);
        }
        let ticket = state.tracker.register(cursor);
        let full = state.deferred.contains(&key)
            || state
                .conversations
                .get(&key)
                .is_some_and(|c| c.held() >= state.per_conversation);
        if !job_permit || full {
            if job_permit {
                shared.jobs.add_permits(1);
            }
            state.deferred_events += 1;
            state.deferred.insert(key.clone());
            if !state.conversations.contains_key(&key) {
                // Nothing of this conversation runs: read it again now.
                state.replay_wanted = true;
                shared.replay.notify_waiters();
            }
            return Ok(Submitted::Deferred(ticket));
        }
        state.outstanding += 1;
        let job: Job = Box::pin(job);
        if let Some(conversation) = state.conversations.get_mut(&key) {
            conversation.jobs.push_back((ticket, job));
        } else {
            let worker = tokio::spawn(run_conversation(Arc::clone(shared), key.clone()));
            state.conversations.insert(
                key,
                Conversation {
                    jobs: VecDeque::from([(ticket, job)]),
                    running: false,
                    worker: Some(worker.abort_handle()),
                },
            );
        }
        Ok(Submitted::Queued(ticket))
    }

    /// Submits an event that needs no work (filtered, or not a message): it
    /// is committed as soon as everything before it has finished.
    pub async fn submit_completed(&self, cursor: C) -> Result<Ticket, SubmitError> {
        self.refusal()?;
        self.acquire(&self.shared.in_flight).await?;
        let (ticket, committed) = {
            let mut state = self.shared.lock();
            if let Err(e) = Self::accepting(&state) {
                self.shared.in_flight.add_permits(1);
                return Err(e);
            }
            let ticket = state.tracker.register(cursor);
            (ticket, self.shared.finish(&mut state, ticket))
        };
        self.shared.commit_hook(committed).await;
        Ok(ticket)
    }

    /// Takes one permit of a limit and keeps it taken (it is returned by
    /// hand), or says why the scheduler stopped accepting.
    async fn acquire(&self, limit: &Semaphore) -> Result<(), SubmitError> {
        match limit.acquire().await {
            Ok(permit) => {
                permit.forget();
                Ok(())
            }
            // Closed by `halt` (a replay) or by `close`/`abort`.
            Err(_) => Err(self.refusal().err().unwrap_or(SubmitError::Closed)),
        }
    }

    /// Whether an event of `key` would be deferred now.
    fn must_defer(&self, key: &ConversationKey) -> bool {
        let state = self.shared.lock();
        state.deferred.contains(key)
            || state
                .conversations
                .get(key)
                .is_some_and(|c| c.held() >= state.per_conversation)
    }

    fn accepting(state: &State<C>) -> Result<(), SubmitError> {
        if state.halted {
            Err(SubmitError::Halted)
        } else if state.closed {
            Err(SubmitError::Closed)
        } else {
            Ok(())
        }
    }

    fn refusal(&self) -> Result<(), SubmitError> {
        Self::accepting(&self.shared.lock())
    }

    /// Resolves once the scheduler wants to be replaced: a conversation with
    /// deferred events has drained, so the caller should stop reading, drain
    /// ([`Scheduler::close`], [`Scheduler::wait_idle`]) and read again from
    /// [`Scheduler::committed`]. Pending forever when nothing was deferred.
    pub async fn replay_requested(&self) {
        self.wait_until(&self.shared.replay, |state| state.replay_wanted)
            .await;
    }

    /// Waits until `done` holds for the state (checked whenever `changed` is notified).
    async fn wait_until(&self, changed: &Notify, done: impl Fn(&State<C>) -> bool) {
        loop {
            let changed = changed.notified();
            let mut changed = std::pin::pin!(changed);
            // Registered before the check: a change after it wakes us.
            changed.as_mut().enable();
            if done(&self.shared.lock()) {
                return;
            }
            changed.await;
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
            deferred: state.deferred_events,
        }
    }

    /// Refuses further submissions; queued jobs still run.
    pub fn close(&self) {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.in_flight.close();
        self.shared.jobs.close();
    }

    /// Waits until no job is queued or running.
    pub async fn wait_idle(&self) {
        self.wait_until(&self.shared.idle, |state| state.outstanding == 0)
            .await;
    }

    /// Cancels every queued and running job now (e.g. after a shutdown
    /// deadline). The committed cursor stays where it is.
    pub fn abort(&self) {
        let mut state = self.shared.lock();
        state.aborted = true;
        state.closed = true;
        self.shared.in_flight.close();
        self.shared.jobs.close();
        for (_, conversation) in state.conversations.drain() {
            if let Some(worker) = conversation.worker {
                worker.abort();
            }
        }
        state.outstanding = 0;
        self.shared.idle.notify_waiters();
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
            let next = state.conversations.get_mut(&key).and_then(|c| {
                let next = c.jobs.pop_front();
                c.running = next.is_some();
                next
            });
            match next {
                Some((ticket, job)) => (ticket, job, state.halted),
                None => {
                    retire(&shared, &mut state, &key);
                    return;
                }
            }
        };
        let outcome = if halted {
            None
        } else {
            run_job(&shared, job).await
        };
        let (committed, retired) = {
            let mut state = shared.lock();
            if state.aborted {
                return;
            }
            let committed = match outcome {
                Some(JobOutcome::Done) => shared.finish(&mut state, ticket),
                Some(JobOutcome::Retry) => {
                    shared.halt(&mut state);
                    None
                }
                None => None,
            };
            if committed.is_none() {
                shared.job_ended(&mut state);
                continue;
            }
            // Nothing else queued: the conversation is done, so the next
            // event of it starts a new worker at once instead of waiting
            // behind this hook (a commit may write the cursor, `fsync`
            // included); this task only finishes the hook.
            let idle = state
                .conversations
                .get(&key)
                .is_none_or(|c| c.jobs.is_empty());
            if idle {
                retire(&shared, &mut state, &key);
            }
            (committed, idle)
        };
        // Outside the lock; the job counts as ended once the hook returned.
        shared.commit_hook(committed).await;
        let mut state = shared.lock();
        if state.aborted {
            return;
        }
        shared.job_ended(&mut state);
        if retired {
            return;
        }
    }
}

/// Forgets the conversation `key`, whose worker has no job left; a
/// conversation with deferred events now wants its replay.
fn retire<C>(shared: &Shared<C>, state: &mut State<C>, key: &ConversationKey) {
    state.conversations.remove(key);
    if state.deferred.contains(key) {
        state.replay_wanted = true;
        shared.replay.notify_waiters();
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
