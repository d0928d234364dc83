//! The typed parse error.

use crate::target::TargetKind;

/// Why a target string could not be parsed.
///
/// The `Display` strings are the ones OpenClaw users already know from the
/// TypeScript plugin (`ClickClack target is required`,
/// `Unsupported ClickClack target: <raw>`), plus one for a kind without an id,
/// which the TypeScript plugin silently turns into a channel named `channel:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseTargetError {
    /// The input was empty or only whitespace (or only a provider prefix such
    /// as `clickclack:`).
    #[error("ClickClack target is required")]
    Empty,
    /// The input has a `kind:` prefix that is not `channel`, `dm` or `thread`.
    #[error("Unsupported ClickClack target: {raw}")]
    #[non_exhaustive]
    Unsupported {
        /// The input exactly as given.
        raw: String,
    },
    /// The input names a known kind but no id (`channel:`, `dm:  `).
    #[error("ClickClack target \"{found}\" is missing a {}", .kind.missing_id_noun())]
    #[non_exhaustive]
    MissingId {
        /// The kind that was named.
        kind: TargetKind,
        /// The trimmed input (without provider prefix), e.g. `dm:`.
        found: String,
    },
}

impl ParseTargetError {
    /// [`ParseTargetError::Unsupported`] for `raw`, the input exactly as given
    /// (also for a target kind that a consumer of this crate cannot handle).
    pub fn unsupported(raw: impl Into<String>) -> Self {
        ParseTargetError::Unsupported { raw: raw.into() }
    }

    /// [`ParseTargetError::MissingId`] for `found` (the trimmed input, e.g.
    /// `dm:`), which names `kind` but no id.
    pub fn missing_id(kind: TargetKind, found: impl Into<String>) -> Self {
        ParseTargetError::MissingId {
            kind,
            found: found.into(),
        }
    }
}
