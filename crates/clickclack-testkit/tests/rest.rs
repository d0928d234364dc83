//! REST endpoints: success and error shapes.

mod common;
use bytes::Bytes;
use common::*;
use serde_json::{Value, json};

struct Env {
    server: TestServer,
    seed: Seed,
}

impl Env {
    async fn new() -> Env {
        let server = TestServer::start().await;
        let seed = server.seed();
        Env { server, seed }
    }
    fn ws(&self) -> &str {
        self.seed.workspace.id.as_str()
    }
    fn general(&self) -> &str {
        self.seed.general.id.as_str()
    }
    fn bot(&self) -> &str {
        &self.seed.bot.token
    }
    async fn get(&self, path: &str) -> Resp {
        get(&self.server, path, self.bot()).await
    }
    async fn post(&self, path: &str, body: Value) -> Resp {
        post(&self.server, path, self.bot(), body).await
    }
}

#[tokio::test]
async fn auth_errors() {
    let env = Env::new().await;
    let r = call(&env.server, "GET", "/api/me", None, None).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "authentication required")
    );
    let r = call(&env.server, "GET", "/api/me", Some("ccb_nope"), None).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "sql: no rows in result set")
    );
    let r = send(
        env.server.addr(),
        http::Method::GET,
        "/api/me",
        &[("authorization", "Token abc")],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 401);
    // A session token works as a human.
    let r = get(&env.server, "/api/me", &env.seed.owner.session_token).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["user"]["kind"], "human");
}

#[tokio::test]
async fn correlation_id_route_not_found_and_limits() {
    let env = Env::new().await;
    let r = send(
        env.server.addr(),
        http::Method::GET,
        "/api/nope",
        &[("x-correlation-id", "abc.DEF:1-2_3")],
        Bytes::new(),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (404, "route not found"));
    assert_eq!(r.header("x-correlation-id"), Some("abc.DEF:1-2_3"));
    let r = send(
        env.server.addr(),
        http::Method::GET,
        "/healthz",
        &[("x-correlation-id", "bad value!")],
        Bytes::new(),
    )
    .await;
    assert_eq!(r.status, 200);
    let generated = r.header("x-correlation-id").unwrap();
    assert!(!generated.is_empty() && generated != "bad value!");

    // 413 for JSON over 1 MiB.
    let big = json!({ "body": "x".repeat((1 << 20) + 10) });
    let r = env
        .post(&format!("/api/channels/{}/messages", env.general()), big)
        .await;
    assert_eq!(r.status, 413);
    // Two JSON values.
    let auth = format!("Bearer {}", env.bot());
    let r = send(
        env.server.addr(),
        http::Method::POST,
        &format!("/api/channels/{}/messages", env.general()),
        &[("authorization", &auth)],
        Bytes::from_static(b"{\"body\":\"a\"} {\"body\":\"b\"}"),
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "json request body must contain a single JSON value")
    );
    // Correlation id is echoed in the event payload.
    let r = send(
        env.server.addr(),
        http::Method::POST,
        &format!("/api/channels/{}/messages", env.general()),
        &[("authorization", &auth), ("x-correlation-id", "corr-42")],
        Bytes::from_static(b"{\"body\":\"hi\"}"),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["event"]["payload"]["correlation_id"], "corr-42");
}

#[tokio::test]
async fn me_workspaces_members() {
    let env = Env::new().await;
    let other = env.server.create_workspace("Other Place");
    let r = env.get("/api/workspaces").await;
    assert_eq!(r.status, 200);
    let list = r.json()["workspaces"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["slug"], "default");
    assert_eq!(list[0]["role"], "bot");
    let r = env.get(&format!("/api/workspaces/{}", env.ws())).await;
    assert_eq!(r.json()["workspace"]["id"], env.ws());
    let r = env.get(&format!("/api/workspaces/{}", other.id)).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token cannot access this workspace")
    );
    env.server
        .create_user(&env.seed.workspace.id, "Alice Smith");
    let r = env
        .get(&format!("/api/workspaces/{}/members?limit=2", env.ws()))
        .await;
    let page = r.json();
    assert_eq!(page["members"].as_array().unwrap().len(), 2);
    assert_eq!(page["has_more"], true);
    assert_eq!(page["total_count"], 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let r = env
        .get(&format!(
            "/api/workspaces/{}/members?limit=2&cursor={cursor}",
            env.ws()
        ))
        .await;
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 1);
    let r = env
        .get(&format!("/api/workspaces/{}/members?q=alice", env.ws()))
        .await;
    assert_eq!(
        r.json()["members"][0]["user"]["display_name"],
        "Alice Smith"
    );
    // Bot-forbidden endpoints.
    let r = env.post("/api/workspaces", json!({ "name": "x" })).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot tokens cannot create workspaces")
    );
    let r = call(
        &env.server,
        "PATCH",
        "/api/me",
        Some(env.bot()),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot tokens cannot update profiles")
    );
}

#[tokio::test]
async fn channels_list_create_patch() {
    let env = Env::new().await;
    let admin = env
        .server
        .create_bot(BotSpec::new(&env.seed.workspace.id, "Admin Bot").scopes(["bot:admin"]));
    let path = format!("/api/workspaces/{}/channels", env.ws());
    let r = env.post(&path, json!({ "name": "Nope" })).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token is missing scope channels:write")
    );
    let r = post(
        &env.server,
        &path,
        &admin.token,
        json!({ "name": "  Hello, World!! " }),
    )
    .await;
    assert_eq!(r.status, 201);
    let body = r.json();
    assert_eq!(body["channel"]["name"], "hello-world");
    assert_eq!(body["event"]["type"], "channel.created");
    let id = body["channel"]["id"].as_str().unwrap().to_owned();
    let r = call(
        &env.server,
        "PATCH",
        &format!("/api/channels/{id}"),
        Some(&admin.token),
        Some(json!({ "name": "Renamed Room", "archived": true })),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["channel"]["name"], "renamed-room");
    assert!(r.json()["channel"]["archived_at"].is_string());
    assert_eq!(r.json()["event"]["payload"]["archived"], true);
    let r = env.get(&path).await;
    let names: Vec<_> = r.json()["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["general", "renamed-room"]);
    // Unknown channel id: 403 with the store error for bots.
    let r = env.get("/api/channels/chn_nope/messages").await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "sql: no rows in result set")
    );
}

#[tokio::test]
async fn message_pages() {
    let env = Env::new().await;
    let human = &env.seed.owner.user.id;
    let root = env.server.post_message(human, &env.seed.general.id, "m1");
    for i in 2..=10 {
        env.server
            .post_message(human, &env.seed.general.id, &format!("m{i}"));
    }
    env.server.post_thread_reply(human, &root.id, "a reply");
    let base = format!("/api/channels/{}/messages", env.general());
    let seqs = |v: &Value| -> Vec<i64> {
        v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["channel_seq"].as_i64().unwrap())
            .collect()
    };
    let r = env.get(&format!("{base}?after_seq=3&limit=3")).await.json();
    assert_eq!(seqs(&r), [4, 5, 6]);
    assert_eq!(
        (r["has_older"].clone(), r["has_newer"].clone()),
        (json!(true), json!(true))
    );
    let r = env.get(&format!("{base}?before_seq=3")).await.json();
    assert_eq!(seqs(&r), [1, 2]);
    assert_eq!(r["has_older"], false);
    let r = env
        .get(&format!("{base}?around_seq=5&limit=3"))
        .await
        .json();
    assert_eq!(seqs(&r), [4, 5, 6]);
    let r = env.get(&format!("{base}?mode=latest&limit=2")).await.json();
    assert_eq!(seqs(&r), [9, 10]);
    assert_eq!(
        (r["oldest_seq"].clone(), r["newest_seq"].clone()),
        (json!(9), json!(10))
    );
    let r = env.get(&base).await.json();
    assert_eq!(seqs(&r).len(), 10, "root messages only");
    assert_eq!(r["messages"][0]["thread_state"]["reply_count"], 1);
    let r = env.get(&format!("{base}?after_seq=1&before_seq=4")).await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("invalid message page request: "));
    let r = env.get(&format!("{base}?mode=latest&after_seq=1")).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn create_with_nonce_replay_conflict_and_by_nonce() {
    let env = Env::new().await;
    let path = format!("/api/channels/{}/messages", env.general());
    let body = json!({ "body": "hello", "nonce": "n-1" });
    let r = env.post(&path, body.clone()).await;
    assert_eq!(r.status, 201);
    let first = r.json();
    assert_eq!(first["message"]["nonce"], "n-1");
    assert_eq!(first["event"]["payload"]["nonce"], "n-1");
    assert_eq!(first["event"]["seq"], first["message"]["channel_seq"]);
    let before = env.server.event_count(&env.seed.workspace.id);
    let r = env.post(&path, body).await;
    assert_eq!(r.status, 200);
    assert!(r.json().get("event").is_none());
    assert_eq!(r.json()["message"]["id"], first["message"]["id"]);
    assert_eq!(env.server.event_count(&env.seed.workspace.id), before);
    let r = env
        .post(&path, json!({ "body": "different", "nonce": "n-1" }))
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "client nonce was already used for a different message")
    );
    let r = env
        .post(&path, json!({ "body": "x", "nonce": "n".repeat(129) }))
        .await;
    assert_eq!((r.status, r.error().as_str()), (400, "nonce is too long"));
    let r = env.post(&path, json!({ "body": "  " })).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "message body is required")
    );

    let r = env
        .get(&format!(
            "/api/messages/by-nonce?workspace_id={}&nonce=n-1",
            env.ws()
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-clickclack-message-nonce"), Some("supported"));
    assert_eq!(r.json()["message"]["id"], first["message"]["id"]);
    let r = env
        .get(&format!(
            "/api/messages/by-nonce?workspace_id={}&nonce=missing",
            env.ws()
        ))
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-clickclack-message-nonce"), Some("supported"));
}

#[tokio::test]
async fn kinds_and_turn_ids() {
    let env = Env::new().await;
    let path = format!("/api/channels/{}/messages", env.general());
    let r = env
        .post(&path, json!({ "body": "x", "kind": "agent_tool" }))
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token is missing scope agent_activity:write")
    );
    let r = post(
        &env.server,
        &path,
        &env.seed.owner.session_token,
        json!({ "body": "x", "kind": "agent_tool" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "agent activity messages require a bot token")
    );
    let r = env
        .post(&path, json!({ "body": "x", "turn_id": "t" }))
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "turn_id is only valid for agent activity messages")
    );
    let r = env
        .post(&path, json!({ "body": "x", "kind": "weird" }))
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "invalid message kind")
    );
    let agent = env.server.create_bot(
        BotSpec::new(&env.seed.workspace.id, "Agent").scopes(["bot:write,agent_activity:write"]),
    );
    let r = post(
        &env.server,
        &path,
        &agent.token,
        json!({ "body": "thinking", "kind": "agent_commentary", "turn_id": "t1" }),
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["event"]["payload"]["kind"], "agent_commentary");
    assert_eq!(r.json()["event"]["payload"]["turn_id"], "t1");
}

#[tokio::test]
async fn get_edit_delete() {
    let env = Env::new().await;
    let mine = env
        .post(
            &format!("/api/channels/{}/messages", env.general()),
            json!({ "body": "v1" }),
        )
        .await
        .json();
    let id = mine["message"]["id"].as_str().unwrap().to_owned();
    let r = call(
        &env.server,
        "PATCH",
        &format!("/api/messages/{id}"),
        Some(env.bot()),
        Some(json!({ "body": "v2" })),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"]["body"], "v2");
    assert!(r.json()["message"]["edited_at"].is_string());
    assert_eq!(r.json()["event"]["type"], "message.updated");
    assert_eq!(r.json()["event"]["payload"]["root_message_id"], id.as_str());
    let theirs = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "human");
    let r = call(
        &env.server,
        "PATCH",
        &format!("/api/messages/{}", theirs.id),
        Some(env.bot()),
        Some(json!({ "body": "hijack" })),
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "message is not writable")
    );
    let r = call(
        &env.server,
        "DELETE",
        &format!("/api/messages/{id}"),
        Some(env.bot()),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"]["body"], "");
    assert!(r.json()["message"]["deleted_at"].is_string());
    assert_eq!(r.json()["event"]["type"], "message.deleted");
    let r = env.get(&format!("/api/messages/{id}")).await;
    assert_eq!(r.json()["message"]["body"], "");
    let r = env.get("/api/messages/msg_unknown").await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "sql: no rows in result set")
    );
}

#[tokio::test]
async fn threads() {
    let env = Env::new().await;
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "root");
    let path = format!("/api/messages/{}/thread/replies", root.id);
    let r = env.post(&path, json!({ "body": "r1" })).await;
    assert_eq!(r.status, 201);
    let reply = r.json();
    assert_eq!(reply["message"]["parent_message_id"], root.id.as_str());
    assert_eq!(reply["message"]["thread_root_id"], root.id.as_str());
    assert_eq!(reply["message"]["thread_seq"], 1);
    assert!(reply["message"].get("channel_seq").is_none());
    assert_eq!(reply["thread_state"]["reply_count"], 1);
    let events = reply["events"].as_array().unwrap();
    assert_eq!(events[0]["type"], "thread.reply_created");
    assert_eq!(events[0]["channel_id"], env.general());
    assert!(events[0]["payload"].get("author_id").is_none());
    assert_eq!(events[1]["type"], "thread.state_updated");
    let reply_id = reply["message"]["id"].as_str().unwrap();
    let r = env
        .post(
            &format!("/api/messages/{reply_id}/thread/replies"),
            json!({ "body": "deep" }),
        )
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "nested thread replies are not supported")
    );
    let r = env.post(&path, json!({ "body": "" })).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "reply body is required")
    );
    env.server
        .post_thread_reply(&env.seed.owner.user.id, &root.id, "r2");
    let r = env
        .get(&format!(
            "/api/messages/{}/thread?limit=1&latest=true",
            root.id
        ))
        .await;
    assert_eq!(r.status, 200);
    let page = r.json();
    assert_eq!(page["root"]["id"], root.id.as_str());
    assert_eq!(page["replies"][0]["body"], "r2");
    assert_eq!(page["has_older"], true);
    assert_eq!(page["thread_state"]["reply_count"], 2);
    let r = env
        .get(&format!("/api/messages/{}/thread?mode=latest", root.id))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn reactions() {
    let env = Env::new().await;
    let m = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "react");
    let path = format!("/api/messages/{}/reactions", m.id);
    let r = env.post(&path, json!({ "emoji": "👍" })).await;
    assert_eq!(r.status, 201);
    let body = r.json();
    assert_eq!(body["event"]["type"], "reaction.added");
    assert_eq!(body["event"]["payload"]["count"], 1);
    assert_eq!(body["reactions"][0]["reacted_by_me"], true);
    let r = env.post(&path, json!({ "emoji": "👍" })).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["event"]["id"], "");
    assert!(r.json()["event"]["payload"].is_null());
    let r = call(
        &env.server,
        "DELETE",
        &format!("{path}/%F0%9F%91%8D"),
        Some(env.bot()),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["event"]["type"], "reaction.removed");
    // Go encodes the now-empty reaction list as `null`.
    assert_eq!(r.json()["reactions"], json!(null));
}

#[tokio::test]
async fn dms() {
    let env = Env::new().await;
    let human = env.seed.owner.user.id.as_str();
    let r = env
        .post(
            "/api/dms",
            json!({ "workspace_id": env.ws(), "member_ids": [human] }),
        )
        .await;
    assert_eq!(r.status, 201);
    let conv = r.json()["conversation"].clone();
    assert_eq!(conv["members"].as_array().unwrap().len(), 2);
    let id = conv["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("dm_"));
    let r = env
        .post(
            "/api/dms",
            json!({ "workspace_id": env.ws(), "member_ids": [human, human] }),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["conversation"]["id"], id.as_str(), "reused");
    let r = env
        .get(&format!("/api/dms?workspace_id={}", env.ws()))
        .await;
    assert_eq!(r.json()["conversations"].as_array().unwrap().len(), 1);
    let r = env.get(&format!("/api/dms/{id}")).await;
    assert_eq!(r.json()["conversation"]["id"], id.as_str());
    let r = env
        .post(
            &format!("/api/dms/{id}/messages"),
            json!({ "body": "psst", "nonce": "dm-1" }),
        )
        .await;
    assert_eq!(r.status, 201);
    let ev = r.json()["event"].clone();
    assert!(ev.get("channel_id").is_none());
    assert_eq!(ev["seq"], 1);
    assert_eq!(ev["payload"]["direct_conversation_id"], id.as_str());
    let r = env
        .post(
            &format!("/api/dms/{id}/messages"),
            json!({ "body": "psst", "nonce": "dm-1" }),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = env.get(&format!("/api/dms/{id}/messages")).await;
    assert_eq!(r.json()["messages"][0]["body"], "psst");
    let r = env
        .post(&format!("/api/dms/{id}/read"), json!({ "seq": 1 }))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["receipt"]["last_read_seq"], 1);
    let r = call(
        &env.server,
        "DELETE",
        &format!("/api/dms/{id}"),
        Some(env.bot()),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot tokens cannot close direct conversations")
    );
    // A bot without dms scopes.
    let reader = env
        .server
        .create_bot(BotSpec::new(&env.seed.workspace.id, "Chan Only").scopes(["messages:read"]));
    let r = get(
        &env.server,
        &format!(
            "/api/messages/{}",
            env.server.dm_messages(&id.as_str().into())[0].id
        ),
        &reader.token,
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token is missing scope dms:read")
    );
}

#[tokio::test]
async fn events_pages_and_tail() {
    let env = Env::new().await;
    for i in 0..7 {
        env.server.post_message(
            &env.seed.owner.user.id,
            &env.seed.general.id,
            &format!("{i}"),
        );
    }
    let base = format!("/api/realtime/events?workspace_id={}", env.ws());
    let r = env.get(&format!("{base}&limit=3")).await.json();
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert!(r.get("tail_cursor").is_none());
    let mut cursors: Vec<String> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().to_owned())
        .collect();
    for e in events {
        assert!(e["id"].as_str().unwrap().starts_with("evt_"));
        assert!(e["cursor"].as_str().unwrap().starts_with("cur_"));
        assert!(e["created_at"].is_string());
        assert!(e.get("payload").is_some());
    }
    let after = cursors.last().unwrap().clone();
    let r = env
        .get(&format!(
            "{base}&after_cursor={after}&include_tail=true&limit=1000"
        ))
        .await
        .json();
    let rest: Vec<String> = r["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(rest.len(), 5, "1 channel.created + 7 messages - 3 seen");
    assert_eq!(r["tail_cursor"].as_str(), rest.last().map(String::as_str));
    cursors.extend(rest);
    let mut sorted = cursors.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, cursors, "strictly increasing");
    // Errors.
    let r = env.get("/api/realtime/events").await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (403, "bot token cannot access this workspace")
    );
    let r = get(
        &env.server,
        "/api/realtime/events",
        &env.seed.owner.session_token,
    )
    .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "workspace_id is required")
    );
}

#[tokio::test]
async fn ephemeral_and_bot_commands() {
    let env = Env::new().await;
    let r = env
        .post(
            "/api/realtime/ephemeral",
            json!({ "workspace_id": env.ws(), "type": "message.created" }),
        )
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "unsupported ephemeral event type")
    );
    let r = env
        .post(
            "/api/realtime/ephemeral",
            json!({ "workspace_id": env.ws(), "channel_id": env.general(),
                    "type": "agent.progress", "payload": { "text": "working" } }),
        )
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json()["event"]["payload"]["text"], "working");
    assert_eq!(r.json()["event"]["cursor"], "");
    let r = call(
        &env.server,
        "PUT",
        "/api/bots/self/commands",
        Some(env.bot()),
        Some(json!({ "commands": [{ "command": "/help", "description": "Help" }] })),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["bot_commands"][0]["command"], "/help");
    let r = call(
        &env.server,
        "PUT",
        "/api/bots/self/commands",
        Some(&env.seed.owner.session_token),
        Some(json!({ "commands": [] })),
    )
    .await;
    assert_eq!((r.status, r.error().as_str()), (403, "bot token required"));
    let r = env.get("/api/event-types").await;
    assert!(
        r.json()["event_types"]
            .as_array()
            .unwrap()
            .contains(&json!("message.created"))
    );
}

#[tokio::test]
async fn search_finds_substrings() {
    let env = Env::new().await;
    env.server.post_message(
        &env.seed.owner.user.id,
        &env.seed.general.id,
        "The Quick fox",
    );
    env.server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "lazy dog");
    let r = env
        .get(&format!("/api/search?workspace_id={}&q=quick", env.ws()))
        .await;
    assert_eq!(r.status, 200);
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["channel_name"], "general");
    assert!(r.json()["next_cursor"].is_null());
}

#[tokio::test]
async fn every_event_decodes_with_proto() {
    let env = Env::new().await;
    let human = &env.seed.owner.user.id;
    let m = env.server.post_message(human, &env.seed.general.id, "one");
    env.server.post_thread_reply(human, &m.id, "two");
    let dm = env
        .server
        .open_dm(&env.seed.workspace.id, human, &env.seed.bot.user.id);
    env.server.post_dm(human, &dm.id, "three");
    env.post(
        &format!("/api/messages/{}/reactions", m.id),
        json!({ "emoji": "x" }),
    )
    .await;
    env.post(
        &format!("/api/channels/{}/read", env.general()),
        json!({ "seq": 1 }),
    )
    .await;
    call(
        &env.server,
        "DELETE",
        &format!("/api/messages/{}", m.id),
        Some(&env.seed.owner.session_token),
        None,
    )
    .await;
    let events = env.server.events(&env.seed.workspace.id);
    let types: Vec<&str> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        [
            "channel.created",
            "message.created",
            "thread.reply_created",
            "thread.state_updated",
            "message.created",
            "reaction.added",
            "channel.read",
            "message.deleted"
        ]
    );
    for e in &events {
        assert!(
            !e.payload.is_unknown(),
            "{} decoded as unknown",
            e.event_type()
        );
        assert!(e.is_durable());
    }
}

#[tokio::test]
async fn debug_output_has_no_secrets() {
    let env = Env::new().await;
    let dump = format!(
        "{:?} {:?} {:?} {:?}",
        env.server,
        env.server.faults(),
        env.seed.bot,
        env.seed.owner
    );
    assert!(!dump.contains(&env.seed.bot.token), "{dump}");
    assert!(!dump.contains(&env.seed.owner.session_token), "{dump}");
}
