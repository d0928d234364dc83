//! Mutated valid frames into `Event::from_slice`: whenever the mutation
//! leaves the envelope intact (the frame is still a JSON object with the same
//! `cursor`, `type` and `seq`), decoding must succeed and keep the cursor —
//! only the payload may degrade to `Unknown`. Unknown envelope fields are
//! ignored. Case count: `PROPTEST_CASES` (default 256); `cargo xtask fuzz`
//! raises it.

use clickclack_proto::*;
use proptest::prelude::*;

const FRAMES: &[&str] = &[
    r#"{"id":"evt_01","cursor":"cur_01jz","type":"message.created","workspace_id":"wsp_1","channel_id":"chn_1","seq":7,"created_at":"2026-05-08T12:00:00Z","payload":{"message_id":"msg_1","author_id":"usr_1","nonce":"n-1","kind":"message"}}"#,
    r#"{"id":"evt_02","cursor":"cur_02ab","type":"thread.reply_created","workspace_id":"wsp_1","channel_id":"chn_1","seq":8,"created_at":"2026-05-08T12:00:00Z","payload":{"message_id":"msg_2","root_message_id":"msg_1","correlation_id":"c"}}"#,
    r#"{"id":"evt_03","cursor":"cur_03cd","type":"message.created","workspace_id":"wsp_1","seq":9,"created_at":"2026-05-08T12:00:00Z","payload":{"message_id":"msg_3","author_id":"usr_1","direct_conversation_id":"dm_1"}}"#,
    r#"{"id":"evt_04","cursor":"cur_04ef","type":"reaction.added","workspace_id":"wsp_1","channel_id":"chn_1","created_at":"2026-05-08T12:00:00Z","payload":{"message_id":"msg_1","user_id":"usr_1","emoji":"x"}}"#,
];

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The envelope fields that identify an event, from a JSON value.
fn envelope(v: &serde_json::Value) -> Option<(String, String, Option<i64>)> {
    let o = v.as_object()?;
    let cursor = o.get("cursor")?.as_str()?.to_owned();
    let ty = o.get("type")?.as_str()?.to_owned();
    let seq = match o.get("seq") {
        None | Some(serde_json::Value::Null) => None,
        Some(s) => Some(s.as_i64()?),
    };
    // The other always-present envelope fields must still be strings.
    for key in ["id", "workspace_id", "created_at"] {
        o.get(key)?.as_str()?;
    }
    if let Some(ch) = o.get("channel_id") {
        ch.as_str()?;
    }
    Some((cursor, ty, seq))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    /// Up to 4 byte edits anywhere inside the payload object.
    #[test]
    fn payload_byte_edits_never_lose_an_intact_envelope(
        frame in prop::sample::select(FRAMES),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..5),
    ) {
        let start = frame.find("\"payload\":").map(|i| i + 10).unwrap_or(0);
        let end = frame.len() - 1; // keep the closing brace of the envelope
        let mut bytes = frame.as_bytes().to_vec();
        for (idx, byte) in &edits {
            let pos = start + idx.index(end - start);
            bytes[pos] = *byte;
        }
        let original = envelope(&serde_json::from_str(frame).unwrap()).unwrap();
        let decoded = Event::from_slice(&bytes);
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
            && envelope(&v).as_ref() == Some(&original)
        {
            let event = decoded.map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(event.cursor().as_str(), original.0.as_str());
            prop_assert_eq!(event.event_type(), original.1.as_str());
            prop_assert_eq!(event.seq(), original.2);
        }
    }

    /// Any byte edits anywhere: never a panic; a decoded event's cursor is
    /// the one the JSON carries (none: cursorless).
    #[test]
    fn arbitrary_edits_never_panic(
        frame in prop::sample::select(FRAMES),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = frame.as_bytes().to_vec();
        for (idx, byte) in &edits {
            let pos = idx.index(bytes.len());
            bytes[pos] = *byte;
        }
        // (The payload is kept raw, so the decoder may accept frames a full
        // JSON parse rejects, e.g. a lone surrogate escape inside it.)
        if let (Ok(event), Ok(v)) = (
            Event::from_slice(&bytes),
            serde_json::from_slice::<serde_json::Value>(&bytes),
        ) {
            // A frame without a `cursor` decodes as cursorless (ephemeral).
            prop_assert_eq!(event.cursor().as_str(), v["cursor"].as_str().unwrap_or(""));
        }
        let _ = Event::from_slice(&bytes[..cut.index(bytes.len())]);
    }

    /// Unknown envelope fields (servers add fields) are ignored.
    #[test]
    fn unknown_envelope_fields_are_ignored(
        frame in prop::sample::select(FRAMES),
        extra in prop::collection::btree_map("x_[a-z_]{1,10}", "\\PC{0,12}", 0..4),
    ) {
        let mut v: serde_json::Value = serde_json::from_str(frame).unwrap();
        let original = envelope(&v).unwrap();
        if let Some(o) = v.as_object_mut() {
            for (k, val) in extra {
                o.insert(k, serde_json::Value::String(val));
            }
        }
        let event = Event::from_slice(&serde_json::to_vec(&v).unwrap())
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(event.cursor().as_str(), original.0.as_str());
        let base = Event::from_slice(frame.as_bytes()).unwrap();
        prop_assert_eq!(event.payload, base.payload);
    }
}
