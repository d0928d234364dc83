//! `Client::request`, the escape hatch: same auth, retries (safe methods
//! only), error mapping and redaction as the typed methods.

use clickclack_client::url::Query;
use clickclack_client::{ErrorKind, Method};
use clickclack_proto::responses::{MeResponse, MessageWriteResponse};
use clickclack_proto::{Scope, User};
use serde_json::{Value, json};

use crate::common::{assert_missing_scope, env};

#[tokio::test]
async fn typed_and_raw_responses_match_the_typed_method() {
    let env = env().await;
    let c = env.bot();
    let me: User = c.me().await.unwrap();
    let typed: MeResponse = c
        .request(Method::GET, "/api/me", Query::new(), None)
        .await
        .unwrap();
    assert_eq!(typed.user, me);
    let raw: Value = c
        .request(Method::GET, "/api/me", Query::new(), None)
        .await
        .unwrap();
    assert_eq!(raw["user"]["id"], me.id.as_str());
}

#[tokio::test]
async fn sends_the_json_body_and_query() {
    let env = env().await;
    let c = env.bot();
    let path = format!("/api/channels/{}/messages", env.seed.general.id);
    let sent: MessageWriteResponse = c
        .request(
            Method::POST,
            &path,
            Query::new(),
            Some(&json!({"body": "via request"})),
        )
        .await
        .unwrap();
    assert_eq!(sent.message.body, "via request");
    let page: Value = c
        .request(
            Method::GET,
            &path,
            Query::new().push("limit", "1").push("mode", "latest"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(page["messages"][0]["id"], sent.message.id.as_str());
}

#[tokio::test]
async fn retries_only_safe_methods() {
    let env = env().await;
    let c = env.bot();
    env.server.faults().fail_next("GET", "/api/me", 2, 503);
    let _: Value = c
        .request(Method::GET, "/api/me", Query::new(), None)
        .await
        .unwrap();
    assert_eq!(env.server.request_count("GET", "/api/me"), 3);

    env.server
        .faults()
        .fail_next("POST", "/api/channels/", 3, 503);
    let path = format!("/api/channels/{}/messages", env.seed.general.id);
    let e = c
        .request::<Value>(
            Method::POST,
            &path,
            Query::new(),
            Some(&json!({"body": "once"})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert_eq!(
        env.server.request_count("POST", "/api/channels/"),
        1,
        "a POST is never retried"
    );
}

#[tokio::test]
async fn maps_errors_like_the_typed_methods_and_hides_the_query() {
    let env = env().await;
    let reader = env.reader();
    let path = format!("/api/channels/{}/messages", env.seed.general.id);
    assert_missing_scope(
        reader
            .request::<Value>(
                Method::POST,
                &path,
                Query::new(),
                Some(&json!({"body": "x"})),
            )
            .await,
        Scope::MessagesWrite,
    );
    let e = env
        .bot()
        .request::<Value>(
            Method::GET,
            "/api/no-such-thing",
            Query::new().push("secret", "s3cr3t"),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert_eq!(e.server_message(), Some("route not found"));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(!shown.contains(&env.seed.bot.token), "{shown}");

    let e = env
        .bot()
        .request::<Value>(Method::GET, "api/me", Query::new(), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest);
    assert!(e.to_string().contains("must start with /api/"), "{e}");
}
