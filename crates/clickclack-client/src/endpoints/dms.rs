//! Direct conversations.

use clickclack_proto::requests::CreateDirectConversation;
use clickclack_proto::responses::{DirectConversationResponse, DirectConversationsResponse};
use clickclack_proto::{ConversationId, DirectConversation, UserId, WorkspaceId};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::{ApiPath, Query};

impl Client {
    /// `GET /api/dms?workspace_id=`.
    pub async fn list_dms(
        &self,
        workspace: &WorkspaceId,
    ) -> Result<Vec<DirectConversation>, Error> {
        let query = Query::new().push("workspace_id", workspace.as_str());
        let resp: DirectConversationsResponse = self
            .json(Call::get(ApiPath::new("/api/dms")).query(query))
            .await?;
        Ok(resp.conversations)
    }

    /// `POST /api/dms` with one other member: returns the existing 1:1
    /// conversation with `user`, or creates it (the server reuses by member
    /// set, so this is safe to retry).
    pub async fn open_dm(
        &self,
        workspace: &WorkspaceId,
        user: &UserId,
    ) -> Result<DirectConversation, Error> {
        let req = CreateDirectConversation::new(workspace.clone(), [user.clone()]);
        self.create_dm(&req).await
    }

    /// `POST /api/dms` with any member list (create-or-reuse for 1:1).
    pub async fn create_dm(
        &self,
        request: &CreateDirectConversation,
    ) -> Result<DirectConversation, Error> {
        // Create-or-reuse by member set: repeating it has no extra effect.
        let call = Call::new(Method::POST, ApiPath::new("/api/dms"))
            .json(request)?
            .idempotency(if request.member_ids.len() == 1 {
                crate::retry::Idempotency::Safe
            } else {
                crate::retry::Idempotency::Unsafe
            });
        let resp: DirectConversationResponse = self.json(call).await?;
        Ok(resp.conversation)
    }

    /// `GET /api/dms/{id}`.
    pub async fn get_dm(&self, conversation: &ConversationId) -> Result<DirectConversation, Error> {
        let path = ApiPath::new("/api/dms").seg(conversation.as_str());
        let resp: DirectConversationResponse = self.json(Call::get(path)).await?;
        Ok(resp.conversation)
    }
}
