//! `doctor`: ordered checks, each printed as `✓`/`✗` (with the fix from the
//! docs' troubleshooting list under every `✗`); exit code 1 on any `✗`.
//!
//! 1. config parse;
//! 2. account configured (a usable token), then how replies are produced:
//!    the gateway's own start checks ([`crate::preflight`]), so a model
//!    without an API key fails here exactly as `gateway` would refuse it;
//! 3. token accepted (`GET /api/me`: `@handle`, kind, owner);
//! 4. workspace resolved;
//! 5. scopes, probed without side effects: `GET /api/messages/by-nonce` and
//!    `GET /api/uploads/by-nonce` with a random nonce (`bot:write`),
//!    `GET /api/workspaces/{id}/channels` and `GET /api/realtime/events`
//!    (`bot:read`);
//! 6. `defaultTo` resolvable (a `dm:` target is only checked for syntax:
//!    opening a DM would be a side effect);
//! 7. realtime reachable: a socket is opened at the server tail and closed;
//! 8. only for an account with `replyMode: "agent"` (the default): the
//!    OpenClaw Gateway is reachable and accepts the credential (`GET
//!    /v1/models`, no agent turn is run; URL from `OPENCLAW_GATEWAY_URL` or
//!    `gateway.port`, bearer from `gateway.auth.token` or
//!    `OPENCLAW_GATEWAY_TOKEN`, see [`crate::gateway::gateway_host_config`]).
//!
//! A check whose prerequisite failed is printed as skipped.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use clickclack_client::{Client, ErrorKind};
use clickclack_proto::{MessageId, WorkspaceId};
use clickclack_realtime::{RealtimeItem, RealtimeStream};
use clickclack_target_parser::Target;

use super::{CliError, Context, Outcome};
use crate::accounts::ResolvedAccount;
use crate::agent_host::{GatewayProbe, OpenClawGatewayHost};
use crate::channel::{ChannelOptions, ClickClackChannel, build_client};
use crate::config::{ConfigError, OpenClawConfig, ProcessEnv, ReplyMode};
use crate::diagnose::{escape_control, redact_url};
use crate::errors::{ClickClackError, setup};
use crate::llm::HttpOptions;
use crate::outbound::SendError;
use crate::resolve::{resolve_channel, resolve_workspace};

/// ` --account <id>` for named accounts (empty for the default one).
fn account_flag(account_id: &str) -> String {
    if account_id == crate::accounts::DEFAULT_ACCOUNT_ID {
        String::new()
    } else {
        format!(" --account {account_id}")
    }
}

/// How long the realtime check waits for the socket to open.
pub const REALTIME_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Arguments of `doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The account to check (default: `defaultAccount`, else `default`).
    #[arg(long)]
    pub account: Option<String>,
}

/// Prints check results and remembers failures.
struct Report<'a> {
    out: &'a mut (dyn Write + Send),
    failed: bool,
}

impl Report<'_> {
    fn ok(&mut self, what: &str, detail: impl AsRef<str>) -> std::io::Result<()> {
        writeln!(self.out, "✓ {what}: {}", escape_control(detail.as_ref()))
    }

    fn fail(
        &mut self,
        what: &str,
        detail: impl AsRef<str>,
        fix: Option<String>,
    ) -> std::io::Result<()> {
        self.failed = true;
        // Details can carry server text: print it as data.
        writeln!(self.out, "✗ {what}: {}", escape_control(detail.as_ref()))?;
        if let Some(fix) = fix {
            writeln!(self.out, "  fix: {fix}")?;
        }
        Ok(())
    }

    fn replies(
        &mut self,
        result: Result<String, crate::preflight::StartProblem>,
    ) -> std::io::Result<()> {
        match result {
            Ok(what) => self.ok(REPLIES, what),
            Err(problem) => self.fail(REPLIES, problem.message, problem.fix),
        }
    }

    fn skip(&mut self, what: &str, why: &str) -> std::io::Result<()> {
        writeln!(self.out, "- {what}: skipped ({why})")
    }

    fn skip_rest(&mut self, rest: &[&str], why: &str) -> std::io::Result<()> {
        for what in rest {
            self.skip(what, why)?;
        }
        Ok(())
    }
}

const CONFIG: &str = "config parsed";
const ACCOUNT: &str = "account configured";
const REPLIES: &str = "replies";
const TOKEN: &str = "token accepted";
const WORKSPACE: &str = "workspace resolved";
const SCOPES: &str = "scopes";
const DEFAULT_TO: &str = "defaultTo resolvable";
const REALTIME: &str = "realtime reachable";
const AGENT_GATEWAY: &str = "OpenClaw Gateway reachable";

/// How long the OpenClaw Gateway check waits for an answer.
pub const GATEWAY_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the checks.
///
/// # Errors
/// Only output failures: every check failure is reported as `✗` and makes
/// the outcome [`Outcome::Failure`].
pub async fn run(
    ctx: &Context,
    args: &DoctorArgs,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, CliError> {
    let mut report = Report { out, failed: false };
    let mut agent = None;
    checks(ctx, args, &mut report, &mut agent).await?;
    if let Some((config, agent_id)) = agent {
        agent_gateway(&config, &agent_id, &mut report).await?;
    }
    Ok(if report.failed {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// Runs checks 1–7; sets `agent` (config and agent id) once an agent-mode
/// account is resolved, so check 8 runs even when a ClickClack check failed.
async fn checks(
    ctx: &Context,
    args: &DoctorArgs,
    report: &mut Report<'_>,
    agent: &mut Option<(OpenClawConfig, String)>,
) -> std::io::Result<()> {
    // 1. config parse
    let loaded = match ctx.load_config() {
        Ok(loaded) => loaded,
        Err(e) => {
            let fix = match &e {
                ConfigError::NotFound { .. } => {
                    "pass --config PATH or set OPENCLAW_CONFIG_PATH to your OpenClaw config file"
                }
                _ => "fix the file (JSON5; unknown keys under channels.clickclack are rejected)",
            };
            report.fail(CONFIG, e.to_string(), Some(fix.to_owned()))?;
            return report.skip_rest(
                &[ACCOUNT, TOKEN, WORKSPACE, SCOPES, DEFAULT_TO, REALTIME],
                "no config",
            );
        }
    };
    report.ok(CONFIG, loaded.path.display().to_string())?;
    for (path, why) in crate::preflight::unimplemented_keys_in(&loaded.path) {
        writeln!(
            report.out,
            "  note: {path} is accepted but has no effect here: {why}"
        )?;
    }

    // 2. account configured
    let config = loaded.config.clone();
    let loaded_config = loaded.config.clone();
    let channel = match ClickClackChannel::from_config(loaded.config) {
        Ok(channel) => channel,
        Err(e) => {
            report.fail(ACCOUNT, e.to_string(), e.hint())?;
            return report.skip_rest(
                &[TOKEN, WORKSPACE, SCOPES, DEFAULT_TO, REALTIME],
                "no account",
            );
        }
    };
    let account = match channel.account(args.account.as_deref()) {
        Ok(account) => account.clone(),
        Err(e) => {
            report.fail(ACCOUNT, e.to_string(), e.hint())?;
            return report.skip_rest(
                &[TOKEN, WORKSPACE, SCOPES, DEFAULT_TO, REALTIME],
                "no account",
            );
        }
    };
    // 2b. replies: the engine the gateway builds, with the gateway's start
    // checks; printed right after the account line.
    let replies = crate::preflight::engine(&account, &config, &ProcessEnv);
    if account.reply_mode == ReplyMode::Agent {
        let agent_id = crate::gateway::engine::resolve_agent_id(&account, &config);
        *agent = Some((config, agent_id));
    }
    // The same check `message send` and `gateway` make, with the same words.
    let shared = crate::accounts::resolve_all_accounts(&loaded_config, &ProcessEnv)
        .map_err(ClickClackError::from)
        .and_then(|all| crate::accounts::refuse_shared_tokens(&loaded_config, &all));
    if let Err(e) = crate::diagnose::require_usable(&account, &ProcessEnv).and(shared) {
        report.fail(ACCOUNT, e.to_string(), e.hint())?;
        report.replies(replies)?;
        return report.skip_rest(
            &[TOKEN, WORKSPACE, SCOPES, DEFAULT_TO, REALTIME],
            "no usable token",
        );
    }
    report.ok(
        ACCOUNT,
        format!(
            "account \"{}\" → {} (workspace {}, token from {})",
            account.account_id,
            redact_url(&account.api_endpoint),
            account.workspace,
            account.token_source.as_str()
        ),
    )?;
    report.replies(replies)?;

    let client = match build_client(&account, &ChannelOptions::default()) {
        Ok(client) => client,
        Err(e) => {
            report.fail(
                ACCOUNT,
                e.to_string(),
                Some(setup::INVALID_BASE_URL.to_owned()),
            )?;
            return report.skip_rest(
                &[TOKEN, WORKSPACE, SCOPES, DEFAULT_TO, REALTIME],
                "no client",
            );
        }
    };

    // 3. token accepted
    match client.me().await {
        Ok(me) => {
            let owner = match (&me.owner_user_id, me.is_bot()) {
                (Some(owner), _) => format!("owner {owner}"),
                (None, true) => "service bot (no owner)".to_owned(),
                (None, false) => "no owner".to_owned(),
            };
            report.ok(
                TOKEN,
                format!(
                    "@{} ({}, {owner}, id {})",
                    me.handle,
                    me.kind.as_str(),
                    me.id
                ),
            )?;
            if !me.is_bot() {
                writeln!(
                    report.out,
                    "  note: this token belongs to a human user; ClickClack bots use ccb_ bot tokens"
                )?;
            }
        }
        Err(e) => {
            let unauthorized = e.kind() == &ErrorKind::Unauthorized;
            let fix = if unauthorized {
                format!(
                    "{} Run: {}{} --token ccb_… (or export the variable the token comes from)",
                    setup::TOKEN_REJECTED,
                    crate::diagnose::SETUP_COMMAND,
                    account_flag(&account.account_id)
                )
            } else {
                format!(
                    "check baseUrl/apiBaseUrl ({}) and that the server is reachable",
                    redact_url(&account.api_endpoint)
                )
            };
            let detail = SendError::from_client(e).to_string();
            report.fail(TOKEN, detail, Some(fix))?;
            return report.skip_rest(
                &[WORKSPACE, SCOPES, DEFAULT_TO, REALTIME],
                "token not accepted",
            );
        }
    }

    // 4. workspace resolved
    let workspace = match resolve_workspace(&client, &account.workspace).await {
        Ok(id) => {
            report.ok(WORKSPACE, format!("{} → {id}", account.workspace))?;
            id
        }
        Err(e) => {
            let fix = match &e {
                SendError::ClickClack(ClickClackError::WorkspaceNotFound { value }) => {
                    format!(
                        "{} To change it: {}{} --workspace <id|slug|name>",
                        setup::workspace_not_found(value),
                        crate::diagnose::SETUP_COMMAND,
                        account_flag(&account.account_id)
                    )
                }
                other => other.hint().unwrap_or_else(|| {
                    "set `workspace` to the workspace id, slug, or name".to_owned()
                }),
            };
            report.fail(WORKSPACE, e.to_string(), Some(fix))?;
            return report.skip_rest(&[SCOPES, DEFAULT_TO, REALTIME], "no workspace");
        }
    };

    // 5. scopes
    scopes(&client, &workspace, report).await?;

    // 6. defaultTo
    default_to(&client, &workspace, &account, report).await?;

    // 7. realtime
    realtime(&client, &workspace, report).await
}

/// One side-effect-free probe: `Some(true)` granted, `Some(false)` missing
/// scope, `None` undecided (other failure; the error text is returned).
fn probe_result<T>(result: Result<T, clickclack_client::Error>) -> (Option<bool>, Option<String>) {
    match result {
        Ok(_) => (Some(true), None),
        Err(e) => match e.kind() {
            ErrorKind::MissingScope { .. } | ErrorKind::Forbidden => {
                (Some(false), Some(e.to_string()))
            }
            ErrorKind::Unsupported => (None, Some("the server has no nonce lookup".to_owned())),
            _ => (None, Some(SendError::from_client(e).to_string())),
        },
    }
}

async fn scopes(
    client: &Client,
    workspace: &WorkspaceId,
    report: &mut Report<'_>,
) -> std::io::Result<()> {
    let nonce = format!("openclaw-doctor-probe:{:016x}", fastrand::u64(..));
    let probes = [
        (
            "channels:read",
            "bot:read",
            probe_result(client.list_channels(workspace).await),
        ),
        (
            "realtime:read",
            "bot:read",
            probe_result(client.events_page(workspace, None, Some(1), true).await),
        ),
        (
            "messages:write",
            "bot:write",
            probe_result(client.message_by_nonce(workspace, &nonce).await),
        ),
        (
            "uploads:write",
            "bot:write",
            probe_result(client.upload_by_nonce(workspace, &nonce).await),
        ),
    ];
    let mut summary = Vec::new();
    let mut missing = Vec::new();
    let mut undecided = Vec::new();
    for bundle in ["bot:read", "bot:write"] {
        let of_bundle: Vec<_> = probes.iter().filter(|p| p.1 == bundle).collect();
        let names: Vec<&str> = of_bundle.iter().map(|p| p.0).collect();
        let all_granted = of_bundle.iter().all(|p| p.2.0 == Some(true));
        let any_missing = of_bundle.iter().any(|p| p.2.0 == Some(false));
        let mark = if all_granted {
            "✓"
        } else if any_missing {
            "✗"
        } else {
            "?"
        };
        summary.push(format!("{bundle} {mark} ({})", names.join(", ")));
        for probe in of_bundle {
            match probe.2 {
                (Some(false), _) => missing.push(probe.0),
                (None, Some(ref why)) => undecided.push(format!("{}: {why}", probe.0)),
                _ => {}
            }
        }
    }
    let detail = summary.join(", ");
    if missing.is_empty() && undecided.is_empty() {
        report.ok(SCOPES, detail)
    } else if missing.is_empty() {
        report.fail(
            SCOPES,
            format!("{detail}; could not check {}", undecided.join("; ")),
            Some("check that the server is a current ClickClack and reachable".to_owned()),
        )
    } else {
        report.fail(
            SCOPES,
            format!("{detail}; missing {}", missing.join(", ")),
            Some(format!(
                "the token needs {}: mint a new bot token with the bot:write scope bundle (clickclack admin bot create … --scopes bot:write)",
                crate::errors::REQUIRED_SEND_SCOPE
            )),
        )
    }
}

async fn default_to(
    client: &Client,
    workspace: &WorkspaceId,
    account: &ResolvedAccount,
    report: &mut Report<'_>,
) -> std::io::Result<()> {
    let target = match Target::parse(&account.default_to) {
        Ok(target) => target,
        Err(e) => {
            let e = ClickClackError::from(e);
            return report.fail(DEFAULT_TO, e.to_string(), e.hint());
        }
    };
    match &target {
        Target::Channel(name) => {
            match resolve_channel(client, workspace, name).await {
                Ok(id) => report.ok(DEFAULT_TO, format!("{target} → {id}")),
                Err(e) => {
                    let fix = e.hint().or_else(|| {
                    Some("set defaultTo to channel:<name|chn_id>, dm:<usr_id> or thread:<msg_id>".to_owned())
                });
                    report.fail(DEFAULT_TO, e.to_string(), fix)
                }
            }
        }
        Target::Dm(user) => report.ok(
            DEFAULT_TO,
            format!(
                "{target} (not opened now: the first send creates or reuses the DM with {user})"
            ),
        ),
        Target::Thread(root) => match client.get_message(&MessageId::new(root.as_str())).await {
            Ok(message) => report.ok(DEFAULT_TO, format!("{target} → thread of {}", message.id)),
            Err(e) => report.fail(
                DEFAULT_TO,
                SendError::from_client(e).to_string(),
                Some("set defaultTo to thread:<id of an existing root message>".to_owned()),
            ),
        },
        other => report.fail(
            DEFAULT_TO,
            format!("Unsupported ClickClack target: {other}"),
            Some(
                "set defaultTo to channel:<name|chn_id>, dm:<usr_id> or thread:<msg_id>".to_owned(),
            ),
        ),
    }
}

async fn realtime(
    client: &Client,
    workspace: &WorkspaceId,
    report: &mut Report<'_>,
) -> std::io::Result<()> {
    let attempt = tokio::time::timeout(REALTIME_CHECK_TIMEOUT, async {
        let mut stream = RealtimeStream::builder(client.clone(), workspace.clone())
            .start()
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match stream.next_event().await {
                Some(Ok(RealtimeItem::Connected { after_cursor, .. })) => {
                    drop(stream);
                    return Ok(after_cursor);
                }
                Some(Ok(RealtimeItem::Reconnecting { cause, .. })) => {
                    return Err(format!("could not connect: {cause}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the stream ended before connecting".to_owned()),
            }
        }
    })
    .await;
    match attempt {
        Ok(Ok(cursor)) => report.ok(REALTIME, format!("WebSocket opened after {cursor} and closed")),
        Ok(Err(why)) => report.fail(
            REALTIME,
            why,
            Some("check that the server (or proxy) allows WebSocket upgrades on /api/realtime/ws and that the token has realtime:read".to_owned()),
        ),
        Err(_) => report.fail(
            REALTIME,
            format!("no connection within {} s", REALTIME_CHECK_TIMEOUT.as_secs()),
            Some("check that the server (or proxy) allows WebSocket upgrades on /api/realtime/ws".to_owned()),
        ),
    }
}

/// Check 8 (agent mode): the OpenClaw Gateway answers and accepts the credential.
async fn agent_gateway(
    config: &OpenClawConfig,
    agent_id: &str,
    report: &mut Report<'_>,
) -> std::io::Result<()> {
    const UNREACHABLE_FIX: &str = "start the OpenClaw Gateway (`openclaw gateway`) with its OpenAI-compatible endpoint enabled, or point to it with gateway.port (loopback) or OPENCLAW_GATEWAY_URL; or set replyMode: \"model\" to answer with a model directly";
    let host_config = match crate::gateway::gateway_host_config(config, &ProcessEnv) {
        Ok(host_config) => host_config,
        Err(e) => {
            return report.fail(
                AGENT_GATEWAY,
                e.to_string(),
                Some("fix gateway.auth.token (a string, ${VAR}, or an env secret ref whose provider is allowed)".to_owned()),
            );
        }
    };
    let has_token = host_config.token.is_some();
    let options = HttpOptions {
        connect_timeout: GATEWAY_CHECK_TIMEOUT,
        request_timeout: GATEWAY_CHECK_TIMEOUT,
        ..HttpOptions::default()
    };
    let host = match OpenClawGatewayHost::new(host_config, options) {
        Ok(host) => host,
        Err(e) => return report.fail(AGENT_GATEWAY, e.to_string(), None),
    };
    let url = host.endpoint().to_owned();
    match host.probe().await {
        Ok(GatewayProbe::Ready) => report.ok(
            AGENT_GATEWAY,
            format!(
                "{url} answers (agent replies use model openclaw:{agent_id}{})",
                if has_token { ", with a bearer token" } else { "" }
            ),
        ),
        Ok(GatewayProbe::Unauthorized(status)) => report.fail(
            AGENT_GATEWAY,
            format!("{url} rejected the credential (HTTP {status})"),
            Some(if has_token {
                "the bearer from gateway.auth.token (or OPENCLAW_GATEWAY_TOKEN) is not accepted: copy the gateway's current token".to_owned()
            } else {
                "the gateway requires auth: set gateway.auth.token in the config or export OPENCLAW_GATEWAY_TOKEN".to_owned()
            }),
        ),
        Ok(GatewayProbe::EndpointDisabled) => report.fail(
            AGENT_GATEWAY,
            format!("{url} does not serve /v1/chat/completions (HTTP 404)"),
            Some("enable the OpenAI-compatible endpoint on the OpenClaw Gateway: gateway: { http: { endpoints: { chatCompletions: { enabled: true } } } }".to_owned()),
        ),
        Ok(GatewayProbe::Status(status)) => report.fail(
            AGENT_GATEWAY,
            format!("{url} answered HTTP {status}"),
            Some("check the OpenClaw Gateway's logs".to_owned()),
        ),
        Err(e) => report.fail(
            AGENT_GATEWAY,
            format!("cannot reach the OpenClaw Gateway at {url}: {e}"),
            Some(UNREACHABLE_FIX.to_owned()),
        ),
    }
}
