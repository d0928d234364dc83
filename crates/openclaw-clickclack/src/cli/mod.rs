//! The `openclaw-clickclack` command line.
//!
//! ```text
//! openclaw-clickclack [--config PATH] message send --target channel:general --message "hello"
//! openclaw-clickclack [--config PATH] doctor [--account ID]
//! openclaw-clickclack [--config PATH] accounts list
//! openclaw-clickclack [--config PATH] gateway
//! openclaw-clickclack [--config PATH] channels add clickclack --code URL|CODE | --token ccb_… …
//! ```
//!
//! The config file is `--config PATH`, else `$OPENCLAW_CONFIG_PATH`, else
//! `~/.openclaw/openclaw.json` (JSON5, the OpenClaw format).
//!
//! Each subcommand lives in its own module with an `Args` struct and a
//! `run` function; add one by adding a [`Command`] variant and a match arm
//! in [`run`].

pub mod accounts;
pub mod channels;
pub mod doctor;
pub mod gateway;
pub mod logging;
pub mod message;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, LoadedConfig, ProcessEnv};
use crate::outbound::SendError;

/// `openclaw-clickclack`: run OpenClaw agents as ClickClack bots.
#[derive(Debug, Parser)]
#[command(name = "openclaw-clickclack", version, about, long_about = None)]
pub struct Cli {
    /// The OpenClaw config file (JSON5). Default: $OPENCLAW_CONFIG_PATH, else
    /// ~/.openclaw/openclaw.json.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Send messages.
    #[command(subcommand)]
    Message(message::MessageCommand),
    /// Check the configuration, the token, the workspace, scopes and realtime.
    Doctor(doctor::DoctorArgs),
    /// Inspect the configured accounts.
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Set up channels: `channels add clickclack --code …` or `--token …`.
    #[command(subcommand)]
    Channels(channels::ChannelsCommand),
    /// Run the gateway: answer ClickClack messages through the OpenClaw
    /// Gateway's agent (replyMode "agent", the default) or directly with a
    /// model (replyMode "model").
    Gateway(gateway::GatewayArgs),
}

/// What the caller passed that every subcommand may need.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `--config`.
    pub config_path: Option<PathBuf>,
}

impl Context {
    /// Loads the config (`--config`, `$OPENCLAW_CONFIG_PATH`, or the default
    /// path) with the process environment.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn load_config(&self) -> Result<LoadedConfig, ConfigError> {
        crate::config::load(self.config_path.as_deref(), &ProcessEnv)
    }
}

/// How a command ended (errors aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went fine (exit code 0).
    Success,
    /// The command ran but reported a failure, e.g. a `doctor` ✗ (exit code 1).
    Failure,
}

/// A failed command.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The config could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A send, resolution or server failure.
    #[error(transparent)]
    Send(#[from] SendError),
    /// Bad arguments that clap cannot express.
    #[error("{0}")]
    Usage(String),
    /// A subcommand that is not built yet.
    #[error("`{0}` is not available yet in this build of openclaw-clickclack")]
    NotAvailable(&'static str),
    /// `channels add` could not claim a code or write a file.
    #[error("{0}")]
    Setup(String),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// The process exit code: 2 for usage errors, 1 otherwise.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            _ => 1,
        }
    }

    /// The fix to print under the error, when there is one.
    #[must_use]
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Send(e) => e.hint(),
            Self::Config(ConfigError::NotFound { .. }) => Some(
                "pass --config PATH or set OPENCLAW_CONFIG_PATH to your OpenClaw config file"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// Runs a parsed command line, writing results to `out` (stdout in the
/// binary) and notes to `err` (stderr).
///
/// # Errors
/// [`CliError`].
pub async fn run(
    cli: Cli,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    let ctx = Context {
        config_path: cli.config,
    };
    match cli.command {
        Command::Message(message::MessageCommand::Send(args)) => {
            message::send(&ctx, &args, out, err).await
        }
        Command::Doctor(args) => doctor::run(&ctx, &args, out).await,
        Command::Accounts(accounts::AccountsCommand::List(args)) => {
            accounts::list(&ctx, &args, out)
        }
        Command::Gateway(args) => gateway::run(&ctx, &args, out, err).await,
        Command::Channels(channels::ChannelsCommand::Add(args)) => {
            channels::add(&ctx, &args, out).await
        }
    }
}
