//! Property tests: the event decoder never panics, bad payloads keep the
//! cursor, ids / scopes / slugs round trip.

use clickclack_proto::*;
use proptest::prelude::*;

const VALID: &str = r#"{"id":"evt_01","cursor":"cur_01jz","type":"message.created","workspace_id":"wsp_1","channel_id":"chn_1","seq":7,"created_at":"2026-05-08T12:00:00Z","payload":{"message_id":"msg_1","author_id":"usr_1"}}"#;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "[a-z_]{0,8}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

const TYPES: &[&str] = &[
    "message.created",
    "thread.reply_created",
    "reaction.added",
    "channel.updated",
    "typing.started",
    "bot.deleted",
    "dm.read",
    "unknown.type",
    "",
];

/// A valid payload for each type in [`TYPES`] (Go-shaped: keys in struct order).
fn valid_payload(ty: &str) -> &'static str {
    match ty {
        "message.created" => {
            r#"{"message_id":"msg_1","author_id":"usr_1","nonce":"n-1","mentioned_user_ids":["usr_2"]}"#
        }
        "thread.reply_created" => r#"{"message_id":"msg_2","root_message_id":"msg_1"}"#,
        "reaction.added" => r#"{"message_id":"msg_1","emoji":"+1","user_id":"usr_1","count":2}"#,
        "channel.updated" => "{}",
        "typing.started" => r#"{"user_id":"usr_1","channel_id":"chn_1","turn":"t"}"#,
        "bot.deleted" => r#"{"bot_user_id":"usr_9","display_name":"Old"}"#,
        "dm.read" => r#"{"direct_conversation_id":"dm_1","user_id":"usr_1","seq":3}"#,
        _ => r#"{"anything":[1,2]}"#,
    }
}

/// One envelope field as it may arrive: valid, `null`, absent, or the wrong JSON type.
fn envelope_field(
    key: &'static str,
    valid: &'static str,
) -> impl Strategy<Value = Option<(String, String)>> {
    prop_oneof![
        16 => Just(Some((key.to_owned(), valid.to_owned()))),
        2 => Just(Some((key.to_owned(), "null".to_owned()))),
        2 => Just(None),
        1 => Just(Some((key.to_owned(), "[1]".to_owned()))),
    ]
}

/// The payload as it may arrive for `ty`: valid, with a key dropped, a list
/// `null`ed, an unknown key added, `null`, or any JSON value.
fn payload_text(ty: &'static str) -> impl Strategy<Value = String> {
    let valid = valid_payload(ty);
    prop_oneof![
        3 => Just(valid.to_owned()),
        1 => Just("null".to_owned()),
        1 => Just(valid.replacen("\"message_id\":\"msg_1\",", "", 1)),
        1 => Just(valid.replacen("[\"usr_2\"]", "null", 1)),
        1 => Just(valid.replacen('{', "{\"later_key\":{\"x\":[null]},", 1)),
        1 => Just(valid.replacen("\"usr_1\"", "7", 1)),
        1 => json_value().prop_map(|v| v.to_string()),
    ]
}

/// An event frame with Go's mutations, its keys in any order, as JSON text.
fn mutated_frame() -> impl Strategy<Value = String> {
    (prop::sample::select(TYPES), any::<bool>()).prop_flat_map(|(ty, escaped)| {
        let type_text = if escaped {
            // The same type string, written with an escape (decoded owned, not borrowed).
            format!("\"{}\"", ty.replacen('.', "\\u002e", 1))
        } else {
            format!("\"{ty}\"")
        };
        let type_field = prop_oneof![
            8 => Just(Some(("type".to_owned(), type_text))),
            1 => Just(None),
            1 => Just(Some(("type".to_owned(), "null".to_owned()))),
        ];
        (
            (
                envelope_field("id", r#""evt_1""#),
                envelope_field("cursor", r#""cur_01""#),
                type_field,
                envelope_field("workspace_id", r#""wsp_1""#),
                envelope_field("channel_id", r#""chn_1""#),
                envelope_field("seq", "7"),
                envelope_field("created_at", r#""2026-05-08T12:00:00Z""#),
                envelope_field("mentioned_user_ids", r#"["usr_2"]"#),
            ),
            prop::option::weighted(0.9, payload_text(ty)),
            prop::option::of(("[a-z]{1,6}", json_value())),
            any::<proptest::sample::Index>(),
            prop::collection::vec(any::<proptest::sample::Index>(), 0..4),
        )
            .prop_map(|(envelope, payload, unknown, duplicate, swaps)| {
                let (id, cursor, ty, ws, chn, seq, at, mentions) = envelope;
                let mut fields: Vec<(String, String)> =
                    [id, cursor, ty, ws, chn, seq, at, mentions]
                        .into_iter()
                        .flatten()
                        .collect();
                fields.extend(payload.map(|p| ("payload".to_owned(), p)));
                fields.extend(unknown.map(|(k, v)| (k, v.to_string())));
                // Go writes keys in struct order; other servers may not.
                for (i, swap) in swaps.iter().enumerate() {
                    let j = swap.index(fields.len());
                    let i = i % fields.len();
                    fields.swap(i, j);
                }
                // Now and then a key twice (rejected either way).
                if duplicate.index(16) == 0 {
                    let repeated = fields[duplicate.index(fields.len())].clone();
                    fields.push(repeated);
                }
                let body: Vec<String> =
                    fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Event::from_slice(&bytes);
    }

    #[test]
    fn mutated_valid_frames_never_panic(cut in 0usize..VALID.len(), byte in any::<u8>(), pos in 0usize..VALID.len()) {
        let mut bytes = VALID.as_bytes().to_vec();
        bytes[pos] = byte;
        let _ = Event::from_slice(&bytes);
        let _ = Event::from_slice(&VALID.as_bytes()[..cut]);
    }

    #[test]
    fn any_payload_keeps_cursor_and_round_trips(
        payload in json_value(),
        ty in prop::sample::select(TYPES),
        cursor in "(cur_[0-9a-z]{1,26})?",
        seq in proptest::option::of(any::<i64>()),
    ) {
        let mut frame = serde_json::json!({
            "id": "evt_1", "cursor": cursor, "type": ty, "workspace_id": "wsp_1",
            "created_at": "2026-05-08T12:00:00Z", "payload": payload,
        });
        if let Some(seq) = seq {
            frame["seq"] = serde_json::json!(seq);
        }
        let bytes = serde_json::to_vec(&frame).unwrap();
        let event = Event::from_slice(&bytes).unwrap();
        prop_assert_eq!(event.cursor().as_str(), cursor.as_str());
        prop_assert_eq!(event.event_type(), ty);
        prop_assert_eq!(event.seq(), seq);
        prop_assert_eq!(event.is_durable(), !cursor.is_empty());
        if event.payload.is_unknown() {
            // Unknown payloads are kept verbatim.
            let back = serde_json::to_value(&event).unwrap();
            prop_assert_eq!(back, frame);
        }
        // Encoding then decoding is stable.
        let again = Event::from_json_str(&event.to_json_string()).unwrap();
        prop_assert_eq!(again, event);
    }

    #[test]
    fn text_and_byte_decoding_agree(cut in 0usize..VALID.len(), byte in 0x20u8..0x7f, pos in 0usize..VALID.len()) {
        // The realtime reader checks UTF-8 once and decodes with
        // `from_json_str`; it must decide exactly as `from_slice` does.
        let mut bytes = VALID.as_bytes().to_vec();
        bytes[pos] = byte;
        for input in [&bytes[..], &bytes[..cut]] {
            let text = std::str::from_utf8(input).unwrap();
            match (Event::from_json_str(text), Event::from_slice(input)) {
                (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "from_json_str {:?} vs from_slice {:?}", a, b),
            }
        }
    }

    #[test]
    fn mutated_payload_bytes_keep_cursor(offset in 0usize..60, byte in 0x20u8..0x7f) {
        let start = VALID.find("\"payload\":").unwrap() + 10;
        let end = VALID.len() - 1;
        let pos = start + offset % (end - start);
        let mut bytes = VALID.as_bytes().to_vec();
        bytes[pos] = byte;
        if let Ok(event) = Event::from_slice(&bytes) {
            prop_assert_eq!(event.cursor().as_str(), "cur_01jz");
            prop_assert_eq!(event.seq(), Some(7));
            prop_assert_eq!(event.event_type(), "message.created");
        }
    }

    #[test]
    fn bad_message_payload_keeps_envelope(payload in json_value()) {
        let frame = serde_json::json!({
            "id": "evt_9", "cursor": "cur_9", "type": "message.created", "workspace_id": "wsp_1",
            "channel_id": "chn_1", "seq": 9, "created_at": "t",
            "payload": {"message_id": payload, "author_id": 5},
        });
        let event = Event::from_slice(&serde_json::to_vec(&frame).unwrap()).unwrap();
        prop_assert!(event.payload.is_unknown());
        prop_assert_eq!(event.cursor().as_str(), "cur_9");
        prop_assert_eq!(event.channel_id().map(ChannelId::as_str), Some("chn_1"));
        prop_assert_eq!(event.seq(), Some(9));
    }

    #[test]
    fn ids_round_trip(s in ".{0,40}") {
        let id = MessageId::new(s.clone());
        let json = serde_json::to_string(&id).unwrap();
        let back: MessageId = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.as_str(), s.as_str());
        prop_assert_eq!(id.to_string(), s.clone());
        let c1 = Cursor::from(s.as_str());
        prop_assert_eq!(c1.cmp(&Cursor::from("cur_")), s.as_str().cmp("cur_"));
    }

    #[test]
    fn scopes_round_trip(s in "[a-z_:]{0,20}") {
        let scope = Scope::from_wire(&s);
        prop_assert_eq!(scope.as_str(), s.as_str());
        let json = serde_json::to_string(&scope).unwrap();
        prop_assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
    }

    #[test]
    fn scope_expansion_is_sorted_deduped_and_grantable(
        picks in prop::collection::vec(prop::sample::select(vec![
            "bot:read", "bot:write", "bot:admin", "messages:write", "agent_activity:write",
            "channels:write", " dms:read ", "",
        ]), 0..6)
    ) {
        let joined = picks.join(",");
        let a = expand_scopes(picks.iter()).unwrap();
        let b = expand_scopes([joined]).unwrap();
        prop_assert_eq!(&a, &b);
        prop_assert!(!a.is_empty());
        prop_assert!(a.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
        prop_assert!(a.iter().all(Scope::is_grantable_to_bots));
    }

    #[test]
    fn slugify_is_idempotent_and_well_formed(s in ".{0,40}") {
        let slug = slugify(&s);
        prop_assert_eq!(slugify(&slug), slug.clone());
        prop_assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        prop_assert!(!slug.starts_with('-') && !slug.ends_with('-') && !slug.contains("--"));
    }

    #[test]
    fn timestamps_round_trip(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
        let t = UnixTime { seconds: secs, nanos };
        let ts = Timestamp::from_unix(t);
        prop_assert_eq!(ts.parse().unwrap(), t);
    }

    #[test]
    fn timestamp_parse_never_panics(s in "\\PC{0,40}") {
        let _ = Timestamp::new(s).parse();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn one_pass_and_two_step_decoding_agree(frame in mutated_frame()) {
        // `from_json_str` / `from_slice` type the payload in the same pass as
        // the envelope; `Deserialize for Event` keeps it raw and types it
        // after. Both must decide identically on whatever a server sends.
        let two_step = serde_json::from_str::<Event>(&frame);
        for one_pass in [Event::from_json_str(&frame), Event::from_slice(frame.as_bytes())] {
            match (one_pass, &two_step) {
                (Ok(a), Ok(b)) => prop_assert_eq!(&a, b, "frame {}", frame),
                (Err(a), Err(b)) => prop_assert_eq!(a.json_error().to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "frame {}: one pass {:?} vs two steps {:?}", frame, a, b),
            }
        }
    }
}
