//! Long texts: split into several messages with consecutive part indexes.

mod common;

use openclaw_clickclack::channel::ChannelOptions;
use openclaw_clickclack::nonce::{DurablePart, text_nonce};
use openclaw_clickclack::outbound::OutboundMessage;
use openclaw_clickclack::outbound::split::{DEFAULT_MAX_BODY_JSON_BYTES, json_len};

use common::{channel, channel_with, start};

#[tokio::test]
async fn a_long_text_becomes_ordered_parts_with_consecutive_nonces() {
    let env = start().await;
    let ch = channel_with(
        &env,
        &env.seed.bot.token,
        "",
        ChannelOptions::default().max_body_json_bytes(64),
    );
    let paragraphs: Vec<String> = (0..6)
        .map(|i| format!("paragraph {i} {}", "x".repeat(30)))
        .collect();
    let text = paragraphs.join("\n\n");
    let message =
        OutboundMessage::text(text).durable(DurablePart::new("queue-long", 3).expect("part"));
    let ids = ch.send(None, "general", message).await.expect("sent");
    assert_eq!(ids.len(), 6);
    for (k, id) in ids.iter().enumerate() {
        let stored = env.server.message(id).expect("stored");
        assert_eq!(stored.body, paragraphs[k]);
        let part = DurablePart::new("queue-long", 3 + k as i64).expect("part");
        assert_eq!(stored.nonce, Some(text_nonce(&part)));
    }
    let seqs: Vec<_> = ids
        .iter()
        .map(|id| env.server.message(id).expect("stored").channel_seq)
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(seqs, sorted, "posted in order");
}

#[tokio::test]
async fn a_text_over_one_mib_is_accepted_in_several_messages() {
    let env = start().await;
    let ch = channel(&env);
    // 2.4 MB of lines full of characters JSON must escape.
    let line = format!("{}\"quoted\" \\ back\tslash\n", "y".repeat(100));
    let text = line.repeat(2_400_000 / line.len());
    let ids = ch
        .send(None, "general", OutboundMessage::text(text.clone()))
        .await
        .expect("sent despite the 1 MiB body cap");
    assert!(ids.len() >= 3, "{} parts", ids.len());
    let mut rejoined = String::new();
    for id in &ids {
        let body = env.server.message(id).expect("stored").body;
        assert!(json_len(&body) <= DEFAULT_MAX_BODY_JSON_BYTES);
        rejoined.push_str(&body);
        rejoined.push('\n');
    }
    assert_eq!(rejoined, text, "parts are cut at line ends and re-join");
}
