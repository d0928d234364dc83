//! `openclaw-clickclack`: the OpenClaw ClickClack channel CLI.
//!
//! Thin: parse the command line, install the log subscriber for that command
//! (see [`openclaw_clickclack::cli::logging`]: `gateway` logs at `info` in
//! its `--log-format`, other commands at `warn`; `RUST_LOG` always wins),
//! run it on a multi-threaded runtime, print errors (with their fix) to
//! stderr and map them to exit codes (0 ok, 1 failure, 2 usage).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use openclaw_clickclack::cli::logging::LogSettings;
use openclaw_clickclack::cli::{self, Cli, Outcome};
use openclaw_clickclack::diagnose::escape_control;

fn main() -> ExitCode {
    let cli = Cli::parse();
    LogSettings::for_cli(&cli).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let result = runtime.block_on(cli::run(cli, &mut out, &mut err));
    let _ = out.flush();
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(e) => {
            // Error text can carry server text: print it as data.
            let _ = writeln!(err, "error: {}", escape_control(&e.to_string()));
            if let Some(hint) = e.hint() {
                let _ = writeln!(err, "hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
