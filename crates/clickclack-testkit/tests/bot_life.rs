//! A bot's whole life against the testkit, over real sockets.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn bot_whole_life() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str().to_owned();
    let token = seed.bot.token.clone();
    assert!(token.starts_with("ccb_"));

    // /api/me as the bot.
    let me = get(&server, "/api/me", &token).await;
    assert_eq!(me.status, 200);
    let me = me.json();
    assert_eq!(me["user"]["kind"], "bot");
    assert_eq!(me["user"]["password_enrolled"], false);
    let bot_id = me["user"]["id"].as_str().unwrap().to_owned();

    // Tail, then connect from it.
    let tail = tail(&server, &ws_id, &token).await.expect("tail cursor");
    assert!(tail.starts_with("cur_"));
    let mut sock = ws(&server, &ws_id, &token, Some(&tail)).await;

    // A human posts; the event arrives.
    let human = seed.owner.user.id.clone();
    let posted = server.post_message(&human, &seed.general.id, "hello @testbot");
    let ev = next_event(&mut sock).await;
    assert_eq!(ev["type"], "message.created");
    assert_eq!(ev["channel_id"], seed.general.id.as_str());
    assert_eq!(ev["payload"]["message_id"], posted.id.as_str());
    assert_eq!(ev["payload"]["author_id"], human.as_str());
    assert!(ev["payload"].get("body").is_none());
    assert!(ev["cursor"].as_str().unwrap() > tail.as_str());

    // Fetch the message.
    let fetched = get(&server, &format!("/api/messages/{}", posted.id), &token).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()["message"]["body"], "hello @testbot");

    // Reply in thread with a nonce: 201 + events; the reply events arrive.
    let path = format!("/api/messages/{}/thread/replies", posted.id);
    let body = json!({ "body": "hi human", "nonce": "reply-1" });
    let first = post(&server, &path, &token, body.clone()).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let first = first.json();
    assert_eq!(first["message"]["author_id"], bot_id.as_str());
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let ev = next_event(&mut sock).await;
    assert_eq!(ev["type"], "thread.reply_created");
    assert_eq!(ev["payload"]["nonce"], "reply-1");
    assert!(ev.get("seq").is_none());
    assert_eq!(next_event(&mut sock).await["type"], "thread.state_updated");

    // Replay: 200, same message, events null, no new event.
    let again = post(&server, &path, &token, body).await;
    assert_eq!(again.status, 200);
    let again = again.json();
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    assert!(again["events"].is_null());
    // The next frame is the next real event, not a duplicate.
    let later = server.post_message(&human, &seed.general.id, "second");
    let ev = next_event(&mut sock).await;
    assert_eq!(ev["payload"]["message_id"], later.id.as_str());
}
