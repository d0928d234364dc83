//! Rows 8–13 and 15 against the testkit: resolution, target errors,
//! sanitising, placement, deterministic nonces and replay.

mod common;

use clickclack_proto::MessageId;
use clickclack_testkit::BotSpec;
use openclaw_clickclack::channel::ChannelOptions;
use openclaw_clickclack::nonce::DurablePart;
use openclaw_clickclack::outbound::OutboundMessage;

use common::{all_requests, channel, channel_with, start};

fn only(ids: Vec<MessageId>) -> MessageId {
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.into_iter().next().expect("one id")
}

#[tokio::test]
async fn row_8_workspace_by_slug_name_id_and_wsp_verbatim() {
    let env = start().await;
    let ws = env.seed.workspace.id.clone();
    for value in ["default", "Default", ws.as_str()] {
        let ch = channel_with(
            &env,
            &env.seed.bot.token,
            &format!("accounts: {{ other: {{ workspace: \"{value}\" }} }},"),
            ChannelOptions::default(),
        );
        let sender = ch.sender(Some("other")).expect("sender");
        assert_eq!(
            sender.workspace_id().await.expect("resolves"),
            ws,
            "{value}"
        );
    }
    // `wsp_` values are used verbatim, without listing workspaces.
    let before = env.server.request_count("GET", "/api/workspaces");
    let ch = channel_with(
        &env,
        &env.seed.bot.token,
        "accounts: { other: { workspace: \"wsp_not_checked\" } },",
        ChannelOptions::default(),
    );
    let id = ch
        .sender(Some("other"))
        .expect("sender")
        .workspace_id()
        .await;
    assert_eq!(id.expect("verbatim").as_str(), "wsp_not_checked");
    assert_eq!(env.server.request_count("GET", "/api/workspaces"), before);
}

#[tokio::test]
async fn row_8_workspace_not_found_is_exact_and_case_sensitive() {
    let env = start().await;
    for value in ["nope", "DEFAULT"] {
        let ch = channel_with(
            &env,
            &env.seed.bot.token,
            &format!("accounts: {{ other: {{ workspace: \"{value}\" }} }},"),
            ChannelOptions::default(),
        );
        let err = ch
            .send(
                Some("other"),
                "channel:general",
                OutboundMessage::text("hi"),
            )
            .await
            .expect_err("not found");
        assert_eq!(
            err.to_string(),
            format!("ClickClack workspace not found: {value}")
        );
    }
}

#[tokio::test]
async fn row_9_channel_by_name_slug_id_and_not_found() {
    let env = start().await;
    let ch = channel(&env);
    let general = env.seed.general.id.clone();
    for target in ["channel:general", "general", "#General", "channel:GENERAL"] {
        let id = only(
            ch.send(None, target, OutboundMessage::text(target))
                .await
                .expect("sent"),
        );
        let stored = env.server.message(&id).expect("stored");
        assert_eq!(stored.channel_id.as_ref(), Some(&general), "{target}");
    }
    let id = only(
        ch.send(
            None,
            &format!("channel:{general}"),
            OutboundMessage::text("by id"),
        )
        .await
        .expect("sent"),
    );
    assert_eq!(
        env.server.message(&id).expect("stored").channel_id,
        Some(general)
    );
    let err = ch
        .send(None, "channel:random", OutboundMessage::text("hi"))
        .await
        .expect_err("unknown channel");
    assert_eq!(err.to_string(), "ClickClack channel not found: random");
}

#[tokio::test]
async fn resolved_ids_are_cached_and_dropped_after_a_404() {
    let env = start().await;
    let ch = channel(&env);
    ch.send(None, "general", OutboundMessage::text("one"))
        .await
        .expect("sent");
    let lists = env.server.request_count("GET", "/api/workspaces");
    ch.send(None, "general", OutboundMessage::text("two"))
        .await
        .expect("sent");
    assert_eq!(
        env.server.request_count("GET", "/api/workspaces"),
        lists,
        "cached"
    );
    let sender = ch.sender(None).expect("sender");
    assert!(!sender.cache().is_empty());

    env.server
        .faults()
        .fail_next("POST", "/api/channels/", 1, 404);
    let err = ch
        .send(None, "general", OutboundMessage::text("three"))
        .await;
    assert!(err.is_err());
    assert!(sender.cache().is_empty(), "invalidated on 404");
    ch.send(None, "general", OutboundMessage::text("four"))
        .await
        .expect("sent");
    assert!(
        env.server.request_count("GET", "/api/workspaces") > lists,
        "looked up again"
    );
}

#[tokio::test]
async fn row_10_target_errors_are_exact() {
    let env = start().await;
    let ch = channel(&env);
    for (target, expected) in [
        ("", "ClickClack target is required"),
        ("   ", "ClickClack target is required"),
        ("foo:bar", "Unsupported ClickClack target: foo:bar"),
    ] {
        let err = ch
            .send(None, target, OutboundMessage::text("hi"))
            .await
            .expect_err("bad target");
        assert_eq!(err.to_string(), expected);
    }
    assert_eq!(all_requests(&env.server), 0, "no request for a bad target");
}

#[tokio::test]
async fn row_11_provider_prefixed_mixed_case_targets() {
    let env = start().await;
    let ch = channel(&env);
    let id = only(
        ch.send(
            None,
            "ClickClack:Channel:general",
            OutboundMessage::text("prefixed"),
        )
        .await
        .expect("sent"),
    );
    assert_eq!(
        env.server.message(&id).expect("stored").channel_id,
        Some(env.seed.general.id.clone())
    );
}

#[tokio::test]
async fn row_7_not_configured_account() {
    let vars = openclaw_clickclack::config::MapEnv::new();
    let config = openclaw_clickclack::config::parse_config_str(
        "{channels: {clickclack: {workspace: 'default'}}}",
        &vars,
    )
    .expect("config");
    let ch = openclaw_clickclack::channel::ClickClackChannel::from_config_with_env(config, &vars)
        .expect("channel");
    let err = ch
        .send(None, "general", OutboundMessage::text("hi"))
        .await
        .expect_err("not configured");
    assert_eq!(
        err.to_string(),
        "ClickClack is not configured for account \"default\""
    );
    let hint = err.hint().expect("hint");
    assert!(hint.contains("CLICKCLACK_BOT_TOKEN"), "{hint}");
}

#[tokio::test]
async fn missing_scope_names_the_scope_and_bot_write() {
    let env = start().await;
    let reader = env
        .server
        .create_bot(BotSpec::new(&env.seed.workspace.id, "Reader").scopes(["bot:read"]));
    let ch = channel_with(&env, &reader.token, "", ChannelOptions::default());
    let err = ch
        .send(None, "general", OutboundMessage::text("hi"))
        .await
        .expect_err("missing scope");
    assert_eq!(
        err.to_string(),
        "ClickClack bot token is missing scope messages:write; the token needs bot:write"
    );
}

#[tokio::test]
async fn row_12_sanitises_and_keeps_markdown() {
    let env = start().await;
    let ch = channel(&env);
    let id = only(
        ch.send(
            None,
            "channel:general",
            OutboundMessage::text("Done.\n⚠️ 🛠️ `search repos (agent)` failed"),
        )
        .await
        .expect("sent"),
    );
    assert_eq!(env.server.message(&id).expect("stored").body, "Done.");
    let markdown = "# Title\n\n**bold** _it_ `code`\n\n```sh\nls -la\n```";
    let id = only(
        ch.send(None, "general", OutboundMessage::text(markdown))
            .await
            .expect("sent"),
    );
    assert_eq!(env.server.message(&id).expect("stored").body, markdown);
}

#[tokio::test]
async fn row_12_scaffolding_only_sends_nothing() {
    let env = start().await;
    let ch = channel(&env);
    let ids = ch
        .send(
            None,
            "channel:general",
            OutboundMessage::text("⚠️ 🛠️ `search repos (agent)` failed"),
        )
        .await
        .expect("ok");
    assert!(ids.is_empty());
    assert_eq!(all_requests(&env.server), 0, "no request at all");
}

#[tokio::test]
async fn row_13_channel_quote_reply_and_plain_post() {
    let env = start().await;
    let ch = channel(&env);
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "question");
    let id = only(
        ch.send(
            None,
            "channel:general",
            OutboundMessage::text("Done.\n⚠️ 🛠️ `search repos (agent)` failed")
                .reply_to(root.id.clone()),
        )
        .await
        .expect("sent"),
    );
    let reply = env.server.message(&id).expect("stored");
    assert_eq!(reply.body, "Done.");
    assert_eq!(reply.quoted_message_id, Some(root.id.clone()));
    assert_eq!(reply.parent_message_id, None, "a quote-reply, not a thread");
    assert!(env.server.thread_replies(&root.id).is_empty());

    let id = only(
        ch.send(None, "channel:general", OutboundMessage::text("hi"))
            .await
            .expect("sent"),
    );
    assert_eq!(
        env.server.message(&id).expect("stored").quoted_message_id,
        None
    );
}

#[tokio::test]
async fn row_13_threads_for_thread_id_and_thread_targets() {
    let env = start().await;
    let ch = channel(&env);
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "root");
    let other = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "other");
    // A genuine thread context wins over the channel target; no quote inside threads.
    let id = only(
        ch.send(
            None,
            "channel:general",
            OutboundMessage::text("Done.\n⚠️ 🛠️ `search repos (agent)` failed")
                .in_thread(root.id.clone())
                .reply_to(other.id.clone()),
        )
        .await
        .expect("sent"),
    );
    let reply = env.server.message(&id).expect("stored");
    assert_eq!(reply.parent_message_id, Some(root.id.clone()));
    assert_eq!(reply.body, "Done.");
    assert_eq!(reply.quoted_message_id, None);

    let id = only(
        ch.send(
            None,
            &format!("thread:{}", root.id),
            OutboundMessage::text("hi"),
        )
        .await
        .expect("sent"),
    );
    assert_eq!(
        env.server.message(&id).expect("stored").parent_message_id,
        Some(root.id.clone())
    );
    assert_eq!(env.server.thread_replies(&root.id).len(), 2);
}

#[tokio::test]
async fn row_13_dm_create_or_reuse_with_quote() {
    let env = start().await;
    let ch = channel(&env);
    let alice = env.server.create_user(&env.seed.workspace.id, "Alice");
    let target = format!("dm:{}", alice.user.id);
    // Quote a real DM message: post one, then quote-reply to it.
    let conversation = env.server.open_dm(
        &env.seed.workspace.id,
        &alice.user.id,
        &env.seed.bot.user.id,
    );
    let question = env
        .server
        .post_dm(&alice.user.id, &conversation.id, "status?");
    let id = only(
        ch.send(
            None,
            &target,
            OutboundMessage::text("<tool_call>{\"name\":\"exec\"}</tool_call>Deploy finished.")
                .reply_to(question.id.clone()),
        )
        .await
        .expect("sent"),
    );
    let reply = env.server.message(&id).expect("stored");
    assert_eq!(reply.body, "Deploy finished.");
    assert_eq!(
        reply.direct_conversation_id,
        Some(conversation.id.clone()),
        "reused"
    );
    assert_eq!(reply.quoted_message_id, Some(question.id));
    assert_eq!(reply.parent_message_id, None);
}

#[tokio::test]
async fn row_15_nonce_vector_and_replay_gives_one_message() {
    let env = start().await;
    let ch = channel(&env);
    let part = DurablePart::new("queue-text", 0).expect("part");
    let message = OutboundMessage::text("durable").durable(part);
    let first = only(
        ch.send(None, "channel:general", message.clone())
            .await
            .expect("sent"),
    );
    let stored = env.server.message(&first).expect("stored");
    assert_eq!(
        stored.nonce.as_deref(),
        Some("openclaw-text:4a171ee0c18d243d8d3c510320ab1b1d317afd95b0204abec18312e57307fb24")
    );
    // A retry of the same durable part replays: same id, still one message.
    let again = only(
        ch.send(None, "channel:general", message)
            .await
            .expect("replayed"),
    );
    assert_eq!(again, first);
    let bodies: Vec<_> = env
        .server
        .channel_messages(&env.seed.general.id)
        .into_iter()
        .filter(|m| m.body == "durable")
        .collect();
    assert_eq!(bodies.len(), 1);
}

#[tokio::test]
async fn row_15_bad_part_index_fails_before_any_request() {
    let env = start().await;
    let err = DurablePart::new("queue", -1).expect_err("negative");
    assert_eq!(
        err.to_string(),
        "ClickClack durable delivery requires a stable delivery part index"
    );
    assert_eq!(all_requests(&env.server), 0);
}

#[tokio::test]
async fn a_lost_response_is_reconciled_into_one_message() {
    let env = start().await;
    let ch = channel(&env);
    env.server
        .faults()
        .lose_next_response("POST", "/api/channels/");
    let id = only(
        ch.send(None, "general", OutboundMessage::text("exactly once"))
            .await
            .expect("sent despite the lost response"),
    );
    let same: Vec<_> = env
        .server
        .channel_messages(&env.seed.general.id)
        .into_iter()
        .filter(|m| m.body == "exactly once")
        .collect();
    assert_eq!(same.len(), 1);
    assert_eq!(same[0].id, id);
}

#[tokio::test]
async fn row_25_correlation_id_is_sent_and_invalid_ones_are_omitted() {
    use clickclack_proto::EventPayload;
    let env = start().await;
    let ch = channel(&env);
    let valid = only(
        ch.send(
            None,
            "general",
            OutboundMessage::text("traced").correlation_id("fakeco.case_1"),
        )
        .await
        .expect("sent"),
    );
    let invalid = only(
        ch.send(
            None,
            "general",
            OutboundMessage::text("untraced").correlation_id("bad id!"),
        )
        .await
        .expect("sent despite the invalid id"),
    );
    let correlation = |id: &MessageId| {
        env.server
            .events(&env.seed.workspace.id)
            .into_iter()
            .find_map(|e| match e.payload {
                EventPayload::MessageCreated(p) if &p.message_id == id => Some(p.correlation_id),
                _ => None,
            })
            .expect("event")
    };
    assert_eq!(correlation(&valid).as_deref(), Some("fakeco.case_1"));
    assert_ne!(correlation(&invalid).as_deref(), Some("bad id!"));
}
