//! Config glue of the gateway: `catchUpMaxAge` (schema, inheritance,
//! precedence against `--catch-up-max-age`), `gateway.port` and
//! `gateway.auth.token` for agent mode, and `doctor`'s OpenClaw Gateway check.

#[path = "gateway_support/mod.rs"]
mod support;

use std::time::Duration;

use openclaw_clickclack::accounts::{DEFAULT_CATCH_UP_MAX_AGE, resolve_account};
use openclaw_clickclack::config::{MapEnv, parse_config_str};
use openclaw_clickclack::gateway::{Clock, GatewayOptions, gateway_host_config};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BASE: &str =
    r#"enabled: true, baseUrl: "https://cc.example.com", token: "ccb_x", workspace: "default","#;

fn catch_up(extra_root: &str, account: Option<&str>) -> Result<Duration, String> {
    let text = format!(
        "{{channels: {{clickclack: {{ {BASE} {extra_root} accounts: {{ work: {{ catchUpMaxAge: '30s' }}, plain: {{}} }} }}}}}}"
    );
    let env = MapEnv::new();
    let config = parse_config_str(&text, &env).map_err(|e| e.to_string())?;
    Ok(resolve_account(&config, account, &env)
        .map_err(|e| e.to_string())?
        .catch_up_max_age)
}

#[test]
fn catch_up_max_age_is_an_inherited_account_key() {
    assert_eq!(catch_up("", Some("default")), Ok(DEFAULT_CATCH_UP_MAX_AGE));
    assert_eq!(DEFAULT_CATCH_UP_MAX_AGE, Duration::from_secs(600));
    // Seconds as a number, or a duration string; named accounts inherit the root.
    assert_eq!(
        catch_up("catchUpMaxAge: 120,", Some("plain")),
        Ok(Duration::from_secs(120))
    );
    assert_eq!(
        catch_up("catchUpMaxAge: '1h',", Some("default")),
        Ok(Duration::from_secs(3600))
    );
    assert_eq!(
        catch_up("catchUpMaxAge: 0,", Some("plain")),
        Ok(Duration::ZERO)
    );
    // The account's own value wins.
    assert_eq!(
        catch_up("catchUpMaxAge: '1h',", Some("work")),
        Ok(Duration::from_secs(30))
    );
    for (bad, why) in [
        ("'10 minutes'", "expected a number of seconds"),
        ("-5", "expected a number of seconds"),
        ("'10x'", "expected a number of seconds"),
        ("true", "expected number or duration string, found boolean"),
    ] {
        let err = catch_up(&format!("catchUpMaxAge: {bad},"), None).expect_err(bad);
        assert!(
            err.contains("channels.clickclack.catchUpMaxAge: ") && err.contains(why),
            "{bad}: {err}"
        );
    }
    // Unknown-key strictness is unchanged around it.
    let err = catch_up("catchUpMaxAg: 5,", None).expect_err("typo");
    assert!(
        err.contains("channels.clickclack.catchUpMaxAg: unknown key"),
        "{err}"
    );
}

#[tokio::test]
async fn gateway_uses_the_configured_catch_up_max_age_unless_the_flag_overrides_it() {
    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let config = fx.model_config("catchUpMaxAge: \"30m\",", "");
    let gateway = fx.start(&config, fx.options()).await;
    gateway.shutdown().await;

    // Sent while down; the gateway returns with its clock an hour ahead:
    // older than the configured 30 minutes → skipped.
    let old = fx.post("an hour old");
    let ahead = || GatewayOptions {
        clock: Clock::offset(Duration::from_secs(3600)),
        ..fx.options()
    };
    let gateway = fx.start(&config, ahead()).await;
    let expected = format!(
        "[default] skipped ClickClack message older than catchUpMaxAge: messageId={}",
        old.id
    );
    wait_until("old message skipped", WAIT, || logs.contains(&expected)).await;
    assert!(
        logs.contains("catchUpMaxAgeSeconds=1800"),
        "{}",
        logs.text()
    );
    gateway.shutdown().await;

    // The flag (GatewayOptions::catch_up_max_age) wins over the config: 2 h.
    let older = fx.post("also an hour old, but allowed");
    let options = GatewayOptions {
        catch_up_max_age: Some(Duration::from_secs(7200)),
        ..ahead()
    };
    let gateway = fx.start(&config, options).await;
    wait_until("answered", WAIT, || fx.replies_to(&older).len() == 1).await;
    gateway.shutdown().await;
    assert!(fx.replies_to(&old).is_empty());
}

fn agent_config(fx: &Fixture, gateway_section: &str) -> String {
    fx.model_config("", &format!("gateway: {{ {gateway_section} }},"))
        .replace("replyMode: \"model\",", "")
        .replace("model: \"stub/echo\",", "")
}

#[tokio::test]
async fn agent_mode_reads_gateway_port_and_auth_token_from_the_config() {
    let fx = Fixture::new().await;
    let port = fx.model.addr().port();
    // A secret ref (env provider "default"); OPENCLAW_GATEWAY_TOKEN loses to it.
    let config = agent_config(
        &fx,
        &format!(
            "port: {port}, auth: {{ mode: 'token', token: {{ source: 'env', provider: 'default', id: 'GW_TOKEN' }} }}"
        ),
    );
    let env = MapEnv::new()
        .with("GW_TOKEN", "gw-from-config")
        .with("OPENCLAW_GATEWAY_TOKEN", "gw-from-env");
    let gateway = start_gateway(&config, &env, fx.options()).await;
    wait_ready(&gateway).await;
    let root = fx.post("agent via gateway.port");
    wait_until("answered", WAIT, || fx.replies_to(&root).len() == 1).await;
    gateway.shutdown().await;
    let requests = fx.model.requests();
    assert_eq!(requests[0].model, "openclaw/main");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer gw-from-config")
    );

    // A plain string with ${VAR} substitution; the URL env var overrides the port.
    let config = agent_config(&fx, "port: 1, auth: { token: '${GW_TOKEN}' }");
    let env = MapEnv::new()
        .with("GW_TOKEN", "gw-substituted")
        .with("OPENCLAW_GATEWAY_URL", fx.model.root_url());
    let host = gateway_host_config(&parse(&config, &env), &env).expect("resolves");
    assert_eq!(host.base_url, fx.model.root_url());
    assert_eq!(
        host.token.as_ref().map(|t| t.expose_secret()),
        Some("gw-substituted")
    );
    // Without gateway.auth.token the environment token is used; without a port, 18789.
    let env = MapEnv::new().with("OPENCLAW_GATEWAY_TOKEN", "gw-from-env");
    let host = gateway_host_config(&parse(&agent_config(&fx, ""), &env), &env).expect("resolves");
    assert_eq!(host.base_url, "http://127.0.0.1:18789");
    assert_eq!(
        host.token.as_ref().map(|t| t.expose_secret()),
        Some("gw-from-env")
    );
    // Password mode sends gateway.auth.password.
    let config = agent_config(&fx, "auth: { mode: 'password', password: 'pw-1' }");
    let host = gateway_host_config(&parse(&config, &env), &env).expect("resolves");
    assert_eq!(host.token.as_ref().map(|t| t.expose_secret()), Some("pw-1"));
    // A ref to an undeclared provider is refused with the row 6 error.
    let config = agent_config(
        &fx,
        "auth: { token: { source: 'env', provider: 'vault', id: 'GW_TOKEN' } }",
    );
    let err = gateway_host_config(&parse(&config, &env), &env).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "Secret provider \"vault\" is not configured (ref: env:vault:GW_TOKEN)."
    );
}

/// How the stub OpenClaw Gateway answers `GET /v1/models`.
#[derive(Clone, Copy)]
enum Stub {
    /// 200 with the right bearer, 401 otherwise.
    Auth,
    /// 404 everywhere (OpenAI-compatible endpoint disabled).
    Disabled,
}

/// A minimal HTTP server standing in for the OpenClaw Gateway.
async fn stub_gateway(mode: Stub) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_lowercase();
                let status = match mode {
                    Stub::Disabled => "404 Not Found",
                    Stub::Auth if !head.starts_with("get /v1/models ") => "404 Not Found",
                    Stub::Auth if head.contains("authorization: bearer gw-secret\r\n") => "200 OK",
                    Stub::Auth => "401 Unauthorized",
                };
                let body = r#"{"object":"list","data":[]}"#;
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn doctor(config: &str, dir: &tempfile::TempDir, gw_token: &str) -> Run {
    let path = dir.path().join("openclaw.json5");
    std::fs::write(&path, config).expect("config");
    let gw_token = gw_token.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
            .arg("--config")
            .arg(&path)
            .arg("doctor")
            .env_remove("OPENCLAW_CONFIG_PATH")
            .env_remove("OPENCLAW_GATEWAY_URL")
            .env_remove("OPENCLAW_GATEWAY_TOKEN")
            .env_remove("RUST_LOG")
            .env("GW_TOKEN", gw_token)
            .output()
            .expect("runs");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_openclaw_gateway_in_agent_mode() {
    let fx = Fixture::new().await;
    let live = stub_gateway(Stub::Auth).await;
    let section = |port: u16| format!("port: {port}, auth: {{ token: '${{GW_TOKEN}}' }}");

    let out = doctor(
        &agent_config(&fx, &section(live.port())),
        &fx.state,
        "gw-secret",
    )
    .await;
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!(
            "✓ OpenClaw Gateway reachable: http://127.0.0.1:{}/v1 answers",
            live.port()
        )),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("gw-secret"),
        "the token is never printed"
    );
    // Non-gateway commands log at warn by default: no info lines.
    assert!(!out.stderr.contains("INFO"), "{}", out.stderr);

    let out = doctor(
        &agent_config(&fx, &section(live.port())),
        &fx.state,
        "wrong",
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("✗ OpenClaw Gateway reachable: http://127.0.0.1:")
            && out.stdout.contains("rejected the credential (HTTP 401)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fix: the bearer from gateway.auth.token"),
        "{}",
        out.stdout
    );

    let disabled = stub_gateway(Stub::Disabled).await;
    let out = doctor(
        &agent_config(&fx, &section(disabled.port())),
        &fx.state,
        "gw-secret",
    )
    .await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("does not serve /v1/chat/completions (HTTP 404)")
            && out.stdout.contains("chatCompletions: { enabled: true }"),
        "{}",
        out.stdout
    );

    // Nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let out = doctor(&agent_config(&fx, &section(port)), &fx.state, "gw-secret").await;
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "✗ OpenClaw Gateway reachable: cannot reach the OpenClaw Gateway at http://127.0.0.1:{port}/v1"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("fix: start the OpenClaw Gateway"),
        "{}",
        out.stdout
    );
    // The ClickClack checks still passed.
    assert!(
        out.stdout.contains("✓ realtime reachable"),
        "{}",
        out.stdout
    );

    // Model mode: no gateway check at all.
    let out = doctor(&fx.model_config("", ""), &fx.state, "gw-secret").await;
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(!out.stdout.contains("OpenClaw Gateway"), "{}", out.stdout);
}

/// Lines a child process printed, collected as they come.
#[cfg(unix)]
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[cfg(unix)]
impl Lines {
    fn follow(&self, reader: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        use tokio::io::AsyncBufReadExt;
        let lines = self.0.clone();
        tokio::spawn(async move {
            let mut reader = tokio::io::BufReader::new(reader).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
    }

    fn count(&self, needle: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).join("\n")
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_reload_starts_stops_and_keeps_accounts_on_sighup_and_file_change() {
    use clickclack_testkit::BotSpec;

    let fx = Fixture::new().await;
    let ws = fx.seed.workspace.id.clone();
    let second = fx.server.create_bot(BotSpec::new(&ws, "Second Bot"));
    let third = fx.server.create_bot(BotSpec::new(&ws, "Third Bot"));
    let config_path = fx.state.path().join("openclaw.json5");
    let with_accounts = |accounts: &str| {
        fx.model_config(&format!("accounts: {{ default: {{}}, {accounts} }},"), "")
    };
    let second_entry = format!("second: {{ token: \"{}\" }}", second.token);
    let third_entry = format!("third: {{ token: \"{}\" }}", third.token);
    std::fs::write(&config_path, with_accounts(&second_entry)).expect("config v1");

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
        .arg("--config")
        .arg(&config_path)
        .args(["gateway", "--state-dir"])
        .arg(fx.state.path().join("state"))
        .env("RUST_LOG", "info")
        .env_remove("CLICKCLACK_BOT_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (out, err) = (Lines::default(), Lines::default());
    out.follow(child.stdout.take().expect("stdout"));
    err.follow(child.stderr.take().expect("stderr"));
    let pid = child.id().expect("pid").to_string();
    let hangup = || async {
        let sent = tokio::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success());
    };
    let answered_by = |bot: &clickclack_proto::UserId, source: &clickclack_proto::Message| {
        fx.server
            .channel_messages(&fx.seed.general.id)
            .iter()
            .filter(|m| &m.author_id == bot && m.quoted_message_id.as_ref() == Some(&source.id))
            .count()
    };
    let (first, two, three) = (
        fx.seed.bot.user.id.clone(),
        second.user.id.clone(),
        third.user.id.clone(),
    );
    wait_until("both ready", WAIT, || {
        out.count("[default] ready") == 1 && out.count("[second] ready") == 1
    })
    .await;
    let m1 = fx.post("one");
    wait_until("m1 answered twice", WAIT, || {
        answered_by(&first, &m1) == 1 && answered_by(&two, &m1) == 1
    })
    .await;

    // 1. SIGHUP: `second` removed, `third` added, `default` untouched.
    std::fs::write(&config_path, with_accounts(&third_entry)).expect("config v2");
    hangup().await;
    wait_until("third ready, second stopped", WAIT, || {
        out.count("[third] ready") == 1 && out.count("[second] stopped") == 1
    })
    .await;
    let m2 = fx.post("two");
    wait_until("m2 answered by default and third", WAIT, || {
        answered_by(&first, &m2) == 1 && answered_by(&three, &m2) == 1
    })
    .await;
    assert_eq!(answered_by(&two, &m2), 0, "the removed account stopped");

    // 2. A bad config is rejected; the running accounts keep answering.
    std::fs::write(&config_path, "{ channels: { clickclack: { bogus: 1 } } }").expect("bad");
    hangup().await;
    wait_until("rejected", WAIT, || {
        err.count("config reload skipped (invalid config)") == 1
    })
    .await;
    assert!(
        err.text()
            .contains("channels.clickclack.bogus: unknown key"),
        "{}",
        err.text()
    );
    let m3 = fx.post("three");
    wait_until("m3 answered by default and third", WAIT, || {
        answered_by(&first, &m3) == 1 && answered_by(&three, &m3) == 1
    })
    .await;

    // 3. A plain file edit (no signal) is picked up too: `second` is back.
    std::fs::write(
        &config_path,
        with_accounts(&format!("{second_entry}, {third_entry}")),
    )
    .expect("config v3");
    wait_until("second ready again", WAIT, || {
        out.count("[second] ready") == 2
    })
    .await;
    let m4 = fx.post("four");
    wait_until("m4 answered by all three", WAIT, || {
        answered_by(&first, &m4) == 1
            && answered_by(&two, &m4) == 1
            && answered_by(&three, &m4) == 1
    })
    .await;

    // `default` was never restarted, and nothing was answered twice.
    assert_eq!(out.count("[default] ready"), 1, "{}", out.text());
    for source in [&m1, &m2, &m3] {
        assert!(answered_by(&first, source) == 1, "default answered once");
    }
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await;
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
}

/// Text logs to a pipe (not a terminal) carry no ANSI colours, and a
/// password inside `baseUrl` never reaches the logs or the status lines,
/// even at trace level (doctor and `accounts list`: see the cli tests).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_logs_to_a_pipe_have_no_colours_and_no_url_password() {
    let fx = Fixture::new().await;
    let _ = fx.post("before start");
    let base = fx.server.base_url();
    let with_password = base.replacen("http://", "http://bot:hunter2@", 1);
    let config_path = fx.state.path().join("openclaw.json5");
    std::fs::write(
        &config_path,
        fx.model_config("", "").replacen(&base, &with_password, 1),
    )
    .expect("config");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
        .arg("--config")
        .arg(&config_path)
        .args(["gateway", "--state-dir"])
        .arg(fx.state.path().join("state"))
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let (out, err) = (Lines::default(), Lines::default());
    out.follow(child.stdout.take().expect("stdout"));
    err.follow(child.stderr.take().expect("stderr"));
    // The client refuses credentials in the URL (a token is the only
    // credential); the refusal is logged without the password.
    wait_until("stopped", WAIT, || out.count("[default] stopped") == 1).await;
    assert!(
        out.text()
            .contains("credentials in the URL are not allowed"),
        "{}",
        out.text()
    );
    let pid = child.id().expect("pid").to_string();
    let _ = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await;
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
    let (out, err) = (out.text(), err.text());
    assert!(!err.is_empty(), "trace logs were written");
    assert!(!err.contains('\u{1b}'), "no ANSI escapes: {err}");
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{out}\n{err}"
    );
}
