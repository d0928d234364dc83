//! What a Go server sends (protocol.md §14) decodes: `null` and missing lists,
//! missing omitempty keys, payload keys of later servers, `channel.updated`
//! without a payload, write responses without `event`, empty cursors and the
//! zero event. One test per shape the issue measured.

use std::path::Path;

use clickclack_proto::pages::*;
use clickclack_proto::requests::*;
use clickclack_proto::responses::*;
use clickclack_proto::*;
use serde_json::json;

fn decode<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{v}: {e}"))
}

#[test]
fn empty_pages_with_null_lists_decode_as_empty() {
    let page: MessagePage =
        decode(json!({"messages": null, "has_older": false, "has_newer": false}));
    assert!(page.messages.is_empty());
    let page: EventsPage = decode(json!({"events": null}));
    assert!(page.events.is_empty());
    assert_eq!(page.tail_cursor, None);
    let page: ThreadPage = decode(json!({
        "root": {"id": "msg_1", "thread_root_id": "msg_1", "thread_state": {"root_message_id": "msg_1", "reply_count": 0, "last_reply_author_ids": null}},
        "replies": null,
        "thread_state": {"root_message_id": "msg_1", "reply_count": 0, "last_reply_author_ids": null},
        "has_older": false, "has_newer": false
    }));
    assert!(page.replies.is_empty());
    assert!(page.thread_state.last_reply_author_ids.is_empty());
    let page: MembersPage = decode(json!({"members": null, "has_more": false}));
    assert!(page.members.is_empty());
    let page: SearchResults = decode(json!({"results": null, "next_cursor": null}));
    assert!(page.results.is_empty());
}

#[test]
fn every_list_of_objects_and_responses_accepts_null_and_absence() {
    for v in [json!(null), json!("absent")] {
        let with = |key: &str, mut obj: serde_json::Value| {
            if v.is_null() {
                obj[key] = serde_json::Value::Null;
            }
            obj
        };
        let dm: DirectConversation = decode(with("members", json!({"id": "dm_1"})));
        assert!(dm.members.is_empty());
        let tok: BotToken = decode(with("scopes", json!({"id": "btok_1"})));
        assert!(tok.scopes.is_empty());
        let hit: SearchResult = decode(with("highlights", json!({"id": "msg_1"})));
        assert!(hit.highlights.is_empty());
        let m: Message = decode(with(
            "reactions",
            with("attachments", json!({"id": "msg_1"})),
        ));
        assert!(m.attachments.is_empty() && m.reactions.is_empty());
        let r: WorkspacesResponse = decode(with("workspaces", json!({})));
        assert!(r.workspaces.is_empty());
        let r: ChannelsResponse = decode(with("channels", json!({})));
        assert!(r.channels.is_empty());
        let r: DirectConversationsResponse = decode(with("conversations", json!({})));
        assert!(r.conversations.is_empty());
        let r: BotCommandsResponse = decode(with("bot_commands", json!({})));
        assert!(r.bot_commands.is_empty());
        let r: EventTypesResponse = decode(with("event_types", json!({})));
        assert!(r.event_types.is_empty());
        let r: ReactionResponse = decode(with("reactions", json!({})));
        assert!(r.reactions.is_empty() && r.event.is_none());
        // Requests the server echoes.
        let q: SetBotCommands = decode(with("commands", json!({})));
        assert!(q.commands.is_empty());
        let q: CreateDirectConversation =
            decode(with("member_ids", json!({"workspace_id": "wsp_1"})));
        assert!(q.member_ids.is_empty());
    }
}

#[test]
fn write_responses_decode_without_event() {
    let channel = json!({"id": "chn_1", "workspace_id": "wsp_1", "name": "general"});
    for extra in [json!({}), json!({"event": null})] {
        let mut body = json!({"channel": channel});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r: ChannelWriteResponse = decode(body);
        assert_eq!(r.channel.id, "chn_1");
        assert!(r.event.is_none());
    }
    let r: MessageWriteResponse = decode(json!({"message": {"id": "msg_1"}, "event": null}));
    assert!(r.event.is_none());
    let r: EventResponse = decode(json!({}));
    assert!(r.event.is_none());
    let r: ThreadReplyResponse = decode(json!({
        "message": {"id": "msg_2"}, "thread_state": {"root_message_id": "msg_1"}, "events": null
    }));
    assert!(r.is_replay());
    let r: ThreadReplyResponse =
        decode(json!({"message": {"id": "msg_2"}, "thread_state": {"root_message_id": "msg_1"}}));
    assert!(r.is_replay());
}

#[test]
fn empty_cursors_are_none() {
    let page: EventsPage = decode(json!({"events": [], "tail_cursor": ""}));
    assert_eq!(page.tail_cursor, None);
    let page: MembersPage = decode(json!({"members": [], "next_cursor": "", "has_more": false}));
    assert_eq!(page.next_cursor, None);
    let page: SearchResults = decode(json!({"results": [], "next_cursor": ""}));
    assert_eq!(page.next_cursor, None);
    let page: EventsPage = decode(json!({"events": [], "tail_cursor": "cur_1"}));
    assert_eq!(page.tail_cursor.as_ref().map(Cursor::as_str), Some("cur_1"));
}

fn event(ty: &str, payload: Option<serde_json::Value>) -> Event {
    let mut frame = json!({
        "id": "evt_1", "cursor": "cur_1", "type": ty, "workspace_id": "wsp_1",
        "channel_id": "chn_1", "created_at": "2026-05-08T12:00:00Z",
    });
    if let Some(p) = payload {
        frame["payload"] = p;
    }
    Event::from_slice(frame.to_string().as_bytes()).unwrap()
}

#[test]
fn channel_updated_without_payload_is_still_typed() {
    for payload in [Some(json!({})), Some(json!(null)), None] {
        let e = event("channel.updated", payload.clone());
        let EventPayload::ChannelUpdated(p) = &e.payload else {
            panic!("{payload:?} decoded as {:?}", e.payload)
        };
        assert!(p.channel_id.is_empty() && p.archived.is_none());
        assert_eq!(e.channel_id().map(ChannelId::as_str), Some("chn_1"));
        assert_eq!(Event::from_json_str(&e.to_json_string()).unwrap(), e);
    }
}

#[test]
fn later_payload_keys_are_kept_and_may_be_absent() {
    let e = event(
        "message.updated",
        Some(json!({"message_id": "msg_1", "root_message_id": "msg_1", "author_id": "usr_1"})),
    );
    let EventPayload::MessageUpdated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.author_id.as_ref().map(UserId::as_str), Some("usr_1"));
    let back: serde_json::Value = serde_json::to_value(&e).unwrap();
    assert_eq!(back["payload"]["author_id"], "usr_1");

    let e = event(
        "thread.reply_created",
        Some(
            json!({"message_id": "msg_2", "root_message_id": "msg_1", "author_id": "usr_1",
                    "mentioned_user_ids": ["usr_2"]}),
        ),
    );
    let EventPayload::ThreadReplyCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert_eq!(p.author_id.as_ref().map(UserId::as_str), Some("usr_1"));
    assert_eq!(p.mentioned_user_ids, vec![UserId::new("usr_2")]);
    let back: serde_json::Value = serde_json::to_value(&e).unwrap();
    assert_eq!(back["payload"]["author_id"], "usr_1");
    assert_eq!(back["payload"]["mentioned_user_ids"], json!(["usr_2"]));

    let e = event(
        "message.created",
        Some(json!({"message_id": "msg_3", "author_id": "usr_1", "mentioned_user_ids": null})),
    );
    let EventPayload::MessageCreated(p) = &e.payload else {
        panic!("{e:?}")
    };
    assert!(p.mentioned_user_ids.is_empty());

    // Older servers: no author_id at all.
    let e = event("message.deleted", Some(json!({"message_id": "msg_1"})));
    assert!(matches!(&e.payload, EventPayload::MessageDeleted(p) if p.author_id.is_none()));
    let e = event(
        "thread.reply_created",
        Some(json!({"message_id": "msg_2", "root_message_id": "msg_1"})),
    );
    assert!(matches!(&e.payload, EventPayload::ThreadReplyCreated(p) if p.author_id.is_none()));
}

#[test]
fn envelope_mentions_accept_null() {
    let frame = json!({"id": "evt_1", "cursor": "cur_1", "type": "message.created", "workspace_id": "wsp_1",
        "created_at": "t", "mentioned_user_ids": null, "payload": {"message_id": "msg_1"}});
    let e = Event::from_slice(frame.to_string().as_bytes()).unwrap();
    assert!(e.mentioned_user_ids().is_empty());
}

#[test]
fn channel_archived_flag_round_trips() {
    let c: Channel = decode(json!({"id": "chn_1", "archived": true}));
    assert!(c.is_archived());
    assert_eq!(serde_json::to_value(&c).unwrap()["archived"], true);
    let c: Channel = decode(json!({"id": "chn_1"}));
    assert!(!c.is_archived());
    assert!(serde_json::to_value(&c).unwrap().get("archived").is_none());
}

#[test]
fn the_zero_event_round_trips_exactly_as_go_sends_it() {
    let go = r#"{"id":"","cursor":"","type":"","workspace_id":"","created_at":"","payload":null}"#;
    let e = Event::from_json_str(go).unwrap();
    assert!(e.is_zero());
    assert_eq!(e, Event::zero());
    assert_eq!(e.to_json_string(), go);
    assert_eq!(Event::zero().to_json_string(), go);
    let r: ReactionResponse = decode(
        json!({"event": serde_json::from_str::<serde_json::Value>(go).unwrap(), "reactions": null}),
    );
    assert!(r.created_event().is_none());
}

/// Every `Vec` field in the crate's sources goes through `go::list`: the one
/// mechanism by which `null` and a missing key decode as an empty list.
#[test]
fn every_list_field_uses_the_go_list_decoder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut missing = Vec::new();
    let mut checked = 0;
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let t = line.trim_start();
                if !(t.starts_with("pub ") && t.contains(": Vec<") && t.ends_with(',')) {
                    continue;
                }
                checked += 1;
                // The field's attributes are the lines above it up to the doc comment.
                let attrs = lines[..i]
                    .iter()
                    .rev()
                    .take_while(|l| !l.trim_start().starts_with("///"))
                    .any(|l| l.contains("crate::go::list"));
                if !attrs {
                    missing.push(format!("{}:{}: {}", path.display(), i + 1, t));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} list fields found");
    assert!(
        missing.is_empty(),
        "list fields without go::list:\n{}",
        missing.join("\n")
    );
}
