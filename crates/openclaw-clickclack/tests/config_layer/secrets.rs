//! Row 6: token resolution — strings, env secret refs (and their three
//! errors), `tokenFile`, and `CLICKCLACK_BOT_TOKEN` for the default account.

use std::path::Path;

use openclaw_clickclack::accounts::{ResolvedAccount, resolve_account};
use openclaw_clickclack::config::{AccountConfig, MapEnv, OpenClawConfig, ReplyMode};
use openclaw_clickclack::secrets::{
    CredentialDiagnostic, CredentialFileReason, CredentialWarning, Secret, SecretError,
    SecretInput, SecretRef, SecretSource, TokenSource, TokenStatus,
};

use super::support::{no_env, parse};

fn resolve(config: &OpenClawConfig, id: Option<&str>, env: &MapEnv) -> ResolvedAccount {
    match resolve_account(config, id, env) {
        Ok(account) => account,
        Err(err) => panic!("{err}"),
    }
}

fn json_string(path: &Path) -> String {
    // JSON-escaped path for embedding in a JSON5 document.
    serde_json::to_string(&path.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn resolves_env_secret_refs_at_runtime() {
    let config = parse(
        r#"{ channels: { clickclack: {
            enabled: true, baseUrl: "https://app.clickclack.chat", workspace: "wsp_1",
            accounts: { service: { token: { source: "env", provider: "default", id: "CLICKCLACK_SERVICE_TOKEN" } } },
        } } }"#,
        &no_env(),
    );
    let env = MapEnv::new().with("CLICKCLACK_SERVICE_TOKEN", "  test-token-placeholder  ");
    let a = resolve(&config, Some("service"), &env);
    // The fixture's full expected object (config-env-secretref-account.json).
    assert_eq!(a.account_id, "service");
    assert_eq!(a.token.expose_secret(), "test-token-placeholder");
    assert_eq!(a.token_source, TokenSource::Config);
    assert_eq!(a.token_status, TokenStatus::Available);
    assert!(a.configured);
    assert!(a.enabled);
    assert_eq!(a.agent_id, None);
    assert_eq!(a.model, None);
    assert_eq!(a.reply_mode, ReplyMode::Agent);
    assert_eq!(a.tools_allow, None);
    assert_eq!(a.base_url, "https://app.clickclack.chat");
    assert_eq!(a.api_endpoint, "https://app.clickclack.chat");
    assert_eq!(a.workspace, "wsp_1");
    assert_eq!(a.default_to, "channel:general");
    assert_eq!(a.reconnect_ms, 1_500);
    assert!(a.command_menu);
    assert_eq!(
        a.config,
        AccountConfig {
            allow_from: Some(vec!["*".into()]),
            base_url: Some("https://app.clickclack.chat".into()),
            enabled: Some(true),
            token: Some(SecretInput::Ref(SecretRef {
                source: SecretSource::Env,
                provider: Some("default".into()),
                id: "CLICKCLACK_SERVICE_TOKEN".into(),
            })),
            token_file: None,
            workspace: Some("wsp_1".into()),
            ..AccountConfig::default()
        }
    );
    // An unset variable: configured but unavailable (still "configured").
    let a = resolve(&config, Some("service"), &no_env());
    assert_eq!(a.token_status, TokenStatus::ConfiguredUnavailable);
    assert!(a.token.is_empty());
    assert!(a.configured);
}

#[test]
fn uses_the_default_env_token_only_for_the_default_account() {
    let config = parse(
        r#"{ channels: { clickclack: {
            enabled: true, baseUrl: "https://app.clickclack.chat", workspace: "wsp_1", accounts: { work: {} },
        } } }"#,
        &no_env(),
    );
    let env = MapEnv::new().with("CLICKCLACK_BOT_TOKEN", "  default-env-token  ");
    assert_eq!(
        openclaw_clickclack::accounts::list_account_ids(&config, &env),
        ["default", "work"]
    );
    let default = resolve(&config, None, &env);
    assert_eq!(default.token.expose_secret(), "default-env-token");
    assert_eq!(default.token_source, TokenSource::Env);
    let work = resolve(&config, Some("work"), &env);
    assert_eq!(work.token.expose_secret(), "");
    assert_eq!(work.token_source, TokenSource::None);
    assert_eq!(work.token_status, TokenStatus::Missing);
    assert!(!work.configured);
}

#[test]
fn reads_token_file_credentials_without_overriding_a_named_account_token() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "  file-token  \n").unwrap_or_else(|e| panic!("{e}"));
    set_mode(&token_file, 0o600);
    let config = parse(
        &format!(
            r#"{{ channels: {{ clickclack: {{
                enabled: true, baseUrl: "https://app.clickclack.chat", workspace: "wsp_1",
                tokenFile: {},
                accounts: {{ work: {{ token: "work-token" }} }},
            }} }} }}"#,
            json_string(&token_file)
        ),
        &no_env(),
    );
    assert_eq!(
        openclaw_clickclack::accounts::list_account_ids(&config, &no_env()),
        ["default", "work"]
    );
    let default = resolve(&config, None, &no_env());
    assert_eq!(default.token.expose_secret(), "file-token");
    assert_eq!(default.token_source, TokenSource::TokenFile);
    assert!(default.credential_warnings.is_empty());
    let work = resolve(&config, Some("work"), &no_env());
    assert_eq!(work.token.expose_secret(), "work-token");
    assert_eq!(work.token_source, TokenSource::Config);
}

#[test]
fn isolates_unavailable_root_and_account_token_files_without_falling_back() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing_root = dir.path().join("missing-root-token");
    let missing_account = dir.path().join("missing-account-token");
    let missing_default = dir.path().join("missing-default-token");
    let config = parse(
        &format!(
            r#"{{ channels: {{ clickclack: {{
                baseUrl: "https://app.clickclack.chat", workspace: "wsp_1",
                token: "lower-priority-config-token", tokenFile: {},
                accounts: {{ default: {{ tokenFile: {} }}, inherited: {{}}, work: {{ tokenFile: {} }} }},
            }} }} }}"#,
            json_string(&missing_root),
            json_string(&missing_default),
            json_string(&missing_account)
        ),
        &no_env(),
    );
    let env = MapEnv::new().with("CLICKCLACK_BOT_TOKEN", "lower-priority-env-token");
    for (id, file, config_path) in [
        (
            "default",
            &missing_default,
            "channels.clickclack.accounts.default.tokenFile",
        ),
        ("inherited", &missing_root, "channels.clickclack.tokenFile"),
        (
            "work",
            &missing_account,
            "channels.clickclack.accounts.work.tokenFile",
        ),
    ] {
        let a = resolve(&config, Some(id), &env);
        assert!(a.configured, "{id}");
        assert_eq!(a.token.expose_secret(), "", "{id}");
        assert_eq!(a.token_source, TokenSource::TokenFile, "{id}");
        assert_eq!(a.token_status, TokenStatus::ConfiguredUnavailable, "{id}");
        assert_eq!(
            a.credential_diagnostics,
            [CredentialDiagnostic {
                code: "CREDENTIAL_FILE_UNAVAILABLE",
                path: config_path.into(),
                reason: CredentialFileReason::NotFound,
            }],
            "{id}"
        );
        let shown = format!(
            "{:?} {}",
            a.credential_diagnostics, a.credential_diagnostics[0]
        );
        assert!(
            !shown.contains(&file.display().to_string()),
            "{id}: {shown}"
        );
        assert!(!format!("{a:?}").contains("lower-priority"), "{id}");
    }
}

#[test]
fn degrades_empty_and_unsafe_token_files_without_exposing_their_filesystem_paths() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let empty = dir.path().join("empty-token");
    std::fs::write(&empty, "  \n").unwrap_or_else(|e| panic!("{e}"));
    let mut cases = vec![(empty, CredentialFileReason::InvalidPath)];
    cases.push((dir.path().to_path_buf(), CredentialFileReason::InvalidPath));
    #[cfg(unix)]
    {
        let target = dir.path().join("valid-token");
        let link = dir.path().join("token-link");
        std::fs::write(&target, "file-token").unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
        cases.push((link, CredentialFileReason::Symlink));
    }
    for (file, reason) in cases {
        let config = parse(
            &format!(
                r#"{{ channels: {{ clickclack: {{
                    baseUrl: "https://app.clickclack.chat", workspace: "wsp_1",
                    token: "lower-priority-token", tokenFile: {},
                }} }} }}"#,
                json_string(&file)
            ),
            &no_env(),
        );
        let a = resolve(&config, None, &no_env());
        assert_eq!(a.token.expose_secret(), "");
        assert_eq!(a.token_source, TokenSource::TokenFile);
        assert_eq!(a.token_status, TokenStatus::ConfiguredUnavailable);
        assert_eq!(
            a.credential_diagnostics,
            [CredentialDiagnostic {
                code: "CREDENTIAL_FILE_UNAVAILABLE",
                path: "channels.clickclack.tokenFile".into(),
                reason,
            }]
        );
        let shown = format!(
            "{:?} {}",
            a.credential_diagnostics, a.credential_diagnostics[0]
        );
        assert!(!shown.contains(&file.display().to_string()));
        assert!(!format!("{a:?}").contains("lower-priority-token"));
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

#[cfg(unix)]
#[test]
fn warns_about_world_readable_token_files() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("token");
    std::fs::write(&file, "ccb_file\n").unwrap_or_else(|e| panic!("{e}"));
    set_mode(&file, 0o644);
    let config = parse(
        &format!(
            r#"{{ channels: {{ clickclack: {{ baseUrl: "https://a.example", workspace: "w",
                accounts: {{ work: {{ tokenFile: {} }} }} }} }} }}"#,
            json_string(&file)
        ),
        &no_env(),
    );
    let a = resolve(&config, Some("work"), &no_env());
    assert_eq!(a.token.expose_secret(), "ccb_file");
    assert_eq!(
        a.credential_warnings,
        [CredentialWarning::WorldReadable {
            path: "channels.clickclack.accounts.work.tokenFile".into()
        }]
    );
    assert_eq!(
        a.credential_warnings[0].to_string(),
        "channels.clickclack.accounts.work.tokenFile: the token file is readable by other users; restrict it (chmod 600)"
    );
}

#[test]
fn token_file_supports_home_expansion() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("cc-token"), "ccb_home").unwrap_or_else(|e| panic!("{e}"));
    set_mode(&dir.path().join("cc-token"), 0o600);
    let env = MapEnv::new().with("HOME", dir.path().display().to_string());
    let config = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://a.example", workspace: "w", tokenFile: "~/cc-token" } } }"#,
        &env,
    );
    assert_eq!(
        resolve(&config, None, &env).token.expose_secret(),
        "ccb_home"
    );
}

fn ref_config(provider: &str, secrets: &str) -> OpenClawConfig {
    parse(
        &format!(
            r#"{{ {secrets} channels: {{ clickclack: {{ baseUrl: "https://a.example", workspace: "w",
                token: {{ source: "env", provider: "{provider}", id: "MY_TOKEN" }} }} }} }}"#
        ),
        &no_env(),
    )
}

#[test]
fn env_ref_provider_rules_and_errors() {
    let env = MapEnv::new().with("MY_TOKEN", "ccb_ref");
    let err = |config: &OpenClawConfig| resolve_account(config, None, &env).err();

    // Undeclared provider that is not the default alias.
    let config = ref_config("vault", "");
    assert_eq!(
        err(&config).map(|e| e.to_string()).as_deref(),
        Some("Secret provider \"vault\" is not configured (ref: env:vault:MY_TOKEN).")
    );
    // Declared with another source.
    let config = ref_config(
        "vault",
        r#"secrets: { providers: { vault: { source: "exec", command: "x" } } },"#,
    );
    assert_eq!(
        err(&config).map(|e| e.to_string()).as_deref(),
        Some("Secret provider \"vault\" has source \"exec\" but ref requests \"env\".")
    );
    // Declared env provider whose allowlist lacks the id.
    let config = ref_config(
        "vault",
        r#"secrets: { providers: { vault: { source: "env", allowlist: ["OTHER"] } } },"#,
    );
    assert_eq!(
        err(&config),
        Some(SecretError::NotAllowlisted {
            provider: "vault".into(),
            id: "MY_TOKEN".into()
        })
    );
    assert_eq!(
        err(&config).map(|e| e.to_string()).as_deref(),
        Some(
            "Environment variable \"MY_TOKEN\" is not allowlisted in secrets.providers.vault.allowlist."
        )
    );
    // Allowed: allowlisted, no allowlist, the default alias, a renamed default alias.
    for (provider, secrets) in [
        (
            "vault",
            r#"secrets: { providers: { vault: { source: "env", allowlist: ["MY_TOKEN"] } } },"#,
        ),
        (
            "vault",
            r#"secrets: { providers: { vault: { source: "env" } } },"#,
        ),
        ("default", ""),
        ("shell", r#"secrets: { defaults: { env: "shell" } },"#),
    ] {
        let config = ref_config(provider, secrets);
        let a = resolve(&config, None, &env);
        assert_eq!(a.token.expose_secret(), "ccb_ref", "{provider} {secrets}");
    }
    // With a renamed default alias, "default" is no longer implicitly allowed.
    let config = ref_config("default", r#"secrets: { defaults: { env: "shell" } },"#);
    assert!(matches!(
        err(&config),
        Some(SecretError::ProviderNotConfigured { .. })
    ));
}

#[test]
fn env_refs_without_provider_use_the_default_alias() {
    let config = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://a.example", workspace: "w", token: { source: "env", id: "MY_TOKEN" } } } }"#,
        &no_env(),
    );
    let env = MapEnv::new().with("MY_TOKEN", "ccb_x");
    assert_eq!(resolve(&config, None, &env).token.expose_secret(), "ccb_x");
}

#[test]
fn file_and_exec_refs_are_configured_but_unavailable() {
    for source in ["file", "exec"] {
        let config = parse(
            &format!(
                r#"{{ channels: {{ clickclack: {{ baseUrl: "https://a.example", workspace: "w",
                    token: {{ source: "{source}", provider: "vault", id: "/clickclack/token" }} }} }} }}"#
            ),
            &no_env(),
        );
        let env = MapEnv::new().with("CLICKCLACK_BOT_TOKEN", "ccb_not_used");
        let a = resolve(&config, None, &env);
        assert_eq!(
            a.token_status,
            TokenStatus::ConfiguredUnavailable,
            "{source}"
        );
        assert_eq!(a.token_source, TokenSource::Config);
        assert!(a.token.is_empty());
        assert!(a.configured);
    }
}

#[test]
fn secrets_never_print() {
    let secret = Secret::new("ccb_supersecret");
    assert_eq!(format!("{secret}"), "[redacted]");
    assert_eq!(format!("{secret:?}"), "Secret([redacted])");
    assert_eq!(format!("{:?}", Secret::default()), "Secret(<empty>)");
    let config = parse(
        r#"{ channels: { clickclack: { baseUrl: "https://a.example", workspace: "w", token: "ccb_supersecret",
            accounts: { work: { token: "ccb_worksecret" } } } } }"#,
        &no_env(),
    );
    let rendered = format!("{config:?}");
    assert!(!rendered.contains("ccb_supersecret") && !rendered.contains("ccb_worksecret"));
    let a = resolve(&config, None, &no_env());
    assert!(!format!("{a:?}").contains("ccb_supersecret"));
    assert_eq!(a.token.expose_secret(), "ccb_supersecret");
}
