//! Model clients against a loopback hyper stub that speaks the OpenAI and
//! Anthropic shapes.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::http::{HeaderMap, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::*;
use crate::agent_host::{AgentHost, AgentTurn, GatewayHostConfig, OpenClawGatewayHost};

const KEY: &str = "sk-test-super-secret-123456";

#[derive(Clone)]
enum Reply {
    Json(u16, Value),
    JsonWith(u16, Value, &'static str, &'static str),
    Hang,
}

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    headers: HeaderMap,
    body: Value,
}

struct Stub {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Stub {
    /// Serves `script` in order; the last reply repeats.
    async fn start(script: Vec<Reply>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let recorded = requests.clone();
        let server = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let recorded = recorded.clone();
                let script = script.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let recorded = recorded.clone();
                        let script = script.clone();
                        async move {
                            let path = req.uri().path().to_owned();
                            let headers = req.headers().clone();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            recorded.lock().unwrap().push(Recorded {
                                path,
                                headers,
                                body,
                            });
                            let reply = {
                                let mut script = script.lock().unwrap();
                                if script.len() > 1 {
                                    script.pop_front()
                                } else {
                                    script.front().cloned()
                                }
                            };
                            let (status, value, header) = match reply {
                                Some(Reply::Json(status, value)) => (status, value, None),
                                Some(Reply::JsonWith(status, value, name, v)) => {
                                    (status, value, Some((name, v)))
                                }
                                Some(Reply::Hang) | None => std::future::pending().await,
                            };
                            let mut response = Response::builder()
                                .status(StatusCode::from_u16(status).unwrap())
                                .header("content-type", "application/json");
                            if let Some((name, v)) = header {
                                response = response.header(name, v);
                            }
                            Ok::<_, Infallible>(
                                response
                                    .body(Full::new(Bytes::from(value.to_string())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Stub {
            addr,
            requests,
            server,
        }
    }

    fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

fn openai_ok(text: &str) -> Reply {
    Reply::Json(
        200,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "m1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        }),
    )
}

fn fast_options() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        max_response_bytes: 1 << 20,
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            retry_on_timeout: false,
        },
    }
}

fn runtime(stub: &Stub, api: ApiKind, options: HttpOptions) -> HttpLlmRuntime {
    let mut registry = ProviderRegistry::builtin(|_| None);
    registry
        .configure(
            "stub",
            ProviderSettings {
                base_url: Some(stub.base()),
                api_key: ApiKey::non_blank(KEY),
                api: Some(api),
                ..Default::default()
            },
        )
        .unwrap();
    HttpLlmRuntime::new(registry, options).unwrap()
}

fn request(model: &str) -> CompletionRequest {
    CompletionRequest {
        agent_id: Some("service-bot".into()),
        model: model.into(),
        purpose: BOT_REPLY_PURPOSE.into(),
        system_prompt: Some("Be brief.".into()),
        messages: vec![ChatMessage::user("hello bot")],
        max_tokens: None,
    }
}

fn assert_no_key(error: &LlmError) {
    let shown = format!("{error} / {error:?}");
    assert!(!shown.contains(KEY), "key leaked: {shown}");
}

#[tokio::test]
async fn openai_completions_shape() {
    let stub = Stub::start(vec![openai_ok("hi there")]).await;
    let rt = runtime(&stub, ApiKind::OpenAiCompletions, fast_options());
    let completion = rt.complete(request("stub/m1")).await.unwrap();
    assert_eq!(completion.text, "hi there");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
    assert_eq!(
        completion.usage,
        Some(Usage {
            input_tokens: 7,
            output_tokens: 3
        })
    );
    let reqs = stub.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(
        reqs[0].body,
        json!({"model": "m1", "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello bot"}
        ]})
    );
}

#[tokio::test]
async fn anthropic_messages_shape() {
    let stub = Stub::start(vec![Reply::Json(
        200,
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "hel"}, {"type": "tool_use", "id": "t"}, {"type": "text", "text": "lo"}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 5, "output_tokens": 2}
        }),
    )])
    .await;
    let rt = runtime(&stub, ApiKind::AnthropicMessages, fast_options());
    let mut req = request("stub/claude-x");
    req.messages.insert(0, ChatMessage::system("Context."));
    req.messages.push(ChatMessage::assistant("earlier"));
    let completion = rt.complete(req).await.unwrap();
    assert_eq!(completion.text, "hello");
    assert_eq!(completion.finish_reason.as_deref(), Some("end_turn"));
    let reqs = stub.requests();
    assert_eq!(reqs[0].path, "/v1/messages");
    assert_eq!(reqs[0].headers["x-api-key"], KEY);
    assert_eq!(reqs[0].headers["anthropic-version"], "2023-06-01");
    assert!(reqs[0].headers.get("authorization").is_none());
    assert_eq!(
        reqs[0].body,
        json!({
            "model": "claude-x", "max_tokens": DEFAULT_ANTHROPIC_MAX_TOKENS,
            "system": "Be brief.\n\nContext.",
            "messages": [{"role": "user", "content": "hello bot"}, {"role": "assistant", "content": "earlier"}]
        })
    );
}

#[tokio::test]
async fn retries_a_503_then_succeeds() {
    let stub = Stub::start(vec![
        Reply::Json(503, json!({"error": {"message": "overloaded"}})),
        openai_ok("after retry"),
    ])
    .await;
    let rt = runtime(&stub, ApiKind::OpenAiCompletions, fast_options());
    let completion = rt.complete(request("stub/m1")).await.unwrap();
    assert_eq!(completion.text, "after retry");
    assert_eq!(stub.requests().len(), 2);
}

#[tokio::test]
async fn honours_retry_after_within_the_cap_and_gives_up_after_max_attempts() {
    let stub = Stub::start(vec![Reply::JsonWith(
        429,
        json!({"error": "slow down"}),
        "retry-after",
        "1",
    )])
    .await;
    let rt = runtime(&stub, ApiKind::OpenAiCompletions, fast_options());
    let error = rt.complete(request("stub/m1")).await.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.attempts(), 3);
    assert!(error.is_retryable());
    assert_eq!(stub.requests().len(), 3);
    assert_eq!(
        error.to_string(),
        "model provider \"stub\" returned HTTP 429: slow down"
    );
}

#[tokio::test]
async fn a_400_is_permanent_and_never_shows_the_key() {
    let stub = Stub::start(vec![Reply::Json(
        400,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error"}}),
    )])
    .await;
    let rt = runtime(&stub, ApiKind::OpenAiCompletions, fast_options());
    let error = rt.complete(request("stub/m1")).await.unwrap_err();
    assert_eq!(stub.requests().len(), 1);
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.attempts(), 1);
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "model provider \"stub\" returned HTTP 400: Incorrect API key provided: [redacted]"
    );
    assert_no_key(&error);
    assert!(!format!("{rt:?}").contains(KEY));
}

#[tokio::test]
async fn a_stalled_call_times_out() {
    let stub = Stub::start(vec![Reply::Hang]).await;
    let options = HttpOptions {
        request_timeout: Duration::from_millis(300),
        ..fast_options()
    };
    let rt = runtime(&stub, ApiKind::OpenAiCompletions, options);
    let error = rt.complete(request("stub/m1")).await.unwrap_err();
    assert!(
        matches!(error, LlmError::Timeout { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "model provider \"stub\" did not answer within 300ms"
    );
    assert_eq!(stub.requests().len(), 1);
    assert_no_key(&error);
}

#[tokio::test]
async fn connect_errors_are_retried_then_reported() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut registry = ProviderRegistry::empty();
    registry
        .configure(
            "down",
            ProviderSettings {
                base_url: Some(format!("http://127.0.0.1:{port}/v1")),
                api_key: ApiKey::non_blank(KEY),
                api: None,
                ..Default::default()
            },
        )
        .unwrap();
    let rt = HttpLlmRuntime::new(registry, fast_options()).unwrap();
    let error = rt.complete(request("down/m")).await.unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::Transport {
                connect: true,
                attempts: 3,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("could not reach model provider \"down\": ")
    );
    assert_no_key(&error);
}

#[tokio::test]
async fn malformed_success_body_is_a_decode_error() {
    let stub = Stub::start(vec![Reply::Json(200, json!({"choices": []}))]).await;
    let rt = runtime(&stub, ApiKind::OpenAiCompletions, fast_options());
    let error = rt.complete(request("stub/m1")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "unreadable response from model provider \"stub\": the completion has no choices"
    );
}

#[tokio::test]
async fn keyless_local_provider_sends_no_authorization() {
    let stub = Stub::start(vec![openai_ok("local")]).await;
    let mut registry = ProviderRegistry::builtin(|_| None);
    registry
        .configure(
            "ollama",
            ProviderSettings {
                base_url: Some(stub.base()),
                ..Default::default()
            },
        )
        .unwrap();
    let rt = HttpLlmRuntime::new(registry, fast_options()).unwrap();
    let mut req = request("ollama/llama3.2");
    req.system_prompt = None;
    req.max_tokens = Some(64);
    assert_eq!(rt.complete(req).await.unwrap().text, "local");
    let reqs = stub.requests();
    assert!(reqs[0].headers.get("authorization").is_none());
    assert_eq!(reqs[0].body["max_tokens"], 64);
    assert_eq!(
        reqs[0].body["messages"],
        json!([{"role": "user", "content": "hello bot"}])
    );
}

#[tokio::test]
async fn runtime_is_object_safe() {
    let stub = Stub::start(vec![openai_ok("dyn")]).await;
    let rt: Arc<dyn LlmRuntime> =
        Arc::new(runtime(&stub, ApiKind::OpenAiCompletions, fast_options()));
    assert_eq!(rt.complete(request("stub/m1")).await.unwrap().text, "dyn");
}

#[tokio::test]
async fn agent_host_calls_the_openclaw_gateway() {
    let stub = Stub::start(vec![openai_ok("agent says hi")]).await;
    let host = OpenClawGatewayHost::new(
        GatewayHostConfig {
            base_url: format!("http://{}", stub.addr),
            token: ApiKey::non_blank(KEY),
        },
        fast_options(),
    )
    .unwrap();
    let turn = AgentTurn::new(
        "main",
        "agent:main:clickclack:default:thread:msg_1",
        vec![ChatMessage::user("hello agent")],
    );
    let reply = host.run_turn(turn.clone()).await.unwrap();
    assert_eq!(reply.text, "agent says hi");
    let reqs = stub.requests();
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].body["model"], "openclaw/main");
    assert_eq!(reqs[0].headers["x-openclaw-message-channel"], "clickclack");
    assert_eq!(
        reqs[0].headers["x-openclaw-session-key"],
        "agent:main:clickclack:default:thread:msg_1"
    );
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert!(!format!("{host:?}").contains(KEY));
}

#[tokio::test]
async fn agent_host_does_not_retry_a_500() {
    let stub = Stub::start(vec![
        Reply::Json(500, json!({"error": {"message": "agent crashed"}})),
        openai_ok("x"),
    ])
    .await;
    let host = OpenClawGatewayHost::new(
        GatewayHostConfig {
            base_url: format!("http://{}/v1/", stub.addr),
            token: None,
        },
        fast_options(),
    )
    .unwrap();
    let error = host
        .run_turn(AgentTurn::new("main", "k", vec![ChatMessage::user("hi")]))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(stub.requests().len(), 1);
    assert!(stub.requests()[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn agent_host_retries_a_503() {
    let stub = Stub::start(vec![
        Reply::Json(503, json!({"error": "starting"})),
        openai_ok("ok"),
    ])
    .await;
    let host = OpenClawGatewayHost::new(
        GatewayHostConfig {
            base_url: format!("http://{}", stub.addr),
            token: None,
        },
        fast_options(),
    )
    .unwrap();
    let reply = host
        .run_turn(AgentTurn::new("main", "k", vec![ChatMessage::user("hi")]))
        .await
        .unwrap();
    assert_eq!(reply.text, "ok");
    assert_eq!(stub.requests().len(), 2);
}
