//! The error body every handler returns, and a classifier for 403 strings.

use crate::scope::Scope;

/// The body of every error response: `{"error": "<message>"}` (protocol.md §4).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// The server's error message (a Go error string).
    #[serde(default)]
    pub error: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
        }
    }
}

/// Prefix of the 403 message for a missing scope: `bot token is missing scope <scope>`.
pub const MISSING_SCOPE_PREFIX: &str = "bot token is missing scope ";
/// The 403 message when a bot token is used on another workspace.
pub const WRONG_WORKSPACE: &str = "bot token cannot access this workspace";
/// The 401 message when no credentials were sent.
pub const AUTHENTICATION_REQUIRED: &str = "authentication required";
/// The 503 message when the credential store is unavailable.
pub const SESSION_VERIFICATION_UNAVAILABLE: &str = "session verification unavailable; retry later";
/// The 404 message for unknown `/api/*` paths.
pub const ROUTE_NOT_FOUND: &str = "route not found";
/// The 400 message when a message nonce is reused for a different message.
pub const NONCE_CONFLICT: &str = "client nonce was already used for a different message";
/// The 400 message for a nonce longer than 128 characters.
pub const NONCE_TOO_LONG: &str = "nonce is too long";
/// The 400 message for a reply to a thread reply.
pub const NESTED_THREAD_REPLY: &str = "nested thread replies are not supported";
/// The 400 message for an unsupported ephemeral event type.
pub const UNSUPPORTED_EPHEMERAL_TYPE: &str = "unsupported ephemeral event type";
/// The 403 message for bot-only endpoints called without a bot token.
pub const BOT_TOKEN_REQUIRED: &str = "bot token required";

/// Why the server answered 403, as far as the message tells.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForbiddenReason {
    /// `bot token is missing scope <scope>`: the token lacks this scope.
    MissingScope(Scope),
    /// `bot token cannot access this workspace`: the token is bound to another workspace.
    WrongWorkspace,
    /// Any other 403 message (bot-forbidden endpoints, permissions, unknown ids for bots, …).
    Other,
}

impl ForbiddenReason {
    /// Classifies a 403 error message (the `error` string of the body).
    ///
    /// Surrounding whitespace is ignored; the scope keeps its case.
    ///
    /// ```
    /// use clickclack_proto::{ForbiddenReason, Scope};
    /// assert_eq!(
    ///     ForbiddenReason::classify("bot token is missing scope messages:write"),
    ///     ForbiddenReason::MissingScope(Scope::MessagesWrite)
    /// );
    /// ```
    pub fn classify(message: &str) -> ForbiddenReason {
        let message = message.trim();
        if message == WRONG_WORKSPACE {
            return ForbiddenReason::WrongWorkspace;
        }
        match message.strip_prefix(MISSING_SCOPE_PREFIX) {
            Some(scope) if !scope.trim().is_empty() => {
                ForbiddenReason::MissingScope(Scope::from_wire(scope.trim()))
            }
            _ => ForbiddenReason::Other,
        }
    }

    /// The exact message the server sends for this reason (`None` for `Other`).
    pub fn message(&self) -> Option<String> {
        match self {
            ForbiddenReason::MissingScope(scope) => {
                Some(format!("{MISSING_SCOPE_PREFIX}{}", scope.as_str()))
            }
            ForbiddenReason::WrongWorkspace => Some(WRONG_WORKSPACE.to_owned()),
            ForbiddenReason::Other => None,
        }
    }
}
