//! Rows 1–2: the strict `channels.clickclack` schema, the docs' examples, and
//! the other top-level sections.

use openclaw_clickclack::accounts::{default_account_id, list_account_ids};
use openclaw_clickclack::config::{
    AllowBots, ConfigError, IssueKind, MapEnv, ReplyMode, load_config_file, parse_config_str,
};
use openclaw_clickclack::secrets::{SecretInput, SecretSource};

use super::support::{no_env, parse, parse_err};

/// The issue's example (docs single-account form + the trust bit), verbatim.
const ISSUE_EXAMPLE: &str = r#"{
  plugins: { entries: { clickclack: { llm: { allowAgentIdOverride: true } } } },
  channels: {
    clickclack: {
      enabled: true,
      baseUrl: "https://app.clickclack.chat",
      token: { source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" },
      workspace: "default",
      defaultTo: "channel:general",
      agentId: "clickclack-bot",
      replyMode: "model",
      // or: defaultAccount: "service", accounts: { service: {...}, peter: {...} }
    },
  },
}"#;

/// docs/channels/clickclack.md "Multiple bots", verbatim.
const DOCS_MULTI: &str = r#"{
  channels: {
    clickclack: {
      enabled: true,
      baseUrl: "https://clickclack.example.com",
      defaultAccount: "service",
      accounts: {
        service: {
          token: { source: "env", provider: "default", id: "CLICKCLACK_SERVICE_BOT_TOKEN" },
          workspace: "default",
          defaultTo: "channel:general",
          agentId: "service-bot",
        },
        support: {
          token: { source: "env", provider: "default", id: "CLICKCLACK_SUPPORT_BOT_TOKEN" },
          workspace: "default",
          defaultTo: "dm:usr_...",
          agentId: "support-bot",
        },
      },
    },
  },
}"#;

/// docs "Group mention gating" configuration example, verbatim.
const DOCS_GATING: &str = r#"{
  channels: {
    clickclack: {
      enabled: true,
      token: { source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" },
      workspace: "default",
      requireMention: true,
      mentionPatterns: ["\\bBlackbird\\b"],
      allowBots: "mentions",
      botLoopProtection: { maxEventsPerWindow: 12, windowSeconds: 60 },
      groups: {
        "*": { requireMention: true, allowBots: "mentions" },
        chn_command_and_control: { requireMention: false },
      },
    },
  },
}"#;

/// docs "Keep an auth-gated public hostname" and "Session discussions".
const DOCS_API_BASE_AND_DISCUSSIONS: &str = r#"{
  channels: {
    clickclack: {
      baseUrl: "https://clack.openclaw.ai",
      apiBaseUrl: "http://127.0.0.1:8484",
      token: { source: "env", provider: "default", id: "CLICKCLACK_BOT_TOKEN" },
      workspace: "default",
      discussions: {
        enabled: true,
        workspace: "default",
        controlUrlBase: "https://team.openclaw.ai",
        section: "Sessions",
      },
      commandMenu: false,
      agentActivity: true,
    },
  },
}"#;

#[test]
fn parses_the_issue_example_single_account_form() {
    let config = parse(ISSUE_EXAMPLE, &no_env());
    assert!(config.allow_agent_id_override());
    let Some(channel) = &config.clickclack else {
        panic!("channels.clickclack missing");
    };
    let root = &channel.root;
    assert_eq!(root.enabled, Some(true));
    assert_eq!(
        root.base_url.as_deref(),
        Some("https://app.clickclack.chat")
    );
    assert_eq!(root.workspace.as_deref(), Some("default"));
    assert_eq!(root.default_to.as_deref(), Some("channel:general"));
    assert_eq!(root.agent_id.as_deref(), Some("clickclack-bot"));
    assert_eq!(root.reply_mode, Some(ReplyMode::Model));
    let Some(SecretInput::Ref(reference)) = &root.token else {
        panic!("token should be a secret ref");
    };
    assert_eq!(reference.source, SecretSource::Env);
    assert_eq!(reference.provider.as_deref(), Some("default"));
    assert_eq!(reference.id, "CLICKCLACK_BOT_TOKEN");
    assert!(channel.accounts.is_none());
    // The root token ref counts as a configured credential: implicit `default`.
    assert_eq!(list_account_ids(&config, &no_env()), ["default"]);
}

#[test]
fn parses_the_docs_multi_account_form() {
    let config = parse(DOCS_MULTI, &no_env());
    let env = no_env();
    assert_eq!(list_account_ids(&config, &env), ["service", "support"]);
    assert_eq!(default_account_id(&config, &env), "service");
    let accounts = config
        .clickclack
        .as_ref()
        .and_then(|c| c.accounts.as_ref())
        .map(|a| a.len());
    assert_eq!(accounts, Some(2));
}

#[test]
fn parses_the_docs_gating_example() {
    let config = parse(DOCS_GATING, &no_env());
    let Some(channel) = &config.clickclack else {
        panic!("missing");
    };
    let root = &channel.root;
    assert_eq!(root.require_mention, Some(true));
    assert_eq!(
        root.mention_patterns.as_deref(),
        Some(&["\\bBlackbird\\b".to_owned()][..])
    );
    assert_eq!(root.allow_bots, Some(AllowBots::Mentions));
    let blp = root.bot_loop_protection.unwrap_or_default();
    assert_eq!(blp.max_events_per_window, Some(12));
    assert_eq!(blp.window_seconds, Some(60));
    assert_eq!(blp.cooldown_seconds, None);
    let groups = root.groups.clone().unwrap_or_default();
    assert_eq!(groups["*"].allow_bots, Some(AllowBots::Mentions));
    assert_eq!(
        groups["chn_command_and_control"].require_mention,
        Some(false)
    );
}

#[test]
fn parses_the_docs_api_base_and_discussions_examples() {
    let config = parse(DOCS_API_BASE_AND_DISCUSSIONS, &no_env());
    let root = config.clickclack.map(|c| c.root).unwrap_or_default();
    assert_eq!(root.api_base_url.as_deref(), Some("http://127.0.0.1:8484"));
    let discussions = root.discussions.unwrap_or_default();
    assert_eq!(discussions.enabled, Some(true));
    assert_eq!(
        discussions.control_url_base.as_deref(),
        Some("https://team.openclaw.ai")
    );
    assert_eq!(root.command_menu, Some(false));
    assert_eq!(root.agent_activity, Some(true));
}

#[test]
fn accepts_every_row_1_account_key() {
    let text = r#"{ channels: { clickclack: {
      name: "Bot", enabled: true, configWrites: false, mediaMaxMb: 8.5, responsePrefix: "[bot]",
      baseUrl: "https://a.example", apiBaseUrl: "http://127.0.0.1:1", token: "ccb_x", tokenFile: "/tmp/t",
      workspace: "w", botUserId: "usr_1", agentId: "a", replyMode: "agent", model: "openai/gpt",
      systemPrompt: "be brief", toolsAllow: ["web"], defaultTo: "dm:usr_2", allowFrom: ["usr_3"],
      allowBots: true, botLoopProtection: { enabled: true, maxEventsPerWindow: 1, windowSeconds: 2, cooldownSeconds: 3 },
      reconnectMs: 100, agentActivity: false, nativeProgress: true, commandMenu: true, requireMention: false,
      mentionPatterns: ["x"], groups: { chn_1: { requireMention: true, mentionPatterns: [], allowBots: false,
        botLoopProtection: { enabled: false } } },
      discussions: { enabled: false, workspace: "w2", controlUrlBase: "https://c.example/", section: "S" },
      historyLimit: 0,
      accounts: { other: { name: "Other", reconnectMs: 60000 } },
      defaultAccount: "other",
    } } }"#;
    let config = parse(text, &no_env());
    let channel = config.clickclack.unwrap_or_default();
    assert_eq!(channel.history_limit, Some(0));
    assert_eq!(channel.default_account.as_deref(), Some("other"));
    assert_eq!(channel.root.media_max_mb, Some(8.5));
    assert_eq!(channel.root.reconnect_ms, Some(100));
    assert_eq!(channel.root.native_progress, Some(true));
}

fn only_issue(err: &ConfigError) -> String {
    assert_eq!(err.issues().len(), 1, "{err}");
    err.issues()[0].to_string()
}

#[test]
fn unknown_keys_are_rejected_with_their_full_path() {
    let env = no_env();
    let cases = [
        (
            "{channels: {clickclack: {accounts: {peter: {tokn: 'x'}}}}}",
            "channels.clickclack.accounts.peter.tokn: unknown key",
        ),
        (
            "{channels: {clickclack: {tokn: 'x'}}}",
            "channels.clickclack.tokn: unknown key",
        ),
        (
            "{channels: {clickclack: {groups: {chn_1: {requireMentions: true}}}}}",
            "channels.clickclack.groups.chn_1.requireMentions: unknown key",
        ),
        (
            "{channels: {clickclack: {discussions: {sections: 'x'}}}}",
            "channels.clickclack.discussions.sections: unknown key",
        ),
        (
            "{channels: {clickclack: {botLoopProtection: {max: 1}}}}",
            "channels.clickclack.botLoopProtection.max: unknown key",
        ),
        (
            "{channels: {clickclack: {token: {source: 'env', provider: 'default', id: 'X', extra: 1}}}}",
            "channels.clickclack.token.extra: unknown key",
        ),
        (
            "{channels: {clickclack: {accounts: {work: {historyLimit: 3}}}}}",
            "channels.clickclack.accounts.work.historyLimit: unknown key",
        ),
        (
            "{channels: {clickclack: {accounts: {work: {accounts: {}}}}}}",
            "channels.clickclack.accounts.work.accounts: unknown key",
        ),
        (
            "{plugins: {entries: {clickclack: {config: {anything: true}}}}}",
            "plugins.entries.clickclack.config.anything: unknown key",
        ),
    ];
    for (text, expected) in cases {
        let err = parse_err(text, &env);
        assert_eq!(only_issue(&err), expected, "{text}");
        assert_eq!(err.issues()[0].kind, IssueKind::UnknownKey);
        assert_eq!(err.to_string(), format!("<inline config>: {expected}"));
    }
}

#[test]
fn errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("openclaw.json");
    std::fs::write(
        &path,
        "{\n  channels: { clickclack: { accounts: { peter: { tokn: 'x' } } } },\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = match load_config_file(&path, &no_env()) {
        Ok(_) => panic!("should fail"),
        Err(err) => err,
    };
    assert_eq!(
        err.to_string(),
        format!(
            "{}: channels.clickclack.accounts.peter.tokn: unknown key",
            path.display()
        )
    );

    let missing = dir.path().join("nope.json");
    let err = match load_config_file(&missing, &no_env()) {
        Ok(_) => panic!("should fail"),
        Err(err) => err,
    };
    assert_eq!(
        err.to_string(),
        format!("OpenClaw config file not found: {}", missing.display())
    );
}

#[test]
fn type_errors_name_the_path_and_never_echo_the_value() {
    let env = no_env();
    let cases = [
        (
            "{channels: {clickclack: {enabled: 'yes'}}}",
            "channels.clickclack.enabled: expected boolean, found string",
        ),
        (
            "{channels: {clickclack: {workspace: 7}}}",
            "channels.clickclack.workspace: expected string, found number",
        ),
        (
            "{channels: {clickclack: {toolsAllow: ['a', 2]}}}",
            "channels.clickclack.toolsAllow[1]: expected string, found number",
        ),
        (
            "{channels: {clickclack: {allowFrom: 'usr_1'}}}",
            "channels.clickclack.allowFrom: expected array of strings, found string",
        ),
        (
            "{channels: {clickclack: {accounts: {work: {token: 12}}}}}",
            "channels.clickclack.accounts.work.token: expected string or secret ref object, found number",
        ),
        (
            "{channels: {clickclack: {replyMode: 'ccb_secret_value'}}}",
            "channels.clickclack.replyMode: expected \"agent\" or \"model\"",
        ),
        (
            "{channels: {clickclack: {allowBots: 'sometimes'}}}",
            "channels.clickclack.allowBots: expected true, false or \"mentions\"",
        ),
        (
            "{channels: {clickclack: {reconnectMs: 1}}}",
            "channels.clickclack.reconnectMs: must be an integer between 100 and 60000",
        ),
        (
            "{channels: {clickclack: {reconnectMs: 150.5}}}",
            "channels.clickclack.reconnectMs: must be an integer",
        ),
        (
            "{channels: {clickclack: {mediaMaxMb: 0}}}",
            "channels.clickclack.mediaMaxMb: must be a number greater than 0",
        ),
        (
            "{channels: {clickclack: {baseUrl: 'clickclack.example.com'}}}",
            "channels.clickclack.baseUrl: expected an http:// or https:// URL",
        ),
        (
            "{channels: {clickclack: {botLoopProtection: {windowSeconds: 0}}}}",
            "channels.clickclack.botLoopProtection.windowSeconds: must be an integer >= 1",
        ),
        (
            "{channels: {clickclack: {historyLimit: -1}}}",
            "channels.clickclack.historyLimit: must be an integer >= 0",
        ),
        (
            "{channels: {clickclack: {token: {source: 'vault', provider: 'default', id: 'X'}}}}",
            "channels.clickclack.token.source: expected \"env\", \"file\" or \"exec\"",
        ),
        (
            "{channels: {clickclack: {token: {source: 'env', provider: 'Default', id: 'X'}}}}",
            "channels.clickclack.token.provider: Secret reference provider must match /^[a-z][a-z0-9_-]{0,63}$/ (example: \"default\").",
        ),
        (
            "{channels: {clickclack: {token: {source: 'env', id: 'lower'}}}}",
            "channels.clickclack.token.id: Env secret reference id must match /^[A-Z][A-Z0-9_]{0,127}$/ (example: \"OPENAI_API_KEY\").",
        ),
        (
            "{channels: {clickclack: null}}",
            "channels.clickclack: expected object, found null",
        ),
        (
            "{channels: {clickclack: {accounts: {work: 'x'}}}}",
            "channels.clickclack.accounts.work: expected object, found string",
        ),
        (
            "{plugins: {entries: {clickclack: {llm: {allowAgentIdOverride: 'true'}}}}}",
            "plugins.entries.clickclack.llm.allowAgentIdOverride: expected boolean, found string",
        ),
        (
            "{secrets: {providers: {vault: {source: 1}}}}",
            "secrets.providers.vault.source: expected string, found number",
        ),
    ];
    for (text, expected) in cases {
        let err = parse_err(text, &env);
        assert_eq!(only_issue(&err), expected, "{text}");
        assert!(!err.to_string().contains("ccb_secret_value"));
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let err = parse_err(
        "{channels: {clickclack: {tokn: 1, enabled: 2, accounts: {a: {b: 3}}}}}",
        &no_env(),
    );
    let issues: Vec<String> = err.issues().iter().map(ToString::to_string).collect();
    assert_eq!(
        issues,
        [
            "channels.clickclack.tokn: unknown key",
            "channels.clickclack.enabled: expected boolean, found number",
            "channels.clickclack.accounts.a.b: unknown key",
        ]
    );
    assert!(
        err.to_string()
            .starts_with("<inline config>: 3 problems\n  - ")
    );
}

#[test]
fn account_keys_must_normalise_uniquely() {
    let err = parse_err(
        "{channels: {clickclack: {accounts: {'Work Team': {}, 'work-team': {}}}}}",
        &no_env(),
    );
    assert_eq!(err.issues().len(), 1, "{err}");
    assert!(
        err.issues()[0]
            .to_string()
            .starts_with("channels.clickclack.accounts.work-team: account id \"work-team\" is also used by the key \"Work Team\""),
        "{err}"
    );
    let err = parse_err(
        "{channels: {clickclack: {accounts: {'!!!': {}}}}}",
        &no_env(),
    );
    assert!(
        err.to_string()
            .contains("channels.clickclack.accounts.!!!: this key cannot be used as an account id")
    );
}

#[test]
fn other_sections_are_accepted_and_ignored() {
    let config = parse(
        r#"{
          channels: { telegram: { botToken: "${UNSET_TELEGRAM}", whatever: [1, 2] }, clickclack: { workspace: "w" } },
          tools: { sessions: { visibility: "tree" } },
          logging: { level: "debug" },
          env: { vars: { X: "1" } },
        }"#,
        &no_env(),
    );
    assert!(config.clickclack.is_some());
    assert!(config.warnings.is_empty());
}

#[test]
fn no_clickclack_section_is_fine() {
    let config = parse("{}", &no_env());
    assert!(config.clickclack.is_none());
    assert!(!config.allow_agent_id_override());
}

#[test]
fn models_agents_and_gateway_are_read_leniently() {
    let env = MapEnv::new().with("OPENAI_API_KEY", "sk-test");
    let config = parse(
        r#"{
          models: {
            mode: "merge",
            providers: {
              openai: {
                baseUrl: "https://api.openai.com/v1",
                apiKey: "${OPENAI_API_KEY}",
                api: "openai-completions",
                models: [
                  { id: "gpt-5.4-mini", name: "GPT mini", contextWindow: 128000, maxTokens: 4096, reasoning: false },
                  { name: "no id" },
                  "not an object",
                ],
              },
              local: { baseUrl: 42, apiKey: { source: "env", provider: "default", id: "LOCAL_KEY" } },
            },
          },
          agents: {
            defaults: { model: { primary: "openai/gpt-5.4-mini", fallbacks: ["anthropic/claude"] } },
            list: [ { id: "clickclack-bot", name: "Bot", default: true, model: "openai/gpt-5.4-mini" }, { name: "anon" } ],
          },
          gateway: { port: 18789, bind: "loopback", mode: "local", auth: { token: "secret" } },
        }"#,
        &env,
    );
    let models = config.models.clone().unwrap_or_default();
    let openai = &models.providers["openai"];
    assert_eq!(openai.models.len(), 1);
    assert_eq!(openai.models[0].id, "gpt-5.4-mini");
    assert_eq!(openai.models[0].context_window, Some(128_000));
    let Some(SecretInput::Plain(key)) = &openai.api_key else {
        panic!("apiKey should be plain");
    };
    assert_eq!(key.expose_secret(), "sk-test");
    assert!(!format!("{config:?}").contains("sk-test"));
    assert!(matches!(
        models.providers["local"].api_key,
        Some(SecretInput::Ref(_))
    ));
    assert_eq!(models.providers["local"].base_url, None);

    let agents = config.agents.clone().unwrap_or_default();
    assert_eq!(
        agents
            .defaults
            .model
            .as_ref()
            .and_then(|m| m.primary.as_deref()),
        Some("openai/gpt-5.4-mini")
    );
    assert_eq!(agents.list.len(), 1);
    assert!(agents.list[0].default);
    assert_eq!(
        agents.list[0]
            .model
            .as_ref()
            .and_then(|m| m.primary.as_deref()),
        Some("openai/gpt-5.4-mini")
    );
    let gateway = config.gateway.clone().unwrap_or_default();
    assert_eq!(gateway.port, Some(18_789));
    assert_eq!(gateway.bind.as_deref(), Some("loopback"));

    let warnings: Vec<String> = config.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "models.providers.local.baseUrl: expected string, found number",
            "models.providers.openai.models[1].id: required; model skipped",
            "models.providers.openai.models[2]: expected object, found string",
            "agents.list[1].id: required; agent skipped",
        ]
    );
}

#[test]
fn syntax_errors_have_a_line_and_column() {
    let err = parse_err(
        "{\n  channels: {\n    clickclack: { enabled: true,, }\n  }\n}",
        &no_env(),
    );
    let message = err.to_string();
    assert!(
        message.starts_with("<inline config>: invalid JSON5: "),
        "{message}"
    );
    assert!(message.contains("line 3"), "{message}");

    let err = parse_err("[1, 2]", &no_env());
    assert_eq!(
        err.to_string(),
        "<inline config>: (root): expected object, found array"
    );

    let deep = format!("{{a: {}{}}}", "[".repeat(500), "]".repeat(500));
    let err = parse_err(&deep, &no_env());
    assert!(
        err.to_string().contains("nesting deeper than 128 levels"),
        "{err}"
    );
}

#[test]
fn json5_niceties_work() {
    let config = parse(
        "// leading comment\n{ /* block */ 'channels': { \"clickclack\": { reconnectMs: 0x3e8, workspace: 'w', }, }, }",
        &no_env(),
    );
    assert_eq!(
        config.clickclack.map(|c| c.root.reconnect_ms),
        Some(Some(1000))
    );
    assert!(parse_config_str("", &no_env()).is_err());
    // Non-finite JSON5 numbers never panic; they are rejected where numbers matter.
    for text in [
        "{channels: {clickclack: {mediaMaxMb: Infinity}}}",
        "{channels: {clickclack: {mediaMaxMb: NaN}}}",
        "{channels: {clickclack: {reconnectMs: -Infinity}}}",
        "{channels: {clickclack: {reconnectMs: 1e400}}}",
        "{channels: {clickclack: {reconnectMs: 18446744073709551616}}}",
    ] {
        assert!(parse_config_str(text, &no_env()).is_err(), "{text}");
    }
}

#[test]
fn load_finds_the_config_like_openclaw() {
    use openclaw_clickclack::config::load;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".openclaw")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        home.join(".openclaw/openclaw.json"),
        "{channels: {clickclack: {workspace: 'from-home'}}}",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let custom = dir.path().join("custom.json5");
    std::fs::write(&custom, "{channels: {clickclack: {workspace: 'from-env'}}}")
        .unwrap_or_else(|e| panic!("{e}"));
    let flag = dir.path().join("flag.json");
    std::fs::write(&flag, "{channels: {clickclack: {workspace: 'from-flag'}}}")
        .unwrap_or_else(|e| panic!("{e}"));

    let workspace = |loaded: openclaw_clickclack::config::LoadedConfig| {
        loaded.config.clickclack.and_then(|c| c.root.workspace)
    };
    let env = MapEnv::new().with("HOME", home.display().to_string());
    let loaded = load(None, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.path, home.join(".openclaw/openclaw.json"));
    assert_eq!(workspace(loaded).as_deref(), Some("from-home"));

    let env = env.with("OPENCLAW_CONFIG_PATH", custom.display().to_string());
    assert_eq!(
        workspace(load(None, &env).unwrap_or_else(|e| panic!("{e}"))).as_deref(),
        Some("from-env")
    );
    assert_eq!(
        workspace(load(Some(&flag), &env).unwrap_or_else(|e| panic!("{e}"))).as_deref(),
        Some("from-flag")
    );

    let err = load(None, &MapEnv::new()).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "cannot locate the OpenClaw config: pass --config PATH or set OPENCLAW_CONFIG_PATH (HOME is not set)"
        )
    );
}
