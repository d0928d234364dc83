//! One pass over a message write response that finds what a send needs —
//! `message.id`, and whether `event` is present and not `null` — while
//! checking that the whole body is well-formed JSON.
//!
//! It builds nothing and copies nothing: one loop over the tokens, strings
//! skipped eight bytes at a time. On a server's write response (about
//! 1 KiB) it runs 7.4 k instructions where serde_json's typed decode of the
//! same two fields ran 12.8 k (callgrind, issue #17): that decode was the
//! largest single cost the lean send path had beyond bare hyper.
//!
//! It accepts a strict subset of what the serde decode accepts: anything
//! unusual — an escaped key or id, a duplicate `message`/`event`/`id`, a
//! `message` that is not an object, nesting deeper than [`MAX_DEPTH`] — makes
//! it answer `None`, and the caller decodes with serde_json, which gives the
//! same answer or the error that names the JSON path. So when it answers,
//! the answer is serde's (proptests compare the two).

use std::str;

/// Nesting beyond this is left to serde_json (whose own limit is 128).
const MAX_DEPTH: usize = 63;

/// What a send needs from a write response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteHead<'a> {
    /// `message.id`.
    pub(crate) id: &'a str,
    /// `event` is present and not `null`.
    pub(crate) has_event: bool,
}

/// Which member the value being read belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Anything that is only checked.
    Other,
    /// The top-level `message` (must be an object).
    Message,
    /// The top-level `event`.
    Event,
    /// `message.id` (must be a plain string).
    Id,
}

/// What comes next.
#[derive(Clone, Copy)]
enum Expect {
    /// A key (the cursor is on its opening quote).
    Key,
    /// A value (the cursor is on its first byte).
    Value,
    /// `,` or the close of the current container.
    Next,
}

/// Scans `body` for its [`WriteHead`]; `None` when the body is not the
/// plain, well-formed shape this scan handles (see the module docs).
pub(crate) fn scan_write_head(b: &[u8]) -> Option<WriteHead<'_>> {
    let mut i = ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(b, i + 1);
    // Bit `d` of `arrays` is set when the container at depth `d` is an array.
    let mut depth = 1usize;
    let mut arrays = 0u64;
    let mut id: Option<&str> = None;
    let mut message_seen = false;
    // The object at depth 2 is `message`.
    let mut in_message = false;
    let mut event: Option<bool> = None;
    let mut slot = Slot::Other;
    let mut expect = Expect::Key;
    loop {
        match expect {
            Expect::Key => {
                if b.get(i) != Some(&b'"') {
                    return None;
                }
                let (end, escaped) = string_end(b, i + 1)?;
                let key = b.get(i + 1..end)?;
                i = ws(b, end + 1);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                i = ws(b, i + 1);
                slot = Slot::Other;
                if depth == 1 || (depth == 2 && in_message) {
                    // serde would decode escapes first, and fails on
                    // a key that is not UTF-8.
                    if escaped || !(key.is_ascii() || str::from_utf8(key).is_ok()) {
                        return None;
                    }
                    slot = match (depth, key) {
                        (1, b"message") if !message_seen => {
                            message_seen = true;
                            Slot::Message
                        }
                        (1, b"event") if event.is_none() => Slot::Event,
                        (2, b"id") if id.is_none() => Slot::Id,
                        // A duplicate: serde fails.
                        (1, b"message" | b"event") | (2, b"id") => return None,
                        _ => Slot::Other,
                    };
                }
                expect = Expect::Value;
            }
            Expect::Value => {
                let c = *b.get(i)?;
                match slot {
                    Slot::Other => {}
                    Slot::Message if c != b'{' => return None,
                    Slot::Id if c != b'"' => return None,
                    Slot::Message | Slot::Id => {}
                    // `n` can only start `null` (checked below).
                    Slot::Event => event = Some(c != b'n'),
                }
                expect = Expect::Next;
                match c {
                    b'"' => {
                        let (end, escaped) = string_end(b, i + 1)?;
                        if slot == Slot::Id {
                            if escaped {
                                return None;
                            }
                            id = Some(str::from_utf8(b.get(i + 1..end)?).ok()?);
                        }
                        i = end + 1;
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return None;
                        }
                        let array = c == b'[';
                        arrays = (arrays & !(1 << depth)) | (u64::from(array) << depth);
                        in_message |= slot == Slot::Message;
                        i = ws(b, i + 1);
                        if b.get(i) == Some(if array { &b']' } else { &b'}' }) {
                            // Empty: closed at once.
                            i += 1;
                            depth -= 1;
                            in_message &= slot != Slot::Message;
                        } else {
                            expect = if array { Expect::Value } else { Expect::Key };
                            slot = Slot::Other;
                        }
                    }
                    b't' => i = literal(b, i, b"true")?,
                    b'f' => i = literal(b, i, b"false")?,
                    b'n' => i = literal(b, i, b"null")?,
                    b'-' | b'0'..=b'9' => i = number(b, i)?,
                    _ => return None,
                }
            }
            Expect::Next => {
                i = ws(b, i);
                let array = arrays & (1 << depth) != 0;
                match *b.get(i)? {
                    b',' => {
                        i = ws(b, i + 1);
                        slot = Slot::Other;
                        expect = if array { Expect::Value } else { Expect::Key };
                    }
                    b']' if array => {
                        i += 1;
                        depth -= 1;
                    }
                    b'}' if !array => {
                        i += 1;
                        if depth == 2 {
                            in_message = false;
                        }
                        depth -= 1;
                        if depth == 0 {
                            if ws(b, i) != b.len() {
                                return None;
                            }
                            return Some(WriteHead {
                                id: id?,
                                has_event: event.unwrap_or(false),
                            });
                        }
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace
/// (what serde_json skips).
#[inline(always)]
fn ws(b: &[u8], i: usize) -> usize {
    // Compact JSON has none: one comparison.
    match b.get(i) {
        Some(&c) if c <= b' ' => ws_slow(b, i),
        _ => i,
    }
}

/// [`ws`] when there is some.
#[inline(never)]
fn ws_slow(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// From just after an opening quote: the index of the closing quote, and
/// whether the string has escapes. Control characters fail; escapes must
/// be JSON's (any four hex digits after `\u`, as serde_json skips them).
#[inline(always)]
fn string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut escaped = false;
    loop {
        // Eight bytes at a time while the body lasts: a byte below 0x20,
        // `"` or `\` sets its high bit in `hits`, and the lowest set bit is
        // always a real one.
        i = loop {
            let Some(chunk) = b.get(i..i + 8) else {
                // The last bytes of the body, one at a time.
                while b
                    .get(i)
                    .is_some_and(|&c| c >= 0x20 && c != b'"' && c != b'\\')
                {
                    i += 1;
                }
                break i;
            };
            let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
                return None;
            };
            let x = u64::from_le_bytes(bytes);
            let control = x.wrapping_sub(ONES * 0x20) & !x;
            let quote = x ^ (ONES * u64::from(b'"'));
            let quote = quote.wrapping_sub(ONES) & !quote;
            let backslash = x ^ (ONES * u64::from(b'\\'));
            let backslash = backslash.wrapping_sub(ONES) & !backslash;
            let hits = (control | quote | backslash) & HIGH;
            if hits != 0 {
                break i + hits.trailing_zeros() as usize / 8;
            }
            i += 8;
        };
        match *b.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                match *b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        if !b.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        i += 6;
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
}

/// `word` at `i`: the index after it.
fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    b.get(i..)?.starts_with(word).then_some(i + word.len())
}

/// The index after the digit run starting at `i`.
#[inline(always)]
fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// A number as JSON (and serde_json) spells it, starting at `i`: `-`? then
/// `0` or a digit run not starting with `0`, then `.digits`? and
/// `[eE][+-]?digits`?. The index after it.
fn number(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match *b.get(i)? {
        b'0' => {
            i += 1;
            if b.get(i).is_some_and(u8::is_ascii_digit) {
                return None;
            }
        }
        b'1'..=b'9' => i = digits(b, i + 1),
        _ => return None,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(b, i + 1);
        if end == i + 1 {
            return None;
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(b, i);
        if end == i {
            return None;
        }
        i = end;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the serde decode of a send finds (the reference the scan must
    /// agree with).
    fn serde_head(body: &[u8]) -> Option<(String, bool)> {
        let (id, has_event) = crate::sent::decode_head(body).ok()?;
        Some((id.as_str().to_owned(), has_event))
    }

    /// The scan never disagrees with serde; returns whether it answered.
    fn agrees(body: &[u8]) -> bool {
        match scan_write_head(body) {
            Some(head) => {
                assert_eq!(
                    serde_head(body),
                    Some((head.id.to_owned(), head.has_event)),
                    "{}",
                    String::from_utf8_lossy(body)
                );
                true
            }
            None => false,
        }
    }

    const SERVER: &str = r#"{"event":{"channel_id":"chn_01m8mx8xgk4eevph2j350zv002","created_at":"2026-11-30T00:23:24.437986024Z","cursor":"cur_01m8mxbggn480ptdyjdpw5qg02","id":"evt_01m8mxbggn480ptdyjdpw5qg01","payload":{"author_id":"usr_01m8mx8zsv2wecxehwy0cyn000","correlation_id":"qwgy76x066bec8258a8a8k1yha","message_id":"msg_01m8mxbggn480ptdyjdpw5qg00","nonce":"abc-1"},"seq":101380,"type":"message.created","workspace_id":"wsp_01m8mx8xgk4eevph2j350zv000"},"message":{"author":{"avatar_url":"","created_at":"2026-11-30T00:22:01.787601068Z","display_name":"rest bench","handle":"rest_bench","id":"usr_01m8mx8zsv2wecxehwy0cyn000","kind":"bot"},"author_id":"usr_01m8mx8zsv2wecxehwy0cyn000","body":"Build #4821 passed on main: 1,204 tests, 0 failures, coverage 87.3%. Artifacts \u003cuploaded\u003e to staging..","body_format":"markdown","channel_id":"chn_01m8mx8xgk4eevph2j350zv002","channel_seq":101380,"created_at":"2026-11-30T00:23:24.437973711Z","id":"msg_01m8mxbggn480ptdyjdpw5qg00","nonce":"abc-1","thread_root_id":"msg_01m8mxbggn480ptdyjdpw5qg00","workspace_id":"wsp_01m8mx8xgk4eevph2j350zv000","attachments":null,"reactions":[],"score":-1.5e-3}}"#;

    #[test]
    fn answers_for_a_server_response() {
        let head = scan_write_head(SERVER.as_bytes()).unwrap();
        assert_eq!(head.id, "msg_01m8mxbggn480ptdyjdpw5qg00");
        assert!(head.has_event);
        assert!(agrees(SERVER.as_bytes()));
        let replay = r#" {"message": {"id": "msg_1"}, "event": null} "#;
        assert_eq!(
            scan_write_head(replay.as_bytes()),
            Some(WriteHead {
                id: "msg_1",
                has_event: false
            })
        );
        assert!(agrees(br#"{"message":{"id":""}}"#));
        assert!(agrees(
            "{\"message\":{\"id\":\"msg_\u{e9}\u{1F980}\"}}".as_bytes()
        ));
    }

    #[test]
    fn leaves_the_unusual_to_serde() {
        for body in [
            &br#"{"message":{"id":"a\"b"}}"#[..],
            br#"{"mess\u0061ge":{"id":"a"}}"#,
            br#"{"message":{"id":"a"},"message":{"id":"b"}}"#,
            br#"{"message":{"id":"a","id":"b"}}"#,
            br#"{"message":{"id":"a"},"event":1,"event":null}"#,
            br#"{"message":["a"]}"#,
            br#"[{"id":"a"}]"#,
        ] {
            assert!(
                scan_write_head(body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let mut deep = String::from(r#"{"message":{"id":"a"},"x":"#);
        deep.push_str(&"[".repeat(100));
        deep.push_str(&"]".repeat(100));
        deep.push('}');
        assert!(scan_write_head(deep.as_bytes()).is_none());
    }

    #[test]
    fn rejects_what_is_not_json() {
        for body in [
            &b""[..],
            b"{",
            br#"{"message":{"id":"a"}} x"#,
            br#"{"message":{"id":"a"},}"#,
            br#"{"message":{"id":"a"},"n":01}"#,
            br#"{"message":{"id":"a"},"n":1.}"#,
            br#"{"message":{"id":"a"},"n":1e}"#,
            br#"{"message":{"id":"a"},"n":-}"#,
            br#"{"message":{"id":"a"},"n":tru}"#,
            br#"{"message":{"id":"a"},"s":"\x"}"#,
            br#"{"message":{"id":"a"},"s":"\u12g4"}"#,
            b"{\"message\":{\"id\":\"a\"},\"s\":\"tab\there\"}",
            br#"{"message":{"id":"a"},"a":[1,]}"#,
            br#"{"message":{"id":"a"} "event":1}"#,
            br#"{"event":{}}"#,
            br#"{"message":{"id":5}}"#,
            br#"{"message":null}"#,
        ] {
            assert!(!agrees(body), "{}", String::from_utf8_lossy(body));
        }
    }

    /// Any JSON value, as text, with arbitrary whitespace between tokens.
    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| serde_json::to_string(&f).unwrap_or_default()),
            "[a-z\"\\\\\u{e9}\u{1F980}\n/]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just(r#""esc \u00e9 \ud83e \/ \b""#.to_owned()),
        ];
        let ws = prop::sample::select(vec!["", " ", "\n\t", "\r "]);
        leaf.prop_recursive(4, 32, 5, move |inner| {
            let ws = ws.clone();
            prop_oneof![
                prop::collection::vec((inner.clone(), ws.clone()), 0..5).prop_map(|items| {
                    let parts: Vec<String> = items
                        .into_iter()
                        .map(|(v, w)| format!("{w}{v}{w}"))
                        .collect();
                    format!("[{}]", parts.join(","))
                }),
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["id", "message", "event", "x", "m\\u0065ssage"]),
                        inner,
                        ws
                    ),
                    0..5,
                )
                .prop_map(|members| {
                    let parts: Vec<String> = members
                        .into_iter()
                        .map(|(k, v, w)| format!("{w}\"{k}\"{w}:{w}{v}{w}"))
                        .collect();
                    format!("{{{}}}", parts.join(","))
                }),
            ]
        })
    }

    proptest! {
        /// Whenever the scan answers, serde decodes the same head.
        #[test]
        fn agrees_with_serde_on_json(
            members in prop::collection::vec(
                (prop::sample::select(vec!["message", "event", "x", "id"]), json_text()),
                0..4,
            ),
            id in prop::option::of("[a-z_0-9\u{e9}\"]{0,10}"),
            extra in prop::option::of(json_text()),
        ) {
            let mut parts: Vec<String> = members.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            if let Some(id) = id {
                let mut message = format!("\"id\":{}", serde_json::to_string(&id).unwrap());
                if let Some(extra) = &extra {
                    message = format!("\"before\":{extra},{message},\"after\":{extra}");
                }
                parts.push(format!("\"message\":{{{message}}}"));
            }
            let body = format!("{{{}}}", parts.join(","));
            agrees(body.as_bytes());
        }

        /// Changing, cutting or extending a server response never makes the
        /// scan disagree with serde, and never panics.
        #[test]
        fn agrees_with_serde_on_damaged_bodies(
            at in 0..SERVER.len(),
            byte in any::<u8>(),
            how in 0..3u8,
        ) {
            let mut body = SERVER.as_bytes().to_vec();
            match how {
                0 => body[at] = byte,
                1 => body.truncate(at),
                _ => body.insert(at, byte),
            }
            agrees(&body);
        }

        /// Arbitrary bytes never panic the scan, and it never disagrees.
        #[test]
        fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..64)) {
            agrees(&body);
        }
    }
}
