//! End-to-end: the gateway answers through the testkit with the model stub.

#[path = "gateway_support/mod.rs"]
mod support;

use support::*;

#[tokio::test]
async fn model_mode_answers_a_channel_message_exactly_once() {
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let gateway = fx.start(&config, fx.options()).await;
    let source = fx.post("hello bot");
    wait_until("one reply", WAIT, || fx.replies_to(&source).len() == 1).await;
    let reply = &fx.replies_to(&source)[0];
    assert_eq!(reply.body, "echo: hello bot");
    let request = &fx.model.requests()[0];
    assert_eq!(request.model, "echo");
    assert_eq!(request.last_user_message(), "hello bot");
    gateway.shutdown().await;
    assert_eq!(fx.replies_to(&source).len(), 1);
    assert_eq!(fx.model.request_count(), 1);
}
