//! A span-keeping view of a JSON5 document: every object member with its
//! key, its dotted path and the byte ranges of its key and value.
//!
//! Two users, one scanner:
//!
//! 1. config loading refuses duplicate keys ([`find_duplicate_key`]): the
//!    `json5` crate keeps the last one silently, so a second `token:` would
//!    win without a word;
//! 2. `channels add` edits the user's file in place ([`Json5Edit`]): values
//!    are replaced, members inserted or removed, and everything else — comments,
//!    key order, quoting, blank lines, unrelated keys — is kept byte for byte.
//!
//! The scanner accepts what JSON5 accepts (comments, single quotes, unquoted
//! keys, trailing commas, hex and signed numbers); it does not validate
//! numbers or escapes — `json5::from_str` does that — and it never panics on
//! arbitrary text: malformed input is an `Err` with a line number.

use std::ops::Range;

/// A parsed value with its byte range.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The bytes of the value (`{…}`, `[…]`, `"…"`, `12`, `true`, …).
    pub span: Range<usize>,
    /// What it is.
    pub kind: NodeKind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// An object and its members in document order.
    Object(Vec<Member>),
    /// An array.
    Array(Vec<Node>),
    /// A string, number, boolean or null.
    Scalar,
}

/// One `key: value` of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// The bytes of the key as written (with its quotes).
    pub key_span: Range<usize>,
    /// The value.
    pub value: Node,
    /// The byte just after the member's trailing comma, if it has one.
    pub comma_end: Option<usize>,
}

/// A document that does not scan, with the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}")]
pub struct ScanError {
    /// What was wrong.
    pub message: String,
    /// 1-based line.
    pub line: usize,
}

/// The same key twice in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// Dotted path of the key, e.g. `channels.clickclack.token`.
    pub path: String,
    /// 1-based line of the first occurrence.
    pub first_line: usize,
    /// 1-based line of the repeat.
    pub line: usize,
}

impl std::fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "duplicate key {} at line {} (first set at line {}); keep one of them",
            self.path, self.line, self.first_line
        )
    }
}

/// Maximum nesting the scanner follows (deeper documents are refused).
pub const MAX_DEPTH: usize = 128;

/// Scans `text` into its root [`Node`].
///
/// # Errors
/// [`ScanError`] for text that is not JSON5-shaped.
pub fn parse(text: &str) -> Result<Node, ScanError> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    scanner.skip_trivia()?;
    let node = scanner.value(0)?;
    scanner.skip_trivia()?;
    if scanner.pos < scanner.bytes.len() {
        return Err(scanner.error("unexpected text after the document"));
    }
    Ok(node)
}

/// The first key that appears twice in one object, in document order.
/// `Ok(None)` when every object's keys are distinct.
///
/// # Errors
/// [`ScanError`] for text that is not JSON5-shaped.
pub fn find_duplicate_key(text: &str) -> Result<Option<DuplicateKey>, ScanError> {
    let root = parse(text)?;
    Ok(duplicate_in(text, &root, ""))
}

fn duplicate_in(text: &str, node: &Node, path: &str) -> Option<DuplicateKey> {
    match &node.kind {
        NodeKind::Object(members) => {
            for (index, member) in members.iter().enumerate() {
                let child = join_path(path, &member.key);
                if let Some(first) = members[..index].iter().find(|m| m.key == member.key) {
                    return Some(DuplicateKey {
                        path: child,
                        first_line: line_of(text, first.key_span.start),
                        line: line_of(text, member.key_span.start),
                    });
                }
                if let Some(found) = duplicate_in(text, &member.value, &child) {
                    return Some(found);
                }
            }
            None
        }
        NodeKind::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| duplicate_in(text, item, &format!("{path}[{i}]"))),
        NodeKind::Scalar => None,
    }
}

fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn error(&self, message: &str) -> ScanError {
        ScanError {
            message: message.to_owned(),
            line: line_of(self.text, self.pos),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Skips whitespace (ASCII and Unicode) and comments.
    fn skip_trivia(&mut self) -> Result<(), ScanError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) => self.pos += 1,
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    while let Some(b) = self.peek() {
                        if b == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    let start = self.pos;
                    match self.text[self.pos + 2..].find("*/") {
                        Some(end) => self.pos += 2 + end + 2,
                        None => {
                            self.pos = start;
                            return Err(self.error("unterminated /* comment"));
                        }
                    }
                }
                Some(b) if b >= 0x80 => {
                    let c = self.text[self.pos..].chars().next().unwrap_or('\0');
                    if c.is_whitespace() || c == '\u{feff}' {
                        self.pos += c.len_utf8();
                    } else {
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, ScanError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"' | b'\'') => {
                self.string()?;
                Ok(Node {
                    span: start..self.pos,
                    kind: NodeKind::Scalar,
                })
            }
            Some(_) => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r')
                        || (b == b'/' && matches!(self.bytes.get(self.pos + 1), Some(b'/' | b'*')))
                    {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.error("expected a value"));
                }
                // Stay on a char boundary for later slicing.
                while !self.text.is_char_boundary(self.pos) {
                    self.pos += 1;
                }
                Ok(Node {
                    span: start..self.pos,
                    kind: NodeKind::Scalar,
                })
            }
            None => Err(self.error("expected a value, found the end of the text")),
        }
    }

    /// Consumes a quoted string; returns its unescaped contents.
    fn string(&mut self) -> Result<String, ScanError> {
        let quote = self.bytes[self.pos];
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.text[self.pos..].chars().next() else {
                self.pos = start;
                return Err(self.error("unterminated string"));
            };
            self.pos += c.len_utf8();
            match c {
                c if c as u32 == u32::from(quote) => return Ok(out),
                '\\' => {
                    let Some(e) = self.text[self.pos..].chars().next() else {
                        self.pos = start;
                        return Err(self.error("unterminated string"));
                    };
                    self.pos += e.len_utf8();
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '0' => out.push('\0'),
                        '\n' | '\u{2028}' | '\u{2029}' => {}
                        '\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        'x' => out.push(self.hex_char(2)?),
                        'u' => out.push(self.hex_char(4)?),
                        other => out.push(other),
                    }
                }
                '\n' => {
                    self.pos -= 1;
                    return Err(self.error("line break inside a string"));
                }
                c => out.push(c),
            }
        }
    }

    fn hex_char(&mut self, digits: usize) -> Result<char, ScanError> {
        let hex = self
            .text
            .get(self.pos..self.pos + digits)
            .ok_or_else(|| self.error("bad escape"))?;
        let code = u32::from_str_radix(hex, 16).map_err(|_| self.error("bad escape"))?;
        self.pos += digits;
        Ok(char::from_u32(code).unwrap_or('\u{fffd}'))
    }

    /// An unquoted key: identifier characters up to `:` or trivia.
    fn identifier(&mut self) -> Result<String, ScanError> {
        let start = self.pos;
        while let Some(c) = self.text[self.pos..].chars().next() {
            if c.is_alphanumeric()
                || c == '_'
                || c == '$'
                || c == '\\'
                || c == '\u{200c}'
                || c == '\u{200d}'
            {
                self.pos += c.len_utf8();
            } else {
                break;
            }
        }
        if self.pos == start {
            return Err(self.error("expected a key"));
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn object(&mut self, depth: usize) -> Result<Node, ScanError> {
        let start = self.pos;
        self.pos += 1;
        let mut members: Vec<Member> = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(Node {
                    span: start..self.pos,
                    kind: NodeKind::Object(members),
                });
            }
            if members.last().is_some_and(|m| m.comma_end.is_none()) {
                return Err(self.error("expected , or }"));
            }
            let key_start = self.pos;
            let key = match self.peek() {
                Some(b'"' | b'\'') => self.string()?,
                Some(_) => self.identifier()?,
                None => return Err(self.error("unterminated object")),
            };
            let key_span = key_start..self.pos;
            self.skip_trivia()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected :"));
            }
            self.pos += 1;
            self.skip_trivia()?;
            let value = self.value(depth + 1)?;
            self.skip_trivia()?;
            let comma_end = if self.peek() == Some(b',') {
                self.pos += 1;
                Some(self.pos)
            } else {
                None
            };
            members.push(Member {
                key,
                key_span,
                value,
                comma_end,
            });
        }
    }

    fn array(&mut self, depth: usize) -> Result<Node, ScanError> {
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        let mut need_comma = false;
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node {
                        span: start..self.pos,
                        kind: NodeKind::Array(items),
                    });
                }
                None => return Err(self.error("unterminated array")),
                Some(_) if need_comma => return Err(self.error("expected , or ]")),
                Some(_) => {}
            }
            items.push(self.value(depth + 1)?);
            self.skip_trivia()?;
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                need_comma = true;
            }
        }
    }
}

/// In-place edits of a JSON5 document (see the module docs for what is kept).
#[derive(Debug, Clone)]
pub struct Json5Edit {
    text: String,
}

impl Json5Edit {
    /// Starts from `text`; an empty (or blank) text is an empty object.
    ///
    /// # Errors
    /// [`ScanError`] when the text does not scan or its root is not an object.
    pub fn new(text: &str) -> Result<Self, ScanError> {
        let text = if text.trim().is_empty() {
            "{}\n".to_owned()
        } else {
            text.to_owned()
        };
        let root = parse(&text)?;
        if !matches!(root.kind, NodeKind::Object(_)) {
            return Err(ScanError {
                message: "the config root is not an object".to_owned(),
                line: line_of(&text, root.span.start),
            });
        }
        Ok(Self { text })
    }

    /// The edited text.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value at `path` (keys from the root), if present.
    #[must_use]
    pub fn get(&self, path: &[&str]) -> Option<serde_json::Value> {
        let root = parse(&self.text).ok()?;
        let node = find(&root, path)?;
        json5::from_str(&self.text[node.span.clone()]).ok()
    }

    /// Sets `path` to `value`: replaces the value when the key exists (the
    /// rest of the line, comments included, is kept), otherwise inserts the
    /// member — creating missing parent objects — as the object's last
    /// member, indented like its siblings.
    ///
    /// # Errors
    /// [`ScanError`] when a parent on the path exists but is not an object.
    pub fn set(&mut self, path: &[&str], value: &serde_json::Value) -> Result<(), ScanError> {
        let root = parse(&self.text)?;
        // The deepest existing object on the path.
        let mut node = &root;
        let mut depth = 0;
        while depth < path.len() {
            let NodeKind::Object(members) = &node.kind else {
                return Err(ScanError {
                    message: format!("{} is not an object", path[..depth].join(".")),
                    line: line_of(&self.text, node.span.start),
                });
            };
            match members.iter().rev().find(|m| m.key == path[depth]) {
                Some(member) => {
                    node = &member.value;
                    depth += 1;
                }
                None => break,
            }
        }
        if depth == path.len() {
            let indent = indent_at(&self.text, node.span.start);
            let rendered = render(value, &indent);
            self.text.replace_range(node.span.clone(), &rendered);
            return Ok(());
        }
        let NodeKind::Object(members) = &node.kind else {
            return Err(ScanError {
                message: format!("{} is not an object", path[..depth].join(".")),
                line: line_of(&self.text, node.span.start),
            });
        };
        // Build the missing part: path[depth] = { path[depth+1]: { … value } }.
        let mut nested = value.clone();
        for key in path[depth + 1..].iter().rev() {
            let mut map = serde_json::Map::new();
            map.insert((*key).to_owned(), nested);
            nested = serde_json::Value::Object(map);
        }
        let object_indent = indent_at(&self.text, node.span.start);
        let member_indent = match members.first() {
            Some(first) => indent_at(&self.text, first.key_span.start),
            None => format!("{object_indent}  "),
        };
        let member_text = format!(
            "{}: {}",
            render_key(path[depth]),
            render(&nested, &member_indent)
        );
        match members.last() {
            Some(last) => {
                let (at, prefix) = match last.comma_end {
                    Some(end) => (end, String::new()),
                    None => (last.value.span.end, ",".to_owned()),
                };
                self.text
                    .insert_str(at, &format!("{prefix}\n{member_indent}{member_text},"));
            }
            None => {
                let open = node.span.start + 1;
                let close = node.span.end - 1;
                let inner = &self.text[open..close];
                let replacement = if inner.trim().is_empty() {
                    format!("\n{member_indent}{member_text},\n{object_indent}")
                } else {
                    // Only comments inside: keep them, add after.
                    format!("{inner}\n{member_indent}{member_text},\n{object_indent}")
                };
                self.text.replace_range(open..close, &replacement);
            }
        }
        Ok(())
    }

    /// Removes the member at `path` (with its trailing comma and, when it
    /// stood alone on its lines, those lines). Absent paths are a no-op.
    /// Returns whether something was removed.
    pub fn remove(&mut self, path: &[&str]) -> bool {
        let Ok(root) = parse(&self.text) else {
            return false;
        };
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        let Some(parent) = find(&root, parents) else {
            return false;
        };
        let NodeKind::Object(members) = &parent.kind else {
            return false;
        };
        let Some(member) = members.iter().rev().find(|m| m.key == *last) else {
            return false;
        };
        let mut start = member.key_span.start;
        let mut end = member.comma_end.unwrap_or(member.value.span.end);
        let bytes = self.text.as_bytes();
        // Whole line(s)? Then take the leading indent and the newline too.
        let line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        let before_is_blank = self.text[line_start..start].trim().is_empty();
        let mut after = end;
        while after < bytes.len() && matches!(bytes[after], b' ' | b'\t') {
            after += 1;
        }
        let ends_line = after >= bytes.len() || bytes[after] == b'\n' || bytes[after] == b'\r';
        if before_is_blank && ends_line {
            start = line_start;
            end = after;
            if end < bytes.len() && bytes[end] == b'\r' {
                end += 1;
            }
            if end < bytes.len() && bytes[end] == b'\n' {
                end += 1;
            }
        }
        self.text.replace_range(start..end, "");
        true
    }
}

/// The node at `path` below `root`.
fn find<'n>(root: &'n Node, path: &[&str]) -> Option<&'n Node> {
    let mut node = root;
    for key in path {
        let NodeKind::Object(members) = &node.kind else {
            return None;
        };
        node = &members.iter().rev().find(|m| m.key == *key)?.value;
    }
    Some(node)
}

/// The indentation of the line holding byte `offset`.
fn indent_at(text: &str, offset: usize) -> String {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// A key as an identifier when it is one, else JSON-quoted.
fn render_key(key: &str) -> String {
    let mut chars = key.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident {
        key.to_owned()
    } else {
        serde_json::Value::String(key.to_owned()).to_string()
    }
}

/// A value in JSON5 style: scalars and flat arrays inline, objects one
/// member per line at `indent` + 2.
fn render(value: &serde_json::Value, indent: &str) -> String {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            let inner = format!("{indent}  ");
            let mut out = String::from("{\n");
            for (key, value) in map {
                out.push_str(&format!(
                    "{inner}{}: {},\n",
                    render_key(key),
                    render(value, &inner)
                ));
            }
            out.push_str(indent);
            out.push('}');
            out
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const DOC: &str = r#"// my OpenClaw config
{
  agents: { defaults: { model: { primary: "openai/gpt-5" } } }, // keep me
  channels: {
    clickclack: {
      baseUrl: 'http://old',
      /* the token */
      token: { source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" },
      workspace: "default",
    },
  },
}
"#;

    #[test]
    fn finds_duplicate_keys_with_their_path() {
        let dup = find_duplicate_key("{a: {b: 1, 'b': 2}}").unwrap().unwrap();
        assert_eq!(dup.path, "a.b");
        assert_eq!(
            find_duplicate_key("{\n channels: {},\n \"channels\": {}\n}")
                .unwrap()
                .unwrap(),
            DuplicateKey {
                path: "channels".to_owned(),
                first_line: 2,
                line: 3
            }
        );
        assert_eq!(find_duplicate_key(DOC).unwrap(), None);
        assert_eq!(
            find_duplicate_key("{a: [{x: 1, x: 2}]}")
                .unwrap()
                .unwrap()
                .path,
            "a[0].x"
        );
    }

    #[test]
    fn replaces_inserts_and_removes_keeping_comments() {
        let mut edit = Json5Edit::new(DOC).unwrap();
        edit.set(&["channels", "clickclack", "baseUrl"], &json!("http://new"))
            .unwrap();
        edit.set(
            &["channels", "clickclack", "tokenFile"],
            &json!("~/.openclaw/t"),
        )
        .unwrap();
        assert!(edit.remove(&["channels", "clickclack", "token"]));
        edit.set(
            &["channels", "clickclack", "accounts", "work", "workspace"],
            &json!("w"),
        )
        .unwrap();
        let text = edit.text();
        assert!(text.starts_with("// my OpenClaw config\n"), "{text}");
        assert!(text.contains("// keep me"), "{text}");
        assert!(text.contains("/* the token */"), "{text}");
        assert!(text.contains("baseUrl: \"http://new\","), "{text}");
        assert!(!text.contains("CLICKCLACK_BOT_TOKEN"), "{text}");
        let value: serde_json::Value = json5::from_str(text).unwrap();
        assert_eq!(
            value["channels"]["clickclack"]["tokenFile"],
            "~/.openclaw/t"
        );
        assert_eq!(
            value["channels"]["clickclack"]["accounts"]["work"]["workspace"],
            "w"
        );
        assert_eq!(
            value["agents"]["defaults"]["model"]["primary"],
            "openai/gpt-5"
        );
        assert_eq!(find_duplicate_key(text).unwrap(), None);
    }

    #[test]
    fn creates_sections_in_empty_documents() {
        let mut edit = Json5Edit::new("").unwrap();
        edit.set(&["channels", "clickclack", "enabled"], &json!(true))
            .unwrap();
        edit.set(&["channels", "clickclack", "allowFrom"], &json!(["usr_1"]))
            .unwrap();
        let value: serde_json::Value = json5::from_str(edit.text()).unwrap();
        assert_eq!(
            value,
            json!({"channels": {"clickclack": {"enabled": true, "allowFrom": ["usr_1"]}}})
        );
        let mut edit = Json5Edit::new("{ // only a comment\n}").unwrap();
        edit.set(&["a"], &json!(1)).unwrap();
        assert!(edit.text().contains("// only a comment"));
        assert_eq!(
            json5::from_str::<serde_json::Value>(edit.text()).unwrap(),
            json!({"a": 1})
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = find_duplicate_key(&text);
            if let Ok(mut edit) = Json5Edit::new(&text) {
                let _ = edit.set(&["x", "y"], &json!("z"));
                let _ = edit.remove(&["x"]);
            }
        }

        #[test]
        fn edits_keep_valid_json5(keys in proptest::collection::vec("[a-z]{1,6}", 1..4), value in "[ -~]{0,12}") {
            let mut edit = Json5Edit::new(DOC).unwrap();
            let path: Vec<&str> = keys.iter().map(String::as_str).collect();
            // A path through an existing scalar is refused, never corrupted.
            if edit.set(&path, &json!(value)).is_ok() {
                let parsed: serde_json::Value = json5::from_str(edit.text()).unwrap();
                let mut at = &parsed;
                for key in &path { at = &at[*key]; }
                prop_assert_eq!(at, &json!(value));
                prop_assert_eq!(find_duplicate_key(edit.text()).unwrap(), None);
            }
        }
    }
}
