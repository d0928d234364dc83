//! JSON bytes exactly as Go's `encoding/json` writes them (protocol.md §14).
//!
//! This is the one place that decides how the server's JSON looks on the
//! wire, so every quirk of the Go encoder is here and nowhere else:
//!
//! 1. **HTML-safe strings.** Go escapes `<`, `>`, `&`, U+2028 and U+2029 as
//!    `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029` ([`to_vec`]).
//! 2. **A trailing newline on HTTP bodies.** `writeJSON` uses
//!    `json.NewEncoder(w).Encode`, which ends the body with `\n`
//!    ([`http_body`]); WebSocket frames use `json.Marshal`, without it.
//! 3. **Sorted object keys.** `map[string]any` wrappers and payloads are
//!    written with sorted keys; `serde_json::Map` (a `BTreeMap` here) does
//!    the same, so no extra work is needed.
//! 4. **`null` for empty lists.** A nil Go slice without `omitempty` is
//!    `null`, not `[]`; [`GoShape::list`] renders every such list, and
//!    `omitempty` lists are simply not inserted when empty.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CompactFormatter, Formatter, Serializer};

/// How the server renders lists that Go would send as `null` when empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum GoShape {
    /// Like the Go server: an empty non-`omitempty` list is `null`.
    #[default]
    Go,
    /// Kinder than the real server: empty lists are `[]` (for debugging a
    /// client against the testkit; never the default).
    EmptyArrays,
}

impl GoShape {
    /// An API list field without `omitempty`: `null` when empty (Go), the
    /// array otherwise.
    pub(crate) fn list(self, items: Vec<Value>) -> Value {
        if items.is_empty() && self == GoShape::Go {
            Value::Null
        } else {
            Value::Array(items)
        }
    }
}

/// A compact formatter that escapes like Go's `encoding/json` (HTML-safe).
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        CompactFormatter.write_char_escape(writer, char_escape)
    }
}

/// Serializes `value` like Go's `json.Marshal` (no trailing newline).
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let mut ser = Serializer::with_formatter(&mut out, GoFormatter);
    match value.serialize(&mut ser) {
        Ok(()) => out,
        // Only a non-string map key could fail here; the server never builds one.
        Err(_) => b"null".to_vec(),
    }
}

/// Serializes `value` like Go's `json.NewEncoder(w).Encode` (an HTTP body):
/// [`to_vec`] plus a trailing newline.
pub(crate) fn http_body<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = to_vec(value);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn escapes_html_like_go() {
        let v = json!({ "b": "<a href=\"x\">&</a>\u{2028}é\n" });
        assert_eq!(
            String::from_utf8(to_vec(&v)).unwrap(),
            r#"{"b":"\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e\u2028é\n"}"#
        );
    }

    #[test]
    fn http_bodies_end_with_newline_and_sort_keys() {
        let v = json!({ "message": 1, "event": null });
        assert_eq!(http_body(&v), b"{\"event\":null,\"message\":1}\n".to_vec());
    }

    #[test]
    fn lists() {
        assert_eq!(GoShape::Go.list(vec![]), Value::Null);
        assert_eq!(GoShape::EmptyArrays.list(vec![]), json!([]));
        assert_eq!(GoShape::Go.list(vec![json!(1)]), json!([1]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn go_json_round_trips(s in "\\PC{0,40}", n in any::<i64>()) {
            let v = json!({ "s": s, "n": n, "l": [s.clone()] });
            let bytes = to_vec(&v);
            prop_assert!(!bytes.windows(1).any(|w| w == b"<" || w == b">" || w == b"&"));
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}
