//! Bot setup codes (host conventions §5, reference row 49): parse what the
//! user pasted, and claim it.
//!
//! Accepted forms: a bare code (`ABCD-EFGH-JKMN`, `#ABCDEFGHJKMN`; dashes and
//! spaces dropped, upper-cased; needs `--base-url`), a setup URL
//! (`https://chat.example.com/#ABCD-EFGH-JKMN`, claimed at
//! `<url>/api/bot-setup-codes/claim`), or the exact claim endpoint with the
//! code as fragment (`https://api.example.com/prefix/api/bot-setup-codes/claim#CODE`).
//!
//! The claim is `POST {code}` without credentials, never following a
//! redirect; the code is never stored.

use std::time::Duration;

use clickclack_client::{Client, ErrorKind, RetryPolicy};
use clickclack_proto::responses::SetupCodeClaimResponse;

use crate::errors::setup;

/// The claim endpoint, relative to the API base.
pub const CLAIM_PATH: &str = "/api/bot-setup-codes/claim";

/// The setup-code alphabet (Crockford base32 without I, L, O, U).
const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// How long the claim may take, connection included.
pub const CLAIM_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed `--code`: the normalised code and where to claim it.
#[derive(Clone, PartialEq, Eq)]
pub struct SetupCode {
    /// 12 characters of [`ALPHABET`].
    code: String,
    /// The API base the claim goes to (no trailing `/`).
    pub base_url: String,
}

impl std::fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code is a one-time credential: never in Debug output.
        f.debug_struct("SetupCode")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SetupCode {
    /// Parses `raw` (see the module docs); `base_url` is `--base-url`,
    /// already normalised.
    ///
    /// # Errors
    /// The plugin's strings: `A bare ClickClack setup code requires
    /// --base-url.`, `ClickClack setup code must contain 12 valid base32
    /// characters.`, `ClickClack base URL must be a valid http(s) URL.`
    pub fn parse(raw: &str, base_url: Option<&str>) -> Result<SetupCode, String> {
        let raw = raw.trim();
        let lower = raw.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let (url, fragment) = raw.split_once('#').unwrap_or((raw, ""));
            let url = url.trim_end_matches('/');
            let base = url.strip_suffix(CLAIM_PATH).unwrap_or(url);
            let base = super::normalize_base_url(base)?;
            return Ok(SetupCode {
                code: normalize_code(fragment)?,
                base_url: base,
            });
        }
        let code = normalize_code(raw)?;
        let Some(base) = base_url else {
            return Err("A bare ClickClack setup code requires --base-url.".to_owned());
        };
        Ok(SetupCode {
            code,
            base_url: base.to_owned(),
        })
    }

    /// The claim URL.
    #[must_use]
    pub fn claim_url(&self) -> String {
        format!("{}{CLAIM_PATH}", self.base_url)
    }
}

/// Drops `#`, `-` and whitespace, upper-cases, and checks 12 alphabet characters.
fn normalize_code(raw: &str) -> Result<String, String> {
    let code: String = raw
        .trim()
        .trim_start_matches('#')
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if code.chars().count() == 12 && code.chars().all(|c| ALPHABET.contains(c)) {
        Ok(code)
    } else {
        Err("ClickClack setup code must contain 12 valid base32 characters.".to_owned())
    }
}

/// Claims `code` through [`Client::claim_setup_code`]: one unauthenticated
/// POST (the client is built without a token), no retries, no redirects
/// followed, bounded by [`CLAIM_TIMEOUT`]. TLS trusts the system roots and
/// `$SSL_CERT_FILE` (see [`claim_trusting`] for an account's `tls.caFile`).
///
/// # Errors
/// The plugin's strings: 404 → invalid/expired/used, 429 → too many
/// attempts, anything else → `Could not claim ClickClack setup code: <why>`.
pub async fn claim(code: &SetupCode) -> Result<SetupCodeClaimResponse, String> {
    claim_trusting(code, None).await
}

/// [`claim`], also trusting `ca_file` (an account's `tls.caFile` and its
/// key path, named in errors), as the account's other clients do.
///
/// # Errors
/// As [`claim`]; an unreadable `ca_file` is named with its key.
pub async fn claim_trusting(
    code: &SetupCode,
    ca_file: Option<(&std::path::Path, &str)>,
) -> Result<SetupCodeClaimResponse, String> {
    let client = Client::builder(code.base_url.clone())
        .user_agent(crate::channel::USER_AGENT)
        .connect_timeout(CLAIM_TIMEOUT)
        .request_timeout(CLAIM_TIMEOUT)
        .retry_policy(RetryPolicy::none())
        .tls(
            crate::accounts::tls_settings(ca_file, &crate::config::ProcessEnv)
                .map_err(|e| setup::code_claim_failed(&e))?,
        )
        .build()
        .map_err(|e| setup::code_claim_failed(&e.to_string()))?;
    let url = code.claim_url();
    let claimed = client
        .claim_setup_code(&code.code)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound => setup::CODE_INVALID.to_owned(),
            ErrorKind::RateLimited { .. } => setup::CODE_RATE_LIMITED.to_owned(),
            ErrorKind::Timeout => setup::code_claim_failed(&format!(
                "no answer from {url} within {} s",
                CLAIM_TIMEOUT.as_secs()
            )),
            ErrorKind::Transport => setup::code_claim_failed(&format!(
                "cannot reach {url}: {}",
                crate::diagnose::explain_tls(&e).unwrap_or_else(|| e.to_string())
            )),
            ErrorKind::Decode => {
                setup::code_claim_failed("the server's answer is not a setup-code claim")
            }
            _ => match e.status() {
                Some(status) => setup::code_claim_failed(&format!(
                    "the server answered HTTP {}",
                    status.as_u16()
                )),
                None => setup::code_claim_failed(&e.to_string()),
            },
        })?;
    if claimed.token.trim().is_empty() || claimed.workspace.id.as_str().trim().is_empty() {
        return Err(setup::code_claim_failed(
            "the server's answer has no token or workspace",
        ));
    }
    Ok(claimed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_three_forms() {
        let code = SetupCode::parse("https://chat.example.com/#abcd-efgh-jkmn", None).unwrap();
        assert_eq!(code.code, "ABCDEFGHJKMN");
        assert_eq!(
            code.claim_url(),
            "https://chat.example.com/api/bot-setup-codes/claim"
        );
        let code = SetupCode::parse(
            "https://api.example.com/prefix/api/bot-setup-codes/claim#ABCDEFGHJKMN",
            None,
        )
        .unwrap();
        assert_eq!(code.base_url, "https://api.example.com/prefix");
        let code = SetupCode::parse("#ABCD EFGH JKMN", Some("http://127.0.0.1:1")).unwrap();
        assert_eq!(
            code.claim_url(),
            "http://127.0.0.1:1/api/bot-setup-codes/claim"
        );
        assert_eq!(
            SetupCode::parse("ABCD-EFGH-JKMN", None).unwrap_err(),
            "A bare ClickClack setup code requires --base-url."
        );
        assert_eq!(
            SetupCode::parse("ABCD-EFGH-JKMU", Some("http://x")).unwrap_err(),
            "ClickClack setup code must contain 12 valid base32 characters."
        );
        assert!(!format!("{code:?}").contains("ABCDEFGHJKMN"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in any::<String>()) {
            let _ = SetupCode::parse(&raw, Some("http://127.0.0.1:1"));
            let _ = SetupCode::parse(&raw, None);
        }
    }
}
