//! The escape hatch: any endpoint, through the same stack as the typed methods.

use http::Method;
use serde::de::DeserializeOwned;

use crate::client::{Call, Client};
use crate::error::{Error, ErrorKind};
use crate::url::{ApiPath, Query};

/// Every API path starts here.
const API_PREFIX: &str = "/api";

impl Client {
    /// Calls an endpoint that has no typed method: `method` on `path` (an
    /// unescaped path under `/api/`, e.g. `/api/workspaces/wsp_1/audit-log`;
    /// each segment is percent-escaped here), with `query` and an optional JSON
    /// `body`. Decodes the JSON response as `T`; use [`serde_json::Value`]
    /// for raw JSON.
    ///
    /// The request goes through the same stack as every typed method: the
    /// token (sent only to the configured origin), the per-attempt timeout,
    /// retries for `GET`/`HEAD`/`PUT` only (never for `POST`, `PATCH` or
    /// `DELETE`), the 16 MiB response cap, tracing without the query or token,
    /// and the same [`Error`] mapping (`kind()`, status and server message).
    ///
    /// ```no_run
    /// # async fn run(client: clickclack_client::Client) -> Result<(), clickclack_client::Error> {
    /// use clickclack_client::{Method, url::Query};
    /// let log: serde_json::Value = client
    ///     .request(Method::GET, "/api/workspaces/wsp_1/audit-log", Query::new().push("limit", "10"), None)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: Query,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Error> {
        let path = api_path(path).map_err(|e| e.with_method(method.clone()))?;
        let mut call = Call::new(method, path).query(query);
        if let Some(body) = body {
            call = call.json(body)?;
        }
        self.json(call).await
    }
}

/// Builds an [`ApiPath`] from a caller's unescaped `/api/…` path.
fn api_path(raw: &str) -> Result<ApiPath, Error> {
    let invalid = |why: &str| {
        Error::new(ErrorKind::InvalidRequest).with_detail(format!(
            "invalid API path {raw:?}: {why}; pass an unescaped path such as /api/workspaces/wsp_1/topics"
        ))
    };
    let rest = raw
        .strip_prefix(API_PREFIX)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| invalid("it must start with /api/"))?;
    if raw.contains(['?', '#']) {
        return Err(invalid("put query parameters in `query`, not in the path"));
    }
    let mut path = ApiPath::new(API_PREFIX);
    for segment in rest.split('/') {
        if segment.is_empty() {
            return Err(invalid("it has an empty segment"));
        }
        path = path.seg(segment);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped_per_segment_and_checked() {
        assert_eq!(
            api_path("/api/messages/msg_1/reactions/👍")
                .unwrap()
                .as_str(),
            "/api/messages/msg_1/reactions/%F0%9F%91%8D"
        );
        assert_eq!(api_path("/api/a/..").unwrap().as_str(), "/api/a/%2E%2E");
        for bad in [
            "/apix",
            "api/me",
            "/api/",
            "/api/a//b",
            "/api/me?x=1",
            "http://h/api/me",
        ] {
            let err = api_path(bad).unwrap_err();
            assert_eq!(err.kind(), &ErrorKind::InvalidRequest, "{bad}");
        }
    }
}
