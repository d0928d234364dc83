//! The library entry point other Rust programs use to send.
//!
//! ```no_run
//! use openclaw_clickclack::channel::ClickClackChannel;
//! use openclaw_clickclack::config::{ProcessEnv, load};
//! use openclaw_clickclack::outbound::OutboundMessage;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let loaded = load(None, &ProcessEnv)?;
//! let channel = ClickClackChannel::from_config(loaded.config)?;
//! for account in channel.accounts() {
//!     println!("{} configured={}", account.account_id, account.configured);
//! }
//! let ids = channel
//!     .send(None, "channel:general", OutboundMessage::text("hello"))
//!     .await?;
//! println!("sent {ids:?}");
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clickclack_client::{Client, RetryPolicy};
use clickclack_proto::MessageId;
use clickclack_target_parser::Target;

use crate::accounts::{
    ResolvedAccount, default_account_id, normalize_account_id, resolve_all_accounts,
};
use crate::config::{EnvSource, OpenClawConfig, ProcessEnv};
use crate::errors::ClickClackError;
use crate::outbound::split::DEFAULT_MAX_BODY_JSON_BYTES;
use crate::outbound::{AccountSender, OutboundMessage, ReconcileOutcome, SendError};
use crate::resolve::ResolveCache;

/// The `User-Agent` of requests made by this crate.
pub const USER_AGENT: &str = concat!("openclaw-clickclack/", env!("CARGO_PKG_VERSION"));

/// Knobs of the HTTP clients the channel builds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ChannelOptions {
    /// Retry policy (`None`: the client's default, retrying only safe and
    /// nonce-keyed requests).
    pub retry_policy: Option<RetryPolicy>,
    /// Per-attempt request timeout (`None`: the client's default).
    pub request_timeout: Option<Duration>,
    /// Body budget of one message in JSON-escaped bytes.
    pub max_body_json_bytes: usize,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self {
            retry_policy: None,
            request_timeout: None,
            max_body_json_bytes: DEFAULT_MAX_BODY_JSON_BYTES,
        }
    }
}

impl ChannelOptions {
    /// Sets the retry policy.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// Sets the per-attempt request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Sets the body budget (JSON-escaped bytes per message).
    #[must_use]
    pub fn max_body_json_bytes(mut self, bytes: usize) -> Self {
        self.max_body_json_bytes = bytes;
        self
    }
}

/// Builds a REST client for an account (its `apiBaseUrl`/`baseUrl` and token).
///
/// # Errors
/// `ClickClack is not configured for account "<id>"` when `baseUrl`, a token
/// source or `workspace` is missing; `ClickClack is not configured: <cause>`
/// ([`crate::diagnose::require_usable`]) when the token source yields
/// nothing (the plugin would send an empty bearer and get a 401); the
/// client's error for a bad URL.
pub fn build_client(
    account: &ResolvedAccount,
    options: &ChannelOptions,
) -> Result<Client, SendError> {
    crate::diagnose::require_usable(account, &crate::config::ProcessEnv)?;
    let tls = account
        .tls_settings(&crate::config::ProcessEnv)
        .map_err(|message| ClickClackError::TlsSetup { message })?;
    let mut builder = Client::builder(account.api_endpoint.clone())
        .token(account.token.expose_secret())
        .user_agent(USER_AGENT)
        .tls(tls);
    if let Some(policy) = &options.retry_policy {
        builder = builder.retry_policy(policy.clone());
    }
    if let Some(timeout) = options.request_timeout {
        builder = builder.request_timeout(timeout);
    }
    builder.build().map_err(SendError::from_client)
}

/// The OpenClaw ClickClack channel: every configured account, ready to send.
#[derive(Debug)]
pub struct ClickClackChannel {
    config: Arc<OpenClawConfig>,
    accounts: Vec<ResolvedAccount>,
    default_account: String,
    options: ChannelOptions,
    senders: Mutex<HashMap<String, AccountSender>>,
}

impl ClickClackChannel {
    /// Resolves every account of `config` (tokens from the process
    /// environment).
    ///
    /// # Errors
    /// A secret-provider error of row 6 (`Secret provider "<p>" is not
    /// configured …`).
    pub fn from_config(config: OpenClawConfig) -> Result<Self, SendError> {
        Self::from_config_with_env(config, &ProcessEnv)
    }

    /// Like [`ClickClackChannel::from_config`] with an explicit environment.
    ///
    /// # Errors
    /// See [`ClickClackChannel::from_config`].
    pub fn from_config_with_env(
        config: OpenClawConfig,
        env: &dyn EnvSource,
    ) -> Result<Self, SendError> {
        let accounts = resolve_all_accounts(&config, env).map_err(ClickClackError::from)?;
        let default_account = default_account_id(&config, env);
        Ok(Self {
            config: Arc::new(config),
            accounts,
            default_account,
            options: ChannelOptions::default(),
            senders: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the client options (drops already-built clients).
    #[must_use]
    pub fn with_options(mut self, options: ChannelOptions) -> Self {
        self.options = options;
        lock(&self.senders).clear();
        self
    }

    /// The config the channel was built from.
    #[must_use]
    pub fn config(&self) -> &OpenClawConfig {
        &self.config
    }

    /// Every listed account, resolved (including disabled and unconfigured
    /// ones), sorted by id.
    #[must_use]
    pub fn accounts(&self) -> &[ResolvedAccount] {
        &self.accounts
    }

    /// The id used when no account is named.
    #[must_use]
    pub fn default_account_id(&self) -> &str {
        &self.default_account
    }

    /// One account: `None` → the default account; names are normalised
    /// (`"Work Team"` → `work-team`).
    ///
    /// # Errors
    /// [`ClickClackError::UnknownAccount`] for an id that is not listed.
    pub fn account(&self, account: Option<&str>) -> Result<&ResolvedAccount, SendError> {
        let id = account.map_or_else(|| self.default_account.clone(), normalize_account_id);
        self.accounts
            .iter()
            .find(|a| a.account_id == id)
            .ok_or_else(|| {
                ClickClackError::UnknownAccount {
                    account_id: id,
                    known: self.accounts.iter().map(|a| a.account_id.clone()).collect(),
                }
                .into()
            })
    }

    /// The sender of one account (built once, then shared: it holds the
    /// client and the resolution cache).
    ///
    /// # Errors
    /// Unknown or unconfigured account; a bad base URL.
    pub fn sender(&self, account: Option<&str>) -> Result<AccountSender, SendError> {
        let account = self.account(account)?;
        if let Some(sender) = lock(&self.senders).get(&account.account_id) {
            return Ok(sender.clone());
        }
        let client = build_client(account, &self.options)?;
        let sender = AccountSender::new(client, account, Arc::new(ResolveCache::new()))
            .with_max_body_json_bytes(self.options.max_body_json_bytes);
        lock(&self.senders).insert(account.account_id.clone(), sender.clone());
        Ok(sender)
    }

    /// Sends `message` to `target` (`channel:<name|id>`, `dm:<user_id>`,
    /// `thread:<message_id>`, or a bare channel name) from `account` (`None`:
    /// the default account). Returns the created message ids, in order; an
    /// empty list when sanitising left nothing to send.
    ///
    /// # Errors
    /// `ClickClack target is required`, `Unsupported ClickClack target: <raw>`,
    /// `ClickClack is not configured for account "<id>"`, `ClickClack
    /// workspace not found: <value>`, `ClickClack channel not found: <value>`,
    /// media and server errors — see [`SendError`].
    pub async fn send(
        &self,
        account: Option<&str>,
        target: &str,
        message: OutboundMessage,
    ) -> Result<Vec<MessageId>, SendError> {
        let target = Target::parse(target).map_err(ClickClackError::from)?;
        let sender = self.sender(account)?;
        sender.send(&target, &message).await
    }

    /// Reconciles a durable send whose outcome is unknown; see
    /// [`AccountSender::reconcile_unknown_send`].
    ///
    /// # Errors
    /// See [`AccountSender::reconcile_unknown_send`].
    pub async fn reconcile_unknown_send(
        &self,
        account: Option<&str>,
        payloads: &[OutboundMessage],
    ) -> Result<ReconcileOutcome, SendError> {
        self.sender(account)?.reconcile_unknown_send(payloads).await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
