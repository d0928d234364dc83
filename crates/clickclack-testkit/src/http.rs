//! Request context, body reading with limits, and JSON responses.

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};

/// Maximum JSON request body (1 MiB).
pub(crate) const MAX_JSON_BODY: usize = 1 << 20;

/// The response type of every handler.
pub(crate) type Resp = Response<Full<Bytes>>;

/// Everything a handler needs about the request.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: HashMap<String, String>,
    pub(crate) headers: HeaderMap,
    pub(crate) correlation_id: String,
    pub(crate) peer: SocketAddr,
    pub(crate) body: Option<Incoming>,
}

impl Ctx {
    /// A query parameter (first occurrence), if non-empty.
    pub(crate) fn q(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Reads the whole body (at most `limit` bytes; more → 413).
    pub(crate) async fn body_bytes(&mut self, limit: usize) -> ApiResult<Bytes> {
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        match Limited::new(body, limit).collect().await {
            Ok(c) => Ok(c.to_bytes()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large()),
            Err(e) => Err(ApiError::bad_request(e.to_string())),
        }
    }

    /// Reads and decodes a JSON body like the Go server's `readJSON`.
    pub(crate) async fn json<T: DeserializeOwned>(&mut self) -> ApiResult<T> {
        let bytes = self.body_bytes(MAX_JSON_BODY).await?;
        decode_json(&bytes)
    }
}

/// Decodes exactly one JSON value.
pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("EOF"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut de).map_err(|e| ApiError::bad_request(e.to_string()))?;
    de.end()
        .map_err(|_| ApiError::bad_request("json request body must contain a single JSON value"))?;
    Ok(value)
}

/// Parses a query string into first-value-wins pairs (percent-decoded).
pub(crate) fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_component(k);
        out.entry(k).or_insert_with(|| decode_component(v));
    }
    out
}

/// Percent-decodes a query component (`+` → space).
pub(crate) fn decode_component(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Percent-decodes a path segment.
pub(crate) fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A JSON response, encoded like the Go server (see [`crate::gojson`]).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Resp {
    bytes_response(status, Bytes::from(crate::gojson::http_body(body)))
}

/// A response with pre-serialized JSON bytes.
pub(crate) fn bytes_response(status: StatusCode, body: Bytes) -> Resp {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The `{"error": …}` response of an [`ApiError`].
pub(crate) fn error_response(err: &ApiError) -> Resp {
    let mut resp = json_response(err.status, &json!({ "error": err.message }));
    for (name, value) in &err.headers {
        resp.headers_mut()
            .insert(*name, HeaderValue::from_static(value));
    }
    resp
}

/// 200 with a JSON body.
pub(crate) fn ok(body: Value) -> ApiResult<Resp> {
    Ok(json_response(StatusCode::OK, &body))
}

/// 201 with a JSON body.
pub(crate) fn created(body: Value) -> ApiResult<Resp> {
    Ok(json_response(StatusCode::CREATED, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn query_first_value_wins_and_decodes() {
        let q = parse_query(Some("a=1&a=2&b=x%20y+z&c&=v"));
        assert_eq!(q.get("a").map(String::as_str), Some("1"));
        assert_eq!(q.get("b").map(String::as_str), Some("x y z"));
        assert_eq!(q.get("c").map(String::as_str), Some(""));
    }

    #[test]
    fn json_single_value() {
        assert!(decode_json::<serde_json::Value>(b" {\"a\":1} ").is_ok());
        let e = decode_json::<serde_json::Value>(b"{} {}").unwrap_err();
        assert_eq!(
            e.message,
            "json request body must contain a single JSON value"
        );
        assert_eq!(
            decode_json::<serde_json::Value>(b"").unwrap_err().message,
            "EOF"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn query_parser_never_panics(s in ".{0,64}") {
            let _ = parse_query(Some(&s));
            let _ = decode_segment(&s);
        }

        #[test]
        fn json_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_json::<serde_json::Value>(&bytes);
        }
    }
}
