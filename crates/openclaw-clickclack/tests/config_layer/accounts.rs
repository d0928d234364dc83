//! Rows 4–5: listing, implicit default, normalisation, `defaultAccount`,
//! inheritance and merges (accounts.test.ts).

use openclaw_clickclack::accounts::{
    account_entry, default_account_id, list_account_ids, list_enabled_accounts,
    normalize_account_id, normalize_optional_account_id, refuse_shared_tokens, resolve_account,
    resolve_all_accounts, resolve_listed_account,
};
use openclaw_clickclack::config::{AllowBots, BotLoopProtection, GroupConfig, MapEnv};
use openclaw_clickclack::errors::ClickClackError;

use super::support::{no_env, parse};

#[test]
fn preserves_top_level_default_account_when_named_accounts_are_configured() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "test-token-placeholder",
            accounts: { work: { enabled: false } },
        } } }"#,
        &no_env(),
    );
    assert_eq!(list_account_ids(&config, &no_env()), ["default", "work"]);
    assert_eq!(default_account_id(&config, &no_env()), "default");
    let account = resolve_account(&config, None, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(account.token.expose_secret(), "test-token-placeholder");
    let enabled = list_enabled_accounts(&config, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0].account_id, "default");
}

#[test]
fn a_root_token_inherited_by_a_named_account_is_refused_with_the_fix() {
    // Legacy root keys are the `default` account, and `work` inherits the
    // root token: listed as the reference lists them, refused as one bot twice.
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "ccb_root",
            accounts: { work: {} },
        } } }"#,
        &no_env(),
    );
    assert_eq!(list_account_ids(&config, &no_env()), ["default", "work"]);
    let all = resolve_all_accounts(&config, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    let err = refuse_shared_tokens(&config, &all).expect_err("one bot twice");
    assert_eq!(
        err.to_string(),
        "ClickClack accounts \"default\" and \"work\" use the same bot token: every message would be answered twice"
    );
    let hint = err.hint().unwrap_or_default();
    assert!(
        hint.contains("move it under channels.clickclack.accounts.default"),
        "{hint}"
    );
    // The promoted shape (what `channels add --account work` writes) runs two bots.
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_1",
            accounts: { default: { token: "ccb_root" }, work: { token: "ccb_work" } },
        } } }"#,
        &no_env(),
    );
    let all = resolve_all_accounts(&config, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 2);
    assert_eq!(refuse_shared_tokens(&config, &all), Ok(()));
    // A disabled duplicate is not a second bot.
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "ccb_root",
            accounts: { work: { enabled: false } },
        } } }"#,
        &no_env(),
    );
    let all = resolve_all_accounts(&config, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refuse_shared_tokens(&config, &all), Ok(()));
}

#[test]
fn does_not_synthesize_a_partial_top_level_default_account_from_inherited_credentials() {
    let config = parse(
        r#"{ channels: { clickclack: {
            token: "test-auth-token",
            accounts: { work: { baseUrl: "https://app.clickclack.chat", workspace: "wsp_1" } },
        } } }"#,
        &no_env(),
    );
    assert_eq!(list_account_ids(&config, &no_env()), ["work"]);
    assert_eq!(default_account_id(&config, &no_env()), "work");
}

#[test]
fn does_not_synthesize_a_default_account_from_blank_top_level_credentials() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_default", token: "   ",
            accounts: { work: { baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "gateway-token" } },
        } } }"#,
        &no_env(),
    );
    assert_eq!(list_account_ids(&config, &no_env()), ["work"]);
    assert_eq!(default_account_id(&config, &no_env()), "work");
}

#[test]
fn the_env_token_makes_the_root_an_implicit_default_account() {
    let text = r#"{ channels: { clickclack: {
        baseUrl: "https://app.clickclack.chat", workspace: "default", accounts: { work: { token: "w" } },
    } } }"#;
    let config = parse(text, &no_env());
    assert_eq!(list_account_ids(&config, &no_env()), ["work"]);
    let env = MapEnv::new().with("CLICKCLACK_BOT_TOKEN", " ccb_env ");
    assert_eq!(list_account_ids(&config, &env), ["default", "work"]);
    let blank = MapEnv::new().with("CLICKCLACK_BOT_TOKEN", "   ");
    assert_eq!(list_account_ids(&config, &blank), ["work"]);
    // A tokenFile (even unreadable) also counts.
    let config = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://a.example", workspace: "w", tokenFile: "/nonexistent" } } }"#,
        &no_env(),
    );
    assert_eq!(list_account_ids(&config, &no_env()), ["default"]);
}

#[test]
fn empty_config_lists_an_unconfigured_default() {
    let config = parse("{}", &no_env());
    assert_eq!(list_account_ids(&config, &no_env()), ["default"]);
    let account = resolve_account(&config, None, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert!(!account.configured);
    let err = account.require_configured().err();
    assert_eq!(
        err.as_ref().map(ToString::to_string).as_deref(),
        Some("ClickClack is not configured for account \"default\"")
    );
    assert_eq!(
        err.and_then(|e| e.hint()).as_deref(),
        Some(
            "set `channels.clickclack.baseUrl`; set `channels.clickclack.token` (or `channels.clickclack.tokenFile`, or export CLICKCLACK_BOT_TOKEN); set `channels.clickclack.workspace`; or run: openclaw-clickclack channels add clickclack --base-url URL --workspace NAME --token ccb_… (or --code CODE)"
        )
    );
}

#[test]
fn named_account_not_configured_hint_names_its_path() {
    let config = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://a.example", workspace: "w", accounts: { peter: {} } } } }"#,
        &no_env(),
    );
    let env = MapEnv::new().with("CLICKCLACK_BOT_TOKEN", "ccb_default_only");
    let account = resolve_account(&config, Some("peter"), &env).unwrap_or_else(|e| panic!("{e}"));
    let err = account.require_configured().err();
    assert_eq!(
        err.as_ref().map(ToString::to_string).as_deref(),
        Some("ClickClack is not configured for account \"peter\"")
    );
    assert_eq!(
        err.and_then(|e| e.hint()).as_deref(),
        Some(
            "set `channels.clickclack.accounts.peter.token` or `channels.clickclack.accounts.peter.tokenFile` (CLICKCLACK_BOT_TOKEN is only used by the default account); or run: openclaw-clickclack channels add clickclack --account peter --base-url URL --workspace NAME --token ccb_… (or --code CODE)"
        )
    );
}

#[test]
fn account_keys_are_normalised() {
    assert_eq!(normalize_account_id("Work Team"), "work-team");
    assert_eq!(normalize_account_id("  SERVICE  "), "service");
    assert_eq!(normalize_account_id("a.b/c"), "a-b-c");
    assert_eq!(normalize_account_id("--x--"), "x");
    assert_eq!(normalize_account_id("a-"), "a-");
    assert_eq!(normalize_account_id("Ünïcode Bot"), "n-code-bot");
    assert_eq!(normalize_account_id(""), "default");
    assert_eq!(normalize_account_id("__proto__"), "default");
    assert_eq!(normalize_optional_account_id("constructor"), None);
    assert_eq!(
        normalize_optional_account_id(&"x".repeat(100)).map(|s| s.len()),
        Some(64)
    );
    assert_eq!(
        normalize_optional_account_id(&format!("{} y", "x".repeat(70))).map(|s| s.len()),
        Some(64)
    );

    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://a.example", workspace: "w",
            defaultAccount: " Work Team ",
            accounts: { "Work Team": { token: "ccb_work" }, Ops: { token: "ccb_ops" } },
        } } }"#,
        &no_env(),
    );
    assert_eq!(list_account_ids(&config, &no_env()), ["ops", "work-team"]);
    assert_eq!(default_account_id(&config, &no_env()), "work-team");
    let work = resolve_account(&config, None, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(work.account_id, "work-team");
    assert_eq!(work.token.expose_secret(), "ccb_work");
    let ops = resolve_account(&config, Some("OPS"), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ops.token.expose_secret(), "ccb_ops");
    let channel = config
        .clickclack
        .as_ref()
        .unwrap_or_else(|| panic!("missing"));
    assert_eq!(
        account_entry(channel, "work-team").map(|(k, _)| k),
        Some("Work Team")
    );
}

#[test]
fn default_account_falls_back_when_not_listed() {
    let config = parse(
        r#"{ channels: { clickclack: { defaultAccount: "ghost", accounts: { b: {}, a: {} } } } }"#,
        &no_env(),
    );
    assert_eq!(default_account_id(&config, &no_env()), "a");
}

#[test]
fn unknown_accounts_are_rejected_by_the_listed_resolver() {
    let config = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://a.example", workspace: "w", token: "t", accounts: { work: {} } } } }"#,
        &no_env(),
    );
    let err = resolve_listed_account(&config, Some("ghost"), &no_env()).err();
    assert_eq!(
        err.as_ref().map(ToString::to_string).as_deref(),
        Some("ClickClack account \"ghost\" is not configured (configured accounts: default, work)")
    );
    assert!(matches!(err, Some(ClickClackError::UnknownAccount { .. })));
    let ok =
        resolve_listed_account(&config, Some("Work"), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok.account_id, "work");
    // Like the TS plugin, the plain resolver accepts any id (inheriting the root).
    let ghost =
        resolve_account(&config, Some("ghost"), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert!(ghost.configured);
}

#[test]
fn merges_partial_named_account_group_overrides_with_the_root_group_policy() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", token: "test-token-placeholder",
            groups: { " chn_1 ": { requireMention: true, mentionPatterns: ["@root-bot"] } },
            accounts: { work: { groups: { chn_1: { requireMention: false } } } },
        } } }"#,
        &no_env(),
    );
    let account =
        resolve_account(&config, Some("work"), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    let expected = [(
        "chn_1".to_owned(),
        GroupConfig {
            require_mention: Some(false),
            mention_patterns: Some(vec!["@root-bot".to_owned()]),
            allow_bots: None,
            bot_loop_protection: None,
        },
    )]
    .into();
    assert_eq!(account.groups, expected);
    assert_eq!(account.config.groups, Some(expected));
}

#[test]
fn nested_objects_are_deep_merged() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://a.example", workspace: "w", token: "t",
            botLoopProtection: { maxEventsPerWindow: 5, windowSeconds: 30 },
            groups: { "*": { allowBots: true, botLoopProtection: { maxEventsPerWindow: 5, windowSeconds: 10 } } },
            accounts: { work: {
                botLoopProtection: { cooldownSeconds: 90 },
                groups: { "*": { botLoopProtection: { windowSeconds: 30, cooldownSeconds: 90 } } },
                allowFrom: ["usr_1"],
            } },
        } } }"#,
        &no_env(),
    );
    let account =
        resolve_account(&config, Some("work"), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        account.bot_loop_protection,
        Some(BotLoopProtection {
            enabled: None,
            max_events_per_window: Some(5),
            window_seconds: Some(30),
            cooldown_seconds: Some(90),
        })
    );
    let star = &account.groups["*"];
    assert_eq!(star.allow_bots, Some(AllowBots::True));
    assert_eq!(
        star.bot_loop_protection,
        Some(BotLoopProtection {
            enabled: None,
            max_events_per_window: Some(5),
            window_seconds: Some(30),
            cooldown_seconds: Some(90),
        })
    );
    // Lists are replaced, not merged.
    assert_eq!(account.allow_from, ["usr_1"]);
    // The root account is unaffected by the named account's overrides.
    let root = resolve_account(&config, None, &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(root.allow_from, ["*"]);
    assert_eq!(
        root.bot_loop_protection.and_then(|b| b.cooldown_seconds),
        None
    );
}

#[test]
fn named_accounts_inherit_every_root_key() {
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "https://a.example", workspace: "w", token: "root-token", replyMode: "model",
            model: "openai/x", defaultTo: "channel:ops", requireMention: true, defaultAccount: "work",
            accounts: { work: { agentId: "work-bot" } },
        } } }"#,
        &no_env(),
    );
    let work = resolve_account(&config, Some("work"), &no_env()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(work.token.expose_secret(), "root-token");
    assert_eq!(work.default_to, "channel:ops");
    assert!(work.require_mention);
    assert_eq!(work.agent_id.as_deref(), Some("work-bot"));
    assert_eq!(work.model.as_deref(), Some("openai/x"));
    assert!(work.configured);
}
