//! The inbound decision for one fetched message (reference rows 28–31).

use super::config::InboundPolicy;
use super::loop_guard::{BotLoopGuard, BotLoopSubject, LoopVerdict};
use super::mention::MentionFacts;
use crate::config::AllowBots;

/// The facts about one authoritative (re-fetched) message that the policy needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InboundFacts<'a> {
    /// Message id.
    pub message_id: &'a str,
    /// Author user id.
    pub author_id: &'a str,
    /// `author.kind == "bot"`.
    pub author_is_bot: bool,
    /// `message.kind`; `None` or `"message"` are chat messages, anything else
    /// (`agent_commentary`, `agent_tool`, …) is never dispatched.
    pub kind: Option<&'a str>,
    /// Message body (markdown).
    pub body: &'a str,
    /// Workspace id (the bot-loop scope).
    pub workspace_id: &'a str,
    /// Channel id (`None` for direct messages).
    pub channel_id: Option<&'a str>,
    /// Direct conversation id; `Some` makes this a direct message.
    pub direct_conversation_id: Option<&'a str>,
    /// Thread root message id.
    pub thread_root_id: Option<&'a str>,
    /// Parent message id (set on thread replies).
    pub parent_message_id: Option<&'a str>,
    /// This account's bot user id.
    pub bot_user_id: &'a str,
    /// This account's bot handle (from `/api/me`), with or without `@`.
    pub bot_handle: Option<&'a str>,
}

impl InboundFacts<'_> {
    /// Whether the message is a direct message (has a direct conversation id).
    pub fn is_direct(&self) -> bool {
        self.direct_conversation_id.is_some()
    }

    /// `dm` or `group`, as in the reference log line.
    pub fn kind_label(&self) -> &'static str {
        if self.is_direct() { "dm" } else { "group" }
    }

    /// Whether the message is a chat message (`kind` absent or `message`).
    pub fn is_chat_message(&self) -> bool {
        self.kind.is_none_or(|k| k == "message")
    }

    /// The bot-loop conversation id: the thread root inside a thread, else the
    /// DM conversation (or author) id, else the channel (or thread root, or author) id.
    pub fn loop_conversation_id(&self) -> &str {
        if let (Some(_), Some(root)) = (self.parent_message_id, self.thread_root_id) {
            return root;
        }
        if self.is_direct() {
            self.direct_conversation_id.unwrap_or(self.author_id)
        } else {
            self.channel_id
                .or(self.thread_root_id)
                .unwrap_or(self.author_id)
        }
    }
}

/// Why a message was not dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// Written by this bot (silently dropped).
    SelfAuthored,
    /// `message.kind` is not `message`.
    NonChatKind {
        /// The kind found.
        kind: String,
    },
    /// A bot author and the effective `allowBots` refused it.
    BotsNotAllowed {
        /// The effective `allowBots`.
        allow_bots: AllowBots,
    },
    /// The sender is not in `allowFrom` (bots must be listed by id).
    SenderNotAllowed,
    /// A group message without the required mention.
    MentionRequired,
    /// The bot-loop guard suppressed this bot pair.
    BotLoop {
        /// End of the cooldown (same scale as the `now_ms` passed in).
        until_ms: u64,
    },
}

/// How loud a drop should be logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Not logged (own messages).
    Silent,
    /// `debug`.
    Debug,
    /// `info` (access drops, like the reference).
    Info,
    /// `warn`.
    Warn,
}

/// A dropped message: the reason and the log line to emit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: DropReason,
    /// The log line (exact reference strings where the reference logs one).
    pub log_line: String,
    /// The level to log it at.
    pub level: LogLevel,
}

/// An admitted message and the facts the turn needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// Mention facts (`WasMentioned` for the agent context).
    pub mention: MentionFacts,
    /// Effective `requireMention`.
    pub require_mention: bool,
    /// The sender passed `allowFrom` (no text-command detection outside a host).
    pub command_authorized: bool,
    /// Present for bot-authored messages: feed it to [`BotLoopGuard::check`].
    pub bot_loop: Option<BotLoopSubject>,
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start a turn.
    Dispatch(Admission),
    /// Do not start a turn (commit the event anyway).
    Drop(Rejection),
}

impl Decision {
    /// Whether the decision is [`Decision::Dispatch`].
    pub fn is_dispatch(&self) -> bool {
        matches!(self, Decision::Dispatch(_))
    }

    /// The drop reason, if dropped.
    pub fn drop_reason(&self) -> Option<&DropReason> {
        match self {
            Decision::Drop(rejection) => Some(&rejection.reason),
            Decision::Dispatch(_) => None,
        }
    }
}

/// The reference's access-drop line:
/// `[<acct>] skipped ClickClack message before agent dispatch: kind=<dm|group>
/// requireMention=<b> wasMentioned=<b> hasAnyMention=<b|unknown> commandAuthorized=<b>`.
pub fn access_drop_log_line(
    account_id: &str,
    kind_label: &str,
    require_mention: bool,
    mention: &MentionFacts,
    command_authorized: bool,
) -> String {
    let has_any = match mention.has_any_mention {
        Some(true) => "true",
        Some(false) => "false",
        None => "unknown",
    };
    format!(
        "[{account_id}] skipped ClickClack message before agent dispatch: kind={kind_label} \
         requireMention={require_mention} wasMentioned={} hasAnyMention={has_any} \
         commandAuthorized={command_authorized}",
        mention.was_mentioned
    )
}

impl InboundPolicy {
    /// Decides whether a fetched message starts a turn (rows 28–31), without
    /// the stateful bot-loop guard (see [`InboundPolicy::decide`]).
    ///
    /// Order: own message (silent) → non-`message` kind → `allowBots` for bot
    /// authors → `allowFrom` (wildcard not admitting bots) → mention gating
    /// (groups only; DMs are never gated). Every drop except the first is
    /// logged with the reference's `skipped ClickClack message before agent
    /// dispatch` line.
    pub fn evaluate(&self, facts: &InboundFacts<'_>) -> Decision {
        if !facts.bot_user_id.is_empty() && facts.author_id == facts.bot_user_id {
            return Decision::Drop(Rejection {
                reason: DropReason::SelfAuthored,
                log_line: format!(
                    "[{}] skipped own ClickClack message {}",
                    self.account_id, facts.message_id
                ),
                level: LogLevel::Silent,
            });
        }
        let direct = facts.is_direct();
        let group = self.group_policy(facts.channel_id);
        let mention = if direct {
            MentionFacts::DIRECT
        } else {
            MentionFacts::for_group(facts.body, facts.bot_handle, group.mention_patterns)
        };
        let drop = |reason: DropReason, command_authorized: bool| {
            Decision::Drop(Rejection {
                log_line: access_drop_log_line(
                    &self.account_id,
                    facts.kind_label(),
                    group.require_mention,
                    &mention,
                    command_authorized,
                ),
                reason,
                level: LogLevel::Info,
            })
        };
        if !facts.is_chat_message() {
            let kind = facts.kind.unwrap_or_default().to_owned();
            return drop(DropReason::NonChatKind { kind }, false);
        }
        let bots = self.bot_policy(facts.channel_id);
        if facts.author_is_bot {
            let allowed = match bots.allow_bots {
                AllowBots::False => false,
                AllowBots::True => true,
                AllowBots::Mentions => direct || mention.was_mentioned,
            };
            if !allowed {
                let allow_bots = bots.allow_bots;
                return drop(DropReason::BotsNotAllowed { allow_bots }, false);
            }
        }
        if !self.allow_list.allows(facts.author_id, facts.author_is_bot) {
            return drop(DropReason::SenderNotAllowed, false);
        }
        if !direct && group.require_mention && !mention.was_mentioned {
            return drop(DropReason::MentionRequired, true);
        }
        let bot_loop =
            (facts.author_is_bot && !facts.bot_user_id.is_empty()).then(|| BotLoopSubject {
                scope_id: facts.workspace_id.to_owned(),
                conversation_id: facts.loop_conversation_id().to_owned(),
                sender_id: facts.author_id.to_owned(),
                receiver_id: facts.bot_user_id.to_owned(),
                event_id: facts.message_id.to_owned(),
                settings: bots.bot_loop,
            });
        Decision::Dispatch(Admission {
            mention,
            require_mention: group.require_mention,
            command_authorized: true,
            bot_loop,
        })
    }

    /// [`InboundPolicy::evaluate`] followed by the bot-loop guard for admitted
    /// bot-authored messages (checked before any model call, row 35).
    /// `now_ms` is the message time in milliseconds.
    pub fn decide(&self, facts: &InboundFacts<'_>, guard: &BotLoopGuard, now_ms: u64) -> Decision {
        let decision = self.evaluate(facts);
        let Decision::Dispatch(admission) = &decision else {
            return decision;
        };
        let Some(subject) = &admission.bot_loop else {
            return decision;
        };
        match guard.check(subject, now_ms) {
            LoopVerdict::Allowed => decision,
            LoopVerdict::Suppressed { until_ms } => Decision::Drop(Rejection {
                log_line: format!(
                    "[{}] suppressed ClickClack bot message by loop protection: \
                     conversation={} sender={} messageId={} cooldownSeconds={}",
                    self.account_id,
                    subject.conversation_id,
                    subject.sender_id,
                    subject.event_id,
                    subject.settings.cooldown_seconds
                ),
                reason: DropReason::BotLoop { until_ms },
                level: LogLevel::Warn,
            }),
        }
    }
}
