//! Row 15: durable nonces and the outbound.test.ts vectors.

use openclaw_clickclack::errors::ClickClackError;
use openclaw_clickclack::nonce::{
    DurablePart, MAX_PART_INDEX, media_nonces, model_reply_queue_id, text_nonce,
};

fn part(queue: &str, index: i64) -> DurablePart {
    DurablePart::new(queue, index).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn text_vector_from_outbound_test() {
    // "marks dispatch immediately before a durable text platform write"
    assert_eq!(
        text_nonce(&part("queue-text", 0)),
        "openclaw-text:4a171ee0c18d243d8d3c510320ab1b1d317afd95b0204abec18312e57307fb24"
    );
}

#[test]
fn media_vectors_from_outbound_test() {
    // "reuses durable upload and message nonces across queue retries"
    let nonces = media_nonces(&part("queue-1", 0));
    assert_eq!(
        nonces.upload,
        "openclaw-upload:59191af0ade27fb1ed08162b9eed248d0b62f878fba7da53d16e32cacf34f6a1"
    );
    assert_eq!(
        nonces.message,
        "openclaw-media:59191af0ade27fb1ed08162b9eed248d0b62f878fba7da53d16e32cacf34f6a1"
    );
    // Retrying the same part gives the same nonces.
    assert_eq!(media_nonces(&part("queue-1", 0)), nonces);
    assert_ne!(media_nonces(&part("queue-1", 1)), nonces);
}

#[test]
fn model_reply_vector() {
    let queue = model_reply_queue_id("msg_1");
    assert_eq!(queue, "clickclack-model-reply:msg_1");
    assert_eq!(
        text_nonce(&part(&queue, 0)),
        "openclaw-text:b8e1b0a9daa9b9da866c685eccb8315bc711f4887aab5137a1373c251218ec29"
    );
}

#[test]
fn part_index_rules() {
    let message = "ClickClack durable delivery requires a stable delivery part index";
    for bad in [
        -1,
        i64::MIN,
        i64::try_from(MAX_PART_INDEX + 1).unwrap_or(i64::MAX),
    ] {
        let err = DurablePart::new("q", bad).err();
        assert_eq!(err, Some(ClickClackError::DurablePartIndex), "{bad}");
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some(message));
    }
    assert!(DurablePart::new("q", i64::try_from(MAX_PART_INDEX).unwrap_or(0)).is_ok());
    assert_eq!(DurablePart::from_optional(None, None), Ok(None));
    assert_eq!(DurablePart::from_optional(Some(""), Some(-1)), Ok(None));
    assert_eq!(
        DurablePart::from_optional(Some("q"), None),
        Err(ClickClackError::DurablePartIndex)
    );
    let p = DurablePart::from_optional(Some("q"), Some(3)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.as_ref().map(DurablePart::part_index), Some(3));
    assert_eq!(p.as_ref().map(DurablePart::queue_id), Some("q"));
}
