//! The error of sends, resolution and reconciliation.

use std::path::PathBuf;

use clickclack_client::ErrorKind;
use clickclack_proto::MessageId;

use crate::errors::ClickClackError;

/// Why a send (or a target resolution, or a reconciliation) failed.
///
/// User-facing errors keep the plugin's exact strings (through
/// [`ClickClackError`]); server failures read `ClickClack <status>: <server
/// error>` as in the plugin's HTTP client (reference row 44).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// A user-facing error with the plugin's exact wording (workspace or
    /// channel not found, bad target, account not configured, missing scope,
    /// durable part index …).
    #[error(transparent)]
    ClickClack(#[from] ClickClackError),
    /// The server (or the connection) failed.
    #[error("{}", describe_api(.0))]
    Api(#[source] clickclack_client::Error),
    /// A media file is over the account's limit (`min(mediaMaxMb, 64 MiB)`);
    /// detected before any HTTP request.
    #[error("media exceeds {limit} bytes")]
    MediaTooLarge {
        /// The media's size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A media file could not be read.
    #[error("could not read media {}: {source}", .path.display())]
    MediaRead {
        /// The path given by the caller.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The media message was posted but its upload could not be attached
    /// (after the verify-then-retry-once rule). The recipient already sees
    /// the message: do not resend blindly (`visibleReplySent: true`).
    #[error("{first}")]
    PartialDelivery {
        /// Every message already posted by this send, including the one
        /// missing its attachment.
        message_ids: Vec<MessageId>,
        /// The first attach failure.
        first: Box<SendError>,
    },
    /// `GET /api/messages/by-nonce` answered a plain 404: the server cannot
    /// look messages up by nonce.
    #[error("ClickClack server does not support durable message nonce lookup")]
    MessageNonceLookupUnsupported,
    /// `GET /api/uploads/by-nonce` answered a plain 404.
    #[error("ClickClack server does not support durable upload nonce lookup")]
    UploadNonceLookupUnsupported,
    /// The account names a token source (an env secret ref, `tokenFile`)
    /// that yields nothing right now.
    #[error(
        "ClickClack token for account \"{account_id}\" is configured ({source_kind}) but unavailable"
    )]
    TokenUnavailable {
        /// The account id.
        account_id: String,
        /// Where the token should come from (`config`, `tokenFile`, `env`).
        source_kind: &'static str,
        /// Credential diagnostics (config paths, never file paths).
        diagnostics: Vec<String>,
    },
    /// A `--channel` other than `clickclack`.
    #[error("Unsupported channel \"{0}\": this tool only sends to clickclack")]
    UnsupportedChannel(String),
}

impl SendError {
    /// Maps a client error: a 403 missing scope becomes the plugin's
    /// missing-scope error, everything else [`SendError::Api`].
    #[must_use]
    pub fn from_client(error: clickclack_client::Error) -> Self {
        match error.kind() {
            ErrorKind::MissingScope { scope, .. } => {
                Self::ClickClack(ClickClackError::MissingScope {
                    scope: scope.as_str().to_owned(),
                })
            }
            _ => Self::Api(error),
        }
    }

    /// The client error behind this one, when there is one.
    #[must_use]
    pub fn client_error(&self) -> Option<&clickclack_client::Error> {
        match self {
            Self::Api(e) => Some(e),
            Self::PartialDelivery { first, .. } => first.client_error(),
            _ => None,
        }
    }

    /// `true` when the recipient already sees part of this send.
    #[must_use]
    pub fn visible_reply_sent(&self) -> bool {
        matches!(self, Self::PartialDelivery { .. })
    }

    /// The fix to show a user, when there is one.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::ClickClack(e) => e.hint(),
            Self::Api(e) if e.kind() == &ErrorKind::Unauthorized => {
                Some(crate::errors::setup::TOKEN_REJECTED.to_owned())
            }
            Self::TokenUnavailable { diagnostics, .. } => Some(format!(
                "export the environment variable the token refers to, or fix tokenFile (a regular, non-empty file, not a symlink){}",
                if diagnostics.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", diagnostics.join("; "))
                }
            )),
            Self::MediaTooLarge { .. } => Some(
                "send a smaller file or raise `mediaMaxMb` (ClickClack accepts at most 64 MiB)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

impl From<clickclack_client::Error> for SendError {
    fn from(error: clickclack_client::Error) -> Self {
        Self::from_client(error)
    }
}

fn describe_api(error: &clickclack_client::Error) -> String {
    if let Some(tls) = crate::diagnose::explain_tls(error) {
        return format!("ClickClack request failed: {tls}");
    }
    match (error.status(), error.server_message()) {
        (Some(status), Some(message)) => format!("ClickClack {}: {message}", status.as_u16()),
        (Some(status), None) => format!("ClickClack {}: {error}", status.as_u16()),
        _ => format!("ClickClack request failed: {error}"),
    }
}
