//! `gateway`: run every enabled account until SIGINT/SIGTERM.
//!
//! ```text
//! openclaw-clickclack gateway [--config PATH] [--account ID]… [--state-dir DIR]
//!                             [--metrics-addr 127.0.0.1:9464] [--log-format text|json]
//!                             [--max-concurrency N] [--catch-up-max-age SECS] [--shutdown-grace SECS]
//!                             [--state postgres://…] [--replica-id NAME]
//!                             [--lease-ttl-ms MS] [--lease-heartbeat-ms MS]
//! ```
//!
//! State: `--state-dir DIR` (default, files, one gateway per directory) or
//! `--state postgres://…` (also `OPENCLAW_CLICKCLACK_STATE_URL`): this
//! gateway becomes one replica of a fleet and runs only the accounts whose
//! lease it holds (see [`crate::state`]).
//!
//! Prints one status line per account change on stdout. Logs go to stderr
//! (`RUST_LOG` filters them; default `info`), as JSON with `--log-format json`;
//! the binary installs that subscriber before the runtime starts (see
//! [`super::logging`]), and the gateway runs on the binary's normal runtime.
//!
//! `catchUpMaxAge` precedence: `--catch-up-max-age SECS` (every account),
//! else the account's `catchUpMaxAge` config key, else 10 minutes.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{CliError, Context, Outcome};
use crate::accounts::{list_enabled_accounts, normalize_account_id};
use crate::config::{LoadedConfig, ProcessEnv};
use crate::gateway::{Gateway, GatewayOptions, Lifecycle};
use crate::state::{LeaseTimings, STATE_URL_ENV, StateLocation};

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Run only this account (repeatable; default: every enabled account).
    #[arg(long = "account", value_name = "ID")]
    pub account: Vec<String>,
    /// Where cursors are stored (default: ~/.openclaw/state/clickclack/).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Serve /healthz and Prometheus /metrics on this address, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Turns running at once per account across conversations.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_concurrency: usize,
    /// Skip backlog messages older than this many seconds after a restart or
    /// resync, for every account (overrides each account's catchUpMaxAge;
    /// without the flag: the config value, else 600 = 10 minutes).
    #[arg(long, value_name = "SECS")]
    pub catch_up_max_age: Option<u64>,
    /// Seconds to let in-flight replies finish at shutdown.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub shutdown_grace: u64,
    /// Shared state of a fleet of gateways: postgres://user:password@host/db
    /// (a directory path here is the same as --state-dir).
    #[arg(long = "state", value_name = "URL", env = STATE_URL_ENV, hide_env_values = true, conflicts_with = "state_dir")]
    pub state: Option<String>,
    /// This replica's name in the fleet (default: host name, pid and a random suffix).
    #[arg(long, value_name = "NAME", env = "OPENCLAW_CLICKCLACK_REPLICA_ID")]
    pub replica_id: Option<String>,
    /// Lease duration by the database clock, in milliseconds (fleet only).
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub lease_ttl_ms: u64,
    /// Lease renewal and rebalancing interval, in milliseconds (fleet only;
    /// the ttl must be at least three heartbeats).
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub lease_heartbeat_ms: u64,
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes one status line (stdout going away must not stop the gateway).
fn emit(out: &mut (dyn Write + Send), line: &str) {
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        tracing::debug!("cannot write a gateway status line to stdout");
    }
}

/// Runs the gateway until a signal (or until every account stopped), writing
/// status lines to `out`. Returns whether every account ended without error.
async fn serve(
    loaded: LoadedConfig,
    options: GatewayOptions,
    out: &mut (dyn Write + Send),
) -> Result<bool, String> {
    let only = options.accounts.clone();
    let mut gateway = Gateway::start(&loaded.config, &ProcessEnv, options)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(addr) = gateway.metrics_addr() {
        emit(out, &format!("metrics on http://{addr}/metrics"));
    }
    if let Some(fleet) = gateway.fleet() {
        let location = gateway.state_location().unwrap_or_default();
        emit(
            out,
            &format!("fleet replica {} on {location}", fleet.replica),
        );
    }
    // Config reload: the file is watched and SIGHUP forces a check (in fleet
    // mode it changes the replica's account set).
    let reload_stop = tokio_util::sync::CancellationToken::new();
    let _reload_guard = reload_stop.clone().drop_guard();
    match crate::reload::Reloader::new(
        loaded.path.clone(),
        loaded.config.clone(),
        gateway.supervisor().clone(),
        &only,
        Box::new(ProcessEnv),
        crate::reload::ReloadOptions::default(),
    ) {
        Ok(reloader) => {
            tokio::spawn(reloader.run(reload_stop.clone()));
        }
        Err(e) => tracing::warn!("config reload is off: {e}"),
    }
    let status = gateway.status().clone();
    let mut changes = status.subscribe();
    let mut last: Vec<(String, Lifecycle)> = Vec::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let now: Vec<(String, Lifecycle)> = status
            .all()
            .into_iter()
            .map(|s| (s.account_id.clone(), s.lifecycle))
            .collect();
        for s in status.all() {
            if !last.contains(&(s.account_id.clone(), s.lifecycle)) {
                emit(out, &s.line());
            }
        }
        last = now;
        if gateway.is_finished() {
            gateway.wait().await;
            break;
        }
        tokio::select! {
            _ = &mut signal => {
                emit(out, "shutting down: finishing in-flight replies");
                gateway.shutdown().await;
                for s in status.all() {
                    emit(out, &s.line());
                }
                return Ok(status.all().iter().all(|s| s.last_error.is_none()));
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            // Re-check periodically for accounts that ended without a status change.
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    Ok(status.all().iter().all(|s| s.last_error.is_none()))
}

/// Runs the gateway.
///
/// # Errors
/// [`CliError::Config`] when the config cannot be loaded; gateway failures
/// are printed to `err` and reported as [`Outcome::Failure`].
pub async fn run(
    ctx: &Context,
    args: &GatewayArgs,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    let loaded = ctx.load_config()?;
    if !preflight(&loaded, &args.account, err)? {
        return Ok(Outcome::Failure);
    }
    let state = match &args.state {
        Some(raw) => Some(
            raw.parse::<StateLocation>()
                .map_err(|e| CliError::Usage(e.to_string()))?,
        ),
        None => None,
    };
    let options = GatewayOptions {
        accounts: args.account.clone(),
        state_dir: args.state_dir.clone(),
        state,
        replica_id: args.replica_id.clone(),
        lease_timings: LeaseTimings {
            ttl: Duration::from_millis(args.lease_ttl_ms),
            heartbeat: Duration::from_millis(args.lease_heartbeat_ms),
        },
        metrics_addr: args.metrics_addr,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        max_concurrency: args.max_concurrency.max(1),
        catch_up_max_age: args.catch_up_max_age.map(Duration::from_secs),
        ..GatewayOptions::default()
    };
    match serve(loaded, options, out).await {
        Ok(true) => Ok(Outcome::Success),
        Ok(false) => Ok(Outcome::Failure),
        Err(message) => {
            writeln!(err, "error: {}", crate::diagnose::escape_control(&message))?;
            Ok(Outcome::Failure)
        }
    }
}

/// The start checks `doctor` runs ([`crate::preflight`]) for every account
/// the gateway would start. Problems are printed with their fix; returns
/// `false` when no account can start (the gateway then exits 1 without
/// contacting anything).
fn preflight(
    loaded: &LoadedConfig,
    wanted: &[String],
    err: &mut (dyn Write + Send),
) -> Result<bool, CliError> {
    let Ok(accounts) = list_enabled_accounts(&loaded.config, &ProcessEnv) else {
        // Gateway::start reports config-level errors itself.
        return Ok(true);
    };
    let wanted: Vec<String> = wanted.iter().map(|a| normalize_account_id(a)).collect();
    let selected: Vec<_> = accounts
        .iter()
        .filter(|a| wanted.is_empty() || wanted.contains(&a.account_id))
        .collect();
    let mut startable = selected.is_empty();
    let mut problems = Vec::new();
    for account in selected {
        match crate::preflight::check_account(account, &loaded.config, &ProcessEnv) {
            Ok(_) => startable = true,
            Err(problem) => problems.push((account.account_id.clone(), problem)),
        }
    }
    for (path, why) in crate::preflight::unimplemented_keys_in(&loaded.path) {
        tracing::warn!(key = %path, "config key has no effect in this daemon: {why}");
        writeln!(
            err,
            "warning: {path} is accepted but has no effect here: {why}"
        )?;
    }
    for (account_id, problem) in &problems {
        let lead = if startable {
            format!("warning: account \"{account_id}\" will not start: ")
        } else {
            "error: ".to_owned()
        };
        writeln!(
            err,
            "{lead}{}",
            crate::diagnose::escape_control(&problem.message)
        )?;
        if let Some(fix) = &problem.fix {
            writeln!(err, "hint: {fix}")?;
        }
    }
    Ok(startable)
}
