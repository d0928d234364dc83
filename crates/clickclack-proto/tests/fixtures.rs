//! Every object, request, response and page fixture decodes, re-encodes to
//! the same JSON, and ignores unknown fields.

use std::path::PathBuf;

use clickclack_proto::requests::*;
use clickclack_proto::responses::*;
use clickclack_proto::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Decodes the fixture, re-encodes it, and checks semantic JSON equality;
/// then decodes again with unknown fields added at the top level.
fn round_trip<T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(rel: &str) -> T {
    let text = fixture(rel);
    let value: T = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let encoded = serde_json::to_value(&value).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    assert!(
        same_modulo_null_lists(&encoded, &original),
        "{rel}: re-encoded JSON differs:\n{encoded}\n{original}"
    );

    let mut with_unknown = original.clone();
    if let Value::Object(map) = &mut with_unknown {
        map.insert(
            "zz_future_field".into(),
            serde_json::json!({"nested": [1, 2, 3]}),
        );
        map.insert("another_new_key".into(), Value::Null);
    }
    let again: T = serde_json::from_value(with_unknown.clone())
        .or_else(|_| serde_json::from_str(&with_unknown.to_string()))
        .unwrap_or_else(|e| panic!("{rel} with unknown fields: {e}"));
    assert_eq!(again, value, "{rel}: unknown fields changed the value");
    value
}

/// JSON equality where a Go `null` list in `original` may come back as `[]`
/// (lists are written Rust-style; see `clickclack_proto::go`).
fn same_modulo_null_lists(encoded: &Value, original: &Value) -> bool {
    match (encoded, original) {
        (Value::Array(a), Value::Null) => a.is_empty(),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_modulo_null_lists(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_modulo_null_lists(x, y)))
        }
        (a, b) => a == b,
    }
}

#[test]
fn objects_round_trip() {
    let human: User = round_trip("objects/user_human.json");
    assert_eq!(human.kind, UserKind::Human);
    assert!(!human.is_bot());
    assert!(human.owner_user_id.is_none());

    let bot: User = round_trip("objects/user_bot.json");
    assert!(bot.is_bot());
    assert_eq!(
        bot.owner_user_id.as_ref().map(|u| u.as_str()),
        Some("usr_01jz8k3m4n5p6q7r8s9t0v1w4b")
    );

    let deleted: User = round_trip("objects/user_deleted_bot.json");
    assert_eq!(deleted.former_handle.as_deref(), Some("oldbot"));
    assert!(deleted.deleted_at.is_some());

    let ws: Workspace = round_trip("objects/workspace.json");
    assert_eq!(ws.role, Some(WorkspaceRole::Bot));

    let member: WorkspaceMember = round_trip("objects/workspace_member.json");
    assert_eq!(member.role, WorkspaceRole::Bot);

    let channel: Channel = round_trip("objects/channel.json");
    assert_eq!(channel.kind, ChannelKind::Public);
    assert!(!channel.is_archived());
    let full: Channel = round_trip("objects/channel_full.json");
    assert!(full.is_archived());
    assert_eq!(full.display_title.as_deref(), Some("Ops Team"));

    let ts: ThreadState = round_trip("objects/thread_state.json");
    assert_eq!(ts.reply_count, 2);
    assert_eq!(ts.last_reply_author_ids.len(), 2);

    let rs: ReactionSummary = round_trip("objects/reaction_summary.json");
    assert!(rs.reacted_by_me);

    let up: Upload = round_trip("objects/upload.json");
    assert_eq!(up.byte_size, 20480);

    let root: Message = round_trip("objects/message_root.json");
    assert_eq!(root.thread_root_id, root.id);
    assert!(!root.is_thread_reply());
    assert_eq!(root.effective_kind(), MessageKind::Message);
    assert_eq!(root.attachments.len(), 1);
    assert_eq!(root.reactions.len(), 2);
    assert!(root.author.as_ref().is_some_and(|a| !a.is_bot()));
    assert!(root.quoted_author.as_ref().is_some_and(User::is_bot));
    assert!(root.thread_state.is_some());

    let reply: Message = round_trip("objects/message_reply.json");
    assert!(reply.is_thread_reply());
    assert_eq!(
        reply.parent_message_id.as_ref(),
        Some(&reply.thread_root_id)
    );
    assert_eq!(reply.channel_seq, None);
    assert_eq!(reply.thread_seq, Some(2));

    let dm: Message = round_trip("objects/message_dm.json");
    assert!(dm.is_direct());
    assert!(dm.channel_id.is_none());

    let tool: Message = round_trip("objects/message_agent_tool.json");
    assert_eq!(tool.effective_kind(), MessageKind::AgentTool);

    let gone: Message = round_trip("objects/message_deleted.json");
    assert!(gone.is_deleted());
    assert!(gone.body.is_empty());

    let conv: DirectConversation = round_trip("objects/direct_conversation.json");
    assert_eq!(conv.members.len(), 2);
    assert!(conv.can_send);

    let _: ReadReceipt = round_trip("objects/read_receipt.json");
    let cmd: BotCommand = round_trip("objects/bot_command.json");
    assert_eq!(cmd.command, "/status");

    let token: BotToken = round_trip("objects/bot_token.json");
    assert_eq!(token.scopes.len(), 12);
    assert!(token.scopes.iter().all(Scope::is_known));
    let debug = format!("{token:?}");
    assert!(!debug.contains("secret"), "token leaked in Debug: {debug}");

    let _: SearchResult = round_trip("objects/search_result.json");
}

#[test]
fn requests_round_trip() {
    let full: CreateMessage = round_trip("requests/create_message.json");
    assert_eq!(full.kind, Some(MessageKind::AgentCommentary));
    assert!(full.upload_id.is_some());
    let minimal: CreateMessage = round_trip("requests/create_message_minimal.json");
    assert_eq!(minimal, CreateMessage::new("hi"));
    let _: CreateThreadReply = round_trip("requests/create_thread_reply.json");
    let dm: CreateDirectConversation = round_trip("requests/create_direct_conversation.json");
    assert_eq!(dm.member_ids.len(), 1);
    let _: AddReaction = round_trip("requests/add_reaction.json");
    let eph: PublishEphemeral = round_trip("requests/publish_ephemeral.json");
    assert_eq!(eph.event_type, "agent.progress");
    let typing: PublishEphemeral = round_trip("requests/publish_ephemeral_typing.json");
    assert!(typing.payload.is_none());
    let cmds: SetBotCommands = round_trip("requests/set_bot_commands.json");
    assert_eq!(cmds.commands[1].args_hint, None);
    let read: MarkRead = round_trip("requests/mark_read.json");
    assert_eq!(read.seq, 124);
    let _: CreateChannel = round_trip("requests/create_channel.json");
    let patch: PatchChannel = round_trip("requests/patch_channel.json");
    assert_eq!(patch.archived, Some(true));
    let _: EditMessage = round_trip("requests/edit_message.json");
    let _: AttachUpload = round_trip("requests/attach_upload.json");
}

#[test]
fn request_builders_serialize_minimal_shapes() {
    let msg = CreateMessage::new("hello")
        .with_nonce("n-1")
        .with_quote("msg_1")
        .with_upload("upl_1");
    assert_eq!(
        serde_json::to_value(&msg).unwrap(),
        serde_json::json!({"body": "hello", "nonce": "n-1", "quoted_message_id": "msg_1", "upload_id": "upl_1"})
    );
    let reply = CreateThreadReply::new("r").with_nonce("n-2");
    assert_eq!(
        serde_json::to_value(&reply).unwrap(),
        serde_json::json!({"body": "r", "nonce": "n-2"})
    );
    assert_eq!(
        serde_json::to_value(PatchChannel::default()).unwrap(),
        serde_json::json!({})
    );
}

#[test]
fn responses_round_trip() {
    let me: MeResponse = round_trip("responses/me.json");
    assert!(me.user.is_bot());
    assert_eq!(me.user.password_enrolled, Some(false));
    let list: WorkspacesResponse = round_trip("responses/workspaces.json");
    assert_eq!(list.workspaces.len(), 1);
    let _: WorkspaceResponse = round_trip("responses/workspace.json");
    let _: ChannelsResponse = round_trip("responses/channels.json");
    let cw: ChannelWriteResponse = round_trip("responses/channel_write.json");
    assert!(matches!(
        cw.event.map(|e| e.payload),
        Some(EventPayload::ChannelCreated(_))
    ));
    let _: MessageResponse = round_trip("responses/message.json");
    let created: MessageWriteResponse = round_trip("responses/message_write.json");
    assert!(created.event.as_ref().is_some_and(Event::is_durable));
    let replay: MessageWriteResponse = round_trip("responses/message_write_replay.json");
    assert!(replay.event.is_none());
    let tr: ThreadReplyResponse = round_trip("responses/thread_reply.json");
    assert_eq!(tr.events.len(), 2);
    assert!(!tr.is_replay());
    let tr_replay: ThreadReplyResponse = round_trip("responses/thread_reply_replay.json");
    assert!(tr_replay.events.is_empty() && tr_replay.is_replay());
    let re: ReactionResponse = round_trip("responses/reaction.json");
    assert!(re.created_event().is_some());
    let re_replay: ReactionResponse = round_trip("responses/reaction_replay.json");
    assert!(re_replay.event.as_ref().is_some_and(Event::is_zero));
    assert_eq!(re_replay.event, Some(Event::zero()));
    assert!(re_replay.created_event().is_none());
    let _: DirectConversationsResponse = round_trip("responses/direct_conversations.json");
    let _: DirectConversationResponse = round_trip("responses/direct_conversation.json");
    let _: UploadResponse = round_trip("responses/upload.json");
    let _: ReceiptResponse = round_trip("responses/receipt.json");
    let ev: EventResponse = round_trip("responses/event.json");
    assert!(ev.event.as_ref().is_some_and(Event::is_ephemeral));
    let _: BotCommandsResponse = round_trip("responses/bot_commands.json");
    let ok: OkResponse = round_trip("responses/ok.json");
    assert!(ok.ok);
    let _: EventTypesResponse = round_trip("responses/event_types.json");
    let err: ErrorBody = round_trip("responses/error.json");
    assert_eq!(
        ForbiddenReason::classify(&err.error),
        ForbiddenReason::MissingScope(Scope::MessagesWrite)
    );
}

#[test]
fn pages_round_trip() {
    let page: MessagePage = round_trip("pages/message_page.json");
    assert!(page.has_older);
    let thread: ThreadPage = round_trip("pages/thread_page.json");
    assert_eq!(thread.replies.len(), 1);
    let events: EventsPage = round_trip("pages/events_page.json");
    assert_eq!(events.events.len(), 2);
    assert!(events.events[1].payload.is_unknown());
    assert_eq!(events.tail_cursor.as_ref(), Some(events.events[1].cursor()));
    let empty: EventsPage = round_trip("pages/events_page_empty.json");
    assert!(empty.tail_cursor.is_none());
    let members: MembersPage = round_trip("pages/members_page.json");
    assert_eq!(
        members.total_by_role.as_ref().and_then(|m| m.get("member")),
        Some(&3)
    );
    let search: SearchResults = round_trip("pages/search_results.json");
    assert!(search.next_cursor.is_none());
}

#[test]
fn unknown_enum_values_are_preserved() {
    let json = r#"{"id":"usr_x","kind":"robot","display_name":"R","handle":"r","avatar_url":"","created_at":"2026-01-01T00:00:00Z"}"#;
    let user: User = serde_json::from_str(json).unwrap();
    assert_eq!(user.kind, UserKind::Other("robot".into()));
    assert_eq!(user.kind.as_str(), "robot");
    assert!(!user.is_bot());
    let back = serde_json::to_value(&user).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());

    let json = r#"{"id":"wsp_x","route_id":"T1","name":"n","slug":"s","icon_url":"","created_at":"t","role":"superhero"}"#;
    let ws: Workspace = serde_json::from_str(json).unwrap();
    assert_eq!(
        ws.role.as_ref().map(WorkspaceRole::as_str),
        Some("superhero")
    );
    assert_eq!(
        serde_json::to_value(&ws).unwrap(),
        serde_json::from_str::<Value>(json).unwrap()
    );

    let kind: MessageKind = serde_json::from_str(r#""agent_plan""#).unwrap();
    assert_eq!(kind, MessageKind::Other("agent_plan".into()));
    assert_eq!(serde_json::to_string(&kind).unwrap(), r#""agent_plan""#);
    assert_eq!(MessageKind::from("agent_tool"), MessageKind::AgentTool);
    assert_eq!(
        MessageKind::Other("agent_tool".into()),
        MessageKind::AgentTool
    );
}

#[test]
fn missing_lists_default_to_empty() {
    let msg: Message = serde_json::from_str(
        r#"{"id":"msg_1","workspace_id":"wsp_1","author_id":"usr_1","thread_root_id":"msg_1","body":"b","body_format":"markdown","created_at":"t"}"#,
    )
    .unwrap();
    assert!(msg.attachments.is_empty());
    assert!(msg.reactions.is_empty());
    let conv: DirectConversation =
        serde_json::from_str(r#"{"id":"dm_1","workspace_id":"wsp_1","created_at":"t"}"#).unwrap();
    assert!(conv.members.is_empty());
    let page: EventsPage = serde_json::from_str("{}").unwrap();
    assert!(page.events.is_empty());
}
