//! Reliability: ordering, restarts, crashes, resyncs, revocation, shutdown.

#[path = "gateway_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use clickclack_proto::Cursor;
use clickclack_proto::objects::Message;
use clickclack_realtime::{CursorStore, FileCursorStore};
use clickclack_testkit::BotSpec;
use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::{Clock, Lifecycle};
use support::*;
use tokio::sync::Semaphore;

/// Runs the gateway until `text`, posted now, is answered, then stops it.
async fn answered_in_one_run(fx: &Fixture, config: &str, text: &str) -> Message {
    let gateway = fx.start(config, fx.options()).await;
    let message = fx.post(text);
    wait_until("answered", WAIT, || fx.replies_to(&message).len() == 1).await;
    gateway.shutdown().await;
    message
}

async fn stored_cursor(fx: &Fixture) -> Option<Cursor> {
    let key = format!("default.{}", fx.seed.workspace.id);
    FileCursorStore::new(fx.state.path())
        .load(&key)
        .await
        .expect("cursor loads")
}

#[tokio::test]
async fn one_conversation_in_order_others_concurrently() {
    let gate = Arc::new(Semaphore::new(0));
    let fx = Fixture::with_model(holding_model(Arc::clone(&gate)).await).await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;

    let slow = fx.post("hold: slow question");
    wait_until("slow model call started", WAIT, || {
        fx.model.request_count() == 1
    })
    .await;
    let second = fx.post("second in general");
    let dm = fx.server.open_dm(
        &fx.seed.workspace.id,
        &fx.seed.owner.user.id,
        &fx.seed.bot.user.id,
    );
    fx.server.post_dm(&fx.seed.owner.user.id, &dm.id, "fast dm");
    let bot = fx.seed.bot.user.id.clone();
    wait_until("the DM is answered while #general waits", WAIT, || {
        fx.server
            .dm_messages(&dm.id)
            .iter()
            .any(|m| m.author_id == bot)
    })
    .await;
    // The second #general message arrived before the DM but waits behind the slow one.
    assert!(
        fx.model
            .requests()
            .iter()
            .all(|r| r.last_user_message() != "second in general")
    );
    assert!(fx.replies_to(&second).is_empty());

    gate.add_permits(1);
    wait_until("both #general messages answered", WAIT, || {
        fx.replies_to(&slow).len() == 1 && fx.replies_to(&second).len() == 1
    })
    .await;
    let first_reply = &fx.replies_to(&slow)[0];
    let second_reply = &fx.replies_to(&second)[0];
    assert!(
        first_reply.channel_seq < second_reply.channel_seq,
        "replies keep the conversation order"
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn restart_answers_messages_sent_while_down_but_not_older_than_catch_up_max_age() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let first = answered_in_one_run(&fx, &config, "first").await;

    // Sent while the gateway was down: answered after the restart.
    let down = fx.post("sent while down");
    let gateway = fx.start(&config, fx.options()).await;
    wait_until("caught up", WAIT, || fx.replies_to(&down).len() == 1).await;
    gateway.shutdown().await;
    assert_eq!(
        fx.replies_to(&first).len(),
        1,
        "the first message is not answered again"
    );

    // Sent while down, but older than catchUpMaxAge when the gateway returns
    // (the gateway's clock runs an hour ahead): logged and skipped.
    let old = fx.post("too old by now");
    let calls = fx.model.request_count();
    let options = openclaw_clickclack::gateway::GatewayOptions {
        clock: Clock::offset(Duration::from_secs(3600)),
        ..fx.options()
    };
    let gateway = fx.start(&config, options).await;
    let expected = format!(
        "[default] skipped ClickClack message older than catchUpMaxAge: messageId={}",
        old.id
    );
    wait_until("old message skipped", WAIT, || logs.contains(&expected)).await;
    assert!(
        logs.contains("catchUpMaxAgeSeconds=600"),
        "default catchUpMaxAge is 10 minutes"
    );
    let old_cursor = event_cursor(&fx, &old);
    wait_until_async("skip committed", WAIT, || async {
        stored_cursor(&fx).await >= Some(old_cursor.clone())
    })
    .await;
    // Live messages are never skipped by age, even when the clocks disagree.
    let live = fx.post("live while the clocks disagree");
    wait_until("live answered", WAIT, || fx.replies_to(&live).len() == 1).await;
    gateway.shutdown().await;
    assert!(fx.replies_to(&old).is_empty());
    assert_eq!(fx.model.request_count(), calls + 1);
}

/// Crash after the reply was sent but before its cursor was committed: the
/// replayed event finds its reply by nonce before calling the model, so
/// nothing is spent or sent twice.
#[tokio::test]
async fn replay_after_the_reply_was_posted_makes_no_second_model_call() {
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let gateway = fx.start(&config, fx.options()).await;
    let before = stored_cursor(&fx).await.expect("a start cursor is stored");
    let source = fx.post("answer me once");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    // Let the commits settle (the reply's own event too), so nothing is in
    // flight to the cursor file when we roll it back below.
    let latest = fx.server.latest_cursor(&fx.seed.workspace.id);
    wait_until_async("commits settled", WAIT, || async {
        stored_cursor(&fx).await == latest
    })
    .await;
    drop(gateway); // abrupt: no graceful shutdown
    // Roll the stored cursor back to before the message, as if the process
    // died between the send and the commit.
    let key = format!("default.{}", fx.seed.workspace.id);
    FileCursorStore::new(fx.state.path())
        .save(&key, &before)
        .await
        .expect("save");
    let posts = fx.server.request_count("POST", "/api/channels/");
    let lookups = fx.server.request_count("GET", "/api/messages/by-nonce");

    let gateway = fx.start(&config, fx.options()).await;
    let source_cursor = event_cursor(&fx, &source);
    wait_until_async("replay committed", WAIT, || async {
        stored_cursor(&fx).await >= Some(source_cursor.clone())
    })
    .await;
    gateway.shutdown().await;
    assert!(
        fx.server.request_count("GET", "/api/messages/by-nonce") > lookups,
        "the replayed turn looked its reply up by nonce"
    );
    assert_eq!(fx.model.request_count(), 1, "no second model call");
    assert_eq!(
        fx.server.request_count("POST", "/api/channels/"),
        posts,
        "nothing re-sent"
    );
    assert_eq!(fx.replies_to(&source).len(), 1, "exactly one visible reply");
}

/// A live message cannot have been answered before, so its turn skips the
/// lookup by nonce (one request less). Should a reply exist all the same
/// (another replica that lost its lease answered it), the nonce makes the
/// server refuse the second copy: still exactly one visible reply.
#[tokio::test]
async fn a_live_message_skips_the_lookup_and_a_reply_posted_elsewhere_is_not_doubled() {
    let gate = Arc::new(Semaphore::new(0));
    let fx = Fixture::with_model(holding_model(Arc::clone(&gate)).await).await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let lookups = fx.server.request_count("GET", "/api/messages/by-nonce");

    let plain = fx.post("a plain question");
    wait_until("answered", WAIT, || fx.replies_to(&plain).len() == 1).await;
    assert_eq!(
        fx.server.request_count("GET", "/api/messages/by-nonce"),
        lookups,
        "a live message is answered without a lookup by nonce"
    );

    let held = fx.post("hold: answered elsewhere meanwhile");
    wait_until("model call started", WAIT, || fx.model.request_count() == 2).await;
    let other_replica = clickclack_client::Client::builder(fx.server.base_url())
        .token(fx.seed.bot.token.clone())
        .build()
        .expect("client");
    let nonce = openclaw_clickclack::nonce::reply_nonce("default", held.id.as_str(), 0);
    other_replica
        .send_message(
            &fx.seed.general.id,
            clickclack_proto::requests::CreateMessage::new("answered by the other replica")
                .with_quote(held.id.clone())
                .with_nonce(nonce),
        )
        .await
        .expect("the other replica's reply");
    gate.add_permits(1);
    let latest = fx.server.latest_cursor(&fx.seed.workspace.id);
    wait_until_async("the held turn ended and committed", WAIT, || async {
        stored_cursor(&fx).await >= latest
    })
    .await;
    gateway.shutdown().await;
    let replies = fx.replies_to(&held);
    assert_eq!(replies.len(), 1, "exactly one visible reply: {replies:?}");
    assert_eq!(replies[0].body, "answered by the other replica");
}

#[tokio::test]
async fn resync_4001_catches_up_the_gap() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let first = answered_in_one_run(&fx, &config, "before the outage").await;

    // While down: a message arrives and the server prunes the log up to it,
    // so the stored cursor is unknown and the server answers 4001.
    let gap = fx.post("in the gap");
    fx.server
        .prune_events_before(&fx.seed.workspace.id, &event_cursor(&fx, &gap));
    let gateway = fx.start(&config, fx.options()).await;
    wait_until("gap answered", WAIT, || fx.replies_to(&gap).len() == 1).await;
    let metrics = gateway.metrics().account("default");
    assert!(metrics.resyncs.load(std::sync::atomic::Ordering::Relaxed) >= 1);
    assert!(logs.contains("[default] ClickClack realtime resync"));
    let live = fx.post("after the resync");
    wait_until("live answered", WAIT, || fx.replies_to(&live).len() == 1).await;
    gateway.shutdown().await;
    assert_eq!(fx.replies_to(&first).len(), 1);
    assert_eq!(fx.replies_to(&gap).len(), 1);
}

/// A stored cursor ahead of everything the server issued (a server restored
/// from an older backup): the stream re-anchors at the server's tail, the
/// gateway follows it backwards, and new messages are answered.
#[tokio::test]
async fn a_cursor_ahead_of_the_server_is_re_anchored_and_the_bot_answers() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let first = answered_in_one_run(&fx, &config, "before the restore").await;

    let ahead = Cursor::new("cur_7zzzzzzzzzzzzzzzzzzzzzzzzz");
    let key = format!("default.{}", fx.seed.workspace.id);
    FileCursorStore::new(fx.state.path())
        .save(&key, &ahead)
        .await
        .expect("save");
    let gateway = fx.start(&config, fx.options()).await;
    // Messages posted before the stream has re-anchored fall in the reported
    // gap (the stored cursor says nothing about where the bot really was).
    wait_until("re-anchored", WAIT, || {
        logs.contains("[default] ClickClack realtime resync")
    })
    .await;
    let live = fx.post("after the restore");
    wait_until("live answered", WAIT, || fx.replies_to(&live).len() == 1).await;
    let latest = fx.server.latest_cursor(&fx.seed.workspace.id);
    wait_until_async("cursor moved back to the server", WAIT, || async {
        stored_cursor(&fx).await == latest
    })
    .await;
    gateway.shutdown().await;
    assert_eq!(
        fx.replies_to(&first).len(),
        1,
        "the old message is not answered again"
    );
    assert_eq!(fx.replies_to(&live).len(), 1);
}

/// A cursor file deleted between two runs: the gap is reported (log, status,
/// counter), never silent, and the bot goes on answering live messages.
#[tokio::test]
async fn a_deleted_cursor_is_reported_loudly_then_the_bot_answers() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let first = answered_in_one_run(&fx, &config, "before the deletion").await;

    let key = format!("default.{}", fx.seed.workspace.id);
    let path = FileCursorStore::new(fx.state.path()).path_for(&key);
    std::fs::remove_file(&path).expect("cursor file existed");
    let gateway = fx.start(&config, fx.options()).await;
    let live = fx.post("after the deletion");
    wait_until("live answered", WAIT, || fx.replies_to(&live).len() == 1).await;
    let skipped = gateway
        .metrics()
        .account("default")
        .gaps_skipped
        .load(std::sync::atomic::Ordering::Relaxed);
    gateway.shutdown().await;
    assert!(
        logs.contains("was lost; started at the server's tail"),
        "logged"
    );
    assert_eq!(skipped, 1, "counted as a skipped gap");
    assert_eq!(fx.replies_to(&first).len(), 1, "nothing answered twice");
}

fn two_accounts_config(fx: &Fixture, second_token: &str) -> String {
    fx.model_config(
        &format!(r#"accounts: {{ work: {{ name: "Work", token: "{second_token}" }} }},"#),
        "",
    )
}

#[tokio::test]
async fn both_account_forms_run_at_once_with_separate_connections() {
    let fx = Fixture::new().await;
    let second = fx.server.create_bot(
        BotSpec::new(&fx.seed.workspace.id, "Work Bot")
            .handle("workbot")
            .scopes(["bot:write"]),
    );
    let gateway = fx
        .start(&two_accounts_config(&fx, &second.token), fx.options())
        .await;
    let ids: Vec<String> = gateway
        .status()
        .all()
        .into_iter()
        .map(|s| s.account_id)
        .collect();
    assert_eq!(ids, ["default", "work"]);
    wait_until("two sockets", WAIT, || {
        fx.server.open_realtime_connections() == 2
    })
    .await;
    let source = fx.post("hello both");
    let from = |bot: &clickclack_proto::UserId| {
        fx.server
            .channel_messages(&fx.seed.general.id)
            .into_iter()
            .filter(|m| &m.author_id == bot && m.quoted_message_id.as_ref() == Some(&source.id))
            .count()
    };
    wait_until("both bots answered", WAIT, || {
        from(&fx.seed.bot.user.id) == 1 && from(&second.user.id) == 1
    })
    .await;
    gateway.shutdown().await;
    assert_eq!(from(&fx.seed.bot.user.id), 1);
    assert_eq!(from(&second.user.id), 1);
}

#[tokio::test]
async fn revoked_token_stops_only_that_account() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let second = fx.server.create_bot(
        BotSpec::new(&fx.seed.workspace.id, "Work Bot")
            .handle("workbot")
            .scopes(["bot:write"]),
    );
    let gateway = fx
        .start(&two_accounts_config(&fx, &second.token), fx.options())
        .await;
    fx.server.revoke_token(&fx.seed.bot.token_id);
    let status = gateway.status().clone();
    wait_until("default stopped", WAIT, || {
        status
            .get("default")
            .is_some_and(|s| s.lifecycle == Lifecycle::Stopped)
    })
    .await;
    let stopped = status.get("default").expect("status");
    let error = stopped.last_error.expect("an error says why");
    assert!(
        error.contains("access revoked by the server (close 1008"),
        "{error}"
    );
    assert!(logs.contains("ClickClack account \"default\" stopped: access revoked"));
    assert_eq!(
        status.get("work").map(|s| s.lifecycle),
        Some(Lifecycle::Ready)
    );

    let source = fx.post("still there?");
    wait_until("the other account answers", WAIT, || {
        fx.server
            .channel_messages(&fx.seed.general.id)
            .iter()
            .any(|m| {
                m.author_id == second.user.id && m.quoted_message_id.as_ref() == Some(&source.id)
            })
    })
    .await;
    assert!(fx.replies_to(&source).is_empty());
    gateway.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_replies_and_commits() {
    let gate = Arc::new(Semaphore::new(0));
    let fx = Fixture::with_model(holding_model(Arc::clone(&gate)).await).await;
    let config = fx.model_config("", "");
    let gateway = fx.start(&config, fx.options()).await;
    let source = fx.post("hold: in flight at shutdown");
    wait_until("model call started", WAIT, || fx.model.request_count() == 1).await;
    let status = gateway.status().clone();
    let stopping = tokio::spawn(gateway.shutdown());
    gate.add_permits(1);
    stopping.await.expect("shutdown");
    assert_eq!(
        status.get("default").map(|s| s.lifecycle),
        Some(Lifecycle::Stopped)
    );
    assert_eq!(
        fx.replies_to(&source).len(),
        1,
        "the in-flight reply was finished"
    );
    assert!(
        stored_cursor(&fx).await >= Some(event_cursor(&fx, &source)),
        "its cursor was committed"
    );

    // After a restart the answered message is not handled again.
    let gateway = fx.start(&config, fx.options()).await;
    let after = fx.post("after restart");
    wait_until("answered", WAIT, || fx.replies_to(&after).len() == 1).await;
    gateway.shutdown().await;
    assert_eq!(fx.model.request_count(), 2);
    assert_eq!(fx.replies_to(&source).len(), 1);
    let _ = MapEnv::new();
}

#[tokio::test]
async fn connection_loss_and_rest_failures_recover_without_stopping() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    // REST failures at startup are retried (status `recovering`), not fatal.
    fx.server.faults().fail_next("GET", "/api/me", 3, 503);
    let gateway = fx
        .start(&fx.model_config("reconnectMs: 100,", ""), fx.options())
        .await;
    let status = gateway.status().clone();

    // A dropped socket: `recovering`, then `ready` again, and nothing is lost.
    let attempts = fx.server.realtime_connection_attempts();
    fx.server.faults().drop_realtime();
    wait_until("reconnected", WAIT, || {
        fx.server.realtime_connection_attempts() > attempts
            && status
                .get("default")
                .is_some_and(|s| s.lifecycle == Lifecycle::Ready)
    })
    .await;

    // Failing message fetches are retried with backoff inside the turn.
    fx.server
        .faults()
        .fail_next("GET", "/api/messages/", 4, 503);
    let source = fx.post("after the hiccups");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    assert_eq!(
        status.get("default").map(|s| s.lifecycle),
        Some(Lifecycle::Ready)
    );
    assert!(
        logs.contains("[default] ClickClack account recovering"),
        "{}",
        logs.text()
    );
    gateway.shutdown().await;
    assert_eq!(fx.replies_to(&source).len(), 1);
}

/// Conversation A (#general's top level) has a slow model and more events
/// than its per-conversation cap; conversation B (a thread) keeps getting
/// answers meanwhile. After A's model recovers, A's deferred events are read
/// again from the committed cursor: every message is answered exactly once,
/// in order, with one model call each.
#[tokio::test]
async fn a_slow_flooded_conversation_does_not_stall_the_others() {
    let gate = Arc::new(Semaphore::new(0));
    let fx = Fixture::with_model(holding_model(Arc::clone(&gate)).await).await;
    let options = openclaw_clickclack::gateway::GatewayOptions {
        max_per_conversation: 2,
        ..fx.options()
    };
    let gateway = fx.start(&fx.model_config("", ""), options).await;
    let owner = fx.seed.owner.user.id.clone();
    let bot = fx.seed.bot.user.id.clone();
    let root = fx.post("thread root");
    wait_until("root answered", WAIT, || fx.replies_to(&root).len() == 1).await;

    let flood: Vec<Message> = (0..6).map(|i| fx.post(&format!("hold {i}"))).collect();
    wait_until("A's first model call is held", WAIT, || {
        fx.model.calls_containing("hold") == 1
    })
    .await;
    for i in 0..3 {
        let body = format!("thread {i}");
        fx.server.post_thread_reply(&owner, &root.id, &body);
        let want = format!("echo: {body}");
        wait_until("B answered while A is stuck", WAIT, || {
            fx.server
                .thread_replies(&root.id)
                .iter()
                .any(|m| m.author_id == bot && m.body == want)
        })
        .await;
    }
    assert_eq!(
        fx.model.calls_containing("hold"),
        1,
        "A is still on its first message"
    );
    let metrics = gateway.metrics().account("default");
    assert!(metrics.deferred.load(std::sync::atomic::Ordering::Relaxed) >= 1);

    gate.add_permits(1_000);
    wait_until("every A message answered", WAIT, || {
        flood.iter().all(|m| !fx.replies_to(m).is_empty())
    })
    .await;
    gateway.shutdown().await;
    let roots: Vec<_> = fx.bot_roots().into_iter().map(|m| m.id).collect();
    let mut seqs = Vec::new();
    for (i, source) in flood.iter().enumerate() {
        let replies = fx.replies_to(source);
        assert_eq!(replies.len(), 1, "{}", source.body);
        assert_eq!(replies[0].body, format!("echo: hold {i}"));
        assert_eq!(
            fx.model.calls_for_message(&source.body),
            1,
            "{}",
            source.body
        );
        seqs.push(roots.iter().position(|id| *id == replies[0].id));
    }
    assert!(seqs.is_sorted(), "A's answers are in order: {seqs:?}");
    for i in 0..3 {
        let want = format!("echo: thread {i}");
        let answers = fx.server.thread_replies(&root.id);
        assert_eq!(
            answers.iter().filter(|m| m.body == want).count(),
            1,
            "{want}"
        );
        assert_eq!(fx.model.calls_for_message(&format!("thread {i}")), 1);
    }
}
