//! Properties: the loader and `${VAR}` substitution never panic, and their
//! errors say where.

use openclaw_clickclack::accounts::{
    list_account_ids, normalize_optional_account_id, resolve_all_accounts,
};
use openclaw_clickclack::config::{
    ConfigError, MapEnv, SubstitutionError, parse_config_str, substitute_str,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn env() -> MapEnv {
    MapEnv::new()
        .with("SET", "value")
        .with("EMPTY", "")
        .with("CLICKCLACK_BOT_TOKEN", "ccb_env")
}

/// Arbitrary JSON values of modest size.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1.0e6f64..1.0e6).prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("${SET}"),
            Just("${NOPE}"),
            Just("$${SET}"),
            Just("${EMPTY}")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys: mostly schema keys, sometimes typos and odd text.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "baseUrl",
            "apiBaseUrl",
            "token",
            "tokenFile",
            "workspace",
            "accounts",
            "defaultAccount",
            "groups",
            "discussions",
            "botLoopProtection",
            "allowBots",
            "reconnectMs",
            "replyMode",
            "enabled",
            "source",
            "provider",
            "id",
            "mentionPatterns",
            "allowFrom",
            "historyLimit",
            "tokn",
            "*",
            "Work Team",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z ]{1,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_config_str(&text, &env());
    }

    #[test]
    fn json5ish_text_never_panics(text in "[{}\\[\\]:,'\"a-z0-9 \\n/*$]{0,120}") {
        let _ = parse_config_str(&text, &env());
    }

    #[test]
    fn arbitrary_clickclack_sections_never_panic_and_errors_say_where(section in json()) {
        let document = serde_json::json!({ "channels": { "clickclack": section } });
        let text = document.to_string();
        match parse_config_str(&text, &env()) {
            Ok(config) => {
                // Resolution never panics either.
                let ids = list_account_ids(&config, &env());
                prop_assert!(!ids.is_empty());
                let _ = resolve_all_accounts(&config, &env());
            }
            Err(ConfigError::Invalid { origin, issues }) => {
                prop_assert_eq!(origin.to_string(), "<inline config>");
                prop_assert!(!issues.is_empty());
                for issue in issues {
                    prop_assert!(issue.path.starts_with("channels.clickclack"), "{}", issue);
                }
            }
            Err(ConfigError::Substitution { source, .. }) => {
                let SubstitutionError::MissingEnvVar { path, .. } = source else {
                    return Err(TestCaseError::fail("unexpected substitution error"));
                };
                prop_assert!(path.starts_with("channels.clickclack"), "{}", path);
            }
            Err(other) => return Err(TestCaseError::fail(format!("unexpected error: {other}"))),
        }
    }

    #[test]
    fn substitution_never_panics(text in "[ -~ü]{0,40}", path in "[a-z.\\[\\]0-9]{0,20}") {
        match substitute_str(&text, &path, &env()) {
            Ok(out) => {
                if !text.contains('$') {
                    prop_assert_eq!(out, text);
                }
            }
            Err(err) => {
                let message = err.to_string();
                prop_assert!(message.ends_with(&format!("config path: {path}"))
                    || message.contains(&format!("config path: {path} (")), "{}", message);
            }
        }
    }

    #[test]
    fn substitution_of_dollar_heavy_text_never_panics(text in "[${}A-Z_a-z:/]{0,30}") {
        let _ = substitute_str(&text, "p", &env());
    }

    #[test]
    fn set_vars_always_substitute(prefix in "[a-z ]{0,5}", suffix in "[a-z ]{0,5}") {
        let out = substitute_str(&format!("{prefix}${{SET}}{suffix}"), "p", &env());
        prop_assert_eq!(out.ok(), Some(format!("{prefix}value{suffix}")));
    }

    #[test]
    fn account_id_normalisation_is_idempotent(raw in "\\PC{0,80}") {
        if let Some(id) = normalize_optional_account_id(&raw) {
            prop_assert!(id.chars().count() <= 64);
            prop_assert_eq!(normalize_optional_account_id(&id), Some(id.clone()));
        }
    }
}
