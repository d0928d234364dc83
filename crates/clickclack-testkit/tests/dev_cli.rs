//! The `clickclack-dev` binary: serve, then admin commands against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_clickclack-dev");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One HTTP/1.1 POST over a plain socket: (status, body).
fn http_post(base: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn help_says_state_is_in_memory() {
    let (ok, out, _) = run(&["--help"]);
    assert!(ok);
    assert!(out.contains("in memory"), "{out}");
}

#[test]
fn serve_then_admin_commands() {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _guard = Server(child);
    let mut values = std::collections::HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once('=') {
            values.insert(k.to_owned(), v.to_owned());
        }
        if line.starts_with("session_token=") {
            break;
        }
    }
    let base = values["base_url"].clone();
    assert!(base.starts_with("http://127.0.0.1:"));
    assert!(values["workspace_id"].starts_with("wsp_"));
    assert!(values["owner_user_id"].starts_with("usr_"));
    assert!(values["session_token"].starts_with("sst_"));

    let (ok, out, err) = run(&[
        "admin",
        "bot",
        "create",
        "--workspace",
        "default",
        "--name",
        "Plain Bot",
        "--handle",
        "plainbot",
        "--scopes",
        "bot:write",
        "--plain",
        "--url",
        &base,
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("ccb_") && out.ends_with('\n') && out.lines().count() == 1);

    let ws = values["workspace_id"].clone();
    let owner = values["owner_user_id"].clone();
    let (ok, out, err) = run(&[
        "admin",
        "bot",
        "create",
        "--workspace",
        &ws,
        "--name",
        "Json Bot",
        "--scopes",
        "bot:read",
        "--owner",
        &owner,
        "--url",
        &base,
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["bot"]["kind"], "bot");
    assert_eq!(v["bot"]["owner_user_id"], owner.as_str());
    assert!(v["token"].as_str().unwrap().starts_with("ccb_"));
    assert_eq!(v["bot_token"]["token"], v["token"]);
    let token_id = v["bot_token"]["id"].as_str().unwrap().to_owned();
    assert!(token_id.starts_with("btok_"));

    let (ok, _, err) = run(&[
        "admin",
        "bot",
        "create",
        "--workspace",
        "default",
        "--name",
        "Bad",
        "--scopes",
        "nope",
        "--url",
        &base,
    ]);
    assert!(!ok);
    assert!(err.contains("unknown bot scope: nope"), "{err}");

    let (ok, out, err) = run(&["admin", "user", "create", "--name", "Bob", "--url", &base]);
    assert!(ok, "{err}");
    assert!(out.contains("user_id=usr_") && out.contains("session_token=sst_"));

    // A setup code for the user-owned bot, minted by its owner, then claimed
    // over plain HTTP for a fresh token.
    let bot_id = v["bot"]["id"].as_str().unwrap().to_owned();
    let (ok, out, err) = run(&[
        "admin",
        "setup-code",
        "create",
        "--workspace",
        "default",
        "--bot",
        &bot_id,
        "--scopes",
        "bot:read",
        "--default-to",
        "channel:general",
        "--url",
        &base,
    ]);
    assert!(ok, "{err}");
    let minted: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let code = minted["setup_code"]["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 14, "{code}");
    assert_eq!(minted["setup_code"]["created_by"], owner.as_str());
    assert_eq!(
        minted["setup_code"]["defaults"]["defaultTo"],
        "channel:general"
    );
    let (status, body) = http_post(
        &base,
        "/api/bot-setup-codes/claim",
        &format!("{{\"code\":\"{code}\"}}"),
    );
    assert_eq!(status, 200, "{body}");
    let claim: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    assert!(claim["token"].as_str().unwrap().starts_with("ccb_"));
    assert_eq!(claim["bot"]["id"], bot_id.as_str());
    let (status, body) = http_post(
        &base,
        "/api/bot-setup-codes/claim",
        &format!("{{\"code\":\"{code}\"}}"),
    );
    assert_eq!(status, 404, "single use: {body}");

    let (ok, out, err) = run(&[
        "admin",
        "setup-code",
        "create",
        "--workspace",
        "default",
        "--bot",
        "plainbot",
        "--plain",
        "--url",
        &base,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim().len(), 14, "{out}");

    let (ok, _, err) = run(&["admin", "token", "revoke", &token_id, "--url", &base]);
    assert!(ok, "{err}");
    let (ok, _, _) = run(&["admin", "token", "revoke", "btok_unknown", "--url", &base]);
    assert!(!ok);
}
