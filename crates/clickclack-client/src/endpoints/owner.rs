//! Endpoints a bot's human owner calls (bot tokens get 403 on all of them):
//! profile updates, workspace creation, the owned-bot list, and claiming a
//! bot setup code (which needs no authentication at all).

use clickclack_proto::requests::{ClaimSetupCode, CreateWorkspace, UpdateMe};
use clickclack_proto::responses::{
    MeResponse, OwnedBotsResponse, SetupCodeClaimResponse, WorkspaceResponse,
};
use clickclack_proto::{OwnedBot, User, Workspace};
use http::Method;

use crate::client::{Call, Client};
use crate::error::Error;
use crate::url::ApiPath;

impl Client {
    /// `POST /api/bot-setup-codes/claim`: exchanges a single-use setup code
    /// for a freshly minted bot token and its installer context. Needs no
    /// token (build the client without one). Never retried: a code is single
    /// use, and an unknown, expired or claimed code is a uniform 404.
    pub async fn claim_setup_code(&self, code: &str) -> Result<SetupCodeClaimResponse, Error> {
        let call = Call::new(Method::POST, ApiPath::new("/api/bot-setup-codes/claim"))
            .json(&ClaimSetupCode::new(code))?;
        self.json(call).await
    }

    /// `PATCH /api/me`: updates the caller's profile (humans only; a bot
    /// token gets 403 `bot tokens cannot update profiles`).
    pub async fn update_me(&self, request: &UpdateMe) -> Result<User, Error> {
        let call = Call::new(Method::PATCH, ApiPath::new("/api/me")).json(request)?;
        let resp: MeResponse = self.json(call).await?;
        Ok(resp.user)
    }

    /// `POST /api/workspaces`: creates a workspace owned by the caller
    /// (humans only; a bot token gets 403 `bot tokens cannot create workspaces`).
    pub async fn create_workspace(&self, request: &CreateWorkspace) -> Result<Workspace, Error> {
        let call = Call::new(Method::POST, ApiPath::new("/api/workspaces")).json(request)?;
        let resp: WorkspaceResponse = self.json(call).await?;
        Ok(resp.workspace)
    }

    /// `GET /api/me/bots`: the caller's user-owned bots, one entry per
    /// workspace they are installed in (humans only).
    pub async fn my_bots(&self) -> Result<Vec<OwnedBot>, Error> {
        let resp: OwnedBotsResponse = self.json(Call::get(ApiPath::new("/api/me/bots"))).await?;
        Ok(resp.bots)
    }
}
