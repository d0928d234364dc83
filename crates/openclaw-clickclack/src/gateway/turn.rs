//! One inbound turn: fetch → filters → policy → reply → send → done.
//!
//! A turn ends in [`JobOutcome::Done`] when its event may be committed —
//! answered, deliberately skipped, or failed permanently (logged) — and in
//! [`JobOutcome::Retry`] only when the account is shutting down or its token
//! was rejected, so the event is replayed by the next run. Transient REST
//! failures are retried here with backoff (same nonce), so they never stop
//! the account.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickclack_client::{Client, Error as ClientError, ErrorKind, PageRequest, ThreadQuery};
use clickclack_proto::objects::{Message, UserKind};
use tokio::sync::watch;

use super::catch_up::{Clock, skipped_old_log_line, timestamp_ms, too_old};
use super::engine::ReplyEngine;
use super::events::{InboundEvent, unreadable_log_line};
use super::metrics::AccountMetrics;
use super::progress::{self, ProgressTarget};
use super::send::{Delivered, reply_nonce, send_reply};
use crate::agent_host::{AgentTurn, session_key};
use crate::llm::{BOT_REPLY_PURPOSE, ChatMessage, CompletionRequest, LlmError};
use crate::policy::{BotLoopGuard, Decision, InboundFacts, InboundPolicy, LogLevel};
use crate::reply::{no_sendable_text_log_line, shape_model_reply};
use crate::scheduler::JobOutcome;

/// Extra rounds (with backoff) when the model or agent endpoint cannot be
/// reached at all, on top of the runtime's own retries.
const UNREACHABLE_ENGINE_RETRIES: u32 = 5;

/// Everything a turn of one account needs (shared by its turns).
#[derive(Debug)]
pub(crate) struct AccountRuntime {
    pub(crate) account_id: String,
    pub(crate) client: Client,
    pub(crate) workspace_id: String,
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
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) retry_base: Duration,
}

/// Why a step stopped the turn.
enum Stop {
    /// Commit the event (answered, skipped, or failed for good).
    Done,
    /// Do not commit: replay later.
    Retry,
}

/// Whether a REST failure is worth retrying with backoff: anything the
/// client itself calls retryable, plus 5xx server errors.
pub(super) fn is_transient(e: &ClientError) -> bool {
    e.is_retryable() || matches!(e.kind(), ErrorKind::Server)
}

/// Waits a jittered delay before retry `attempt`: full jitter over
/// `base · 2^attempt`, capped at 30 s. `false` when shutdown began (before or
/// during the wait).
pub(super) async fn backoff_or_shutdown(
    base: Duration,
    attempt: u32,
    shutdown: &watch::Receiver<bool>,
) -> bool {
    let ceiling = base
        .saturating_mul(1u32 << attempt.min(10))
        .min(Duration::from_secs(30));
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    let delay = Duration::from_nanos(fastrand::u64(0..=nanos.max(1)));
    let mut changes = shutdown.clone();
    tokio::select! {
        _ = tokio::time::sleep(delay) => !*shutdown.borrow(),
        _ = changes.wait_for(|s| *s) => false,
    }
}

impl AccountRuntime {
    fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Waits before retry `attempt` (full jitter, capped at 30 s). `false` when shutting down.
    async fn backoff(&self, attempt: u32) -> bool {
        backoff_or_shutdown(self.retry_base, attempt, &self.shutdown).await
    }

    fn skip(&self) {
        AccountMetrics::bump(&self.metrics.skipped);
    }

    /// Runs one turn; see the module docs for the outcome.
    pub(crate) async fn run_turn(self: Arc<Self>, event: InboundEvent) -> JobOutcome {
        // Shutdown began before this turn started: leave it for the next run.
        if self.shutting_down() {
            return JobOutcome::Retry;
        }
        match self.turn(&event).await {
            Ok(()) | Err(Stop::Done) => JobOutcome::Done,
            Err(Stop::Retry) => JobOutcome::Retry,
        }
    }

    fn check_age(
        &self,
        event: &InboundEvent,
        created_ms: Option<i64>,
        message_id: &str,
    ) -> Result<(), Stop> {
        let Some(created_ms) = created_ms.filter(|_| event.catch_up) else {
            return Ok(());
        };
        if let Some(age) = too_old(created_ms, self.clock.now_ms(), self.catch_up_max_age) {
            let line =
                skipped_old_log_line(&self.account_id, message_id, age, self.catch_up_max_age);
            tracing::info!(account = %self.account_id, message = %message_id, "{line}");
            self.skip();
            return Err(Stop::Done);
        }
        Ok(())
    }

    async fn turn(&self, event: &InboundEvent) -> Result<(), Stop> {
        let account = self.account_id.as_str();
        let message_id = event.message_id.as_str();
        if event
            .author_id
            .as_ref()
            .is_some_and(|a| a.as_str() == self.bot_user_id)
        {
            return Err(Stop::Done);
        }
        // Catch-up limit, from the event time (no fetch needed for old backlog).
        self.check_age(event, timestamp_ms(&event.created_at), message_id)?;

        // Row 25: the validated correlation id rides on every request of the turn.
        let client = match event.correlation_id.as_deref() {
            Some(id) => self
                .client
                .with_correlation_id(id)
                .unwrap_or_else(|_| self.client.clone()),
            None => self.client.clone(),
        };
        let message = self.fetch(&client, event).await?;
        if message.author_id.as_str() == self.bot_user_id {
            return Err(Stop::Done);
        }
        self.check_age(event, timestamp_ms(&message.created_at), message_id)?;

        let facts = InboundFacts {
            message_id,
            author_id: message.author_id.as_str(),
            author_is_bot: message
                .author
                .as_ref()
                .is_some_and(|a| a.kind == UserKind::Bot),
            kind: message.kind.as_ref().map(|k| k.as_str()),
            body: &message.body,
            workspace_id: &self.workspace_id,
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
        if let Decision::Drop(rejection) = self.policy.decide(&facts, &self.guard, now_ms) {
            let line = &rejection.log_line;
            match rejection.level {
                LogLevel::Silent => {}
                LogLevel::Debug => {
                    tracing::debug!(account = %account, message = %message_id, "{line}")
                }
                LogLevel::Info => {
                    tracing::info!(account = %account, message = %message_id, "{line}")
                }
                LogLevel::Warn => {
                    tracing::warn!(account = %account, message = %message_id, "{line}")
                }
            }
            self.skip();
            return Err(Stop::Done);
        }

        let progress_target = self.native_progress.then(|| ProgressTarget {
            workspace_id: message.workspace_id.clone(),
            channel_id: message.channel_id.clone(),
            direct_conversation_id: message.direct_conversation_id.clone(),
            turn_id: message.id.as_str().to_owned(),
        });
        let produce = self.produce(&client, &message, event);
        let text = match &progress_target {
            Some(target) => {
                let (_, text) = tokio::join!(
                    progress::start(&client, target, self.progress_label.as_deref()),
                    produce
                );
                progress::clear(&client, target).await;
                text
            }
            None => produce.await,
        }?;
        let Some(body) = shape_model_reply(&text, self.response_prefix.as_deref()) else {
            let line = no_sendable_text_log_line(account);
            tracing::warn!(account = %account, message = %message_id, "{line}");
            self.skip();
            return Err(Stop::Done);
        };
        self.deliver(&client, &message, &body).await
    }

    /// Re-fetches the message (row 24): 404 → warning and skip; transient → retry.
    async fn fetch(&self, client: &Client, event: &InboundEvent) -> Result<Message, Stop> {
        let mut attempt = 0;
        loop {
            match client.get_message(&event.message_id).await {
                Ok(message) => return Ok(message),
                Err(e) if e.kind() == &ErrorKind::NotFound => {
                    let line = unreadable_log_line(
                        &self.account_id,
                        event.event_type,
                        event.message_id.as_str(),
                    );
                    tracing::warn!(account = %self.account_id, "{line}");
                    self.skip();
                    return Err(Stop::Done);
                }
                Err(e) if e.kind() == &ErrorKind::Unauthorized => {
                    tracing::error!(account = %self.account_id, error = %e, "[{}] ClickClack rejected the bot token while fetching a message", self.account_id);
                    return Err(Stop::Retry);
                }
                Err(e) if is_transient(&e) => {
                    attempt += 1;
                    tracing::warn!(account = %self.account_id, attempt, error = %e, "[{}] ClickClack message fetch failed; retrying", self.account_id);
                    if !self.backoff(attempt).await {
                        return Err(Stop::Retry);
                    }
                }
                Err(e) => {
                    tracing::warn!(account = %self.account_id, error = %e,
                        "[{}] ClickClack message fetch failed; skipping: type={} messageId={}",
                        self.account_id, event.event_type, event.message_id);
                    self.skip();
                    return Err(Stop::Done);
                }
            }
        }
    }

    /// Earlier messages of the conversation as context (`historyLimit`), oldest first.
    async fn history(&self, client: &Client, message: &Message, limit: u32) -> Vec<ChatMessage> {
        let fetched: Result<Vec<Message>, ClientError> = if message.parent_message_id.is_some() {
            let query = ThreadQuery {
                limit: Some(limit.saturating_add(1).min(200)),
                latest: true,
                ..ThreadQuery::default()
            };
            client
                .get_thread(&message.thread_root_id, &query)
                .await
                .map(|page| {
                    let mut all = vec![page.root];
                    all.extend(page.replies);
                    all
                })
        } else if let Some(seq) = message.channel_seq {
            let page = PageRequest::before(seq).limit(limit.min(200));
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
                if m.author_id.as_str() == self.bot_user_id {
                    ChatMessage::assistant(m.body)
                } else {
                    ChatMessage::user(m.body)
                }
            })
            .collect()
    }

    /// Produces the reply text with the account's engine. A failure is logged
    /// and the event committed (it never wedges the account).
    async fn produce(
        &self,
        client: &Client,
        message: &Message,
        event: &InboundEvent,
    ) -> Result<String, Stop> {
        let account = self.account_id.as_str();
        let history = match (&self.engine, self.history_limit) {
            (ReplyEngine::Model { .. }, Some(limit)) if limit > 0 => {
                self.history(client, message, limit).await
            }
            _ => Vec::new(),
        };
        let mut attempt = 0;
        let result = loop {
            let started = Instant::now();
            let result = self.call_engine(message, event, history.clone()).await;
            self.metrics.observe_model_latency(started.elapsed());
            match &result {
                // The model / agent endpoint was not reachable at all, so the
                // call certainly did not run: wait and try again (bounded).
                Err(LlmError::Transport { connect: true, .. })
                    if attempt < UNREACHABLE_ENGINE_RETRIES =>
                {
                    attempt += 1;
                    tracing::warn!(account = %account, attempt, "[{account}] ClickClack reply engine unreachable; retrying");
                    if !self.backoff(attempt).await {
                        return Err(Stop::Retry);
                    }
                }
                _ => break result,
            }
        };
        result.map_err(|e| {
            AccountMetrics::bump(&self.metrics.model_errors);
            tracing::error!(account = %account, message = %message.id, error = %e,
                "[{account}] ClickClack model reply failed; the message is not answered: {e}");
            Stop::Done
        })
    }

    /// One model completion (row 35, plus `history` as context) or agent turn.
    async fn call_engine(
        &self,
        message: &Message,
        event: &InboundEvent,
        mut messages: Vec<ChatMessage>,
    ) -> Result<String, LlmError> {
        match &self.engine {
            ReplyEngine::Model {
                runtime,
                model,
                agent_id,
                system_prompt,
            } => {
                messages.push(ChatMessage::user(message.body.clone()));
                runtime
                    .complete(CompletionRequest {
                        agent_id: agent_id.clone(),
                        model: model.clone(),
                        purpose: BOT_REPLY_PURPOSE.to_owned(),
                        system_prompt: system_prompt.clone(),
                        messages,
                        max_tokens: None,
                    })
                    .await
                    .map(|c| c.text)
            }
            ReplyEngine::Agent { host, agent_id } => host
                .run_turn(AgentTurn {
                    agent_id: agent_id.clone(),
                    session_key: session_key(agent_id, &self.account_id, &event.conversation),
                    messages: vec![ChatMessage::user(message.body.clone())],
                })
                .await
                .map(|r| r.text),
        }
    }

    /// Sends the reply (part 0) with its deterministic nonce, retrying transient failures.
    async fn deliver(&self, client: &Client, message: &Message, body: &str) -> Result<(), Stop> {
        let account = self.account_id.as_str();
        let nonce = reply_nonce(account, message.id.as_str(), 0);
        let mut attempt = 0;
        loop {
            match send_reply(client, message, body, &nonce).await {
                Ok(Delivered::Sent(id)) => {
                    AccountMetrics::bump(&self.metrics.replies);
                    tracing::info!(account = %account, source = %message.id, reply = %id, "[{account}] ClickClack reply delivered");
                    return Ok(());
                }
                Ok(Delivered::AlreadyDelivered) => {
                    AccountMetrics::bump(&self.metrics.replies);
                    tracing::info!(account = %account, source = %message.id,
                        "[{account}] ClickClack reply already delivered (nonce conflict); not sending again");
                    return Ok(());
                }
                Err(e) if e.kind() == &ErrorKind::Unauthorized => {
                    tracing::error!(account = %account, error = %e, "[{account}] ClickClack rejected the bot token while replying");
                    return Err(Stop::Retry);
                }
                Err(e) if is_transient(&e) => {
                    attempt += 1;
                    tracing::warn!(account = %account, attempt, error = %e, "[{account}] ClickClack reply failed; retrying with the same nonce");
                    if !self.backoff(attempt).await {
                        return Err(Stop::Retry);
                    }
                }
                Err(e) => {
                    if let ErrorKind::MissingScope { scope } = e.kind() {
                        tracing::error!(account = %account, source = %message.id, scope = %scope,
                            "[{account}] ClickClack cannot reply: bot token is missing scope {scope}; the token needs bot:write (mint one with --scopes bot:write)");
                        return Err(Stop::Done);
                    }
                    tracing::error!(account = %account, source = %message.id, error = %e,
                        "[{account}] ClickClack reply failed permanently: {e}");
                    return Err(Stop::Done);
                }
            }
        }
    }
}
