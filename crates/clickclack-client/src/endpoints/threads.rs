//! Threads: get a thread page, reply.

use clickclack_proto::requests::CreateThreadReply;
use clickclack_proto::responses::ThreadReplyResponse;
use clickclack_proto::{MessageId, ThreadPage, ThreadState};
use http::Method;

use crate::body::decode_json;
use crate::client::{Call, Client};
use crate::error::Error;
use crate::nonce::ensure_nonce;
use crate::retry::Idempotency;
use crate::url::{ApiPath, Query};

/// Query of `GET /api/messages/{id}/thread`.
///
/// Non-exhaustive: build one with [`ThreadQuery::new`] (the server's default
/// window), [`ThreadQuery::latest`], [`ThreadQuery::after`] or
/// [`ThreadQuery::before`], then [`ThreadQuery::with_limit`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ThreadQuery {
    /// Page size (server: 1–200, default 100).
    pub limit: Option<u32>,
    /// `latest=true`: the newest window (ascending).
    pub latest: bool,
    /// Replies after this `thread_seq` (exclusive).
    pub after_seq: Option<i64>,
    /// Replies before this `thread_seq` (exclusive).
    pub before_seq: Option<i64>,
}

impl ThreadQuery {
    /// The server's default window (the oldest replies); same as `default()`.
    pub fn new() -> Self {
        Self::default()
    }

    /// `latest=true`: the newest window of replies (ascending).
    pub fn latest() -> Self {
        Self {
            latest: true,
            ..Self::default()
        }
    }

    /// Replies after this `thread_seq` (exclusive).
    pub fn after(seq: i64) -> Self {
        Self {
            after_seq: Some(seq),
            ..Self::default()
        }
    }

    /// Replies before this `thread_seq` (exclusive).
    pub fn before(seq: i64) -> Self {
        Self {
            before_seq: Some(seq),
            ..Self::default()
        }
    }

    /// Sets the page size.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn to_query(&self) -> Query {
        Query::new()
            .push_opt("limit", self.limit.map(|l| l.to_string()))
            .push_opt("latest", self.latest.then_some("true"))
            .push_opt("after_seq", self.after_seq.map(|s| s.to_string()))
            .push_opt("before_seq", self.before_seq.map(|s| s.to_string()))
    }
}

impl Client {
    /// `GET /api/messages/{id}/thread`: the root, a window of replies and the thread state.
    pub async fn get_thread(
        &self,
        root: &MessageId,
        query: &ThreadQuery,
    ) -> Result<ThreadPage, Error> {
        let path = ApiPath::new("/api/messages")
            .seg(root.as_str())
            .lit("thread");
        self.json(Call::get(path).query(query.to_query())).await
    }

    /// `POST /api/messages/{id}/thread/replies`.
    ///
    /// Always nonce-keyed (the caller's nonce or a generated one). After an
    /// ambiguous failure the committed reply is looked up by nonce; the
    /// returned `events` is then empty (as on a server-side replay) and
    /// `thread_state` is re-read from the thread.
    pub async fn reply_in_thread(
        &self,
        root: &MessageId,
        mut request: CreateThreadReply,
    ) -> Result<ThreadReplyResponse, Error> {
        let nonce = ensure_nonce(&mut request.nonce)?;
        let path = ApiPath::new("/api/messages")
            .seg(root.as_str())
            .lit("thread")
            .lit("replies");
        let request = &request;
        self.create_reconciled(
            || {
                Ok(Call::new(Method::POST, path.clone())
                    .json(request)?
                    .idempotency(Idempotency::NonceKeyed))
            },
            None,
            &nonce,
            |bytes| decode_json(&bytes),
            |message| async move {
                let query = ThreadQuery::latest().with_limit(1);
                let thread_state = match self.get_thread(root, &query).await {
                    Ok(page) => page.thread_state,
                    Err(_) => ThreadState::new(root.clone()),
                };
                ThreadReplyResponse::new(message, thread_state)
            },
        )
        .await
    }
}
