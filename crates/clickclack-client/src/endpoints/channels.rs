//! Channels.

use clickclack_proto::requests::{CreateChannel, PatchChannel};
use clickclack_proto::responses::{ChannelWriteResponse, ChannelsResponse};
use clickclack_proto::{Channel, ChannelId, WorkspaceId, slugify};
use http::Method;

use crate::client::{Call, Client};
use crate::error::{Error, ErrorKind};
use crate::url::ApiPath;

impl Client {
    /// `GET /api/workspaces/{id}/channels`.
    pub async fn list_channels(&self, workspace: &WorkspaceId) -> Result<Vec<Channel>, Error> {
        let path = ApiPath::new("/api/workspaces")
            .seg(workspace.as_str())
            .lit("channels");
        let resp: ChannelsResponse = self.json(Call::get(path)).await?;
        Ok(resp.channels)
    }

    /// `POST /api/workspaces/{id}/channels` (needs `channels:write`, i.e. `bot:admin`).
    /// The server slugifies the name.
    pub async fn create_channel(
        &self,
        workspace: &WorkspaceId,
        request: &CreateChannel,
    ) -> Result<ChannelWriteResponse, Error> {
        let path = ApiPath::new("/api/workspaces")
            .seg(workspace.as_str())
            .lit("channels");
        self.json(Call::new(Method::POST, path).json(request)?)
            .await
    }

    /// `PATCH /api/channels/{id}` (needs `channels:write`).
    pub async fn patch_channel(
        &self,
        channel: &ChannelId,
        request: &PatchChannel,
    ) -> Result<ChannelWriteResponse, Error> {
        let path = ApiPath::new("/api/channels").seg(channel.as_str());
        self.json(Call::new(Method::PATCH, path).json(request)?)
            .await
    }

    /// Finds a channel by id or name. A leading `#` is ignored and names are
    /// compared in slugified form (the server stores slugified names), so
    /// `"#General Chat"` finds `general-chat`. Fails with
    /// [`ErrorKind::NotFound`] when none matches.
    pub async fn resolve_channel(
        &self,
        workspace: &WorkspaceId,
        name_or_id: &str,
    ) -> Result<Channel, Error> {
        let channels = self.list_channels(workspace).await?;
        pick_channel(channels, name_or_id).ok_or_else(|| {
            Error::new(ErrorKind::NotFound)
                .with_path(format!(
                    "/api/workspaces/{}/channels",
                    crate::url::escape_segment(workspace.as_str())
                ))
                .with_detail(format!("no channel matches {:?}", name_or_id.trim()))
        })
    }
}

fn pick_channel(channels: Vec<Channel>, name_or_id: &str) -> Option<Channel> {
    let wanted = name_or_id.trim();
    if let Some(c) = channels.iter().find(|c| c.id.as_str() == wanted) {
        return Some(c.clone());
    }
    let slug = slugify(wanted.trim_start_matches('#'));
    if slug.is_empty() {
        return None;
    }
    channels
        .into_iter()
        .find(|c| c.name == slug || slugify(&c.name) == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chn(id: &str, name: &str) -> Channel {
        let mut channel = Channel::default();
        channel.id = id.into();
        channel.name = name.into();
        channel
    }

    #[test]
    fn picks_by_id_or_slugified_name() {
        let all = vec![chn("chn_1", "general"), chn("chn_2", "general-chat")];
        assert_eq!(
            pick_channel(all.clone(), "chn_2").map(|c| c.id),
            Some("chn_2".into())
        );
        assert_eq!(
            pick_channel(all.clone(), "#General Chat").map(|c| c.id),
            Some("chn_2".into())
        );
        assert_eq!(
            pick_channel(all.clone(), "GENERAL").map(|c| c.id),
            Some("chn_1".into())
        );
        assert!(pick_channel(all.clone(), "#").is_none());
        assert!(pick_channel(all, "random").is_none());
    }
}
