//! `cargo xtask demo`: the whole stack on loopback in one command.
//!
//! Starts `clickclack-testkit`, seeds a workspace with a human and a bot
//! token, writes an OpenClaw config (JSON5, the docs' format) to a temporary
//! directory, starts the real gateway (model mode) against an
//! OpenAI-compatible stub model, then — as the human — posts in `#general`,
//! replies in a thread and sends a DM, and prints the conversation with the
//! bot's answers. `--keep` leaves everything running until Ctrl-C and prints
//! how to talk to it.

use std::path::Path;
use std::time::Duration;

use clickclack_proto::objects::Message;
use clickclack_proto::{ChannelId, ConversationId, MessageId, UserId};
use clickclack_testkit::model_stub::ModelStub;
use clickclack_testkit::{SetupCodeSpec, TestServer};
use openclaw_clickclack::config::{ProcessEnv, load};
use openclaw_clickclack::gateway::{Gateway, GatewayOptions, Lifecycle};
use openclaw_clickclack::setup::code::{SetupCode, claim};

/// How long each step may take before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Entry point: `cargo xtask demo [--keep]`.
pub(crate) fn demo(args: &[String]) -> Result<(), String> {
    let mut keep = false;
    for arg in args {
        match arg.as_str() {
            "--keep" => keep = true,
            other => return Err(format!("unknown demo option `{other}` (expected --keep)")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(run(keep))
}

/// Polls `cond` every 10 ms until it holds or [`STEP_TIMEOUT`] passes.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while !cond() {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "timed out after {}s waiting for {what}",
                STEP_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

fn config_text(base_url: &str, token: &str, model_url: &str) -> String {
    format!(
        r#"// OpenClaw config written by `cargo xtask demo` (JSON5, as in the OpenClaw docs).
{{
  channels: {{
    clickclack: {{
      enabled: true,
      baseUrl: "{base_url}",
      token: "{token}",
      workspace: "default",
      replyMode: "model",
      model: "demo/echo",
      systemPrompt: "You are a helpful ClickClack bot.",
    }},
  }},
  models: {{
    providers: {{
      // An OpenAI-compatible stub that answers "echo: <your message>".
      // `input` lists "image": the model gets attached images.
      demo: {{ baseUrl: "{model_url}", api: "openai-completions", models: [{{ id: "echo", input: ["text", "image"] }}] }},
    }},
  }},
}}
"#
    )
}

async fn run(keep: bool) -> Result<(), String> {
    let server = TestServer::try_start()
        .await
        .map_err(|e| format!("cannot start the testkit: {e}"))?;
    let seed = server.seed();
    let model = ModelStub::start().await;
    let dir = tempfile::Builder::new()
        .prefix("clickclack-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    // 0. The owner mints a bot setup code; claiming it (as `channels add
    //    clickclack --code` does) yields the bot token the config uses.
    let minted = server
        .create_setup_code(&SetupCodeSpec::new(&seed.workspace.id, &seed.bot.user.id))
        .map_err(|e| format!("cannot mint a setup code: {e}"))?;
    let code = SetupCode::parse(&minted.code, Some(&server.base_url()))?;
    let claimed = claim(&code).await?;
    println!(
        "setup code {} claimed: bot @{} in workspace {} (token saved to the config, code never stored)",
        minted.code, claimed.bot.handle, claimed.workspace.id
    );
    let config_path = dir.path().join("openclaw.json5");
    std::fs::write(
        &config_path,
        config_text(&server.base_url(), &claimed.token, &model.base_url()),
    )
    .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;

    println!("ClickClack testkit on {}", server.base_url());
    println!(
        "workspace `{}` with #general, human `{}`, bot @{}",
        seed.workspace.slug, seed.owner.user.display_name, seed.bot.user.handle
    );
    println!("config: {}", config_path.display());

    let loaded = load(Some(&config_path), &ProcessEnv).map_err(|e| format!("config: {e}"))?;
    let options = GatewayOptions {
        state_dir: Some(dir.path().join("state")),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(&loaded.config, &ProcessEnv, options)
        .await
        .map_err(|e| format!("gateway: {e}"))?;
    let status = gateway.status().clone();
    wait_for("the gateway to connect", || {
        status.all().iter().all(|s| s.lifecycle == Lifecycle::Ready)
    })
    .await?;
    for s in status.all() {
        println!("gateway: {}", s.line());
    }

    let human = seed.owner.user.id.clone();
    let bot = seed.bot.user.id.clone();
    let general = seed.general.id.clone();

    // 1. A message in #general: the bot quote-replies in the channel.
    let root = server.post_message(&human, &general, "Hello bot, are you there?");
    wait_for("the bot's answer in #general", || {
        server
            .channel_messages(&general)
            .iter()
            .any(|m| m.author_id == bot && m.quoted_message_id.as_ref() == Some(&root.id))
    })
    .await?;

    // 1b. An image message: the image reaches the model as an image part.
    const PNG: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let upload = server.upload(&human, &seed.workspace.id, "dot.png", "image/png", PNG);
    let image =
        server.post_message_with_upload(&human, &general, "What is in this picture?", &upload.id);
    wait_for("the bot's answer to the image", || {
        server
            .channel_messages(&general)
            .iter()
            .any(|m| m.author_id == bot && m.quoted_message_id.as_ref() == Some(&image.id))
    })
    .await?;
    let images_seen: usize = model.requests().iter().map(|r| r.image_urls.len()).sum();

    // 2. A reply in a thread: the bot answers inside the thread.
    let reply = server.post_thread_reply(&human, &root.id, "Can you answer in this thread?");
    wait_for("the bot's answer in the thread", || {
        let replies = server.thread_replies(&root.id);
        replies.iter().any(|m| m.author_id == bot)
            && replies.iter().position(|m| m.author_id == bot)
                > replies.iter().position(|m| m.id == reply.id)
    })
    .await?;

    // 3. A direct message.
    let dm = server.open_dm(&seed.workspace.id, &human, &bot);
    server.post_dm(&human, &dm.id, "And a private question: what is 2 + 2?");
    wait_for("the bot's answer in the DM", || {
        server
            .dm_messages(&dm.id)
            .iter()
            .any(|m| m.author_id == bot)
    })
    .await?;

    let name = |id: &UserId| -> String {
        if id == &human {
            seed.owner.user.display_name.clone()
        } else if id == &bot {
            format!("{} (bot)", seed.bot.user.display_name)
        } else {
            id.to_string()
        }
    };
    println!();
    println!("#general");
    print_messages(&server.channel_messages(&general), &name, "  ");
    println!("  thread under \"{}\"", root.body);
    print_messages(&server.thread_replies(&root.id), &name, "    ");
    println!("DM with @{}", seed.bot.user.handle);
    print_messages(&server.dm_messages(&dm.id), &name, "  ");
    println!();
    println!("model calls: {}", model.request_count());
    println!("images the model received: {images_seen} (dot.png, as an image_url part)");

    if keep {
        print_keep_instructions(
            &server.base_url(),
            &seed.owner.session_token,
            &general,
            &seed.bot.token,
            &config_path,
            &dm.id,
            &root.id,
        );
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping…");
    }
    gateway.shutdown().await;
    println!("demo finished: every message answered exactly once.");
    Ok(())
}

fn print_messages(messages: &[Message], name: &dyn Fn(&UserId) -> String, indent: &str) {
    for m in messages {
        let quote = if m.quoted_message_id.is_some() {
            " (quote-reply)"
        } else {
            ""
        };
        println!("{indent}{}{quote}: {}", name(&m.author_id), m.body);
    }
}

fn print_keep_instructions(
    base_url: &str,
    human_token: &str,
    general: &ChannelId,
    token: &str,
    config: &Path,
    dm: &ConversationId,
    root: &MessageId,
) {
    println!();
    println!("Everything keeps running (Ctrl-C to stop).");
    println!("  base URL : {base_url}");
    println!("  bot token: {token}");
    println!("  config   : {}", config.display());
    println!();
    println!("Send as the bot:");
    println!(
        "  cargo run -p openclaw-clickclack -- --config {} message send --target channel:general --message \"hello from the CLI\"",
        config.display()
    );
    println!("Post as the human (the bot answers within a moment):");
    println!(
        "  curl -s -X POST -H 'Authorization: Bearer {human_token}' -H 'Content-Type: application/json' \\\n    -d '{{\"body\":\"hello again\"}}' {base_url}/api/channels/{general}/messages"
    );
    println!("Talk to the API as the bot:");
    println!("  curl -s -H 'Authorization: Bearer {token}' {base_url}/api/me");
    println!(
        "  curl -s -H 'Authorization: Bearer {token}' '{base_url}/api/messages/{root}/thread'"
    );
    println!("  curl -s -H 'Authorization: Bearer {token}' {base_url}/api/dms/{dm}/messages");
}
