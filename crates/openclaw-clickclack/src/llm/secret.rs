//! A redacting API key type.

use std::fmt;

/// An API key or bearer token. `Debug` and `Display` print `[redacted]`;
/// the value is only reachable through [`ApiKey::expose_secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key (surrounding whitespace is trimmed).
    pub fn new(key: impl Into<String>) -> Self {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.len() == key.len() {
            ApiKey(key)
        } else {
            ApiKey(trimmed.to_owned())
        }
    }

    /// A key from a possibly blank value: blank → `None`.
    pub fn non_blank(key: impl Into<String>) -> Option<Self> {
        let key = ApiKey::new(key);
        (!key.0.is_empty()).then_some(key)
    }

    /// The key itself, for the one place that puts it in a header.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text` with `[redacted]`
    /// (used on error messages echoed by servers).
    pub fn scrub(&self, text: &str) -> String {
        if self.0.len() < 4 {
            return text.to_owned();
        }
        text.replace(&self.0, "[redacted]")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_key() {
        let key = ApiKey::new(" sk-very-secret ");
        assert_eq!(format!("{key:?} {key}"), "[redacted] [redacted]");
        assert_eq!(key.expose_secret(), "sk-very-secret");
        assert_eq!(key.scrub("bad key sk-very-secret!"), "bad key [redacted]!");
        assert!(ApiKey::non_blank("  ").is_none());
    }
}
