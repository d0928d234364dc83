//! Reactions.

use clickclack_proto::MessageId;
use clickclack_proto::requests::AddReaction;
use clickclack_proto::responses::ReactionResponse;
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::ApiPath;

impl Client {
    /// `POST /api/messages/{id}/reactions`. Adding an existing reaction
    /// returns the zero event (check `event.is_zero()`).
    pub async fn add_reaction(
        &self,
        message: &MessageId,
        emoji: &str,
    ) -> Result<ReactionResponse, Error> {
        let path = ApiPath::new("/api/messages")
            .seg(message.as_str())
            .lit("reactions");
        let req = AddReaction::new(emoji);
        // Adding the same reaction twice is a no-op on the server: safe to retry.
        let call = Call::new(Method::POST, path)
            .json(&req)?
            .idempotency(crate::retry::Idempotency::Safe);
        self.json(call).await
    }

    /// `DELETE /api/messages/{id}/reactions/{emoji}` (the emoji is URL-escaped).
    pub async fn remove_reaction(
        &self,
        message: &MessageId,
        emoji: &str,
    ) -> Result<ReactionResponse, Error> {
        let path = ApiPath::new("/api/messages")
            .seg(message.as_str())
            .lit("reactions")
            .seg(emoji);
        self.json(Call::new(Method::DELETE, path)).await
    }
}
