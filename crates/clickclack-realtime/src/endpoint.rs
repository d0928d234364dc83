//! Where the realtime socket lives: `<base>/api/realtime/ws?workspace_id=…&after_cursor=…`.

use clickclack_proto::{Cursor, WorkspaceId};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters kept as-is in a query value (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The pieces needed to dial and upgrade one realtime connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsTarget {
    /// `true` for `https`/`wss` base URLs.
    pub(crate) secure: bool,
    /// Host to dial and to name in TLS SNI (IPv6 without brackets).
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// Value of the `Host` header.
    pub(crate) authority: String,
    /// Origin-form request target (path and query).
    pub(crate) path_and_query: String,
}

/// Why a base URL cannot be used for the realtime socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid realtime base URL: {0}")]
pub struct InvalidUrl(pub(crate) String);

/// Builds the socket target from the client's API base URL.
pub(crate) fn realtime_target(
    base_url: &str,
    workspace: &WorkspaceId,
    after: Option<&Cursor>,
) -> Result<WsTarget, InvalidUrl> {
    let uri: http::Uri = base_url
        .parse()
        .map_err(|_| InvalidUrl("not a URL".to_owned()))?;
    let secure = match uri.scheme_str() {
        Some("http") | Some("ws") => false,
        Some("https") | Some("wss") => true,
        Some(_) => return Err(InvalidUrl("scheme must be http, https, ws or wss".into())),
        None => return Err(InvalidUrl("missing scheme".into())),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| InvalidUrl("missing host".into()))?;
    if authority.as_str().contains('@') {
        return Err(InvalidUrl(
            "credentials in the URL are not supported".into(),
        ));
    }
    let raw_host = authority.host();
    let host = raw_host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(raw_host)
        .to_owned();
    if host.is_empty() {
        return Err(InvalidUrl("missing host".into()));
    }
    let port = authority
        .port_u16()
        .unwrap_or(if secure { 443 } else { 80 });
    let prefix = uri.path().trim_end_matches('/');
    let mut path_and_query = format!(
        "{prefix}/api/realtime/ws?workspace_id={}",
        utf8_percent_encode(workspace.as_str(), QUERY_VALUE)
    );
    if let Some(cursor) = after.filter(|c| !c.as_str().is_empty()) {
        path_and_query.push_str("&after_cursor=");
        path_and_query.extend(utf8_percent_encode(cursor.as_str(), QUERY_VALUE));
    }
    Ok(WsTarget {
        secure,
        host,
        port,
        authority: authority.as_str().to_owned(),
        path_and_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ws() -> WorkspaceId {
        WorkspaceId::new("wsp_01")
    }

    #[test]
    fn http_base_with_cursor() {
        let t = realtime_target("http://127.0.0.1:8080", &ws(), Some(&Cursor::new("cur_01")))
            .expect("target");
        assert!(!t.secure);
        assert_eq!(t.host, "127.0.0.1");
        assert_eq!(t.port, 8080);
        assert_eq!(t.authority, "127.0.0.1:8080");
        assert_eq!(
            t.path_and_query,
            "/api/realtime/ws?workspace_id=wsp_01&after_cursor=cur_01"
        );
    }

    #[test]
    fn https_base_with_prefix_and_default_port() {
        let t = realtime_target("https://chat.example.com/cc/", &ws(), None).expect("target");
        assert!(t.secure);
        assert_eq!(t.port, 443);
        assert_eq!(t.authority, "chat.example.com");
        assert_eq!(t.path_and_query, "/cc/api/realtime/ws?workspace_id=wsp_01");
    }

    #[test]
    fn ipv6_host_loses_brackets() {
        let t = realtime_target("ws://[::1]:9000", &ws(), None).expect("target");
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority, "[::1]:9000");
    }

    #[test]
    fn rejects_bad_bases() {
        assert!(realtime_target("ftp://x", &ws(), None).is_err());
        assert!(realtime_target("/relative", &ws(), None).is_err());
        assert!(realtime_target("http://user:pw@host", &ws(), None).is_err());
    }

    #[test]
    fn query_values_are_encoded() {
        let t = realtime_target(
            "http://h",
            &WorkspaceId::new("a b&c"),
            Some(&Cursor::new("x=y")),
        )
        .expect("target");
        assert_eq!(
            t.path_and_query,
            "/api/realtime/ws?workspace_id=a%20b%26c&after_cursor=x%3Dy"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_panics(base in ".{0,40}", w in ".{0,20}", c in ".{0,20}") {
            let _ = realtime_target(&base, &WorkspaceId::new(w), Some(&Cursor::new(c)));
        }
    }
}
