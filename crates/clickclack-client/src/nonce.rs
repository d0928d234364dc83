//! Nonces for idempotent creates, and reconciliation after ambiguous failures.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use clickclack_proto::headers::SUPPORTED;
use clickclack_proto::{Message, WorkspaceId};
use http::Method;

use crate::client::{Call, Client};
use crate::error::{Error, ErrorKind};
use crate::url::{ApiPath, Query};

/// How many times a nonce-keyed create is re-sent after an ambiguous failure
/// that reconciliation showed did not commit.
const MAX_RESENDS: u32 = 2;

/// A fresh nonce: `ccrs-` + 128 random bits + a time component, as hex
/// (37–45 chars, well under the server's 128-char limit).
pub fn generate_nonce() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // What `format!("ccrs-{:016x}{:016x}-{:x}", …)` writes, without the
    // formatting machinery (a twentieth of the instructions; every send
    // makes one).
    let mut out = String::with_capacity(5 + 32 + 1 + 16);
    out.push_str("ccrs-");
    push_hex(&mut out, fastrand::u64(..), 16);
    push_hex(&mut out, fastrand::u64(..), 16);
    out.push('-');
    let digits = (64 - nanos.leading_zeros() as usize).div_ceil(4).max(1);
    push_hex(&mut out, nanos, digits);
    out
}

/// Appends the low `digits` hex digits of `value` (lowercase).
fn push_hex(out: &mut String, value: u64, digits: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(char::from(HEX[((value >> (i * 4)) & 0xf) as usize]));
    }
}

impl Client {
    /// `GET {path}?workspace_id=…&nonce=…` (the by-nonce lookups of messages
    /// and uploads): the decoded body, or `None` on a 404 that carries
    /// `{support_header}: supported`. A 404 without it means the server is too
    /// old, which fails with [`ErrorKind::Unsupported`]; `what` names the
    /// resource in that error (`messages`, `uploads`).
    pub(crate) async fn get_by_nonce<T: serde::de::DeserializeOwned>(
        &self,
        path: &'static str,
        support_header: &'static str,
        what: &str,
        workspace: &WorkspaceId,
        nonce: &str,
    ) -> Result<Option<T>, Error> {
        let query = Query::new()
            .push("workspace_id", workspace.as_str())
            .push("nonce", nonce);
        match self.send(Call::get(ApiPath::new(path)).query(query)).await {
            Ok(success) => Ok(Some(self.read_json(success).await?)),
            Err(e) if e.kind() == &ErrorKind::NotFound => {
                if e.header_is(support_header, SUPPORTED) {
                    Ok(None)
                } else {
                    Err(Error::new(ErrorKind::Unsupported)
                        .with_method(Method::GET)
                        .with_path(path)
                        .with_detail(format!(
                            "the server is too old to look {what} up by nonce (404 without {support_header}: {SUPPORTED})"
                        )))
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// Returns the caller's nonce (trimmed) or a generated one, and validates it.
pub(crate) fn ensure_nonce(nonce: &mut Option<String>) -> Result<String, Error> {
    let given = clickclack_proto::headers::normalize_nonce(nonce.as_deref().unwrap_or_default())
        .map_err(|e| {
            Error::new(ErrorKind::InvalidRequest)
                .with_detail(e.to_string())
                .with_source(e)
        })?;
    let value = given.map_or_else(generate_nonce, str::to_owned);
    *nonce = Some(value.clone());
    Ok(value)
}

impl Client {
    /// The workspaces to look a nonce up in: the configured one, else the
    /// visible ones (listed once and cached).
    async fn nonce_workspaces(&self) -> Result<Vec<WorkspaceId>, Error> {
        if let Some(w) = self.configured_workspace() {
            return Ok(vec![w.clone()]);
        }
        let inner = self.inner();
        let ids = inner
            .workspaces_cache
            .get_or_try_init(|| async {
                let list = self.list_workspaces().await?;
                Ok::<_, Error>(list.into_iter().map(|w| w.id).collect::<Vec<_>>())
            })
            .await?;
        Ok(ids.clone())
    }

    /// Looks a nonce up after an ambiguous failure. `Ok(None)` means the
    /// server says no message with this nonce exists.
    pub(crate) async fn reconcile_nonce(
        &self,
        workspace: Option<&WorkspaceId>,
        nonce: &str,
    ) -> Result<Option<Message>, Error> {
        let candidates = match workspace {
            Some(w) => vec![w.clone()],
            None => self.nonce_workspaces().await?,
        };
        for ws in &candidates {
            match self.message_by_nonce(ws, nonce).await {
                Ok(Some(m)) => return Ok(Some(m)),
                Ok(None) => {}
                // A nonce used in another workspace is reported as a 400/409.
                Err(e)
                    if matches!(e.kind(), ErrorKind::Conflict | ErrorKind::InvalidRequest)
                        && candidates.len() > 1 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Sends a nonce-keyed create and decodes the success body with
    /// `decode`; after an ambiguous failure, looks the nonce up and returns
    /// the committed message (via `from_message`) instead of sending twice;
    /// re-sends only when the server says it has no such message.
    pub(crate) async fn create_reconciled<T, D, F, Fut>(
        &self,
        build: impl Fn() -> Result<Call, Error>,
        workspace: Option<&WorkspaceId>,
        nonce: &str,
        decode: D,
        from_message: F,
    ) -> Result<T, Error>
    where
        D: Fn(Bytes) -> Result<T, Error>,
        F: Fn(Message) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let mut resends = 0;
        loop {
            let sent = match self.send(build()?).await {
                Ok(success) => self.read_decoded(success, &decode).await,
                Err(e) => Err(e),
            };
            let err = match sent {
                Ok(v) => return Ok(v),
                Err(e) if e.is_ambiguous() => e,
                Err(e) => return Err(e),
            };
            tracing::debug!(error = %err, "ambiguous failure on a nonce-keyed create; reconciling by nonce");
            match self.reconcile_nonce(workspace, nonce).await {
                Ok(Some(message)) => return Ok(from_message(message).await),
                Ok(None) if resends < MAX_RESENDS => resends += 1,
                Ok(None) => return Err(err),
                Err(e) if e.kind() == &ErrorKind::Unsupported => return Err(e),
                Err(_) => return Err(err),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_what_format_writes() {
        for v in [0, 1, 0xf, 0x10, 0xdead_beef, u64::MAX, 1 << 63] {
            let digits = (64 - v.leading_zeros() as usize).div_ceil(4).max(1);
            let mut short = String::new();
            push_hex(&mut short, v, digits);
            assert_eq!(short, format!("{v:x}"));
            let mut wide = String::new();
            push_hex(&mut wide, v, 16);
            assert_eq!(wide, format!("{v:016x}"));
        }
        let n = generate_nonce();
        let (random, time) = n["ccrs-".len()..].split_once('-').unwrap();
        assert_eq!(random.len(), 32);
        assert!(u128::from_str_radix(random, 16).is_ok());
        assert!(u64::from_str_radix(time, 16).is_ok_and(|t| t > 0));
    }

    #[test]
    fn generated_nonces_are_unique_and_short() {
        let a = generate_nonce();
        let b = generate_nonce();
        assert_ne!(a, b);
        assert!(a.len() <= 128 && a.starts_with("ccrs-"));
    }

    #[test]
    fn ensure_keeps_callers_and_fills_missing() {
        let mut n = Some("  mine ".to_owned());
        assert_eq!(ensure_nonce(&mut n).unwrap(), "mine");
        assert_eq!(n.as_deref(), Some("mine"));
        let mut n = None;
        let g = ensure_nonce(&mut n).unwrap();
        assert_eq!(n.as_deref(), Some(g.as_str()));
        let mut n = Some("   ".to_owned());
        assert!(ensure_nonce(&mut n).unwrap().starts_with("ccrs-"));
        let mut n = Some("x".repeat(129));
        assert!(ensure_nonce(&mut n).is_err());
    }
}
