//! A small OpenAI-compatible model server on loopback, for tests and demos.
//!
//! It answers `POST /v1/chat/completions` (and `POST /chat/completions`)
//! with deterministic replies — by default `echo: <last user message>` — and
//! records every request (model, messages, headers) so tests can assert what
//! a bot sent. The answer can be replaced with any async function, e.g. to
//! hold one conversation's reply until the test releases it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use clickclack_testkit::model_stub::ModelStub;
//!
//! let stub = ModelStub::start().await;
//! assert!(stub.base_url().ends_with("/v1"));
//! assert_eq!(stub.request_count(), 0);
//! # }
//! ```
//!
//! # Outages
//!
//! A model provider fails in more ways than a status code. Program them per
//! call or for a stretch of (Tokio) time, so a paused-clock test can walk
//! through an outage and its end:
//!
//! - [`fail_next(n, fault)`](ModelStub::fail_next): the next `n` calls get
//!   `fault`, then answers resume.
//! - [`fail_for(duration, fault)`](ModelStub::fail_for): every call in the
//!   next `duration` gets `fault`.
//! - [`StubFault`]: `Status(503)` (an OpenAI-style error body), `Html` (200
//!   with a `text/html` page, like a proxy or captive portal), `Delay(d)`
//!   (the real answer, `d` late), `CloseConnection` (the connection is closed
//!   without any response).
//! - [`stop_listening`](ModelStub::stop_listening) /
//!   [`resume_listening`](ModelStub::resume_listening): the port stops
//!   accepting (new connections are refused) and open connections are cut.
//!
//! Every call counts, faulted or not: [`request_count`](ModelStub::request_count)
//! for all of them, [`calls_for_message`](ModelStub::calls_for_message) and
//! [`calls_containing`](ModelStub::calls_containing) per prompt, so a test can
//! assert "no second model call for this message".
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::time::Duration;
//! use clickclack_testkit::model_stub::{ModelStub, StubFault};
//!
//! let stub = ModelStub::start().await;
//! stub.fail_next(2, StubFault::Status(503));
//! stub.fail_for(Duration::from_secs(60), StubFault::Html);
//! assert_eq!(stub.calls_for_message("hello"), 0);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

/// Largest request body accepted (16 MiB: images ride inline).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// One recorded chat-completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct StubRequest {
    /// `model`.
    pub model: String,
    /// `messages` as `(role, content)` pairs, in order (for content-part
    /// arrays, the `text` parts joined).
    pub messages: Vec<(String, String)>,
    /// Image parts of the messages, in order: the `image_url.url` of OpenAI
    /// `image_url` parts (`data:<type>;base64,…`).
    pub image_urls: Vec<String>,
    /// Request headers (lower-case names). `authorization` is kept so tests
    /// can check the bearer; the stub never logs it.
    pub headers: Vec<(String, String)>,
    /// The whole JSON body.
    pub body: Value,
}

impl StubRequest {
    /// The content of the last `user` message (empty when there is none).
    pub fn last_user_message(&self) -> &str {
        self.messages
            .iter()
            .rev()
            .find(|(role, _)| role == "user")
            .map(|(_, content)| content.as_str())
            .unwrap_or_default()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the stub answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StubReply {
    /// A 200 completion with this text.
    Text(String),
    /// An error status with an OpenAI-style error body.
    Status(u16),
    /// A 200 completion whose `choices[0].message` is this object (e.g.
    /// with `reasoning_content` or `tool_calls`).
    Message(Value),
    /// Like [`StubReply::Message`], with the response's `model` naming the
    /// model that answered (as a gateway reports its backend model) instead
    /// of echoing the requested one.
    Answered {
        /// The response's `model`.
        model: String,
        /// `choices[0].message`.
        message: Value,
    },
}

/// A programmed model failure (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StubFault {
    /// This status with an OpenAI-style error body (e.g. 503, 429, 500).
    Status(u16),
    /// 200 with a `text/html` page instead of JSON.
    Html,
    /// The normal answer, held back for this long.
    Delay(Duration),
    /// The connection is closed without a response.
    CloseConnection,
}

/// The HTML page of [`StubFault::Html`].
const HTML_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Service Unavailable</title></head>\
<body><h1>upstream connect error</h1></body></html>\n";

#[derive(Debug, Default)]
struct FaultPlan {
    /// `(remaining calls, fault)`, consumed in order.
    next: Vec<(usize, StubFault)>,
    /// `(until, fault)`.
    window: Option<(Instant, StubFault)>,
}

impl FaultPlan {
    fn take(&mut self) -> Option<StubFault> {
        if let Some((n, fault)) = self.next.first_mut() {
            let fault = fault.clone();
            *n -= 1;
            if *n == 0 {
                self.next.remove(0);
            }
            return Some(fault);
        }
        match &self.window {
            Some((until, fault)) if Instant::now() < *until => Some(fault.clone()),
            _ => None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The boxed future a reply function returns.
pub type ReplyFuture = Pin<Box<dyn Future<Output = StubReply> + Send>>;

type ReplyFn = Arc<dyn Fn(StubRequest) -> ReplyFuture + Send + Sync>;

struct State {
    requests: Mutex<Vec<StubRequest>>,
    count: AtomicU64,
    reply: ReplyFn,
    faults: Mutex<FaultPlan>,
    /// Open connections, cut by [`ModelStub::stop_listening`].
    connections: Mutex<Vec<AbortHandle>>,
}

/// A running model stub; stops when dropped.
pub struct ModelStub {
    addr: SocketAddr,
    state: Arc<State>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for ModelStub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelStub")
            .field("addr", &self.addr)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

/// The default reply: `echo: <last user message>`.
pub fn echo_reply(request: &StubRequest) -> String {
    format!("echo: {}", request.last_user_message())
}

impl ModelStub {
    /// Starts an echo stub on `127.0.0.1:0`.
    ///
    /// # Panics
    ///
    /// Panics if no loopback port can be bound.
    pub async fn start() -> ModelStub {
        Self::start_with(|request| {
            let text = echo_reply(&request);
            Box::pin(async move { StubReply::Text(text) })
        })
        .await
    }

    /// Starts a stub whose answers come from `reply`.
    ///
    /// # Panics
    ///
    /// Panics if no loopback port can be bound.
    pub async fn start_with<F>(reply: F) -> ModelStub
    where
        F: Fn(StubRequest) -> ReplyFuture + Send + Sync + 'static,
    {
        let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(l) => l,
            Err(e) => panic!("clickclack-testkit: model stub cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("clickclack-testkit: model stub has no local address: {e}"),
        };
        let state = Arc::new(State {
            requests: Mutex::new(Vec::new()),
            count: AtomicU64::new(0),
            reply: Arc::new(reply),
            faults: Mutex::new(FaultPlan::default()),
            connections: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        ModelStub {
            addr,
            state,
            task: Mutex::new(Some(task)),
        }
    }

    /// The next `n` calls get `fault` (after any earlier `fail_next`
    /// faults are used up); calls after them are answered normally.
    pub fn fail_next(&self, n: usize, fault: StubFault) {
        if n > 0 {
            lock(&self.state.faults).next.push((n, fault));
        }
    }

    /// Every call during the next `duration` (Tokio time, so it follows a
    /// paused clock) gets `fault`; replaces an earlier window.
    pub fn fail_for(&self, duration: Duration, fault: StubFault) {
        lock(&self.state.faults).window = Some((Instant::now() + duration, fault));
    }

    /// Removes every programmed fault.
    pub fn clear_faults(&self) {
        *lock(&self.state.faults) = FaultPlan::default();
    }

    /// Stops accepting connections (new ones are refused by the OS) and cuts
    /// every open one, like a model server that went away. Calls made now
    /// are not counted: they never reach the stub.
    pub fn stop_listening(&self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
        for conn in lock(&self.state.connections).drain(..) {
            conn.abort();
        }
    }

    /// Listens again on the same address after
    /// [`stop_listening`](Self::stop_listening) (no-op while listening).
    ///
    /// # Errors
    ///
    /// When the port cannot be bound again (another process took it).
    pub async fn resume_listening(&self) -> std::io::Result<()> {
        if lock(&self.task).is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr).await?;
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&self.state)));
        *lock(&self.task) = Some(task);
        Ok(())
    }

    /// Calls whose last `user` message is exactly `text` (faulted calls
    /// included): "how many times was the model asked about this message".
    pub fn calls_for_message(&self, text: &str) -> u64 {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.last_user_message() == text)
            .count() as u64
    }

    /// Calls with any message whose content contains `needle`.
    pub fn calls_containing(&self, needle: &str) -> u64 {
        lock(&self.state.requests)
            .iter()
            .filter(|r| r.messages.iter().any(|(_, c)| c.contains(needle)))
            .count() as u64
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (an OpenClaw Gateway URL: the client adds `/v1`).
    pub fn root_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1` (a provider `baseUrl`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Chat-completions requests received so far.
    pub fn request_count(&self) -> u64 {
        self.state.count.load(Ordering::SeqCst)
    }

    /// Every recorded request, oldest first.
    pub fn requests(&self) -> Vec<StubRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for ModelStub {
    fn drop(&mut self) {
        self.stop_listening();
    }
}

/// The service error that makes hyper close a connection without a response.
#[derive(Debug)]
struct CloseConnection;

impl fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("model stub: connection closed on purpose")
    }
}

impl std::error::Error for CloseConnection {}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let conn_state = Arc::clone(&state);
        let task = tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, Arc::clone(&conn_state)));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        let mut conns = lock(&state.connections);
        conns.retain(|c| !c.is_finished());
        conns.push(task.abort_handle());
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_body(message: &str) -> Value {
    json!({ "error": { "message": message, "type": "stub_error" } })
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, CloseConnection> {
    let path = req.uri().path().to_owned();
    if req.method() != http::Method::POST
        || !matches!(path.as_str(), "/v1/chat/completions" | "/chat/completions")
    {
        return Ok(json_response(
            StatusCode::NOT_FOUND,
            &error_body("route not found"),
        ));
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &error_body("body too large"),
            ));
        }
    };
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return Ok(json_response(
            StatusCode::BAD_REQUEST,
            &error_body("invalid JSON"),
        ));
    };
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|m| {
                    let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                    (role.to_owned(), content_text(m.get("content")))
                })
                .collect()
        })
        .unwrap_or_default();
    let image_urls = body
        .get("messages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("content").and_then(Value::as_array))
        .flatten()
        .filter_map(|part| part.pointer("/image_url/url").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    let request = StubRequest {
        model: model.clone(),
        messages,
        image_urls,
        headers,
        body,
    };
    let n = state.count.fetch_add(1, Ordering::SeqCst) + 1;
    state
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(request.clone());
    // Faults apply after the call is recorded: a faulted call still counts.
    let fault = lock(&state.faults).take();
    match fault {
        None => {}
        Some(StubFault::Delay(d)) => tokio::time::sleep(d).await,
        Some(StubFault::CloseConnection) => return Err(CloseConnection),
        Some(StubFault::Html) => {
            let mut resp = Response::new(Full::new(Bytes::from_static(HTML_PAGE.as_bytes())));
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return Ok(resp);
        }
        Some(StubFault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Ok(json_response(status, &error_body("stub outage")));
        }
    }
    let reply = (state.reply)(request).await;
    Ok(match reply {
        StubReply::Text(text) => json_response(
            StatusCode::OK,
            &json!({
                "id": format!("chatcmpl-stub-{n}"),
                "object": "chat.completion",
                "created": 0,
                "model": model,
                "choices": [{
                    "index": 0,
                    "message": { "role": "assistant", "content": text },
                    "finish_reason": "stop"
                }],
                "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 }
            }),
        ),
        StubReply::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            json_response(status, &error_body("stub failure"))
        }
        StubReply::Message(message) => completion(n, &model, message),
        StubReply::Answered { model, message } => completion(n, &model, message),
    })
}

fn completion(n: u64, model: &str, message: Value) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::OK,
        &json!({
            "id": format!("chatcmpl-stub-{n}"),
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{ "index": 0, "message": message, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 }
        }),
    )
}

/// The text of a `content`: a string, or the `text` parts of an array.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}
