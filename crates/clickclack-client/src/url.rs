//! Base URL handling, path building with per-segment escaping, and query strings.

use std::fmt;

use bytes::Bytes;
use http::Uri;
use http::uri::{Authority, PathAndQuery, Scheme};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{Error, ErrorKind};

/// Everything except RFC 3986 "unreserved" characters is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Query values additionally escape nothing less: same set (spaces become `%20`).
const QUERY: &AsciiSet = SEGMENT;

/// The configured API base: scheme, authority and an optional path prefix.
///
/// `https://host/prefix/` is kept as `https://host/prefix`; request paths are
/// appended to it (`https://host/prefix/api/me`).
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: String,
    authority: String,
    host: String,
    port: u16,
    prefix: String,
    /// `scheme` and `authority`, parsed once: [`BaseUrl::join`] only
    /// parses the path of each request.
    uri_scheme: Scheme,
    uri_authority: Authority,
}

impl BaseUrl {
    /// Parses a base URL. Only `http` and `https` are accepted; a query or
    /// fragment is rejected; one trailing `/` is trimmed.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let trimmed = raw.trim();
        let invalid = |why: &str| {
            Error::new(ErrorKind::InvalidRequest).with_detail(format!("invalid base URL: {why}"))
        };
        if trimmed.contains('#') {
            return Err(invalid("a fragment is not allowed"));
        }
        let uri: Uri = trimmed
            .parse()
            .map_err(|_| invalid("not an absolute http(s) URL"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => "http",
            Some(s) if s.eq_ignore_ascii_case("https") => "https",
            Some(_) => return Err(invalid("the scheme must be http or https")),
            None => return Err(invalid("not an absolute http(s) URL")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("a host is required"))?;
        if authority.as_str().contains('@') {
            return Err(invalid(
                "credentials in the URL are not allowed; use a token",
            ));
        }
        if uri.query().is_some() {
            return Err(invalid("a query string is not allowed"));
        }
        let host = authority.host().to_ascii_lowercase();
        if host.is_empty() {
            return Err(invalid("a host is required"));
        }
        let port = authority
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let mut prefix = uri.path().to_owned();
        if prefix.ends_with('/') {
            prefix.pop();
        }
        let authority = authority.as_str().to_ascii_lowercase();
        let uri_authority = Authority::try_from(authority.as_str())
            .map_err(|_| invalid("the host is not valid"))?;
        let uri_scheme = if scheme == "https" {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        Ok(Self {
            scheme: scheme.to_owned(),
            authority,
            host,
            port,
            prefix,
            uri_scheme,
            uri_authority,
        })
    }

    /// The scheme, `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, lowercased.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (explicit, or the scheme's default).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path prefix without a trailing slash (empty when there is none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The base as a string, e.g. `http://127.0.0.1:1234` or `https://host/prefix`.
    pub fn as_string(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.prefix)
    }

    /// Joins an [`ApiPath`] and a [`Query`] onto the base.
    pub fn join(&self, path: &ApiPath, query: &Query) -> Result<Uri, Error> {
        let mut s =
            String::with_capacity(self.prefix.len() + path.encoded.len() + 1 + query.encoded.len());
        s.push_str(&self.prefix);
        s.push_str(&path.encoded);
        if !query.is_empty() {
            s.push('?');
            s.push_str(&query.encoded);
        }
        let invalid = |e: http::Error| {
            Error::new(ErrorKind::InvalidRequest)
                .with_path(path.as_str())
                .with_detail("could not build the request URL")
                .with_source(e)
        };
        // The scheme and authority were checked by `parse`; only the path
        // is new (and its bytes are moved, not copied).
        let path_and_query =
            PathAndQuery::from_maybe_shared(Bytes::from(s)).map_err(|e| invalid(e.into()))?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(self.uri_scheme.clone());
        parts.authority = Some(self.uri_authority.clone());
        parts.path_and_query = Some(path_and_query);
        Uri::from_parts(parts).map_err(|e| invalid(e.into()))
    }

    /// Whether `uri` points at the same origin (scheme, host, port) as this base.
    pub fn same_origin(&self, uri: &Uri) -> bool {
        let Some(scheme) = uri.scheme_str() else {
            return false;
        };
        let Some(auth) = uri.authority() else {
            return false;
        };
        // What `join` builds: the same scheme and authority, byte for byte.
        if scheme == self.scheme && auth.as_str() == self.authority {
            return true;
        }
        let default_port = if scheme.eq_ignore_ascii_case("https") {
            443
        } else {
            80
        };
        scheme.eq_ignore_ascii_case(&self.scheme)
            && auth.host().eq_ignore_ascii_case(&self.host)
            && auth.port_u16().unwrap_or(default_port) == self.port
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.as_string())
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_string())
    }
}

/// Escapes one path segment: everything but `A-Z a-z 0-9 - _ . ~` is
/// percent-encoded (UTF-8), and a segment made only of dots is fully escaped
/// so it can never be read as `.`/`..`.
pub fn escape_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    push_segment(&mut out, segment);
    out
}

/// Appends `segment` to `out`, escaped as [`escape_segment`] does; a
/// segment that needs no escaping (every server id) is copied as it is.
fn push_segment(out: &mut String, segment: &str) {
    if !segment.is_empty() && segment.bytes().all(|b| b == b'.') {
        for _ in 0..segment.len() {
            out.push_str("%2E");
        }
    } else if segment.bytes().all(is_unreserved) {
        out.push_str(segment);
    } else {
        out.extend(utf8_percent_encode(segment, SEGMENT));
    }
}

/// RFC 3986 "unreserved": the bytes neither [`SEGMENT`] nor [`QUERY`] escape.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// An API path (always starting with `/api`), built from literal parts and
/// escaped dynamic segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiPath {
    encoded: String,
    invalid: Option<&'static str>,
}

impl ApiPath {
    /// Starts a path from a literal (unescaped, trusted) prefix such as `/api/messages`.
    pub fn new(literal: &'static str) -> Self {
        // Room for the usual id segments, so they do not reallocate.
        let mut encoded = String::with_capacity(literal.len() + 48);
        encoded.push_str(literal);
        Self {
            encoded,
            invalid: None,
        }
    }

    /// Appends a literal segment (trusted, not escaped).
    pub fn lit(mut self, literal: &'static str) -> Self {
        self.encoded.push('/');
        self.encoded.push_str(literal);
        self
    }

    /// Appends a dynamic segment, escaped. An empty segment marks the path invalid.
    pub fn seg(mut self, segment: &str) -> Self {
        if segment.is_empty() && self.invalid.is_none() {
            self.invalid = Some("an id or path segment is empty");
        }
        self.encoded.push('/');
        push_segment(&mut self.encoded, segment);
        self
    }

    /// The escaped path.
    pub fn as_str(&self) -> &str {
        &self.encoded
    }

    /// Returns an error if a segment was invalid.
    pub fn check(&self) -> Result<(), Error> {
        match self.invalid {
            Some(why) => Err(Error::new(ErrorKind::InvalidRequest)
                .with_path(self.encoded.clone())
                .with_detail(why)),
            None => Ok(()),
        }
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encoded)
    }
}

/// A query string builder with escaped keys and values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    encoded: String,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `key=value` (both escaped).
    pub fn push(mut self, key: &str, value: impl AsRef<str>) -> Self {
        if !self.encoded.is_empty() {
            self.encoded.push('&');
        }
        self.encoded.extend(utf8_percent_encode(key, QUERY));
        self.encoded.push('=');
        self.encoded
            .extend(utf8_percent_encode(value.as_ref(), QUERY));
        self
    }

    /// Appends `key=value` when `value` is `Some`.
    pub fn push_opt<V: AsRef<str>>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.push(key, v),
            None => self,
        }
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.encoded.is_empty()
    }

    /// The encoded query (without `?`).
    pub fn as_str(&self) -> &str {
        &self.encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keeps_prefix_and_trims_one_slash() {
        let b = BaseUrl::parse("https://Example.com/prefix/").unwrap();
        assert_eq!(b.as_string(), "https://example.com/prefix");
        let uri = b.join(&ApiPath::new("/api/me"), &Query::new()).unwrap();
        assert_eq!(uri.to_string(), "https://example.com/prefix/api/me");
        assert!(b.same_origin(&uri));
        let uri = b
            .join(
                &ApiPath::new("/api/channels").seg("chn 1").lit("messages"),
                &Query::new().push("limit", "5"),
            )
            .unwrap();
        assert_eq!(
            uri.to_string(),
            "https://example.com/prefix/api/channels/chn%201/messages?limit=5"
        );
        let b = BaseUrl::parse("HTTP://LocalHost:8080").unwrap();
        let uri = b.join(&ApiPath::new("/api/me"), &Query::new()).unwrap();
        assert_eq!(uri.to_string(), "http://localhost:8080/api/me");
        assert!(b.same_origin(&uri));
        let b = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(b.as_string(), "http://127.0.0.1:8080");
        assert_eq!(b.prefix(), "");
        let b = BaseUrl::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(b.as_string(), "http://127.0.0.1:8080");
    }

    #[test]
    fn rejects_bad_bases() {
        for bad in [
            "ftp://x",
            "example.com",
            "/relative",
            "http://x/?q=1",
            "http://x/#f",
            "http://u:p@x/",
            "",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_origin_rules() {
        let b = BaseUrl::parse("https://chat.example.com/cc").unwrap();
        assert!(b.same_origin(&"https://chat.example.com/api/me".parse().unwrap()));
        assert!(b.same_origin(&"https://CHAT.example.com:443/x".parse().unwrap()));
        assert!(!b.same_origin(&"http://chat.example.com/x".parse().unwrap()));
        assert!(!b.same_origin(&"https://evil.example.com/x".parse().unwrap()));
        assert!(!b.same_origin(&"https://chat.example.com:8443/x".parse().unwrap()));
        assert!(!b.same_origin(&"/relative".parse().unwrap()));
    }

    #[test]
    fn escapes_segments() {
        assert_eq!(escape_segment("msg_01"), "msg_01");
        assert_eq!(escape_segment("a b/c?d#e%"), "a%20b%2Fc%3Fd%23e%25");
        assert_eq!(escape_segment("👍"), "%F0%9F%91%8D");
        assert_eq!(escape_segment(".."), "%2E%2E");
        assert_eq!(escape_segment("."), "%2E");
        assert!(ApiPath::new("/api/messages").seg("").check().is_err());
    }

    #[test]
    fn query_escapes() {
        let q = Query::new()
            .push("q", "a b&c=d")
            .push_opt("x", None::<&str>);
        assert_eq!(q.as_str(), "q=a%20b%26c%3Dd");
    }

    fn unescape(s: &str) -> String {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .unwrap()
            .into_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn segment_round_trips_and_is_one_segment(s in "\\PC{1,40}") {
            let e = escape_segment(&s);
            prop_assert!(!e.contains('/'));
            prop_assert!(!e.contains('?'));
            prop_assert!(!e.contains('#'));
            prop_assert!(e.bytes().all(|b| b.is_ascii_graphic()));
            prop_assert_eq!(unescape(&e), s.clone());
            let b = BaseUrl::parse("http://127.0.0.1:1").unwrap();
            let uri = b.join(&ApiPath::new("/api/messages").seg(&s).lit("thread"), &Query::new()).unwrap();
            let segs: Vec<&str> = uri.path().split('/').collect();
            prop_assert_eq!(segs.len(), 5);
            prop_assert_eq!(unescape(segs[3]), s);
        }

        #[test]
        fn query_values_round_trip(k in "[a-z_]{1,8}", v in "\\PC{0,40}") {
            let q = Query::new().push(&k, &v);
            let (ek, ev) = q.as_str().split_once('=').unwrap();
            prop_assert_eq!(unescape(ek), k);
            prop_assert!(!ev.contains('&'));
            prop_assert_eq!(unescape(ev), v);
        }
    }
}
