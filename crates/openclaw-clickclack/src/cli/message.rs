//! `message send`.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use clickclack_target_parser::Target;

use super::{CliError, Context, Outcome};
use crate::channel::ClickClackChannel;
use crate::outbound::{MediaAttachment, OutboundMessage, SendError};

/// The only `--channel` this tool sends to.
pub const CHANNEL_NAME: &str = "clickclack";

/// `message …` subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum MessageCommand {
    /// Send a message and print the created message id(s), one per line.
    Send(SendArgs),
}

/// Arguments of `message send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// The channel plugin (only `clickclack`).
    #[arg(long, default_value = CHANNEL_NAME)]
    pub channel: String,
    /// `channel:<name|id>`, `dm:<user_id>`, `thread:<message_id>` or a bare
    /// channel name. Default: the account's `defaultTo`.
    #[arg(long, short = 't')]
    pub target: Option<String>,
    /// The message (markdown).
    #[arg(long, short = 'm')]
    pub message: Option<String>,
    /// The account (default: `defaultAccount`, else `default`).
    #[arg(long)]
    pub account: Option<String>,
    /// A file to attach (repeatable).
    #[arg(long, value_name = "PATH")]
    pub media: Vec<PathBuf>,
    /// Quote-reply to this message id.
    #[arg(long, value_name = "MSG")]
    pub reply_to: Option<String>,
    /// Reply inside the thread rooted at this message id.
    #[arg(long, value_name = "MSG")]
    pub thread_id: Option<String>,
}

/// Runs `message send`.
///
/// # Errors
/// [`CliError`]: unsupported `--channel`, nothing to send, config and send
/// errors.
pub async fn send(
    ctx: &Context,
    args: &SendArgs,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    let channel_name = args.channel.trim();
    if !channel_name.eq_ignore_ascii_case(CHANNEL_NAME) {
        return Err(SendError::UnsupportedChannel(channel_name.to_owned()).into());
    }
    if args.message.is_none() && args.media.is_empty() {
        return Err(CliError::Usage(
            "nothing to send: pass --message TEXT and/or --media PATH".to_owned(),
        ));
    }
    let loaded = ctx.load_config()?;
    let channel = ClickClackChannel::from_config(loaded.config)?;
    let account = channel.account(args.account.as_deref())?;
    let target = args
        .target
        .clone()
        .unwrap_or_else(|| account.default_to.clone());
    let account_id = account.account_id.clone();

    let mut message = OutboundMessage::text(args.message.clone().unwrap_or_default());
    for path in &args.media {
        message = message.with_media(MediaAttachment::path(path));
    }
    if let Some(id) = &args.reply_to {
        message = message.reply_to(id.trim());
    }
    if let Some(id) = &args.thread_id {
        message = message.in_thread(id.trim());
    }
    let ids = match channel.send(Some(&account_id), &target, message).await {
        Ok(ids) => ids,
        Err(e) => return Err(unknown_id(&target, e).into()),
    };
    if ids.is_empty() {
        writeln!(
            err,
            "nothing to send after removing internal tool scaffolding; no message was created"
        )?;
    }
    for id in &ids {
        writeln!(out, "{id}")?;
    }
    Ok(Outcome::Success)
}

/// An unknown `dm:`/`thread:` id reads `ClickClack user not found: <id>` /
/// `ClickClack message not found: <id>`, never the server's own text.
fn unknown_id(target: &str, error: SendError) -> SendError {
    let mapped = match (Target::parse(target), error.client_error()) {
        (Ok(target), Some(client_error)) => {
            crate::diagnose::not_found_for_target(&target, client_error)
        }
        _ => None,
    };
    mapped.map_or(error, SendError::from)
}
