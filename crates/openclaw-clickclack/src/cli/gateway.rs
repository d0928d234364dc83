//! `gateway`: placeholder until the gateway lands (it replaces this module).

use std::io::Write;

use clap::Args;

use super::{CliError, Context, Outcome};

/// Arguments of `gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Run only this account (default: every enabled account).
    #[arg(long)]
    pub account: Option<String>,
}

/// Runs the gateway.
///
/// # Errors
/// [`CliError::NotAvailable`] for now.
pub async fn run(
    _ctx: &Context,
    _args: &GatewayArgs,
    _out: &mut (dyn Write + Send),
    _err: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    Err(CliError::NotAvailable("gateway"))
}
