//! Inbound policy: who may start a turn, and when (reference rows 28–31).
//!
//! Pure functions over small input structs. Build an [`InboundPolicy`] once per
//! account from its [`ResolvedAccount`](crate::accounts::ResolvedAccount) (the
//! one account-config representation; regexes compiled, invalid
//! `mentionPatterns` reported with their config path), then call
//! [`InboundPolicy::decide`] for every authoritative message:
//!
//! ```
//! use openclaw_clickclack::accounts::resolve_account;
//! use openclaw_clickclack::config::{MapEnv, parse_config_str};
//! use openclaw_clickclack::policy::{BotLoopGuard, Decision, InboundFacts, InboundPolicy};
//!
//! let env = MapEnv::new();
//! let config = parse_config_str(
//!     r#"{ channels: { clickclack: { accounts: { work: { requireMention: true } } } } }"#,
//!     &env,
//! )?;
//! let policy = InboundPolicy::new(&resolve_account(&config, Some("work"), &env)?)?;
//! let guard = BotLoopGuard::new();
//! let facts = InboundFacts {
//!     message_id: "msg_1",
//!     author_id: "usr_alice",
//!     body: "hello @helper",
//!     workspace_id: "wsp_1",
//!     channel_id: Some("chn_1"),
//!     bot_user_id: "usr_bot",
//!     bot_handle: Some("helper"),
//!     ..Default::default()
//! };
//! assert!(policy.decide(&facts, &guard, 0).is_dispatch());
//!
//! let unmentioned = InboundFacts { body: "hello", ..facts };
//! let Decision::Drop(rejection) = policy.decide(&unmentioned, &guard, 0) else { unreachable!() };
//! assert_eq!(
//!     rejection.log_line,
//!     "[work] skipped ClickClack message before agent dispatch: kind=group requireMention=true \
//!      wasMentioned=false hasAnyMention=false commandAuthorized=true"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod allow_from;
mod config;
mod decision;
mod loop_guard;
mod mention;

pub use allow_from::{AllowList, normalize_user_id};
pub use config::{InboundPolicy, PolicyConfigError};
pub use decision::{
    Admission, Decision, DropReason, InboundFacts, LogLevel, Rejection, access_drop_log_line,
};
pub use loop_guard::{
    BotLoopGuard, BotLoopSettings, BotLoopSubject, DEFAULT_MAX_TRACKED_PAIRS, LoopVerdict,
};
pub use mention::{MentionFacts, mention_handles, normalize_handle};

#[cfg(test)]
mod tests;
