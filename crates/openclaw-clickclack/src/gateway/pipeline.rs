//! One inbound turn, top to bottom.
//!
//! 1. **Own message or too old?** Events written by the bot, and backlog
//!    older than `catchUpMaxAge`, end as [`TurnEnd::Skipped`] before any request.
//!    - 1a. **Late links** ([`super::late_links`]): a duplicate create is
//!      skipped; once the server was seen linking uploads after the create
//!      (older servers), the fetch waits for a quiet window after the
//!      message's last `message.updated`.
//! 2. **Fetch** the message by id (events carry ids, not bodies), retried in
//!    the [`RetryWindow`]; 404 → skipped; still failing when the window closes
//!    → [`TurnEnd::Replay`] (the event stays uncommitted and is read again).
//! 3. **Policy** ([`InboundPolicy`]): a rejection is a deliberate skip, logged
//!    with its reason.
//! 4. **Already answered?** For backlog (events replayed after a restart,
//!    reconnect or resync; a live event cannot have been answered before),
//!    the reply's part nonces are looked up by nonce *before* the model or
//!    agent runs, so a replayed event spends nothing.
//!    Part 0 first; when it is small enough that the splitter would not have
//!    cut after it ([`LAST_PART_BELOW`]), the reply is complete — one lookup,
//!    the common case. A bigger part may have had a successor: the next
//!    part's nonce is looked up, and so on. A missing successor of a big
//!    part means the turn may have stopped between two parts (a crash, a
//!    SIGKILL): the turn resumes at the first missing part (see
//!    [Resuming a split reply](#resuming-a-split-reply)).
//!    - 4a. **Native commands** (`/help`, `/status`, `/model`, `/new`, …,
//!      see [`super::host`]): answered here under the same reply nonce.
//!    - 4b. **Attachments** ([`super::attachments`]): downloaded and
//!      checked; images for the model, notes for the rest; transient
//!      failures are retried in the window.
//! 5. **Produce** the reply with the model or agent — the host's envelope
//!    ([`super::envelope`]) and session key ([`super::session_key`]);
//!    activity rows and progress through the turn — each call bounded by the
//!    time left in the window, transient failures (503, HTML 200, timeout,
//!    refused) retried; the turn holds one of the gateway's turn slots.
//! 6. **Deliver** through the account's one send path ([`AccountSender`]:
//!    sanitise, split into ordered parts with per-part nonces). When step 5
//!    gave up, a short visible failure reply goes out instead, under the same
//!    nonce — the human always sees one reply.
//! 7. **Commit**: every [`TurnEnd`] but `Replay` lets the scheduler commit
//!    the event's cursor.
//!
//! # Resuming a split reply
//!
//! The parts already posted do not contain the rest of the text, and the
//! server keeps nothing else of it. A daemon either writes the produced text
//! ahead of the first part (a local outbox: invisible to another replica that
//! takes the account over after a crash, and a second store to keep
//! consistent) or produces it again. We produce it again: the model or agent
//! runs once more, the new text is sanitised and split exactly like a first
//! delivery, and only the parts from the first missing index on are sent,
//! under their own per-part nonces — parts already on the server are never
//! posted twice, and a resumed turn that crashes again resumes again. The
//! cost is bounded: only replies bigger than [`LAST_PART_BELOW`] can be
//! ambiguous, and a second model call happens only when part 0 exists but a
//! successor is missing, never when the reply was complete in one part. The
//! limit: a model that answers differently the second time continues with
//! the tail of its new answer; the human still gets a complete, single set
//! of parts, not a doubled one.
//!
//! Shutdown: retry waits end when intake stops; the model call and the send
//! end when the work token is cut. Both end the turn as `Replay`, never as a
//! failure reply.

use std::sync::Arc;
use std::time::Duration;

use clickclack_client::{Client, Error as ClientError, ErrorKind, PageRequest, ThreadQuery};
use clickclack_proto::objects::{Message, UserKind};
use clickclack_proto::{MessageId, WorkspaceId};
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::activity::ActivityRows;
use super::attachments::{self, OVERSIZE_NOTICE, Staged};
use super::catch_up::{Clock, skipped_old_log_line, timestamp_ms, too_old};
use super::engine::ReplyEngine;
use super::envelope::envelope;
use super::events::{InboundEvent, unreadable_log_line};
use super::host::{self, HostFeatures, NativeCommand};
use super::late_links::{LateLinks, QUIET_WINDOW, Registration, late_link_log_line};
use super::metrics::AccountMetrics;
use super::progress::ProgressTarget;
use super::progress::{ProgressLine, TurnProgress};
use super::session_key::Peer;
use crate::agent_host::{ActivitySink, AgentActivity, AgentTurn, Provenance};
use crate::llm::{BOT_REPLY_PURPOSE, ChatMessage, CompletionRequest, ImageInput, LlmError};
use crate::nonce::{DurablePart, reply_delivery, text_nonce};
use crate::outbound::sanitize::sanitize_assistant_text;
use crate::outbound::split::{DEFAULT_MAX_BODY_JSON_BYTES, split_text};
use crate::outbound::{AccountSender, OutboundMessage, SendError};
use crate::policy::{BotLoopGuard, Decision, InboundFacts, InboundPolicy, LogLevel};
use crate::reply::{no_sendable_text_log_line, shape_model_reply};
use crate::resolve::Destination;
use crate::retry::{GaveUp, RetryWindow};
use crate::scheduler::JobOutcome;

/// The shortest deadline a model or agent call gets, even at the end of the window.
const MIN_ENGINE_DEADLINE: Duration = Duration::from_secs(5);

/// "No deadline of our own" (about 30 years: far beyond any call).
const NO_DEADLINE: Duration = Duration::from_secs(1 << 30);

/// A posted reply part whose body is shorter than this (in bytes) was the
/// last part: the splitter never cuts a part below half of its window, and
/// a window holds at least a sixth of the body budget in raw bytes (a
/// control character escapes to 6 bytes), so every non-final part is at
/// least a twelfth of [`DEFAULT_MAX_BODY_JSON_BYTES`].
pub(crate) const LAST_PART_BELOW: usize = DEFAULT_MAX_BODY_JSON_BYTES / 12;

/// How many parts step 4 looks up at most (a reply of ~60 MiB).
const MAX_PROBED_PARTS: u64 = 64;

/// What step 4 found on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Posted {
    /// Nothing: a first delivery.
    Nothing,
    /// Every part is there.
    Complete(Vec<MessageId>),
    /// Parts `0..ids.len()` are there and a successor may be missing.
    Partial(Vec<MessageId>),
}

/// Everything a turn of one account needs (shared by its turns).
#[derive(Debug)]
pub(crate) struct AccountRuntime {
    pub(crate) account_id: String,
    pub(crate) client: Client,
    pub(crate) sender: AccountSender,
    pub(crate) workspace_id: WorkspaceId,
    pub(crate) bot_user_id: String,
    pub(crate) bot_handle: Option<String>,
    pub(crate) progress_label: Option<String>,
    pub(crate) policy: InboundPolicy,
    pub(crate) guard: Arc<BotLoopGuard>,
    pub(crate) engine: ReplyEngine,
    pub(crate) response_prefix: Option<String>,
    pub(crate) history_limit: Option<u32>,
    pub(crate) native_progress: bool,
    pub(crate) catch_up_max_age: Duration,
    pub(crate) clock: Clock,
    pub(crate) metrics: Arc<AccountMetrics>,
    /// Cancelled when shutdown begins: retry waits end at once.
    pub(crate) intake: CancellationToken,
    /// Cancelled when the shutdown grace is over: model calls and sends end.
    pub(crate) work: CancellationToken,
    pub(crate) retry: RetryWindow,
    /// Turns producing a reply at once, across every account.
    pub(crate) turn_slots: Arc<Semaphore>,
    /// Session keys, native commands, per-session state.
    pub(crate) host: Arc<HostFeatures>,
    /// Uploads linked after the create (older servers).
    pub(crate) links: Arc<LateLinks>,
}

/// What the model or agent gets for one message (steps 4b–5).
struct TurnInput {
    session_key: String,
    text: String,
    images: Vec<ImageInput>,
    model_override: Option<String>,
    /// Filled by an agent call: the model that answered.
    provenance: std::sync::Mutex<Option<Provenance>>,
}

/// A native command's effect (step 4a).
enum CommandStep {
    /// Answer with this text.
    Reply(String),
    /// Not handled here: the turn goes on (agent-mode `/new`, `/reset`).
    Continue,
}

/// How a turn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    /// The reply is posted (now, or by an earlier run of the same turn).
    Answered(Vec<MessageId>),
    /// The model or agent kept failing: a visible failure reply is posted.
    FailedVisibly(Vec<MessageId>),
    /// Deliberately not answered; the reason is logged.
    Skipped,
    /// Not finished (shutdown, rejected token, REST down for the whole
    /// window): leave the event uncommitted so it is handled again.
    Replay,
}

impl From<TurnEnd> for JobOutcome {
    fn from(end: TurnEnd) -> Self {
        match end {
            TurnEnd::Answered(_) | TurnEnd::FailedVisibly(_) | TurnEnd::Skipped => JobOutcome::Done,
            TurnEnd::Replay => JobOutcome::Retry,
        }
    }
}

/// Where and under which nonces the reply to one message goes.
struct ReplyPlan {
    destination: Destination,
    delivery: DurablePart,
    reply_to: Option<MessageId>,
    correlation_id: Option<String>,
    /// Agent mode: the model that wrote the answer (row 14).
    provenance: Option<Provenance>,
}

impl ReplyPlan {
    /// Inside the thread for thread replies; otherwise an in-channel (or
    /// in-DM) quote-reply to the source message.
    fn for_message(account_id: &str, message: &Message, correlation_id: Option<String>) -> Self {
        let delivery = reply_delivery(account_id, message.id.as_str());
        let thread_root = || {
            if message.thread_root_id.as_str().is_empty() {
                message.parent_message_id.clone().unwrap_or_default()
            } else {
                message.thread_root_id.clone()
            }
        };
        let (destination, reply_to) = if message.parent_message_id.is_some() {
            (Destination::Thread(thread_root()), None)
        } else if let Some(conversation) = &message.direct_conversation_id {
            (
                Destination::Dm {
                    user: message.author_id.clone(),
                    conversation: conversation.clone(),
                },
                Some(message.id.clone()),
            )
        } else if let Some(channel) = &message.channel_id {
            (
                Destination::Channel(channel.clone()),
                Some(message.id.clone()),
            )
        } else {
            // A root message with neither channel nor DM: answer in its thread.
            (Destination::Thread(message.id.clone()), None)
        };
        ReplyPlan {
            destination,
            delivery,
            reply_to,
            correlation_id,
            provenance: None,
        }
    }

    /// The answer (stamped with the model that wrote it) or, for a
    /// `failure` notice, the same without provenance.
    fn outbound(&self, text: String, failure: bool) -> OutboundMessage {
        OutboundMessage {
            text,
            reply_to: self.reply_to.clone(),
            durable: Some(self.delivery.clone()),
            correlation_id: self.correlation_id.clone(),
            provenance: self.provenance.clone().filter(|_| !failure),
            ..OutboundMessage::default()
        }
    }

    /// The nonce part `index` of this reply.
    fn part(&self, index: u64) -> Option<DurablePart> {
        let index = i64::try_from(index).ok()?;
        DurablePart::new(self.delivery.queue_id(), index).ok()
    }

    /// The rest of a reply whose first `posted` parts are on the server:
    /// `text` sanitised and split like a first delivery, from part `posted`
    /// on, numbered from `posted` (no quote: the first part carried it).
    /// `None` when the new text has no part left to send.
    fn resume(&self, text: &str, posted: usize) -> Option<OutboundMessage> {
        let sanitized = sanitize_assistant_text(text);
        let parts = split_text(&sanitized, DEFAULT_MAX_BODY_JSON_BYTES);
        let rest: String = parts.get(posted..)?.concat();
        if rest.trim().is_empty() {
            return None;
        }
        Some(OutboundMessage {
            text: rest,
            durable: Some(self.part(u64::try_from(posted).ok()?)?),
            correlation_id: self.correlation_id.clone(),
            provenance: self.provenance.clone(),
            ..OutboundMessage::default()
        })
    }
}

/// What the human reads when the model or agent could not answer: what
/// failed, in words, never the provider's raw body.
pub(crate) fn failure_reply_text(engine: &ReplyEngine, error: &LlmError) -> String {
    let who = match engine {
        ReplyEngine::Model { .. } => "the model provider",
        ReplyEngine::Agent { .. } => "the agent",
    };
    let what = match error {
        LlmError::Status { status, .. } => format!("{who} returned HTTP {status}"),
        LlmError::Timeout { .. } => format!("{who} did not answer in time"),
        LlmError::Transport { .. } => format!("{who} could not be reached"),
        LlmError::Decode { .. } => format!("{who} sent a response that could not be read"),
        _ => format!("{who} is not configured correctly"),
    };
    format!("I couldn't answer this: {what}. Please try again later.")
}

/// The reply text when the model answered with nothing to show.
pub(crate) const EMPTY_ANSWER_TEXT: &str =
    "I couldn't answer this: the reply was empty. Please try again later.";

impl AccountRuntime {
    fn skip(&self) -> TurnEnd {
        AccountMetrics::bump(&self.metrics.skipped);
        TurnEnd::Skipped
    }

    /// Runs one turn; see the module docs. The message is registered with
    /// the late-link tracker now, when its event is read (step 1a).
    pub(crate) fn run_turn(
        self: Arc<Self>,
        event: InboundEvent,
    ) -> impl std::future::Future<Output = JobOutcome> + Send + 'static {
        let age = timestamp_ms(&event.created_at)
            .and_then(|at| u64::try_from(self.clock.now_ms().saturating_sub(at)).ok())
            .map_or(Duration::ZERO, Duration::from_millis);
        let registration = self
            .links
            .register(&event.message_id, event.conversation.clone(), age);
        async move {
            // Shutdown began before this turn started: leave it for the next run.
            if self.intake.is_cancelled() {
                return JobOutcome::Retry;
            }
            let end = match self.stages(&event, &registration).await {
                Ok(end) | Err(end) => end,
            };
            registration.finish(end != TurnEnd::Replay);
            JobOutcome::from(end)
        }
    }

    /// A `message.updated` for a message whose turn already fetched it:
    /// re-fetch, and warn (and switch to legacy mode) when an upload was
    /// linked after that fetch (see [`super::late_links`]).
    pub(crate) async fn check_late_link(self: Arc<Self>, message_id: MessageId) -> JobOutcome {
        let account = self.account_id.as_str();
        let Some(fetched) = self
            .intake
            .run_until_cancelled(self.client.get_message(&message_id))
            .await
        else {
            return JobOutcome::Retry;
        };
        let message = match fetched {
            Ok(message) => message,
            Err(e) => {
                tracing::debug!(account = %account, message = %message_id, error = %e,
                    "updated message could not be read; not checking its attachments");
                return JobOutcome::Done;
            }
        };
        let current = message.attachments.len();
        if let Some(processed) = self.links.checked(&message_id, current) {
            let line = late_link_log_line(account, message_id.as_str(), processed, current);
            tracing::warn!(account = %account, message = %message_id, "{line}");
            if self.links.learn_legacy() {
                tracing::info!(account = %account,
                    "[{account}] ClickClack server links uploads after creating the message (an older server); from now on each new message waits up to {} ms after its last update for its attachments",
                    QUIET_WINDOW.as_millis());
            }
        }
        JobOutcome::Done
    }

    fn check_age(
        &self,
        event: &InboundEvent,
        created_ms: Option<i64>,
        message_id: &str,
    ) -> Result<(), TurnEnd> {
        let Some(created_ms) = created_ms.filter(|_| event.catch_up) else {
            return Ok(());
        };
        if let Some(age) = too_old(created_ms, self.clock.now_ms(), self.catch_up_max_age) {
            let line =
                skipped_old_log_line(&self.account_id, message_id, age, self.catch_up_max_age);
            tracing::info!(account = %self.account_id, message = %message_id, "{line}");
            return Err(self.skip());
        }
        Ok(())
    }

    async fn stages(
        &self,
        event: &InboundEvent,
        registration: &Registration,
    ) -> Result<TurnEnd, TurnEnd> {
        let message_id = event.message_id.as_str();
        // 1. own message, catch-up age (from the event time: no fetch for old backlog).
        if event
            .author_id
            .as_ref()
            .is_some_and(|a| a.as_str() == self.bot_user_id)
        {
            return Ok(TurnEnd::Skipped);
        }
        self.check_age(event, timestamp_ms(&event.created_at), message_id)?;

        // The validated correlation id rides on every request of the turn.
        let client = match event.correlation_id.as_deref() {
            Some(id) => self
                .client
                .with_correlation_id(id)
                .unwrap_or_else(|_| self.client.clone()),
            None => self.client.clone(),
        };
        // 1a. a duplicate create; on an older server, the quiet window for
        // uploads linked after the create.
        if registration.is_duplicate() {
            tracing::debug!(account = %self.account_id, message = %message_id,
                "duplicate create of a message already handled; skipped");
            return Ok(TurnEnd::Skipped);
        }
        if registration.waits() {
            tracing::debug!(account = %self.account_id,
                "[{}] waiting for ClickClack attachments linked after the create: {message_id}", self.account_id);
            if self
                .intake
                .run_until_cancelled(registration.wait())
                .await
                .is_none()
            {
                return Err(TurnEnd::Replay);
            }
        }
        // 2. fetch.
        let message = self.fetch(&client, event).await?;
        registration.fetched(message.attachments.len());
        if message.author_id.as_str() == self.bot_user_id {
            return Ok(TurnEnd::Skipped);
        }
        self.check_age(event, timestamp_ms(&message.created_at), message_id)?;
        // 3. policy.
        self.admit(&message)?;
        // 4. already answered?
        let mut plan =
            ReplyPlan::for_message(&self.account_id, &message, event.correlation_id.clone());
        let posted = match self.earlier_reply(event, &plan).await? {
            Posted::Complete(ids) => {
                AccountMetrics::bump(&self.metrics.replies);
                tracing::info!(account = %self.account_id, source = %message.id, reply = %ids[0],
                    "[{}] ClickClack message already answered; not calling the model again", self.account_id);
                return Ok(TurnEnd::Answered(ids));
            }
            Posted::Partial(ids) => {
                tracing::warn!(account = %self.account_id, source = %message.id, posted = ids.len(),
                    "[{}] ClickClack split reply was interrupted after part {}; producing it again to send the rest",
                    self.account_id, ids.len());
                ids
            }
            Posted::Nothing => Vec::new(),
        };
        let session_key = self.session_key(&message);
        // 4a. native commands.
        if let Some(command) = NativeCommand::parse(&message.body) {
            match self.command(&message, &command, &session_key)? {
                CommandStep::Reply(text) => {
                    return self.deliver(&plan, &message, text, false).await;
                }
                CommandStep::Continue => {}
            }
        }
        // 4b. attachments.
        let staged = self.stage_attachments(&client, &message).await?;
        if staged.only_oversize(&message) {
            return self
                .deliver(&plan, &message, OVERSIZE_NOTICE.to_owned(), false)
                .await;
        }
        // Agent mode gets the host's envelope (with the time since the
        // session's previous message); model mode the raw body, as the
        // reference's model mode sends it (row 35); attachment notes follow.
        let text = match &self.engine {
            ReplyEngine::Agent { .. } => {
                let elapsed = timestamp_ms(&message.created_at)
                    .and_then(|at| self.host.clock.elapsed(&session_key, at));
                envelope(&message, message.body.trim(), elapsed, &staged.notes)
            }
            ReplyEngine::Model { .. } => {
                let mut text = message.body.clone();
                for note in &staged.notes {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(note);
                }
                text
            }
        };
        let input = TurnInput {
            text,
            images: staged.images,
            model_override: self.host.model_override(&session_key),
            session_key,
            provenance: std::sync::Mutex::new(None),
        };
        // 5. produce.
        let produced = self
            .produce_with_progress(&client, &message, event, &input)
            .await?;
        plan.provenance = input
            .provenance
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .filter(|p| !p.is_empty());
        if !posted.is_empty() {
            // 6. (resumed) the parts after the ones already posted.
            return self
                .resume_delivery(&plan, &message, produced, posted)
                .await;
        }
        // 6. deliver the answer, or a visible failure under the same nonce.
        match produced {
            Ok(text) => {
                let shaped = shape_model_reply(&text, self.response_prefix.as_deref());
                match shaped {
                    Some(body) => self.deliver(&plan, &message, body, false).await,
                    None => {
                        let line = no_sendable_text_log_line(&self.account_id);
                        tracing::warn!(account = %self.account_id, message = %message_id, "{line}");
                        self.deliver(&plan, &message, EMPTY_ANSWER_TEXT.to_owned(), true)
                            .await
                    }
                }
            }
            Err(error) => {
                AccountMetrics::bump(&self.metrics.model_errors);
                tracing::error!(account = %self.account_id, message = %message.id, error = %error,
                    "[{}] ClickClack model reply failed after retrying; posting a visible failure reply: {error}", self.account_id);
                let text = failure_reply_text(&self.engine, &error);
                self.deliver(&plan, &message, text, true).await
            }
        }
    }

    /// Step 2: re-fetches the message: 404 → skip; transient → retried in the window.
    async fn fetch(&self, client: &Client, event: &InboundEvent) -> Result<Message, TurnEnd> {
        let account = self.account_id.as_str();
        let result = self
            .retry
            .run(&self.intake, |attempt| async move {
                let result = client.get_message(&event.message_id).await;
                if let Err(e) = &result {
                    tracing::warn!(account = %account, attempt, error = %e,
                        "[{account}] ClickClack message fetch failed");
                }
                result
            })
            .await;
        match result {
            Ok(message) => Ok(message),
            Err(GaveUp::Permanent(e)) if e.kind() == &ErrorKind::NotFound => {
                let line =
                    unreadable_log_line(account, event.event_type, event.message_id.as_str());
                tracing::warn!(account = %account, "{line}");
                Err(self.skip())
            }
            Err(GaveUp::Permanent(e)) if e.kind() == &ErrorKind::Unauthorized => {
                tracing::error!(account = %account, error = %e, "[{account}] ClickClack rejected the bot token while fetching a message");
                Err(TurnEnd::Replay)
            }
            Err(GaveUp::Permanent(e)) => {
                tracing::warn!(account = %account, error = %e,
                    "[{account}] ClickClack message fetch failed; skipping: type={} messageId={}",
                    event.event_type, event.message_id);
                Err(self.skip())
            }
            Err(GaveUp::WindowClosed(e)) => {
                tracing::error!(account = %account, message = %event.message_id, error = %e,
                    "[{account}] ClickClack message fetch kept failing; the event will be read again");
                Err(TurnEnd::Replay)
            }
            Err(GaveUp::Cancelled) => Err(TurnEnd::Replay),
        }
    }

    /// Step 3: the inbound policy; a rejection is logged at its level.
    fn admit(&self, message: &Message) -> Result<(), TurnEnd> {
        let account = self.account_id.as_str();
        let message_id = message.id.as_str();
        let facts = InboundFacts {
            message_id,
            author_id: message.author_id.as_str(),
            author_is_bot: message
                .author
                .as_ref()
                .is_some_and(|a| a.kind == UserKind::Bot),
            kind: message.kind.as_ref().map(|k| k.as_str()),
            body: &message.body,
            workspace_id: self.workspace_id.as_str(),
            channel_id: message.channel_id.as_ref().map(|c| c.as_str()),
            direct_conversation_id: message.direct_conversation_id.as_ref().map(|c| c.as_str()),
            thread_root_id: Some(message.thread_root_id.as_str()).filter(|s| !s.is_empty()),
            parent_message_id: message.parent_message_id.as_ref().map(|p| p.as_str()),
            bot_user_id: &self.bot_user_id,
            bot_handle: self.bot_handle.as_deref(),
        };
        let now_ms = timestamp_ms(&message.created_at)
            .unwrap_or_else(|| self.clock.now_ms())
            .max(0)
            .unsigned_abs();
        let Decision::Drop(rejection) = self.policy.decide(&facts, &self.guard, now_ms) else {
            return Ok(());
        };
        let line = &rejection.log_line;
        match rejection.level {
            LogLevel::Silent => {}
            LogLevel::Debug => tracing::debug!(account = %account, message = %message_id, "{line}"),
            LogLevel::Info => tracing::info!(account = %account, message = %message_id, "{line}"),
            LogLevel::Warn => tracing::warn!(account = %account, message = %message_id, "{line}"),
        }
        Err(self.skip())
    }

    /// Step 4: which parts of this turn's reply are already posted (see the
    /// module docs). Part 0 unknown (an old server, a lookup that keeps
    /// failing) counts as "not yet": the nonce still keeps the post single;
    /// a later part unknown counts as "complete" (no second model call).
    async fn posted_parts(&self, plan: &ReplyPlan) -> Result<Posted, TurnEnd> {
        let mut ids = Vec::new();
        for index in 0..MAX_PROBED_PARTS {
            let Some(part) = plan.part(index) else { break };
            match self.posted_part(&part).await? {
                Some(message) => {
                    let last = message.body.len() < LAST_PART_BELOW;
                    ids.push(message.id);
                    if last {
                        return Ok(Posted::Complete(ids));
                    }
                }
                None if ids.is_empty() => return Ok(Posted::Nothing),
                None => return Ok(Posted::Partial(ids)),
            }
        }
        Ok(if ids.is_empty() {
            Posted::Nothing
        } else {
            Posted::Complete(ids)
        })
    }

    /// What an earlier run of this turn posted. Only backlog can have been
    /// answered before: a live event (newer than the server's tail when the
    /// session started or last reconnected) reaches this process for the
    /// first time, so the lookup is skipped and the turn costs one request
    /// less. Should another process have answered it all the same (a paused
    /// replica of a fleet that lost its lease), the reply's nonce still
    /// makes the server refuse a second copy at send time
    /// ([`Self::undeliverable`]).
    async fn earlier_reply(
        &self,
        event: &InboundEvent,
        plan: &ReplyPlan,
    ) -> Result<Posted, TurnEnd> {
        if event.catch_up {
            self.posted_parts(plan).await
        } else {
            Ok(Posted::Nothing)
        }
    }

    /// The id of an earlier reply with this turn's part-0 nonce (see
    /// [`Self::posted_part`]).
    async fn already_answered(&self, plan: &ReplyPlan) -> Result<Option<MessageId>, TurnEnd> {
        Ok(self.posted_part(&plan.delivery).await?.map(|m| m.id))
    }

    /// The message posted under `part`'s nonce, if any; a lookup that cannot
    /// answer counts as "none".
    async fn posted_part(&self, part: &DurablePart) -> Result<Option<Message>, TurnEnd> {
        let nonce = text_nonce(part);
        let client = &self.client;
        let workspace = &self.workspace_id;
        let result = self
            .retry
            .run(&self.intake, |_| client.message_by_nonce(workspace, &nonce))
            .await;
        match result {
            Ok(found) => Ok(found),
            Err(GaveUp::Cancelled) => Err(TurnEnd::Replay),
            Err(GaveUp::Permanent(e)) if e.kind() == &ErrorKind::Unauthorized => {
                Err(TurnEnd::Replay)
            }
            Err(other) => {
                if let Some(e) = other.error() {
                    tracing::debug!(account = %self.account_id, error = %e,
                        "reply lookup by nonce unavailable; relying on the nonce at send time");
                }
                Ok(None)
            }
        }
    }

    /// The session key of `message` (host conventions §1).
    fn session_key(&self, message: &Message) -> String {
        let agent = match &self.engine {
            ReplyEngine::Agent { agent_id, .. } => agent_id.clone(),
            ReplyEngine::Model { agent_id, .. } => agent_id
                .clone()
                .unwrap_or_else(|| super::engine::DEFAULT_AGENT_ID.to_owned()),
        };
        self.host
            .session_key(&agent, &self.account_id, &Peer::of(message))
    }

    fn model_name(&self, session_key: &str) -> String {
        match &self.engine {
            ReplyEngine::Model { model, .. } => self
                .host
                .model_override(session_key)
                .unwrap_or_else(|| model.clone()),
            ReplyEngine::Agent { agent_id, .. } => self
                .host
                .model_override(session_key)
                .unwrap_or_else(|| format!("openclaw/{agent_id}")),
        }
    }

    /// Step 4a: runs a native command; `Err(Skipped)` for an unauthorised sender.
    fn command(
        &self,
        message: &Message,
        command: &NativeCommand,
        session_key: &str,
    ) -> Result<CommandStep, TurnEnd> {
        let sender = message.author_id.as_str();
        let is_bot = message
            .author
            .as_ref()
            .is_some_and(|a| a.kind == UserKind::Bot);
        if !self.host.command_authorized(sender, is_bot) {
            tracing::info!(account = %self.account_id, message = %message.id, command = %command.name,
                "[{}] skipped ClickClack command from an unauthorized sender: /{} (commands.allowFrom)", self.account_id, command.name);
            return Err(self.skip());
        }
        if command.owner_only() && !self.host.is_owner(sender) {
            return Ok(CommandStep::Reply(host::owner_only_text(
                &command.name,
                sender,
            )));
        }
        let agent_mode = matches!(self.engine, ReplyEngine::Agent { .. });
        let text = match command.name.as_str() {
            "help" => host::help_text(),
            "whoami" => {
                host::whoami_text(sender, message.author.as_ref().map(|a| a.handle.as_str()))
            }
            "status" => format!(
                "🦞 OpenClaw · ClickClack\nAccount: {}\nMode: {}\nModel: {}\nSession: {}",
                self.account_id,
                if agent_mode { "agent" } else { "model" },
                self.model_name(session_key),
                session_key
            ),
            "model" if command.args.is_empty() => {
                format!("Current model: {}", self.model_name(session_key))
            }
            "model" => match self.host.set_model(session_key, &command.args) {
                Ok(()) => format!("✅ Model set to {} for this session.", command.args.trim()),
                Err(e) => format!("⚠️ {e}"),
            },
            "stop" => match self.host.stop(session_key) {
                0 => "⚙️ Nothing to stop.".to_owned(),
                _ => "⚙️ Agent was aborted.".to_owned(),
            },
            "new" | "reset" if agent_mode => return Ok(CommandStep::Continue),
            "new" | "reset" => {
                if !command.args.is_empty()
                    && let Err(e) = self.host.set_model(session_key, &command.args)
                {
                    return Ok(CommandStep::Reply(format!("⚠️ {e}")));
                }
                self.host
                    .reset_session(session_key, message.created_at.as_str());
                host::new_session_text(&self.model_name(session_key))
            }
            _ => return Ok(CommandStep::Continue),
        };
        tracing::info!(account = %self.account_id, message = %message.id, command = %command.name,
            "[{}] ClickClack command /{} handled", self.account_id, command.name);
        Ok(CommandStep::Reply(text))
    }

    /// Step 4b: the attachments, transient download failures retried in the window.
    async fn stage_attachments(
        &self,
        client: &Client,
        message: &Message,
    ) -> Result<Staged, TurnEnd> {
        if message.attachments.is_empty() {
            return Ok(Staged::default());
        }
        let images = match &self.engine {
            ReplyEngine::Model { runtime, .. } => {
                runtime.supports_images(&self.model_name(&self.session_key(message)))
            }
            ReplyEngine::Agent { .. } => true,
        };
        let max = self.host.media_max_bytes;
        let account = self.account_id.as_str();
        let result = self
            .retry
            .run(&self.intake, |attempt| async move {
                let staged = attachments::stage(client, message, max, images).await;
                if let Err(e) = &staged {
                    tracing::warn!(account = %account, attempt, error = %e,
                        "[{account}] ClickClack attachment download failed");
                }
                staged
            })
            .await;
        match result {
            Ok(staged) => Ok(staged),
            Err(GaveUp::Permanent(e) | GaveUp::WindowClosed(e)) => {
                tracing::error!(account = %account, message = %message.id, error = %e,
                    "[{account}] ClickClack attachments kept failing; the event will be read again");
                Err(TurnEnd::Replay)
            }
            Err(GaveUp::Cancelled) => Err(TurnEnd::Replay),
        }
    }

    /// Step 5 with native progress and activity rows around it when enabled.
    async fn produce_with_progress(
        &self,
        client: &Client,
        message: &Message,
        event: &InboundEvent,
        input: &TurnInput,
    ) -> Result<Result<String, LlmError>, TurnEnd> {
        let progress = self.native_progress.then(|| {
            TurnProgress::new(
                client,
                ProgressTarget {
                    workspace_id: message.workspace_id.clone(),
                    channel_id: message.channel_id.clone(),
                    direct_conversation_id: message.direct_conversation_id.clone(),
                    turn_id: message.id.as_str().to_owned(),
                },
                self.progress_label.as_deref(),
            )
        });
        let reporting = progress.is_some() || self.host.agent_activity;
        if !reporting {
            // Nothing to report to: no channel, no token, no second future
            // (a turn of a plain model-mode account pays for none of them).
            return self
                .produce(client, message, event, input, None, None)
                .await;
        }
        let (sink, reports) = tokio::sync::mpsc::channel::<AgentActivity>(64);
        let sink = Some(sink);
        let rows = self
            .host
            .agent_activity
            .then(|| ActivityRows::new(client, &self.account_id, message));
        let done = CancellationToken::new();
        let produce = async {
            if let Some(progress) = &progress {
                progress.start();
            }
            let produced = self
                .produce(client, message, event, input, sink, progress.as_ref())
                .await;
            done.cancel();
            produced
        };
        let (produced, ()) = tokio::join!(
            produce,
            drive_activity(reports, rows, progress.as_ref(), &done)
        );
        produced
    }

    /// Step 5: the reply text, or the error that closed the window. `Err(Replay)` on shutdown.
    async fn produce(
        &self,
        client: &Client,
        message: &Message,
        event: &InboundEvent,
        input: &TurnInput,
        sink: Option<ActivitySink>,
        progress: Option<&TurnProgress<'_>>,
    ) -> Result<Result<String, LlmError>, TurnEnd> {
        let _ = event;
        let Some(Ok(_slot)) = self
            .intake
            .run_until_cancelled(self.turn_slots.acquire())
            .await
        else {
            return Err(TurnEnd::Replay);
        };
        let history = match (&self.engine, self.history_limit) {
            (ReplyEngine::Model { .. }, Some(limit)) if limit > 0 => {
                let floor = self.host.history_floor(&input.session_key);
                let mut earlier = self.history(client, message, limit).await;
                if let Some(floor) = floor {
                    earlier.retain(|(created, _)| created.as_str() > floor.as_str());
                }
                earlier.into_iter().map(|(_, m)| m).collect()
            }
            _ => Vec::new(),
        };
        let running = self.host.start_turn(&input.session_key);
        let stopped = &running.token;
        let account = self.account_id.as_str();
        let deadline = Instant::now() + self.retry.window();
        let result = self
            .retry
            .run(&self.intake, |attempt| {
                let history = history.clone();
                let sink = sink.clone();
                async move {
                    if attempt > 0
                        && let Some(progress) = progress
                    {
                        progress.retrying(attempt);
                    }
                    // A model call gets what is left of the window; an agent
                    // run keeps its own (long) timeout.
                    let budget = match &self.engine {
                        ReplyEngine::Model { .. } => deadline
                            .saturating_duration_since(Instant::now())
                            .max(MIN_ENGINE_DEADLINE.min(self.retry.window())),
                        ReplyEngine::Agent { .. } => NO_DEADLINE,
                    };
                    let started = Instant::now();
                    let call = tokio::time::timeout(
                        budget,
                        stopped.run_until_cancelled(self.call_engine(input, history, sink)),
                    );
                    let outcome = match self.work.run_until_cancelled(call).await {
                        None => return Ok(None),
                        Some(Ok(None)) => return Ok(Some(None)),
                        Some(Ok(Some(outcome))) => outcome,
                        Some(Err(_)) => Err(LlmError::Timeout {
                            provider: self.engine_name(),
                            timeout: budget,
                            attempts: 1,
                        }),
                    };
                    self.metrics.observe_model_latency(started.elapsed());
                    if let Err(e) = &outcome {
                        tracing::warn!(account = %account, source = %message.id, attempt, error = %e,
                            "[{account}] ClickClack reply engine call failed");
                    }
                    outcome.map(|text| Some(Some(text)))
                }
            })
            .await;
        match result {
            Ok(Some(Some(text))) => Ok(Ok(text)),
            Ok(Some(None)) => {
                tracing::info!(account = %self.account_id, message = %message.id,
                    "[{}] ClickClack turn stopped by /stop; no reply", self.account_id);
                Err(self.skip())
            }
            Ok(None) | Err(GaveUp::Cancelled) => Err(TurnEnd::Replay),
            Err(GaveUp::Permanent(e) | GaveUp::WindowClosed(e)) => Ok(Err(e)),
        }
    }

    fn engine_name(&self) -> String {
        match &self.engine {
            ReplyEngine::Model { model, .. } => model.split('/').next().unwrap_or(model).to_owned(),
            ReplyEngine::Agent { agent_id, .. } => format!("openclaw:{agent_id}"),
        }
    }

    /// Earlier messages of the conversation as context (`historyLimit`), oldest first.
    async fn history(
        &self,
        client: &Client,
        message: &Message,
        limit: u32,
    ) -> Vec<(String, ChatMessage)> {
        let fetched: Result<Vec<Message>, ClientError> = if message.parent_message_id.is_some() {
            let query = ThreadQuery::latest().with_limit(limit.saturating_add(1).min(200));
            client
                .get_thread(&message.thread_root_id, &query)
                .await
                .map(|page| {
                    let mut all = vec![page.root];
                    all.extend(page.replies);
                    all
                })
        } else if let Some(seq) = message.channel_seq {
            let page = PageRequest::before(seq).with_limit(limit.min(200));
            match (&message.direct_conversation_id, &message.channel_id) {
                (Some(dm), _) => client.list_dm_messages(dm, &page).await.map(|p| p.messages),
                (None, Some(channel)) => client
                    .list_messages(channel, &page)
                    .await
                    .map(|p| p.messages),
                (None, None) => Ok(Vec::new()),
            }
        } else {
            Ok(Vec::new())
        };
        let mut earlier: Vec<Message> = match fetched {
            Ok(list) => list,
            Err(e) => {
                tracing::debug!(account = %self.account_id, error = %e, "conversation history unavailable; replying without it");
                return Vec::new();
            }
        };
        earlier.retain(|m| {
            m.id != message.id
                && m.created_at.as_str() <= message.created_at.as_str()
                && !m.body.trim().is_empty()
        });
        let skip = earlier
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(usize::MAX));
        earlier
            .into_iter()
            .skip(skip)
            .map(|m| {
                let created = m.created_at.as_str().to_owned();
                let chat = if m.author_id.as_str() == self.bot_user_id {
                    ChatMessage::assistant(m.body)
                } else {
                    ChatMessage::user(m.body)
                };
                (created, chat)
            })
            .collect()
    }

    /// One model completion (with `history` as context; the fallbacks in
    /// order when the model fails) or agent turn.
    async fn call_engine(
        &self,
        input: &TurnInput,
        mut messages: Vec<ChatMessage>,
        sink: Option<ActivitySink>,
    ) -> Result<String, LlmError> {
        let user = ChatMessage::user(input.text.clone()).with_images(input.images.clone());
        match &self.engine {
            ReplyEngine::Model {
                runtime,
                model,
                agent_id,
                system_prompt,
            } => {
                messages.push(user);
                let primary = input
                    .model_override
                    .clone()
                    .unwrap_or_else(|| model.clone());
                let mut first_error = None;
                for candidate in std::iter::once(&primary).chain(self.host.fallbacks.iter()) {
                    let result = runtime
                        .complete(CompletionRequest {
                            agent_id: agent_id.clone(),
                            model: candidate.clone(),
                            purpose: BOT_REPLY_PURPOSE.to_owned(),
                            system_prompt: system_prompt.clone(),
                            messages: messages.clone(),
                            max_tokens: None,
                        })
                        .await;
                    match result {
                        Ok(completion) => return Ok(completion.text),
                        Err(e) => {
                            if !self.host.fallbacks.is_empty() {
                                tracing::warn!(account = %self.account_id, model = %candidate, error = %e,
                                    "[{}] ClickClack model {candidate} failed; trying the next fallback", self.account_id);
                            }
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Err(first_error.unwrap_or(LlmError::Setup("no model to call".to_owned())))
            }
            ReplyEngine::Agent { host, agent_id } => {
                let turn = AgentTurn {
                    model_override: input.model_override.clone(),
                    ..AgentTurn::new(agent_id.clone(), input.session_key.clone(), vec![user])
                };
                let reply = match sink {
                    Some(sink) => host.run_turn_reporting(turn, sink).await,
                    None => host.run_turn(turn).await,
                };
                reply.map(|r| {
                    *input.provenance.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(r.provenance);
                    r.text
                })
            }
        }
    }

    /// Step 6: sends `text` through the account's send path (sanitised,
    /// split, one nonce per part), retrying transient failures with the same nonces.
    async fn deliver(
        &self,
        plan: &ReplyPlan,
        message: &Message,
        text: String,
        failure: bool,
    ) -> Result<TurnEnd, TurnEnd> {
        let account = self.account_id.as_str();
        let outbound = plan.outbound(text, failure);
        let sender = &self.sender;
        let work = &self.work;
        let result = self
            .retry
            .run(&self.intake, |attempt| {
                let outbound = &outbound;
                async move {
                    let sent = work
                        .run_until_cancelled(sender.send_to(&plan.destination, outbound))
                        .await;
                    match sent {
                        None => Ok(None),
                        Some(Ok(ids)) => Ok(Some(ids)),
                        Some(Err(e)) => {
                            tracing::warn!(account = %account, source = %message.id, attempt, error = %e,
                                "[{account}] ClickClack reply failed; retrying with the same nonce");
                            Err(e)
                        }
                    }
                }
            })
            .await;
        let ids = match result {
            Ok(Some(ids)) => ids,
            Ok(None) | Err(GaveUp::Cancelled) => return Err(TurnEnd::Replay),
            Err(GaveUp::Permanent(e)) => return self.undeliverable(plan, message, e).await,
            Err(GaveUp::WindowClosed(e)) => {
                tracing::error!(account = %account, source = %message.id, error = %e,
                    "[{account}] ClickClack reply kept failing; the event will be handled again");
                return Err(TurnEnd::Replay);
            }
        };
        if ids.is_empty() {
            // Sanitising left nothing visible: say so rather than stay silent.
            if failure {
                return Ok(self.skip());
            }
            tracing::warn!(account = %account, source = %message.id,
                "[{account}] ClickClack reply had no visible text after sanitising; posting a failure reply");
            return Box::pin(self.deliver(plan, message, EMPTY_ANSWER_TEXT.to_owned(), true)).await;
        }
        if failure {
            AccountMetrics::bump(&self.metrics.failed_visibly);
            tracing::warn!(account = %account, source = %message.id, reply = %ids[0],
                "[{account}] ClickClack visible failure reply delivered");
            Ok(TurnEnd::FailedVisibly(ids))
        } else {
            AccountMetrics::bump(&self.metrics.replies);
            tracing::info!(account = %account, source = %message.id, reply = %ids[0], parts = ids.len(),
                "[{account}] ClickClack reply delivered");
            Ok(TurnEnd::Answered(ids))
        }
    }

    /// Step 6 of a resumed turn: sends the parts after the `posted` ones. A
    /// model that keeps failing now leaves the posted parts as the answer
    /// (logged), rather than appending a failure notice to half an answer.
    async fn resume_delivery(
        &self,
        plan: &ReplyPlan,
        message: &Message,
        produced: Result<String, LlmError>,
        posted: Vec<MessageId>,
    ) -> Result<TurnEnd, TurnEnd> {
        let account = self.account_id.as_str();
        let text = match produced {
            Ok(text) => shape_model_reply(&text, self.response_prefix.as_deref()),
            Err(error) => {
                AccountMetrics::bump(&self.metrics.model_errors);
                tracing::error!(account = %account, source = %message.id, error = %error,
                    "[{account}] ClickClack could not produce the rest of a split reply; {} part(s) stay posted", posted.len());
                None
            }
        };
        let Some(rest) = text.and_then(|text| plan.resume(&text, posted.len())) else {
            AccountMetrics::bump(&self.metrics.replies);
            return Ok(TurnEnd::Answered(posted));
        };
        let sender = &self.sender;
        let work = &self.work;
        let result = self
            .retry
            .run(&self.intake, |_| {
                let rest = &rest;
                async move {
                    match work
                        .run_until_cancelled(sender.send_to(&plan.destination, rest))
                        .await
                    {
                        None => Ok(None),
                        Some(sent) => sent.map(Some),
                    }
                }
            })
            .await;
        match result {
            Ok(Some(ids)) => {
                AccountMetrics::bump(&self.metrics.replies);
                tracing::info!(account = %account, source = %message.id, resumed_at = posted.len(), parts = posted.len() + ids.len(),
                    "[{account}] ClickClack split reply completed");
                Ok(TurnEnd::Answered(posted.into_iter().chain(ids).collect()))
            }
            Ok(None) | Err(GaveUp::Cancelled | GaveUp::WindowClosed(_)) => Err(TurnEnd::Replay),
            Err(GaveUp::Permanent(e)) => self.undeliverable(plan, message, e).await,
        }
    }

    /// A send that a retry cannot fix: a nonce already used by an earlier
    /// run (the reply stands), a rejected token (replay), or a conversation
    /// that cannot be written to (logged and counted; the event is committed).
    async fn undeliverable(
        &self,
        plan: &ReplyPlan,
        message: &Message,
        error: SendError,
    ) -> Result<TurnEnd, TurnEnd> {
        let account = self.account_id.as_str();
        let client_error = error.client_error();
        let status = client_error
            .and_then(ClientError::status)
            .map(|s| s.as_u16());
        if client_error.is_some_and(|e| e.kind() == &ErrorKind::Unauthorized) {
            tracing::error!(account = %account, error = %error, "[{account}] ClickClack rejected the bot token while replying");
            return Err(TurnEnd::Replay);
        }
        if client_error.is_some_and(|e| e.kind() == &ErrorKind::Conflict) && status == Some(400) {
            // The nonce names an earlier reply with another body: that reply stands.
            let existing = self.already_answered(plan).await?;
            AccountMetrics::bump(&self.metrics.replies);
            tracing::info!(account = %account, source = %message.id,
                "[{account}] ClickClack reply already delivered (nonce used by an earlier reply); not sending again");
            return Ok(TurnEnd::Answered(existing.into_iter().collect()));
        }
        AccountMetrics::bump(&self.metrics.undeliverable);
        if let SendError::ClickClack(crate::errors::ClickClackError::MissingScope { scope }) =
            &error
        {
            tracing::error!(account = %account, source = %message.id, scope = %scope,
                "[{account}] ClickClack cannot reply: bot token is missing scope {scope}; the token needs bot:write (mint one with --scopes bot:write)");
        } else {
            tracing::error!(account = %account, source = %message.id, error = %error,
                "[{account}] ClickClack cannot deliver the reply (not retried): {error}");
        }
        Ok(TurnEnd::Skipped)
    }
}

/// Writes a turn's activity rows and progress lines as the agent reports
/// them, with their coalescing windows ([`super::activity`],
/// [`super::progress`]), until the turn has produced its reply and every
/// report is in; then writes what is left of the rows and clears the
/// progress.
async fn drive_activity(
    mut reports: tokio::sync::mpsc::Receiver<AgentActivity>,
    mut rows: Option<ActivityRows<'_>>,
    progress: Option<&TurnProgress<'_>>,
    done: &CancellationToken,
) {
    let mut open = true;
    let mut produced = false;
    while open || !produced {
        let due = [
            rows.as_ref().and_then(ActivityRows::next_due),
            progress.and_then(TurnProgress::next_due),
        ]
        .into_iter()
        .flatten()
        .min();
        tokio::select! {
            item = reports.recv(), if open => match item {
                Some(item) => {
                    if let Some(rows) = rows.as_mut() {
                        rows.report(&item, Instant::now());
                    }
                    if let (Some(progress), Some(line)) = (progress, progress_line(&item)) {
                        progress.line(line);
                    }
                }
                None => open = false,
            },
            () = done.cancelled(), if !produced => produced = true,
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {}
        }
        let now = Instant::now();
        if let Some(rows) = rows.as_mut() {
            rows.flush_due(now).await;
        }
        if let Some(progress) = progress
            && progress.next_due().is_some_and(|due| due <= now)
        {
            progress.flush().await;
        }
    }
    if let Some(rows) = rows.as_mut() {
        rows.flush_all().await;
    }
    if let Some(progress) = progress {
        progress.finish().await;
    }
}

/// The progress line of an activity item (`None` for items that are not lines).
fn progress_line(item: &AgentActivity) -> Option<ProgressLine> {
    Some(match item {
        AgentActivity::Commentary { id, text, .. } => ProgressLine {
            id: format!("commentary:{id}"),
            kind: "commentary".to_owned(),
            text: text.chars().take(280).collect(),
            status: "running".to_owned(),
            tool_name: None,
        },
        AgentActivity::Tool { id, name, text } => ProgressLine {
            id: format!("tool:{id}"),
            kind: "tool".to_owned(),
            text: text.clone(),
            status: "running".to_owned(),
            tool_name: Some(name.clone()),
        },
        AgentActivity::Model(_) => return None,
    })
}
