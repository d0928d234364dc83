//! Row 16: media upload → message → attach, the size cap, the
//! verify-then-retry-once attach rule, and durable upload reuse.

mod common;

use std::io::Write;

use clickclack_client::RetryPolicy;
use openclaw_clickclack::channel::ChannelOptions;
use openclaw_clickclack::nonce::DurablePart;
use openclaw_clickclack::outbound::{MediaAttachment, OutboundMessage, SendError};

use common::{Env, all_requests, channel, channel_with, start};

fn proof_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("viewer-proof.ts");
    let mut file = std::fs::File::create(&path).expect("create");
    file.write_all(b"const proof = true;").expect("write");
    path
}

fn no_retry(env: &Env) -> openclaw_clickclack::channel::ClickClackChannel {
    channel_with(
        env,
        &env.seed.bot.token,
        "",
        ChannelOptions::default().retry_policy(RetryPolicy::none()),
    )
}

#[tokio::test]
async fn uploads_then_posts_then_attaches_keeping_filename_and_mime() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = proof_file(&dir);
    let ch = channel(&env);
    let ids = ch
        .send(
            None,
            "channel:general",
            OutboundMessage::text("Artifact proof").with_media(MediaAttachment::path(&path)),
        )
        .await
        .expect("sent");
    assert_eq!(ids.len(), 1);
    let message = env.server.message(&ids[0]).expect("stored");
    assert_eq!(message.body, "Artifact proof");
    assert_eq!(message.attachments.len(), 1);
    let upload = &message.attachments[0];
    assert_eq!(upload.filename, "viewer-proof.ts");
    assert_eq!(upload.content_type, "text/typescript");
    assert_eq!(upload.byte_size, 19);
    assert_eq!(env.server.request_count("POST", "/api/uploads"), 1);
    assert_eq!(env.server.request_count("POST", "/api/channels/"), 1);
    assert_eq!(
        env.server.request_count("POST", "/api/messages/"),
        1,
        "one attach"
    );
}

#[tokio::test]
async fn filename_is_the_media_only_body_and_dms_work() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = proof_file(&dir);
    let alice = env.server.create_user(&env.seed.workspace.id, "Alice");
    let ch = channel(&env);
    let ids = ch
        .send(
            None,
            &format!("dm:{}", alice.user.id),
            OutboundMessage::text("").with_media(MediaAttachment::path(&path)),
        )
        .await
        .expect("sent");
    let message = env.server.message(&ids[0]).expect("stored");
    assert_eq!(message.body, "viewer-proof.ts");
    assert!(message.direct_conversation_id.is_some());
    assert_eq!(message.attachments.len(), 1);
}

#[tokio::test]
async fn thread_targets_get_the_media_reply_in_the_thread() {
    let env = start().await;
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "root");
    let ch = channel(&env);
    let ids = ch
        .send(
            None,
            &format!("thread:{}", root.id),
            OutboundMessage::text("Thread artifact")
                .with_media(MediaAttachment::bytes("notes.txt", &b"hello"[..])),
        )
        .await
        .expect("sent");
    let message = env.server.message(&ids[0]).expect("stored");
    assert_eq!(message.parent_message_id, Some(root.id));
    assert_eq!(message.body, "Thread artifact");
    assert_eq!(message.attachments[0].content_type, "text/plain");
}

#[tokio::test]
async fn oversized_media_is_rejected_before_any_request() {
    let env = start().await;
    let ch = channel_with(
        &env,
        &env.seed.bot.token,
        "mediaMaxMb: 0.00001,",
        ChannelOptions::default(),
    );
    // 0.00001 MiB = 10 bytes; the file has 19.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = proof_file(&dir);
    let err = ch
        .send(
            None,
            "channel:general",
            OutboundMessage::text("Too large").with_media(MediaAttachment::path(&path)),
        )
        .await
        .expect_err("too large");
    assert_eq!(err.to_string(), "media exceeds 10 bytes");
    assert!(matches!(
        err,
        SendError::MediaTooLarge {
            size: 19,
            limit: 10
        }
    ));
    assert_eq!(all_requests(&env.server), 0);
}

#[tokio::test]
async fn media_limit_is_capped_at_64_mib() {
    let env = start().await;
    let ch = channel_with(
        &env,
        &env.seed.bot.token,
        "mediaMaxMb: 1000,",
        ChannelOptions::default(),
    );
    let account = ch.account(None).expect("account");
    assert_eq!(account.media_max_bytes, 64 * 1024 * 1024);
    let big = vec![0_u8; 64 * 1024 * 1024 + 1];
    let err = ch
        .send(
            None,
            "general",
            OutboundMessage::text("big").with_media(MediaAttachment::bytes("big.bin", big)),
        )
        .await
        .expect_err("too large");
    assert_eq!(err.to_string(), "media exceeds 67108864 bytes");
    assert_eq!(all_requests(&env.server), 0);
}

#[tokio::test]
async fn attach_failure_is_retried_once_with_the_same_upload_and_message() {
    let env = start().await;
    let ch = no_retry(&env);
    env.server
        .faults()
        .fail_next("POST", "/api/messages/", 1, 500);
    let ids = ch
        .send(
            None,
            "general",
            OutboundMessage::text("Artifact proof")
                .with_media(MediaAttachment::bytes("a.txt", &b"a"[..])),
        )
        .await
        .expect("retried");
    assert_eq!(env.server.request_count("POST", "/api/uploads"), 1);
    assert_eq!(env.server.request_count("POST", "/api/channels/"), 1);
    assert_eq!(
        env.server.request_count("POST", "/api/messages/"),
        2,
        "attach twice"
    );
    assert_eq!(
        env.server
            .request_count("GET", &format!("/api/messages/{}", ids[0])),
        1,
        "verified once"
    );
    assert_eq!(
        env.server
            .message(&ids[0])
            .expect("stored")
            .attachments
            .len(),
        1
    );
}

#[tokio::test]
async fn a_persisted_attachment_with_a_lost_response_counts_as_success() {
    let env = start().await;
    let ch = no_retry(&env);
    env.server
        .faults()
        .lose_next_response("POST", "/api/messages/");
    let ids = ch
        .send(
            None,
            "general",
            OutboundMessage::text("Artifact proof")
                .with_media(MediaAttachment::bytes("a.txt", &b"a"[..])),
        )
        .await
        .expect("verified");
    assert_eq!(
        env.server.request_count("POST", "/api/messages/"),
        1,
        "no second attach"
    );
    assert_eq!(
        env.server
            .message(&ids[0])
            .expect("stored")
            .attachments
            .len(),
        1
    );
}

#[tokio::test]
async fn attach_and_its_retry_failing_is_a_partial_delivery_with_the_first_error() {
    let env = start().await;
    let ch = no_retry(&env);
    env.server
        .faults()
        .fail_next("POST", "/api/messages/", 1, 500);
    env.server
        .faults()
        .fail_next("POST", "/api/messages/", 1, 400);
    let err = ch
        .send(
            None,
            "general",
            OutboundMessage::text("Artifact proof")
                .with_media(MediaAttachment::bytes("a.txt", &b"a"[..])),
        )
        .await
        .expect_err("both attaches fail");
    assert_eq!(err.to_string(), "ClickClack 500: injected fault");
    assert!(err.visible_reply_sent());
    let SendError::PartialDelivery { message_ids, .. } = &err else {
        panic!("expected a partial delivery, got {err:?}");
    };
    assert_eq!(message_ids.len(), 1);
    assert_eq!(env.server.request_count("POST", "/api/uploads"), 1);
    assert_eq!(env.server.request_count("POST", "/api/channels/"), 1);
    assert_eq!(env.server.request_count("POST", "/api/messages/"), 2);
}

#[tokio::test]
async fn durable_media_reuses_upload_and_message_nonces_across_retries() {
    let env = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = proof_file(&dir);
    let ch = channel(&env);
    let message = OutboundMessage::text("Artifact proof")
        .with_media(MediaAttachment::path(&path))
        .durable(DurablePart::new("queue-1", 0).expect("part"));
    let first = ch
        .send(None, "general", message.clone())
        .await
        .expect("sent");
    let stored = env.server.message(&first[0]).expect("stored");
    assert_eq!(
        stored.nonce.as_deref(),
        Some("openclaw-media:59191af0ade27fb1ed08162b9eed248d0b62f878fba7da53d16e32cacf34f6a1")
    );
    assert_eq!(
        stored.attachments[0].nonce.as_deref(),
        Some("openclaw-upload:59191af0ade27fb1ed08162b9eed248d0b62f878fba7da53d16e32cacf34f6a1")
    );
    // The retry must not read the source again: remove it.
    std::fs::remove_file(&path).expect("remove");
    let again = ch.send(None, "general", message).await.expect("replayed");
    assert_eq!(again, first);
    assert_eq!(
        env.server.request_count("POST", "/api/uploads"),
        1,
        "no second multipart write"
    );
    assert_eq!(
        env.server
            .message(&first[0])
            .expect("stored")
            .attachments
            .len(),
        1
    );
    let count = env
        .server
        .channel_messages(&env.seed.general.id)
        .iter()
        .filter(|m| m.body == "Artifact proof")
        .count();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn several_media_use_consecutive_part_indexes_and_the_caption_once() {
    let env = start().await;
    let ch = channel(&env);
    let message = OutboundMessage::text("proof")
        .with_media(MediaAttachment::bytes("first.png", &b"1"[..]))
        .with_media(MediaAttachment::bytes("second.png", &b"2"[..]))
        .durable(DurablePart::new("queue-media", 0).expect("part"));
    let ids = ch.send(None, "general", message).await.expect("sent");
    assert_eq!(ids.len(), 2);
    let first = env.server.message(&ids[0]).expect("first");
    let second = env.server.message(&ids[1]).expect("second");
    assert_eq!(first.body, "proof");
    assert_eq!(second.body, "second.png");
    assert_eq!(first.attachments[0].content_type, "image/png");
    let digest1 = DurablePart::new("queue-media", 1).expect("part").digest();
    assert_eq!(second.nonce, Some(format!("openclaw-media:{digest1}")));
}
