//! Public route ids (`T…`/`C…`/`D…`/`M…`, protocol.md §1).

use clickclack_proto::responses::{MessageResponse, RouteResponse};
use clickclack_proto::{Message, MessageId, RouteTarget};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::retry::Idempotency;
use crate::url::ApiPath;

impl Client {
    /// `GET /api/routes/{workspace_route_id}/{target_route_id}`: resolves a
    /// public route (legacy `wsp_`/`chn_`/`dm_`/`msg_` ids are accepted too).
    /// Needs `channels:read`, `dms:read` or `threads:read` by target kind; a
    /// missing or inaccessible route is 404 `route not found`.
    pub async fn resolve_route(
        &self,
        workspace_route_id: &str,
        target_route_id: &str,
    ) -> Result<RouteTarget, Error> {
        let path = ApiPath::new("/api/routes")
            .seg(workspace_route_id)
            .seg(target_route_id);
        let resp: RouteResponse = self.json(Call::get(path)).await?;
        Ok(resp.route)
    }

    /// `POST /api/messages/{id}/route`: gives a root message its public route
    /// id if it has none yet and returns the message (needs `threads:read`).
    /// Idempotent, so it is retried like a read.
    pub async fn ensure_message_route(&self, message: &MessageId) -> Result<Message, Error> {
        let path = ApiPath::new("/api/messages")
            .seg(message.as_str())
            .lit("route");
        let call = Call::new(Method::POST, path).idempotency(Idempotency::Safe);
        let resp: MessageResponse = self.json(call).await?;
        Ok(resp.message)
    }
}
