//! User-facing errors and messages, verbatim from the OpenClaw ClickClack
//! plugin and its docs' troubleshooting list (reference §1 rows 7–17, 48–50).
//!
//! `Display` is the exact upstream string, so users can search for it;
//! [`ClickClackError::hint`] adds the fix from the docs.

use clickclack_target_parser::ParseTargetError;

use crate::secrets::SecretError;

/// The scope bundle a sending bot token needs.
pub const REQUIRED_SEND_SCOPE: &str = "bot:write";

/// Errors users of the channel meet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClickClackError {
    /// Row 7: the account lacks `baseUrl`, a token source, or `workspace`.
    #[error("ClickClack is not configured for account \"{account_id}\"")]
    NotConfigured {
        /// Account id.
        account_id: String,
        /// Which of `baseUrl`, `token`, `workspace` are missing.
        missing: Vec<&'static str>,
    },
    /// `--account` names an account that is not configured.
    #[error("ClickClack account \"{account_id}\" is not configured (configured accounts: {})", .known.join(", "))]
    UnknownAccount {
        /// The requested (normalised) id.
        account_id: String,
        /// The listed ids.
        known: Vec<String>,
    },
    /// Two enabled accounts would run as the same bot: the same token on the
    /// same server (typically a root `token` inherited by a named account).
    #[error(
        "ClickClack accounts \"{first}\" and \"{second}\" use the same bot token: every message would be answered twice"
    )]
    SharedToken {
        /// The first account (listing order).
        first: String,
        /// The second account.
        second: String,
        /// `true` when the token of `second` is inherited from the root of
        /// `channels.clickclack` (the legacy single-account keys).
        inherited: bool,
    },
    /// The account's TLS trust could not be set up (`tls.caFile` or
    /// `SSL_CERT_FILE` unreadable or without a certificate).
    #[error("ClickClack TLS setup failed: {message}")]
    TlsSetup {
        /// What failed, where it was configured, and the fix.
        message: String,
    },
    /// Row 8: no workspace matched by id, slug or name.
    #[error("ClickClack workspace not found: {value}")]
    WorkspaceNotFound {
        /// The configured workspace value.
        value: String,
    },
    /// Row 9: no channel matched by id or name.
    #[error("ClickClack channel not found: {value}")]
    ChannelNotFound {
        /// The target channel value.
        value: String,
    },
    /// Rows 10–11: the target did not parse (`ClickClack target is required`,
    /// `Unsupported ClickClack target: <raw>`, …).
    #[error(transparent)]
    Target(#[from] ParseTargetError),
    /// Row 6: an env secret ref names a provider that is not allowed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A 403 `bot token is missing scope <scope>`.
    #[error("ClickClack bot token is missing scope {scope}; the token needs bot:write")]
    MissingScope {
        /// The scope the server named.
        scope: String,
    },
    /// Row 15: a durable send without a usable part index.
    #[error("ClickClack durable delivery requires a stable delivery part index")]
    DurablePartIndex,
    /// Row 16: `sendMedia` without a media URL/path.
    #[error("ClickClack media send requires mediaUrl")]
    MediaRequiresUrl,
    /// Row 18: a media reply outside durable delivery.
    #[error("ClickClack media reply requires durable delivery")]
    MediaReplyRequiresDurable,
    /// Row 22: the reconnect drain returned a cursor that does not advance.
    #[error("ClickClack event backlog returned a non-advancing cursor")]
    NonAdvancingCursor,
    /// A token source is named but yields no token: the unset variable, or
    /// the unusable `tokenFile` and why (see [`crate::diagnose`]).
    #[error("ClickClack is not configured: {cause}{}", account_suffix(.account_id))]
    TokenNotUsable {
        /// Account id.
        account_id: String,
        /// What is wrong.
        cause: crate::diagnose::TokenCause,
    },
    /// A `dm:<user_id>` target names no user the bot can see.
    #[error("ClickClack user not found: {value}")]
    UserNotFound {
        /// The user id from the target.
        value: String,
    },
    /// A `thread:<message_id>` target names no message the bot can see.
    #[error("ClickClack message not found: {value}")]
    MessageNotFound {
        /// The message id from the target.
        value: String,
    },
}

/// ` (account "<id>")` for named accounts, nothing for the default one.
fn account_suffix(account_id: &str) -> String {
    if account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
        String::new()
    } else {
        format!(" (account \"{account_id}\")")
    }
}

impl ClickClackError {
    /// The fix from the docs' troubleshooting list, when there is one.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotConfigured {
                account_id,
                missing,
            } => {
                let prefix = if account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
                    "channels.clickclack".to_owned()
                } else {
                    format!("channels.clickclack.accounts.{account_id}")
                };
                let token_hint = if account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
                    format!("set `{prefix}.token` (or `{prefix}.tokenFile`, or export CLICKCLACK_BOT_TOKEN)")
                } else {
                    format!("set `{prefix}.token` or `{prefix}.tokenFile` (CLICKCLACK_BOT_TOKEN is only used by the default account)")
                };
                let mut parts = Vec::new();
                for key in missing {
                    match *key {
                        "token" => parts.push(token_hint.clone()),
                        other => parts.push(format!("set `{prefix}.{other}`")),
                    }
                }
                if parts.is_empty() {
                    parts.push(format!(
                        "set `baseUrl`, `token` (for example via CLICKCLACK_BOT_TOKEN), and `workspace` under {prefix}"
                    ));
                }
                let account_flag = if account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
                    String::new()
                } else {
                    format!(" --account {account_id}")
                };
                Some(format!(
                    "{}; or run: {}{account_flag} --base-url URL --workspace NAME --token ccb_… (or --code CODE)",
                    parts.join("; "),
                    crate::diagnose::SETUP_COMMAND
                ))
            }
            Self::SharedToken {
                second, inherited, ..
            } => Some(if *inherited {
                format!(
                    "the root channels.clickclack.token/tokenFile is the default account's and every named account inherits it: move it under channels.clickclack.accounts.default, and give \"{second}\" its own token (or set channels.clickclack.accounts.{second}.enabled: false)"
                )
            } else {
                format!(
                    "give each account its own bot token (mint one per bot), or disable one of them (channels.clickclack.accounts.{second}.enabled: false)"
                )
            }),
            Self::UnknownAccount { .. } => Some(
                "pass one of the configured account ids with --account, or add it under channels.clickclack.accounts".to_owned(),
            ),
            Self::WorkspaceNotFound { .. } => Some(
                "set `workspace` to the workspace id, slug, or name returned by ClickClack".to_owned(),
            ),
            Self::ChannelNotFound { .. } => Some(
                "verify the bot is a member of the workspace, and use the channel name or its chn_ id".to_owned(),
            ),
            Self::MissingScope { .. } => Some(
                "mint a token with the bot:write scope bundle (or grant the missing scope)".to_owned(),
            ),
            Self::TokenNotUsable { account_id, cause } => Some(cause.fix(account_id)),
            Self::UserNotFound { .. } => Some(
                "check the id (dm: takes a usr_ user id, not a conversation id) and that the user is in the bot's workspace".to_owned(),
            ),
            Self::MessageNotFound { .. } => Some(
                "check the id (thread: takes the msg_ id of the thread's root message) and that the bot can read its channel".to_owned(),
            ),
            Self::Target(_) => Some(format!(
                "use {}",
                clickclack_target_parser::TARGET_HINT
            )),
            _ => None,
        }
    }
}

/// Setup and onboarding messages (reference rows 48–50), verbatim.
pub mod setup {
    /// `channels add` without enough flags.
    pub const REQUIRES_FLAGS: &str =
        "ClickClack requires --token, --base-url, and --workspace (or --use-env).";
    /// A base URL that is not http(s).
    pub const INVALID_BASE_URL: &str = "ClickClack base URL must be a valid http(s) URL.";
    /// Wizard variant of the same.
    pub const INVALID_SERVER_URL: &str = "ClickClack server URL must be a valid http(s) URL.";
    /// `--use-env` on a named account.
    pub const ENV_TOKEN_DEFAULT_ONLY: &str =
        "CLICKCLACK_BOT_TOKEN can only be used for the default account.";
    /// Setup code claim: 404.
    pub const CODE_INVALID: &str = "ClickClack setup code is invalid, expired, or already used. Generate a new code and try again.";
    /// Setup code claim: 429.
    pub const CODE_RATE_LIMITED: &str =
        "Too many ClickClack setup code attempts. Wait and try again.";
    /// Token rejected during verification.
    pub const TOKEN_REJECTED: &str =
        "ClickClack rejected the bot token (401). Copy a current token and rerun setup.";
    /// Verification skipped for env tokens.
    pub const ENV_TOKEN_SKIPPED: &str =
        "Token comes from CLICKCLACK_BOT_TOKEN; verification skipped.";
    /// Gateway probe: running.
    pub const GATEWAY_RUNNING: &str =
        "OpenClaw is running — ClickClack will connect automatically.";
    /// Gateway probe: not running.
    pub const GATEWAY_START: &str = "Start OpenClaw to connect: openclaw gateway";
    /// Gateway probe: unknown.
    pub const GATEWAY_MAYBE: &str = "If OpenClaw is running it connects automatically; otherwise start it with: openclaw gateway";

    /// Setup code claim: other failures.
    #[must_use]
    pub fn code_claim_failed(message: &str) -> String {
        format!("Could not claim ClickClack setup code: {message}")
    }

    /// Verification success note.
    #[must_use]
    pub fn connected(handle: &str, workspace_name: &str) -> String {
        format!("Connected as @{handle} — workspace {workspace_name} resolved.")
    }

    /// Verification: workspace not found.
    #[must_use]
    pub fn workspace_not_found(workspace: &str) -> String {
        format!(
            "Workspace \"{workspace}\" was not found. Check the id, slug, or name, list available workspaces, and rerun setup."
        )
    }

    /// Verification: connection failure.
    #[must_use]
    pub fn connection_failed(error: &str) -> String {
        format!(
            "Connection check failed: {error}. Setup was saved; fix the connection and rerun setup."
        )
    }
}
