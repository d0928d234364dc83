//! Streams cross page boundaries and stop at the end.

use clickclack_client::History;
use clickclack_client::proto::requests::CreateMessage;
use futures_util::{StreamExt, TryStreamExt};

use crate::common::env;

#[tokio::test]
async fn channel_history_forward_and_backward() {
    let env = env().await;
    let c = env.bot();
    let chn = &env.seed.general.id;
    for i in 0..7 {
        env.server
            .post_message(&env.seed.owner.user.id, chn, &format!("m{i}"));
    }
    let fwd: Vec<_> = c
        .message_history(chn, History::ForwardFrom(0), 3)
        .try_collect()
        .await
        .unwrap();
    let bodies: Vec<_> = fwd.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);
    let from3: Vec<_> = c
        .message_history(chn, History::ForwardFrom(3), 2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(from3.len(), 4);
    let back: Vec<_> = c
        .message_history(chn, History::BackwardFromNewest, 3)
        .try_collect()
        .await
        .unwrap();
    let bodies: Vec<_> = back.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
    // Requests: 3 pages of 3 (7 messages).
    assert!(env.server.request_count("GET", "/api/channels/") >= 3 + 2 + 3);
}

#[tokio::test]
async fn dm_history_and_thread_replies() {
    let env = env().await;
    let c = env.bot();
    let dm = c
        .open_dm(&env.seed.workspace.id, &env.seed.owner.user.id)
        .await
        .unwrap();
    for i in 0..5 {
        c.send_dm(&dm.id, CreateMessage::new(format!("d{i}")))
            .await
            .unwrap();
    }
    let all: Vec<_> = c
        .dm_history(&dm.id, History::ForwardFrom(0), 2)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[4].body, "d4");

    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "root");
    for i in 0..5 {
        env.server
            .post_thread_reply(&env.seed.owner.user.id, &root.id, &format!("r{i}"));
    }
    let replies: Vec<_> = c.thread_replies(&root.id, 2).try_collect().await.unwrap();
    let bodies: Vec<_> = replies.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["r0", "r1", "r2", "r3", "r4"]);
}

#[tokio::test]
async fn events_after_pages_until_empty() {
    let env = env().await;
    let c = env.bot();
    let ws = &env.seed.workspace.id;
    let start = c
        .events_page(ws, None, Some(1), true)
        .await
        .unwrap()
        .tail_cursor;
    for i in 0..5 {
        c.send_message(&env.seed.general.id, CreateMessage::new(format!("e{i}")))
            .await
            .unwrap();
    }
    let events: Vec<_> = c.events_after(ws, start, 2).try_collect().await.unwrap();
    let created = events
        .iter()
        .filter(|e| e.event_type() == "message.created")
        .count();
    assert_eq!(created, 5);
    let cursors: Vec<_> = events.iter().map(|e| e.cursor().clone()).collect();
    let mut sorted = cursors.clone();
    sorted.sort();
    assert_eq!(cursors, sorted, "ascending cursors");
    sorted.dedup();
    assert_eq!(sorted.len(), cursors.len(), "no duplicates across pages");
}

#[tokio::test]
async fn stream_ends_after_an_error() {
    let env = env().await;
    let reader = env.bot_with("nothing", &["profile:read"]).1;
    let mut s = reader.message_history(&env.seed.general.id, History::ForwardFrom(0), 10);
    assert!(s.next().await.unwrap().is_err());
    assert!(s.next().await.is_none());
}
