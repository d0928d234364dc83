//! Shared helpers: a seeded testkit server and a channel configured the way
//! the OpenClaw docs show (JSON5, token from an env secret ref).
#![allow(dead_code)]

use clickclack_testkit::{Seed, TestServer};
use openclaw_clickclack::channel::{ChannelOptions, ClickClackChannel};
use openclaw_clickclack::config::{MapEnv, parse_config_str};

pub const TOKEN_ENV: &str = "CLICKCLACK_BOT_TOKEN";

pub struct Env {
    pub server: TestServer,
    pub seed: Seed,
}

pub async fn start() -> Env {
    let server = TestServer::start().await;
    let seed = server.seed();
    Env { server, seed }
}

/// The docs' config, with `extra` keys added to `channels.clickclack`.
pub fn config_text(base_url: &str, extra: &str) -> String {
    format!(
        r#"{{
  plugins: {{ entries: {{ clickclack: {{ llm: {{ allowAgentIdOverride: true }} }} }} }},
  channels: {{
    clickclack: {{
      enabled: true,
      baseUrl: "{base_url}",
      token: {{ source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" }},
      workspace: "default",
      defaultTo: "channel:general",
      agentId: "clickclack-bot",
      replyMode: "model",
      {extra}
    }},
  }},
}}"#
    )
}

pub fn channel_with(
    env: &Env,
    token: &str,
    extra: &str,
    options: ChannelOptions,
) -> ClickClackChannel {
    let vars = MapEnv::new().with(TOKEN_ENV, token);
    let config = parse_config_str(&config_text(&env.server.base_url(), extra), &vars)
        .expect("config parses");
    ClickClackChannel::from_config_with_env(config, &vars)
        .expect("channel builds")
        .with_options(options)
}

pub fn channel(env: &Env) -> ClickClackChannel {
    channel_with(env, &env.seed.bot.token, "", ChannelOptions::default())
}

/// Every request the server saw, by method.
pub fn all_requests(server: &TestServer) -> u64 {
    ["GET", "POST", "PUT", "PATCH", "DELETE"]
        .iter()
        .map(|m| server.request_count(m, "/"))
        .sum()
}
