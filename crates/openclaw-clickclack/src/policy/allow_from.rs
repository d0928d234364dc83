//! `allowFrom` sender allowlists (reference row 30).

use std::collections::BTreeSet;

/// Normalises one `allowFrom` entry or one sender id the way the reference
/// plugin does: trim, strip a `clickclack:` / `cc:` provider prefix
/// (case-insensitive), trim again, then strip a `dm:` target prefix
/// (case-insensitive) and trim its body.
///
/// Returns `None` for a blank value. `"*"` stays `"*"` (the wildcard).
///
/// ```
/// use openclaw_clickclack::policy::normalize_user_id;
/// assert_eq!(normalize_user_id(" ClickClack:dm:usr_1 ").as_deref(), Some("usr_1"));
/// assert_eq!(normalize_user_id("CC:usr_2").as_deref(), Some("usr_2"));
/// assert_eq!(normalize_user_id("   "), None);
/// ```
pub fn normalize_user_id(value: &str) -> Option<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return None;
    }
    let without_provider = strip_prefix_ci(trimmed, "clickclack:")
        .or_else(|| strip_prefix_ci(trimmed, "cc:"))
        .map_or(trimmed, str::trim);
    if let Some(body) = strip_prefix_ci(without_provider, "dm:") {
        // The reference matches `/^dm:(.+)$/i`: `.` never crosses a line break.
        let single_line = !body.contains(['\n', '\r', '\u{2028}', '\u{2029}']);
        let body = body.trim();
        if single_line && !body.is_empty() {
            return Some(body.to_owned());
        }
    }
    if without_provider.is_empty() {
        None
    } else {
        Some(without_provider.to_owned())
    }
}

/// Strips an ASCII prefix, ignoring ASCII case.
fn strip_prefix_ci<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// A normalised `allowFrom` list.
///
/// The wildcard `"*"` admits every **human** sender; bot authors must be
/// listed by id (row 28: for bot authors the wildcard is removed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    wildcard: bool,
    ids: BTreeSet<String>,
}

impl AllowList {
    /// Builds an allowlist from raw config entries (blank entries are ignored).
    pub fn new<I, S>(entries: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut list = AllowList::default();
        for entry in entries {
            match normalize_user_id(entry.as_ref()) {
                Some(id) if id == "*" => list.wildcard = true,
                Some(id) => {
                    list.ids.insert(id);
                }
                None => {}
            }
        }
        list
    }

    /// Whether the list contains the `"*"` wildcard.
    pub fn has_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Whether `sender_id` may trigger a turn. `sender_is_bot` disables the
    /// wildcard.
    pub fn allows(&self, sender_id: &str, sender_is_bot: bool) -> bool {
        let Some(subject) = normalize_user_id(sender_id) else {
            return false;
        };
        (self.wildcard && !sender_is_bot) || self.ids.contains(&subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_prefixes_case_insensitively() {
        for (raw, want) in [
            ("usr_1", Some("usr_1")),
            ("  usr_1  ", Some("usr_1")),
            ("clickclack:usr_1", Some("usr_1")),
            ("ClickClack: usr_1", Some("usr_1")),
            ("CC:usr_1", Some("usr_1")),
            ("cc:dm:usr_1", Some("usr_1")),
            ("DM: usr_1 ", Some("usr_1")),
            ("dm:", Some("dm:")),
            ("clickclack:", None),
            ("*", Some("*")),
            ("cc:*", Some("*")),
            ("", None),
            ("é:x", Some("é:x")),
        ] {
            assert_eq!(normalize_user_id(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn wildcard_admits_humans_not_bots() {
        let list = AllowList::new(["*"]);
        assert!(list.allows("usr_h", false));
        assert!(!list.allows("usr_b", true));
        let list = AllowList::new(["*", "clickclack:usr_b"]);
        assert!(list.allows("usr_b", true));
    }

    #[test]
    fn accepts_dm_target_syntax() {
        let list = AllowList::new(["dm:usr_owner"]);
        assert!(list.allows("usr_owner", false));
        assert!(!list.allows("usr_other", false));
        assert!(!list.has_wildcard());
    }

    #[test]
    fn empty_list_denies_everyone() {
        let list = AllowList::new(Vec::<String>::new());
        assert!(!list.allows("usr_1", false));
        assert!(!list.allows("", false));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn normalize_never_panics_and_is_idempotent_on_ids(raw in "\\PC{0,24}") {
            if let Some(id) = normalize_user_id(&raw) {
                prop_assert!(!id.is_empty());
                prop_assert_eq!(id.trim(), id.as_str());
            }
        }

        #[test]
        fn prefixed_ids_normalise_to_the_id(id in "[a-z0-9_]{1,16}", prefix in prop::sample::select(vec!["", "cc:", "CC:", "clickclack:", "ClickClack:", "dm:", "cc:dm:", "clickclack: DM:"])) {
            let raw = format!("{prefix}{id}");
            prop_assert_eq!(normalize_user_id(&raw), Some(id));
        }
    }
}
