//! `GET /api/me`.

use clickclack_proto::User;
use clickclack_proto::responses::MeResponse;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::ApiPath;

impl Client {
    /// `GET /api/me`: the user the token authenticates as (for a bot token, the
    /// bot user; keep its `id` to recognise the bot's own messages).
    pub async fn me(&self) -> Result<User, Error> {
        let resp: MeResponse = self.json(Call::get(ApiPath::new("/api/me"))).await?;
        Ok(resp.user)
    }
}
