//! The bot token secret type.

use std::fmt;

/// A ClickClack bearer token (`ccb_…` bot token or `sst_…` session token).
///
/// The value never appears in `Debug` or `Display` output; call
/// [`BotToken::expose_secret`] when the raw string is really needed (for
/// example to build an `Authorization` header yourself).
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(String);

impl BotToken {
    /// Wraps a raw token. Surrounding whitespace is trimmed (the server trims too).
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.len() == raw.len() {
            Self(raw)
        } else {
            Self(trimmed.to_owned())
        }
    }

    /// The raw token. Avoid logging it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the token has the bot-token prefix `ccb_`.
    pub fn is_bot_token(&self) -> bool {
        self.0.starts_with("ccb_")
    }

    /// Whether the token is empty (after trimming).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, non-secret description: the known prefix (if any) and length.
    fn describe(&self) -> &'static str {
        if self.0.starts_with("ccb_") {
            "ccb_<redacted>"
        } else if self.0.starts_with("sst_") {
            "sst_<redacted>"
        } else {
            "<redacted>"
        }
    }
}

impl fmt::Debug for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BotToken").field(&self.describe()).finish()
    }
}

impl fmt::Display for BotToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl From<String> for BotToken {
    fn from(raw: String) -> Self {
        Self::new(raw)
    }
}

impl From<&str> for BotToken {
    fn from(raw: &str) -> Self {
        Self::new(raw)
    }
}

impl From<&String> for BotToken {
    fn from(raw: &String) -> Self {
        Self::new(raw.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let t = BotToken::new("ccb_01hsecretsecretsecret");
        let dbg = format!("{t:?}");
        let disp = format!("{t}");
        assert!(!dbg.contains("secret"), "{dbg}");
        assert!(!disp.contains("secret"), "{disp}");
        assert_eq!(t.expose_secret(), "ccb_01hsecretsecretsecret");
        assert!(t.is_bot_token());
    }

    #[test]
    fn trims_whitespace() {
        assert_eq!(BotToken::new("  ccb_x \n").expose_secret(), "ccb_x");
        assert!(BotToken::new("   ").is_empty());
    }
}
