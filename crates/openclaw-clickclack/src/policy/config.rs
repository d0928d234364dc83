//! Inbound policy configuration (reference rows 28–31) and its compiled form.

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer};

use super::allow_from::AllowList;
use super::loop_guard::BotLoopSettings;

/// Upper bound on the compiled size of one `mentionPatterns` regex.
const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// `allowBots`: whether messages written by other bots may start a turn.
///
/// Config form: `false`, `true` or `"mentions"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AllowBots {
    /// Bot-authored messages are dropped (the default).
    #[default]
    False,
    /// Bot-authored messages are allowed (subject to `allowFrom` by id).
    True,
    /// Allowed in direct messages, and in groups only when this bot was mentioned.
    Mentions,
}

impl AllowBots {
    /// The config spelling: `false`, `true` or `mentions`.
    pub fn as_str(self) -> &'static str {
        match self {
            AllowBots::False => "false",
            AllowBots::True => "true",
            AllowBots::Mentions => "mentions",
        }
    }
}

impl<'de> Deserialize<'de> for AllowBots {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(true) => Ok(AllowBots::True),
            Raw::Bool(false) => Ok(AllowBots::False),
            Raw::Text(text) if text == "mentions" => Ok(AllowBots::Mentions),
            Raw::Text(text) => Err(serde::de::Error::custom(format!(
                "allowBots must be true, false or \"mentions\", found \"{text}\""
            ))),
        }
    }
}

/// `botLoopProtection` as written in config: every field optional, merged
/// field by field (`channels.defaults` → account → `groups["*"]` →
/// `groups[<channel>]`) over the built-in [`BotLoopSettings::default`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BotLoopProtection {
    /// `enabled` (built-in default `true`).
    pub enabled: Option<bool>,
    /// `maxEventsPerWindow` (built-in default 20).
    pub max_events_per_window: Option<u32>,
    /// `windowSeconds` (built-in default 60).
    pub window_seconds: Option<u32>,
    /// `cooldownSeconds` (built-in default 60).
    pub cooldown_seconds: Option<u32>,
}

impl BotLoopProtection {
    /// Field-wise overlay: values set in `over` win.
    pub fn overlay(self, over: &BotLoopProtection) -> BotLoopProtection {
        BotLoopProtection {
            enabled: over.enabled.or(self.enabled),
            max_events_per_window: over.max_events_per_window.or(self.max_events_per_window),
            window_seconds: over.window_seconds.or(self.window_seconds),
            cooldown_seconds: over.cooldown_seconds.or(self.cooldown_seconds),
        }
    }

    /// Resolves the unset fields from [`BotLoopSettings::default`].
    pub fn resolve(&self) -> BotLoopSettings {
        let d = BotLoopSettings::default();
        BotLoopSettings {
            enabled: self.enabled.unwrap_or(d.enabled),
            max_events_per_window: self
                .max_events_per_window
                .unwrap_or(d.max_events_per_window),
            window_seconds: self.window_seconds.unwrap_or(d.window_seconds),
            cooldown_seconds: self.cooldown_seconds.unwrap_or(d.cooldown_seconds),
        }
    }

    fn validate(&self, path: &str) -> Result<(), PolicyConfigError> {
        for (field, value) in [
            ("maxEventsPerWindow", self.max_events_per_window),
            ("windowSeconds", self.window_seconds),
            ("cooldownSeconds", self.cooldown_seconds),
        ] {
            if value == Some(0) {
                return Err(PolicyConfigError::NotPositive {
                    path: format!("{path}.botLoopProtection.{field}"),
                });
            }
        }
        Ok(())
    }
}

/// One `groups.<channelId>` (or `groups["*"]`) entry: per-field overrides of
/// the account policy for group messages. Unset fields fall through to
/// `groups["*"]`, then to the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupOverride {
    /// `requireMention` override.
    pub require_mention: Option<bool>,
    /// `mentionPatterns` override (replaces, does not extend, the inherited list).
    pub mention_patterns: Option<Vec<String>>,
    /// `allowBots` override.
    pub allow_bots: Option<AllowBots>,
    /// `botLoopProtection` override (merged field-wise).
    pub bot_loop_protection: Option<BotLoopProtection>,
}

/// The inbound policy inputs of one resolved account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundPolicyConfig {
    /// Account id, used in log lines (`[<acct>] …`).
    pub account_id: String,
    /// Config path of the account, used to name invalid values in errors,
    /// e.g. `channels.clickclack` or `channels.clickclack.accounts.work`.
    pub config_path: String,
    /// `allowFrom` (resolved default `["*"]`).
    pub allow_from: Vec<String>,
    /// Account-level `allowBots` (default `false`).
    pub allow_bots: AllowBots,
    /// Account-level `requireMention` (default `false`).
    pub require_mention: bool,
    /// Account-level `mentionPatterns` (default empty). Matched
    /// case-insensitively, like the reference's `new RegExp(p, "i")`.
    pub mention_patterns: Vec<String>,
    /// `groups`: channel id (keys are trimmed) or `"*"` → overrides.
    pub groups: BTreeMap<String, GroupOverride>,
    /// Account-level `botLoopProtection`.
    pub bot_loop_protection: BotLoopProtection,
    /// `channels.defaults.botLoopProtection` (shared defaults under the account).
    pub bot_loop_defaults: BotLoopProtection,
}

impl Default for InboundPolicyConfig {
    fn default() -> Self {
        InboundPolicyConfig {
            account_id: "default".to_owned(),
            config_path: "channels.clickclack".to_owned(),
            allow_from: vec!["*".to_owned()],
            allow_bots: AllowBots::False,
            require_mention: false,
            mention_patterns: Vec::new(),
            groups: BTreeMap::new(),
            bot_loop_protection: BotLoopProtection::default(),
            bot_loop_defaults: BotLoopProtection::default(),
        }
    }
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

/// [`InboundPolicyConfig`] validated and compiled (regexes built once).
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
    /// Validates and compiles a policy. Errors name the config path of the
    /// offending value.
    pub fn new(config: &InboundPolicyConfig) -> Result<InboundPolicy, PolicyConfigError> {
        let path = config.config_path.as_str();
        config.bot_loop_defaults.validate("channels.defaults")?;
        config.bot_loop_protection.validate(path)?;
        let mention_patterns = compile_patterns(&config.mention_patterns, path)?;
        let mut groups = BTreeMap::new();
        for (key, group) in &config.groups {
            let group_path = format!("{path}.groups.{key}");
            let key = key.trim();
            if key.is_empty() {
                continue;
            }
            if let Some(blp) = &group.bot_loop_protection {
                blp.validate(&group_path)?;
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
            account_id: config.account_id.clone(),
            allow_list: AllowList::new(&config.allow_from),
            allow_bots: config.allow_bots,
            require_mention: config.require_mention,
            mention_patterns,
            groups,
            bot_loop_base: config
                .bot_loop_defaults
                .overlay(&config.bot_loop_protection),
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
                blp = blp.overlay(over);
            }
        }
        EffectiveBotPolicy {
            allow_bots,
            bot_loop: blp.resolve(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> InboundPolicyConfig {
        InboundPolicyConfig {
            account_id: "work".into(),
            config_path: "channels.clickclack.accounts.work".into(),
            require_mention: true,
            mention_patterns: vec!["@account-bot".into()],
            ..Default::default()
        }
    }

    #[test]
    fn exact_channel_rule_overrides_wildcard() {
        let mut cfg = config();
        cfg.groups.insert(
            "*".into(),
            GroupOverride {
                require_mention: Some(true),
                mention_patterns: Some(vec!["wild".into()]),
                ..Default::default()
            },
        );
        cfg.groups.insert(
            " chn_1 ".into(),
            GroupOverride {
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
            GroupOverride {
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
            GroupOverride {
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
        cfg.bot_loop_protection = BotLoopProtection {
            max_events_per_window: Some(5),
            ..Default::default()
        };
        cfg.groups.insert(
            "*".into(),
            GroupOverride {
                bot_loop_protection: Some(BotLoopProtection {
                    window_seconds: Some(30),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        cfg.groups.insert(
            "chn_1".into(),
            GroupOverride {
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
            GroupOverride {
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
        cfg.bot_loop_protection.window_seconds = Some(0);
        let err = InboundPolicy::new(&cfg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "channels.clickclack.accounts.work.botLoopProtection.windowSeconds must be a positive integer"
        );
    }

    #[test]
    fn deserializes_config_shapes() {
        let g: GroupOverride = serde_json::from_str(
            r#"{"requireMention":true,"allowBots":"mentions","botLoopProtection":{"maxEventsPerWindow":3}}"#,
        )
        .unwrap();
        assert_eq!(g.allow_bots, Some(AllowBots::Mentions));
        assert_eq!(
            g.bot_loop_protection.unwrap().max_events_per_window,
            Some(3)
        );
        let a: AllowBots = serde_json::from_str("false").unwrap();
        assert_eq!(a, AllowBots::False);
        assert!(serde_json::from_str::<AllowBots>(r#""always""#).is_err());
        assert!(serde_json::from_str::<GroupOverride>(r#"{"nope":1}"#).is_err());
    }
}
