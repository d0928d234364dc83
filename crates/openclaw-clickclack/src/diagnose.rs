//! Precise causes behind the docs' troubleshooting strings, shared by
//! `message send`, `doctor` and `gateway` so all three say the same thing.
//!
//! * [`require_usable`]: an account that cannot authenticate fails with
//!   `ClickClack is not configured: <cause>` — the unset environment
//!   variable (`CLICKCLACK_BOT_TOKEN is not set`), or the `tokenFile` and
//!   why it cannot be used — instead of starting with an empty bearer.
//! * [`not_found_for_target`]: an unknown `dm:`/`thread:` id becomes
//!   `ClickClack user not found: usr_123` / `ClickClack message not found:
//!   msg_123`; the server's own text for it (`sql: no rows in result set`)
//!   never reaches a user.
//! * [`escape_control`] and [`redact_url`]: server text is printed as data
//!   (control characters escaped) and a password inside a URL is never shown.
//! * [`explain_tls`]: a TLS failure says what failed (certificate not
//!   trusted, name mismatch, expired, not TLS at all) and how to fix it —
//!   trusting a private CA through `tls.caFile` or `SSL_CERT_FILE`, never by
//!   turning verification off.

use std::fmt;
use std::path::PathBuf;

use clickclack_client::ErrorKind;
use clickclack_target_parser::Target;

use crate::accounts::{DEFAULT_ACCOUNT_ID, ResolvedAccount};
use crate::config::EnvSource;
use crate::errors::ClickClackError;
use crate::secrets::{
    BOT_TOKEN_ENV, MAX_TOKEN_FILE_BYTES, SecretInput, SecretSource, TokenSource, TokenStatus,
    token_file_path,
};

/// What failed in a TLS handshake, and how to fix it, when `error` (or
/// anything in its source chain) is a certificate or TLS protocol failure.
/// Works on any error type: the REST client's and the realtime stream's.
#[must_use]
pub fn explain_tls(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut chain = String::new();
    let mut next = Some(error);
    while let Some(e) = next {
        chain.push_str(&e.to_string());
        chain.push('\n');
        next = e.source();
    }
    explain_tls_text(&chain)
}

/// [`explain_tls`] over an error's text (the realtime stream reports TLS
/// failures as text).
#[must_use]
pub fn explain_tls_text(text: &str) -> Option<String> {
    const TRUST: &str = "if the server uses a private or corporate CA, set channels.clickclack.tls.caFile (or the SSL_CERT_FILE environment variable) to its PEM certificate; verification is never turned off";
    let has = |needle: &str| text.contains(needle);
    if has("UnknownIssuer") || has("unknown issuer") || has("UnknownCA") {
        Some(format!(
            "TLS failed: the server's certificate is not trusted (issued by an unknown CA); {TRUST}"
        ))
    } else if has("NotValidForName") || has("not valid for name") {
        Some("TLS failed: the server's certificate does not match the host name in baseUrl; use the host name the certificate was issued for (check its subjectAltName), or reissue the certificate for this name".to_owned())
    } else if has("Expired") || has("expired") && has("certificate") {
        Some("TLS failed: the server's certificate has expired (or this machine's clock is wrong); renew the certificate on the server, and check the clock".to_owned())
    } else if has("NotValidYet") {
        Some("TLS failed: the server's certificate is not valid yet (or this machine's clock is wrong); check the clock".to_owned())
    } else if has("invalid peer certificate") || has("BadSignature") {
        Some(format!(
            "TLS failed: the server's certificate was rejected; {TRUST}"
        ))
    } else if has("InvalidContentType") || has("corrupt message") || has("received corrupt message")
    {
        Some("TLS failed: the server did not answer with TLS on this port; use http:// in baseUrl for a plain-HTTP server, or the server's TLS port".to_owned())
    } else {
        None
    }
}

/// The command that writes a working account (shown in fixes).
pub const SETUP_COMMAND: &str = "openclaw-clickclack channels add clickclack";

/// Why an account has no usable bot token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenCause {
    /// The environment variable the token comes from is unset or blank.
    EnvUnset {
        /// The variable (`CLICKCLACK_BOT_TOKEN` or the env ref's `id`).
        var: String,
    },
    /// `tokenFile` names a file that cannot be used.
    File {
        /// The file (after `~` expansion).
        path: PathBuf,
        /// Why.
        why: FileProblem,
    },
    /// A `file`/`exec` secret ref: only an OpenClaw host resolves those.
    HostRef {
        /// `file` or `exec`.
        source_kind: &'static str,
        /// The ref's id.
        id: String,
    },
}

/// What is wrong with a token file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    /// No such file.
    Missing,
    /// A symbolic link (refused: the file must be the token itself).
    Symlink,
    /// A directory or another non-regular file.
    NotRegular,
    /// Empty (or only whitespace).
    Empty,
    /// Larger than [`MAX_TOKEN_FILE_BYTES`].
    TooLarge,
    /// Cannot be opened or is not UTF-8 text.
    Unreadable,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "does not exist",
            Self::Symlink => "is a symbolic link (refused: point tokenFile at the file itself)",
            Self::NotRegular => "is not a regular file",
            Self::Empty => "is empty",
            Self::TooLarge => "is larger than 64 KiB (a bot token is one line)",
            Self::Unreadable => "cannot be read (check its permissions; it must be UTF-8 text)",
        })
    }
}

impl fmt::Display for TokenCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnvUnset { var } => write!(f, "{var} is not set"),
            Self::File { path, why } => write!(f, "tokenFile {} {why}", path.display()),
            Self::HostRef { source_kind, id } => write!(
                f,
                "the token is a {source_kind} secret ref ({id}), which only an OpenClaw host resolves"
            ),
        }
    }
}

impl TokenCause {
    /// The fix for this cause on account `account_id`.
    #[must_use]
    pub fn fix(&self, account_id: &str) -> String {
        let account_flag = if account_id == DEFAULT_ACCOUNT_ID {
            String::new()
        } else {
            format!(" --account {account_id}")
        };
        match self {
            Self::EnvUnset { var } => format!(
                "export {var}=<ccb_… bot token>, or store the token in a file with: {SETUP_COMMAND}{account_flag} --token-file PATH --token ccb_…"
            ),
            Self::File { path, .. } => format!(
                "write the bot token into {} (a regular file, chmod 600), or run: {SETUP_COMMAND}{account_flag} --token-file {} --token ccb_…",
                path.display(),
                path.display()
            ),
            Self::HostRef { .. } => format!(
                "use an env secret ref ({{ source: \"env\", provider: \"default\", id: \"CLICKCLACK_BOT_TOKEN\" }}) or tokenFile; or run: {SETUP_COMMAND}{account_flag} --token-file PATH --token ccb_…"
            ),
        }
    }
}

/// Fails unless the account has `baseUrl`, `workspace` and a usable token.
///
/// # Errors
/// [`ClickClackError::NotConfigured`] when `baseUrl`/`workspace` (or, for a
/// named account, any token source) is missing;
/// [`ClickClackError::TokenNotUsable`] with the precise [`TokenCause`]
/// otherwise.
pub fn require_usable(
    account: &ResolvedAccount,
    env: &dyn EnvSource,
) -> Result<(), ClickClackError> {
    let token_ok = account.token_status == TokenStatus::Available && !account.token.is_empty();
    let default_missing_env = account.token_status == TokenStatus::Missing
        && account.account_id == DEFAULT_ACCOUNT_ID
        && !account.base_url.is_empty()
        && !account.workspace.is_empty();
    if !default_missing_env {
        account.require_configured()?;
    }
    if token_ok {
        return Ok(());
    }
    Err(ClickClackError::TokenNotUsable {
        account_id: account.account_id.clone(),
        cause: token_cause(account, env),
    })
}

/// The cause of an unusable token (see [`TokenCause`]).
#[must_use]
pub fn token_cause(account: &ResolvedAccount, env: &dyn EnvSource) -> TokenCause {
    if account.token_source == TokenSource::TokenFile
        && let Some(file) = account.config.token_file.as_deref()
    {
        let path = token_file_path(file, env);
        let why = file_problem(&path);
        return TokenCause::File { path, why };
    }
    match &account.config.token {
        Some(SecretInput::Ref(reference)) if reference.source == SecretSource::Env => {
            TokenCause::EnvUnset {
                var: reference.id.clone(),
            }
        }
        Some(SecretInput::Ref(reference)) => TokenCause::HostRef {
            source_kind: reference.source.as_str(),
            id: reference.id.clone(),
        },
        _ => TokenCause::EnvUnset {
            var: BOT_TOKEN_ENV.to_owned(),
        },
    }
}

/// Why `path` cannot serve as a token file (checked again, for the message).
fn file_problem(path: &std::path::Path) -> FileProblem {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return if path.exists() {
            FileProblem::Unreadable
        } else {
            FileProblem::Missing
        };
    };
    if meta.file_type().is_symlink() {
        return FileProblem::Symlink;
    }
    if !meta.is_file() {
        return FileProblem::NotRegular;
    }
    if meta.len() > MAX_TOKEN_FILE_BYTES {
        return FileProblem::TooLarge;
    }
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => FileProblem::Empty,
        Ok(_) => FileProblem::Unreadable,
        Err(_) => FileProblem::Unreadable,
    }
}

/// Maps a failed send to an unknown `dm:`/`thread:` id onto
/// `ClickClack user not found` / `ClickClack message not found`.
///
/// The server answers an unknown id with 404, or with 403/400 and the text
/// `sql: no rows in result set`; a missing scope is never mapped.
#[must_use]
pub fn not_found_for_target(
    target: &Target,
    error: &clickclack_client::Error,
) -> Option<ClickClackError> {
    let no_rows = error
        .server_message()
        .is_some_and(|m| m.to_ascii_lowercase().contains("no rows"));
    let unknown = match error.kind() {
        ErrorKind::NotFound => true,
        ErrorKind::Forbidden | ErrorKind::InvalidRequest => no_rows,
        _ => false,
    };
    if !unknown {
        return None;
    }
    match target {
        Target::Dm(user) => Some(ClickClackError::UserNotFound {
            value: user.as_str().to_owned(),
        }),
        Target::Thread(message) => Some(ClickClackError::MessageNotFound {
            value: message.as_str().to_owned(),
        }),
        _ => None,
    }
}

/// `text` with every control character escaped (`\n`, `\r`, `\t`, `\e`,
/// `\u{…}`), so text from a server cannot move the cursor, clear the
/// screen or fake a line of output.
#[must_use]
pub fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if c.is_control() || is_format_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Bidirectional and zero-width formatting characters that can disguise text.
fn is_format_control(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `url` with the password of its `user:password@` part replaced by `***`
/// (a user name alone is kept).
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_terminal_control() {
        assert_eq!(
            escape_control("boom\u{1b}[2J\r\nok: message sent"),
            "boom\\e[2J\\r\\nok: message sent"
        );
        assert_eq!(escape_control("a\u{7}b\u{202e}c"), "a\\u{7}b\\u{202e}c");
        assert_eq!(escape_control("plain ✓ text"), "plain ✓ text");
    }

    #[test]
    fn redacts_url_passwords_only() {
        assert_eq!(
            redact_url("https://bot:hunter2@chat.example.com/api"),
            "https://bot:***@chat.example.com/api"
        );
        assert_eq!(
            redact_url("https://bot@chat.example.com"),
            "https://bot@chat.example.com"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/x?a=b@c"),
            "http://127.0.0.1:8080/x?a=b@c"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_control_characters(text in any::<String>()) {
            let escaped = escape_control(&text);
            prop_assert!(!escaped.chars().any(|c| c.is_control() || is_format_control(c)));
        }

        #[test]
        fn redaction_never_keeps_the_password(user in "[a-z]{1,8}", pass in "[A-Za-z0-9]{4,12}", host in "[a-z]{1,10}\\.com") {
            let url = format!("https://{user}:{pass}@{host}/api");
            let redacted = redact_url(&url);
            let leaked = redacted.contains(&format!(":{pass}@"));
            prop_assert!(!leaked);
            prop_assert!(redacted.contains(&host));
        }
    }
}
