//! Log setup for the binary: one global `tracing` subscriber, installed once
//! in `main` before the runtime starts, chosen per command.
//!
//! * `gateway`: default level `info`, format from `--log-format` (`text` or
//!   `json`);
//! * every other command: default level `warn`, text.
//!
//! `RUST_LOG`, when set and valid, always replaces the default level. Logs
//! go to stderr, with ANSI colours only when stderr is a terminal; stdout is kept for command output (ids, status lines).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::gateway::LogFormat;
use super::{Cli, Command};

/// How a command logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// The filter used when `RUST_LOG` is unset or invalid.
    pub default_level: &'static str,
    /// Text or JSON lines.
    pub format: LogFormat,
}

impl LogSettings {
    /// The settings for a parsed command line.
    #[must_use]
    pub fn for_cli(cli: &Cli) -> Self {
        match &cli.command {
            Command::Gateway(args) => LogSettings {
                default_level: "info",
                format: args.log_format,
            },
            _ => LogSettings {
                default_level: "warn",
                format: LogFormat::Text,
            },
        }
    }

    /// The filter: `rust_log` (the `RUST_LOG` value) when it parses, else
    /// [`LogSettings::default_level`].
    #[must_use]
    pub fn filter(&self, rust_log: Option<&str>) -> EnvFilter {
        rust_log
            .filter(|v| !v.trim().is_empty())
            .and_then(|v| EnvFilter::try_new(v).ok())
            .unwrap_or_else(|| EnvFilter::new(self.default_level))
    }

    /// Installs the global subscriber (stderr). A second call is a no-op.
    pub fn init(&self) {
        let rust_log = std::env::var(EnvFilter::DEFAULT_ENV).ok();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(self.filter(rust_log.as_deref()))
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr);
        let _ = match self.format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Text => builder.try_init(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn settings(args: &[&str]) -> LogSettings {
        let cli = Cli::try_parse_from(args.iter().copied()).expect("parses");
        LogSettings::for_cli(&cli)
    }

    #[test]
    fn per_command_defaults() {
        let gateway = settings(&["openclaw-clickclack", "gateway", "--log-format", "json"]);
        assert_eq!(gateway.default_level, "info");
        assert_eq!(gateway.format, LogFormat::Json);
        let gateway = settings(&["openclaw-clickclack", "gateway"]);
        assert_eq!(gateway.format, LogFormat::Text);
        let doctor = settings(&["openclaw-clickclack", "doctor"]);
        assert_eq!(doctor.default_level, "warn");
        assert_eq!(doctor.format, LogFormat::Text);
        let send = settings(&[
            "openclaw-clickclack",
            "message",
            "send",
            "--target",
            "channel:general",
            "--message",
            "hi",
        ]);
        assert_eq!(send.default_level, "warn");
    }

    #[test]
    fn rust_log_wins_when_valid() {
        let s = settings(&["openclaw-clickclack", "doctor"]);
        assert_eq!(s.filter(None).to_string(), "warn");
        assert_eq!(s.filter(Some("  ")).to_string(), "warn");
        assert_eq!(s.filter(Some("debug")).to_string(), "debug");
        assert_eq!(
            s.filter(Some("openclaw_clickclack=trace")).to_string(),
            "openclaw_clickclack=trace"
        );
        let g = settings(&["openclaw-clickclack", "gateway"]);
        assert_eq!(g.filter(None).to_string(), "info");
        assert_eq!(g.filter(Some("off")).to_string(), "off");
    }
}
