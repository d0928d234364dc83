//! The owner and bot endpoints beyond messaging: setup codes (mint, claim,
//! single use, expiry, rate limit), `PATCH /api/me`, `POST /api/workspaces`,
//! `GET /api/me/bots`, topics, route ids — over raw HTTP.

mod common;
use common::*;
use serde_json::{Value, json};

/// A server that renders empty lists like Go (`null`), whatever the default.
async fn start() -> TestServer {
    TestServer::builder()
        .empty_lists_as_arrays(false)
        .start()
        .await
        .unwrap()
}

fn owner(seed: &Seed) -> &str {
    &seed.owner.session_token
}

async fn claim(server: &TestServer, code: &str) -> Resp {
    call(
        server,
        "POST",
        "/api/bot-setup-codes/claim",
        None,
        Some(json!({ "code": code })),
    )
    .await
}

#[tokio::test]
async fn setup_code_is_minted_by_an_owner_and_claimed_once_for_a_working_token() {
    let server = start().await;
    let seed = server.seed();
    let ws = seed.workspace.id.as_str();
    let bot = seed.bot.user.id.as_str();
    let path = format!("/api/workspaces/{ws}/bots/{bot}/setup-codes");

    // Bots cannot mint; members who are not managers cannot mint for a service bot.
    let r = post(&server, &path, &seed.bot.token, json!({})).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "bot tokens cannot create bot setup codes".into())
    );
    let member = server.create_user(&seed.workspace.id, "Member");
    let r = post(&server, &path, &member.session_token, json!({})).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "workspace manager permission required".into())
    );
    let r = post(&server, &path, owner(&seed), json!({ "scopes": ["nope"] })).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "unknown bot scope: nope".into())
    );
    let r = post(
        &server,
        &path,
        owner(&seed),
        json!({ "defaults": { "agentActivity": true } }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "defaults.agentActivity requires agent_activity:write".into()
        )
    );

    let r = post(
        &server,
        &path,
        owner(&seed),
        json!({ "name": "installer", "scopes": ["bot:read"], "defaults": { "allowFrom": [" usr_a ", "usr_a"] } }),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.json());
    let sc = r.json()["setup_code"].clone();
    let code = sc["code"].as_str().unwrap().to_owned();
    assert!(sc["id"].as_str().unwrap().starts_with("bsc_"));
    assert_eq!(sc["token_name"], "installer");
    assert_eq!(sc["bot_user_id"], bot);
    assert_eq!(sc["workspace_id"], ws);
    assert_eq!(sc["defaults"], json!({ "allowFrom": ["usr_a"] }));
    assert_eq!(sc["contract_version"], 1);
    assert!(
        sc["claim_url"]
            .as_str()
            .unwrap()
            .ends_with("/api/bot-setup-codes/claim")
    );
    assert!(
        sc["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("realtime:read"))
    );
    assert!(
        !sc["scopes"]
            .as_array()
            .unwrap()
            .contains(&json!("messages:write"))
    );

    // Case and separators do not matter; the claim needs no credentials.
    let r = claim(&server, &code.to_lowercase().replace('-', " ")).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let body = r.json();
    let token = body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ccb_"));
    assert_eq!(
        body["bot"],
        json!({ "id": bot, "handle": "testbot", "display_name": "Test Bot" })
    );
    assert_eq!(body["workspace"]["id"], ws);
    assert_eq!(body["workspace"]["slug"], "default");
    assert_eq!(body["defaults"]["defaultTo"], "channel:general");
    assert_eq!(body["defaults"]["allowFrom"], json!(["usr_a"]));
    assert_eq!(body["api_base_url"], server.base_url());

    // The minted token is a real bot token with the code's scopes.
    let me = get(&server, "/api/me", &token).await;
    assert_eq!(me.json()["user"]["id"], bot);
    let r = post(
        &server,
        &format!("/api/channels/{}/messages", seed.general.id),
        &token,
        json!({ "body": "hi" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "bot token is missing scope messages:write".into())
    );

    // Single use, and every unusable code answers the same 404.
    for bad in [code.as_str(), "AAAA-BBBB-CCCC", "short", "ILOU-ILOU-ILOU"] {
        let r = claim(&server, bad).await;
        assert_eq!(
            (r.status, r.error()),
            (404, "setup code is invalid or expired".into()),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn setup_codes_expire_are_replaced_on_remint_and_claims_are_rate_limited() {
    let server = start().await;
    let seed = server.seed();
    let owned =
        server.create_bot(BotSpec::new(&seed.workspace.id, "Mine").owner(&seed.owner.user.id));
    let first = server
        .create_setup_code(&SetupCodeSpec::new(&seed.workspace.id, &owned.user.id))
        .unwrap();
    assert_eq!(first.json["created_by"], seed.owner.user.id.as_str());
    // Re-minting for the same bot and token name replaces the pending code.
    let second = server
        .create_setup_code(&SetupCodeSpec::new(&seed.workspace.id, &owned.user.id))
        .unwrap();
    assert_eq!(claim(&server, &first.code).await.status, 404);
    server.expire_setup_codes();
    assert_eq!(claim(&server, &second.code).await.status, 404);
    // Someone else cannot mint for a user-owned bot.
    let member = server.create_user(&seed.workspace.id, "Member");
    let err = server
        .create_setup_code(
            &SetupCodeSpec::new(&seed.workspace.id, &owned.user.id).created_by(&member.user.id),
        )
        .unwrap_err();
    assert_eq!(err.to_string(), "only the bot owner can manage this bot");

    // 10 claims a minute per address, then 429 (the 2 above count).
    let mut statuses = Vec::new();
    for _ in 0..9 {
        statuses.push(claim(&server, "AAAA-BBBB-CCCC").await.status);
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 404, 404, 404, 429]);
    let r = claim(&server, "AAAA-BBBB-CCCC").await;
    assert_eq!(r.error(), "too many setup code attempts, retry later");
}

#[tokio::test]
async fn profile_workspace_and_owned_bot_endpoints_are_for_humans() {
    let server = start().await;
    let seed = server.seed();
    let bot = seed.bot.token.as_str();
    for (method, path, body, message) in [
        (
            "PATCH",
            "/api/me",
            json!({}),
            "bot tokens cannot update profiles",
        ),
        (
            "POST",
            "/api/workspaces",
            json!({ "name": "x" }),
            "bot tokens cannot create workspaces",
        ),
        (
            "GET",
            "/api/me/bots",
            Value::Null,
            "bot tokens cannot list owned bots",
        ),
    ] {
        let r = call(&server, method, path, Some(bot), Some(body)).await;
        assert_eq!(
            (r.status, r.error()),
            (403, message.to_owned()),
            "{method} {path}"
        );
    }

    let r = call(
        &server,
        "PATCH",
        "/api/me",
        Some(owner(&seed)),
        Some(json!({ "display_name": " Olga ", "handle": "@Olga_1", "appearance_preferences": { "density": "compact" } })),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    let user = &r.json()["user"];
    assert_eq!(user["display_name"], "Olga");
    assert_eq!(user["handle"], "olga_1");
    assert_eq!(
        user["appearance_preferences"],
        json!({ "density": "compact" })
    );
    assert_eq!(user["password_enrolled"], false);
    let r = call(
        &server,
        "PATCH",
        "/api/me",
        Some(owner(&seed)),
        Some(json!({ "handle": "testbot" })),
    )
    .await;
    assert_eq!(r.status, 409, "a handle in use");

    // No owned bots yet: Go sends `null` for the empty list.
    let r = get(&server, "/api/me/bots", owner(&seed)).await;
    assert_eq!(r.json(), json!({ "bots": null }));
    let mine =
        server.create_bot(BotSpec::new(&seed.workspace.id, "Mine").owner(&seed.owner.user.id));
    let r = get(&server, "/api/me/bots", owner(&seed)).await;
    let bots = r.json()["bots"].clone();
    assert_eq!(bots[0]["bot"]["id"], mine.user.id.as_str());
    assert_eq!(bots[0]["workspace"]["id"], seed.workspace.id.as_str());
    assert_eq!(bots[0]["active_token_count"], 1);

    let r = post(
        &server,
        "/api/workspaces",
        owner(&seed),
        json!({ "name": "  " }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "workspace name is required".into())
    );
    let r = post(
        &server,
        "/api/workspaces",
        owner(&seed),
        json!({ "name": "Side Project" }),
    )
    .await;
    assert_eq!(r.status, 201);
    let w = r.json()["workspace"].clone();
    assert_eq!(
        (w["slug"].as_str(), w["role"].as_str()),
        (Some("side-project"), Some("owner"))
    );
    let ws_id = w["id"].as_str().unwrap();
    let channels = get(
        &server,
        &format!("/api/workspaces/{ws_id}/channels"),
        owner(&seed),
    )
    .await;
    assert_eq!(channels.json()["channels"][0]["name"], "general");
}

#[tokio::test]
async fn topics_need_channel_scopes_and_validate_names() {
    let server = start().await;
    let seed = server.seed();
    let ws = seed.workspace.id.as_str();
    let path = format!("/api/workspaces/{ws}/topics");
    let r = get(&server, &path, &seed.bot.token).await;
    assert_eq!(r.json(), json!({ "topics": null }));
    let r = post(&server, &path, &seed.bot.token, json!({ "name": "x" })).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "bot token is missing scope channels:write".into())
    );
    let admin = server.create_bot(BotSpec::new(&seed.workspace.id, "Admin").scopes(["bot:admin"]));
    let r = post(&server, &path, &admin.token, json!({ "name": " " })).await;
    assert_eq!(
        (r.status, r.error()),
        (400, "topic name is required".into())
    );
    let r = post(
        &server,
        &path,
        &admin.token,
        json!({ "name": "x", "channel_id": "chn_nope" }),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "sql: no rows in result set".into())
    );
    let r = post(
        &server,
        &path,
        &admin.token,
        json!({ "name": "Launch", "channel_id": seed.general.id.as_str() }),
    )
    .await;
    assert_eq!(r.status, 201);
    let topic = r.json()["topic"].clone();
    assert!(topic["id"].as_str().unwrap().starts_with("top_"));
    assert_eq!(topic["channel_id"], seed.general.id.as_str());
    assert_eq!(topic["created_by"], admin.user.id.as_str());
    let r = get(&server, &path, &seed.bot.token).await;
    assert_eq!(r.json()["topics"], json!([topic]));
    let other = server.create_workspace("Other");
    let r = get(
        &server,
        &format!("/api/workspaces/{}/topics", other.id),
        &seed.bot.token,
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (403, "bot token cannot access this workspace".into())
    );
}

#[tokio::test]
async fn route_ids_resolve_and_roots_get_one_on_demand() {
    let server = start().await;
    let seed = server.seed();
    let bot = seed.bot.token.as_str();
    let ws_route = seed.workspace.route_id.as_str().to_owned();
    let ch_route = seed.general.route_id.as_str().to_owned();

    let r = get(&server, &format!("/api/routes/{ws_route}/{ch_route}"), bot).await;
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(
        r.json()["route"],
        json!({
            "workspace_id": seed.workspace.id.as_str(),
            "workspace_route_id": ws_route,
            "target_type": "channel",
            "target_id": seed.general.id.as_str(),
            "target_route_id": ch_route,
            "canonical_path": format!("/app/{ws_route}/{ch_route}"),
        })
    );
    // Legacy ids work too; unknown prefixes and ids are one 404.
    let r = get(
        &server,
        &format!("/api/routes/{}/{}", seed.workspace.id, seed.general.id),
        bot,
    )
    .await;
    assert_eq!(r.json()["route"]["target_route_id"], ch_route.as_str());
    for target in ["X123", "CAAAAAAAAAAAAAAAA"] {
        let r = get(&server, &format!("/api/routes/{ws_route}/{target}"), bot).await;
        assert_eq!(
            (r.status, r.error()),
            (404, "route not found".into()),
            "{target}"
        );
    }

    // A fresh root has no route id until asked for one.
    let msg = server.post_message(&seed.owner.user.id, &seed.general.id, "root");
    let fetched = get(&server, &format!("/api/messages/{}", msg.id), bot).await;
    assert!(fetched.json()["message"].get("route_id").is_none());
    let r = post(
        &server,
        &format!("/api/messages/{}/route", msg.id),
        bot,
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200);
    let route_id = r.json()["message"]["route_id"].as_str().unwrap().to_owned();
    assert!(route_id.starts_with('M') && route_id.len() == 17);
    let again = post(
        &server,
        &format!("/api/messages/{}/route", msg.id),
        bot,
        json!({}),
    )
    .await;
    assert_eq!(
        again.json()["message"]["route_id"],
        route_id.as_str(),
        "stable"
    );
    let r = get(&server, &format!("/api/routes/{ws_route}/{route_id}"), bot).await;
    let route = r.json()["route"].clone();
    assert_eq!(route["target_type"], "thread");
    assert_eq!(route["parent_type"], "channel");
    assert_eq!(route["parent_route_id"], ch_route.as_str());

    // A reply is not a root; a human asking about an unknown message gets 404.
    let reply = server.post_thread_reply(&seed.owner.user.id, &msg.id, "reply");
    let r = post(
        &server,
        &format!("/api/messages/{}/route", reply.id),
        bot,
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.error()),
        (400, "thread root must be a root message".into())
    );
    let r = post(
        &server,
        "/api/messages/msg_nope/route",
        owner(&seed),
        json!({}),
    )
    .await;
    assert_eq!((r.status, r.error()), (404, "message not found".into()));
    let r = post(&server, "/api/messages/msg_nope/route", bot, json!({})).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "sql: no rows in result set".into())
    );
}
