//! Shared helpers of the gateway tests: a seeded testkit, a model stub,
//! configs in the docs' JSON5 format, condition polling and log capture.

#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_proto::Cursor;
use clickclack_proto::objects::Message;
use clickclack_testkit::model_stub::{ModelStub, StubReply, echo_reply};
use clickclack_testkit::{Seed, TestServer};
use openclaw_clickclack::config::{MapEnv, OpenClawConfig, parse_config_str};
use openclaw_clickclack::gateway::{Gateway, GatewayOptions, Lifecycle};
use openclaw_clickclack::state::{LeaseTimings, StateLocation};
use tokio::sync::Semaphore;
use tracing_subscriber::fmt::MakeWriter;

/// Polls `cond` every 10 ms until it holds; panics after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Like [`wait_until`] with an async condition.
pub async fn wait_until_async<F, Fut>(what: &str, timeout: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The default bound of the waits in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// A seeded testkit server and an echo model stub.
pub struct Fixture {
    pub server: TestServer,
    pub seed: Seed,
    pub model: ModelStub,
    pub state: tempfile::TempDir,
}

impl Fixture {
    pub async fn new() -> Fixture {
        Self::with_model(ModelStub::start().await).await
    }

    pub async fn with_model(model: ModelStub) -> Fixture {
        let server = TestServer::start().await;
        let seed = server.seed();
        Fixture {
            server,
            seed,
            model,
            state: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A single (root) model-mode account in the docs' format, plus `extra`
    /// keys inside `channels.clickclack` and `top` keys at the root.
    pub fn model_config(&self, extra: &str, top: &str) -> String {
        format!(
            r#"{{
  // OpenClaw config (JSON5)
  channels: {{
    clickclack: {{
      enabled: true,
      baseUrl: "{base}",
      token: "{token}",
      workspace: "default",
      replyMode: "model",
      model: "stub/echo",
      {extra}
    }},
  }},
  models: {{ providers: {{ stub: {{ baseUrl: "{model}", api: "openai-completions" }} }} }},
  {top}
}}"#,
            base = self.server.base_url(),
            token = self.seed.bot.token,
            model = self.model.base_url(),
        )
    }

    pub fn options(&self) -> GatewayOptions {
        GatewayOptions {
            state_dir: Some(self.state.path().to_path_buf()),
            retry_base: Duration::from_millis(20),
            shutdown_grace: Duration::from_secs(5),
            ..GatewayOptions::default()
        }
    }

    /// Options of a fleet replica named `replica` on the state database `url`
    /// (1.5 s leases, 300 ms heartbeat).
    pub fn replica_options(&self, url: &str, replica: &str) -> GatewayOptions {
        GatewayOptions {
            state_dir: None,
            state: Some(url.parse::<StateLocation>().expect("state url")),
            replica_id: Some(replica.to_owned()),
            lease_timings: LeaseTimings {
                ttl: Duration::from_millis(1500),
                heartbeat: Duration::from_millis(300),
            },
            shutdown_grace: Duration::from_millis(500),
            ..self.options()
        }
    }

    /// Starts a gateway and waits until every account is ready.
    pub async fn start(&self, config: &str, options: GatewayOptions) -> Gateway {
        let gateway = start_gateway(config, &MapEnv::new(), options).await;
        wait_ready(&gateway).await;
        gateway
    }

    /// Bot-authored messages in `#general` (roots).
    pub fn bot_roots(&self) -> Vec<Message> {
        let bot = &self.seed.bot.user.id;
        self.server
            .channel_messages(&self.seed.general.id)
            .into_iter()
            .filter(|m| &m.author_id == bot)
            .collect()
    }

    /// Bot replies quoting `source`.
    pub fn replies_to(&self, source: &Message) -> Vec<Message> {
        self.bot_roots()
            .into_iter()
            .filter(|m| m.quoted_message_id.as_ref() == Some(&source.id))
            .collect()
    }

    pub fn post(&self, body: &str) -> Message {
        self.server
            .post_message(&self.seed.owner.user.id, &self.seed.general.id, body)
    }
}

/// A stub that holds replies to messages containing `hold` until released.
pub async fn holding_model(gate: Arc<Semaphore>) -> ModelStub {
    ModelStub::start_with(move |request| {
        let gate = Arc::clone(&gate);
        Box::pin(async move {
            if request.last_user_message().contains("hold")
                && let Ok(permit) = gate.acquire().await
            {
                permit.forget();
            }
            StubReply::Text(echo_reply(&request))
        })
    })
    .await
}

pub fn event_cursor(fx: &Fixture, message: &Message) -> Cursor {
    fx.server
        .events(&fx.seed.workspace.id)
        .into_iter()
        .find(|e| e.event_type() == "message.created" && e.message_id() == Some(&message.id))
        .map(|e| e.cursor().clone())
        .expect("event of the message")
}

pub fn parse(config: &str, env: &MapEnv) -> OpenClawConfig {
    parse_config_str(config, env).expect("config parses")
}

pub async fn start_gateway(config: &str, env: &MapEnv, options: GatewayOptions) -> Gateway {
    Gateway::start(&parse(config, env), env, options)
        .await
        .expect("gateway starts")
}

pub async fn wait_ready(gateway: &Gateway) {
    let status = gateway.status().clone();
    wait_until("every account ready", WAIT, || {
        status.all().iter().all(|s| s.lifecycle == Lifecycle::Ready)
    })
    .await;
}

/// A log buffer filled by [`capture_logs`].
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    pub fn contains(&self, needle: &str) -> bool {
        self.text().contains(needle)
    }
}

thread_local! {
    /// The buffer of the test running on this thread, if it captures logs.
    static CAPTURE: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the current thread's capture buffer (or nowhere).
pub struct LogWriter(Option<Logs>);

impl io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(logs) = &self.0 {
            logs.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Routes each event to the buffer of the thread that emitted it.
struct ThreadBuffers;

impl<'a> MakeWriter<'a> for ThreadBuffers {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        LogWriter(CAPTURE.with(|c| c.borrow().clone()))
    }
}

/// Ends a capture (restores the thread's previous buffer) when dropped.
pub struct CaptureGuard(Option<Logs>);

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        CAPTURE.with(|c| *c.borrow_mut() = previous);
    }
}

/// Captures logs (debug and up, no ANSI) of the current thread. Use with a
/// current-thread runtime (`#[tokio::test]`) so spawned tasks are captured too.
///
/// One global subscriber routes events by thread: per-test thread-local
/// subscribers (`set_default`) race on tracing's global interest cache when
/// tests run in parallel, and then drop events at random.
pub fn capture_logs() -> (Logs, CaptureGuard) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(ThreadBuffers)
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the gateway tests");
    });
    let logs = Logs::default();
    let previous = CAPTURE.with(|c| c.borrow_mut().replace(logs.clone()));
    (logs, CaptureGuard(previous))
}
