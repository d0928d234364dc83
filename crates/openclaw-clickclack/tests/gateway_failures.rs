//! Never silent, never doubled, never stuck: model outages, garbage 200s,
//! duplicate bots, a second gateway on one state directory, shutdown under
//! a flood, long answers with tool-call markup.

#[path = "gateway_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use clickclack_testkit::RawResponse;
use clickclack_testkit::model_stub::{ModelStub, StubReply, echo_reply};
use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::{Gateway, GatewayError, GatewayOptions, Lifecycle};
use support::*;

/// The visible failure reply for `what`.
fn failure(what: &str) -> String {
    format!("I couldn't answer this: {what}. Please try again later.")
}

/// A short retry window so an outage "longer than the window" is quick.
fn short_window(fx: &Fixture) -> GatewayOptions {
    GatewayOptions {
        retry_window: Duration::from_millis(600),
        ..fx.options()
    }
}

/// A stub that answers `status` to the first `failures` calls, then echoes.
async fn failing_first(failures: u64, status: u16) -> ModelStub {
    let calls = Arc::new(AtomicU64::new(0));
    ModelStub::start_with(move |request| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let reply = if n < failures {
            StubReply::Status(status)
        } else {
            StubReply::Text(echo_reply(&request))
        };
        Box::pin(async move { reply })
    })
    .await
}

#[tokio::test]
async fn model_503_longer_than_the_window_gets_one_visible_failure_reply() {
    let fx = Fixture::with_model(failing_first(u64::MAX, 503).await).await;
    let gateway = fx.start(&fx.model_config("", ""), short_window(&fx)).await;
    let source = fx.post("are you there?");
    wait_until("failure shown", WAIT, || fx.replies_to(&source).len() == 1).await;
    let counters = gateway.metrics().account("default");
    wait_until("failure counted", WAIT, || {
        counters.failed_visibly.load(Ordering::Relaxed) == 1
    })
    .await;
    gateway.shutdown().await;
    let replies = fx.replies_to(&source);
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].body,
        failure("the model provider returned HTTP 503")
    );
    assert!(fx.model.request_count() > 1, "503 is retried");
    assert_eq!(counters.model_errors.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn model_503_shorter_than_the_window_gets_the_real_answer() {
    let fx = Fixture::with_model(failing_first(3, 503).await).await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let source = fx.post("after the hiccup");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    gateway.shutdown().await;
    let replies = fx.replies_to(&source);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body, "echo: after the hiccup");
    assert_eq!(fx.model.request_count(), 4);
    let counters = gateway_counters_after(&fx).await;
    assert_eq!(counters, 0, "no failure reply");
}

/// Visible failure replies posted by the bot in `#general`.
async fn gateway_counters_after(fx: &Fixture) -> usize {
    fx.bot_roots()
        .iter()
        .filter(|m| m.body.starts_with("I couldn't answer this"))
        .count()
}

#[tokio::test]
async fn slow_model_past_the_window_gets_a_visible_timeout_reply() {
    let model = ModelStub::start_with(|request| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StubReply::Text(echo_reply(&request))
        })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let gateway = fx.start(&fx.model_config("", ""), short_window(&fx)).await;
    let source = fx.post("take your time");
    wait_until("failure shown", WAIT, || fx.replies_to(&source).len() == 1).await;
    gateway.shutdown().await;
    assert_eq!(
        fx.replies_to(&source)[0].body,
        failure("the model provider did not answer in time")
    );
}

#[tokio::test]
async fn refused_model_gets_a_visible_failure_reply() {
    let fx = Fixture::new().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let config = fx
        .model_config("", "")
        .replace(&fx.model.base_url(), &format!("http://127.0.0.1:{port}/v1"));
    let gateway = fx.start(&config, short_window(&fx)).await;
    let source = fx.post("hello?");
    wait_until("failure shown", WAIT, || fx.replies_to(&source).len() == 1).await;
    gateway.shutdown().await;
    assert_eq!(
        fx.replies_to(&source)[0].body,
        failure("the model provider could not be reached")
    );
}

#[tokio::test]
async fn rest_200_with_garbage_on_fetch_and_send_is_answered_once() {
    let fx = Fixture::new().await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let garbage = || {
        RawResponse::new(200)
            .header("content-type", "text/html")
            .body("<html><body>proxy says hi</body></html>")
    };
    fx.server
        .faults()
        .respond_next_n("GET", "/api/messages/", 2, garbage());
    fx.server
        .faults()
        .respond_next_n("POST", "/api/channels/", 2, garbage());
    let source = fx.post("through the proxy");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    gateway.shutdown().await;
    let replies = fx.replies_to(&source);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body, "echo: through the proxy");
    assert_eq!(fx.model.request_count(), 1);
}

#[tokio::test]
async fn the_same_token_in_two_accounts_refuses_to_start() {
    let fx = Fixture::new().await;
    // The root token is inherited by `work`: two accounts, one bot.
    let config = fx.model_config("accounts: { work: {} },", "");
    let env = MapEnv::new();
    let error = Gateway::start(&parse(&config, &env), &env, fx.options())
        .await
        .expect_err("refused");
    let message = error.to_string();
    assert!(
        matches!(error, GatewayError::DuplicateBot { .. }),
        "{message}"
    );
    assert!(
        message.contains("\"default\"") && message.contains("\"work\""),
        "{message}"
    );
    assert!(message.contains("answered twice"), "{message}");
    assert!(message.contains("its own bot token"), "{message}");
}

#[tokio::test]
async fn two_tokens_of_one_bot_run_it_once() {
    let fx = Fixture::new().await;
    let (_, second_token) = fx
        .server
        .create_bot_token(&fx.seed.bot.user.id, &fx.seed.workspace.id, &["bot:write"])
        .expect("token");
    let config = fx.model_config(
        &format!(r#"accounts: {{ work: {{ token: "{second_token}" }} }},"#),
        "",
    );
    let gateway = start_gateway(&config, &MapEnv::new(), fx.options()).await;
    let status = gateway.status().clone();
    wait_until("one account refused", WAIT, || {
        status
            .all()
            .iter()
            .any(|s| s.lifecycle == Lifecycle::Stopped)
            && status.all().iter().any(|s| s.lifecycle == Lifecycle::Ready)
    })
    .await;
    let stopped = status
        .all()
        .into_iter()
        .find(|s| s.lifecycle == Lifecycle::Stopped)
        .expect("stopped");
    let error = stopped.last_error.unwrap_or_default();
    assert!(
        error.contains("\"default\"")
            && error.contains("\"work\"")
            && error.contains("same bot user"),
        "{error}"
    );
    let source = fx.post("only once please");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    gateway.shutdown().await;
    assert_eq!(fx.replies_to(&source).len(), 1);
}

#[tokio::test]
async fn a_second_gateway_on_the_same_state_dir_is_refused() {
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let first = fx.start(&config, fx.options()).await;
    let env = MapEnv::new();
    let error = Gateway::start(&parse(&config, &env), &env, fx.options())
        .await
        .expect_err("refused");
    assert!(
        matches!(error, GatewayError::StateDirLocked { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("--state-dir"), "{error}");
    first.shutdown().await;
    // Released on exit: the next gateway starts.
    let again = fx.start(&config, fx.options()).await;
    again.shutdown().await;
}

#[tokio::test]
async fn shutdown_during_a_flood_is_bounded_and_a_restart_answers_each_once() {
    let slow = Arc::new(AtomicBool::new(true));
    let flag = Arc::clone(&slow);
    let model = ModelStub::start_with(move |request| {
        let slow = flag.load(Ordering::SeqCst);
        Box::pin(async move {
            if slow {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            StubReply::Text(echo_reply(&request))
        })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let config = fx.model_config("", "");
    let grace = Duration::from_millis(500);
    let options = GatewayOptions {
        shutdown_grace: grace,
        max_in_flight: 4,
        ..fx.options()
    };
    let gateway = fx.start(&config, options.clone()).await;
    let sources: Vec<_> = (0..20).map(|i| fx.post(&format!("flood {i}"))).collect();
    wait_until("the model is busy", WAIT, || fx.model.request_count() >= 1).await;
    // Backpressure: the reader waits for room in the scheduler. SIGTERM must still win.
    tokio::time::timeout(grace + Duration::from_secs(2), gateway.shutdown())
        .await
        .expect("shutdown within grace + 2 s");

    slow.store(false, Ordering::SeqCst);
    let gateway = fx.start(&config, options).await;
    wait_until("every message answered", WAIT, || {
        sources.iter().all(|s| !fx.replies_to(s).is_empty())
    })
    .await;
    gateway.shutdown().await;
    for source in &sources {
        assert_eq!(fx.replies_to(source).len(), 1, "{}", source.body);
        assert!(fx.replies_to(source)[0].body.starts_with("echo: flood"));
    }
}

#[tokio::test]
async fn tool_call_markup_and_a_long_answer_are_sanitized_and_split_in_order() {
    // Over the ~960 KB body budget: two messages.
    let lines: Vec<String> = (0..24_000)
        .map(|i| format!("line {i:05} of the answer {}", "x".repeat(20)))
        .collect();
    let long = lines.join("\n");
    let answer = format!("<tool_call>{{\"name\":\"exec\"}}</tool_call>{long}");
    let model = ModelStub::start_with(move |_| {
        let answer = answer.clone();
        Box::pin(async move { StubReply::Text(answer) })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let source = fx.post("tell me everything");
    wait_until("answered in parts", WAIT, || fx.bot_roots().len() >= 2).await;
    gateway.shutdown().await;
    let parts = fx.bot_roots();
    assert_eq!(parts.len(), 2, "split into two messages");
    assert_eq!(
        parts[0].quoted_message_id.as_ref(),
        Some(&source.id),
        "the first part quotes the source"
    );
    let joined: Vec<&str> = parts.iter().flat_map(|m| m.body.lines()).collect();
    assert!(
        !parts.iter().any(|m| m.body.contains("tool_call")),
        "markup stripped"
    );
    assert_eq!(joined.len(), lines.len(), "nothing lost");
    assert!(joined.iter().zip(&lines).all(|(a, b)| a == b), "in order");
    let nonces: Vec<_> = parts.iter().map(|m| m.nonce.clone()).collect();
    assert_ne!(nonces[0], nonces[1], "one nonce per part");
}

/// A model answer big enough to be split into two messages (~1.3 MB).
fn big_answer() -> String {
    (0..48_000)
        .map(|i| format!("line {i:06} of a very long answer"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The process died between part 0 and part 1 of a split reply (simulated
/// exactly: part 0 is on the server under its nonce, part 1 is not). The
/// replayed turn finds part 0, sees it is too big to have been the last,
/// looks up part 1, produces the text once more and sends only part 1.
#[tokio::test]
async fn a_split_reply_interrupted_after_part_0_resumes_at_part_1() {
    use openclaw_clickclack::nonce::reply_nonce;
    use openclaw_clickclack::outbound::split::{DEFAULT_MAX_BODY_JSON_BYTES, split_text};

    let big = big_answer();
    let answer = big.clone();
    let model = ModelStub::start_with(move |request| {
        let answer = answer.clone();
        Box::pin(async move {
            if request.last_user_message() == "big question" {
                StubReply::Text(answer)
            } else {
                StubReply::Text(echo_reply(&request))
            }
        })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let config = fx.model_config("", "");
    let gateway = fx.start(&config, fx.options()).await;
    let warm = fx.post("warm up");
    wait_until("warm-up answered", WAIT, || fx.replies_to(&warm).len() == 1).await;
    gateway.shutdown().await;

    let parts = split_text(&big, DEFAULT_MAX_BODY_JSON_BYTES);
    assert_eq!(parts.len(), 2, "the answer splits in two");
    let source = fx.post("big question");
    let bot = fx.seed.bot.user.id.clone();
    let part0 = fx.server.post_message_with_nonce(
        &bot,
        &fx.seed.general.id,
        parts[0],
        &reply_nonce("default", source.id.as_str(), 0),
    );

    let gateway = fx.start(&config, fx.options()).await;
    let lines = || {
        fx.bot_roots()
            .into_iter()
            .filter(|m| m.body.starts_with("line "))
            .collect::<Vec<_>>()
    };
    wait_until("part 1 posted", WAIT, || lines().len() >= 2).await;
    let after = fx.post("after the resume");
    wait_until("next answered", WAIT, || fx.replies_to(&after).len() == 1).await;
    gateway.shutdown().await;

    let posted = lines();
    assert_eq!(posted.len(), 2, "part 0 is not posted twice");
    assert_eq!(posted[0].id, part0.id);
    assert_eq!(posted[1].body, parts[1]);
    assert_eq!(format!("{}{}", posted[0].body, posted[1].body), big);
    assert_eq!(fx.model.calls_for_message("big question"), 1);
}

/// Model faults from the testkit's stub, each shorter than the retry window
/// (→ exactly the real answer) and longer (→ exactly one visible failure).
#[tokio::test]
async fn model_faults_shorter_and_longer_than_the_window() {
    use clickclack_testkit::model_stub::StubFault;

    struct Row {
        fault: StubFault,
        /// `None`: the fault lasts 2 calls; `Some`: it outlasts the window.
        outlasts_window: bool,
        /// The expected reply body, or the prefix of a visible failure.
        reply: &'static str,
    }
    let rows = [
        Row {
            fault: StubFault::Html,
            outlasts_window: false,
            reply: "echo: q",
        },
        Row {
            fault: StubFault::Html,
            outlasts_window: true,
            reply: "I couldn't answer this: the model provider sent a response that could not be read.",
        },
        Row {
            fault: StubFault::Status(503),
            outlasts_window: false,
            reply: "echo: q",
        },
        Row {
            fault: StubFault::Status(429),
            outlasts_window: false,
            reply: "echo: q",
        },
        Row {
            fault: StubFault::CloseConnection,
            outlasts_window: false,
            reply: "echo: q",
        },
        Row {
            fault: StubFault::CloseConnection,
            outlasts_window: true,
            reply: "I couldn't answer this",
        },
        Row {
            fault: StubFault::Delay(Duration::from_millis(200)),
            outlasts_window: false,
            reply: "echo: q",
        },
    ];
    for row in rows {
        let what = format!("{:?} outlasts={}", row.fault, row.outlasts_window);
        let fx = Fixture::new().await;
        let options = if row.outlasts_window {
            fx.model
                .fail_for(Duration::from_secs(3600), row.fault.clone());
            short_window(&fx)
        } else {
            fx.model.fail_next(2, row.fault.clone());
            fx.options()
        };
        let gateway = fx.start(&fx.model_config("", ""), options).await;
        let source = fx.post("q");
        wait_until(&what, WAIT, || fx.replies_to(&source).len() == 1).await;
        gateway.shutdown().await;
        let replies = fx.replies_to(&source);
        assert_eq!(replies.len(), 1, "{what}");
        assert!(
            replies[0].body.starts_with(row.reply),
            "{what}: {}",
            replies[0].body
        );
        if !row.outlasts_window {
            // A late answer is still the first answer; the other faults cost two calls.
            let calls = if matches!(row.fault, StubFault::Delay(_)) {
                1
            } else {
                3
            };
            assert_eq!(fx.model.calls_for_message("q"), calls, "{what}");
        }
    }
}
