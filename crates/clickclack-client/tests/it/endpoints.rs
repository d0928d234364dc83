//! Each endpoint's success path and its scope error.

use bytes::Bytes;
use clickclack_client::proto::requests::{
    BotCommandInput, CreateChannel, CreateMessage, CreateThreadReply, PatchChannel,
    PublishEphemeral, SetBotCommands,
};
use clickclack_client::proto::{Scope, UserKind};
use clickclack_client::{
    ErrorKind, MembersQuery, PageRequest, SearchQuery, ThreadQuery, UploadRequest,
};
use futures_util::StreamExt;

use crate::common::{assert_missing_scope, env};

#[tokio::test]
async fn me_returns_the_bot_user() {
    let env = env().await;
    let me = env.bot().me().await.unwrap();
    assert_eq!(me.id, env.seed.bot.user.id);
    assert_eq!(me.kind, UserKind::Bot);
    let (_, c) = env.bot_with("noprofile", &["messages:read"]);
    assert_missing_scope(c.me().await, Scope::ProfileRead);
}

#[tokio::test]
async fn workspaces_list_get_resolve() {
    let env = env().await;
    let c = env.bot();
    let ws = c.list_workspaces().await.unwrap();
    assert_eq!(ws.len(), 1);
    assert_eq!(ws[0].id, env.seed.workspace.id);
    let got = c.get_workspace(&env.seed.workspace.id).await.unwrap();
    assert_eq!(got.slug, "default");
    for key in ["default", "Default", env.seed.workspace.id.as_str()] {
        assert_eq!(
            c.resolve_workspace(key).await.unwrap().id,
            env.seed.workspace.id,
            "{key}"
        );
    }
    let miss = c.resolve_workspace("nope").await.unwrap_err();
    assert_eq!(miss.kind(), &ErrorKind::NotFound);

    // Another workspace: the token is bound to its own.
    let other = env.server.create_workspace("Other");
    let e = c.get_workspace(&other.id).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::WrongWorkspace, "{e}");

    let (_, c) = env.bot_with("nows", &["messages:read"]);
    assert_missing_scope(c.list_workspaces().await, Scope::WorkspacesRead);
    assert_missing_scope(
        c.get_workspace(&env.seed.workspace.id).await,
        Scope::WorkspacesRead,
    );
}

#[tokio::test]
async fn members_page_and_stream() {
    let env = env().await;
    let c = env.bot();
    let page = c
        .list_members(&env.seed.workspace.id, &MembersQuery::default())
        .await
        .unwrap();
    assert!(
        page.members
            .iter()
            .any(|m| m.user.id == env.seed.owner.user.id)
    );
    let all: Vec<_> = c
        .members(&env.seed.workspace.id, MembersQuery::new().with_limit(1))
        .collect()
        .await;
    let ids: Vec<_> = all.into_iter().map(|m| m.unwrap().user.id).collect();
    assert!(ids.contains(&env.seed.owner.user.id));
    assert!(ids.contains(&env.seed.bot.user.id));
    let (_, c) = env.bot_with("nomembers", &["messages:read"]);
    assert_missing_scope(
        c.list_members(&env.seed.workspace.id, &MembersQuery::default())
            .await,
        Scope::WorkspacesRead,
    );
}

#[tokio::test]
async fn channels_list_resolve_create_patch() {
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let list = c.list_channels(ws).await.unwrap();
    assert!(list.iter().any(|ch| ch.id == env.seed.general.id));
    assert_eq!(
        c.resolve_channel(ws, "#General").await.unwrap().id,
        env.seed.general.id
    );
    assert_eq!(
        c.resolve_channel(ws, env.seed.general.id.as_str())
            .await
            .unwrap()
            .id,
        env.seed.general.id
    );
    assert_eq!(
        c.resolve_channel(ws, "nope").await.unwrap_err().kind(),
        &ErrorKind::NotFound
    );

    // bot:write lacks channels:write.
    let req = CreateChannel::new("Release Notes");
    assert_missing_scope(c.create_channel(ws, &req).await, Scope::ChannelsWrite);

    let (_, admin) = env.bot_with("admin", &["bot:admin"]);
    let created = admin.create_channel(ws, &req).await.unwrap();
    assert_eq!(created.channel.name, "release-notes");
    assert_eq!(
        c.resolve_channel(ws, "Release Notes").await.unwrap().id,
        created.channel.id
    );
    let patched = admin
        .patch_channel(&created.channel.id, &PatchChannel::new().with_name("notes"))
        .await
        .unwrap();
    assert_eq!(patched.channel.name, "notes");
    assert_missing_scope(
        c.patch_channel(
            &created.channel.id,
            &PatchChannel::new().with_archived(true),
        )
        .await,
        Scope::ChannelsWrite,
    );
    let (_, c) = env.bot_with("nochannels", &["messages:read"]);
    assert_missing_scope(c.list_channels(ws).await, Scope::ChannelsRead);
}

#[tokio::test]
async fn messages_send_get_list_edit_delete() {
    let env = env().await;
    let c = env.bot();
    let chn = &env.seed.general.id;
    let sent = c
        .send_message(chn, CreateMessage::new("hello"))
        .await
        .unwrap();
    assert!(sent.has_event(), "a fresh create carries its event");
    assert_eq!(sent.message().unwrap().body, "hello");
    assert_eq!(&c.get_message(sent.id()).await.unwrap().id, sent.id());
    let page = c.list_messages(chn, &PageRequest::latest()).await.unwrap();
    assert!(page.messages.iter().any(|m| &m.id == sent.id()));
    let edited = c.edit_message(sent.id(), "hello, edited").await.unwrap();
    assert_eq!(edited.message.body, "hello, edited");
    let deleted = c.delete_message(sent.id()).await.unwrap();
    assert!(deleted.message.deleted_at.is_some());

    let reader = env.reader();
    assert_missing_scope(
        reader.send_message(chn, CreateMessage::new("x")).await,
        Scope::MessagesWrite,
    );
    let human = env
        .server
        .post_message(&env.seed.owner.user.id, chn, "by a human");
    assert_eq!(
        reader.get_message(&human.id).await.unwrap().body,
        "by a human"
    );
    assert_missing_scope(
        reader.edit_message(&human.id, "x").await,
        Scope::MessagesWrite,
    );
    assert_missing_scope(reader.delete_message(&human.id).await, Scope::MessagesWrite);
    assert_missing_scope(
        reader.message_by_nonce(&env.seed.workspace.id, "n").await,
        Scope::MessagesWrite,
    );
    let (_, noread) = env.bot_with("noread", &["profile:read"]);
    assert_missing_scope(noread.get_message(&human.id).await, Scope::MessagesRead);
    assert_missing_scope(
        noread.list_messages(chn, &PageRequest::default()).await,
        Scope::MessagesRead,
    );
}

#[tokio::test]
async fn message_by_nonce_found_and_absent() {
    let env = env().await;
    let c = env.bot();
    let sent = c
        .send_message(
            &env.seed.general.id,
            CreateMessage::new("n").with_nonce("nonce-abc"),
        )
        .await
        .unwrap();
    let found = c
        .message_by_nonce(&env.seed.workspace.id, "nonce-abc")
        .await
        .unwrap();
    assert_eq!(found.map(|m| m.id), Some(sent.into_id()));
    assert!(
        c.message_by_nonce(&env.seed.workspace.id, "never-used")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn threads_get_and_reply() {
    let env = env().await;
    let c = env.bot();
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "root");
    let reply = c
        .reply_in_thread(&root.id, CreateThreadReply::new("r1"))
        .await
        .unwrap();
    assert_eq!(reply.message.parent_message_id.as_ref(), Some(&root.id));
    assert_eq!(reply.thread_state.reply_count, 1);
    assert!(!reply.is_replay());
    let page = c
        .get_thread(&root.id, &ThreadQuery::default())
        .await
        .unwrap();
    assert_eq!(page.root.id, root.id);
    assert_eq!(page.replies.len(), 1);

    let reader = env.reader();
    assert!(
        reader
            .get_thread(&root.id, &ThreadQuery::default())
            .await
            .is_ok()
    );
    assert_missing_scope(
        reader
            .reply_in_thread(&root.id, CreateThreadReply::new("x"))
            .await,
        Scope::ThreadsWrite,
    );
    let (_, nothreads) = env.bot_with("nothreads", &["messages:read"]);
    assert_missing_scope(
        nothreads
            .get_thread(&root.id, &ThreadQuery::default())
            .await,
        Scope::ThreadsRead,
    );
}

#[tokio::test]
async fn reactions_add_remove() {
    let env = env().await;
    let c = env.bot();
    let m = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "react");
    let added = c.add_reaction(&m.id, "👍").await.unwrap();
    assert_eq!(added.reactions.len(), 1);
    assert!(added.created_event().is_some());
    let again = c.add_reaction(&m.id, "👍").await.unwrap();
    assert!(
        again.created_event().is_none(),
        "an existing reaction yields the zero event"
    );
    let removed = c.remove_reaction(&m.id, "👍").await.unwrap();
    assert!(removed.reactions.is_empty());
    let reader = env.reader();
    assert_missing_scope(reader.add_reaction(&m.id, "👍").await, Scope::MessagesWrite);
    assert_missing_scope(
        reader.remove_reaction(&m.id, "👍").await,
        Scope::MessagesWrite,
    );
}

#[tokio::test]
async fn dms_open_reuse_send_read() {
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let owner = &env.seed.owner.user.id;
    let dm = c.open_dm(ws, owner).await.unwrap();
    let again = c.open_dm(ws, owner).await.unwrap();
    assert_eq!(dm.id, again.id, "open_dm reuses the 1:1");
    let sent = c.send_dm(&dm.id, CreateMessage::new("psst")).await.unwrap();
    assert_eq!(
        sent.message().unwrap().direct_conversation_id.as_ref(),
        Some(&dm.id)
    );
    assert_eq!(c.get_dm(&dm.id).await.unwrap().id, dm.id);
    assert!(c.list_dms(ws).await.unwrap().iter().any(|d| d.id == dm.id));
    let page = c
        .list_dm_messages(&dm.id, &PageRequest::latest())
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    let seq = sent.message().unwrap().channel_seq.unwrap_or(1);
    let receipt = c.mark_dm_read(&dm.id, seq).await.unwrap();
    assert_eq!(receipt.last_read_seq, seq);

    let reader = env.reader();
    assert_missing_scope(reader.open_dm(ws, owner).await, Scope::DmsWrite);
    assert_missing_scope(
        reader.send_dm(&dm.id, CreateMessage::new("x")).await,
        Scope::DmsWrite,
    );
    let (_, nodms) = env.bot_with("nodms", &["messages:read"]);
    assert_missing_scope(nodms.list_dms(ws).await, Scope::DmsRead);
    assert_missing_scope(nodms.get_dm(&dm.id).await, Scope::DmsRead);
}

#[tokio::test]
async fn channel_read_mark() {
    let env = env().await;
    let c = env.bot();
    let sent = c
        .send_message(&env.seed.general.id, CreateMessage::new("x"))
        .await
        .unwrap();
    let seq = sent.message().unwrap().channel_seq.unwrap();
    let r = c
        .mark_channel_read(&env.seed.general.id, seq)
        .await
        .unwrap();
    assert_eq!(r.last_read_seq, seq);
    let (_, c) = env.bot_with("noreadmark", &["profile:read"]);
    assert_missing_scope(
        c.mark_channel_read(&env.seed.general.id, seq).await,
        Scope::MessagesRead,
    );
}

#[tokio::test]
async fn uploads_bytes_file_stream_download_attach() {
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let up = c
        .upload(
            UploadRequest::bytes(ws.clone(), "hello.txt", Bytes::from_static(b"hello upload"))
                .with_content_type("text/plain"),
        )
        .await
        .unwrap();
    assert_eq!(up.byte_size, 12);
    assert_eq!(up.filename, "hello.txt");
    let nonce = up.nonce.clone().expect("every upload carries a nonce");
    assert_eq!(
        c.upload_by_nonce(ws, &nonce).await.unwrap().map(|u| u.id),
        Some(up.id.clone())
    );
    assert!(c.upload_by_nonce(ws, "missing").await.unwrap().is_none());
    let got = c
        .download_upload(&up.id)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"hello upload");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.bin");
    std::fs::write(&path, vec![7u8; 100_000]).unwrap();
    let file_up = c
        .upload(UploadRequest::file(ws.clone(), &path))
        .await
        .unwrap();
    assert_eq!(file_up.byte_size, 100_000);
    assert_eq!(file_up.filename, "data.bin");

    let chunks = futures_util::stream::iter(
        ["a", "b", "c"].map(|s| Ok::<_, clickclack_client::BoxError>(Bytes::from(s))),
    );
    let s_up = c
        .upload(UploadRequest::stream(
            ws.clone(),
            "abc.txt",
            Box::pin(chunks),
        ))
        .await
        .unwrap();
    assert_eq!(s_up.byte_size, 3);

    let msg = c
        .send_message(&env.seed.general.id, CreateMessage::new("with file"))
        .await
        .unwrap();
    assert!(c.attach_upload(msg.id(), &up.id).await.unwrap());
    let m = c.get_message(msg.id()).await.unwrap();
    assert!(m.attachments.iter().any(|a| a.id == up.id));

    let reader = env.reader();
    assert_missing_scope(
        reader
            .upload(UploadRequest::bytes(
                ws.clone(),
                "x",
                Bytes::from_static(b"x"),
            ))
            .await,
        Scope::UploadsWrite,
    );
}

#[tokio::test]
async fn ephemeral_and_bot_commands() {
    let env = env().await;
    let c = env.bot();
    let req = PublishEphemeral::new(env.seed.workspace.id.clone(), "typing.started")
        .with_channel(env.seed.general.id.clone());
    let ev = c
        .publish_ephemeral(&req)
        .await
        .unwrap()
        .expect("event echoed");
    assert_eq!(ev.event_type(), "typing.started");
    assert!(!ev.is_durable());
    let cmds = SetBotCommands::new([BotCommandInput::new("help", "Show help")]);
    let set = c.set_bot_commands(&cmds).await.unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].command.trim_start_matches('/'), "help");

    let reader = env.reader();
    assert_missing_scope(reader.publish_ephemeral(&req).await, Scope::MessagesWrite);
    assert_missing_scope(reader.set_bot_commands(&cmds).await, Scope::CommandsWrite);
}

#[tokio::test]
async fn events_page_with_tail() {
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let sent = c
        .send_message(&env.seed.general.id, CreateMessage::new("evt"))
        .await
        .unwrap();
    let page = c.events_page(ws, None, None, true).await.unwrap();
    let tail = page
        .tail_cursor
        .clone()
        .expect("include_tail returns a tail cursor");
    let last = page.events.last().expect("events");
    assert_eq!(last.cursor(), &tail);
    let sent = sent.into_response().unwrap();
    assert_eq!(sent.event.as_ref().map(|e| e.cursor()), Some(&tail));
    let after = c
        .events_page(ws, Some(&tail), Some(10), false)
        .await
        .unwrap();
    assert!(after.events.is_empty());
    assert!(after.tail_cursor.is_none());
    let (_, c) = env.bot_with("nort", &["messages:read"]);
    assert_missing_scope(
        c.events_page(ws, None, None, true).await,
        Scope::RealtimeRead,
    );
}

#[tokio::test]
async fn search_finds_messages() {
    let env = env().await;
    let c = env.bot();
    c.send_message(
        &env.seed.general.id,
        CreateMessage::new("needle in a haystack"),
    )
    .await
    .unwrap();
    let res = c
        .search(&SearchQuery::new(env.seed.workspace.id.clone(), "needle"))
        .await
        .unwrap();
    assert_eq!(res.results.len(), 1);
    let (_, c) = env.bot_with("nosearch", &["profile:read"]);
    assert_missing_scope(
        c.search(&SearchQuery::new(env.seed.workspace.id.clone(), "needle"))
            .await,
        Scope::MessagesRead,
    );
}

#[tokio::test]
async fn ephemeral_helpers() {
    use clickclack_client::EphemeralTarget;
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let target = EphemeralTarget::Channel(env.seed.general.id.clone());
    assert_eq!(
        c.publish_typing(ws, &target, true)
            .await
            .unwrap()
            .expect("event echoed")
            .event_type(),
        "typing.started"
    );
    assert_eq!(
        c.publish_typing(ws, &target, false)
            .await
            .unwrap()
            .expect("event echoed")
            .event_type(),
        "typing.stopped"
    );
    let mut payload = serde_json::Map::new();
    payload.insert("text".into(), serde_json::json!("thinking"));
    let ev = c
        .publish_agent_progress(ws, &target, payload.clone())
        .await
        .unwrap()
        .expect("event echoed");
    assert_eq!(ev.event_type(), "agent.progress");
    let dm = c.open_dm(ws, &env.seed.owner.user.id).await.unwrap();
    let ev = c
        .publish_typing(ws, &EphemeralTarget::Dm(dm.id.clone()), true)
        .await
        .unwrap()
        .expect("event echoed");
    assert_eq!(ev.direct_conversation_id(), Some(&dm.id));
}

#[tokio::test]
async fn event_types_lists_durable_types() {
    let env = env().await;
    let types = env.bot().event_types().await.unwrap();
    assert!(types.iter().any(|t| t == "message.created"));
}

#[tokio::test]
async fn upload_and_message_nonces_share_one_validation() {
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let long = "n".repeat(129);
    let e = c
        .upload(
            UploadRequest::bytes(ws.clone(), "a.txt", Bytes::from_static(b"a")).with_nonce(&long),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest);
    assert!(e.to_string().contains("at most 128 characters"), "{e}");
    let e = c
        .send_message(
            &env.seed.general.id,
            clickclack_client::proto::requests::CreateMessage::new("x").with_nonce(&long),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("at most 128 characters"), "{e}");
    assert_eq!(
        env.server.request_count("POST", "/api/uploads"),
        0,
        "nothing was sent"
    );
    // A trimmed nonce is what the server stores.
    let up = c
        .upload(
            UploadRequest::bytes(ws.clone(), "b.txt", Bytes::from_static(b"b"))
                .with_nonce("  up-1  "),
        )
        .await
        .unwrap();
    assert_eq!(up.nonce.as_deref(), Some("up-1"));
}
