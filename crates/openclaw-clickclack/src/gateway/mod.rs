//! The gateway: every enabled account live, every message answered exactly once.
//!
//! [`Gateway::start`] opens one realtime connection per enabled account of a
//! loaded OpenClaw config and answers inbound messages with a model
//! (`replyMode: "model"`) or an agent (`replyMode: "agent"`, the default):
//!
//! - only `message.created` / `thread.reply_created` start a turn; the
//!   message is re-fetched by id, own messages and non-`message` kinds are
//!   dropped, then the inbound policy decides (rows 24–31);
//! - one conversation (a DM, a channel's top level, a thread) is handled in
//!   order, different conversations concurrently (bounded per account);
//! - replies carry a nonce derived from account + source message id + part,
//!   so a replayed event cannot post twice; the cursor is committed only
//!   once every earlier event finished and is persisted per account in the
//!   state directory, so a restart answers what arrived while it was down —
//!   except messages older than `catchUpMaxAge` (default 10 minutes);
//! - status per account: `starting` → `ready` → `recovering` → `stopped`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use openclaw_clickclack::config::{ProcessEnv, load};
//! use openclaw_clickclack::gateway::{Gateway, GatewayOptions};
//!
//! let loaded = load(None, &ProcessEnv)?;
//! let gateway = Gateway::start(&loaded.config, &ProcessEnv, GatewayOptions::default()).await?;
//! for status in gateway.status().all() {
//!     println!("{}", status.line());
//! }
//! gateway.shutdown().await;
//! # Ok(()) }
//! ```

pub mod catch_up;
pub mod commands;
pub mod engine;
pub mod events;
pub mod metrics;
pub mod progress;
mod runner;
pub mod send;
pub mod status;
mod turn;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clickclack_realtime::{CursorStore, FileCursorStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use catch_up::{Clock, DEFAULT_CATCH_UP_MAX_AGE};
pub use commands::MenuCommand;
pub use engine::{ReplyEngine, gateway_host_config};
pub use metrics::{AccountMetrics, Metrics};
pub use status::{AccountStatus, Lifecycle, StatusBoard};

use crate::accounts::{ResolvedAccount, list_enabled_accounts, normalize_account_id};
use crate::agent_host::AgentHost;
use crate::config::{EnvSource, OpenClawConfig};
use crate::errors::ClickClackError;
use crate::llm::{LlmError, LlmRuntime};
use crate::policy::{
    AllowBots, BotLoopGuard, BotLoopProtection, GroupOverride, InboundPolicy, InboundPolicyConfig,
    PolicyConfigError,
};
use crate::scheduler::SchedulerConfig;
use crate::secrets::SecretError;

use engine::{EngineOverrides, build_engine};
use runner::{RunnerContext, RuntimeIdentity};
use turn::AccountRuntime;

/// Default bound for finishing in-flight replies at shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The default state directory below the home directory.
pub const DEFAULT_STATE_SUBDIR: &str = ".openclaw/state/clickclack";

/// The default state directory: `~/.openclaw/state/clickclack/`
/// (`$HOME`, else `%USERPROFILE%`, else the current directory).
pub fn default_state_dir(env: &dyn EnvSource) -> PathBuf {
    let home = env
        .var("HOME")
        .or_else(|| env.var("USERPROFILE"))
        .filter(|h| !h.trim().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(DEFAULT_STATE_SUBDIR)
}

/// Why the gateway or one of its accounts could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A ClickClack configuration error (not configured, unknown account, workspace not found).
    #[error(transparent)]
    Config(#[from] ClickClackError),
    /// A token secret could not be resolved.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// No enabled account to run.
    #[error("no enabled ClickClack account to run (configure channels.clickclack)")]
    NoAccounts,
    /// The trust bit is missing for a model-mode `agentId`.
    #[error(
        "ClickClack account \"{account_id}\" refuses to start: model replies for agentId \"{agent_id}\" require plugins.entries.clickclack.llm.allowAgentIdOverride: true"
    )]
    AgentIdOverrideNotAllowed {
        /// Account id.
        account_id: String,
        /// The account's agent id.
        agent_id: String,
    },
    /// A model-mode account without a model.
    #[error(
        "ClickClack account \"{account_id}\" uses replyMode \"model\" but no model is set (set model on the account, or agents.defaults.model.primary)"
    )]
    NoModel {
        /// Account id.
        account_id: String,
    },
    /// An invalid `models.providers` entry.
    #[error("invalid model provider at {path}: {message}")]
    ModelProvider {
        /// Config path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The model or agent client could not be set up.
    #[error("ClickClack account \"{account_id}\": {source}")]
    Llm {
        /// Account id.
        account_id: String,
        /// The cause.
        #[source]
        source: LlmError,
    },
    /// An invalid inbound policy value (e.g. a bad `mentionPatterns` regex).
    #[error(transparent)]
    Policy(#[from] PolicyConfigError),
    /// A REST call failed for good.
    #[error("ClickClack account \"{account_id}\": {what} failed: {source}")]
    Api {
        /// Account id.
        account_id: String,
        /// What was attempted.
        what: String,
        /// The cause.
        #[source]
        source: clickclack_client::Error,
    },
    /// The server closed the realtime socket with 1008.
    #[error(
        "ClickClack account \"{account_id}\" stopped: access revoked by the server (close {code}: {reason}); issue a new bot token or restore the bot's workspace membership. Other accounts keep running."
    )]
    AccessRevoked {
        /// Account id.
        account_id: String,
        /// Close code (1008).
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The realtime stream failed for good.
    #[error("ClickClack account \"{account_id}\" stopped: {source}")]
    Realtime {
        /// Account id.
        account_id: String,
        /// The cause.
        #[source]
        source: clickclack_realtime::Error,
    },
    /// The realtime stream ended unexpectedly.
    #[error("ClickClack account \"{account_id}\" stopped: the realtime stream ended")]
    StreamEnded {
        /// Account id.
        account_id: String,
    },
    /// The metrics endpoint could not bind.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How the gateway runs. `Default` is what the CLI uses without flags.
#[derive(Clone)]
pub struct GatewayOptions {
    /// Only these accounts (ids are normalised); empty = every enabled account.
    pub accounts: Vec<String>,
    /// Where cursors are stored (default [`default_state_dir`]).
    pub state_dir: Option<PathBuf>,
    /// A custom cursor store (replaces the file store in `state_dir`).
    pub cursor_store: Option<Arc<dyn CursorStore>>,
    /// Serve `/healthz` and `/metrics` here.
    pub metrics_addr: Option<SocketAddr>,
    /// Use this model runtime for model-mode accounts instead of the configured providers.
    pub llm: Option<Arc<dyn LlmRuntime>>,
    /// Use this agent host for agent-mode accounts instead of the OpenClaw Gateway.
    pub agent_host: Option<Arc<dyn AgentHost>>,
    /// Overrides every account's `catchUpMaxAge` when set (the CLI's
    /// `--catch-up-max-age`). `None`: each account uses its configured
    /// `catchUpMaxAge`, else [`DEFAULT_CATCH_UP_MAX_AGE`].
    pub catch_up_max_age: Option<Duration>,
    /// The wall clock message ages are measured with.
    pub clock: Clock,
    /// Turns running at once per account, across conversations (default 8).
    pub max_concurrency: usize,
    /// Events received but not yet committed per account (default 256).
    pub max_in_flight: usize,
    /// Bound for finishing in-flight replies at shutdown (default 10 s).
    pub shutdown_grace: Duration,
    /// Commands published in each bot's menu (default none: clears a stale
    /// menu). Accounts with `commandMenu: false` skip the sync entirely.
    pub commands: Vec<MenuCommand>,
    /// First retry delay of REST calls inside turns (default 250 ms).
    pub retry_base: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            accounts: Vec::new(),
            state_dir: None,
            cursor_store: None,
            metrics_addr: None,
            llm: None,
            agent_host: None,
            catch_up_max_age: None,
            clock: Clock::system(),
            max_concurrency: SchedulerConfig::default().max_concurrency,
            max_in_flight: SchedulerConfig::default().max_in_flight,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            commands: Vec::new(),
            retry_base: Duration::from_millis(250),
        }
    }
}

impl std::fmt::Debug for GatewayOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayOptions")
            .field("accounts", &self.accounts)
            .field("state_dir", &self.state_dir)
            .field("metrics_addr", &self.metrics_addr)
            .field("catch_up_max_age", &self.catch_up_max_age)
            .field("max_concurrency", &self.max_concurrency)
            .field("shutdown_grace", &self.shutdown_grace)
            .finish_non_exhaustive()
    }
}

fn policy_allow_bots(value: crate::config::AllowBots) -> AllowBots {
    match value {
        crate::config::AllowBots::False => AllowBots::False,
        crate::config::AllowBots::True => AllowBots::True,
        crate::config::AllowBots::Mentions => AllowBots::Mentions,
    }
}

fn policy_loop(value: Option<crate::config::BotLoopProtection>) -> BotLoopProtection {
    let clamp = |v: Option<u64>| v.map(|v| u32::try_from(v).unwrap_or(u32::MAX));
    value.map_or_else(BotLoopProtection::default, |v| BotLoopProtection {
        enabled: v.enabled,
        max_events_per_window: clamp(v.max_events_per_window),
        window_seconds: clamp(v.window_seconds),
        cooldown_seconds: clamp(v.cooldown_seconds),
    })
}

/// The inbound policy inputs of a resolved account.
pub fn policy_config(account: &ResolvedAccount, config: &OpenClawConfig) -> InboundPolicyConfig {
    let config_path = if account.account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
        "channels.clickclack".to_owned()
    } else {
        format!("channels.clickclack.accounts.{}", account.account_id)
    };
    InboundPolicyConfig {
        account_id: account.account_id.clone(),
        config_path,
        allow_from: account.allow_from.clone(),
        allow_bots: policy_allow_bots(account.allow_bots),
        require_mention: account.require_mention,
        mention_patterns: account.mention_patterns.clone(),
        groups: account
            .groups
            .iter()
            .map(|(k, g)| {
                (
                    k.clone(),
                    GroupOverride {
                        require_mention: g.require_mention,
                        mention_patterns: g.mention_patterns.clone(),
                        allow_bots: g.allow_bots.map(policy_allow_bots),
                        bot_loop_protection: g.bot_loop_protection.map(|b| policy_loop(Some(b))),
                    },
                )
            })
            .collect(),
        bot_loop_protection: policy_loop(account.bot_loop_protection),
        bot_loop_defaults: policy_loop(config.channel_defaults_bot_loop_protection),
    }
}

/// A running gateway. Dropping it aborts every account at once (like a
/// crash: nothing more is committed); call [`Gateway::shutdown`] to stop gracefully.
pub struct Gateway {
    status: StatusBoard,
    metrics: Metrics,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    metrics_server: Option<metrics::MetricsServer>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("accounts", &self.status.all().len())
            .finish_non_exhaustive()
    }
}

/// One account ready to spawn.
struct Prepared {
    account: ResolvedAccount,
    engine: ReplyEngine,
    policy: InboundPolicy,
}

impl Gateway {
    /// Starts every enabled account of `config` (or those in
    /// [`GatewayOptions::accounts`]) and returns at once; accounts connect in
    /// the background (watch [`Gateway::status`]).
    ///
    /// An account whose configuration cannot work (not configured, missing
    /// trust bit, no model, bad regex) is reported `stopped` with its error
    /// while the others run.
    ///
    /// # Errors
    /// [`GatewayError::NoAccounts`]; an unknown `--account`; a token secret
    /// error; the metrics address not binding; or, when **every** account is
    /// refused, the first account's error.
    pub async fn start(
        config: &OpenClawConfig,
        env: &dyn EnvSource,
        options: GatewayOptions,
    ) -> Result<Gateway, GatewayError> {
        let mut accounts = list_enabled_accounts(config, env)?;
        if !options.accounts.is_empty() {
            let wanted: Vec<String> = options
                .accounts
                .iter()
                .map(|a| normalize_account_id(a))
                .collect();
            for id in &wanted {
                if !accounts.iter().any(|a| &a.account_id == id) {
                    return Err(ClickClackError::UnknownAccount {
                        account_id: id.clone(),
                        known: accounts.iter().map(|a| a.account_id.clone()).collect(),
                    }
                    .into());
                }
            }
            accounts.retain(|a| wanted.contains(&a.account_id));
        }
        if accounts.is_empty() {
            return Err(GatewayError::NoAccounts);
        }
        let status = StatusBoard::default();
        let metrics = Metrics::default();
        let overrides = EngineOverrides {
            llm: options.llm.clone(),
            agent_host: options.agent_host.clone(),
        };
        let mut prepared = Vec::new();
        let mut refused = Vec::new();
        for account in accounts {
            status.register(&account.account_id, &account.base_url);
            metrics.account(&account.account_id);
            let checked = crate::diagnose::require_usable(&account, env)
                .map_err(GatewayError::from)
                .and_then(|()| build_engine(&account, config, env, &overrides))
                .and_then(|engine| {
                    let policy = InboundPolicy::new(&policy_config(&account, config))?;
                    Ok((engine, policy))
                });
            match checked {
                Ok((engine, policy)) => prepared.push(Prepared {
                    account,
                    engine,
                    policy,
                }),
                Err(e) => {
                    tracing::error!(account = %account.account_id, "{e}");
                    status.set(&account.account_id, Lifecycle::Stopped, Some(e.to_string()));
                    refused.push(e);
                }
            }
        }
        if prepared.is_empty()
            && let Some(first) = refused.into_iter().next()
        {
            return Err(first);
        }
        let metrics_server = match options.metrics_addr {
            Some(addr) => Some(
                metrics::MetricsServer::start(addr, metrics.clone(), status.clone())
                    .await
                    .map_err(|source| GatewayError::Metrics { addr, source })?,
            ),
            None => None,
        };
        let store: Arc<dyn CursorStore> = match &options.cursor_store {
            Some(store) => Arc::clone(store),
            None => Arc::new(FileCursorStore::new(
                options
                    .state_dir
                    .clone()
                    .unwrap_or_else(|| default_state_dir(env)),
            )),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let guard = Arc::new(BotLoopGuard::new());
        let history_limit = config
            .clickclack
            .as_ref()
            .and_then(|c| c.history_limit)
            .map(|l| u32::try_from(l).unwrap_or(u32::MAX));
        let mut tasks = Vec::new();
        for Prepared {
            account,
            engine,
            policy,
        } in prepared
        {
            let account_id = account.account_id.clone();
            let account_metrics = metrics.account(&account_id);
            // Precedence: the CLI flag, then the account's catchUpMaxAge, then the default.
            let catch_up_max_age = options.catch_up_max_age.unwrap_or(account.catch_up_max_age);
            // Row 38: label = account name → bot handle → agentId → accountId.
            let label_name = account.name.clone();
            let label_fallback = match &engine {
                ReplyEngine::Agent { agent_id, .. } => Some(agent_id.clone()),
                ReplyEngine::Model { agent_id, .. } => agent_id.clone(),
            }
            .unwrap_or_else(|| account_id.clone());
            let runtime_parts = (
                account_id.clone(),
                policy,
                Arc::clone(&guard),
                engine,
                account.response_prefix.clone(),
                account.native_progress,
                options.clock.clone(),
                Arc::clone(&account_metrics),
                shutdown_rx.clone(),
                options.retry_base,
            );
            let make_runtime = Box::new(move |id: RuntimeIdentity| {
                let (
                    account_id,
                    policy,
                    guard,
                    engine,
                    response_prefix,
                    native_progress,
                    clock,
                    metrics,
                    shutdown,
                    retry_base,
                ) = runtime_parts;
                AccountRuntime {
                    account_id,
                    client: id.client,
                    workspace_id: id.workspace_id,
                    progress_label: Some(
                        label_name
                            .or_else(|| id.bot_handle.clone())
                            .unwrap_or(label_fallback),
                    ),
                    bot_user_id: id.bot_user_id,
                    bot_handle: id.bot_handle,
                    policy,
                    guard,
                    engine,
                    response_prefix,
                    history_limit,
                    native_progress,
                    catch_up_max_age,
                    clock,
                    metrics,
                    shutdown,
                    retry_base,
                }
            });
            let context = RunnerContext {
                account,
                status: status.clone(),
                metrics: account_metrics,
                store: Arc::clone(&store),
                shutdown: shutdown_rx.clone(),
                commands: options.commands.clone(),
                scheduler: SchedulerConfig {
                    max_concurrency: options.max_concurrency.max(1),
                    max_in_flight: options.max_in_flight.max(1),
                },
                shutdown_grace: options.shutdown_grace,
                retry_base: options.retry_base,
                make_runtime: Some(make_runtime),
            };
            let board = status.clone();
            let span = tracing::info_span!("account", account = %account_id);
            tasks.push(tokio::spawn(tracing::Instrument::instrument(
                async move {
                    let result = context.run().await;
                    match result {
                        Ok(()) => board.set(&account_id, Lifecycle::Stopped, None),
                        Err(e) => {
                            tracing::error!(account = %account_id, "{e}");
                            board.set(&account_id, Lifecycle::Stopped, Some(e.to_string()));
                        }
                    }
                },
                span,
            )));
        }
        Ok(Gateway {
            status,
            metrics,
            shutdown,
            tasks,
            metrics_server,
        })
    }

    /// Every account's status.
    pub fn status(&self) -> &StatusBoard {
        &self.status
    }

    /// The counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Where `/metrics` and `/healthz` are served, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|m| m.addr)
    }

    /// Whether every account has stopped.
    pub fn is_finished(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }

    /// Waits until every account has stopped on its own (fatal errors).
    pub async fn wait(&mut self) {
        for task in &mut self.tasks {
            let _ = task.await;
        }
        self.tasks.clear();
    }

    /// Graceful shutdown: stop taking events, let in-flight replies finish
    /// (within [`GatewayOptions::shutdown_grace`]), commit cursors, close sockets.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        if let Some(server) = self.metrics_server.take() {
            server.stop();
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
