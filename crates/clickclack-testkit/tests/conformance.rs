//! Conformance with the Go server and `openapi.yaml`: health bodies, the
//! DM reopen body, `PUT /api/bots/self/commands` without `commands`, the
//! ephemeral check order, Go's encoding (`null` lists, zero values, HTML
//! escaping, trailing newline), `tail_cursor`, unknown ids, request counts.

mod common;
use common::*;
use serde_json::{Value, json};

async fn go_server() -> (TestServer, Seed) {
    let server = TestServer::builder()
        .empty_lists_as_arrays(false)
        .start()
        .await
        .unwrap();
    let seed = server.seed();
    (server, seed)
}

#[tokio::test]
async fn health_endpoints_answer_like_openapi() {
    let (server, _) = go_server().await;
    let r = call(&server, "GET", "/healthz", None, None).await;
    assert_eq!((r.status, r.json()), (200, json!({ "status": "ok" })));
    let r = call(&server, "GET", "/readyz", None, None).await;
    assert_eq!((r.status, r.json()), (200, json!({ "status": "ready" })));
}

#[tokio::test]
async fn dm_close_and_reopen_for_humans() {
    let (server, seed) = go_server().await;
    let other = server.create_user(&seed.workspace.id, "Other");
    let dm = server.open_dm(&seed.workspace.id, &seed.owner.user.id, &other.user.id);
    let token = seed.owner.session_token.as_str();
    let list = format!("/api/dms?workspace_id={}", seed.workspace.id);

    let r = call(
        &server,
        "DELETE",
        &format!("/api/dms/{}", dm.id),
        Some(token),
        None,
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({ "ok": true })));
    assert_eq!(
        get(&server, &list, token).await.json(),
        json!({ "conversations": null })
    );
    let r = post(
        &server,
        &format!("/api/dms/{}/open", dm.id),
        token,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["conversation"]["id"], dm.id.as_str());
    assert_eq!(
        get(&server, &list, token).await.json()["conversations"][0]["id"],
        dm.id.as_str()
    );

    let r = post(
        &server,
        &format!("/api/dms/{}/open", dm.id),
        &seed.bot.token,
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "bot tokens cannot reopen direct conversations".into())
    );
}

#[tokio::test]
async fn bot_commands_require_the_commands_key() {
    let (server, seed) = go_server().await;
    for body in [json!({}), json!({ "commands": null })] {
        let r = call(
            &server,
            "PUT",
            "/api/bots/self/commands",
            Some(&seed.bot.token),
            Some(body),
        )
        .await;
        assert_eq!((r.status, r.error()), (400, "commands is required".into()));
    }
    let r = call(
        &server,
        "PUT",
        "/api/bots/self/commands",
        Some(&seed.bot.token),
        Some(json!({ "commands": [] })),
    )
    .await;
    assert_eq!((r.status, r.json()), (200, json!({ "bot_commands": null })));
}

#[tokio::test]
async fn ephemeral_checks_workspace_access_before_the_target() {
    let (server, seed) = go_server().await;
    let other = server.create_workspace("Other");
    let bot = seed.bot.token.as_str();
    // A workspace the bot cannot access: 403 even though the target is missing.
    let r = post(
        &server,
        "/api/realtime/ephemeral",
        bot,
        json!({ "workspace_id": other.id.as_str(), "type": "typing.started" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "bot token cannot access this workspace".into())
    );
    let stranger = server.create_user(&other.id, "Stranger");
    let r = post(
        &server,
        "/api/realtime/ephemeral",
        &stranger.session_token,
        json!({ "workspace_id": seed.workspace.id.as_str(), "type": "typing.started" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "sql: no rows in result set".into())
    );
    // Its own workspace: now the missing target is the problem.
    let r = post(
        &server,
        "/api/realtime/ephemeral",
        bot,
        json!({ "workspace_id": seed.workspace.id.as_str(), "type": "typing.started" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "typing events require channel_id or direct_conversation_id".into()
        )
    );
    let r = post(
        &server,
        "/api/realtime/ephemeral",
        bot,
        json!({ "workspace_id": seed.workspace.id.as_str(), "type": "typing.started", "channel_id": "chn_nope" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "sql: no rows in result set".into())
    );
}

#[tokio::test]
async fn bodies_are_encoded_like_go() {
    let (server, seed) = go_server().await;
    let bot = seed.bot.token.as_str();
    let ch = format!("/api/channels/{}/messages", seed.general.id);

    // An empty page: `null` list, zero metadata, a trailing newline.
    let r = get(&server, &ch, bot).await;
    assert_eq!(
        r.body.as_ref(),
        b"{\"has_newer\":false,\"has_older\":false,\"messages\":null,\"newest_seq\":0,\"oldest_seq\":0}\n"
    );
    // HTML-sensitive characters are escaped; the value is unchanged.
    let sent = post(&server, &ch, bot, json!({ "body": "<b>&</b>" })).await;
    assert_eq!(sent.status, 201);
    assert!(
        std::str::from_utf8(&sent.body)
            .unwrap()
            .contains(r"\u003cb\u003e\u0026\u003c/b\u003e")
    );
    assert_eq!(sent.json()["message"]["body"], "<b>&</b>");

    // A root in a page carries a zero thread state whose author list is null;
    // the plain fetch does not.
    let page = get(&server, &ch, bot).await.json();
    let root = &page["messages"][0];
    assert_eq!(
        root["thread_state"],
        json!({ "root_message_id": root["id"], "reply_count": 0, "last_reply_author_ids": null })
    );
    let id = root["id"].as_str().unwrap();
    let thread = get(&server, &format!("/api/messages/{id}/thread"), bot)
        .await
        .json();
    assert_eq!(thread["replies"], Value::Null);
    assert_eq!(thread["thread_state"]["last_reply_author_ids"], Value::Null);

    // Reaction replay: the zero event with `"created_at": ""`; removing the
    // last reaction leaves `reactions: null`.
    let react = format!("/api/messages/{id}/reactions");
    assert_eq!(
        post(&server, &react, bot, json!({ "emoji": "👍" }))
            .await
            .status,
        201
    );
    let again = post(&server, &react, bot, json!({ "emoji": "👍" })).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.json()["event"],
        json!({ "id": "", "cursor": "", "type": "", "workspace_id": "", "created_at": "", "payload": null })
    );
    let r = call(
        &server,
        "DELETE",
        &format!("{react}/%F0%9F%91%8D"),
        Some(bot),
        None,
    )
    .await;
    assert_eq!(r.json()["reactions"], Value::Null);

    // Empty lists elsewhere.
    let dms = get(
        &server,
        &format!("/api/dms?workspace_id={}", seed.workspace.id),
        bot,
    )
    .await;
    assert_eq!(dms.json(), json!({ "conversations": null }));
    let search = get(
        &server,
        &format!("/api/search?workspace_id={}&q=zzz", seed.workspace.id),
        bot,
    )
    .await;
    assert_eq!(
        search.json(),
        json!({ "results": null, "next_cursor": null })
    );
}

#[tokio::test]
async fn message_pages_default_to_the_latest_window_like_the_server() {
    let (server, seed) = go_server().await;
    for i in 1..=5 {
        server.post_message(&seed.owner.user.id, &seed.general.id, &format!("m{i}"));
    }
    let base = format!("/api/channels/{}/messages", seed.general.id);
    let bot = seed.bot.token.as_str();
    let page = get(&server, &format!("{base}?limit=2"), bot).await.json();
    assert_eq!(
        (page["oldest_seq"].as_i64(), page["newest_seq"].as_i64()),
        (Some(4), Some(5))
    );
    assert_eq!(
        (page["has_older"].as_bool(), page["has_newer"].as_bool()),
        (Some(true), Some(false))
    );
    // A limit over 200 (or unparsable) means 100, not 200.
    let page = get(&server, &format!("{base}?limit=500"), bot).await.json();
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(5));
    let page = get(&server, &format!("{base}?around_seq=3&limit=3"), bot)
        .await
        .json();
    assert_eq!(
        (page["oldest_seq"].as_i64(), page["newest_seq"].as_i64()),
        (Some(2), Some(4))
    );
    let r = get(&server, &format!("{base}?after_seq=1&before_seq=3"), bot).await;
    assert_eq!(
        r.error(),
        "invalid message page request: before_seq, after_seq, and around_seq are mutually exclusive"
    );
    let r = get(&server, &format!("{base}?mode=oldest"), bot).await;
    assert_eq!(
        r.error(),
        "invalid message page request: unsupported message page mode \"oldest\""
    );
    let r = get(&server, &format!("{base}?after_seq="), bot).await;
    assert_eq!(
        r.error(),
        "invalid message page request: after_seq is required"
    );
    // Past the end: an empty page reports nothing older or newer.
    let page = get(&server, &format!("{base}?after_seq=9"), bot)
        .await
        .json();
    assert_eq!(page["has_older"], false);
}

#[tokio::test]
async fn tail_cursor_is_always_sent_unless_acting_as_an_older_server() {
    let (server, seed) = go_server().await;
    let bot = seed.bot.token.as_str();
    let path = format!(
        "/api/realtime/events?workspace_id={}&include_tail=true",
        seed.workspace.id
    );
    // Nothing visible to the bot yet (only the seed's channel.created is, so
    // prune first): tail is "" and events null.
    server.faults().prune_log();
    let r = get(&server, &path, bot).await;
    assert_eq!(r.body.as_ref(), b"{\"events\":null,\"tail_cursor\":\"\"}\n");
    let msg = server.post_message(&seed.owner.user.id, &seed.general.id, "hi");
    let r = get(&server, &path, bot).await.json();
    assert!(r["tail_cursor"].as_str().unwrap().starts_with("cur_"));
    assert_eq!(r["events"][0]["payload"]["message_id"], msg.id.as_str());

    server.set_tail_cursor_supported(false);
    let r = get(&server, &path, bot).await.json();
    assert!(r.get("tail_cursor").is_none(), "{r}");
    assert_eq!(r["events"].as_array().map(Vec::len), Some(1));
    server.set_tail_cursor_supported(true);
    assert!(
        get(&server, &path, bot)
            .await
            .json()
            .get("tail_cursor")
            .is_some()
    );

    let old = TestServer::builder()
        .without_tail_cursor()
        .start()
        .await
        .unwrap();
    let seed = old.seed();
    let path = format!(
        "/api/realtime/events?workspace_id={}&include_tail=true",
        seed.workspace.id
    );
    let r = get(&old, &path, &seed.bot.token).await.json();
    assert!(r.get("tail_cursor").is_none(), "{r}");
}

#[tokio::test]
async fn unknown_ids_answer_with_the_store_error_like_the_server() {
    let (server, seed) = go_server().await;
    let bot = seed.bot.token.as_str();
    let human = seed.owner.session_token.as_str();
    // Bots: the resource check turns the store miss into 403 with its text.
    for path in [
        "/api/messages/msg_nope",
        "/api/messages/msg_nope/thread",
        "/api/channels/chn_nope/messages",
        "/api/dms/dm_nope",
    ] {
        let r = get(&server, path, bot).await;
        assert_eq!(
            (r.status, r.error()),
            (403, "sql: no rows in result set".into()),
            "{path}"
        );
    }
    // Humans: the same miss falls through writeStoreError to 400.
    let r = get(&server, "/api/messages/msg_nope", human).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "sql: no rows in result set".into())
    );
    // A DM with a user who does not exist (or is not a member).
    let r = post(
        &server,
        "/api/dms",
        bot,
        json!({ "workspace_id": seed.workspace.id.as_str(), "member_ids": ["usr_nope"] }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "sql: no rows in result set".into())
    );
    // A token that is no token at all.
    let r = get(&server, "/api/me", "ccb_unknown").await;
    assert_eq!(
        (r.status, r.error()),
        (401, "sql: no rows in result set".into())
    );
}

#[tokio::test]
async fn requests_are_counted_per_route() {
    let (server, seed) = go_server().await;
    let bot = seed.bot.token.as_str();
    let msg = server.post_message(&seed.owner.user.id, &seed.general.id, "hi");
    get(&server, "/api/me", bot).await;
    server.faults().reset_request_counts();
    for _ in 0..3 {
        get(&server, &format!("/api/messages/{}", msg.id), bot).await;
    }
    get(&server, &format!("/api/messages/{}/thread", msg.id), bot).await;
    let faults = server.faults();
    assert_eq!(faults.route_count("GET", "/api/messages/*"), 3);
    assert_eq!(faults.route_count("get", "/api/messages/*/thread"), 1);
    assert_eq!(faults.route_count("GET", "/api/me"), 0, "reset");
    assert_eq!(faults.total_request_count(), 4);
    let counts = faults.request_counts();
    assert_eq!(counts.len(), 2);
    assert_eq!(
        counts[0],
        ("GET".into(), format!("/api/messages/{}", msg.id), 3)
    );
}
