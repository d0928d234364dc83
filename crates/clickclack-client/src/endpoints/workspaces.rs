//! Workspaces and members.

use clickclack_proto::responses::{WorkspaceResponse, WorkspacesResponse};
use clickclack_proto::{MembersPage, Workspace, WorkspaceId};

use crate::client::{Call, Client};
use crate::error::{Error, ErrorKind};
use crate::url::{ApiPath, Query};

/// Query of `GET /api/workspaces/{id}/members`.
///
/// Non-exhaustive: start from [`MembersQuery::new`] (or `default()`) and use
/// the `with_*` setters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MembersQuery {
    /// Page size (server: 1–200, default 100).
    pub limit: Option<u32>,
    /// The opaque cursor from a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// A search string.
    pub q: Option<String>,
    /// Only members with this role.
    pub role: Option<String>,
}

impl MembersQuery {
    /// The first page with the server's default size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the page size.
    pub fn with_limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Continues after a previous page's `next_cursor`.
    pub fn with_cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Only members matching this search string.
    pub fn with_search(mut self, q: impl Into<String>) -> Self {
        self.q = Some(q.into());
        self
    }

    /// Only members with this role (`owner`, `member`, `bot`, …).
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.role = Some(role.into());
        self
    }

    pub(crate) fn to_query(&self) -> Query {
        Query::new()
            .push_opt("limit", self.limit.map(|l| l.to_string()))
            .push_opt("cursor", self.cursor.as_deref())
            .push_opt("q", self.q.as_deref())
            .push_opt("role", self.role.as_deref())
    }
}

impl Client {
    /// `GET /api/workspaces`: the workspaces the caller can see (a bot token
    /// sees only its own).
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, Error> {
        let resp: WorkspacesResponse = self
            .json(Call::get(ApiPath::new("/api/workspaces")))
            .await?;
        Ok(resp.workspaces)
    }

    /// `GET /api/workspaces/{id}`.
    pub async fn get_workspace(&self, workspace: &WorkspaceId) -> Result<Workspace, Error> {
        let path = ApiPath::new("/api/workspaces").seg(workspace.as_str());
        let resp: WorkspaceResponse = self.json(Call::get(path)).await?;
        Ok(resp.workspace)
    }

    /// Finds a workspace by id, slug or name (the server has no lookup by slug:
    /// this lists the workspaces and matches id, then slug, then name
    /// case-insensitively). Fails with [`ErrorKind::NotFound`] when none matches.
    pub async fn resolve_workspace(&self, id_or_slug_or_name: &str) -> Result<Workspace, Error> {
        let wanted = id_or_slug_or_name.trim();
        let all = self.list_workspaces().await?;
        pick_workspace(all, wanted).ok_or_else(|| {
            Error::new(ErrorKind::NotFound)
                .with_path("/api/workspaces")
                .with_detail(format!("no visible workspace matches {wanted:?}"))
        })
    }

    /// `GET /api/workspaces/{id}/members`: one page. See
    /// [`Client::members`](crate::Client::members) for a stream.
    pub async fn list_members(
        &self,
        workspace: &WorkspaceId,
        query: &MembersQuery,
    ) -> Result<MembersPage, Error> {
        let path = ApiPath::new("/api/workspaces")
            .seg(workspace.as_str())
            .lit("members");
        self.json(Call::get(path).query(query.to_query())).await
    }
}

fn pick_workspace(all: Vec<Workspace>, wanted: &str) -> Option<Workspace> {
    if let Some(w) = all.iter().find(|w| w.id.as_str() == wanted) {
        return Some(w.clone());
    }
    if let Some(w) = all.iter().find(|w| w.slug == wanted) {
        return Some(w.clone());
    }
    if let Some(w) = all.iter().find(|w| w.slug.eq_ignore_ascii_case(wanted)) {
        return Some(w.clone());
    }
    all.into_iter()
        .find(|w| w.name.eq_ignore_ascii_case(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(id: &str, slug: &str, name: &str) -> Workspace {
        let mut workspace = Workspace::default();
        workspace.id = id.into();
        workspace.slug = slug.into();
        workspace.name = name.into();
        workspace
    }

    #[test]
    fn picks_by_id_slug_then_name() {
        let all = vec![
            ws("wsp_1", "acme", "Acme Corp"),
            ws("wsp_2", "wsp_1x", "Other"),
        ];
        assert_eq!(
            pick_workspace(all.clone(), "wsp_1").map(|w| w.id),
            Some("wsp_1".into())
        );
        assert_eq!(
            pick_workspace(all.clone(), "ACME").map(|w| w.id),
            Some("wsp_1".into())
        );
        assert_eq!(
            pick_workspace(all.clone(), "acme corp").map(|w| w.id),
            Some("wsp_1".into())
        );
        assert!(pick_workspace(all, "nope").is_none());
    }
}
