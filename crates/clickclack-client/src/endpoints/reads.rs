//! Read marks.

use clickclack_proto::requests::MarkRead;
use clickclack_proto::responses::ReceiptResponse;
use clickclack_proto::{ChannelId, ConversationId, ReadReceipt};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::retry::Idempotency;
use crate::url::ApiPath;

impl Client {
    /// `POST /api/channels/{id}/read {seq}`.
    pub async fn mark_channel_read(
        &self,
        channel: &ChannelId,
        seq: i64,
    ) -> Result<ReadReceipt, Error> {
        let path = ApiPath::new("/api/channels")
            .seg(channel.as_str())
            .lit("read");
        self.mark_read(path, seq).await
    }

    /// `POST /api/dms/{id}/read {seq}`.
    pub async fn mark_dm_read(
        &self,
        conversation: &ConversationId,
        seq: i64,
    ) -> Result<ReadReceipt, Error> {
        let path = ApiPath::new("/api/dms")
            .seg(conversation.as_str())
            .lit("read");
        self.mark_read(path, seq).await
    }

    async fn mark_read(&self, path: ApiPath, seq: i64) -> Result<ReadReceipt, Error> {
        // Setting a read pointer to a value is idempotent.
        let call = Call::new(Method::POST, path)
            .json(&MarkRead::new(seq))?
            .idempotency(Idempotency::Safe);
        let resp: ReceiptResponse = self.json(call).await?;
        Ok(resp.receipt)
    }
}
