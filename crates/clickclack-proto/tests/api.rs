//! Compile-time checks of the public API: auto traits, and that
//! `#[non_exhaustive]` types can be built from outside the crate.

use clickclack_proto::event::{EventPayload, MessageCreatedPayload};
use clickclack_proto::requests::*;
use clickclack_proto::responses::{MessageWriteResponse, ThreadReplyResponse};
use clickclack_proto::*;

fn send_sync<T: Send + Sync + Unpin + 'static>() {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Event>();
    send_sync::<EventPayload>();
    send_sync::<DecodeError>();
    send_sync::<Message>();
    send_sync::<User>();
    send_sync::<Channel>();
    send_sync::<BotToken>();
    send_sync::<CreateMessage>();
    send_sync::<ClaimSetupCode>();
    send_sync::<ErrorBody>();
    send_sync::<Scope>();
    send_sync::<UnknownScope>();
    send_sync::<TimestampError>();
    send_sync::<MessagePage>();
}

#[test]
fn server_objects_build_from_default() {
    let mut message = Message::default();
    message.id = "msg_1".into();
    message.body = "hi".to_owned();
    let written = MessageWriteResponse::new(message.clone());
    assert_eq!(written.message.id.as_str(), "msg_1");
    let reply = ThreadReplyResponse::new(message, ThreadState::new("msg_0"));
    assert_eq!(reply.thread_state.root_message_id.as_str(), "msg_0");
    let mut created = MessageCreatedPayload::default();
    created.message_id = "msg_1".into();
    let event = Event::new(
        "wsp_1".into(),
        Timestamp::default(),
        EventPayload::MessageCreated(created),
    );
    assert_eq!(event.event_type(), "message.created");
    assert!(Event::default().is_zero());
}

#[test]
fn requests_build_with_constructors() {
    let create = CreateMessage::new("hello")
        .with_nonce("n")
        .with_quote("msg_1")
        .with_topic("top_1")
        .with_kind(MessageKind::AgentTool)
        .with_turn_id("t");
    assert_eq!(create.turn_id.as_deref(), Some("t"));
    let menu =
        SetBotCommands::new([BotCommandInput::new("help", "Show help").with_args_hint("[topic]")]);
    assert_eq!(menu.commands[0].args_hint.as_deref(), Some("[topic]"));
    assert_eq!(MarkRead::new(3).seq, 3);
    assert_eq!(
        CreateChannel::new("x").with_kind(ChannelKind::Private).kind,
        Some(ChannelKind::Private)
    );
    assert_eq!(PatchChannel::new().with_archived(true).archived, Some(true));
    assert_eq!(EditMessage::new("b").body, "b");
    assert_eq!(AttachUpload::new("upl_1").upload_id.as_str(), "upl_1");
    assert_eq!(
        UpdateMe::new().with_handle("h").handle.as_deref(),
        Some("h")
    );
    assert_eq!(
        CreateWorkspace::new("W").with_slug("w").slug.as_deref(),
        Some("w")
    );
    assert!(
        CreateTopic::new("T")
            .with_channel("chn_1")
            .channel_id
            .is_some()
    );
    let ephemeral = PublishEphemeral::new("wsp_1", "typing.started").with_channel("chn_1");
    assert!(ephemeral.channel_id.is_some());
}
