//! Reference rows of the gateway: startup, command menu, events, policy,
//! model and agent modes, progress, metrics.

#[path = "gateway_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::sync::atomic::Ordering;

use clickclack_client::Client;
use clickclack_proto::event::EventPayload;
use clickclack_proto::objects::MessageKind;
use clickclack_proto::requests::{CreateMessage, CreateThreadReply};
use clickclack_testkit::BotSpec;
use clickclack_testkit::model_stub::{ModelStub, StubReply, echo_reply};
use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::{Gateway, GatewayOptions, Lifecycle};
use support::*;

#[tokio::test]
async fn startup_syncs_the_native_command_menu_then_goes_ready() {
    let fx = Fixture::new().await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    assert_eq!(fx.server.request_count("GET", "/api/me"), 1);
    assert_eq!(fx.server.request_count("PUT", "/api/bots/self/commands"), 1);
    // The native commands (host conventions §7), not an empty menu.
    let menu = fx.server.bot_commands(&fx.seed.bot.user.id);
    let names: Vec<&str> = menu
        .as_array()
        .expect("menu")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "/new", "/reset", "/stop", "/status", "/model", "/whoami", "/help"
        ]
    );
    let status = gateway.status().get("default").expect("status");
    assert_eq!(status.lifecycle, Lifecycle::Ready);
    assert!(status.connected);
    assert_eq!(
        status.workspace_id.as_deref(),
        Some(fx.seed.workspace.id.as_str())
    );
    assert_eq!(
        status.bot_user_id.as_deref(),
        Some(fx.seed.bot.user.id.as_str())
    );
    gateway.shutdown().await;

    // commandMenu: false skips the sync.
    let gateway = fx
        .start(&fx.model_config("commandMenu: false,", ""), fx.options())
        .await;
    assert_eq!(fx.server.request_count("PUT", "/api/bots/self/commands"), 1);
    gateway.shutdown().await;
}

#[tokio::test]
async fn command_menu_failures_never_block_startup() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let cases = [
        (
            403,
            "[default] ClickClack command menu sync skipped: ",
            "; verify token/workspace command permissions or set commandMenu: false if menus are not needed",
        ),
        (
            404,
            "[default] ClickClack command menu sync skipped: server does not support /api/bots/self/commands",
            "",
        ),
        (500, "[default] ClickClack command menu sync failed: ", ""),
    ];
    for (status, prefix, suffix) in cases {
        fx.server
            .faults()
            .fail_next("PUT", "/api/bots/self/commands", 10, status);
        let gateway = fx.start(&config, fx.options()).await;
        let text = logs.text();
        let line = text
            .lines()
            .find(|l| l.contains(prefix))
            .unwrap_or_else(|| panic!("no log for {status}: {text}"));
        assert!(line.contains(suffix), "{line}");
        if status == 404 {
            assert!(line.contains("DEBUG"), "{line}");
        } else {
            assert!(line.contains("WARN"), "{line}");
        }
        gateway.shutdown().await;
        fx.server.faults().clear();
    }
}

#[tokio::test]
async fn replies_are_placed_in_threads_dms_and_as_channel_quotes() {
    let fx = Fixture::new().await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let bot = fx.seed.bot.user.id.clone();
    let owner = fx.seed.owner.user.id.clone();

    let root = fx.post("top level");
    wait_until("quote reply", WAIT, || fx.replies_to(&root).len() == 1).await;
    assert!(
        fx.server.thread_replies(&root.id).is_empty(),
        "a top-level answer is not a new thread"
    );

    let reply = fx
        .server
        .post_thread_reply(&owner, &root.id, "in the thread");
    wait_until("thread answer", WAIT, || {
        fx.server
            .thread_replies(&root.id)
            .iter()
            .any(|m| m.author_id == bot)
    })
    .await;
    let answer = fx
        .server
        .thread_replies(&root.id)
        .into_iter()
        .find(|m| m.author_id == bot)
        .expect("answer");
    assert_eq!(answer.body, "echo: in the thread");
    assert!(answer.thread_seq > reply.thread_seq);

    let dm = fx.server.open_dm(&fx.seed.workspace.id, &owner, &bot);
    let question = fx.server.post_dm(&owner, &dm.id, "private");
    wait_until("DM answer", WAIT, || {
        fx.server
            .dm_messages(&dm.id)
            .iter()
            .any(|m| m.author_id == bot)
    })
    .await;
    let answer = fx
        .server
        .dm_messages(&dm.id)
        .into_iter()
        .find(|m| m.author_id == bot)
        .expect("answer");
    assert_eq!(answer.body, "echo: private");
    assert_eq!(answer.quoted_message_id, Some(question.id));
    gateway.shutdown().await;
    assert_eq!(fx.model.request_count(), 3);
}

#[tokio::test]
async fn unreadable_message_is_logged_and_skipped() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    fx.server
        .faults()
        .fail_next("GET", "/api/messages/", 1, 404);
    let lost = fx.post("cannot be read");
    let next = fx.post("can be read");
    wait_until("next answered", WAIT, || fx.replies_to(&next).len() == 1).await;
    assert!(logs.contains(&format!(
        "[default] skipped unreadable ClickClack message before agent dispatch: type=message.created messageId={}",
        lost.id
    )));
    assert!(fx.replies_to(&lost).is_empty());
    gateway.shutdown().await;
}

#[tokio::test]
async fn correlation_id_is_carried_to_the_reply() {
    let fx = Fixture::new().await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let human = Client::builder(fx.server.base_url())
        .token(fx.seed.owner.session_token.clone())
        .correlation_id("corr-test.1")
        .build()
        .expect("client");
    let sent = human
        .send_message(&fx.seed.general.id, CreateMessage::new("traced"))
        .await
        .expect("send")
        .message()
        .expect("the full response decodes");
    wait_until("answered", WAIT, || fx.replies_to(&sent).len() == 1).await;
    let reply = fx.replies_to(&sent).remove(0);
    let carried = fx
        .server
        .events(&fx.seed.workspace.id)
        .into_iter()
        .find_map(|e| match e.payload() {
            EventPayload::MessageCreated(p) if p.message_id == reply.id => p.correlation_id.clone(),
            _ => None,
        });
    assert_eq!(carried.as_deref(), Some("corr-test.1"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn mention_gating_allow_from_and_group_overrides() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("requireMention: true,", "");
    let gateway = fx.start(&config, fx.options()).await;
    let quiet = fx.post("no mention here");
    let loud = fx.post("hey @testbot, answer");
    wait_until("mentioned answered", WAIT, || {
        fx.replies_to(&loud).len() == 1
    })
    .await;
    assert!(fx.replies_to(&quiet).is_empty());
    assert!(logs.contains(
        "[default] skipped ClickClack message before agent dispatch: kind=group requireMention=true wasMentioned=false hasAnyMention=false commandAuthorized=true"
    ));
    // DMs are never gated.
    let bot = fx.seed.bot.user.id.clone();
    let dm = fx
        .server
        .open_dm(&fx.seed.workspace.id, &fx.seed.owner.user.id, &bot);
    fx.server
        .post_dm(&fx.seed.owner.user.id, &dm.id, "no mention in a DM");
    wait_until("DM answered", WAIT, || {
        fx.server
            .dm_messages(&dm.id)
            .iter()
            .any(|m| m.author_id == bot)
    })
    .await;
    gateway.shutdown().await;

    // A per-channel group override turns gating off for #general.
    let config = fx.model_config(
        &format!(
            r#"requireMention: true, groups: {{ "{}": {{ requireMention: false }} }},"#,
            fx.seed.general.id
        ),
        "",
    );
    let gateway = fx.start(&config, fx.options()).await;
    let plain = fx.post("plain in general");
    wait_until("answered", WAIT, || fx.replies_to(&plain).len() == 1).await;
    gateway.shutdown().await;

    // allowFrom without the sender: dropped with the access line.
    let gateway = fx
        .start(
            &fx.model_config(r#"allowFrom: ["clickclack:usr_someone_else"],"#, ""),
            fx.options(),
        )
        .await;
    let denied = fx.post("denied");
    let marker = "[default] skipped ClickClack message before agent dispatch: kind=group requireMention=false wasMentioned=false hasAnyMention=false commandAuthorized=false";
    wait_until("denied logged", WAIT, || logs.contains(marker)).await;
    gateway.shutdown().await;
    assert!(fx.replies_to(&denied).is_empty());
}

#[tokio::test]
async fn bot_authors_and_non_message_kinds() {
    let fx = Fixture::new().await;
    let other = fx.server.create_bot(
        BotSpec::new(&fx.seed.workspace.id, "Other Bot")
            .handle("otherbot")
            .scopes(["bot:write", "agent_activity:write"]),
    );
    let other_client = Client::builder(fx.server.base_url())
        .token(other.token.clone())
        .build()
        .expect("client");
    // Default allowBots: false — another bot's message is ignored.
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let ignored = other_client
        .send_message(&fx.seed.general.id, CreateMessage::new("bot says hi"))
        .await
        .expect("send")
        .message()
        .expect("the full response decodes");
    let human = fx.post("human after bot");
    wait_until("human answered", WAIT, || fx.replies_to(&human).len() == 1).await;
    assert!(fx.replies_to(&ignored).is_empty());
    gateway.shutdown().await;

    // allowBots: true with the bot listed by id: chat messages are answered,
    // agent_commentary rows never are.
    let config = fx.model_config(
        &format!(r#"allowBots: true, allowFrom: ["*", "{}"],"#, other.user.id),
        "",
    );
    let gateway = fx.start(&config, fx.options()).await;
    let commentary = other_client
        .send_message(
            &fx.seed.general.id,
            CreateMessage::new("thinking…")
                .with_kind(MessageKind::AgentCommentary)
                .with_turn_id("turn-1"),
        )
        .await
        .expect("commentary")
        .message()
        .expect("the full response decodes");
    let chat = other_client
        .send_message(&fx.seed.general.id, CreateMessage::new("bot question"))
        .await
        .expect("send")
        .message()
        .expect("the full response decodes");
    wait_until("bot chat answered", WAIT, || {
        fx.replies_to(&chat).len() == 1
    })
    .await;
    assert!(fx.replies_to(&commentary).is_empty());
    assert!(
        fx.model
            .requests()
            .iter()
            .all(|r| r.last_user_message() != "thinking…")
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn blank_completions_get_a_visible_failure_and_prefix_is_prepended() {
    let (logs, _guard) = capture_logs();
    let model = ModelStub::start_with(|request| {
        let text = if request.last_user_message().contains("blank") {
            "   ".to_owned()
        } else {
            echo_reply(&request)
        };
        Box::pin(async move { StubReply::Text(text) })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let gateway = fx
        .start(
            &fx.model_config(r#"responsePrefix: "[bot]","#, ""),
            fx.options(),
        )
        .await;
    let blank = fx.post("say blank");
    let normal = fx.post("say something");
    wait_until("normal answered", WAIT, || {
        fx.replies_to(&normal).len() == 1
    })
    .await;
    assert_eq!(fx.replies_to(&normal)[0].body, "[bot] echo: say something");
    // A blank answer is never silence: one visible failure reply.
    wait_until("blank answered visibly", WAIT, || {
        fx.replies_to(&blank).len() == 1
    })
    .await;
    assert_eq!(
        fx.replies_to(&blank)[0].body,
        "I couldn't answer this: the reply was empty. Please try again later."
    );
    assert!(logs.contains("[default] ClickClack model reply produced no sendable text"));
    let request = &fx.model.requests()[0];
    assert_eq!(
        request.body.get("max_tokens"),
        None,
        "no max_tokens (row 35)"
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn permanent_model_errors_get_one_visible_failure_reply() {
    let (logs, _guard) = capture_logs();
    let model = ModelStub::start_with(|request| {
        let reply = if request.last_user_message().contains("fail") {
            StubReply::Status(400)
        } else {
            StubReply::Text(echo_reply(&request))
        };
        Box::pin(async move { reply })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let gateway = fx.start(&fx.model_config("", ""), fx.options()).await;
    let failing = fx.post("please fail");
    let next = fx.post("next one");
    wait_until("next answered", WAIT, || fx.replies_to(&next).len() == 1).await;
    wait_until("failure shown", WAIT, || fx.replies_to(&failing).len() == 1).await;
    assert_eq!(
        fx.replies_to(&failing)[0].body,
        "I couldn't answer this: the model provider returned HTTP 400. Please try again later."
    );
    assert!(logs.contains("posting a visible failure reply"));
    // A 400 is permanent: one call, no retries.
    let calls = fx
        .model
        .requests()
        .iter()
        .filter(|r| r.last_user_message() == "please fail")
        .count();
    assert_eq!(calls, 1);
    let metrics = gateway.metrics().account("default");
    assert_eq!(metrics.model_errors.load(Ordering::Relaxed), 1);
    assert_eq!(metrics.failed_visibly.load(Ordering::Relaxed), 1);
    gateway.shutdown().await;
}

#[tokio::test]
async fn history_limit_sends_thread_context() {
    let fx = Fixture::new().await;
    let config =
        fx.model_config("", "")
            .replacen("replyMode", "historyLimit: 5,\n      replyMode", 1);
    let gateway = fx.start(&config, fx.options()).await;
    let owner = fx.seed.owner.user.id.clone();
    let bot = fx.seed.bot.user.id.clone();
    let root = fx.post("topic");
    wait_until("root answered", WAIT, || fx.replies_to(&root).len() == 1).await;
    fx.server
        .post_thread_reply(&owner, &root.id, "first in thread");
    wait_until("first answered", WAIT, || {
        fx.server
            .thread_replies(&root.id)
            .iter()
            .any(|m| m.author_id == bot)
    })
    .await;
    fx.server
        .post_thread_reply(&owner, &root.id, "second in thread");
    wait_until("second answered", WAIT, || {
        fx.server
            .thread_replies(&root.id)
            .iter()
            .filter(|m| m.author_id == bot)
            .count()
            == 2
    })
    .await;
    let last = fx.model.requests().pop().expect("request");
    let messages: Vec<(&str, &str)> = last
        .messages
        .iter()
        .map(|(r, c)| (r.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        messages,
        [
            ("user", "topic"),
            ("user", "first in thread"),
            ("assistant", "echo: first in thread"),
            ("user", "second in thread"),
        ]
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn model_agent_id_needs_the_trust_bit() {
    let fx = Fixture::new().await;
    let refused = fx.model_config(r#"agentId: "Service-Bot","#, "");
    let env = MapEnv::new();
    let err = Gateway::start(&parse(&refused, &env), &env, fx.options())
        .await
        .expect_err("refused");
    let message = err.to_string();
    assert!(
        message.contains("plugins.entries.clickclack.llm.allowAgentIdOverride: true"),
        "{message}"
    );
    assert!(message.contains("\"service-bot\""), "{message}");

    let allowed = fx.model_config(
        r#"agentId: "Service-Bot","#,
        "plugins: { entries: { clickclack: { llm: { allowAgentIdOverride: true } } } },",
    );
    let gateway = fx.start(&allowed, fx.options()).await;
    let source = fx.post("trusted");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    gateway.shutdown().await;
}

#[tokio::test]
async fn not_configured_accounts_refuse_to_start() {
    let fx = Fixture::new().await;
    let config = format!(
        r#"{{ channels: {{ clickclack: {{ accounts: {{ work: {{ baseUrl: "{}", workspace: "default" }} }} }} }} }}"#,
        fx.server.base_url()
    );
    let env = MapEnv::new();
    let err = Gateway::start(&parse(&config, &env), &env, fx.options())
        .await
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "ClickClack is not configured for account \"work\""
    );
}

#[tokio::test]
async fn agent_mode_uses_the_openclaw_gateway_endpoint() {
    let fx = Fixture::new().await;
    let config = fx
        .model_config("", "")
        .replace("replyMode: \"model\",", "")
        .replace("model: \"stub/echo\",", "");
    let env = MapEnv::new()
        .with("OPENCLAW_GATEWAY_URL", fx.model.root_url())
        .with("OPENCLAW_GATEWAY_TOKEN", "gw-secret");
    let gateway = start_gateway(&config, &env, fx.options()).await;
    wait_ready(&gateway).await;
    let root = fx.post("agent, please");
    wait_until("answered", WAIT, || fx.replies_to(&root).len() == 1).await;
    fx.server
        .post_thread_reply(&fx.seed.owner.user.id, &root.id, "and in a thread");
    wait_until("thread answered", WAIT, || fx.model.request_count() == 2).await;
    let requests = fx.model.requests();
    assert_eq!(requests[0].model, "openclaw/main");
    assert_eq!(
        requests[0].header("x-openclaw-message-channel"),
        Some("clickclack")
    );
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer gw-secret")
    );
    assert_eq!(
        requests[0]
            .header("x-openclaw-session-key")
            .map(str::to_owned),
        Some(format!(
            "agent:main:clickclack:channel:channel:{}",
            fx.seed.general.id.as_str().to_lowercase()
        ))
    );
    // A thread reply shares its channel's session (host conventions §1).
    assert_eq!(
        requests[1].header("x-openclaw-session-key"),
        requests[0].header("x-openclaw-session-key")
    );
    // The host's envelope: `[ClickClack <sender> <time>] <body>`.
    let reply = &fx.replies_to(&root)[0].body;
    assert!(reply.contains("\n[ClickClack "), "{reply}");
    assert!(reply.ends_with("] agent, please"), "{reply}");
    gateway.shutdown().await;
}

fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_progress_and_metrics() {
    let fx = Fixture::new().await;
    let options = GatewayOptions {
        metrics_addr: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        ..fx.options()
    };
    let gateway = fx
        .start(&fx.model_config("nativeProgress: true,", ""), options)
        .await;
    let source = fx.post("with progress");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    // The clear may follow the reply: wait for it rather than race it.
    wait_until("start line and clear", WAIT, || {
        fx.server.request_count("POST", "/api/realtime/ephemeral") >= 2
    })
    .await;
    let counters = gateway.metrics().account("default");
    wait_until("reply counted", WAIT, || {
        counters.replies.load(Ordering::Relaxed) == 1
    })
    .await;
    let addr = gateway.metrics_addr().expect("metrics address");
    let metrics = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
        .await
        .expect("join");
    assert!(
        metrics.contains("clickclack_gateway_replies_total{account=\"default\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("clickclack_gateway_model_latency_seconds_count{account=\"default\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE clickclack_gateway_events_total counter"),
        "{metrics}"
    );
    let health = tokio::task::spawn_blocking(move || http_get(addr, "/healthz"))
        .await
        .expect("join");
    assert!(
        health.starts_with("HTTP/1.1 200") && health.contains("default ready"),
        "{health}"
    );
    gateway.shutdown().await;
    let _ = CreateThreadReply::new("");
}
