//! The bot's own command menu.

use clickclack_proto::BotCommand;
use clickclack_proto::requests::SetBotCommands;
use clickclack_proto::responses::BotCommandsResponse;
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::ApiPath;

impl Client {
    /// `PUT /api/bots/self/commands`: replaces the bot's command menu
    /// (≤100 commands; an empty list clears it). Needs a bot token with `commands:write`.
    pub async fn set_bot_commands(
        &self,
        request: &SetBotCommands,
    ) -> Result<Vec<BotCommand>, Error> {
        let call = Call::new(Method::PUT, ApiPath::new("/api/bots/self/commands")).json(request)?;
        let resp: BotCommandsResponse = self.json(call).await?;
        Ok(resp.bot_commands)
    }
}
