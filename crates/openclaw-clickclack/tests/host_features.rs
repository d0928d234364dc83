//! Host features against the testkit: inbound attachments, agent-mode
//! session keys and envelope, activity rows and progress, native commands,
//! model fallbacks and provider headers.

#[path = "gateway_support/mod.rs"]
mod support;

use std::sync::Arc;

use clickclack_proto::objects::MessageKind;
use clickclack_realtime::{CursorStore, MemoryCursorStore};
use clickclack_testkit::BotSpec;
use clickclack_testkit::model_stub::{ModelStub, StubReply, echo_reply};
use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::GatewayOptions;
use serde_json::json;
use support::*;

/// A 1×1 PNG.
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";

/// A model-mode config whose stub model `model` is declared with `input`.
fn config(fx: &Fixture, model: &str, extra: &str, top: &str) -> String {
    format!(
        r#"{{
  channels: {{ clickclack: {{
    baseUrl: "{base}", token: "{token}", workspace: "default",
    replyMode: "model", model: "{model}", {extra}
  }} }},
  models: {{ providers: {{ stub: {{
    baseUrl: "{stub}", api: "openai-completions",
    models: [{{ id: "vision", input: ["text", "image"] }}, {{ id: "text", input: ["text"] }}],
  }} }} }},
  {top}
}}"#,
        base = fx.server.base_url(),
        token = fx.seed.bot.token,
        stub = fx.model.base_url(),
    )
}

fn base64(bytes: &[u8]) -> String {
    use std::fmt::Write;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = out.write_char(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn images_reach_vision_models_and_notes_reach_the_rest() {
    let fx = Fixture::new().await;
    let (owner, ws, general) = (
        &fx.seed.owner.user.id,
        &fx.seed.workspace.id,
        &fx.seed.general.id,
    );
    let gateway = fx
        .start(&config(&fx, "stub/vision", "", ""), fx.options())
        .await;

    // An image with text: the model gets an OpenAI image_url part.
    let png = fx.server.upload(owner, ws, "dot.png", "image/png", PNG);
    let with_text = fx
        .server
        .post_message_with_upload(owner, general, "what is this?", &png.id);
    wait_until("image answered", WAIT, || {
        fx.replies_to(&with_text).len() == 1
    })
    .await;
    let request = fx.model.requests().pop().expect("model call");
    assert_eq!(request.last_user_message(), "what is this?");
    assert_eq!(
        request.image_urls,
        [format!("data:image/png;base64,{}", base64(PNG))]
    );

    // Attachment-only: a real turn, with the image.
    let png2 = fx.server.upload(owner, ws, "again.png", "image/png", PNG);
    let only = fx
        .server
        .post_message_with_upload(owner, general, "", &png2.id);
    wait_until("attachment-only answered", WAIT, || {
        fx.replies_to(&only).len() == 1
    })
    .await;
    assert_eq!(fx.model.requests().pop().expect("call").image_urls.len(), 1);

    // A PDF and an image whose bytes are not an image: notes, no image parts.
    let pdf = fx
        .server
        .upload(owner, ws, "doc.pdf", "application/pdf", b"%PDF");
    let doc = fx
        .server
        .post_message_with_upload(owner, general, "read", &pdf.id);
    wait_until("pdf answered", WAIT, || fx.replies_to(&doc).len() == 1).await;
    let request = fx.model.requests().pop().expect("call");
    assert_eq!(
        request.last_user_message(),
        "read\n[ClickClack attachment: doc.pdf (application/pdf, 4 B) — file contents not shown]"
    );
    assert!(request.image_urls.is_empty());
    let fake = fx
        .server
        .upload(owner, ws, "fake.png", "image/png", b"<html>");
    let bad = fx
        .server
        .post_message_with_upload(owner, general, "fake", &fake.id);
    wait_until("fake answered", WAIT, || fx.replies_to(&bad).len() == 1).await;
    let request = fx.model.requests().pop().expect("call");
    assert!(
        request
            .last_user_message()
            .ends_with("[ClickClack attachment skipped: fake.png is not a valid image/png image]"),
        "{}",
        request.last_user_message()
    );
    assert!(request.image_urls.is_empty());
    gateway.shutdown().await;

    // A text-only model gets a notice instead of the image.
    let gateway = fx
        .start(&config(&fx, "stub/text", "", ""), fx.options())
        .await;
    let png3 = fx.server.upload(owner, ws, "three.png", "image/png", PNG);
    let text_only = fx
        .server
        .post_message_with_upload(owner, general, "and this?", &png3.id);
    wait_until("text-only answered", WAIT, || {
        fx.replies_to(&text_only).len() == 1
    })
    .await;
    let request = fx.model.requests().pop().expect("call");
    assert!(request.image_urls.is_empty());
    assert!(
        request.last_user_message().contains(
            "[ClickClack image: three.png (image/png, 33 B) — this model cannot view images]"
        ),
        "{}",
        request.last_user_message()
    );
    gateway.shutdown().await;

    // Over mediaMaxMb (0.00001 MB ≈ 10 bytes) without text: the reference's notice, no model call.
    let gateway = fx
        .start(
            &config(&fx, "stub/vision", "mediaMaxMb: 0.00001,", ""),
            fx.options(),
        )
        .await;
    let calls = fx.model.request_count();
    let big = fx.server.upload(owner, ws, "big.png", "image/png", PNG);
    let oversize = fx
        .server
        .post_message_with_upload(owner, general, "", &big.id);
    wait_until("oversize answered", WAIT, || {
        fx.replies_to(&oversize).len() == 1
    })
    .await;
    assert_eq!(
        fx.replies_to(&oversize)[0].body,
        "I could not process this attachment because it exceeds this bot's media limit."
    );
    assert_eq!(fx.model.request_count(), calls);
    gateway.shutdown().await;
}

fn agent_config(fx: &Fixture, extra: &str, top: &str) -> String {
    format!(
        r#"{{
  channels: {{ clickclack: {{ baseUrl: "{base}", token: "{token}", workspace: "default", {extra} }} }},
  {top}
}}"#,
        base = fx.server.base_url(),
        token = fx.seed.bot.token,
    )
}

fn agent_env(fx: &Fixture) -> MapEnv {
    MapEnv::new().with("OPENCLAW_GATEWAY_URL", fx.model.root_url())
}

#[tokio::test]
async fn agent_mode_uses_host_session_keys_envelope_and_never_reruns_a_replay() {
    let fx = Fixture::new().await;
    let store = Arc::new(MemoryCursorStore::new());
    let options = || GatewayOptions {
        cursor_store: Some(Arc::clone(&store) as Arc<dyn CursorStore>),
        ..fx.options()
    };
    let config = agent_config(&fx, "", r#"session: { dmScope: "per-channel-peer" },"#);
    let env = agent_env(&fx);
    let gateway = start_gateway(&config, &env, options()).await;
    wait_ready(&gateway).await;
    let key = format!("default.{}", fx.seed.workspace.id);
    let before = store.get(&key).expect("anchored cursor");

    let owner = &fx.seed.owner.user.id;
    let root = fx.post("hello [agent]");
    wait_until("channel answered", WAIT, || fx.replies_to(&root).len() == 1).await;
    fx.server
        .post_thread_reply(owner, &root.id, "in the thread");
    wait_until("thread answered", WAIT, || fx.model.request_count() == 2).await;
    let dm = fx
        .server
        .open_dm(&fx.seed.workspace.id, owner, &fx.seed.bot.user.id);
    fx.server.post_dm(owner, &dm.id, "a direct question");
    wait_until("dm answered", WAIT, || fx.model.request_count() == 3).await;
    let bot = &fx.seed.bot.user.id;
    wait_until("dm reply posted", WAIT, || {
        fx.server
            .dm_messages(&dm.id)
            .iter()
            .any(|m| &m.author_id == bot)
    })
    .await;

    let requests = fx.model.requests();
    let channel_key = format!(
        "agent:main:clickclack:channel:channel:{}",
        fx.seed.general.id.as_str().to_lowercase()
    );
    assert_eq!(
        requests[0].header("x-openclaw-session-key"),
        Some(channel_key.as_str())
    );
    assert_eq!(
        requests[1].header("x-openclaw-session-key"),
        Some(channel_key.as_str())
    );
    let dm_key = format!(
        "agent:main:clickclack:direct:dm:{}",
        owner.as_str().to_lowercase()
    );
    assert_eq!(
        requests[2].header("x-openclaw-session-key"),
        Some(dm_key.as_str())
    );
    for request in &requests {
        assert_eq!(request.model, "openclaw/main");
        assert_eq!(
            request.header("x-openclaw-message-channel"),
            Some("clickclack")
        );
    }
    // The envelope: metadata block for channels; `[ClickClack <sender> …] body`, brackets kept out of the header.
    let channel_text = requests[0].last_user_message();
    assert!(
        channel_text.starts_with("Conversation info (untrusted metadata):\n```json\n"),
        "{channel_text}"
    );
    assert!(
        channel_text.contains(&format!("\"message_id\": \"{}\"", root.id)),
        "{channel_text}"
    );
    assert!(
        channel_text.contains("\n[ClickClack Owner "),
        "{channel_text}"
    );
    assert!(channel_text.ends_with("Z] hello [agent]"), "{channel_text}");
    let thread_text = requests[1].last_user_message();
    assert!(
        thread_text.contains(&format!("\"thread_id\": \"{}\"", root.id)),
        "{thread_text}"
    );
    assert!(
        thread_text.contains("[ClickClack Owner +"),
        "elapsed since the session's last message: {thread_text}"
    );
    let dm_text = requests[2].last_user_message();
    assert!(dm_text.starts_with("[ClickClack Owner "), "{dm_text}");
    assert!(dm_text.ends_with("] a direct question"), "{dm_text}");
    gateway.shutdown().await;

    // Replay every event: the by-nonce check answers them without the agent.
    store.save(&key, &before).await.expect("rewind");
    let gateway = start_gateway(&config, &env, options()).await;
    wait_ready(&gateway).await;
    let counters = gateway.metrics().account("default");
    wait_until("replayed events handled", WAIT, || {
        counters.replies.load(std::sync::atomic::Ordering::Relaxed) >= 3
    })
    .await;
    assert_eq!(
        fx.model.request_count(),
        3,
        "a replayed event never re-runs the agent"
    );
    assert_eq!(fx.replies_to(&root).len(), 1);
    gateway.shutdown().await;
}

/// A fixture on a testkit built with `builder`'s options.
async fn fixture_on(server: clickclack_testkit::TestServer, model: ModelStub) -> Fixture {
    let seed = server.seed();
    Fixture {
        server,
        seed,
        model,
        state: tempfile::tempdir().expect("tempdir"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_activity_rows_and_progress_follow_the_turn() {
    let model = ModelStub::start_with(|request| {
        let text = echo_reply(&request);
        Box::pin(async move {
            StubReply::Answered {
                model: " anthropic/claude-opus-4-6 ".to_owned(),
                message: json!({
                    "role": "assistant",
                    "content": text,
                    "reasoning_content": "looking things up",
                    "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]
                }),
            }
        })
    })
    .await;
    // A server that keeps provenance (row 14), so the test can read it back.
    let server = clickclack_testkit::TestServer::builder()
        .message_provenance()
        .start()
        .await
        .expect("testkit");
    let fx = fixture_on(server, model).await;
    let bot = fx.server.create_bot(
        BotSpec::new(&fx.seed.workspace.id, "Activity Bot")
            .scopes(["bot:write", "agent_activity:write"]),
    );
    let config = agent_config(&fx, "agentActivity: true, nativeProgress: true,", "")
        .replace(&fx.seed.bot.token, &bot.token);
    let gateway = start_gateway(&config, &agent_env(&fx), fx.options()).await;
    wait_ready(&gateway).await;
    let source = fx.post("do research");
    let rows = || {
        fx.server
            .channel_messages(&fx.seed.general.id)
            .into_iter()
            .filter(|m| {
                m.author_id == bot.user.id && m.turn_id.as_deref() == Some(source.id.as_str())
            })
            .collect::<Vec<_>>()
    };
    let reply = || {
        fx.server
            .channel_messages(&fx.seed.general.id)
            .into_iter()
            .find(|m| {
                m.author_id == bot.user.id && m.quoted_message_id.as_ref() == Some(&source.id)
            })
    };
    wait_until("reply and activity rows", WAIT, || {
        rows().len() == 2 && reply().is_some()
    })
    .await;
    let rows = rows();
    let commentary = rows
        .iter()
        .find(|m| m.kind == Some(MessageKind::AgentCommentary))
        .expect("commentary row");
    assert_eq!(commentary.body, "**Thinking**\n\nlooking things up");
    let tool = rows
        .iter()
        .find(|m| m.kind == Some(MessageKind::AgentTool))
        .expect("tool row");
    assert_eq!(tool.body, "🛠️ search");
    // Rows are written before the reply, every one stamped with the model
    // the gateway reported (trimmed); nothing else was reported.
    let reply = reply().expect("reply");
    for m in rows.iter().chain([&reply]) {
        assert_eq!(
            m.author_model.as_deref(),
            Some("anthropic/claude-opus-4-6"),
            "{}",
            m.id
        );
        assert_eq!(
            (m.author_thinking.as_deref(), m.author_runtime.as_deref()),
            (None, None)
        );
    }
    assert!(rows.iter().all(|r| r.created_at <= reply.created_at));
    // Progress through the turn: the start line, the two activity lines
    // (reported together: one write each), the clear.
    wait_until("progress finished", WAIT, || {
        fx.server.request_count("POST", "/api/realtime/ephemeral") >= 4
    })
    .await;
    gateway.shutdown().await;
}

#[tokio::test]
async fn native_commands_are_authorized_and_answered() {
    let fx = Fixture::new().await;
    let ws = &fx.seed.workspace.id;
    let owner = &fx.seed.owner.user.id;
    let member = fx.server.create_user(ws, "Member");
    let stranger = fx.server.create_user(ws, "Stranger");
    let top = format!(
        r#"commands: {{ allowFrom: {{ clickclack: ["{owner}", "clickclack:{member}"] }}, ownerAllowFrom: ["clickclack:{owner}"] }},"#,
        member = member.user.id
    );
    let config = fx.model_config("", &top);
    let gateway = fx.start(&config, fx.options()).await;
    let general = &fx.seed.general.id;
    let ask =
        |user: &clickclack_proto::UserId, body: &str| fx.server.post_message(user, general, body);
    let reply =
        |m: &clickclack_proto::objects::Message| fx.replies_to(m).first().map(|r| r.body.clone());

    let help = ask(owner, "/help");
    wait_until("help", WAIT, || reply(&help).is_some()).await;
    assert!(
        reply(&help)
            .unwrap()
            .contains("/model [provider/model] — Show or set the model")
    );
    let who = ask(&member.user.id, "/whoami");
    wait_until("whoami", WAIT, || reply(&who).is_some()).await;
    assert!(
        reply(&who)
            .unwrap()
            .contains(&format!("AllowFrom: clickclack:{}", member.user.id))
    );
    let status = ask(owner, "/status");
    wait_until("status", WAIT, || reply(&status).is_some()).await;
    let status = reply(&status).unwrap();
    assert!(
        status.contains("Mode: model") && status.contains("Model: stub/echo"),
        "{status}"
    );
    assert!(
        status.contains("Session: agent:main:clickclack:channel:channel:"),
        "{status}"
    );
    // Owner-only: a member may not change the model; the owner may.
    let denied = ask(&member.user.id, "/model stub/other");
    wait_until("model denied", WAIT, || reply(&denied).is_some()).await;
    assert!(reply(&denied).unwrap().contains("is owner-only"));
    // A sender outside commands.allowFrom: skipped, nothing sent, no model call.
    let ignored = ask(&stranger.user.id, "/status");
    let set = ask(owner, "/model stub/other");
    wait_until("model set", WAIT, || reply(&set).is_some()).await;
    assert_eq!(
        reply(&set).unwrap(),
        "✅ Model set to stub/other for this session."
    );
    assert!(reply(&ignored).is_none());
    assert_eq!(
        fx.model.request_count(),
        0,
        "commands never reach the model"
    );
    // The override applies to the next turn; /new reports it.
    let normal = ask(owner, "hello");
    wait_until("normal answered", WAIT, || reply(&normal).is_some()).await;
    assert_eq!(fx.model.requests()[0].model, "other");
    let new = ask(owner, "/new");
    wait_until("new", WAIT, || reply(&new).is_some()).await;
    assert_eq!(
        reply(&new).unwrap(),
        "✅ New session started · model: stub/other"
    );
    let stop = ask(owner, "/stop");
    wait_until("stop", WAIT, || reply(&stop).is_some()).await;
    assert_eq!(reply(&stop).unwrap(), "⚙️ Nothing to stop.");
    gateway.shutdown().await;
}

#[tokio::test]
async fn model_fallbacks_and_provider_headers() {
    let model = ModelStub::start_with(|request| {
        let reply = if request.model == "broken" {
            StubReply::Status(400)
        } else {
            StubReply::Text(echo_reply(&request))
        };
        Box::pin(async move { reply })
    })
    .await;
    let fx = Fixture::with_model(model).await;
    let config = format!(
        r#"{{
  channels: {{ clickclack: {{ baseUrl: "{base}", token: "{token}", workspace: "default", replyMode: "model" }} }},
  models: {{ providers: {{ stub: {{ baseUrl: "{stub}", api: "openai-completions", headers: {{ "x-team": "blue" }} }} }} }},
  agents: {{ defaults: {{ model: {{ primary: "stub/broken", fallbacks: ["stub/echo"] }} }} }},
}}"#,
        base = fx.server.base_url(),
        token = fx.seed.bot.token,
        stub = fx.model.base_url(),
    );
    let gateway = fx.start(&config, fx.options()).await;
    let source = fx.post("fall back please");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;
    assert_eq!(fx.replies_to(&source)[0].body, "echo: fall back please");
    let requests = fx.model.requests();
    let models: Vec<&str> = requests.iter().map(|r| r.model.as_str()).collect();
    assert_eq!(models, ["broken", "echo"]);
    assert!(requests.iter().all(|r| r.header("x-team") == Some("blue")));
    gateway.shutdown().await;
}

/// Row 26 against a testkit that links uploads after the create (an older
/// server): the first late link is reported and switches the account to
/// waiting; later creates wait for their links, plain text still goes out,
/// and a stop during the wait leaves the message for the next run.
#[tokio::test(start_paused = true)]
async fn uploads_linked_after_the_create_on_an_older_server() {
    let (logs, _guard) = capture_logs();
    let server = clickclack_testkit::TestServer::builder()
        .legacy_attachment_links()
        .start()
        .await
        .expect("testkit");
    let fx = fixture_on(server, ModelStub::start().await).await;
    let (owner, ws, general) = (
        &fx.seed.owner.user.id,
        &fx.seed.workspace.id,
        &fx.seed.general.id,
    );
    let cfg = config(&fx, "stub/vision", "", "");
    let gateway = fx.start(&cfg, fx.options()).await;

    // 1. Nothing known yet: answered at once; the upload linked afterwards
    //    is reported with the reference's line and the account learns.
    let first = fx.post("first");
    wait_until("first answered", WAIT, || fx.replies_to(&first).len() == 1).await;
    let p1 = fx.server.upload(owner, ws, "one.png", "image/png", PNG);
    fx.server.link_upload(owner, &first.id, &p1.id);
    let late = format!(
        "[default] ClickClack attachment linked after the bounded legacy window; messageId={} processed=0 current=1",
        first.id
    );
    wait_until("late link reported", WAIT, || logs.contains(&late)).await;
    assert!(logs.contains("ClickClack server links uploads after creating the message"));

    // 2. Two uploads linked after the create, the second a second later:
    //    one turn that sees both.
    let p2 = fx.server.upload(owner, ws, "two.png", "image/png", PNG);
    let p3 = fx.server.upload(owner, ws, "three.png", "image/png", PNG);
    let second = fx
        .server
        .post_message_with_upload(owner, general, "two images", &p2.id);
    assert!(
        second.attachments.is_empty(),
        "the old server ignores upload_id"
    );
    fx.server.link_upload(owner, &second.id, &p2.id);
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    fx.server.link_upload(owner, &second.id, &p3.id);
    wait_until("second answered", WAIT, || {
        fx.replies_to(&second).len() == 1
    })
    .await;
    let request = fx.model.requests().pop().expect("model call");
    assert_eq!(request.last_user_message(), "two images");
    assert_eq!(request.image_urls.len(), 2);

    // 3. Plain text is still answered (after the quiet window).
    let third = fx.post("plain");
    wait_until("plain answered", WAIT, || fx.replies_to(&third).len() == 1).await;

    // 4. A stop while a create waits: not answered, not committed; the next
    //    run answers it once.
    let fourth = fx.post("pending at stop");
    let waiting = format!(
        "waiting for ClickClack attachments linked after the create: {}",
        fourth.id
    );
    wait_until("fourth waiting", WAIT, || logs.contains(&waiting)).await;
    gateway.shutdown().await;
    assert!(fx.replies_to(&fourth).is_empty());
    let gateway = fx.start(&cfg, fx.options()).await;
    wait_until("fourth answered after restart", WAIT, || {
        fx.replies_to(&fourth).len() == 1
    })
    .await;
    for m in [&first, &second, &third] {
        assert_eq!(fx.replies_to(m).len(), 1, "{} answered once", m.id);
    }
    gateway.shutdown().await;
}
