//! The external server of the out-of-process benchmarks: `clickclack-dev
//! serve` in its own process (so the client's CPU and RSS are its own),
//! bots made through its loopback admin API, and the replay log filled over
//! REST.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use clickclack_client::Client;
use clickclack_proto::requests::CreateMessage;
use clickclack_proto::{ChannelId, Cursor, WorkspaceId};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::client::Page;

/// The server's per-drain replay cap: a connection reads at most this many.
pub(crate) const PAGE: usize = 5_000;

/// A running `clickclack-dev serve`; killed on drop.
pub(crate) struct DevServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base_url: String,
    /// The seeded workspace.
    pub(crate) workspace: WorkspaceId,
    /// Its slug (`default`).
    pub(crate) workspace_slug: String,
    /// Its `#general`.
    pub(crate) general: ChannelId,
    admin: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `clickclack-dev` is: next to this (release) executable.
fn dev_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let dir = exe.parent().ok_or("current exe has no directory")?;
    let bin = dir.join(format!("clickclack-dev{}", std::env::consts::EXE_SUFFIX));
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found; build it with `cargo build --release -p clickclack-testkit --bin clickclack-dev` \
             (`cargo xtask bench` does this) or run with `--server in-process`",
            bin.display()
        ))
    }
}

impl DevServer {
    /// Starts `clickclack-dev serve` on a free loopback port (logs off).
    pub(crate) fn start() -> Result<DevServer, String> {
        let bin = dev_binary()?;
        let mut child = Command::new(&bin)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("clickclack-dev has no stdout")?;
        let mut fields = std::collections::HashMap::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading clickclack-dev output: {e}"))?;
            if let Some((k, v)) = line.split_once('=') {
                fields.insert(k.to_owned(), v.to_owned());
            }
            if line.starts_with("session_token=") {
                break;
            }
        }
        let get = |k: &str| {
            fields
                .get(k)
                .cloned()
                .ok_or_else(|| format!("clickclack-dev did not print {k}="))
        };
        let server = DevServer {
            base_url: get("base_url")?,
            workspace: WorkspaceId::from(get("workspace_id")?),
            workspace_slug: get("workspace_slug")?,
            general: ChannelId::from(get("general_channel_id")?),
            admin: HyperClient::builder(TokioExecutor::new()).build_http(),
            child,
        };
        Ok(server)
    }

    /// Creates a bot (`bot:write`) in the seeded workspace; returns its token.
    pub(crate) async fn create_bot(&self, name: &str) -> Result<String, String> {
        let body = json!({
            "workspace": self.workspace.as_str(),
            "name": name,
            "scopes": ["bot:write"],
        });
        let req = http::Request::post(format!("{}/admin/bots", self.base_url))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let resp = self
            .admin
            .request(req)
            .await
            .map_err(|e| format!("admin bot create: {e}"))?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("admin bot create: {e}"))?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("admin bot create: HTTP {status}: {v}"));
        }
        v.get("token")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| "admin bot create: no token in the response".to_owned())
    }

    /// The newest durable cursor of the workspace.
    pub(crate) async fn tail(&self, client: &Client) -> Result<Cursor, String> {
        client
            .events_page(&self.workspace, None, Some(1), true)
            .await
            .map_err(|e| format!("tail: {e}"))?
            .tail_cursor
            .ok_or_else(|| "the server returned no tail cursor".to_owned())
    }

    /// Posts `n` messages to `#general` (8 concurrent senders), then returns
    /// the replay pages covering every event after `start`.
    pub(crate) async fn fill(
        &self,
        client: &Client,
        start: &Cursor,
        n: usize,
        body: &str,
    ) -> Result<Vec<Page>, String> {
        let left = Arc::new(AtomicUsize::new(n));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (client, channel, left) = (client.clone(), self.general.clone(), left.clone());
            let body = body.to_owned();
            tasks.push(tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| x.checked_sub(1))
                    .is_ok()
                {
                    client
                        .send_message(&channel, CreateMessage::new(body.clone()))
                        .await
                        .map_err(|e| format!("fill: {e}"))?;
                }
                Ok::<_, String>(())
            }));
        }
        for task in tasks {
            task.await.map_err(|e| format!("fill task: {e}"))??;
        }
        let mut cursors = Vec::with_capacity(n);
        let mut after = start.clone();
        loop {
            let page = client
                .events_page(&self.workspace, Some(&after), Some(1000), false)
                .await
                .map_err(|e| format!("events page: {e}"))?;
            let Some(last) = page.events.last() else {
                break;
            };
            after = last.cursor.clone();
            cursors.extend(page.events.into_iter().map(|e| e.cursor));
        }
        if cursors.len() < n {
            return Err(format!(
                "posted {n} messages but the log has {} new events",
                cursors.len()
            ));
        }
        Ok(pages(start, &cursors))
    }
}

/// `cursors` (all after `start`) in replay pages of at most [`PAGE`].
fn pages(start: &Cursor, cursors: &[Cursor]) -> Vec<Page> {
    (0..cursors.len())
        .step_by(PAGE)
        .map(|from| {
            let count = PAGE.min(cursors.len() - from);
            Page {
                after: if from == 0 {
                    start.clone()
                } else {
                    cursors[from - 1].clone()
                },
                count,
                last: cursors[from + count - 1].clone(),
            }
        })
        .collect()
}
