//! The CLI as a real process against a testkit server, with the docs'
//! JSON5 config in a file and the token in an environment variable.

mod common;

use std::path::PathBuf;

use assert_cmd::Command;
use clickclack_testkit::BotSpec;

use common::{Env, config_text, start};

const BIN: &str = "openclaw-clickclack";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Writes the docs' config for `env` (with `extra` keys) into a temp dir.
fn write_config(env: &Env, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("openclaw.json");
    std::fs::write(&path, config_text(&env.server.base_url(), extra)).expect("write config");
    (dir, path)
}

/// Variables the binary reads that must not leak in from the test's environment.
const CLEARED_ENV: &[&str] = &[
    "CLICKCLACK_BOT_TOKEN",
    "OPENCLAW_CONFIG_PATH",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENCLAW_GATEWAY_URL",
    "OPENCLAW_GATEWAY_TOKEN",
];

/// Runs the binary off the async runtime (the server keeps serving on it).
async fn run(args: Vec<String>, token: Option<String>) -> Run {
    run_with(args, token, &[]).await
}

/// [`run`] with extra environment variables.
async fn run_with(args: Vec<String>, token: Option<String>, vars: &[(&str, &str)]) -> Run {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::cargo_bin(BIN).expect("binary");
        cmd.args(&args).env("RUST_LOG", "off");
        for name in CLEARED_ENV {
            cmd.env_remove(name);
        }
        cmd.envs(vars);
        if let Some(token) = token {
            cmd.env("CLICKCLACK_BOT_TOKEN", token);
        }
        let output = cmd.output().expect("runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("joined")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_the_three_docs_examples() {
    let env = start().await;
    let (_dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    let token = Some(env.seed.bot.token.clone());

    let out = run(
        args(&[
            "message",
            "send",
            "--channel",
            "clickclack",
            "--target",
            "channel:general",
            "--message",
            "hello",
            "--config",
            &config,
        ]),
        token.clone(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let id = out.stdout.trim().to_owned();
    assert!(id.starts_with("msg_"), "{}", out.stdout);
    let stored = env.server.message(&id.as_str().into()).expect("stored");
    assert_eq!(stored.body, "hello");
    assert_eq!(stored.channel_id, Some(env.seed.general.id.clone()));

    let alice = env.server.create_user(&env.seed.workspace.id, "Alice");
    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--target",
            &format!("dm:{}", alice.user.id),
            "--message",
            "hello",
        ]),
        token.clone(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let dm = env
        .server
        .message(&out.stdout.trim().into())
        .expect("stored");
    assert!(dm.direct_conversation_id.is_some());

    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--target",
            &format!("thread:{id}"),
            "--message",
            "following up",
        ]),
        token,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let reply = env
        .server
        .message(&out.stdout.trim().into())
        .expect("stored");
    assert_eq!(
        reply.parent_message_id.as_ref().map(|m| m.as_str()),
        Some(id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_with_media_reply_to_and_errors() {
    let env = start().await;
    let (dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    let token = Some(env.seed.bot.token.clone());
    let media = dir.path().join("report.txt");
    std::fs::write(&media, "report").expect("media");
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "question");

    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--target",
            "general",
            "--message",
            "see file",
            "--media",
            &media.to_string_lossy(),
            "--reply-to",
            root.id.as_str(),
        ]),
        token.clone(),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let stored = env
        .server
        .message(&out.stdout.trim().into())
        .expect("stored");
    assert_eq!(stored.attachments.len(), 1);
    assert_eq!(stored.quoted_message_id, Some(root.id.clone()));

    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--channel",
            "slack",
            "--target",
            "general",
            "--message",
            "x",
        ]),
        token.clone(),
    )
    .await;
    assert_fails_with(&out, "Unsupported channel \"slack\"");

    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--target",
            "foo:bar",
            "--message",
            "x",
        ]),
        token.clone(),
    )
    .await;
    assert_fails_with(&out, "Unsupported ClickClack target: foo:bar");

    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--target",
            "channel:random",
            "--message",
            "x",
        ]),
        token.clone(),
    )
    .await;
    assert_fails_with(&out, "ClickClack channel not found: random");

    // The env secret ref names an unset variable: configured but unavailable.
    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--target",
            "general",
            "--message",
            "x",
        ]),
        None,
    )
    .await;
    assert_fails_with(
        &out,
        "error: ClickClack is not configured: CLICKCLACK_BOT_TOKEN is not set\n",
    );
    assert!(
        out.stderr.contains("hint: export CLICKCLACK_BOT_TOKEN="),
        "{}",
        out.stderr
    );

    // No token source at all: not configured, with the docs' fix.
    let (_dir2, bare) = write_config(&env, "");
    std::fs::write(
        &bare,
        format!(
            "{{channels: {{clickclack: {{baseUrl: '{}', workspace: 'default'}}}}}}",
            env.server.base_url()
        ),
    )
    .expect("write");
    let out = run(
        args(&[
            "--config",
            &bare.to_string_lossy(),
            "message",
            "send",
            "--target",
            "general",
            "--message",
            "x",
        ]),
        None,
    )
    .await;
    assert_fails_with(
        &out,
        "error: ClickClack is not configured: CLICKCLACK_BOT_TOKEN is not set",
    );

    // Without --target, `defaultTo` (channel:general) is used.
    let out = run(
        args(&[
            "--config",
            &config,
            "message",
            "send",
            "--message",
            "to the default",
        ]),
        token,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let stored = env
        .server
        .message(&out.stdout.trim().into())
        .expect("stored");
    assert_eq!(stored.channel_id, Some(env.seed.general.id.clone()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_every_check_in_order() {
    let env = start().await;
    // Make sure the log has an event so the realtime tail exists.
    env.server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "hi");
    let (_dir, config) = write_config(&env, "");
    // The docs' config names no model: the host default (Anthropic) applies.
    let out = run_with(
        args(&["doctor", "--config", &config.to_string_lossy()]),
        Some(env.seed.bot.token.clone()),
        &[("ANTHROPIC_API_KEY", "sk-ant-test")],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("✓ replies: model anthropic/claude-opus-4-6 (the host default"),
        "{}",
        out.stdout
    );
    let lines: Vec<&str> = out.stdout.lines().filter(|l| l.starts_with('✓')).collect();
    let titles: Vec<&str> = lines
        .iter()
        .map(|l| {
            l.trim_start_matches("✓ ")
                .split(':')
                .next()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        titles,
        vec![
            "config parsed",
            "account configured",
            "replies",
            "token accepted",
            "workspace resolved",
            "scopes",
            "defaultTo resolvable",
            "realtime reachable"
        ],
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("@testbot (bot"), "{}", out.stdout);
    assert!(out.stdout.contains("bot:read ✓"), "{}", out.stdout);
    assert!(out.stdout.contains("bot:write ✓"), "{}", out.stdout);
    assert!(
        !out.stdout.contains(&env.seed.bot.token),
        "token never printed"
    );
    assert_eq!(
        env.server.request_count("POST", "/"),
        0,
        "doctor has no side effects"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_a_rejected_token_and_missing_scopes() {
    let env = start().await;
    let (_dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    let out = run(
        args(&["doctor", "--config", &config]),
        Some("ccb_not_a_real_token".to_owned()),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✗ token accepted"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "fix: ClickClack rejected the bot token (401). Copy a current token and rerun setup."
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("- workspace resolved: skipped"),
        "{}",
        out.stdout
    );

    let reader = env
        .server
        .create_bot(BotSpec::new(&env.seed.workspace.id, "Reader").scopes(["bot:read"]));
    let out = run(
        args(&["doctor", "--config", &config]),
        Some(reader.token.clone()),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✗ scopes"), "{}", out.stdout);
    assert!(out.stdout.contains("bot:read ✓"), "{}", out.stdout);
    assert!(out.stdout.contains("bot:write ✗"), "{}", out.stdout);
    assert!(
        out.stdout.contains("missing messages:write"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_reports_config_and_workspace_problems() {
    let env = start().await;
    let out = run(
        args(&["doctor", "--config", "/nonexistent/openclaw.json"]),
        None,
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("✗ config parsed"), "{}", out.stdout);
    assert!(
        out.stdout.contains("fix: pass --config PATH"),
        "{}",
        out.stdout
    );

    let (_dir, config) = write_config(&env, "accounts: { peter: { tokn: 'x' } },");
    let out = run(
        args(&["doctor", "--config", &config.to_string_lossy()]),
        None,
    )
    .await;
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout
            .contains("channels.clickclack.accounts.peter.tokn: unknown key"),
        "{}",
        out.stdout
    );

    // (`default` is disabled: otherwise `other` inheriting the root token is
    // the same bot twice, which doctor refuses like the gateway does.)
    let (_dir, config) = write_config(
        &env,
        "accounts: { default: { enabled: false }, other: { workspace: 'nope' } },",
    );
    let out = run(
        args(&[
            "doctor",
            "--account",
            "other",
            "--config",
            &config.to_string_lossy(),
        ]),
        Some(env.seed.bot.token.clone()),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    // A named account never uses CLICKCLACK_BOT_TOKEN: it inherits the env secret ref.
    assert!(
        out.stdout
            .contains("✗ workspace resolved: ClickClack workspace not found: nope"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Workspace \"nope\" was not found."),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_list_shows_token_source_and_status_only() {
    let env = start().await;
    let (_dir, config) = write_config(
        &env,
        "accounts: { \"Work Team\": { token: 'ccb_inline_secret_value' } }, defaultAccount: 'default',",
    );
    let out = run(
        args(&["accounts", "list", "--config", &config.to_string_lossy()]),
        Some(env.seed.bot.token.clone()),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("default (default)"), "{}", out.stdout);
    assert!(out.stdout.contains("work-team"), "{}", out.stdout);
    assert!(
        out.stdout.contains("token=config (available)"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("ccb_inline_secret_value"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(&env.seed.bot.token), "{}", out.stdout);
}

/// The command exited with status 1 and its stderr names `needle`.
fn assert_fails_with(out: &Run, needle: &str) {
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains(needle), "{}", out.stderr);
}

/// The docs' config with the token variable unset: the three commands say
/// the same troubleshooting string, naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unset_token_variable_reads_the_same_in_send_doctor_and_gateway() {
    let env = start().await;
    let (dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    const NOT_SET: &str = "ClickClack is not configured: CLICKCLACK_BOT_TOKEN is not set";

    let send = run(
        args(&["--config", &config, "message", "send", "--message", "x"]),
        None,
    )
    .await;
    assert_fails_with(&send, NOT_SET);

    let doctor = run(args(&["--config", &config, "doctor"]), None).await;
    assert_eq!(doctor.code, Some(1), "{}", doctor.stdout);
    assert!(
        doctor
            .stdout
            .contains(&format!("✗ account configured: {NOT_SET}")),
        "{}",
        doctor.stdout
    );
    assert!(
        doctor.stdout.contains("channels add clickclack"),
        "the fix names a command that exists: {}",
        doctor.stdout
    );

    let state = dir.path().join("state");
    let gateway = run(
        args(&[
            "--config",
            &config,
            "gateway",
            "--state-dir",
            &state.to_string_lossy(),
        ]),
        None,
    )
    .await;
    assert_fails_with(&gateway, NOT_SET);
    assert_eq!(
        env.server.request_count("GET", "/api/me"),
        0,
        "nothing is sent with an empty bearer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_token_file_names_the_file_and_why() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("clickclack.token");
    let config = dir.path().join("openclaw.json");
    std::fs::write(
        &config,
        format!(
            "{{channels: {{clickclack: {{baseUrl: '{}', workspace: 'default', tokenFile: '{}'}}}}}}",
            env.server.base_url(),
            token_file.display()
        ),
    )
    .expect("config");
    let config = config.to_string_lossy().into_owned();
    let send = |config: String| {
        run(
            args(&["--config", &config, "message", "send", "--message", "x"]),
            None,
        )
    };
    let out = send(config.clone()).await;
    assert_fails_with(
        &out,
        &format!(
            "ClickClack is not configured: tokenFile {} does not exist",
            token_file.display()
        ),
    );
    std::fs::write(&token_file, "  \n").expect("empty token");
    let out = send(config.clone()).await;
    assert_fails_with(
        &out,
        &format!("tokenFile {} is empty", token_file.display()),
    );
    std::fs::remove_file(&token_file).expect("rm");
    std::fs::create_dir(&token_file).expect("dir");
    let out = send(config).await;
    assert_fails_with(
        &out,
        &format!("tokenFile {} is not a regular file", token_file.display()),
    );
}

/// Unknown ids read as the plugin's "not found" strings, never as the
/// server's `sql: no rows in result set`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_are_named_not_the_server_text() {
    let env = start().await;
    let (_dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    let token = Some(env.seed.bot.token.clone());
    for (target, expected) in [
        ("dm:usr_123", "ClickClack user not found: usr_123"),
        ("thread:msg_123", "ClickClack message not found: msg_123"),
    ] {
        let out = run(
            args(&[
                "--config",
                &config,
                "message",
                "send",
                "--target",
                target,
                "--message",
                "x",
            ]),
            token.clone(),
        )
        .await;
        assert_fails_with(&out, &format!("error: {expected}\n"));
        assert!(!out.stderr.contains("no rows"), "{}", out.stderr);
    }
}

/// Server error text cannot drive the terminal or fake an output line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_text_is_printed_as_data() {
    let env = start().await;
    let (_dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    env.server.faults().fail_next_with(
        "POST",
        "/api/channels/",
        1,
        clickclack_testkit::Failure::new(400).message("bad\u{1b}[2J\r\nok: message sent"),
    );
    let out = run(
        args(&["--config", &config, "message", "send", "--message", "x"]),
        Some(env.seed.bot.token.clone()),
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(
        !out.stderr.contains("\nok: message sent"),
        "{:?}",
        out.stderr
    );
    assert!(
        out.stderr.contains("bad\\e[2J\\r\\nok: message sent"),
        "{:?}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{:?}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_problems_say_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dup = dir.path().join("dup.json");
    std::fs::write(
        &dup,
        "{\n  channels: {\n    clickclack: {\n      workspace: 'a',\n      workspace: 'b',\n    },\n  },\n}\n",
    )
    .expect("write");
    let out = run(
        args(&["--config", &dup.to_string_lossy(), "accounts", "list"]),
        None,
    )
    .await;
    assert_fails_with(
        &out,
        "duplicate key channels.clickclack.workspace at line 5 (first set at line 4)",
    );

    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(17 * 1024 * 1024).expect("sparse file");
    let out = run(
        args(&["--config", &big.to_string_lossy(), "accounts", "list"]),
        None,
    )
    .await;
    assert_fails_with(&out, "over the 16 MiB limit");
    assert!(!out.stderr.contains("line 1, column 1"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_base_url_is_never_printed() {
    let env = start().await;
    let base = env
        .server
        .base_url()
        .replacen("http://", "http://bot:hunter2@", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    std::fs::write(&config, common::config_text(&base, "")).expect("write");
    let config = config.to_string_lossy().into_owned();
    let token = Some(env.seed.bot.token.clone());
    let list = run(
        args(&["--config", &config, "accounts", "list"]),
        token.clone(),
    )
    .await;
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    assert!(list.stdout.contains("bot:***@"), "{}", list.stdout);
    let doctor = run(args(&["--config", &config, "doctor"]), token).await;
    for out in [&list, &doctor] {
        assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
        assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    }
}

#[test]
fn gateway_help_states_the_default_reply_mode() {
    let output = Command::cargo_bin(BIN)
        .expect("binary")
        .args(["gateway", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    // clap wraps help text at the terminal width: compare with whitespace collapsed.
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("replyMode \"agent\", the default"), "{help}");
}

/// The docs' config names no model and no key is set: `doctor` and
/// `gateway` both refuse at start, with the host's wording and the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_a_key_fails_at_start_in_doctor_and_gateway() {
    let env = start().await;
    let (dir, config) = write_config(&env, "");
    let config = config.to_string_lossy().into_owned();
    let token = Some(env.seed.bot.token.clone());
    const NO_KEY: &str = "No API key found for provider \"anthropic\"";

    let doctor = run(args(&["--config", &config, "doctor"]), token.clone()).await;
    assert_eq!(doctor.code, Some(1), "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains(&format!("✗ replies: {NO_KEY}")),
        "{}",
        doctor.stdout
    );
    for needle in [
        "fix: export ANTHROPIC_API_KEY=",
        "agents: { defaults: { model: { primary: \"anthropic/claude-opus-4-6\" } } }",
        "models: { providers: { anthropic: { apiKey: \"${ANTHROPIC_API_KEY}\" } } }",
        "replyMode: \"agent\"",
    ] {
        assert!(
            doctor.stdout.contains(needle),
            "{needle}: {}",
            doctor.stdout
        );
    }

    let before = env.server.request_count("GET", "/api/me");
    let state = dir.path().join("state");
    let gateway = run(
        args(&[
            "--config",
            &config,
            "gateway",
            "--state-dir",
            &state.to_string_lossy(),
        ]),
        token,
    )
    .await;
    assert_fails_with(&gateway, &format!("error: {NO_KEY}"));
    assert!(
        gateway.stderr.contains("hint: export ANTHROPIC_API_KEY="),
        "{}",
        gateway.stderr
    );
    assert_eq!(
        env.server.request_count("GET", "/api/me"),
        before,
        "refused before connecting"
    );
}

/// `openai/<model>` with only `OPENAI_API_KEY` (base URL pointed at a stub
/// through `models.providers.openai.baseUrl`): doctor ✓, and the gateway
/// answers with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builtin_provider_works_from_a_model_ref_and_its_env_key() {
    use std::process::Stdio;
    let env = start().await;
    let stub = clickclack_testkit::model_stub::ModelStub::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    let text = common::config_text(&env.server.base_url(), "model: \"openai/gpt-test\",")
        .trim_end()
        .trim_end_matches('}')
        .to_owned()
        + &format!(
            "  models: {{ providers: {{ openai: {{ baseUrl: \"{}\" }} }} }},\n}}\n",
            stub.base_url()
        );
    std::fs::write(&config, text).expect("config");
    let config = config.to_string_lossy().into_owned();
    let token = env.seed.bot.token.clone();
    let vars = [("OPENAI_API_KEY", "sk-openai-test")];

    let doctor = run_with(
        args(&["--config", &config, "doctor"]),
        Some(token.clone()),
        &vars,
    )
    .await;
    assert_eq!(doctor.code, Some(0), "{}", doctor.stdout);
    assert!(
        doctor.stdout.contains("✓ replies: model openai/gpt-test\n"),
        "{}",
        doctor.stdout
    );

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
        .args(["--config", &config, "gateway", "--state-dir"])
        .arg(dir.path().join("state"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("CLICKCLACK_BOT_TOKEN", &token)
        .env("OPENAI_API_KEY", "sk-openai-test")
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let ready = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("ready") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the gateway became ready");
    let source =
        env.server
            .post_message(&env.seed.owner.user.id, &env.seed.general.id, "hello model");
    let answered = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if stub.request_count() > 0
                && env
                    .server
                    .channel_messages(&env.seed.general.id)
                    .iter()
                    .any(|m| m.quoted_message_id.as_ref() == Some(&source.id))
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await;
    let _ = child.start_kill();
    assert!(
        answered.is_ok(),
        "the gateway answered through the openai stub"
    );
    let request = &stub.requests()[0];
    assert_eq!(
        request.header("authorization"),
        Some("Bearer sk-openai-test")
    );
}

/// `channels add clickclack` with flags: the user's file keeps its comments
/// and other keys, the token lands in a 0600 file (not the config), the live
/// check passes, and `message send` then works with the written config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_add_writes_in_place_and_verifies() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    std::fs::write(
        &config,
        "// my OpenClaw config\n{\n  agents: { defaults: { model: { primary: 'openai/gpt-5' } } }, // keep\n  channels: {\n    clickclack: {\n      token: 'ccb_stale', /* old */\n      replyMode: 'model',\n    },\n  },\n}\n",
    )
    .expect("config");
    let config_arg = config.to_string_lossy().into_owned();
    let base = format!("{}/", env.server.base_url());
    let out = run(
        args(&[
            "--config",
            &config_arg,
            "channels",
            "add",
            "clickclack",
            "--base-url",
            &base,
            "--workspace",
            " default ",
            "--token",
            &env.seed.bot.token,
            "--allow-from",
            "usr_a,usr_b",
        ]),
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Connected as @testbot — workspace"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("(comments and other keys kept)"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(&config).expect("read");
    assert!(text.starts_with("// my OpenClaw config\n"), "{text}");
    assert!(text.contains("// keep"), "{text}");
    assert!(!text.contains("ccb_"), "no token in the config: {text}");
    let value: serde_json::Value = json5::from_str(&text).expect("json5");
    let section = &value["channels"]["clickclack"];
    assert_eq!(section["baseUrl"], env.server.base_url());
    assert_eq!(section["workspace"], "default");
    assert_eq!(section["replyMode"], "model");
    assert_eq!(section["enabled"], true);
    assert_eq!(section["allowFrom"], serde_json::json!(["usr_a", "usr_b"]));
    let token_file = PathBuf::from(section["tokenFile"].as_str().expect("tokenFile"));
    assert_eq!(
        std::fs::read_to_string(&token_file).expect("token").trim(),
        env.seed.bot.token
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let sent = run(
        args(&[
            "--config",
            &config_arg,
            "message",
            "send",
            "--target",
            "general",
            "--message",
            "hi",
        ]),
        None,
    )
    .await;
    assert_eq!(sent.code, Some(0), "{}", sent.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_add_validation_and_a_rejected_token() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    let config_arg = config.to_string_lossy().into_owned();
    let base = env.server.base_url();
    let add = |extra: &[&str]| {
        let mut list = vec!["--config", &config_arg, "channels", "add", "clickclack"];
        list.extend_from_slice(extra);
        run(args(&list), None)
    };
    for (extra, message) in [
        (
            vec!["--token", "ccb_x"],
            "ClickClack requires --token, --base-url, and --workspace (or --use-env).",
        ),
        (
            vec!["--code", "ABCD-EFGH-JKMN", "--token", "ccb_x"],
            "ClickClack --code cannot be combined with --token, --token-file, or --use-env.",
        ),
        (
            vec!["--use-env", "--account", "work"],
            "CLICKCLACK_BOT_TOKEN can only be used for the default account.",
        ),
        (
            vec![
                "--token",
                "ccb_x",
                "--workspace",
                "w",
                "--base-url",
                "ftp://x",
            ],
            "ClickClack base URL must be a valid http(s) URL.",
        ),
        (
            vec!["--code", "ABCD-EFGH-JKMN"],
            "A bare ClickClack setup code requires --base-url.",
        ),
    ] {
        let out = add(&extra).await;
        assert_eq!(out.code, Some(2), "{extra:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{extra:?}: {}", out.stderr);
        assert!(!config.exists(), "nothing written on a usage error");
    }
    let out = add(&[
        "--account",
        "Work Team",
        "--base-url",
        &base,
        "--workspace",
        "default",
        "--token",
        "ccb_not_a_real_token",
    ])
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "ClickClack rejected the bot token (401). Copy a current token and rerun setup."
        ),
        "{}",
        out.stdout
    );
    let value: serde_json::Value =
        json5::from_str(&std::fs::read_to_string(&config).expect("saved anyway")).expect("json5");
    assert_eq!(
        value["channels"]["clickclack"]["accounts"]["work-team"]["workspace"],
        "default"
    );
}

/// Makes the server answer the next setup-code claim with the seeded bot's
/// token and workspace, and `defaults`.
fn answer_next_claim(env: &Env, defaults: serde_json::Value) {
    let claim = serde_json::json!({
        "contract_version": 1,
        "token": env.seed.bot.token,
        "bot": {"id": env.seed.bot.user.id, "handle": "testbot", "display_name": "Test Bot"},
        "workspace": {"id": env.seed.workspace.id, "route_id": "T1", "slug": "default", "name": "Default"},
        "defaults": defaults,
    });
    env.server.faults().respond_next(
        "POST",
        "/api/bot-setup-codes/claim",
        clickclack_testkit::RawResponse::json(200, claim.to_string()),
    );
}

/// `--code`: the claim is an unauthenticated POST; the token it returns is
/// stored in a 0600 file and the claimed workspace id and defaults are saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_add_claims_a_setup_code() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    let config_arg = config.to_string_lossy().into_owned();
    answer_next_claim(
        &env,
        serde_json::json!({"defaultTo": "channel:general", "allowFrom": ["*"]}),
    );
    let url = format!("{}/#abcd-efgh-jkmn", env.server.base_url());
    let out = run(
        args(&[
            "--config",
            &config_arg,
            "channels",
            "add",
            "clickclack",
            "--code",
            &url,
        ]),
        None,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Claimed the setup code: bot @testbot"),
        "{}",
        out.stdout
    );
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        !text.contains("ABCDEFGHJKMN") && !text.contains("ccb_"),
        "{text}"
    );
    let value: serde_json::Value = json5::from_str(&text).expect("json5");
    let section = &value["channels"]["clickclack"];
    assert_eq!(section["workspace"], env.seed.workspace.id.as_str());
    assert_eq!(section["defaultTo"], "channel:general");

    env.server.faults().respond_next(
        "POST",
        "/api/bot-setup-codes/claim",
        clickclack_testkit::RawResponse::json(
            404,
            r#"{"error":"setup code is invalid or expired"}"#,
        ),
    );
    let out = run(
        args(&[
            "--config",
            &config_arg,
            "channels",
            "add",
            "clickclack",
            "--code",
            &url,
        ]),
        None,
    )
    .await;
    assert_fails_with(
        &out,
        "ClickClack setup code is invalid, expired, or already used. Generate a new code and try again.",
    );
}

/// Accepted-but-unimplemented keys are named once, never silently ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unimplemented_keys_are_named_at_start() {
    let env = start().await;
    let (dir, config) = write_config(&env, "toolsAllow: ['search'], configWrites: false,");
    let config = config.to_string_lossy().into_owned();
    let doctor = run(args(&["--config", &config, "doctor"]), None).await;
    assert!(
        doctor
            .stdout
            .contains("note: channels.clickclack.toolsAllow is accepted but has no effect here"),
        "{}",
        doctor.stdout
    );
    let state = dir.path().join("state");
    let gateway = run(
        args(&[
            "--config",
            &config,
            "gateway",
            "--state-dir",
            &state.to_string_lossy(),
        ]),
        None,
    )
    .await;
    assert!(
        gateway.stderr.contains(
            "warning: channels.clickclack.configWrites is accepted but has no effect here"
        ),
        "{}",
        gateway.stderr
    );
}

/// A TLS-terminating proxy on loopback in front of the testkit (REST and
/// WebSocket bytes copied both ways), serving the fixture certificate issued
/// for `localhost` by the fixture test CA. Returns its port.
async fn tls_proxy(upstream: std::net::SocketAddr) -> u16 {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .expect("server.pem")
        .map(|c| c.expect("certificate"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

/// `channels add --code` trusts what the account's other clients trust:
/// its `tls.caFile` (here inherited from the root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_add_claims_through_a_private_ca_from_tls_ca_file() {
    let env = start().await;
    let port = tls_proxy(env.server.addr()).await;
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    let config_arg = config.to_string_lossy().into_owned();
    answer_next_claim(&env, serde_json::json!({}));
    let url = format!("https://localhost:{port}/#abcd-efgh-jkmn");
    let add = || {
        args(&[
            "--config",
            &config_arg,
            "channels",
            "add",
            "clickclack",
            "--code",
            &url,
        ])
    };

    // 1. Without the CA: not trusted, nothing claimed, nothing written.
    let before = "{ channels: { clickclack: { enabled: true } } }\n";
    std::fs::write(&config, before).expect("write config");
    let out = run(add(), None).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(shown.contains("certificate is not trusted"), "{shown}");
    assert_eq!(std::fs::read_to_string(&config).expect("config"), before);

    // 2. With the root's tls.caFile: claimed through the proxy.
    std::fs::write(
        &config,
        format!(
            "{{ channels: {{ clickclack: {{ tls: {{ caFile: {:?} }} }} }} }}\n",
            ca.to_string_lossy()
        ),
    )
    .expect("write config");
    let out = run(add(), None).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Claimed the setup code: bot @testbot"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.server
            .request_count("POST", "/api/bot-setup-codes/claim"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_ca_is_trusted_through_tls_ca_file_or_ssl_cert_file() {
    let env = start().await;
    env.server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "hi");
    let port = tls_proxy(env.server.addr()).await;
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, base: &str, extra: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, config_text(base, extra)).expect("write config");
        path.to_string_lossy().into_owned()
    };
    let https = format!("https://localhost:{port}");
    let key = [("ANTHROPIC_API_KEY", "sk-ant-test")];
    let token = Some(env.seed.bot.token.clone());

    // 1. No extra trust: the certificate is not trusted, and the fix says how.
    let plain = write("plain.json", &https, "");
    let out = run_with(args(&["doctor", "--config", &plain]), token.clone(), &key).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("TLS failed: the server's certificate is not trusted")
            && out.stdout.contains("tls.caFile"),
        "{}",
        out.stdout
    );

    // 2. `tls.caFile`: REST and the realtime WebSocket (wss) both pass.
    let with_ca = write(
        "ca.json",
        &https,
        &format!("tls: {{ caFile: {:?} }},", ca.to_string_lossy()),
    );
    let out = run_with(args(&["doctor", "--config", &with_ca]), token.clone(), &key).await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("✓ realtime reachable"),
        "{}",
        out.stdout
    );

    // 2b. `~/` in caFile is the home directory, as in `tokenFile`.
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join("certs")).expect("certs dir");
    std::fs::copy(&ca, home.path().join("certs/ca.pem")).expect("copy CA");
    let tilde = write(
        "tilde.json",
        &https,
        r#"tls: { caFile: "~/certs/ca.pem" },"#,
    );
    let home_var = home.path().to_string_lossy().into_owned();
    let out = run_with(
        args(&["doctor", "--config", &tilde]),
        token.clone(),
        &[key[0], ("HOME", home_var.as_str())],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);

    // 3. The standard SSL_CERT_FILE does the same without any config key.
    let ca_env = ca.to_string_lossy().into_owned();
    let out = run_with(
        args(&["doctor", "--config", &plain]),
        token.clone(),
        &[key[0], ("SSL_CERT_FILE", ca_env.as_str())],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);

    // 4. A trusted certificate for another name: the mismatch is named.
    let by_ip = write(
        "ip.json",
        &format!("https://127.0.0.1:{port}"),
        &format!("tls: {{ caFile: {:?} }},", ca.to_string_lossy()),
    );
    let out = run_with(args(&["doctor", "--config", &by_ip]), token.clone(), &key).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("the server's certificate does not match the host name"),
        "{}",
        out.stdout
    );

    // 5. An unreadable caFile names the key and the fix.
    let missing = write(
        "missing.json",
        &https,
        r#"tls: { caFile: "/nonexistent/ca.pem" },"#,
    );
    let out = run_with(args(&["doctor", "--config", &missing]), token, &key).await;
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("channels.clickclack.tls.caFile")
            && out.stdout.contains("/nonexistent/ca.pem"),
        "{}",
        out.stdout
    );
}

/// The README's "Quick start for bot operators", as written: its config file
/// (only the server URL swapped for the test server's) in `~/.openclaw`, and
/// its `message send` and `doctor` commands run word for word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_operator_quick_start_works_as_written() {
    let readme_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let start_marker = "cat > ~/.openclaw/openclaw.json <<'JSON5'\n";
    let from = readme
        .find(start_marker)
        .expect("the README writes the config")
        + start_marker.len();
    let config = &readme[from..];
    let config = &config[..config.find("\nJSON5\n").expect("heredoc ends")];
    let commands: Vec<Vec<String>> = readme[from..]
        .lines()
        .take_while(|l| !l.starts_with("```"))
        .filter(|l| l.starts_with("openclaw-clickclack ") && !l.contains(" gateway"))
        .map(|l| shell_words(l.split(" #").next().unwrap_or(l)))
        .collect();
    assert_eq!(commands.len(), 2, "message send and doctor: {commands:?}");

    let env = start().await;
    env.server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "hi");
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".openclaw")).expect("mkdir");
    std::fs::write(
        home.path().join(".openclaw/openclaw.json"),
        config.replace("http://127.0.0.1:8080", &env.server.base_url()),
    )
    .expect("write config");
    let home_dir = home.path().to_string_lossy().into_owned();
    for command in commands {
        let out = run_with(
            command[1..].to_vec(),
            Some(env.seed.bot.token.clone()),
            &[("HOME", &home_dir), ("ANTHROPIC_API_KEY", "sk-ant-test")],
        )
        .await;
        assert_eq!(
            out.code,
            Some(0),
            "{command:?}\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
    let hello = env
        .server
        .channel_messages(&env.seed.general.id)
        .into_iter()
        .filter(|m| m.body == "hello" && m.author_id == env.seed.bot.user.id)
        .count();
    assert_eq!(hello, 1, "the README's message send posted once");
}

/// Splits a command line on spaces, keeping double-quoted words together.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.trim().chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}
