//! Every event fixture decodes to its typed payload, keeps its envelope and
//! re-encodes to the same wire JSON.

use std::path::PathBuf;

use clickclack_proto::event::*;
use clickclack_proto::*;
use serde_json::Value;

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/events")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Decodes with `from_slice` and through `Deserialize`, checks both agree and
/// that the event re-encodes to the fixture's JSON.
fn decode(rel: &str) -> Event {
    let bytes = fixture(rel);
    let event = Event::from_slice(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let via_serde: Event = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(event, via_serde, "{rel}: from_slice and Deserialize differ");
    let original: Value = serde_json::from_slice(&bytes).unwrap();
    let encoded: Value = serde_json::from_str(&event.to_json_string()).unwrap();
    assert_eq!(encoded, original, "{rel}: re-encoded event differs");
    assert_eq!(serde_json::to_value(&event).unwrap(), original);
    assert_eq!(event.event_type(), original["type"].as_str().unwrap());
    assert_eq!(
        event.cursor().as_str(),
        original["cursor"].as_str().unwrap()
    );
    event
}

#[test]
fn durable_events_decode_to_typed_payloads() {
    let e = decode("message_created_channel.json");
    assert!(e.is_durable());
    assert_eq!(
        e.channel_id().map(ChannelId::as_str),
        Some("chn_01jz8k3m4n5p6q7r8s9t0v1w3a")
    );
    assert_eq!(e.seq(), Some(124));
    assert_eq!(e.mentioned_user_ids.len(), 1);
    let EventPayload::MessageCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(
        p.author_id.as_ref().map(UserId::as_str),
        Some("usr_01jz8k3m4n5p6q7r8s9t0v1w4b")
    );
    assert_eq!(
        p.nonce.as_deref(),
        Some("6f1c2d3e-0000-4000-8000-000000000001")
    );
    assert_eq!(p.correlation_id.as_deref(), Some("req-123"));
    assert!(p.direct_conversation_id.is_none());
    assert!(p.kind.is_none());

    let e = decode("message_created_dm.json");
    assert!(e.channel_id().is_none());
    let EventPayload::MessageCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert!(p.direct_conversation_id.is_some());
    assert_eq!(
        e.direct_conversation_id(),
        p.direct_conversation_id.as_ref()
    );

    let e = decode("message_created_agent.json");
    let EventPayload::MessageCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.kind, Some(MessageKind::AgentTool));
    assert!(p.turn_id.is_some() && p.topic_id.is_some());

    let e = decode("thread_reply_created.json");
    assert_eq!(e.seq(), None);
    let EventPayload::ThreadReplyCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.root_message_id.as_str(), "msg_01jz8k3m4n5p6q7r8s9t0v1w7e");
    assert_eq!(p.nonce.as_deref(), Some("reply-nonce-1"));

    let e = decode("thread_reply_created_dm.json");
    assert!(e.channel_id().is_none());
    assert!(
        matches!(&e.payload, EventPayload::ThreadReplyCreated(p) if p.direct_conversation_id.is_some())
    );

    assert!(matches!(
        decode("thread_state_updated.json").payload,
        EventPayload::ThreadStateUpdated(_)
    ));
    assert!(matches!(
        decode("message_updated.json").payload,
        EventPayload::MessageUpdated(_)
    ));
    assert!(
        matches!(decode("message_deleted.json").payload, EventPayload::MessageDeleted(ref p) if p.direct_conversation_id.is_some())
    );
    assert!(
        matches!(decode("reaction_added.json").payload, EventPayload::ReactionAdded(ref p) if p.count == Some(2))
    );
    assert!(
        matches!(decode("reaction_removed.json").payload, EventPayload::ReactionRemoved(ref p) if p.user_id.is_none())
    );
    assert!(matches!(
        decode("channel_created.json").payload,
        EventPayload::ChannelCreated(_)
    ));
    assert!(
        matches!(decode("channel_updated.json").payload, EventPayload::ChannelUpdated(ref p) if p.archived == Some(true))
    );
    assert!(matches!(
        decode("channel_deleted.json").payload,
        EventPayload::ChannelDeleted(_)
    ));
    assert!(
        matches!(decode("channel_read.json").payload, EventPayload::ChannelRead(ref p) if p.channel_id.is_some())
    );
    assert!(
        matches!(decode("dm_read.json").payload, EventPayload::DmRead(ref p) if p.direct_conversation_id.is_some())
    );
    assert!(matches!(
        decode("pin_added.json").payload,
        EventPayload::PinAdded(_)
    ));
    assert!(
        matches!(decode("pin_removed.json").payload, EventPayload::PinRemoved(ref p) if p.pinned_by.is_some())
    );
    assert!(
        matches!(decode("member_moderation_updated.json").payload, EventPayload::MemberModerationUpdated(ref p) if p.role == Some(WorkspaceRole::Moderator))
    );
    assert!(matches!(
        decode("workspace_updated.json").payload,
        EventPayload::WorkspaceUpdated(_)
    ));
    assert!(matches!(
        decode("workspace_ownership_transferred.json").payload,
        EventPayload::WorkspaceOwnershipTransferred(_)
    ));
}

#[test]
fn every_durable_type_is_covered_and_typed() {
    let files = [
        "channel_created.json",
        "channel_deleted.json",
        "channel_read.json",
        "channel_updated.json",
        "dm_read.json",
        "member_moderation_updated.json",
        "message_created_channel.json",
        "message_deleted.json",
        "message_updated.json",
        "pin_added.json",
        "pin_removed.json",
        "reaction_added.json",
        "reaction_removed.json",
        "thread_reply_created.json",
        "thread_state_updated.json",
        "workspace_ownership_transferred.json",
        "workspace_updated.json",
    ];
    let types: Vec<String> = files
        .iter()
        .map(|f| decode(f).event_type().to_owned())
        .collect();
    assert_eq!(types, types::DURABLE);
    for f in files {
        let e = decode(f);
        assert!(e.is_durable(), "{f}");
        assert_eq!(e.payload.event_type(), Some(e.event_type()), "{f}");
    }
}

#[test]
fn cursorless_events_decode() {
    let e = decode("typing_started.json");
    assert!(e.is_ephemeral() && !e.is_durable());
    assert!(e.cursor().is_empty());
    assert!(e.id().as_str().starts_with(EventId::EPHEMERAL_PREFIX));
    assert!(matches!(e.payload, EventPayload::TypingStarted(ref p) if p.channel_id.is_some()));

    let e = decode("typing_stopped.json");
    assert!(
        matches!(e.payload, EventPayload::TypingStopped(ref p) if p.direct_conversation_id.is_some())
    );

    let e = decode("presence_changed.json");
    let EventPayload::PresenceChanged(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.extra.get("status").and_then(Value::as_str), Some("away"));

    let e = decode("agent_progress.json");
    let EventPayload::AgentProgress(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.extra.get("op").and_then(Value::as_str), Some("append"));
    assert!(p.user_id.is_some());

    for (f, ty) in [
        ("bot_command_updated.json", types::BOT_COMMAND_UPDATED),
        ("bot_deleted.json", types::BOT_DELETED),
        ("bot_membership_removed.json", types::BOT_MEMBERSHIP_REMOVED),
    ] {
        let e = decode(f);
        assert!(e.id().is_empty() && e.cursor().is_empty(), "{f}");
        assert_eq!(e.payload.event_type(), Some(ty));
    }
    let e = decode("bot_deleted.json");
    assert!(
        matches!(e.payload, EventPayload::BotDeleted(ref p) if p.former_handle.as_deref() == Some("helper"))
    );
}

#[test]
fn unknown_type_is_preserved_verbatim() {
    let e = decode("unknown_type.json");
    assert_eq!(e.event_type(), "poll.closed");
    assert!(e.is_durable());
    assert_eq!(e.seq(), Some(130));
    let raw = e.payload.raw().expect("unknown keeps raw JSON");
    let raw: Value = serde_json::from_str(raw.get()).unwrap();
    assert_eq!(raw["votes"][2]["x"], Value::Null);
    assert_eq!(raw["nested"]["deep"], Value::Bool(true));
}

#[test]
fn bad_payload_keeps_envelope_and_cursor() {
    let e = decode("bad_payload.json");
    assert_eq!(e.event_type(), "message.created");
    assert_eq!(e.cursor().as_str(), "cur_01jz8k3m4n5p6q7r8s9t0v1x22");
    assert_eq!(e.seq(), Some(131));
    assert!(e.payload.is_unknown());
}

#[test]
fn null_payload_is_unknown_null() {
    let e = decode("null_payload.json");
    assert!(e.is_durable());
    assert_eq!(e.payload.raw().map(|r| r.get()), Some("null"));

    let missing = br#"{"id":"evt_1","cursor":"cur_1","type":"message.created","workspace_id":"wsp_1","created_at":"t"}"#;
    let e = Event::from_slice(missing).unwrap();
    assert_eq!(e.payload.raw().map(|r| r.get()), Some("null"));
    assert_eq!(e.cursor().as_str(), "cur_1");

    let zero = decode("zero_event.json");
    assert!(zero.is_zero());
    assert_eq!(zero, Event::zero());
}

#[test]
fn unknown_envelope_fields_are_ignored() {
    let json = br#"{"id":"evt_1","cursor":"cur_1","type":"channel.created","workspace_id":"wsp_1","created_at":"t","future":{"a":[1]},"payload":{"channel_id":"chn_1","extra":true},"recipients":["usr_1"]}"#;
    let e = Event::from_slice(json).unwrap();
    assert!(
        matches!(e.payload, EventPayload::ChannelCreated(ref p) if p.channel_id.as_str() == "chn_1")
    );
}

#[test]
fn malformed_envelopes_are_errors_not_panics() {
    for bad in [
        &b""[..],
        b"null",
        b"[]",
        b"{}",
        b"{\"type\": 5}",
        b"{\"type\":\"message.created\",\"seq\":\"x\"}",
        b"\xff\xfe",
        b"{\"type\":\"message.created\"",
    ] {
        let err = Event::from_slice(bad).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid event envelope"),
            "{err}"
        );
    }
}

#[test]
fn built_events_serialize_to_wire_shape() {
    // Payload structs are #[non_exhaustive]: outside the crate, start from Default.
    let mut created = MessageCreatedPayload::default();
    created.message_id = "msg_1".into();
    created.author_id = Some("usr_1".into());
    created.nonce = Some("n1".into());
    let payload = EventPayload::MessageCreated(created);
    let durable = Event::new(
        "wsp_1".into(),
        Timestamp::new("2026-05-08T12:00:00Z"),
        payload,
    )
    .with_id("evt_1")
    .with_cursor("cur_1")
    .with_channel_id("chn_1")
    .with_seq(3);
    assert_eq!(
        serde_json::to_value(&durable).unwrap(),
        serde_json::json!({
            "id": "evt_1", "cursor": "cur_1", "type": "message.created", "workspace_id": "wsp_1",
            "channel_id": "chn_1", "seq": 3, "created_at": "2026-05-08T12:00:00Z",
            "payload": {"message_id": "msg_1", "author_id": "usr_1", "nonce": "n1"}
        })
    );
    let back = Event::from_json_str(&durable.to_json_string()).unwrap();
    assert_eq!(back, durable);

    let mut typing_payload = EphemeralPayload::default();
    typing_payload.user_id = Some("usr_1".into());
    typing_payload.direct_conversation_id = Some("dm_1".into());
    let typing = Event::new(
        "wsp_1".into(),
        Timestamp::new("2026-05-08T12:00:00Z"),
        EventPayload::TypingStarted(typing_payload),
    )
    .with_id("eph_20260508120000.000000000");
    assert_eq!(
        serde_json::to_value(&typing).unwrap(),
        serde_json::json!({
            "id": "eph_20260508120000.000000000", "cursor": "", "type": "typing.started",
            "workspace_id": "wsp_1", "created_at": "2026-05-08T12:00:00Z",
            "payload": {"user_id": "usr_1", "direct_conversation_id": "dm_1"}
        })
    );

    let custom = Event::new(
        "wsp_1".into(),
        Timestamp::new("t"),
        EventPayload::unknown_from_json(r#"{"k": [1, 2]}"#),
    )
    .with_event_type("custom.thing");
    let v = serde_json::to_value(&custom).unwrap();
    assert_eq!(v["type"], "custom.thing");
    assert_eq!(v["payload"], serde_json::json!({"k": [1, 2]}));
}

#[test]
fn escaped_type_strings_decode() {
    let json = br#"{"id":"evt_1","cursor":"cur_1","type":"message\u002ecreated","workspace_id":"wsp_1","created_at":"t","payload":{"message_id":"msg_1","author_id":"usr_1"}}"#;
    let e = Event::from_slice(json).unwrap();
    assert_eq!(e.event_type(), "message.created");
    assert!(matches!(e.payload, EventPayload::MessageCreated(_)));
}

#[test]
fn unknown_enum_values_in_payloads_survive_a_round_trip() {
    let json = r#"{"id":"evt_1","cursor":"cur_1","type":"message.created","workspace_id":"wsp_1","channel_id":"chn_1","seq":1,"created_at":"t","payload":{"message_id":"msg_1","author_id":"usr_1","kind":"agent_plan"}}"#;
    let e = Event::from_json_str(json).unwrap();
    let EventPayload::MessageCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.kind, Some(MessageKind::Other("agent_plan".into())));
    assert_eq!(
        serde_json::from_str::<Value>(&e.to_json_string()).unwrap(),
        serde_json::from_str::<Value>(json).unwrap()
    );
    assert_eq!(e.message_id().map(MessageId::as_str), Some("msg_1"));
}
