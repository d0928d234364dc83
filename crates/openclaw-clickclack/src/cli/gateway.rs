//! `gateway`: run every enabled account until SIGINT/SIGTERM.
//!
//! ```text
//! openclaw-clickclack gateway [--config PATH] [--account ID]… [--state-dir DIR]
//!                             [--metrics-addr 127.0.0.1:9464] [--log-format text|json]
//!                             [--max-concurrency N] [--catch-up-max-age SECS] [--shutdown-grace SECS]
//! ```
//!
//! Prints one status line per account change on stdout. Logs go to stderr
//! (`RUST_LOG` filters them; default `info`), as JSON with `--log-format json`.
//! The gateway runs on its own thread with a single-threaded runtime so its
//! log subscriber applies to every task it spawns.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use tokio::sync::{mpsc, oneshot};
use tracing_subscriber::EnvFilter;

use super::{CliError, Context, Outcome};
use crate::config::{LoadedConfig, ProcessEnv};
use crate::gateway::{Gateway, GatewayOptions, Lifecycle};

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
    /// resync (catchUpMaxAge; default 600 = 10 minutes).
    #[arg(long, value_name = "SECS")]
    pub catch_up_max_age: Option<u64>,
    /// Seconds to let in-flight replies finish at shutdown.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub shutdown_grace: u64,
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

/// Runs the gateway until a signal (or until every account stopped), sending
/// status lines to `lines`. Returns whether every account ended without error.
async fn serve(
    loaded: LoadedConfig,
    options: GatewayOptions,
    lines: mpsc::Sender<String>,
) -> Result<bool, String> {
    let mut gateway = Gateway::start(&loaded.config, &ProcessEnv, options)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(addr) = gateway.metrics_addr() {
        let _ = lines
            .send(format!("metrics on http://{addr}/metrics"))
            .await;
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
                let _ = lines.send(s.line()).await;
            }
        }
        last = now;
        if gateway.is_finished() {
            gateway.wait().await;
            break;
        }
        tokio::select! {
            _ = &mut signal => {
                let _ = lines.send("shutting down: finishing in-flight replies".to_owned()).await;
                gateway.shutdown().await;
                for s in status.all() {
                    let _ = lines.send(s.line()).await;
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

fn subscriber(format: LogFormat) -> Box<dyn tracing::Subscriber + Send + Sync> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => Box::new(builder.json().finish()),
        LogFormat::Text => Box::new(builder.finish()),
    }
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
    let options = GatewayOptions {
        accounts: args.account.clone(),
        state_dir: args.state_dir.clone(),
        metrics_addr: args.metrics_addr,
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        max_concurrency: args.max_concurrency.max(1),
        catch_up_max_age: args.catch_up_max_age.map(Duration::from_secs),
        ..GatewayOptions::default()
    };
    let (lines_tx, mut lines_rx) = mpsc::channel::<String>(64);
    let (done_tx, done_rx) = oneshot::channel();
    let format = args.log_format;
    let spawned = std::thread::Builder::new()
        .name("clickclack-gateway".to_owned())
        .spawn(move || {
            let result = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => tracing::subscriber::with_default(subscriber(format), || {
                    runtime.block_on(serve(loaded, options, lines_tx))
                }),
                Err(e) => Err(format!("cannot start the gateway runtime: {e}")),
            };
            let _ = done_tx.send(result);
        });
    if let Err(e) = spawned {
        writeln!(err, "error: cannot start the gateway thread: {e}")?;
        return Ok(Outcome::Failure);
    }
    while let Some(line) = lines_rx.recv().await {
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    match done_rx.await {
        Ok(Ok(true)) => Ok(Outcome::Success),
        Ok(Ok(false)) => Ok(Outcome::Failure),
        Ok(Err(message)) => {
            writeln!(err, "error: {message}")?;
            Ok(Outcome::Failure)
        }
        Err(_) => {
            writeln!(err, "error: the gateway stopped unexpectedly")?;
            Ok(Outcome::Failure)
        }
    }
}
