//! Sending to ClickClack (reference §1 rows 12, 13, 15–17).
//!
//! One [`OutboundMessage`] (a payload: markdown text, optional media, reply
//! context, optional durable delivery id) becomes one or more ClickClack
//! messages:
//!
//! 1. the text is sanitised ([`sanitize::sanitize_assistant_text`]) and
//!    otherwise sent as markdown unchanged; nothing left and no media → no
//!    request at all (an empty id list);
//! 2. a text over the body budget is split at paragraph/line boundaries
//!    ([`split`]) into several messages with consecutive part indexes;
//! 3. placement (row 13): a `thread_id` or a `thread:` target → thread
//!    replies (never quoted); a `dm:` target → create-or-reuse the DM, then
//!    post in it; a channel → the channel timeline. `reply_to` quotes that
//!    message (`quoted_message_id`) on the first message only, so a reply to a
//!    top-level message stays an in-channel quote-reply, not a new thread;
//! 4. every create carries a deterministic nonce (row 15,
//!    [`crate::nonce`]): `openclaw-text:` for text part *k* and
//!    `openclaw-media:`/`openclaw-upload:` for media *i*, digested from the
//!    durable queue id and `base + k` (resp. `base + i`). Without a caller
//!    queue id, one random queue id is drawn per send, so the client's own
//!    retries are still replay-safe;
//! 5. media (row 16): size checked against `min(mediaMaxMb, 64 MiB)` before
//!    any request, then upload → message → attach, with
//!    [`media::attach_verified`]. With a caller queue id the upload is first
//!    looked up by nonce and reused without reading the file again. The
//!    caption is the first media message's body (else the file name); a
//!    caption over the budget is sent as text messages before the media.
//!
//! [`AccountSender::reconcile_unknown_send`] implements row 17.

pub mod error;
pub mod media;
pub mod sanitize;
pub mod split;

use std::sync::Arc;

use clickclack_client::{Client, ErrorKind};
use clickclack_proto::requests::{CreateMessage, CreateThreadReply};
use clickclack_proto::{Message, MessageId, Upload, WorkspaceId};
use clickclack_target_parser::Target;

pub use error::SendError;
pub use media::{MediaAttachment, MediaSource};

use crate::accounts::ResolvedAccount;
use crate::nonce::{DurablePart, media_nonces, text_nonce};
use crate::resolve::{Destination, ResolveCache, Resolver};
use split::{DEFAULT_MAX_BODY_JSON_BYTES, json_len, split_text};

/// The error string of a reconciliation asked for several payloads.
pub const RECONCILE_ONE_PAYLOAD: &str = "ClickClack reconciliation requires exactly one payload";

/// One payload to deliver.
#[derive(Debug, Clone, Default)]
pub struct OutboundMessage {
    /// Markdown text (the caption when there is media).
    pub text: String,
    /// Media attachments, each posted as its own message.
    pub media: Vec<MediaAttachment>,
    /// A message to quote (`quoted_message_id`) — ignored inside threads.
    pub reply_to: Option<MessageId>,
    /// A genuine thread context: the reply goes into this thread whatever
    /// the target.
    pub thread_id: Option<MessageId>,
    /// The durable delivery (queue id + base part index) the nonces are
    /// derived from; `None` draws a random queue id for this send.
    pub durable: Option<DurablePart>,
    /// An inbound event's correlation id to send as `X-Correlation-ID` on
    /// every request of this send (row 25); an invalid one (not 1–128 chars
    /// of `[A-Za-z0-9._:-]`) is silently omitted.
    pub correlation_id: Option<String>,
    /// The model that wrote the text (reference row 14): stamped as
    /// `author_model` / `author_thinking` / `author_runtime` on channel and
    /// thread text parts (never on DM posts, as the reference does).
    pub provenance: Option<crate::agent_host::Provenance>,
}

impl OutboundMessage {
    /// A text message.
    #[must_use]
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    /// Adds a media attachment.
    #[must_use]
    pub fn with_media(mut self, media: MediaAttachment) -> Self {
        self.media.push(media);
        self
    }

    /// Quotes `message` (a quote-reply).
    #[must_use]
    pub fn reply_to(mut self, message: impl Into<MessageId>) -> Self {
        self.reply_to = Some(message.into());
        self
    }

    /// Replies inside the thread rooted at `root`.
    #[must_use]
    pub fn in_thread(mut self, root: impl Into<MessageId>) -> Self {
        self.thread_id = Some(root.into());
        self
    }

    /// Uses a durable delivery id for the nonces.
    #[must_use]
    pub fn durable(mut self, part: DurablePart) -> Self {
        self.durable = Some(part);
        self
    }

    /// Sends `X-Correlation-ID: id` with this send's requests.
    #[must_use]
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
}

/// The result of [`AccountSender::reconcile_unknown_send`] (row 17).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconcileOutcome {
    /// Every message of the payload exists (missing attachments were
    /// repaired); these are their ids, in order.
    Sent {
        /// The message ids.
        message_ids: Vec<MessageId>,
    },
    /// Provably not (completely) sent: send it again through the normal path
    /// — the same nonces make that replay-safe.
    NotSent,
    /// Cannot be decided safely.
    Unresolved {
        /// Why (exact plugin strings).
        error: String,
        /// Whether trying again later may help.
        retryable: bool,
    },
}

/// What one planned ClickClack message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PartKind {
    /// Text part `k` (0-based among text parts).
    Text(u64),
    /// The media at this index of [`OutboundMessage::media`].
    Media(usize),
}

/// One planned ClickClack message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedPart {
    pub(crate) kind: PartKind,
    pub(crate) body: String,
}

/// Plans the messages of a payload (pure; no I/O).
pub(crate) fn plan(message: &OutboundMessage, max_body_json_bytes: usize) -> Vec<PlannedPart> {
    let text = sanitize::sanitize_assistant_text(&message.text);
    let caption_fits = json_len(&text) <= max_body_json_bytes;
    let mut parts = Vec::new();
    if message.media.is_empty() || !caption_fits {
        let mut k = 0;
        for piece in split_text(&text, max_body_json_bytes) {
            let body = piece.trim_end();
            if body.trim().is_empty() {
                continue;
            }
            parts.push(PlannedPart {
                kind: PartKind::Text(k),
                body: body.to_owned(),
            });
            k += 1;
        }
    }
    for (i, media) in message.media.iter().enumerate() {
        let body = if i == 0 && caption_fits && !text.is_empty() {
            text.clone()
        } else {
            media.resolved_filename()
        };
        parts.push(PlannedPart {
            kind: PartKind::Media(i),
            body,
        });
    }
    parts
}

fn part_at(base: &DurablePart, offset: u64) -> Result<DurablePart, SendError> {
    let index = base
        .part_index()
        .checked_add(offset)
        .and_then(|i| i64::try_from(i).ok())
        .ok_or(crate::errors::ClickClackError::DurablePartIndex)?;
    Ok(DurablePart::new(base.queue_id(), index)?)
}

fn random_queue_id() -> String {
    format!(
        "openclaw-clickclack-send:{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

/// Sends for one account: a client, the account's workspace and media
/// limit, and its resolution cache.
#[derive(Debug, Clone)]
pub struct AccountSender {
    client: Client,
    workspace: String,
    media_max_bytes: u64,
    max_body_json_bytes: usize,
    cache: Arc<ResolveCache>,
}

impl AccountSender {
    /// A sender for `account` through `client` (built on the account's API
    /// endpoint and token), sharing `cache`.
    #[must_use]
    pub fn new(client: Client, account: &ResolvedAccount, cache: Arc<ResolveCache>) -> Self {
        Self {
            client,
            workspace: account.workspace.clone(),
            media_max_bytes: account.media_max_bytes,
            max_body_json_bytes: DEFAULT_MAX_BODY_JSON_BYTES,
            cache,
        }
    }

    /// Uses an already resolved workspace id instead of the account's
    /// configured value.
    #[must_use]
    pub fn with_workspace_id(mut self, workspace: &WorkspaceId) -> Self {
        self.workspace = workspace.as_str().to_owned();
        self
    }

    /// Overrides the per-message body budget (JSON-escaped bytes, default
    /// [`DEFAULT_MAX_BODY_JSON_BYTES`]).
    #[must_use]
    pub fn with_max_body_json_bytes(mut self, bytes: usize) -> Self {
        self.max_body_json_bytes = bytes.max(split::MIN_BODY_JSON_BYTES);
        self
    }

    /// The client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The resolution cache.
    #[must_use]
    pub fn cache(&self) -> &Arc<ResolveCache> {
        &self.cache
    }

    /// The configured workspace, resolved to an id (cached).
    ///
    /// # Errors
    /// `ClickClack workspace not found: <value>` or the server's error.
    pub async fn workspace_id(&self) -> Result<WorkspaceId, SendError> {
        let result = Resolver::new(&self.client, &self.cache)
            .workspace(&self.workspace)
            .await;
        if let Err(e) = &result {
            self.cache.invalidate_on(e);
        }
        result
    }

    /// Sends `message` to `target`; returns the created message ids in order
    /// (empty when sanitising left nothing to send).
    ///
    /// # Errors
    /// [`SendError`]; when some messages were already posted, a
    /// [`SendError::PartialDelivery`] listing them.
    pub async fn send(
        &self,
        target: &Target,
        message: &OutboundMessage,
    ) -> Result<Vec<MessageId>, SendError> {
        let result = self
            .for_correlation(message.correlation_id.as_deref())
            .send_inner(target, message)
            .await;
        if let Err(e) = &result {
            self.cache.invalidate_on(e);
        }
        result
    }

    /// This sender with a client that sends `X-Correlation-ID` (when `id` is
    /// valid; otherwise unchanged).
    fn for_correlation(&self, id: Option<&str>) -> Self {
        let Some(id) = id.map(str::trim) else {
            return self.clone();
        };
        match self.client.with_correlation_id(id) {
            Ok(client) => Self {
                client,
                ..self.clone()
            },
            Err(_) => {
                tracing::debug!("invalid ClickClack correlation id omitted");
                self.clone()
            }
        }
    }

    /// Sends `message` to an already known `destination` (the gateway
    /// answers in the conversation of the source message); otherwise the
    /// same steps as [`AccountSender::send`].
    ///
    /// # Errors
    /// As [`AccountSender::send`].
    pub async fn send_to(
        &self,
        destination: &Destination,
        message: &OutboundMessage,
    ) -> Result<Vec<MessageId>, SendError> {
        let result = self
            .for_correlation(message.correlation_id.as_deref())
            .send_resolved(Resolved::Known(destination), message)
            .await;
        if let Err(e) = &result {
            self.cache.invalidate_on(e);
        }
        result
    }

    async fn send_inner(
        &self,
        target: &Target,
        message: &OutboundMessage,
    ) -> Result<Vec<MessageId>, SendError> {
        self.send_resolved(Resolved::Target(target), message).await
    }

    async fn send_resolved(
        &self,
        target: Resolved<'_>,
        message: &OutboundMessage,
    ) -> Result<Vec<MessageId>, SendError> {
        let caller_durable = message.durable.is_some();
        let base = match &message.durable {
            Some(part) => part.clone(),
            None => DurablePart::new(random_queue_id(), 0)?,
        };
        let parts = plan(message, self.max_body_json_bytes);
        if parts.is_empty() {
            tracing::debug!("ClickClack send suppressed: nothing visible after sanitising");
            return Ok(Vec::new());
        }
        // Derive every nonce first: a bad part index fails before any I/O.
        let mut keyed = Vec::with_capacity(parts.len());
        for part in parts {
            let durable = match part.kind {
                PartKind::Text(k) => part_at(&base, k)?,
                PartKind::Media(i) => part_at(&base, i as u64)?,
            };
            keyed.push((part, durable));
        }
        if !caller_durable {
            // No upload can exist yet: reject oversize media before any request.
            for media in &message.media {
                media.check_size(self.media_max_bytes).await?;
            }
        }
        let resolver = Resolver::new(&self.client, &self.cache);
        let workspace = resolver.workspace(&self.workspace).await?;
        let destination = match target {
            Resolved::Known(destination) => destination.clone(),
            Resolved::Target(target) => {
                resolver
                    .destination(&workspace, target, message.thread_id.as_ref())
                    .await?
            }
        };
        let mut quote = message.reply_to.clone();
        let mut ids: Vec<MessageId> = Vec::new();
        for (part, durable) in keyed {
            let step = match part.kind {
                PartKind::Text(_) => {
                    self.create(
                        &destination,
                        part.body,
                        text_nonce(&durable),
                        quote.take(),
                        message.provenance.as_ref(),
                    )
                    .await
                }
                PartKind::Media(i) => {
                    let Some(media) = message.media.get(i) else {
                        continue;
                    };
                    self.send_media(
                        &workspace,
                        &destination,
                        media,
                        part.body,
                        &durable,
                        caller_durable,
                        quote.take(),
                        &ids,
                    )
                    .await
                }
            };
            match step {
                Ok(id) => ids.push(id),
                Err(e @ SendError::PartialDelivery { .. }) => return Err(e),
                Err(e) if ids.is_empty() => return Err(e),
                Err(e) => {
                    return Err(SendError::PartialDelivery {
                        message_ids: ids,
                        first: Box::new(e),
                    });
                }
            }
        }
        Ok(ids)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_media(
        &self,
        workspace: &WorkspaceId,
        destination: &Destination,
        media: &MediaAttachment,
        body: String,
        durable: &DurablePart,
        caller_durable: bool,
        quote: Option<MessageId>,
        sent: &[MessageId],
    ) -> Result<MessageId, SendError> {
        let nonces = media_nonces(durable);
        let existing = if caller_durable {
            self.upload_by_nonce(workspace, &nonces.upload).await?
        } else {
            None
        };
        let upload = match existing {
            Some(upload) => {
                tracing::debug!(upload_id = %upload.id, "reusing the nonce-keyed ClickClack upload");
                upload
            }
            None => {
                if caller_durable {
                    media.check_size(self.media_max_bytes).await?;
                }
                self.client
                    .upload(media.upload_request(workspace, &nonces.upload))
                    .await
                    .map_err(SendError::from_client)?
            }
        };
        let body = if body.trim().is_empty() {
            non_blank(&upload.filename)
                .unwrap_or("attachment")
                .to_owned()
        } else {
            body
        };
        let message_id = self
            .create(destination, body, nonces.message, quote, None)
            .await?;
        if let Err(first) = media::attach_verified(&self.client, &message_id, &upload.id).await {
            let mut message_ids = sent.to_vec();
            message_ids.push(message_id);
            return Err(SendError::PartialDelivery {
                message_ids,
                first: Box::new(first),
            });
        }
        Ok(message_id)
    }

    async fn create(
        &self,
        destination: &Destination,
        body: String,
        nonce: String,
        quote: Option<MessageId>,
        provenance: Option<&crate::agent_host::Provenance>,
    ) -> Result<MessageId, SendError> {
        let provenance = provenance.map(|p| p.clone().normalized());
        let id = match destination {
            Destination::Thread(root) => {
                let mut request = CreateThreadReply::new(body).with_nonce(nonce);
                if let Some(p) = provenance {
                    request = request.with_provenance(p.model, p.thinking, p.runtime);
                }
                self.client.reply_in_thread(root, request).await?.message.id
            }
            Destination::Dm { conversation, .. } => {
                let mut request = CreateMessage::new(body).with_nonce(nonce);
                request.quoted_message_id = quote;
                self.client.send_dm(conversation, request).await?.into_id()
            }
            Destination::Channel(channel) => {
                let mut request = CreateMessage::new(body).with_nonce(nonce);
                if let Some(p) = provenance {
                    request = request.with_provenance(p.model, p.thinking, p.runtime);
                }
                request.quoted_message_id = quote;
                self.client.send_message(channel, request).await?.into_id()
            }
        };
        tracing::debug!(message_id = %id, "ClickClack message created");
        Ok(id)
    }

    async fn upload_by_nonce(
        &self,
        workspace: &WorkspaceId,
        nonce: &str,
    ) -> Result<Option<Upload>, SendError> {
        match self.client.upload_by_nonce(workspace, nonce).await {
            Ok(found) => Ok(found),
            Err(e) if e.kind() == &ErrorKind::Unsupported => {
                Err(SendError::UploadNonceLookupUnsupported)
            }
            Err(e) => Err(SendError::from_client(e)),
        }
    }

    async fn message_by_nonce(
        &self,
        workspace: &WorkspaceId,
        nonce: &str,
    ) -> Result<Option<Message>, SendError> {
        match self.client.message_by_nonce(workspace, nonce).await {
            Ok(found) => Ok(found),
            Err(e) if e.kind() == &ErrorKind::Unsupported => {
                Err(SendError::MessageNonceLookupUnsupported)
            }
            Err(e) => Err(SendError::from_client(e)),
        }
    }

    /// Decides whether a durable send whose outcome is unknown (a crash or a
    /// lost response) reached ClickClack, using only nonce lookups — the
    /// media source is never read again (row 17):
    ///
    /// * exactly one payload, else `Unresolved` with
    ///   `ClickClack reconciliation requires exactly one payload`;
    /// * no durable id, or nothing visible to send → `NotSent`;
    /// * text: every part's `openclaw-text` nonce must name a message →
    ///   `Sent`, else `NotSent`;
    /// * media: per media, the upload and message nonces; a message without
    ///   its upload → `Unresolved` (`ClickClack message <id> exists without
    ///   its nonce-keyed upload`, not retryable); any missing message →
    ///   `NotSent`; otherwise missing attachments are repaired and → `Sent`.
    ///
    /// # Errors
    /// `ClickClack server does not support durable message nonce lookup`
    /// (resp. `upload`) when the server answers a plain 404; other server
    /// errors.
    pub async fn reconcile_unknown_send(
        &self,
        payloads: &[OutboundMessage],
    ) -> Result<ReconcileOutcome, SendError> {
        let [payload] = payloads else {
            return Ok(ReconcileOutcome::Unresolved {
                error: RECONCILE_ONE_PAYLOAD.to_owned(),
                retryable: false,
            });
        };
        let Some(base) = &payload.durable else {
            return Ok(ReconcileOutcome::NotSent);
        };
        let parts = plan(payload, self.max_body_json_bytes);
        if parts.is_empty() {
            return Ok(ReconcileOutcome::NotSent);
        }
        let workspace = self.workspace_id().await?;
        let mut text_ids = Vec::new();
        let mut media_found = Vec::new();
        for part in &parts {
            match part.kind {
                PartKind::Text(k) => {
                    let nonce = text_nonce(&part_at(base, k)?);
                    match self.message_by_nonce(&workspace, &nonce).await? {
                        Some(found) => text_ids.push(found.id),
                        None => return Ok(ReconcileOutcome::NotSent),
                    }
                }
                PartKind::Media(i) => {
                    let nonces = media_nonces(&part_at(base, i as u64)?);
                    let upload = self.upload_by_nonce(&workspace, &nonces.upload).await?;
                    let message = self.message_by_nonce(&workspace, &nonces.message).await?;
                    media_found.push((upload, message));
                }
            }
        }
        let mut pairs = Vec::with_capacity(media_found.len());
        for (upload, message) in media_found {
            match (upload, message) {
                (None, Some(message)) => {
                    return Ok(ReconcileOutcome::Unresolved {
                        error: format!(
                            "ClickClack message {} exists without its nonce-keyed upload",
                            message.id
                        ),
                        retryable: false,
                    });
                }
                (_, None) => return Ok(ReconcileOutcome::NotSent),
                (Some(upload), Some(message)) => pairs.push((upload, message)),
            }
        }
        let mut message_ids = text_ids;
        for (upload, message) in pairs {
            if !message.attachments.iter().any(|a| a.id == upload.id) {
                media::attach_verified(&self.client, &message.id, &upload.id).await?;
            }
            message_ids.push(message.id);
        }
        Ok(ReconcileOutcome::Sent { message_ids })
    }
}

/// Where a send goes: a target still to resolve, or a known destination.
#[derive(Clone, Copy)]
enum Resolved<'a> {
    Target(&'a Target),
    Known(&'a Destination),
}

fn non_blank(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_suppresses_scaffolding_only_text() {
        let message = OutboundMessage::text("⚠️ 🛠️ `search repos (agent)` failed");
        assert!(plan(&message, 1024).is_empty());
    }

    #[test]
    fn plan_uses_caption_then_filenames() {
        let message = OutboundMessage::text("Artifact proof")
            .with_media(MediaAttachment::bytes("a.png", &b"x"[..]))
            .with_media(MediaAttachment::bytes("b.png", &b"y"[..]));
        let parts = plan(&message, 1024);
        assert_eq!(
            parts,
            vec![
                PlannedPart {
                    kind: PartKind::Media(0),
                    body: "Artifact proof".into()
                },
                PlannedPart {
                    kind: PartKind::Media(1),
                    body: "b.png".into()
                },
            ]
        );
    }

    #[test]
    fn plan_sends_a_long_caption_as_text_first() {
        let message = OutboundMessage::text("one two three four five six seven eight")
            .with_media(MediaAttachment::bytes("a.png", &b"x"[..]));
        let parts = plan(&message, 20);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].kind, PartKind::Text(0));
        assert_eq!(parts[1].kind, PartKind::Text(1));
        assert_eq!(
            parts[2],
            PlannedPart {
                kind: PartKind::Media(0),
                body: "a.png".into()
            }
        );
    }

    #[test]
    fn plan_numbers_text_parts_consecutively() {
        let text = format!(
            "{}\n\n{}\n\n{}",
            "a".repeat(10),
            "b".repeat(10),
            "c".repeat(10)
        );
        let parts = plan(&OutboundMessage::text(text), 16);
        let kinds: Vec<_> = parts.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![PartKind::Text(0), PartKind::Text(1), PartKind::Text(2)]
        );
        assert_eq!(parts[0].body, "a".repeat(10));
    }
}
