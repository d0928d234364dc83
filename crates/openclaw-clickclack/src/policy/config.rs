//! The inbound policy of one account (reference rows 28–31), compiled from
//! the account's [`ResolvedAccount`]: the policy reads the one account-config
//! representation, it has no config types of its own.

use std::collections::BTreeMap;

use super::allow_from::AllowList;
use super::loop_guard::BotLoopSettings;
use crate::accounts::ResolvedAccount;
use crate::config::{AllowBots, BotLoopProtection};
use regex::{Regex, RegexBuilder};

/// Upper bound on the compiled size of one `mentionPatterns` regex.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The built-in bot-loop settings with the fields `config` sets laid over them.
fn resolve_bot_loop(config: &BotLoopProtection) -> BotLoopSettings {
    let d = BotLoopSettings::default();
    let narrow =
        |v: Option<u64>, default: u32| v.map_or(default, |v| u32::try_from(v).unwrap_or(u32::MAX));
    BotLoopSettings {
        enabled: config.enabled.unwrap_or(d.enabled),
        max_events_per_window: narrow(config.max_events_per_window, d.max_events_per_window),
        window_seconds: narrow(config.window_seconds, d.window_seconds),
        cooldown_seconds: narrow(config.cooldown_seconds, d.cooldown_seconds),
    }
}

/// Rejects a zero `botLoopProtection` number (the schema already does for
/// files; this guards accounts built in code).
fn validate_bot_loop(config: &BotLoopProtection, path: &str) -> Result<(), PolicyConfigError> {
    for (field, value) in [
        ("maxEventsPerWindow", config.max_events_per_window),
        ("windowSeconds", config.window_seconds),
        ("cooldownSeconds", config.cooldown_seconds),
    ] {
        if value == Some(0) {
            return Err(PolicyConfigError::NotPositive {
                path: format!("{path}.botLoopProtection.{field}"),
            });
        }
    }
    Ok(())
}

/// An invalid inbound policy value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyConfigError {
    /// A `mentionPatterns` entry is not a valid regular expression.
    #[error("invalid regular expression at {path}: {source}")]
    InvalidMentionPattern {
        /// Config path of the entry, e.g. `channels.clickclack.groups.chn_1.mentionPatterns[0]`.
        path: String,
        /// The regex compiler's error.
        #[source]
        source: regex::Error,
    },
    /// A `botLoopProtection` number is zero.
    #[error("{path} must be a positive integer")]
    NotPositive {
        /// Config path of the value.
        path: String,
    },
}

/// A compiled group override.
#[derive(Debug, Clone)]
pub(crate) struct CompiledGroup {
    pub(crate) require_mention: Option<bool>,
    pub(crate) mention_patterns: Option<Vec<Regex>>,
    pub(crate) allow_bots: Option<AllowBots>,
    pub(crate) bot_loop_protection: Option<BotLoopProtection>,
}

/// The effective group policy for one message (row 31).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EffectiveGroupPolicy<'p> {
    pub(crate) require_mention: bool,
    pub(crate) mention_patterns: &'p [Regex],
}

/// The effective bot policy for one message (row 28).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EffectiveBotPolicy {
    pub(crate) allow_bots: AllowBots,
    pub(crate) bot_loop: BotLoopSettings,
}

/// The policy keys of a [`ResolvedAccount`], validated and compiled (regexes
/// built once).
#[derive(Debug, Clone)]
pub struct InboundPolicy {
    pub(crate) account_id: String,
    pub(crate) allow_list: AllowList,
    pub(crate) allow_bots: AllowBots,
    pub(crate) require_mention: bool,
    pub(crate) mention_patterns: Vec<Regex>,
    pub(crate) groups: BTreeMap<String, CompiledGroup>,
    pub(crate) bot_loop_base: BotLoopProtection,
}

fn compile_patterns(patterns: &[String], path: &str) -> Result<Vec<Regex>, PolicyConfigError> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, pattern)| {
            RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|source| PolicyConfigError::InvalidMentionPattern {
                    path: format!("{path}.mentionPatterns[{i}]"),
                    source,
                })
        })
        .collect()
}

impl InboundPolicy {
    /// Validates and compiles the policy of `account`. Errors name the config
    /// path of the offending value (e.g.
    /// `channels.clickclack.accounts.work.groups.chn_1.mentionPatterns[0]`).
    pub fn new(account: &ResolvedAccount) -> Result<InboundPolicy, PolicyConfigError> {
        let path = account.config_path();
        let path = path.as_str();
        let defaults = account.bot_loop_defaults.unwrap_or_default();
        let own = account.bot_loop_protection.unwrap_or_default();
        validate_bot_loop(&defaults, "channels.defaults")?;
        validate_bot_loop(&own, path)?;
        let mention_patterns = compile_patterns(&account.mention_patterns, path)?;
        let mut groups = BTreeMap::new();
        for (key, group) in &account.groups {
            let group_path = format!("{path}.groups.{key}");
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            if let Some(blp) = &group.bot_loop_protection {
                validate_bot_loop(blp, &group_path)?;
            }
            let mention_patterns = group
                .mention_patterns
                .as_deref()
                .map(|p| compile_patterns(p, &group_path))
                .transpose()?;
            groups.insert(
                key.to_owned(),
                CompiledGroup {
                    require_mention: group.require_mention,
                    mention_patterns,
                    allow_bots: group.allow_bots,
                    bot_loop_protection: group.bot_loop_protection,
                },
            );
        }
        Ok(InboundPolicy {
            account_id: account.account_id.clone(),
            allow_list: AllowList::new(&account.allow_from),
            allow_bots: account.allow_bots,
            require_mention: account.require_mention,
            mention_patterns,
            groups,
            bot_loop_base: defaults.merged_with(own),
        })
    }

    /// The account id this policy belongs to.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// `(exact, wildcard)` group entries; groups only apply when a channel id exists.
    fn group_entries(
        &self,
        channel_id: Option<&str>,
    ) -> (Option<&CompiledGroup>, Option<&CompiledGroup>) {
        match channel_id.map(str::trim).filter(|c| !c.is_empty()) {
            Some(channel) => (self.groups.get(channel), self.groups.get("*")),
            None => (None, None),
        }
    }

    /// Effective `requireMention` / `mentionPatterns`: exact group → `"*"` → account.
    pub(crate) fn group_policy(&self, channel_id: Option<&str>) -> EffectiveGroupPolicy<'_> {
        let (exact, wildcard) = self.group_entries(channel_id);
        let require_mention = exact
            .and_then(|g| g.require_mention)
            .or_else(|| wildcard.and_then(|g| g.require_mention))
            .unwrap_or(self.require_mention);
        let mention_patterns = exact
            .and_then(|g| g.mention_patterns.as_deref())
            .or_else(|| wildcard.and_then(|g| g.mention_patterns.as_deref()))
            .unwrap_or(&self.mention_patterns);
        EffectiveGroupPolicy {
            require_mention,
            mention_patterns,
        }
    }

    /// Effective `allowBots` (exact → `"*"` → account → false) and
    /// `botLoopProtection` (defaults → account → `"*"` → exact, per field).
    pub(crate) fn bot_policy(&self, channel_id: Option<&str>) -> EffectiveBotPolicy {
        let (exact, wildcard) = self.group_entries(channel_id);
        let allow_bots = exact
            .and_then(|g| g.allow_bots)
            .or_else(|| wildcard.and_then(|g| g.allow_bots))
            .unwrap_or(self.allow_bots);
        let mut blp = self.bot_loop_base;
        for group in [wildcard, exact].into_iter().flatten() {
            if let Some(over) = &group.bot_loop_protection {
                blp = blp.merged_with(*over);
            }
        }
        EffectiveBotPolicy {
            allow_bots,
            bot_loop: resolve_bot_loop(&blp),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GroupConfig;

    fn config() -> ResolvedAccount {
        let mut account = crate::accounts::resolve_account(
            &crate::config::OpenClawConfig::default(),
            Some("work"),
            &crate::config::MapEnv::new(),
        )
        .unwrap();
        account.require_mention = true;
        account.mention_patterns = vec!["@account-bot".into()];
        account
    }

    #[test]
    fn exact_channel_rule_overrides_wildcard() {
        let mut cfg = config();
        cfg.groups.insert(
            "*".into(),
            GroupConfig {
                require_mention: Some(true),
                mention_patterns: Some(vec!["wild".into()]),
                ..Default::default()
            },
        );
        cfg.groups.insert(
            " chn_1 ".into(),
            GroupConfig {
                require_mention: Some(false),
                ..Default::default()
            },
        );
        let policy = InboundPolicy::new(&cfg).unwrap();
        let p = policy.group_policy(Some("chn_1"));
        assert!(!p.require_mention);
        // mentionPatterns inherited from the wildcard, per field.
        assert_eq!(p.mention_patterns[0].as_str(), "wild");
        let p = policy.group_policy(Some("chn_2"));
        assert!(p.require_mention);
        assert_eq!(p.mention_patterns[0].as_str(), "wild");
    }

    #[test]
    fn inherits_unspecified_fields_from_the_account() {
        let mut cfg = config();
        cfg.groups.insert(
            "chn_1".into(),
            GroupConfig {
                mention_patterns: Some(vec!["hey".into()]),
                ..Default::default()
            },
        );
        let policy = InboundPolicy::new(&cfg).unwrap();
        let p = policy.group_policy(Some("chn_1"));
        assert!(p.require_mention);
        assert_eq!(p.mention_patterns[0].as_str(), "hey");
    }

    #[test]
    fn group_policy_does_not_apply_without_a_channel() {
        let mut cfg = config();
        cfg.groups.insert(
            "*".into(),
            GroupConfig {
                require_mention: Some(false),
                allow_bots: Some(AllowBots::True),
                ..Default::default()
            },
        );
        let policy = InboundPolicy::new(&cfg).unwrap();
        assert!(policy.group_policy(None).require_mention);
        assert_eq!(policy.bot_policy(None).allow_bots, AllowBots::False);
        assert_eq!(policy.bot_policy(Some("chn_9")).allow_bots, AllowBots::True);
    }

    #[test]
    fn resolves_exact_wildcard_and_account_bot_policies_independently() {
        let mut cfg = config();
        cfg.allow_bots = AllowBots::Mentions;
        cfg.bot_loop_protection = Some(BotLoopProtection {
            max_events_per_window: Some(5),
            ..Default::default()
        });
        cfg.groups.insert(
            "*".into(),
            GroupConfig {
                bot_loop_protection: Some(BotLoopProtection {
                    window_seconds: Some(30),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        cfg.groups.insert(
            "chn_1".into(),
            GroupConfig {
                allow_bots: Some(AllowBots::True),
                bot_loop_protection: Some(BotLoopProtection {
                    cooldown_seconds: Some(90),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        let policy = InboundPolicy::new(&cfg).unwrap();
        let exact = policy.bot_policy(Some("chn_1"));
        assert_eq!(exact.allow_bots, AllowBots::True);
        assert_eq!(
            exact.bot_loop,
            BotLoopSettings {
                enabled: true,
                max_events_per_window: 5,
                window_seconds: 30,
                cooldown_seconds: 90
            }
        );
        let other = policy.bot_policy(Some("chn_2"));
        assert_eq!(other.allow_bots, AllowBots::Mentions);
        assert_eq!(other.bot_loop.cooldown_seconds, 60);
        assert_eq!(other.bot_loop.window_seconds, 30);
    }

    #[test]
    fn invalid_pattern_names_its_path() {
        let mut cfg = config();
        cfg.groups.insert(
            "chn_1".into(),
            GroupConfig {
                mention_patterns: Some(vec!["ok".into(), "(unclosed".into()]),
                ..Default::default()
            },
        );
        let err = InboundPolicy::new(&cfg).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "invalid regular expression at channels.clickclack.accounts.work.groups.chn_1.mentionPatterns[1]: "
            ),
            "{err}"
        );
        let mut cfg = config();
        cfg.mention_patterns = vec!["[".into()];
        let err = InboundPolicy::new(&cfg).unwrap_err();
        assert!(
            err.to_string()
                .contains("channels.clickclack.accounts.work.mentionPatterns[0]")
        );
    }

    #[test]
    fn zero_bot_loop_values_are_rejected() {
        let mut cfg = config();
        cfg.bot_loop_protection = Some(BotLoopProtection {
            window_seconds: Some(0),
            ..Default::default()
        });
        let err = InboundPolicy::new(&cfg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "channels.clickclack.accounts.work.botLoopProtection.windowSeconds must be a positive integer"
        );
    }
}
