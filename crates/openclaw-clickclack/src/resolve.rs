//! Resolving workspaces, channels and targets to server ids
//! (reference §1 rows 8–10, 13).
//!
//! * workspace: a value starting `wsp_` is used verbatim, without a lookup;
//!   otherwise `GET /api/workspaces` and the first workspace whose `id`,
//!   `slug` or `name` equals the value exactly (case-sensitive) — none →
//!   `ClickClack workspace not found: <value>`;
//! * channel: a value starting `chn_` is used verbatim; otherwise
//!   `GET /api/workspaces/{ws}/channels` and a match on `id` or `name`, then
//!   on the slugified name (the server stores slugified names, so
//!   `"General Chat"` and `#general-chat` find `general-chat`) — none →
//!   `ClickClack channel not found: <value>`;
//! * `dm:<user_id>` → `POST /api/dms` (create-or-reuse the 1:1 conversation);
//! * `thread:<message_id>` → a reply in that thread.
//!
//! Unlike the TypeScript plugin, which lists workspaces on every send,
//! looked-up workspace and channel ids are cached per account
//! ([`ResolveCache`]) and the cache is dropped when the server answers 403 or
//! 404 ([`ResolveCache::invalidate_on`]), so a deleted or renamed channel is
//! looked up again on the next send.

use std::collections::HashMap;
use std::sync::Mutex;

use clickclack_client::{Client, ErrorKind};
use clickclack_proto::{ChannelId, ConversationId, MessageId, UserId, WorkspaceId, slugify};
use clickclack_target_parser::{ParseTargetError, Target};

use crate::errors::ClickClackError;
use crate::outbound::SendError;

/// Prefix of workspace ids used without a lookup.
pub const WORKSPACE_ID_PREFIX: &str = "wsp_";
/// Prefix of channel ids used without a lookup.
pub const CHANNEL_ID_PREFIX: &str = "chn_";

/// Where a message goes, with server ids.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// A channel timeline (`POST /api/channels/{id}/messages`).
    Channel(ChannelId),
    /// A direct conversation with `user` (`POST /api/dms/{id}/messages`).
    Dm {
        /// The other member.
        user: UserId,
        /// The create-or-reuse conversation.
        conversation: ConversationId,
    },
    /// A thread under `root` (`POST /api/messages/{root}/thread/replies`).
    Thread(MessageId),
}

/// Looked-up ids of one account. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct ResolveCache {
    workspaces: Mutex<HashMap<String, WorkspaceId>>,
    channels: Mutex<HashMap<(WorkspaceId, String), ChannelId>>,
}

impl ResolveCache {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        lock(&self.workspaces).clear();
        lock(&self.channels).clear();
    }

    /// Forgets everything when `error` is a 403 or 404 (a workspace the token
    /// lost, a channel that was deleted or renamed). Returns whether it did.
    pub fn invalidate_on(&self, error: &SendError) -> bool {
        let stale = error.client_error().is_some_and(|e| {
            matches!(
                e.kind(),
                ErrorKind::NotFound
                    | ErrorKind::Forbidden
                    | ErrorKind::WrongWorkspace
                    | ErrorKind::MissingScope { .. }
            )
        }) || matches!(
            error,
            SendError::ClickClack(ClickClackError::MissingScope { .. })
        );
        if stale {
            tracing::debug!("ClickClack resolution cache invalidated after 403/404");
            self.clear();
        }
        stale
    }

    /// Number of cached workspace and channel ids (for tests and stats).
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.workspaces).len() + lock(&self.channels).len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Resolves a configured workspace value without a cache.
///
/// # Errors
/// `ClickClack workspace not found: <value>`, or the server's error.
pub async fn resolve_workspace(client: &Client, value: &str) -> Result<WorkspaceId, SendError> {
    let value = value.trim();
    if value.starts_with(WORKSPACE_ID_PREFIX) {
        return Ok(WorkspaceId::new(value));
    }
    let workspaces = client
        .list_workspaces()
        .await
        .map_err(SendError::from_client)?;
    workspaces
        .into_iter()
        .find(|w| w.id.as_str() == value || w.slug == value || w.name == value)
        .map(|w| w.id)
        .ok_or_else(|| {
            ClickClackError::WorkspaceNotFound {
                value: value.to_owned(),
            }
            .into()
        })
}

/// Resolves a channel name or id in `workspace` without a cache.
///
/// # Errors
/// `ClickClack channel not found: <value>`, or the server's error.
pub async fn resolve_channel(
    client: &Client,
    workspace: &WorkspaceId,
    value: &str,
) -> Result<ChannelId, SendError> {
    let value = value.trim();
    if value.starts_with(CHANNEL_ID_PREFIX) {
        return Ok(ChannelId::new(value));
    }
    let channels = client
        .list_channels(workspace)
        .await
        .map_err(SendError::from_client)?;
    let exact = channels
        .iter()
        .find(|c| c.id.as_str() == value || c.name == value);
    let found = exact.or_else(|| {
        let wanted = slugify(value.trim_start_matches('#'));
        (!wanted.is_empty())
            .then(|| {
                channels
                    .iter()
                    .find(|c| c.name == wanted || slugify(&c.name) == wanted)
            })
            .flatten()
    });
    found.map(|c| c.id.clone()).ok_or_else(|| {
        ClickClackError::ChannelNotFound {
            value: value.to_owned(),
        }
        .into()
    })
}

/// Resolves targets for one account through its client and cache.
#[derive(Debug, Clone, Copy)]
pub struct Resolver<'a> {
    client: &'a Client,
    cache: &'a ResolveCache,
}

impl<'a> Resolver<'a> {
    /// A resolver using `client` and `cache`.
    #[must_use]
    pub fn new(client: &'a Client, cache: &'a ResolveCache) -> Self {
        Self { client, cache }
    }

    /// The workspace id for a configured value (`wsp_` verbatim, else
    /// looked up once and cached).
    ///
    /// # Errors
    /// See [`resolve_workspace`].
    pub async fn workspace(&self, value: &str) -> Result<WorkspaceId, SendError> {
        let key = value.trim().to_owned();
        if let Some(id) = lock(&self.cache.workspaces).get(&key) {
            return Ok(id.clone());
        }
        let id = resolve_workspace(self.client, &key).await?;
        if !key.starts_with(WORKSPACE_ID_PREFIX) {
            lock(&self.cache.workspaces).insert(key, id.clone());
        }
        Ok(id)
    }

    /// The channel id for a name or id (`chn_` verbatim, else looked up once
    /// and cached).
    ///
    /// # Errors
    /// See [`resolve_channel`].
    pub async fn channel(
        &self,
        workspace: &WorkspaceId,
        value: &str,
    ) -> Result<ChannelId, SendError> {
        let key = (workspace.clone(), value.trim().to_owned());
        if let Some(id) = lock(&self.cache.channels).get(&key) {
            return Ok(id.clone());
        }
        let id = resolve_channel(self.client, workspace, &key.1).await?;
        if !key.1.starts_with(CHANNEL_ID_PREFIX) {
            lock(&self.cache.channels).insert(key, id.clone());
        }
        Ok(id)
    }

    /// Where a message to `target` goes. `thread_id` (a genuine thread
    /// context) wins over the target, as in the plugin (row 13); a `dm:`
    /// target opens (or reuses) the conversation with that user.
    ///
    /// # Errors
    /// Resolution errors and the server's errors.
    pub async fn destination(
        &self,
        workspace: &WorkspaceId,
        target: &Target,
        thread_id: Option<&MessageId>,
    ) -> Result<Destination, SendError> {
        if let Some(root) = thread_id {
            return Ok(Destination::Thread(root.clone()));
        }
        match target {
            Target::Thread(root) => Ok(Destination::Thread(MessageId::new(root.as_str()))),
            Target::Dm(user) => {
                let user = UserId::new(user.as_str());
                let conversation = self
                    .client
                    .open_dm(workspace, &user)
                    .await
                    .map_err(SendError::from_client)?;
                Ok(Destination::Dm {
                    user,
                    conversation: conversation.id,
                })
            }
            Target::Channel(name) => Ok(Destination::Channel(self.channel(workspace, name).await?)),
            // A kind added by a later target-parser: this adapter cannot send to it.
            other => Err(
                ClickClackError::Target(ParseTargetError::unsupported(other.to_string())).into(),
            ),
        }
    }
}
