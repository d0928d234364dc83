//! Strips leaked tool scaffolding from assistant text (reference §1 row 12).
//!
//! Models sometimes print their tool plumbing as text. Before a reply is
//! posted, the OpenClaw plugin removes it (`sanitizeAssistantVisibleText`);
//! everything else — the markdown itself — is passed through unchanged.
//! This is our own, smaller implementation of the same idea. It removes,
//! outside fenced and inline code:
//!
//! * tool-call XML blocks that carry a payload — `<tool_call>{…}</tool_call>`,
//!   `<tool_result>`, `<tool_calls>`, `<function_call>`, `<function_calls>`,
//!   `<function_response>` — from the opening tag to the matching closing tag
//!   (or to the end of the text when the block was cut off), and stray
//!   closing tags of those names;
//! * hidden reasoning blocks: `<think>`, `<thinking>`, `<thought>`,
//!   `<antthinking>` (any case);
//! * legacy `[TOOL_CALL]…[/TOOL_CALL]` and `[TOOL_RESULT]…[/TOOL_RESULT]` blocks;
//! * model special tokens such as `<|im_end|>` or `<|tool_call_begin|>`;
//! * whole internal trace lines: `⚠️ 🛠️ \`search repos (agent)\` failed`,
//!   `🛠️ Exec: ls`, `📖 Read: src/main.rs`, `tool_call: {…}`,
//!   `commentary to=functions.exec …`.
//!
//! The result is trimmed; runs of blank lines left behind by removed lines
//! are collapsed to one blank line. An empty result means "send nothing".
//!
//! ```
//! use openclaw_clickclack::outbound::sanitize::sanitize_assistant_text;
//!
//! assert_eq!(
//!     sanitize_assistant_text("Done.\n⚠️ 🛠️ `search repos (agent)` failed"),
//!     "Done.",
//! );
//! assert_eq!(
//!     sanitize_assistant_text(r#"<tool_call>{"name":"exec"}</tool_call>Deploy finished."#),
//!     "Deploy finished.",
//! );
//! assert_eq!(sanitize_assistant_text("⚠️ 🛠️ `search repos (agent)` failed"), "");
//! // Code is left alone.
//! assert_eq!(
//!     sanitize_assistant_text("```\n<tool_call>{}</tool_call>\n```"),
//!     "```\n<tool_call>{}</tool_call>\n```",
//! );
//! ```

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// Tag names whose blocks are tool plumbing.
const TOOL_TAGS: &[&str] = &[
    "tool_call",
    "tool_calls",
    "tool_result",
    "function_call",
    "function_calls",
    "function_response",
];

/// Tag names whose blocks are hidden reasoning.
const REASONING_TAGS: &[&str] = &["think", "thinking", "thought", "antthinking"];

#[allow(clippy::expect_used)] // constant patterns, checked by the unit tests
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid built-in regex")
}

static TRACE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^(?:>\s*)?(?:⚠️\s*)?(?:📊|🛠️|📖|📝|🔍|🔎|⚙️)\s*(?:Session Status|Exec|Read|Edit|Write|Patch|Search|Open|Click|Find|Screenshot|Update Plan|Tool Call|Tool Result|Function Call|Shell|Command)\s*:",
    )
});
static FAILURE_TRACE_LINE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:>\s*)?⚠️\s*🛠️\s+\S.*\s+\(agent\)`{0,2}\s+failed(?:\s*:.*)?\s*$"));
static CHANNEL_TRACE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)^(?:>\s*)?(?:tool[-_ ]?call|tool[-_ ]?result|function[-_ ]?call)\s*[:=]")
});
static COMMENTARY_TRACE_LINE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^(?:>\s*)?commentary\s+to=functions\.\S+\s"));
static SPECIAL_TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"<\|[A-Za-z0-9_:.\-]{1,64}\|>"));
static BRACKET_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?is)\[\s*TOOL_CALL\s*\].*?(?:\[\s*/\s*TOOL_CALL\s*\]|\z)|\[\s*TOOL_RESULT\s*\].*?(?:\[\s*/\s*TOOL_RESULT\s*\]|\z)",
    )
});

/// Returns the text a user should see: `text` without leaked tool
/// scaffolding (see the module docs), trimmed. Never panics.
#[must_use]
pub fn sanitize_assistant_text(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    let text = strip_tag_blocks(text);
    let text = strip_regex_outside_code(&text, &BRACKET_BLOCK);
    let text = strip_regex_outside_code(&text, &SPECIAL_TOKEN);
    let text = strip_trace_lines(&text);
    collapse_blank_lines(&text).trim().to_owned()
}

/// Byte ranges of fenced code blocks (``` or ~~~, to the closing fence or
/// the end) and inline code spans (matching backtick runs on one line).
fn code_regions(text: &str) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    let mut fence: Option<(usize, char, usize)> = None; // (start, char, run length)
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        match fence {
            Some((fence_start, c, n)) => {
                if fence_char == Some(c) && run >= n && trimmed[run..].trim().is_empty() {
                    regions.push(fence_start..offset);
                    fence = None;
                }
            }
            None => {
                if let Some(c) = fence_char.filter(|_| run >= 3) {
                    fence = Some((start, c, run));
                } else {
                    inline_code(line, start, &mut regions);
                }
            }
        }
    }
    if let Some((fence_start, _, _)) = fence {
        regions.push(fence_start..text.len());
    }
    regions
}

/// Inline code spans of one line: a run of N backticks up to the next run of
/// exactly N backticks.
fn inline_code(line: &str, base: usize, regions: &mut Vec<Range<usize>>) {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'`' {
            i += 1;
            continue;
        }
        let open = i;
        while i < bytes.len() && bytes[i] == b'`' {
            i += 1;
        }
        let n = i - open;
        let mut j = i;
        let mut closed = None;
        while j < bytes.len() {
            if bytes[j] == b'`' {
                let run_start = j;
                while j < bytes.len() && bytes[j] == b'`' {
                    j += 1;
                }
                if j - run_start == n {
                    closed = Some(j);
                    break;
                }
            } else {
                j += 1;
            }
        }
        if let Some(end) = closed {
            regions.push(base + open..base + end);
            i = end;
        }
    }
}

fn inside(regions: &[Range<usize>], at: usize) -> bool {
    regions.iter().any(|r| r.contains(&at))
}

/// One parsed `<name …>` / `</name>` tag of the kinds we strip.
struct Tag {
    name: String,
    close: bool,
    self_closing: bool,
    end: usize,
}

fn parse_tag(text: &str, start: usize) -> Option<Tag> {
    let rest = text.get(start..)?;
    let mut chars = rest.char_indices().peekable();
    if chars.next()?.1 != '<' {
        return None;
    }
    let mut close = false;
    while let Some(&(_, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else {
            break;
        }
    }
    if chars.peek().map(|&(_, c)| c) == Some('/') {
        close = true;
        chars.next();
    }
    let mut name = String::new();
    while let Some(&(_, c)) = chars.peek() {
        if c.is_ascii_alphabetic() || c == '_' {
            name.push(c.to_ascii_lowercase());
            chars.next();
        } else {
            break;
        }
    }
    if !TOOL_TAGS.contains(&name.as_str()) && !REASONING_TAGS.contains(&name.as_str()) {
        return None;
    }
    match chars.peek().map(|&(_, c)| c) {
        Some(c) if c.is_whitespace() || c == '/' || c == '>' => {}
        _ => return None,
    }
    let mut prev = ' ';
    for (i, c) in chars {
        if c == '<' {
            return None;
        }
        if c == '>' {
            return Some(Tag {
                name,
                close,
                self_closing: !close && prev == '/',
                end: start + i + 1,
            });
        }
        if !c.is_whitespace() {
            prev = c;
        }
    }
    None
}

/// Whether a tool block payload starts right after `at`: JSON (`{`, `[`) or
/// nested XML (`<`), after optional whitespace.
fn has_payload(text: &str, at: usize) -> bool {
    text.get(at..)
        .and_then(|rest| rest.trim_start().chars().next())
        .is_some_and(|c| c == '{' || c == '[' || c == '<')
}

/// Finds the matching `</name>` at or after `from`; returns (start, end).
fn find_close(text: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(pos) = text.get(at..).and_then(|rest| rest.find('<')) {
        let start = at + pos;
        if let Some(tag) = parse_tag(text, start) {
            if tag.close && tag.name == name {
                return Some((start, tag.end));
            }
            at = tag.end;
        } else {
            at = start + 1;
        }
    }
    None
}

fn strip_tag_blocks(text: &str) -> String {
    if !text.contains('<') {
        return text.to_owned();
    }
    let regions = code_regions(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while let Some(pos) = text.get(at..).and_then(|rest| rest.find('<')) {
        let start = at + pos;
        at = start + 1;
        if inside(&regions, start) {
            continue;
        }
        let Some(tag) = parse_tag(text, start) else {
            continue;
        };
        let reasoning = REASONING_TAGS.contains(&tag.name.as_str());
        let remove_to = if tag.close || tag.self_closing {
            // A stray closing tag or an empty self-closed call: drop the tag.
            Some(tag.end)
        } else if reasoning || has_payload(text, tag.end) {
            Some(find_close(text, tag.end, &tag.name).map_or(text.len(), |(_, end)| end))
        } else {
            None
        };
        if let Some(end) = remove_to {
            out.push_str(&text[copied..start]);
            copied = end;
            at = end;
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn strip_regex_outside_code(text: &str, pattern: &Regex) -> String {
    if !pattern.is_match(text) {
        return text.to_owned();
    }
    let regions = code_regions(text);
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for m in pattern.find_iter(text) {
        if inside(&regions, m.start()) {
            continue;
        }
        out.push_str(&text[copied..m.start()]);
        copied = m.end();
    }
    out.push_str(&text[copied..]);
    out
}

fn is_trace_line(line: &str) -> bool {
    let line = line.trim();
    TRACE_LINE.is_match(line)
        || FAILURE_TRACE_LINE.is_match(line)
        || CHANNEL_TRACE_LINE.is_match(line)
        || COMMENTARY_TRACE_LINE.is_match(line)
}

fn strip_trace_lines(text: &str) -> String {
    let regions = code_regions(text);
    let mut out = String::with_capacity(text.len());
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if !inside(&regions, start) && is_trace_line(line) {
            continue;
        }
        out.push_str(line);
    }
    out
}

/// Collapses three or more consecutive newlines (with only whitespace
/// between them) into two, outside fenced code.
fn collapse_blank_lines(text: &str) -> String {
    let regions = code_regions(text);
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let blank = line.trim().is_empty() && !inside(&regions, start);
        if blank {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_12_examples() {
        assert_eq!(
            sanitize_assistant_text("Done.\n⚠️ 🛠️ `search repos (agent)` failed"),
            "Done."
        );
        assert_eq!(
            sanitize_assistant_text("<tool_call>{\"name\":\"exec\"}</tool_call>Deploy finished."),
            "Deploy finished."
        );
        assert_eq!(
            sanitize_assistant_text("⚠️ 🛠️ `search repos (agent)` failed"),
            ""
        );
    }

    #[test]
    fn strips_reasoning_and_tokens_and_trace_lines() {
        assert_eq!(
            sanitize_assistant_text("<think>hmm</think>Hi<|im_end|>"),
            "Hi"
        );
        assert_eq!(
            sanitize_assistant_text("Result:\n🛠️ Exec: ls -la\n📖 Read: a.rs\n\nAll good"),
            "Result:\n\nAll good"
        );
        assert_eq!(
            sanitize_assistant_text("ok [TOOL_CALL]{\"x\":1}[/TOOL_CALL] done"),
            "ok  done"
        );
        assert_eq!(sanitize_assistant_text("a\n</tool_call>\nb"), "a\n\nb");
        assert_eq!(
            sanitize_assistant_text("x <tool_call>{\"unterminated\": true"),
            "x"
        );
    }

    #[test]
    fn keeps_markdown_and_code_and_plain_mentions() {
        let md = "# Title\n\n* a\n* b\n\n```rust\nlet x = \"<tool_call>{}</tool_call>\";\n🛠️ Exec: not a trace\n```\n";
        assert_eq!(sanitize_assistant_text(md), md.trim());
        assert_eq!(
            sanitize_assistant_text("Use the `<tool_call>{}</tool_call>` tag"),
            "Use the `<tool_call>{}</tool_call>` tag"
        );
        assert_eq!(
            sanitize_assistant_text("the <tool_call> tag wraps calls"),
            "the <tool_call> tag wraps calls"
        );
        assert_eq!(
            sanitize_assistant_text("a < b and c > d"),
            "a < b and c > d"
        );
    }
}
