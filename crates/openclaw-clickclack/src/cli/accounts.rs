//! `accounts list`.

use std::io::Write;

use clap::{Args, Subcommand};

use super::{CliError, Context, Outcome};
use crate::channel::ClickClackChannel;

/// `accounts …` subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum AccountsCommand {
    /// List the resolved accounts (tokens are shown as source and status only).
    List(ListArgs),
}

/// Arguments of `accounts list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {}

/// Runs `accounts list`: one line per account,
/// `<id>[ (default)]  enabled|disabled  configured|missing config
/// baseUrl=…  workspace=…  defaultTo=…  token=<source> (<status>)`, then any
/// credential diagnostics indented. Never prints a token.
///
/// # Errors
/// Config errors.
pub fn list(
    ctx: &Context,
    _args: &ListArgs,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    let loaded = ctx.load_config()?;
    let has_section = loaded.config.clickclack.is_some();
    let channel = ClickClackChannel::from_config(loaded.config)?;
    if !has_section {
        writeln!(
            out,
            "no channels.clickclack section in {}",
            loaded.path.display()
        )?;
    }
    for account in channel.accounts() {
        let marker = if account.account_id == channel.default_account_id() {
            " (default)"
        } else {
            ""
        };
        writeln!(
            out,
            "{}{marker}  {}  {}  baseUrl={}  workspace={}  defaultTo={}  token={} ({})",
            account.account_id,
            if account.enabled {
                "enabled"
            } else {
                "disabled"
            },
            if account.configured {
                "configured"
            } else {
                "missing config"
            },
            or_dash(&crate::diagnose::redact_url(&account.api_endpoint)),
            or_dash(&account.workspace),
            account.default_to,
            account.token_source.as_str(),
            account.token_status.as_str(),
        )?;
        for diagnostic in &account.credential_diagnostics {
            writeln!(out, "    {diagnostic}")?;
        }
    }
    Ok(Outcome::Success)
}

fn or_dash(value: &str) -> &str {
    if value.is_empty() { "-" } else { value }
}
