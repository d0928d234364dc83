//! The realtime WebSocket: auth, pre-upgrade errors, replay → live, close codes.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn subprotocol_auth_is_echoed() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let q = format!("workspace_id={}", seed.workspace.id);
    let (_ws, resp) = ws_connect(&server, &q, WsAuth::Protocol(&seed.bot.token))
        .await
        .unwrap();
    let proto = resp
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap();
    assert_eq!(proto, format!("clickclack.bearer.{}", seed.bot.token));
    assert!(resp.headers().contains_key("x-correlation-id"));
}

async fn upgrade_error(server: &TestServer, query: &str, token: Option<&str>) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("upgrade", "websocket"),
        ("connection", "upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    send(
        server.addr(),
        http::Method::GET,
        &format!("/api/realtime/ws?{query}"),
        &headers,
        bytes::Bytes::new(),
    )
    .await
}

#[tokio::test]
async fn pre_upgrade_errors_in_order() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let other = server.create_workspace("Other");
    let reader =
        server.create_bot(BotSpec::new(&seed.workspace.id, "NoRt").scopes(["messages:read"]));
    // 1. auth
    let r = upgrade_error(&server, "workspace_id=x", None).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "authentication required")
    );
    let r = upgrade_error(&server, "workspace_id=x", Some("ccb_bogus")).await;
    assert_eq!(r.status, 401);
    // 2. scope before workspace checks
    let r = upgrade_error(&server, "", Some(&reader.token)).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token is missing scope realtime:read")
    );
    // 3. missing workspace
    let r = upgrade_error(&server, "", Some(&seed.bot.token)).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "workspace_id is required")
    );
    // 4. binding
    let r = upgrade_error(
        &server,
        &format!("workspace_id={}", other.id),
        Some(&seed.bot.token),
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token cannot access this workspace")
    );
    // 5. membership (a human outside the workspace)
    let outsider = server.create_user(&other.id, "Outsider");
    let r = upgrade_error(
        &server,
        &format!("workspace_id={}", seed.workspace.id),
        Some(&outsider.session_token),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(server.realtime_connection_attempts() >= 6);
}

#[tokio::test]
async fn replay_then_live_without_gaps_or_duplicates() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str();
    let human = &seed.owner.user.id;
    let start = tail(&server, ws_id, &seed.bot.token).await.unwrap();
    let mut expected = Vec::new();
    for i in 0..1200 {
        expected.push(
            server
                .post_message(human, &seed.general.id, &format!("m{i}"))
                .id,
        );
    }
    let mut sock = ws(&server, ws_id, &seed.bot.token, Some(&start)).await;
    // Post more while the replay is in flight.
    let server_ref = &server;
    let mut last = start.clone();
    let mut seen = Vec::new();
    for i in 0..1300 {
        if i < 100 {
            expected.push(
                server_ref
                    .post_message(human, &seed.general.id, &format!("live{i}"))
                    .id,
            );
        }
        let ev = next_event(&mut sock).await;
        let cursor = ev["cursor"].as_str().unwrap().to_owned();
        assert!(cursor > last, "cursor order: {cursor} after {last}");
        last = cursor;
        seen.push(ev["payload"]["message_id"].as_str().unwrap().to_owned());
    }
    let expected: Vec<String> = expected.iter().map(|m| m.as_str().to_owned()).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn unknown_pruned_and_ahead_cursors_close_4001() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str();
    let reason = "realtime replay limit exceeded; resync required";
    let mut sock = ws(
        &server,
        ws_id,
        &seed.bot.token,
        Some("cur_00000000000000000000000000"),
    )
    .await;
    assert_eq!(next(&mut sock).await, Next::Close(4001, reason.into()));

    let first = server.post_message(&seed.owner.user.id, &seed.general.id, "a");
    let _ = first;
    let old = tail(&server, ws_id, &seed.bot.token).await.unwrap();
    server.post_message(&seed.owner.user.id, &seed.general.id, "b");
    let newest = server.latest_cursor(&seed.workspace.id).unwrap();
    server.prune_events_before(&seed.workspace.id, &newest);
    let mut sock = ws(&server, ws_id, &seed.bot.token, Some(&old)).await;
    assert_eq!(next(&mut sock).await, Next::Close(4001, reason.into()));

    // Ahead of the tail: a cursor string greater than anything issued.
    let mut sock = ws(
        &server,
        ws_id,
        &seed.bot.token,
        Some("cur_zzzzzzzzzzzzzzzzzzzzzzzzzz"),
    )
    .await;
    assert_eq!(next(&mut sock).await, Next::Close(4001, reason.into()));
}

#[tokio::test]
async fn replay_over_5000_closes_4001() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let start = tail(&server, seed.workspace.id.as_str(), &seed.bot.token)
        .await
        .unwrap();
    for i in 0..5001 {
        server.post_message(&seed.owner.user.id, &seed.general.id, &format!("{i}"));
    }
    let mut sock = ws(
        &server,
        seed.workspace.id.as_str(),
        &seed.bot.token,
        Some(&start),
    )
    .await;
    loop {
        match next(&mut sock).await {
            Next::Event(_) => continue,
            Next::Close(code, _) => {
                assert_eq!(code, 4001);
                break;
            }
            Next::Eof => panic!("eof without close"),
        }
    }
}

#[tokio::test]
async fn client_data_frame_closes_1008() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let mut sock = ws_live(&server, seed.workspace.id.as_str(), &seed.bot.token).await;
    send_text(&mut sock, "{\"subscribe\":true}").await;
    assert_eq!(
        next(&mut sock).await,
        Next::Close(1008, "unexpected data message".into())
    );
}

#[tokio::test]
async fn revoke_closes_1008_and_rest_gets_401() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let t = tail(&server, seed.workspace.id.as_str(), &seed.bot.token).await;
    let mut sock = ws(
        &server,
        seed.workspace.id.as_str(),
        &seed.bot.token,
        t.as_deref(),
    )
    .await;
    server.revoke_token(&seed.bot.token_id);
    assert_eq!(
        next(&mut sock).await,
        Next::Close(
            1008,
            "bot token revoked; reconnect with a valid token".into()
        )
    );
    assert_eq!(get(&server, "/api/me", &seed.bot.token).await.status, 401);
}

#[tokio::test]
async fn membership_removal_closes_1008_and_notifies_others() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let other = server.create_bot(BotSpec::new(&seed.workspace.id, "Other Bot"));
    let ws_id = seed.workspace.id.as_str();
    let mut mine = ws_live(&server, ws_id, &seed.bot.token).await;
    let mut theirs = ws_live(&server, ws_id, &other.token).await;
    server.remove_bot_membership(&seed.workspace.id, &seed.bot.user.id);
    assert_eq!(
        next(&mut mine).await,
        Next::Close(1008, "workspace access revoked".into())
    );
    let ev = next_event(&mut theirs).await;
    assert_eq!(ev["type"], "bot.membership_removed");
    assert_eq!(ev["cursor"], "");
    assert_eq!(ev["payload"]["bot_user_id"], seed.bot.user.id.as_str());
    assert_eq!(get(&server, "/api/me", &seed.bot.token).await.status, 200);
    let r = get(
        &server,
        &format!("/api/workspaces/{ws_id}"),
        &seed.bot.token,
    )
    .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn ephemeral_events_are_pushed_live_and_overflow_closes_1013() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str();
    let mut sock = ws_live(&server, ws_id, &seed.bot.token).await;
    let r = post(
        &server,
        "/api/realtime/ephemeral",
        &seed.owner.session_token,
        json!({ "workspace_id": ws_id, "channel_id": seed.general.id, "type": "typing.started" }),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let ev = next_event(&mut sock).await;
    assert_eq!(ev["type"], "typing.started");
    assert_eq!(ev["cursor"], "");
    assert!(ev["id"].as_str().unwrap().starts_with("eph_"));
    assert_eq!(ev["payload"]["user_id"], seed.owner.user.id.as_str());
    assert_eq!(ev["payload"]["channel_id"], seed.general.id.as_str());

    server.faults().pause_realtime(true);
    for _ in 0..33 {
        server.publish_ephemeral(&seed.workspace.id, "presence.changed", json!({}));
    }
    assert_eq!(
        next(&mut sock).await,
        Next::Close(
            1013,
            "realtime buffer overflow; reconnect with after_cursor to replay".into()
        )
    );
}

#[tokio::test]
async fn pings_are_answered() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let mut sock = ws_live(&server, seed.workspace.id.as_str(), &seed.bot.token).await;
    sock.set_auto_pong(false);
    sock.write_frame(fastwebsockets::Frame::new(
        true,
        fastwebsockets::OpCode::Ping,
        None,
        fastwebsockets::Payload::Borrowed(b"hb"),
    ))
    .await
    .unwrap();
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), sock.read_frame())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(frame.opcode, fastwebsockets::OpCode::Pong);
    assert_eq!(&frame.payload[..], b"hb");
}

#[tokio::test]
async fn dm_events_only_reach_members() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str();
    let other = server.create_bot(BotSpec::new(&seed.workspace.id, "Outsider Bot"));
    let mut outsider = ws_live(&server, ws_id, &other.token).await;
    let mut member = ws_live(&server, ws_id, &seed.bot.token).await;
    let dm = server.open_dm(&seed.workspace.id, &seed.owner.user.id, &seed.bot.user.id);
    let m = server.post_dm(&seed.owner.user.id, &dm.id, "secret");
    let ev = next_event(&mut member).await;
    assert_eq!(ev["payload"]["direct_conversation_id"], dm.id.as_str());
    assert!(ev.get("channel_id").is_none());
    assert_eq!(ev["payload"]["message_id"], m.id.as_str());
    // The outsider's next event is the later channel message, not the DM.
    let c = server.post_message(&seed.owner.user.id, &seed.general.id, "public");
    assert_eq!(
        next_event(&mut outsider).await["payload"]["message_id"],
        c.id.as_str()
    );
    // /events hides it too.
    let r = get(
        &server,
        &format!("/api/realtime/events?workspace_id={ws_id}"),
        &other.token,
    )
    .await;
    let types: Vec<_> = r.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["payload"]["direct_conversation_id"].is_string())
        .cloned()
        .collect();
    assert!(types.is_empty());
}

#[tokio::test]
async fn session_revoke_closes_1008() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let token = seed.owner.session_token.clone();
    let mut sock = ws_live(&server, seed.workspace.id.as_str(), &token).await;
    server.revoke_session(&token);
    assert_eq!(
        next(&mut sock).await,
        Next::Close(1008, "session revoked; sign in again".into())
    );
    assert_eq!(get(&server, "/api/me", &token).await.status, 401);
}

#[tokio::test]
async fn deleted_bot_is_closed_and_announced() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let other = server.create_bot(BotSpec::new(&seed.workspace.id, "Watcher"));
    let ws_id = seed.workspace.id.as_str();
    let mut doomed = ws_live(&server, ws_id, &seed.bot.token).await;
    let mut watcher = ws_live(&server, ws_id, &other.token).await;
    server.delete_bot(&seed.bot.user.id);
    assert_eq!(
        next(&mut doomed).await,
        Next::Close(1008, "workspace access revoked".into())
    );
    let ev = next_event(&mut watcher).await;
    assert_eq!(ev["type"], "bot.deleted");
    assert_eq!(ev["id"], "");
    assert_eq!(ev["payload"]["former_handle"], "testbot");
    assert_eq!(get(&server, "/api/me", &seed.bot.token).await.status, 401);
}

#[tokio::test]
async fn bot_command_updates_are_pushed() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str();
    let mut sock = ws_live(&server, ws_id, &seed.owner.session_token).await;
    let r = call(
        &server,
        "PUT",
        "/api/bots/self/commands",
        Some(&seed.bot.token),
        Some(json!({ "commands": [{ "command": "/ask", "description": "Ask", "args_hint": "<q>" }] })),
    )
    .await;
    assert_eq!(r.status, 200);
    let ev = next_event(&mut sock).await;
    assert_eq!(ev["type"], "bot_command.updated");
    assert_eq!(
        (ev["id"].as_str(), ev["cursor"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(ev["payload"]["bot_user_id"], seed.bot.user.id.as_str());
    let r = get(
        &server,
        &format!("/api/workspaces/{ws_id}/bot-commands"),
        &seed.owner.session_token,
    )
    .await;
    assert_eq!(r.json()["bot_commands"][0]["bot"]["handle"], "testbot");
}
