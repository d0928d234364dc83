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

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Largest request body accepted (1 MiB).
const MAX_BODY: usize = 1024 * 1024;

/// One recorded chat-completions request.
#[derive(Debug, Clone, PartialEq)]
pub struct StubRequest {
    /// `model`.
    pub model: String,
    /// `messages` as `(role, content)` pairs, in order.
    pub messages: Vec<(String, String)>,
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
}

/// The boxed future a reply function returns.
pub type ReplyFuture = Pin<Box<dyn Future<Output = StubReply> + Send>>;

type ReplyFn = Arc<dyn Fn(StubRequest) -> ReplyFuture + Send + Sync>;

struct State {
    requests: Mutex<Vec<StubRequest>>,
    count: AtomicU64,
    reply: ReplyFn,
}

/// A running model stub; stops when dropped.
pub struct ModelStub {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
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
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        ModelStub { addr, state, task }
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
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, Arc::clone(&state)));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
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
) -> Result<Response<Full<Bytes>>, Infallible> {
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
                    let content = m.get("content").and_then(Value::as_str).unwrap_or_default();
                    (role.to_owned(), content.to_owned())
                })
                .collect()
        })
        .unwrap_or_default();
    let request = StubRequest {
        model: model.clone(),
        messages,
        headers,
        body,
    };
    let n = state.count.fetch_add(1, Ordering::SeqCst) + 1;
    state
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(request.clone());
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
    })
}
