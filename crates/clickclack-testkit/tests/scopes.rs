//! Scope bundles × endpoints: the table of protocol.md §3.2–§3.3.

mod common;
use common::*;
use serde_json::json;

#[test]
fn bundles_expand_like_the_server() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = TestServer::start().await;
        let seed = server.seed();
        let ws = &seed.workspace.id;
        let read = server.create_bot(BotSpec::new(ws, "R").scopes(["bot:read"]));
        assert_eq!(
            read.scopes,
            [
                "channels:read",
                "dms:read",
                "messages:read",
                "profile:read",
                "realtime:read",
                "threads:read",
                "workspaces:read"
            ]
        );
        let write = server.create_bot(BotSpec::new(ws, "W"));
        assert_eq!(write.scopes.len(), 12);
        assert!(write.scopes.contains(&"commands:write".to_owned()));
        assert!(!write.scopes.contains(&"channels:write".to_owned()));
        let admin = server.create_bot(BotSpec::new(ws, "A").scopes(["bot:admin"]));
        assert_eq!(admin.scopes.len(), 13);
        let err = server
            .try_create_bot(BotSpec::new(ws, "X").scopes(["bot:root"]))
            .unwrap_err();
        assert_eq!(err.to_string(), "unknown bot scope: bot:root");
        let mixed =
            server.create_bot(BotSpec::new(ws, "M").scopes(["messages:read, profile:read"]));
        assert_eq!(mixed.scopes, ["messages:read", "profile:read"]);
    });
}

#[tokio::test]
async fn scope_table() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws = seed.workspace.id.as_str().to_owned();
    let ch = seed.general.id.as_str().to_owned();
    let msg = server
        .post_message(&seed.owner.user.id, &seed.general.id, "hello")
        .id;
    let bundles = ["bot:read", "bot:write", "bot:admin", "agent_activity:write"];
    let table: Vec<(&str, String, Option<serde_json::Value>, &str)> = vec![
        ("GET", "/api/me".into(), None, "profile:read"),
        ("GET", "/api/workspaces".into(), None, "workspaces:read"),
        (
            "GET",
            format!("/api/workspaces/{ws}"),
            None,
            "workspaces:read",
        ),
        (
            "GET",
            format!("/api/workspaces/{ws}/members"),
            None,
            "workspaces:read",
        ),
        (
            "GET",
            format!("/api/workspaces/{ws}/channels"),
            None,
            "channels:read",
        ),
        (
            "POST",
            format!("/api/workspaces/{ws}/channels"),
            Some(json!({"name": "x"})),
            "channels:write",
        ),
        (
            "PATCH",
            format!("/api/channels/{ch}"),
            Some(json!({})),
            "channels:write",
        ),
        (
            "GET",
            format!("/api/channels/{ch}/messages"),
            None,
            "messages:read",
        ),
        (
            "POST",
            format!("/api/channels/{ch}/messages"),
            Some(json!({"body": "b"})),
            "messages:write",
        ),
        (
            "POST",
            format!("/api/channels/{ch}/read"),
            Some(json!({"seq": 1})),
            "messages:read",
        ),
        ("GET", format!("/api/messages/{msg}"), None, "messages:read"),
        (
            "GET",
            format!("/api/messages/by-nonce?workspace_id={ws}&nonce=n"),
            None,
            "messages:write",
        ),
        (
            "PATCH",
            format!("/api/messages/{msg}"),
            Some(json!({"body": "b"})),
            "messages:write",
        ),
        (
            "POST",
            format!("/api/messages/{msg}/reactions"),
            Some(json!({"emoji": "x"})),
            "messages:write",
        ),
        (
            "GET",
            format!("/api/messages/{msg}/thread"),
            None,
            "threads:read",
        ),
        (
            "POST",
            format!("/api/messages/{msg}/thread/replies"),
            Some(json!({"body": "b"})),
            "threads:write",
        ),
        (
            "GET",
            format!("/api/dms?workspace_id={ws}"),
            None,
            "dms:read",
        ),
        (
            "POST",
            "/api/dms".into(),
            Some(json!({"workspace_id": ws, "member_ids": [seed.owner.user.id]})),
            "dms:write",
        ),
        (
            "POST",
            "/api/uploads".into(),
            Some(json!({})),
            "uploads:write",
        ),
        (
            "GET",
            format!("/api/realtime/events?workspace_id={ws}"),
            None,
            "realtime:read",
        ),
        (
            "POST",
            "/api/realtime/ephemeral".into(),
            Some(json!({"workspace_id": ws, "channel_id": ch, "type": "typing.started"})),
            "messages:write",
        ),
        (
            "GET",
            format!("/api/search?workspace_id={ws}&q=x"),
            None,
            "messages:read",
        ),
        (
            "PUT",
            "/api/bots/self/commands".into(),
            Some(json!({"commands": []})),
            "commands:write",
        ),
    ];
    for bundle in bundles {
        let bot = server.create_bot(
            BotSpec::new(&seed.workspace.id, &format!("bot {bundle}")).scopes([bundle]),
        );
        for (method, path, body, scope) in &table {
            let r = call(&server, method, path, Some(&bot.token), body.clone()).await;
            let missing = format!("bot token is missing scope {scope}");
            if bot.scopes.iter().any(|s| s == scope) {
                assert_ne!(r.error(), missing, "{bundle} {method} {path}");
                assert_ne!(r.status, 401, "{bundle} {method} {path}");
            } else {
                assert_eq!(
                    (r.status, r.error()),
                    (403, missing),
                    "{bundle} {method} {path}"
                );
            }
        }
    }
}
