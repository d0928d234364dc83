//! Secrets never leak: the CLI (`message send`, `doctor`) and the gateway
//! process run at `RUST_LOG=trace` through a full conversation and a failed
//! auth (revoked token) with every byte of stdout and stderr captured; the
//! bot tokens, the model API key and the OpenClaw gateway token never
//! appear. `Debug` of every config/client type holding a secret redacts it.
//! (`tokenFile` symlink / world-readable checks live in
//! `tests/config_layer/secrets.rs`.)

#![cfg(unix)]

#[path = "gateway_support/mod.rs"]
mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_client::{BotToken, Client};
use clickclack_testkit::BotSpec;
use openclaw_clickclack::agent_host::{GatewayHostConfig, OpenClawGatewayHost};
use openclaw_clickclack::channel::ClickClackChannel;
use openclaw_clickclack::config::{MapEnv, parse_config_str};
use openclaw_clickclack::gateway::{Gateway, GatewayOptions};
use openclaw_clickclack::llm::{ApiKey, HttpOptions};
use openclaw_clickclack::secrets::{Secret, SecretInput};
use support::*;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const API_KEY: &str = "sk-test-MODELKEY-0123456789abcdef";
const GATEWAY_TOKEN: &str = "ocg-test-GATEWAYTOKEN-fedcba9876543210";
const FAKE_TOKEN: &str = "ccb_01FAKESECRETTOKENVALUE0000";

/// Asserts that none of `secrets` occurs in `text`, nor a long-enough piece
/// of one (a token cut in half by a log formatter would still leak).
#[track_caller]
fn assert_clean(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!secret.is_empty());
        let tail = &secret[secret.len().saturating_sub(16)..];
        assert!(
            !text.contains(secret) && !text.contains(tail),
            "{what} leaks a secret ({}…): {text}",
            &secret[..6]
        );
    }
}

struct Output {
    code: Option<i32>,
    text: String,
}

/// Runs the CLI at trace level and captures stdout + stderr.
async fn run_cli(args: Vec<String>, token: &str) -> Output {
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
            .args(&args)
            .env_remove("OPENCLAW_CONFIG_PATH")
            .env("RUST_LOG", "trace")
            .env("CLICKCLACK_BOT_TOKEN", token)
            .env("OPENCLAW_GATEWAY_TOKEN", GATEWAY_TOKEN)
            .env("OPENAI_API_KEY", API_KEY)
            .output()
            .expect("runs");
        Output {
            code: out.status.code(),
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    })
    .await
    .expect("joined")
}

/// The docs' config with the token from `CLICKCLACK_BOT_TOKEN`.
fn env_token_config(base_url: &str, model_url: &str) -> String {
    format!(
        r#"{{
  channels: {{
    clickclack: {{
      enabled: true,
      baseUrl: "{base_url}",
      token: {{ source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" }},
      workspace: "default",
      defaultTo: "channel:general",
      replyMode: "model",
      model: "stub/echo",
    }},
  }},
  models: {{ providers: {{ stub: {{ baseUrl: "{model_url}", api: "openai-completions", apiKey: "{API_KEY}" }} }} }},
}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_at_trace_level_never_prints_the_token() {
    let fx = Fixture::new().await;
    let path = fx.state.path().join("openclaw.json5");
    std::fs::write(
        &path,
        env_token_config(&fx.server.base_url(), &fx.model.base_url()),
    )
    .expect("config");
    let config = path.to_string_lossy().into_owned();
    let send = |message: &str| {
        [
            "message",
            "send",
            "--channel",
            "clickclack",
            "--target",
            "channel:general",
            "--message",
            message,
            "--config",
            &config,
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect::<Vec<_>>()
    };
    let doctor: Vec<String> = ["doctor", "--config", &config]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let token = fx.seed.bot.token.clone();
    let secrets = [token.as_str(), API_KEY, GATEWAY_TOKEN];

    let ok = run_cli(send("hello at trace"), &token).await;
    assert_eq!(ok.code, Some(0), "{}", ok.text);
    // Trace output was really produced (the check below is not vacuous).
    assert!(
        ok.text.contains("TRACE") || ok.text.contains("DEBUG"),
        "{}",
        ok.text
    );
    assert_clean("message send", &ok.text, &secrets);
    let ok = run_cli(doctor.clone(), &token).await;
    assert_eq!(ok.code, Some(0), "{}", ok.text);
    assert_clean("doctor", &ok.text, &secrets);

    // Failed auth: the same token, revoked.
    fx.server.revoke_token(&fx.seed.bot.token_id);
    let failed = run_cli(send("after revoke"), &token).await;
    assert_ne!(failed.code, Some(0), "{}", failed.text);
    assert!(failed.text.contains("401"), "{}", failed.text);
    assert_clean("message send (revoked)", &failed.text, &secrets);
    let failed = run_cli(doctor, &token).await;
    assert_eq!(failed.code, Some(1), "{}", failed.text);
    assert_clean("doctor (revoked)", &failed.text, &secrets);
    // A token that was never valid.
    let failed = run_cli(send("bad token"), FAKE_TOKEN).await;
    assert_ne!(failed.code, Some(0), "{}", failed.text);
    assert_clean("message send (unknown token)", &failed.text, &[FAKE_TOKEN]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_at_trace_level_never_prints_tokens_or_keys() {
    let fx = Fixture::new().await;
    // A second bot answers through the OpenClaw Gateway (agent mode, bearer
    // from gateway.auth.token); the first account uses the model with an apiKey.
    let agent_bot = fx.server.create_bot(
        BotSpec::new(&fx.seed.workspace.id, "Agent")
            .handle("agentbot")
            .scopes(["bot:write"]),
    );
    let config = format!(
        r#"{{
  channels: {{
    clickclack: {{
      enabled: true,
      baseUrl: "{base}",
      workspace: "default",
      accounts: {{
        modelbot: {{ token: "{model_token}", replyMode: "model", model: "stub/echo" }},
        agentbot: {{ token: "{agent_token}", replyMode: "agent", agentId: "main" }},
      }},
    }},
  }},
  models: {{ providers: {{ stub: {{ baseUrl: "{model}", api: "openai-completions", apiKey: "{API_KEY}" }} }} }},
  gateway: {{ auth: {{ token: "{GATEWAY_TOKEN}" }} }},
}}"#,
        base = fx.server.base_url(),
        model_token = fx.seed.bot.token,
        agent_token = agent_bot.token,
        model = fx.model.base_url(),
    );
    let config_path = fx.state.path().join("openclaw.json5");
    std::fs::write(&config_path, config).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
        .arg("--config")
        .arg(&config_path)
        .arg("gateway")
        .arg("--state-dir")
        .arg(fx.state.path().join("state"))
        .env_remove("OPENCLAW_CONFIG_PATH")
        .env_remove("CLICKCLACK_BOT_TOKEN")
        .env("RUST_LOG", "trace")
        .env("OPENCLAW_GATEWAY_URL", fx.model.root_url())
        .env_remove("OPENCLAW_GATEWAY_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
    for pipe in [
        Box::new(child.stdout.take().expect("stdout"))
            as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let captured = Arc::clone(&captured);
        tokio::spawn(async move {
            let mut pipe = pipe;
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                captured
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&buf[..n]);
            }
        });
    }
    let text = || {
        String::from_utf8_lossy(&captured.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    };
    wait_until("both accounts ready", WAIT, || {
        let t = text();
        t.contains("[modelbot] ready") && t.contains("[agentbot] ready")
    })
    .await;

    // A conversation: both bots answer in #general, a thread and a DM.
    let source = fx.post("hello both bots");
    let bots = [fx.seed.bot.user.id.clone(), agent_bot.user.id.clone()];
    let answered =
        |msgs: &[clickclack_proto::objects::Message], bot| msgs.iter().any(|m| &m.author_id == bot);
    wait_until("both answered in #general", WAIT, || {
        let msgs = fx.server.channel_messages(&fx.seed.general.id);
        bots.iter().all(|b| answered(&msgs, b))
    })
    .await;
    fx.server
        .post_thread_reply(&fx.seed.owner.user.id, &source.id, "and in the thread");
    let dm = fx.server.open_dm(
        &fx.seed.workspace.id,
        &fx.seed.owner.user.id,
        &agent_bot.user.id,
    );
    fx.server
        .post_dm(&fx.seed.owner.user.id, &dm.id, "a private question");
    wait_until("the DM is answered", WAIT, || {
        answered(&fx.server.dm_messages(&dm.id), &agent_bot.user.id)
    })
    .await;
    // The secrets were really used.
    let requests = fx.model.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {API_KEY}")))
    );
    assert!(
        requests
            .iter()
            .any(|r| r.header("authorization") == Some(&format!("Bearer {GATEWAY_TOKEN}")))
    );

    // Failed auth: revoke the model bot's token (1008 on its socket).
    fx.server.revoke_token(&fx.seed.bot.token_id);
    wait_until("the revoked account stops", WAIT, || {
        text().contains("[modelbot] stopped")
    })
    .await;
    let pid = child.id().expect("pid").to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status().await;
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let all = text();
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "trace logs were produced"
    );
    assert_clean(
        "gateway output",
        &all,
        &[&fx.seed.bot.token, &agent_bot.token, API_KEY, GATEWAY_TOKEN],
    );
}

#[tokio::test]
async fn debug_of_every_type_holding_a_secret_redacts_it() {
    let fx = Fixture::new().await;
    let token = fx.seed.bot.token.clone();
    let config_text = format!(
        r#"{{
  channels: {{ clickclack: {{ enabled: true, baseUrl: "{base}", token: "{token}", workspace: "default",
    replyMode: "model", model: "stub/echo",
    accounts: {{ second: {{ token: {{ source: "env", provider: "default", id: "SECOND_TOKEN" }} }} }} }} }},
  models: {{ providers: {{ stub: {{ baseUrl: "{model}", api: "openai-completions", apiKey: "{API_KEY}" }} }} }},
  gateway: {{ auth: {{ token: "{GATEWAY_TOKEN}" }} }},
}}"#,
        base = fx.server.base_url(),
        model = fx.model.base_url(),
    );
    let env = MapEnv::new()
        .with("SECOND_TOKEN", FAKE_TOKEN)
        .with("OPENCLAW_GATEWAY_TOKEN", GATEWAY_TOKEN);
    let config = parse_config_str(&config_text, &env).expect("config parses");
    let channel = ClickClackChannel::from_config_with_env(config.clone(), &env).expect("channel");
    let sender = channel.sender(None).expect("sender");
    let client = Client::builder(fx.server.base_url()).token(token.as_str());
    let built = Client::builder(fx.server.base_url())
        .token(token.as_str())
        .build()
        .expect("client");
    let realtime =
        clickclack_realtime::RealtimeStream::builder(built.clone(), fx.seed.workspace.id.clone());
    let host_config = GatewayHostConfig::resolve(None, None, |name| {
        (name == "OPENCLAW_GATEWAY_TOKEN").then(|| GATEWAY_TOKEN.to_owned())
    });
    let host =
        OpenClawGatewayHost::new(host_config.clone(), HttpOptions::agent_defaults()).expect("host");
    let options = GatewayOptions {
        state_dir: Some(fx.state.path().to_path_buf()),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(&config, &env, options.clone())
        .await
        .expect("gateway starts");

    let table: Vec<(&str, String)> = vec![
        ("BotToken", format!("{:?}", BotToken::from(token.as_str()))),
        (
            "BotToken Display",
            format!("{}", BotToken::from(token.as_str())),
        ),
        ("ClientBuilder", format!("{client:?}")),
        ("Client", format!("{built:?}")),
        ("RealtimeStreamBuilder", format!("{realtime:?}")),
        ("Secret", format!("{:?}", Secret::new(token.as_str()))),
        (
            "SecretInput::Plain",
            format!("{:?}", SecretInput::Plain(Secret::new(token.as_str()))),
        ),
        ("ApiKey", format!("{:?}", ApiKey::new(API_KEY))),
        ("GatewayHostConfig", format!("{host_config:?}")),
        ("OpenClawGatewayHost", format!("{host:?}")),
        ("MapEnv", format!("{env:?}")),
        ("OpenClawConfig", format!("{config:?}")),
        ("ResolvedAccount", format!("{:?}", channel.accounts())),
        ("ClickClackChannel", format!("{channel:?}")),
        ("AccountSender", format!("{sender:?}")),
        ("GatewayOptions", format!("{options:?}")),
        ("Gateway", format!("{gateway:?}")),
    ];
    for (what, text) in &table {
        assert!(!text.is_empty(), "{what}");
        assert_clean(what, text, &[&token, FAKE_TOKEN, API_KEY, GATEWAY_TOKEN]);
    }
    // Alternate (pretty) Debug too.
    for (what, text) in [
        ("OpenClawConfig {:#?}", format!("{config:#?}")),
        (
            "ResolvedAccount {:#?}",
            format!("{:#?}", channel.accounts()),
        ),
    ] {
        assert_clean(what, &text, &[&token, FAKE_TOKEN, API_KEY, GATEWAY_TOKEN]);
    }
    gateway.shutdown().await;
}
