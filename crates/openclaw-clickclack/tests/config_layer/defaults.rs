//! Row 3: resolved defaults (accounts.test.ts "accountDefaults" and the
//! normalisation cases).

use openclaw_clickclack::accounts::{ResolvedDiscussions, resolve_account};
use openclaw_clickclack::config::{
    AccountConfig, AllowBots, ClickClackConfig, MapEnv, OpenClawConfig, ReplyMode,
};
use openclaw_clickclack::secrets::{Secret, SecretInput, TokenSource, TokenStatus};

use super::support::{no_env, parse};

fn resolve(
    config: &OpenClawConfig,
    id: Option<&str>,
    env: &MapEnv,
) -> openclaw_clickclack::accounts::ResolvedAccount {
    match resolve_account(config, id, env) {
        Ok(account) => account,
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn resolved_defaults_match_the_reference_account_defaults() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "test-token-placeholder",
        } } }"#,
        &no_env(),
    );
    let a = resolve(&config, None, &no_env());
    assert_eq!(a.allow_bots, AllowBots::False);
    assert_eq!(a.allow_from, ["*"]);
    assert_eq!(a.api_endpoint, "https://app.clickclack.chat");
    assert_eq!(a.base_url, "https://app.clickclack.chat");
    assert_eq!(a.bot_loop_protection, None);
    assert!(a.configured);
    assert_eq!(a.bot_user_id, None);
    assert_eq!(a.default_to, "channel:general");
    assert!(a.enabled);
    assert!(!a.agent_activity);
    assert!(a.command_menu);
    assert_eq!(
        a.discussions,
        ResolvedDiscussions {
            enabled: false,
            workspace: "wsp_1".into(),
            control_url_base: None,
            section: "Sessions".into()
        }
    );
    assert!(a.groups.is_empty());
    assert!(a.mention_patterns.is_empty());
    assert_eq!(a.name, None);
    assert!(!a.native_progress);
    assert_eq!(a.reconnect_ms, 1_500);
    assert!(!a.require_mention);
    assert_eq!(a.system_prompt, None);
    assert_eq!(a.token_source, TokenSource::Config);
    assert_eq!(a.token_status, TokenStatus::Available);
    assert_eq!(a.workspace, "wsp_1");
    assert_eq!(a.reply_mode, ReplyMode::Agent);
    assert_eq!(a.token.expose_secret(), "test-token-placeholder");
    assert_eq!(a.media_max_bytes, 64 * 1024 * 1024);
    assert_eq!(a.config.allow_from, Some(vec!["*".to_owned()]));
}

#[test]
fn normalizes_reconnect_intervals_to_the_public_config_bounds() {
    // The schema rejects out-of-range values in files; values built in code
    // (or merged from elsewhere) are clamped like the TS resolver does.
    let config = OpenClawConfig {
        clickclack: Some(ClickClackConfig {
            root: AccountConfig {
                enabled: Some(true),
                base_url: Some("https://app.clickclack.chat".into()),
                token: Some(SecretInput::Plain(Secret::new(
                    "very-long-browser-token-0123456789",
                ))),
                workspace: Some("wsp_1".into()),
                reconnect_ms: Some(1),
                ..AccountConfig::default()
            },
            accounts: Some(
                [(
                    "slow".to_owned(),
                    AccountConfig {
                        reconnect_ms: Some(1_000_000),
                        ..AccountConfig::default()
                    },
                )]
                .into(),
            ),
            ..ClickClackConfig::default()
        }),
        ..OpenClawConfig::default()
    };
    assert_eq!(resolve(&config, None, &no_env()).reconnect_ms, 100);
    assert_eq!(
        resolve(&config, Some("slow"), &no_env()).reconnect_ms,
        60_000
    );
}

#[test]
fn enables_command_menus_unless_explicitly_disabled() {
    let config = parse(
        r#"{ channels: { clickclack: {
            enabled: true, baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "t",
            accounts: { disabled: { commandMenu: false }, enabled: { commandMenu: true } },
        } } }"#,
        &no_env(),
    );
    assert!(resolve(&config, None, &no_env()).command_menu);
    assert!(!resolve(&config, Some("disabled"), &no_env()).command_menu);
    assert!(resolve(&config, Some("enabled"), &no_env()).command_menu);
}

#[test]
fn resolves_the_agent_activity_opt_in_only_when_explicitly_enabled() {
    let config = parse(
        r#"{ channels: { clickclack: {
            enabled: true, baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "test-token-placeholder",
            accounts: { bridge: { token: "clawrouter-e2e-secret", agentActivity: true } },
        } } }"#,
        &no_env(),
    );
    assert!(!resolve(&config, None, &no_env()).agent_activity);
    assert!(resolve(&config, Some("bridge"), &no_env()).agent_activity);
}

#[test]
fn resolves_a_private_api_base_per_account_and_defaults_it_to_the_public_base() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://clack.openclaw.ai/", apiBaseUrl: "http://127.0.0.1:8484/",
            workspace: "default", token: "test-token-placeholder",
            accounts: { public: { apiBaseUrl: "https://api.clickclack.example/" }, inherited: {} },
        } } }"#,
        &no_env(),
    );
    assert_eq!(
        resolve(&config, None, &no_env()).api_endpoint,
        "http://127.0.0.1:8484"
    );
    assert_eq!(
        resolve(&config, Some("public"), &no_env()).api_endpoint,
        "https://api.clickclack.example"
    );
    assert_eq!(
        resolve(&config, Some("inherited"), &no_env()).api_endpoint,
        "http://127.0.0.1:8484"
    );
    let fallback = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://clack.openclaw.ai/", workspace: "default", token: "t" } } }"#,
        &no_env(),
    );
    let a = resolve(&fallback, None, &no_env());
    assert_eq!(a.api_endpoint, "https://clack.openclaw.ai");
    assert_eq!(a.base_url, "https://clack.openclaw.ai");
}

#[test]
fn normalizes_per_account_discussion_settings_and_defaults() {
    let config = parse(
        r#"{ channels: { clickclack: {
            enabled: true, baseUrl: "https://app.clickclack.chat", token: "test-token", workspace: "default",
            discussions: { enabled: true, controlUrlBase: "https://team.openclaw.ai/" },
            accounts: { support: { workspace: "support",
                discussions: { enabled: true, workspace: "operations", section: "Live work" } } },
        } } }"#,
        &no_env(),
    );
    assert_eq!(
        resolve(&config, None, &no_env()).discussions,
        ResolvedDiscussions {
            enabled: true,
            workspace: "default".into(),
            control_url_base: Some("https://team.openclaw.ai/".into()),
            section: "Sessions".into(),
        }
    );
    assert_eq!(
        resolve(&config, Some("support"), &no_env()).discussions,
        ResolvedDiscussions {
            enabled: true,
            workspace: "operations".into(),
            control_url_base: Some("https://team.openclaw.ai/".into()),
            section: "Live work".into(),
        }
    );
}

#[test]
fn trims_and_defaults_strings() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "  https://a.example//  ", workspace: "  wsp_1 ", token: "  ccb_t  ",
            defaultTo: "   ", name: "  ", agentId: " service-bot ", model: " m ", systemPrompt: "",
            replyMode: "model", mediaMaxMb: 8, allowBots: "mentions",
        } } }"#,
        &no_env(),
    );
    let a = resolve(&config, None, &no_env());
    // Only one trailing slash is removed, as in the TS plugin.
    assert_eq!(a.base_url, "https://a.example/");
    assert_eq!(a.workspace, "wsp_1");
    assert_eq!(a.token.expose_secret(), "ccb_t");
    assert_eq!(a.default_to, "channel:general");
    assert_eq!(a.name, None);
    assert_eq!(a.agent_id.as_deref(), Some("service-bot"));
    assert_eq!(a.model.as_deref(), Some("m"));
    assert_eq!(a.system_prompt, None);
    assert_eq!(a.reply_mode, ReplyMode::Model);
    assert_eq!(a.media_max_bytes, 8 * 1024 * 1024);
    assert_eq!(a.allow_bots, AllowBots::Mentions);
}

#[test]
fn enabled_needs_both_levels() {
    let config = parse(
        r#"{ channels: { clickclack: {
            enabled: false, baseUrl: "https://a.example", workspace: "w", token: "t",
            accounts: { on: { enabled: true } },
        } } }"#,
        &no_env(),
    );
    assert!(!resolve(&config, None, &no_env()).enabled);
    assert!(!resolve(&config, Some("on"), &no_env()).enabled);
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://a.example", workspace: "w", token: "t", accounts: { off: { enabled: false } },
        } } }"#,
        &no_env(),
    );
    assert!(resolve(&config, None, &no_env()).enabled);
    assert!(!resolve(&config, Some("off"), &no_env()).enabled);
}

#[test]
fn media_limit_is_capped_at_64_mib() {
    use openclaw_clickclack::accounts::media_max_bytes;
    assert_eq!(media_max_bytes(None), 64 * 1024 * 1024);
    assert_eq!(media_max_bytes(Some(1000.0)), 64 * 1024 * 1024);
    assert_eq!(media_max_bytes(Some(0.5)), 512 * 1024);
}
