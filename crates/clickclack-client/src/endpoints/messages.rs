//! Messages: pages, get, send, edit, delete, by-nonce.

use clickclack_proto::headers::MESSAGE_NONCE;
use clickclack_proto::requests::{CreateMessage, EditMessage};
use clickclack_proto::responses::{MessageResponse, MessageWriteResponse};
use clickclack_proto::{
    ChannelId, ConversationId, Message, MessageId, MessagePage, TopicId, WorkspaceId,
};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::nonce::ensure_nonce;
use crate::retry::Idempotency;
use crate::sent::SentMessage;
use crate::url::{ApiPath, Query};

/// Where a message page starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageAnchor {
    /// No cursor: the server's default window (the oldest messages).
    #[default]
    Oldest,
    /// `mode=latest`: the newest window.
    Latest,
    /// `after_seq=n` (exclusive).
    After(i64),
    /// `before_seq=n` (exclusive).
    Before(i64),
    /// `around_seq=n`.
    Around(i64),
}

/// Query of the channel/DM message list (`GET …/messages`).
///
/// Non-exhaustive: build one with [`PageRequest::oldest`] (or `default()`),
/// [`PageRequest::latest`], [`PageRequest::after`], [`PageRequest::before`] or
/// [`PageRequest::around`], then the `with_*` setters:
///
/// ```
/// use clickclack_client::PageRequest;
/// let page = PageRequest::latest().with_limit(50);
/// assert_eq!(page.limit, Some(50));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageRequest {
    /// Where the page starts.
    pub anchor: PageAnchor,
    /// Page size (server default 100, clamped 1–200).
    pub limit: Option<u32>,
    /// Only messages of this topic (channels).
    pub topic_id: Option<TopicId>,
}

impl PageRequest {
    /// The server's default window (the oldest messages); same as `default()`.
    pub fn oldest() -> Self {
        Self::default()
    }

    /// The newest window.
    pub fn latest() -> Self {
        Self {
            anchor: PageAnchor::Latest,
            ..Self::default()
        }
    }

    /// Messages after `seq` (exclusive).
    pub fn after(seq: i64) -> Self {
        Self {
            anchor: PageAnchor::After(seq),
            ..Self::default()
        }
    }

    /// Messages before `seq` (exclusive).
    pub fn before(seq: i64) -> Self {
        Self {
            anchor: PageAnchor::Before(seq),
            ..Self::default()
        }
    }

    /// Messages around `seq`.
    pub fn around(seq: i64) -> Self {
        Self {
            anchor: PageAnchor::Around(seq),
            ..Self::default()
        }
    }

    /// Sets the page size.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only messages of this topic (channels).
    pub fn with_topic(mut self, topic_id: impl Into<TopicId>) -> Self {
        self.topic_id = Some(topic_id.into());
        self
    }

    pub(crate) fn to_query(&self) -> Query {
        let q = match self.anchor {
            PageAnchor::Oldest => Query::new(),
            PageAnchor::Latest => Query::new().push("mode", "latest"),
            PageAnchor::After(n) => Query::new().push("after_seq", n.to_string()),
            PageAnchor::Before(n) => Query::new().push("before_seq", n.to_string()),
            PageAnchor::Around(n) => Query::new().push("around_seq", n.to_string()),
        };
        q.push_opt("limit", self.limit.map(|l| l.to_string()))
            .push_opt("topic_id", self.topic_id.as_ref().map(|t| t.as_str()))
    }
}

impl Client {
    /// `GET /api/channels/{id}/messages`: one page of root messages, ascending.
    pub async fn list_messages(
        &self,
        channel: &ChannelId,
        page: &PageRequest,
    ) -> Result<MessagePage, Error> {
        let path = ApiPath::new("/api/channels")
            .seg(channel.as_str())
            .lit("messages");
        self.json(Call::get(path).query(page.to_query())).await
    }

    /// `GET /api/dms/{id}/messages`: one page of root DM messages, ascending.
    pub async fn list_dm_messages(
        &self,
        conversation: &ConversationId,
        page: &PageRequest,
    ) -> Result<MessagePage, Error> {
        let path = ApiPath::new("/api/dms")
            .seg(conversation.as_str())
            .lit("messages");
        self.json(Call::get(path).query(page.to_query())).await
    }

    /// `GET /api/messages/{id}`.
    pub async fn get_message(&self, message: &MessageId) -> Result<Message, Error> {
        let path = ApiPath::new("/api/messages").seg(message.as_str());
        let resp: MessageResponse = self.json(Call::get(path)).await?;
        Ok(resp.message)
    }

    /// `POST /api/channels/{id}/messages`.
    ///
    /// The request always carries a nonce (the caller's, or a generated one),
    /// so it is retried safely; after an ambiguous failure the client looks the
    /// nonce up and returns the committed message (then there is no event, as
    /// for a server-side nonce replay).
    ///
    /// Only the new message's id is decoded here; the full
    /// [`MessageWriteResponse`] is decoded from the kept body when asked for
    /// ([`SentMessage::response`], [`SentMessage::message`]).
    pub async fn send_message(
        &self,
        channel: &ChannelId,
        mut request: CreateMessage,
    ) -> Result<SentMessage, Error> {
        let nonce = ensure_nonce(&mut request.nonce)?;
        let path = ApiPath::new("/api/channels")
            .seg(channel.as_str())
            .lit("messages");
        self.create_message_at(path, &request, &nonce).await
    }

    /// `POST /api/dms/{id}/messages` (same nonce and reconciliation rules as
    /// [`Client::send_message`]).
    pub async fn send_dm(
        &self,
        conversation: &ConversationId,
        mut request: CreateMessage,
    ) -> Result<SentMessage, Error> {
        let nonce = ensure_nonce(&mut request.nonce)?;
        let path = ApiPath::new("/api/dms")
            .seg(conversation.as_str())
            .lit("messages");
        self.create_message_at(path, &request, &nonce).await
    }

    async fn create_message_at(
        &self,
        path: ApiPath,
        request: &CreateMessage,
        nonce: &str,
    ) -> Result<SentMessage, Error> {
        self.create_reconciled(
            || {
                Ok(Call::new(Method::POST, path.clone())
                    .json(request)?
                    .idempotency(Idempotency::NonceKeyed))
            },
            None,
            nonce,
            SentMessage::from_json,
            |message| async move { SentMessage::from_message(message) },
        )
        .await
    }

    /// `PATCH /api/messages/{id}` with a new body (author only).
    pub async fn edit_message(
        &self,
        message: &MessageId,
        body: impl Into<String>,
    ) -> Result<MessageWriteResponse, Error> {
        let path = ApiPath::new("/api/messages").seg(message.as_str());
        let req = EditMessage::new(body);
        self.json(Call::new(Method::PATCH, path).json(&req)?).await
    }

    /// `DELETE /api/messages/{id}` (soft delete).
    pub async fn delete_message(&self, message: &MessageId) -> Result<MessageWriteResponse, Error> {
        let path = ApiPath::new("/api/messages").seg(message.as_str());
        self.json(Call::new(Method::DELETE, path)).await
    }

    /// `GET /api/messages/by-nonce`: the caller's message created with `nonce`,
    /// or `None`. A 404 counts as "absent" only when the server sends
    /// `X-ClickClack-Message-Nonce: supported`; otherwise the server is too old
    /// and this fails with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
    pub async fn message_by_nonce(
        &self,
        workspace: &WorkspaceId,
        nonce: &str,
    ) -> Result<Option<Message>, Error> {
        let resp: Option<MessageResponse> = self
            .get_by_nonce(
                "/api/messages/by-nonce",
                MESSAGE_NONCE,
                "messages",
                workspace,
                nonce,
            )
            .await?;
        Ok(resp.map(|r| r.message))
    }
}
