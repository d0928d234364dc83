//! Workspace topics.

use clickclack_proto::requests::CreateTopic;
use clickclack_proto::responses::{TopicResponse, TopicsResponse};
use clickclack_proto::{Topic, WorkspaceId};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::ApiPath;

impl Client {
    /// `GET /api/workspaces/{id}/topics` (needs `channels:read`).
    pub async fn list_topics(&self, workspace: &WorkspaceId) -> Result<Vec<Topic>, Error> {
        let path = ApiPath::new("/api/workspaces")
            .seg(workspace.as_str())
            .lit("topics");
        let resp: TopicsResponse = self.json(Call::get(path)).await?;
        Ok(resp.topics)
    }

    /// `POST /api/workspaces/{id}/topics` (needs `channels:write`, i.e. `bot:admin`).
    pub async fn create_topic(
        &self,
        workspace: &WorkspaceId,
        request: &CreateTopic,
    ) -> Result<Topic, Error> {
        let path = ApiPath::new("/api/workspaces")
            .seg(workspace.as_str())
            .lit("topics");
        let resp: TopicResponse = self
            .json(Call::new(Method::POST, path).json(request)?)
            .await?;
        Ok(resp.topic)
    }
}
