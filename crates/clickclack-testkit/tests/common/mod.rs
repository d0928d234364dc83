//! A plain hyper HTTP/1 client and a plain fastwebsockets client for tests.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use fastwebsockets::{Frame, OpCode, WebSocket};
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Empty, Full};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

pub use clickclack_testkit::*;

/// A response: status, headers, body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or("").to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request on a fresh connection.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Resp {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

/// A JSON API call with an optional bearer token.
pub async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("content-type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("authorization", a.as_str()));
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    send(
        server.addr(),
        Method::from_bytes(method.as_bytes()).unwrap(),
        path,
        &headers,
        body,
    )
    .await
}

pub async fn get(server: &TestServer, path: &str, token: &str) -> Resp {
    call(server, "GET", path, Some(token), None).await
}

pub async fn post(server: &TestServer, path: &str, token: &str, body: Value) -> Resp {
    call(server, "POST", path, Some(token), Some(body)).await
}

struct SpawnExecutor;

impl<Fut> hyper::rt::Executor<Fut> for SpawnExecutor
where
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    fn execute(&self, fut: Fut) {
        tokio::task::spawn(fut);
    }
}

pub type Ws = WebSocket<TokioIo<Upgraded>>;

/// How to authenticate the upgrade.
pub enum WsAuth<'a> {
    Header(&'a str),
    Protocol(&'a str),
}

/// Opens `/api/realtime/ws?{query}`.
pub async fn ws_connect(
    server: &TestServer,
    query: &str,
    auth: WsAuth<'_>,
) -> Result<(Ws, http::Response<hyper::body::Incoming>), fastwebsockets::WebSocketError> {
    let stream = TcpStream::connect(server.addr()).await.unwrap();
    let mut req = Request::builder()
        .method("GET")
        .uri(format!("/api/realtime/ws?{query}"))
        .header("host", server.addr().to_string())
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header(
            "sec-websocket-key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("sec-websocket-version", "13");
    req = match auth {
        WsAuth::Header(t) => req.header("authorization", format!("Bearer {t}")),
        WsAuth::Protocol(t) => {
            req.header("sec-websocket-protocol", format!("clickclack.bearer.{t}"))
        }
    };
    let req = req.body(Empty::<Bytes>::new()).unwrap();
    let fut: Pin<Box<dyn Future<Output = _> + Send>> = Box::pin(fastwebsockets::handshake::client(
        &SpawnExecutor,
        req,
        stream,
    ));
    fut.await
}

/// Connects with a header token and the given cursor.
pub async fn ws(server: &TestServer, workspace: &str, token: &str, after: Option<&str>) -> Ws {
    let mut q = format!("workspace_id={workspace}");
    if let Some(c) = after {
        q.push_str(&format!("&after_cursor={c}"));
    }
    let (mut ws, _) = ws_connect(server, &q, WsAuth::Header(token)).await.unwrap();
    ws.set_auto_close(true);
    ws
}

/// What the next server frame was.
#[derive(Debug, PartialEq)]
pub enum Next {
    Event(Value),
    Close(u16, String),
    Eof,
}

/// Reads the next data/close frame (5 s limit).
pub async fn next(ws: &mut Ws) -> Next {
    loop {
        let frame = match tokio::time::timeout(Duration::from_secs(5), ws.read_frame()).await {
            Ok(Ok(f)) => f,
            Ok(Err(_)) => return Next::Eof,
            Err(_) => panic!("timed out waiting for a frame"),
        };
        match frame.opcode {
            OpCode::Text => return Next::Event(serde_json::from_slice(&frame.payload).unwrap()),
            OpCode::Close => {
                let p = &frame.payload;
                let code = if p.len() >= 2 {
                    u16::from_be_bytes([p[0], p[1]])
                } else {
                    0
                };
                let reason = String::from_utf8_lossy(p.get(2..).unwrap_or(&[])).into_owned();
                return Next::Close(code, reason);
            }
            OpCode::Binary => panic!("binary frame from server"),
            _ => continue,
        }
    }
}

/// Reads the next event, panicking on anything else.
pub async fn next_event(ws: &mut Ws) -> Value {
    match next(ws).await {
        Next::Event(v) => v,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Sends a text frame from the client.
pub async fn send_text(ws: &mut Ws, text: &str) {
    ws.write_frame(Frame::text(fastwebsockets::Payload::Borrowed(
        text.as_bytes(),
    )))
    .await
    .unwrap();
}

/// `/api/realtime/events?...&include_tail=true` → tail cursor.
pub async fn tail(server: &TestServer, workspace: &str, token: &str) -> Option<String> {
    let r = get(
        server,
        &format!("/api/realtime/events?workspace_id={workspace}&include_tail=true&limit=1"),
        token,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.json()["tail_cursor"].as_str().map(str::to_owned)
}

/// Connects from the current tail (so only new events arrive).
pub async fn ws_live(server: &TestServer, workspace: &str, token: &str) -> Ws {
    let t = tail(server, workspace, token).await;
    ws(server, workspace, token, t.as_deref()).await
}
