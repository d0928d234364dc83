//! Row 17: reconciliation of an unknown send through nonce lookups.

mod common;

use bytes::Bytes;
use clickclack_client::UploadRequest;
use clickclack_proto::requests::CreateMessage;
use openclaw_clickclack::nonce::{DurablePart, media_nonces, text_nonce};
use openclaw_clickclack::outbound::{MediaAttachment, OutboundMessage, ReconcileOutcome};

use common::{Env, channel, start};

fn text_payload() -> OutboundMessage {
    OutboundMessage::text("recovered text")
        .durable(DurablePart::new("queue-text", 0).expect("part"))
}

fn media_payload(n: usize) -> OutboundMessage {
    let mut payload =
        OutboundMessage::text("proof").durable(DurablePart::new("queue-media", 0).expect("part"));
    for i in 0..n {
        // The source does not exist: reconciliation must never read it.
        payload = payload.with_media(MediaAttachment::path(format!("/nonexistent/{i}.png")));
    }
    payload
}

fn bot_client(env: &Env) -> clickclack_client::Client {
    clickclack_client::Client::builder(env.server.base_url())
        .token(env.seed.bot.token.as_str())
        .build()
        .expect("client")
}

#[tokio::test]
async fn text_is_sent_only_when_its_durable_message_exists() {
    let env = start().await;
    let ch = channel(&env);
    assert_eq!(
        ch.reconcile_unknown_send(None, &[text_payload()])
            .await
            .expect("ok"),
        ReconcileOutcome::NotSent
    );
    assert_eq!(
        env.server.request_count("POST", "/"),
        0,
        "nothing sent while reconciling"
    );
    let ids = ch
        .send(None, "general", text_payload())
        .await
        .expect("sent");
    let nonce = text_nonce(&DurablePart::new("queue-text", 0).expect("part"));
    assert_eq!(
        nonce,
        "openclaw-text:4a171ee0c18d243d8d3c510320ab1b1d317afd95b0204abec18312e57307fb24"
    );
    assert_eq!(
        ch.reconcile_unknown_send(None, &[text_payload()])
            .await
            .expect("ok"),
        ReconcileOutcome::Sent { message_ids: ids }
    );
}

#[tokio::test]
async fn only_one_payload_can_be_reconciled() {
    let env = start().await;
    let ch = channel(&env);
    let outcome = ch
        .reconcile_unknown_send(None, &[text_payload(), text_payload()])
        .await
        .expect("ok");
    assert_eq!(
        outcome,
        ReconcileOutcome::Unresolved {
            error: "ClickClack reconciliation requires exactly one payload".to_owned(),
            retryable: false,
        }
    );
}

#[tokio::test]
async fn media_is_not_sent_when_its_durable_message_is_absent() {
    let env = start().await;
    let ch = channel(&env);
    let outcome = ch
        .reconcile_unknown_send(None, &[media_payload(1)])
        .await
        .expect("ok");
    assert_eq!(outcome, ReconcileOutcome::NotSent);
    let digest = "b7ec5953ddec187b357faecde36f1abf0ef8590b1cda47c199c562b9e2e24432";
    let nonces = media_nonces(&DurablePart::new("queue-media", 0).expect("part"));
    assert_eq!(nonces.upload, format!("openclaw-upload:{digest}"));
    assert_eq!(nonces.message, format!("openclaw-media:{digest}"));
    assert_eq!(env.server.request_count("GET", "/api/uploads/by-nonce"), 1);
    assert_eq!(env.server.request_count("GET", "/api/messages/by-nonce"), 1);
    assert_eq!(env.server.request_count("POST", "/"), 0);
}

#[tokio::test]
async fn uploads_without_messages_replay_normally() {
    let env = start().await;
    let client = bot_client(&env);
    let ws = env.seed.workspace.id.clone();
    for i in 0..2 {
        let nonces = media_nonces(&DurablePart::new("queue-media", i).expect("part"));
        client
            .upload(
                UploadRequest::bytes(ws.clone(), format!("{i}.png"), Bytes::from_static(b"x"))
                    .with_nonce(nonces.upload),
            )
            .await
            .expect("upload");
    }
    let ch = channel(&env);
    let outcome = ch
        .reconcile_unknown_send(None, &[media_payload(2)])
        .await
        .expect("ok");
    assert_eq!(outcome, ReconcileOutcome::NotSent);
    assert_eq!(
        env.server.request_count("POST", "/api/messages/"),
        0,
        "no attach"
    );
}

#[tokio::test]
async fn attachments_are_repaired_once_every_message_exists() {
    let env = start().await;
    let client = bot_client(&env);
    let ws = env.seed.workspace.id.clone();
    let mut ids = Vec::new();
    for i in 0..2 {
        let nonces = media_nonces(&DurablePart::new("queue-media", i).expect("part"));
        let upload = client
            .upload(
                UploadRequest::bytes(ws.clone(), format!("{i}.png"), Bytes::from_static(b"x"))
                    .with_nonce(nonces.upload),
            )
            .await
            .expect("upload");
        let message = client
            .send_message(
                &env.seed.general.id,
                CreateMessage::new("proof").with_nonce(nonces.message),
            )
            .await
            .expect("message")
            .message()
            .expect("the full response decodes");
        if i == 1 {
            client
                .attach_upload(&message.id, &upload.id)
                .await
                .expect("attach");
        }
        ids.push(message.id);
    }
    let attaches_before = env.server.request_count("POST", "/api/messages/");
    let ch = channel(&env);
    let outcome = ch
        .reconcile_unknown_send(None, &[media_payload(2)])
        .await
        .expect("ok");
    assert_eq!(
        outcome,
        ReconcileOutcome::Sent {
            message_ids: ids.clone()
        }
    );
    assert_eq!(
        env.server.request_count("POST", "/api/messages/") - attaches_before,
        1,
        "only the missing attachment"
    );
    assert_eq!(
        env.server
            .message(&ids[0])
            .expect("first")
            .attachments
            .len(),
        1
    );
}

#[tokio::test]
async fn a_message_without_its_upload_is_unresolved() {
    let env = start().await;
    let client = bot_client(&env);
    let nonces = media_nonces(&DurablePart::new("queue-media", 0).expect("part"));
    let orphan = client
        .send_message(
            &env.seed.general.id,
            CreateMessage::new("proof").with_nonce(nonces.message),
        )
        .await
        .expect("message")
        .message()
        .expect("the full response decodes");
    let ch = channel(&env);
    let outcome = ch
        .reconcile_unknown_send(None, &[media_payload(1)])
        .await
        .expect("ok");
    assert_eq!(
        outcome,
        ReconcileOutcome::Unresolved {
            error: format!(
                "ClickClack message {} exists without its nonce-keyed upload",
                orphan.id
            ),
            retryable: false,
        }
    );
}

#[tokio::test]
async fn a_plain_404_means_the_server_cannot_look_nonces_up() {
    let env = start().await;
    let ch = channel(&env);
    // Resolve the workspace first so the fault hits the lookup.
    ch.sender(None)
        .expect("sender")
        .workspace_id()
        .await
        .expect("ws");
    env.server
        .faults()
        .fail_next("GET", "/api/messages/by-nonce", 1, 404);
    let err = ch
        .reconcile_unknown_send(None, &[text_payload()])
        .await
        .expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        "ClickClack server does not support durable message nonce lookup"
    );
    env.server
        .faults()
        .fail_next("GET", "/api/uploads/by-nonce", 1, 404);
    let err = ch
        .reconcile_unknown_send(None, &[media_payload(1)])
        .await
        .expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        "ClickClack server does not support durable upload nonce lookup"
    );
}
