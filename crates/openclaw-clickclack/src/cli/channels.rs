//! `channels add clickclack`: write a working ClickClack account into the
//! config file, from flags or a bot setup code, then check it live.
//!
//! ```text
//! openclaw-clickclack channels add clickclack --code https://chat.example.com/#ABCD-EFGH-JKMN
//! openclaw-clickclack channels add clickclack --base-url URL --workspace NAME --token ccb_…
//! openclaw-clickclack channels add clickclack --use-env [--base-url URL --workspace NAME]
//! ```
//!
//! The file is edited in place (see [`crate::setup`]): comments and every
//! key the command does not own are kept. The token goes to a token file
//! with mode 0600, never into the config. A failed live check keeps what was
//! saved and says how to fix it (exit code 1).

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use clickclack_client::ErrorKind;

use super::{CliError, Context, Outcome};
use crate::accounts::resolve_account;
use crate::channel::{ChannelOptions, build_client};
use crate::config::{ProcessEnv, resolve_config_path};
use crate::errors::setup;
use crate::json5_tree::Json5Edit;
use crate::outbound::SendError;
use crate::setup::{AccountWrite, AddRequest, TokenPlan, apply, code, normalize_base_url};

/// `channels …` subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum ChannelsCommand {
    /// Add (or update) a ClickClack account in the config file.
    Add(AddArgs),
}

/// Arguments of `channels add`.
#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// The channel to add (only `clickclack`).
    #[arg(value_name = "CHANNEL")]
    pub channel: String,
    /// A bot setup code: `https://host/#CODE`, the claim URL with `#CODE`,
    /// or a bare code with --base-url. Claims a fresh bot token.
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
    /// The bot token (`ccb_…`); saved to a token file (mode 0600), not the config.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Where the token file lives (default: credentials/clickclack-ACCOUNT.token
    /// next to the config). With --token it is written; alone it must hold the token.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// The ClickClack server URL (http or https).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// The workspace id, slug, or name.
    #[arg(long, value_name = "WORKSPACE")]
    pub workspace: Option<String>,
    /// Where `message send` goes without --target, e.g. channel:general.
    #[arg(long, value_name = "TARGET")]
    pub default_to: Option<String>,
    /// Who may talk to the bot (user ids; repeatable or comma-separated).
    #[arg(long, value_name = "USER", value_delimiter = ',')]
    pub allow_from: Vec<String>,
    /// Post durable agent activity rows (needs the agent_activity:write scope).
    #[arg(long)]
    pub agent_activity: bool,
    /// Read the token from CLICKCLACK_BOT_TOKEN (default account only).
    #[arg(long)]
    pub use_env: bool,
    /// The account to write (default: `default`).
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
}

impl AddArgs {
    fn request(&self) -> AddRequest {
        AddRequest {
            account: self.account.clone(),
            code: self.code.clone(),
            token: self.token.clone(),
            token_file: self.token_file.clone(),
            base_url: self.base_url.clone(),
            workspace: self.workspace.clone(),
            default_to: self.default_to.clone(),
            allow_from: self
                .allow_from
                .iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            agent_activity: self.agent_activity,
            use_env: self.use_env,
        }
    }
}

/// The `tls.caFile` the account being added will use (its own, else the
/// root's), with the key path that names it: the claim trusts the same CA
/// as every other client of that account.
fn claim_ca_file(edit: &Json5Edit, account_id: &str) -> Option<(std::path::PathBuf, String)> {
    let own = (account_id != crate::accounts::DEFAULT_ACCOUNT_ID).then(|| {
        (
            vec![
                "channels",
                "clickclack",
                "accounts",
                account_id,
                "tls",
                "caFile",
            ],
            format!("channels.clickclack.accounts.{account_id}.tls.caFile"),
        )
    });
    let root = (
        vec!["channels", "clickclack", "tls", "caFile"],
        "channels.clickclack.tls.caFile".to_owned(),
    );
    own.into_iter().chain([root]).find_map(|(path, key)| {
        let value = edit.get(&path)?;
        let file = value.as_str()?.trim();
        (!file.is_empty()).then(|| (std::path::PathBuf::from(file), key))
    })
}

/// Runs `channels add`.
///
/// # Errors
/// [`CliError::Usage`] for flag problems (exit 2), [`CliError::Setup`] for
/// a failed claim or write (exit 1, nothing written).
pub async fn add(
    ctx: &Context,
    args: &AddArgs,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    if !args.channel.trim().eq_ignore_ascii_case("clickclack") {
        return Err(CliError::Usage(format!(
            "Unsupported channel \"{}\": this tool only sets up clickclack",
            args.channel.trim()
        )));
    }
    let request = args.request();
    let path = resolve_config_path(ctx.config_path.as_deref(), &ProcessEnv)?;
    let original = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(CliError::Setup(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut edit = Json5Edit::new(original.as_deref().unwrap_or_default()).map_err(|e| {
        CliError::Setup(format!(
            "{}: {e}; fix the file first (it was not changed)",
            path.display()
        ))
    })?;
    request.validate(Some(&edit)).map_err(CliError::Usage)?;
    let account_id = request.account_id();
    let base_url = request
        .base_url
        .as_deref()
        .map(normalize_base_url)
        .transpose()
        .map_err(CliError::Usage)?;

    // 1. What to write.
    let mut write = AccountWrite {
        account_id: account_id.clone(),
        base_url,
        workspace: request.workspace.clone(),
        use_env: request.use_env,
        default_to: request.default_to.clone(),
        allow_from: (!request.allow_from.is_empty()).then(|| request.allow_from.clone()),
        agent_activity: request.agent_activity.then_some(true),
        ..AccountWrite::default()
    };
    let mut new_token = request.token.clone();
    let mut connected_as = None;
    if let Some(raw) = &request.code {
        let parsed =
            code::SetupCode::parse(raw, write.base_url.as_deref()).map_err(CliError::Usage)?;
        let ca_file = claim_ca_file(&edit, &account_id);
        let claimed = code::claim_trusting(
            &parsed,
            ca_file.as_ref().map(|(f, k)| (f.as_path(), k.as_str())),
        )
        .await
        .map_err(CliError::Setup)?;
        write.base_url = Some(
            claimed
                .api_base_url
                .as_deref()
                .and_then(|u| normalize_base_url(u).ok())
                .unwrap_or(parsed.base_url.clone()),
        );
        write.workspace = Some(claimed.workspace.id.as_str().to_owned());
        // Flags win over the owner's defaults.
        write.default_to = write.default_to.or(claimed.defaults.default_to.clone());
        write.allow_from = write.allow_from.or_else(|| {
            (!claimed.defaults.allow_from.is_empty()).then(|| claimed.defaults.allow_from.clone())
        });
        write.agent_activity = write.agent_activity.or(claimed.defaults.agent_activity);
        connected_as = Some(claimed.bot.handle.clone());
        new_token = Some(claimed.token.clone());
    }
    let plan = request.token_plan(&path, new_token.is_some());
    if let TokenPlan::File {
        path: file,
        write: write_it,
    } = &plan
    {
        if *write_it && let Some(token) = &new_token {
            crate::setup::write_token_file(file, token).map_err(CliError::Setup)?;
        }
        write.token_file = Some(file.clone());
    }

    // 2. Edit and save the config.
    apply(&mut edit, &write).map_err(CliError::Setup)?;
    crate::setup::write_config(&path, edit.text()).map_err(CliError::Setup)?;
    let section = if account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
        "channels.clickclack".to_owned()
    } else {
        format!("channels.clickclack.accounts.{account_id}")
    };
    writeln!(
        out,
        "Saved {section} to {}{}",
        path.display(),
        if original.is_some() {
            " (comments and other keys kept)"
        } else {
            " (new file)"
        }
    )?;
    if let Some(handle) = &connected_as {
        writeln!(out, "Claimed the setup code: bot @{handle}")?;
    }
    match &plan {
        TokenPlan::File {
            path: file,
            write: true,
        } => {
            writeln!(out, "Token saved to {} (mode 600)", file.display())?;
        }
        TokenPlan::File {
            path: file,
            write: false,
        } => {
            writeln!(out, "Token read from {}", file.display())?;
        }
        TokenPlan::Env => {}
    }

    // 3. Live check, from the file just written.
    let verified = verify(ctx, &account_id, request.use_env, out).await?;
    writeln!(
        out,
        "Start the gateway to connect: openclaw-clickclack gateway (check everything with: openclaw-clickclack doctor)"
    )?;
    Ok(if verified {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// Reloads the saved config and checks the token and workspace (reference
/// row 50 messages). Returns whether the check passed (or was skipped).
async fn verify(
    ctx: &Context,
    account_id: &str,
    use_env: bool,
    out: &mut (dyn Write + Send),
) -> Result<bool, CliError> {
    if use_env && std::env::var(crate::secrets::BOT_TOKEN_ENV).is_err() {
        writeln!(out, "{}", setup::ENV_TOKEN_SKIPPED)?;
        return Ok(true);
    }
    let loaded = ctx.load_config()?;
    let account = match resolve_account(&loaded.config, Some(account_id), &ProcessEnv) {
        Ok(account) => account,
        Err(e) => {
            writeln!(out, "{}", setup::connection_failed(&e.to_string()))?;
            return Ok(false);
        }
    };
    let client = match build_client(&account, &ChannelOptions::default()) {
        Ok(client) => client,
        Err(e) => {
            writeln!(out, "{}", setup::connection_failed(&e.to_string()))?;
            return Ok(false);
        }
    };
    let me = match client.me().await {
        Ok(me) => me,
        Err(e) if e.kind() == &ErrorKind::Unauthorized => {
            writeln!(
                out,
                "{} Run this command again with a current --token or a new --code.",
                setup::TOKEN_REJECTED
            )?;
            return Ok(false);
        }
        Err(e) => {
            let why = crate::diagnose::escape_control(&SendError::from_client(e).to_string());
            writeln!(out, "{}", setup::connection_failed(&why))?;
            return Ok(false);
        }
    };
    let wanted = account.workspace.trim();
    match client.list_workspaces().await {
        Ok(all) => match all
            .into_iter()
            .find(|w| w.id.as_str() == wanted || w.slug == wanted || w.name == wanted)
        {
            Some(workspace) => {
                writeln!(
                    out,
                    "{}",
                    crate::diagnose::escape_control(&setup::connected(&me.handle, &workspace.name))
                )?;
                Ok(true)
            }
            None => {
                writeln!(out, "{}", setup::workspace_not_found(wanted))?;
                Ok(false)
            }
        },
        Err(e) => {
            let why = crate::diagnose::escape_control(&SendError::from_client(e).to_string());
            writeln!(out, "{}", setup::connection_failed(&why))?;
            Ok(false)
        }
    }
}
