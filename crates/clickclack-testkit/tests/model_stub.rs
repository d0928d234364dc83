//! The model stub's programmable outages and per-message call counts, over
//! real loopback HTTP.

mod common;
use std::time::Duration;

use bytes::Bytes;
use clickclack_testkit::model_stub::{ModelStub, StubFault};
use common::*;
use http::Method;
use serde_json::json;

async fn ask(stub: &ModelStub, text: &str) -> Resp {
    let body = json!({ "model": "m", "messages": [{ "role": "user", "content": text }] });
    send(
        stub.addr(),
        Method::POST,
        "/v1/chat/completions",
        &[("content-type", "application/json")],
        Bytes::from(body.to_string()),
    )
    .await
}

/// Like [`ask`], but reports a transport failure instead of panicking.
async fn try_ask(stub: &ModelStub, text: &str) -> Result<u16, String> {
    let stream = tokio::net::TcpStream::connect(stub.addr())
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let body = json!({ "model": "m", "messages": [{ "role": "user", "content": text }] });
    let req = http::Request::post("/v1/chat/completions")
        .header("host", stub.addr().to_string())
        .body(http_body_util::Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    sender
        .send_request(req)
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn next_n_faults_then_answers_resume() {
    let stub = ModelStub::start().await;
    stub.fail_next(1, StubFault::Status(503));
    stub.fail_next(1, StubFault::Html);
    let r = ask(&stub, "hello").await;
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["error"]["message"], "stub outage");
    let r = ask(&stub, "hello").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(String::from_utf8_lossy(&r.body).starts_with("<!DOCTYPE html>"));
    let r = ask(&stub, "hello").await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "echo: hello");
    // Every call counts, faulted or not, per message too.
    assert_eq!(stub.request_count(), 3);
    assert_eq!(stub.calls_for_message("hello"), 3);
    assert_eq!(stub.calls_for_message("other"), 0);
    assert_eq!(stub.calls_containing("hel"), 3);
}

#[tokio::test(start_paused = true)]
async fn a_fault_window_ends_with_time_and_delays_answer_late() {
    let stub = ModelStub::start().await;
    stub.fail_for(Duration::from_secs(60), StubFault::Status(502));
    assert_eq!(ask(&stub, "a").await.status, 502);
    tokio::time::advance(Duration::from_secs(61)).await;
    assert_eq!(ask(&stub, "a").await.status, 200);

    stub.fail_next(1, StubFault::Delay(Duration::from_secs(30)));
    let started = tokio::time::Instant::now();
    let r = ask(&stub, "slow").await;
    assert_eq!(r.json()["choices"][0]["message"]["content"], "echo: slow");
    assert!(started.elapsed() >= Duration::from_secs(30));
    stub.fail_for(Duration::from_secs(60), StubFault::Status(500));
    stub.clear_faults();
    assert_eq!(ask(&stub, "b").await.status, 200);
}

#[tokio::test]
async fn closed_connections_and_a_stopped_listener() {
    let stub = ModelStub::start().await;
    stub.fail_next(1, StubFault::CloseConnection);
    let err = try_ask(&stub, "x").await.unwrap_err();
    assert!(!err.is_empty());
    assert_eq!(stub.calls_for_message("x"), 1, "the call reached the stub");
    assert_eq!(try_ask(&stub, "x").await, Ok(200));

    stub.stop_listening();
    assert!(try_ask(&stub, "y").await.is_err(), "refused while stopped");
    assert_eq!(stub.calls_for_message("y"), 0);
    stub.resume_listening().await.unwrap();
    assert_eq!(try_ask(&stub, "y").await, Ok(200));
    assert_eq!(stub.request_count(), 3);
}
