//! Deterministic nonces for durable sends (reference §1 row 15).
//!
//! A durable delivery has a stable queue id and a part index. The digest is
//! `sha256_hex(queue_id + "\n" + part_index)` and the nonces are
//! `openclaw-text:<digest>` (text message), `openclaw-media:<digest>` (the
//! message carrying media) and `openclaw-upload:<digest>` (its upload). A
//! retry of the same part therefore reuses the same server objects.
//!
//! ```
//! use openclaw_clickclack::nonce::{DurablePart, media_nonces, text_nonce};
//!
//! let part = DurablePart::new("queue-text", 0)?;
//! assert_eq!(
//!     text_nonce(&part),
//!     "openclaw-text:4a171ee0c18d243d8d3c510320ab1b1d317afd95b0204abec18312e57307fb24",
//! );
//! let media = media_nonces(&DurablePart::new("queue-1", 0)?);
//! assert_eq!(
//!     media.upload,
//!     "openclaw-upload:59191af0ade27fb1ed08162b9eed248d0b62f878fba7da53d16e32cacf34f6a1",
//! );
//! # Ok::<(), openclaw_clickclack::errors::ClickClackError>(())
//! ```

use sha2::{Digest, Sha256};

use crate::errors::ClickClackError;

/// Prefix of durable text-message nonces.
pub const TEXT_PREFIX: &str = "openclaw-text:";
/// Prefix of durable media-message nonces.
pub const MEDIA_PREFIX: &str = "openclaw-media:";
/// Prefix of durable upload nonces.
pub const UPLOAD_PREFIX: &str = "openclaw-upload:";
/// Queue-id prefix of model-mode replies (`clickclack-model-reply:<source message id>`).
pub const MODEL_REPLY_QUEUE_PREFIX: &str = "clickclack-model-reply:";
/// Largest part index (JavaScript's `Number.MAX_SAFE_INTEGER`).
pub const MAX_PART_INDEX: u64 = (1 << 53) - 1;

/// One part of one durable delivery: a non-empty queue id and a part index
/// in `0..=2^53-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DurablePart {
    queue_id: String,
    part_index: u64,
}

impl DurablePart {
    /// Checks and builds a part.
    ///
    /// # Errors
    /// [`ClickClackError::DurablePartIndex`] when `part_index` is negative or
    /// above 2^53-1 (the TS plugin's `Number.isSafeInteger` rule), or when the
    /// queue id is empty.
    pub fn new(queue_id: impl Into<String>, part_index: i64) -> Result<Self, ClickClackError> {
        let queue_id = queue_id.into();
        let part_index =
            u64::try_from(part_index).map_err(|_| ClickClackError::DurablePartIndex)?;
        if queue_id.is_empty() || part_index > MAX_PART_INDEX {
            return Err(ClickClackError::DurablePartIndex);
        }
        Ok(Self {
            queue_id,
            part_index,
        })
    }

    /// From optional host values, like the TS plugin: no queue id → `Ok(None)`
    /// (not a durable send); a queue id without a valid part index → error.
    ///
    /// # Errors
    /// [`ClickClackError::DurablePartIndex`].
    pub fn from_optional(
        queue_id: Option<&str>,
        part_index: Option<i64>,
    ) -> Result<Option<Self>, ClickClackError> {
        match queue_id.filter(|q| !q.is_empty()) {
            None => Ok(None),
            Some(queue_id) => {
                let index = part_index.ok_or(ClickClackError::DurablePartIndex)?;
                Self::new(queue_id, index).map(Some)
            }
        }
    }

    /// The queue id.
    #[must_use]
    pub fn queue_id(&self) -> &str {
        &self.queue_id
    }

    /// The part index.
    #[must_use]
    pub fn part_index(&self) -> u64 {
        self.part_index
    }

    /// `sha256_hex(queue_id + "\n" + part_index)`.
    #[must_use]
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.queue_id.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.part_index.to_string().as_bytes());
        hex::encode(hasher.finalize())
    }
}

/// `openclaw-text:<digest>`.
#[must_use]
pub fn text_nonce(part: &DurablePart) -> String {
    format!("{TEXT_PREFIX}{}", part.digest())
}

/// The two nonces of a media part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaNonces {
    /// `openclaw-media:<digest>` for the message.
    pub message: String,
    /// `openclaw-upload:<digest>` for the upload.
    pub upload: String,
}

/// `openclaw-media:<digest>` and `openclaw-upload:<digest>` (same digest).
#[must_use]
pub fn media_nonces(part: &DurablePart) -> MediaNonces {
    let digest = part.digest();
    MediaNonces {
        message: format!("{MEDIA_PREFIX}{digest}"),
        upload: format!("{UPLOAD_PREFIX}{digest}"),
    }
}

/// The queue id of a model-mode reply to `source_message_id`
/// (`clickclack-model-reply:<id>`, part 0), so a replayed event produces the
/// same reply nonce.
#[must_use]
pub fn model_reply_queue_id(source_message_id: &str) -> String {
    format!("{MODEL_REPLY_QUEUE_PREFIX}{source_message_id}")
}

/// The queue id of a gateway reply: `clickclack-reply:<account>:<source message id>`.
#[must_use]
pub fn reply_queue_id(account_id: &str, source_message_id: &str) -> String {
    format!("clickclack-reply:{account_id}:{source_message_id}")
}

/// The durable delivery of the gateway's reply to `source_message_id`
/// (queue id [`reply_queue_id`], parts from 0). An answer, a visible failure
/// and a replayed turn all use it, so one message gets one reply.
#[must_use]
pub fn reply_delivery(account_id: &str, source_message_id: &str) -> DurablePart {
    DurablePart {
        queue_id: reply_queue_id(account_id, source_message_id),
        part_index: 0,
    }
}

/// The nonce of reply part `part` to `source_message_id` from `account_id`:
/// `openclaw-text:<sha256(queue id + "\n" + part)>`. The same inputs always
/// give the same nonce, so a replayed event cannot post a second reply.
#[must_use]
pub fn reply_nonce(account_id: &str, source_message_id: &str, part: u32) -> String {
    text_nonce(&DurablePart {
        queue_id: reply_queue_id(account_id, source_message_id),
        part_index: u64::from(part),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reply_nonces_are_deterministic_and_distinct() {
        let a = reply_nonce("work", "msg_1", 0);
        assert_eq!(a, reply_nonce("work", "msg_1", 0));
        assert_eq!(a, text_nonce(&reply_delivery("work", "msg_1")));
        assert_eq!(a.len(), TEXT_PREFIX.len() + 64);
        assert_ne!(a, reply_nonce("work", "msg_1", 1));
        assert_ne!(a, reply_nonce("home", "msg_1", 0));
        assert_ne!(a, reply_nonce("work", "msg_2", 0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn reply_nonce_fits_the_server_limit(account in "\\PC{0,64}", msg in "\\PC{0,64}", part in any::<u32>()) {
            prop_assert!(reply_nonce(&account, &msg, part).len() <= 128);
        }
    }
}
