//! The target grammar: [`Target`], [`TargetKind`] and [`parse`].

use std::fmt;
use std::str::FromStr;

use crate::error::ParseTargetError;
use crate::ids::{looks_like_channel_id, looks_like_message_id, looks_like_user_id};

/// Provider prefixes that may precede a target (`clickclack:channel:general`,
/// `cc:dm:usr_1`). Matched case-insensitively and stripped once.
pub const PROVIDER_PREFIXES: [&str; 2] = ["clickclack", "cc"];

/// The hint OpenClaw shows next to a target prompt.
pub const TARGET_HINT: &str = "<channel:name|dm:usr_id|thread:msg_id>";

/// Whether a target is a one-to-one conversation or a shared room.
///
/// Non-exhaustive: a later kind of conversation may be added in a minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChatType {
    /// A direct message with one user (`dm:`).
    Direct,
    /// A channel or a thread inside a channel (`channel:`, `thread:`).
    Group,
}

/// The kind part of a target: `channel`, `dm` or `thread`.
///
/// Non-exhaustive: a later grammar may add a kind in a minor release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TargetKind {
    /// `channel:<name-or-id>`.
    Channel,
    /// `dm:<user_id>`.
    Dm,
    /// `thread:<root_message_id>`.
    Thread,
}

impl TargetKind {
    /// The canonical lower-case spelling (`channel`, `dm`, `thread`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::Dm => "dm",
            Self::Thread => "thread",
        }
    }

    /// [`ChatType::Direct`] for `dm`, [`ChatType::Group`] otherwise.
    #[must_use]
    pub const fn chat_type(self) -> ChatType {
        match self {
            Self::Dm => ChatType::Direct,
            Self::Channel | Self::Thread => ChatType::Group,
        }
    }

    /// What the id of this kind is, as used in error messages.
    #[must_use]
    pub const fn missing_id_noun(self) -> &'static str {
        match self {
            Self::Channel => "channel name or id",
            Self::Dm => "user id",
            Self::Thread => "message id",
        }
    }

    /// Parses a kind word case-insensitively, ignoring surrounding whitespace.
    #[must_use]
    pub fn from_word(word: &str) -> Option<Self> {
        let word = trim(word);
        [Self::Channel, Self::Dm, Self::Thread]
            .into_iter()
            .find(|kind| word.eq_ignore_ascii_case(kind.as_str()))
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an outbound ClickClack message goes.
///
/// Values returned by [`parse`] always hold a non-empty id without
/// surrounding whitespace; for those, `parse(&target.to_string())` gives the
/// same target back.
///
/// Non-exhaustive: a later grammar may add a kind in a minor release, so a
/// `match` outside this crate needs a `_` arm. Build one with
/// [`Target::channel`], [`Target::dm`], [`Target::thread`] or [`Target::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Target {
    /// A channel, by name (`general`) or by id (`chn_…`).
    Channel(String),
    /// A direct message to a **user** id (`usr_…`), not a conversation id.
    Dm(String),
    /// A reply in the thread whose **root message** id is given (`msg_…`).
    Thread(String),
}

impl Target {
    /// Builds a target from a kind and an id (not validated).
    #[must_use]
    pub fn new(kind: TargetKind, id: impl Into<String>) -> Self {
        let id = id.into();
        match kind {
            TargetKind::Channel => Self::Channel(id),
            TargetKind::Dm => Self::Dm(id),
            TargetKind::Thread => Self::Thread(id),
        }
    }

    /// A channel target, by name or `chn_` id (not validated).
    ///
    /// ```
    /// # use clickclack_target_parser::Target;
    /// assert_eq!(Target::channel("general").to_string(), "channel:general");
    /// ```
    #[must_use]
    pub fn channel(name_or_id: impl Into<String>) -> Self {
        Self::Channel(name_or_id.into())
    }

    /// A DM target to a **user** id (not validated).
    #[must_use]
    pub fn dm(user_id: impl Into<String>) -> Self {
        Self::Dm(user_id.into())
    }

    /// A thread target by its **root message** id (not validated).
    #[must_use]
    pub fn thread(root_message_id: impl Into<String>) -> Self {
        Self::Thread(root_message_id.into())
    }

    /// Parses a target string; see [`parse`].
    ///
    /// # Errors
    /// See [`ParseTargetError`].
    pub fn parse(raw: &str) -> Result<Self, ParseTargetError> {
        parse(raw)
    }

    /// The kind of this target.
    #[must_use]
    pub const fn kind(&self) -> TargetKind {
        match self {
            Self::Channel(_) => TargetKind::Channel,
            Self::Dm(_) => TargetKind::Dm,
            Self::Thread(_) => TargetKind::Thread,
        }
    }

    /// The id part, with its case preserved.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Self::Channel(id) | Self::Dm(id) | Self::Thread(id) => id,
        }
    }

    /// Consumes the target and returns its id.
    #[must_use]
    pub fn into_id(self) -> String {
        match self {
            Self::Channel(id) | Self::Dm(id) | Self::Thread(id) => id,
        }
    }

    /// [`ChatType::Direct`] for DMs, [`ChatType::Group`] for channels and threads.
    #[must_use]
    pub const fn chat_type(&self) -> ChatType {
        self.kind().chat_type()
    }

    /// `true` when the id already has the server-id prefix expected for the
    /// kind: `chn_` for channels, `usr_` for DMs, `msg_` for threads.
    #[must_use]
    pub fn looks_like_server_id(&self) -> bool {
        match self {
            Self::Channel(id) => looks_like_channel_id(id),
            Self::Dm(id) => looks_like_user_id(id),
            Self::Thread(id) => looks_like_message_id(id),
        }
    }

    /// `true` when the id is a channel **name** that must be resolved to a
    /// `chn_` id through the workspace's channel list before sending.
    ///
    /// DM and thread ids are always passed to the server as given (the server
    /// answers 404 for an unknown one), so this is `false` for them.
    #[must_use]
    pub fn needs_resolution(&self) -> bool {
        matches!(self, Self::Channel(id) if !looks_like_channel_id(id))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}

impl FromStr for Target {
    type Err = ParseTargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl TryFrom<&str> for Target {
    type Error = ParseTargetError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        parse(value)
    }
}

impl TryFrom<String> for Target {
    type Error = ParseTargetError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        parse(&value)
    }
}

/// Whitespace as JavaScript's `String.prototype.trim` sees it (Unicode
/// whitespace plus the byte-order mark), so inputs copied from the TypeScript
/// plugin's users trim the same way.
fn is_js_whitespace(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

fn trim(value: &str) -> &str {
    value.trim_matches(is_js_whitespace)
}

/// Trims and removes one leading `clickclack:` or `cc:` (any case).
fn strip_provider_prefix(raw: &str) -> &str {
    let trimmed = trim(raw);
    for provider in PROVIDER_PREFIXES {
        let n = provider.len();
        let matches = trimmed
            .get(..n)
            .is_some_and(|head| head.eq_ignore_ascii_case(provider))
            && trimmed.as_bytes().get(n) == Some(&b':');
        if matches {
            // `n` and `n + 1` are ASCII boundaries, so slicing cannot fail.
            return trim(trimmed.get(n + 1..).unwrap_or_default());
        }
    }
    trimmed
}

/// Parses an OpenClaw ClickClack target.
///
/// * surrounding whitespace is trimmed, then one `clickclack:` / `cc:`
///   provider prefix (any case) is removed;
/// * `channel:<name-or-id>`, `dm:<user_id>`, `thread:<message_id>`: the kind
///   is case-insensitive, the id keeps its case and is trimmed; everything
///   after the first `:` is the id (ids may contain `:`);
/// * a value without `:` is a channel (`general` → `channel:general`).
///
/// # Errors
/// * [`ParseTargetError::Empty`] — nothing left after trimming;
/// * [`ParseTargetError::MissingId`] — a known kind with no id (`dm:`);
/// * [`ParseTargetError::Unsupported`] — any other `prefix:` (`foo:bar`,
///   `foo:`).
///
/// ```
/// use clickclack_target_parser::{parse, Target};
///
/// assert_eq!(parse(" ClickClack:Channel:General ")?, Target::Channel("General".into()));
/// assert_eq!(parse("CC:DM:usr_1")?.to_string(), "dm:usr_1");
/// assert_eq!(parse("general")?.to_string(), "channel:general");
/// assert_eq!(
///     parse("dm:  ").unwrap_err().to_string(),
///     r#"ClickClack target "dm:" is missing a user id"#,
/// );
/// # Ok::<(), clickclack_target_parser::ParseTargetError>(())
/// ```
pub fn parse(raw: &str) -> Result<Target, ParseTargetError> {
    let value = strip_provider_prefix(raw);
    if value.is_empty() {
        return Err(ParseTargetError::Empty);
    }
    let Some((prefix, rest)) = value.split_once(':') else {
        return Ok(Target::Channel(value.to_owned()));
    };
    let Some(kind) = TargetKind::from_word(prefix) else {
        return Err(ParseTargetError::Unsupported {
            raw: raw.to_owned(),
        });
    };
    let id = trim(rest);
    if id.is_empty() {
        return Err(ParseTargetError::MissingId {
            kind,
            found: value.to_owned(),
        });
    }
    Ok(Target::new(kind, id))
}
