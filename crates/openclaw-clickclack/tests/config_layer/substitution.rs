//! `${VAR}` substitution as OpenClaw does it.

use openclaw_clickclack::config::{
    ConfigError, MapEnv, SubstitutionError, load_config_file, substitute_str,
};

use super::support::{no_env, parse, parse_err};

#[test]
fn substitutes_vars_in_clickclack_strings() {
    let env = MapEnv::new()
        .with("CC_BASE", "https://clickclack.example.com")
        .with("CC_WS", "default")
        .with("WORK_TOKEN", "ccb_work");
    let config = parse(
        r#"{ channels: { clickclack: {
            baseUrl: "${CC_BASE}",
            workspace: "${CC_WS}",
            allowFrom: ["usr_${CC_WS}", "$${CC_WS}"],
            accounts: { work: { token: "${WORK_TOKEN}" } },
        } } }"#,
        &env,
    );
    let channel = config.clickclack.unwrap_or_default();
    assert_eq!(
        channel.root.base_url.as_deref(),
        Some("https://clickclack.example.com")
    );
    assert_eq!(channel.root.workspace.as_deref(), Some("default"));
    assert_eq!(
        channel.root.allow_from,
        Some(vec!["usr_default".to_owned(), "${CC_WS}".to_owned()])
    );
}

#[test]
fn missing_vars_name_the_config_path_and_file() {
    let err = parse_err(
        "{channels: {clickclack: {accounts: {work: {token: '${WORK_TOKEN}'}}}}}",
        &no_env(),
    );
    assert_eq!(
        err.to_string(),
        "<inline config>: Missing env var \"WORK_TOKEN\" referenced at config path: channels.clickclack.accounts.work.token"
    );
    assert!(matches!(
        err,
        ConfigError::Substitution {
            source: SubstitutionError::MissingEnvVar { .. },
            ..
        }
    ));

    let err = parse_err(
        "{channels: {clickclack: {mentionPatterns: ['ok', '${EMPTY}']}}}",
        &MapEnv::new().with("EMPTY", ""),
    );
    assert!(
        err.to_string()
            .ends_with("Missing env var \"EMPTY\" referenced at config path: channels.clickclack.mentionPatterns[1]"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("openclaw.json");
    std::fs::write(&path, "{channels: {clickclack: {baseUrl: '${NOPE}'}}}")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = load_config_file(&path, &no_env())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err,
        Some(format!(
            "{}: Missing env var \"NOPE\" referenced at config path: channels.clickclack.baseUrl",
            path.display()
        ))
    );
}

#[test]
fn substitution_covers_the_sections_we_read_only() {
    // An unset var in a section this tool never reads does not fail the load.
    parse(
        "{channels: {telegram: {botToken: '${UNSET}'}}, hooks: {x: '${UNSET}'}}",
        &no_env(),
    );
    for (text, path) in [
        (
            "{secrets: {defaults: {env: '${UNSET}'}}}",
            "secrets.defaults.env",
        ),
        ("{models: {proxy: '${UNSET}'}}", "models.proxy"),
        ("{agents: {list: [{id: '${UNSET}'}]}}", "agents.list[0].id"),
        ("{gateway: {bind: '${UNSET}'}}", "gateway.bind"),
        (
            "{plugins: {entries: {clickclack: {llm: {note: '${UNSET}'}}}}}",
            "plugins.entries.clickclack.llm.note",
        ),
        (
            "{channels: {defaults: {botLoopProtection: {x: '${UNSET}'}}}}",
            "channels.defaults.botLoopProtection.x",
        ),
    ] {
        let err = parse_err(text, &no_env());
        assert!(
            err.to_string().ends_with(&format!("config path: {path}")),
            "{text}: {err}"
        );
    }
}

#[test]
fn string_rules_match_openclaw() {
    let env = MapEnv::new().with("A", "1").with("_B2", "2");
    let cases = [
        ("${A}", "1"),
        ("x${A}y${_B2}z", "x1y2z"),
        ("$${A}", "${A}"),
        ("$$${A}", "$${A}"),
        ("$${lower}", "$${lower}"),
        ("${lower}", "${lower}"),
        ("$A", "$A"),
        ("${A", "${A"),
        ("${}", "${}"),
        ("${A-B}", "${A-B}"),
        ("cost: $5", "cost: $5"),
        ("ü${A}ü", "ü1ü"),
        ("${A}}", "1}"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            substitute_str(input, "p", &env).ok().as_deref(),
            Some(expected),
            "{input}"
        );
    }
}

#[test]
fn password_store_references_fail_clearly() {
    let err = substitute_str(
        "${pass:clickclack/token}",
        "channels.clickclack.token",
        &no_env(),
    )
    .err()
    .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some(
            "Unsupported secret reference \"pass:clickclack/token\" at config path: channels.clickclack.token (pass/gopass lookups are not supported; use an env var or a SecretRef)"
        )
    );
    let err = substitute_str("${gopass:/abs}", "p", &no_env())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("Invalid secret reference \"gopass:/abs\" at config path: p")
    );
    // Escaped: literal.
    assert_eq!(
        substitute_str("$${pass:a/b}", "p", &no_env())
            .ok()
            .as_deref(),
        Some("${pass:a/b}")
    );
}
