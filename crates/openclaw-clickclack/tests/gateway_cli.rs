//! `openclaw-clickclack gateway`: status lines, JSON logs, SIGTERM shutdown.

#![cfg(unix)]

#[path = "gateway_support/mod.rs"]
mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn collect(
    lines: Arc<Mutex<Vec<String>>>,
    reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_command_runs_until_sigterm() {
    let fx = Fixture::new().await;
    let config_path = fx.state.path().join("openclaw.json5");
    std::fs::write(&config_path, fx.model_config("", "")).expect("config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_openclaw-clickclack"))
        .arg("--config")
        .arg(&config_path)
        .args([
            "gateway",
            "--account",
            "default",
            "--log-format",
            "json",
            "--state-dir",
        ])
        .arg(fx.state.path().join("state"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let out = Arc::new(Mutex::new(Vec::new()));
    let err = Arc::new(Mutex::new(Vec::new()));
    collect(Arc::clone(&out), child.stdout.take().expect("stdout"));
    collect(Arc::clone(&err), child.stderr.take().expect("stderr"));
    let has = |lines: &Arc<Mutex<Vec<String>>>, needle: &str| {
        lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|l| l.contains(needle))
    };
    wait_until("ready line", WAIT, || has(&out, "[default] ready")).await;
    let source = fx.post("hello cli");
    wait_until("answered", WAIT, || fx.replies_to(&source).len() == 1).await;

    let pid = child.id().expect("pid").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("exits")
        .expect("status");
    assert!(status.success(), "exit status {status}");
    wait_until("stopped line", WAIT, || has(&out, "[default] stopped")).await;
    let err = err.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let json_lines: Vec<serde_json::Value> = err
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        !json_lines.is_empty() && json_lines.len() == err.len(),
        "JSON logs: {err:?}"
    );
    assert!(
        !err.iter().any(|l| l.contains(&fx.seed.bot.token)),
        "the token never appears in logs"
    );
    assert_eq!(fx.replies_to(&source).len(), 1);
}
