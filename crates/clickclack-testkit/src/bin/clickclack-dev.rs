//! `clickclack-dev`: a ClickClack-compatible development server. All state is
//! in memory and is lost when the server stops.

use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

/// A ClickClack-compatible development server (state is in memory only and
/// is lost when the server stops).
#[derive(Debug, Parser)]
#[command(name = "clickclack-dev", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (in memory) and seed workspace `default` with `#general`
    /// and a human owner; prints the base URL, ids and a session token.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Administer a running dev server (through its loopback-only admin API).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Bots.
    Bot {
        #[command(subcommand)]
        command: BotCommand,
    },
    /// Human users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Bot tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Bot setup codes (one-time codes an installer exchanges for a token).
    SetupCode {
        #[command(subcommand)]
        command: SetupCodeCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SetupCodeCommand {
    /// Mint a setup code for an existing bot (valid 10 minutes, single use);
    /// claim it with `POST /api/bot-setup-codes/claim {"code": …}`.
    Create {
        /// Workspace id or slug.
        #[arg(long)]
        workspace: String,
        /// Bot user id or handle.
        #[arg(long)]
        bot: String,
        /// Token name the claim will mint.
        #[arg(long, default_value = "default")]
        name: String,
        /// Comma-separated scopes or bundles for the minted token.
        #[arg(long, default_value = "bot:write")]
        scopes: String,
        /// Default outbound target written by the installer (e.g. `channel:general`).
        #[arg(long)]
        default_to: Option<String>,
        /// Comma-separated inbound allowlist written by the installer.
        #[arg(long)]
        allow_from: Option<String>,
        /// Human who mints it (default: the bot's owner, or the workspace owner).
        #[arg(long)]
        created_by: Option<String>,
        /// Print only the code.
        #[arg(long)]
        plain: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Args)]
struct Target {
    /// Base URL of the running dev server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
}

#[derive(Debug, Subcommand)]
enum BotCommand {
    /// Create a bot and print its token (like `clickclack admin bot create`).
    Create {
        /// Workspace id or slug.
        #[arg(long)]
        workspace: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Handle (defaults to the slugified name).
        #[arg(long, default_value = "")]
        handle: String,
        /// Comma-separated scopes or bundles.
        #[arg(long, default_value = "bot:write")]
        scopes: String,
        /// Human owner user id (makes a user-owned bot).
        #[arg(long)]
        owner: Option<String>,
        /// Print only the raw bot token.
        #[arg(long)]
        plain: bool,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a human user; prints its id and a session token.
    Create {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Workspace id or slug.
        #[arg(long, default_value = "default")]
        workspace: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Revoke a bot token by id (`btok_…`).
    Revoke {
        /// The token id.
        token_id: String,
        #[command(flatten)]
        target: Target,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clickclack-dev: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve { addr } => serve(addr).await,
        Command::Admin { command } => match command {
            AdminCommand::Bot {
                command:
                    BotCommand::Create {
                        workspace,
                        name,
                        handle,
                        scopes,
                        owner,
                        plain,
                        target,
                    },
            } => {
                let body = json!({
                    "workspace": workspace,
                    "name": name,
                    "handle": handle,
                    "scopes": [scopes],
                    "owner": owner,
                });
                let out = post(&target.url, "/admin/bots", &body).await?;
                if plain {
                    let token = out
                        .get("token")
                        .and_then(Value::as_str)
                        .ok_or("server response has no token")?;
                    println!("{token}");
                } else {
                    println!("{out}");
                }
                Ok(())
            }
            AdminCommand::User {
                command:
                    UserCommand::Create {
                        name,
                        workspace,
                        target,
                    },
            } => {
                let out = post(
                    &target.url,
                    "/admin/users",
                    &json!({ "name": name, "workspace": workspace }),
                )
                .await?;
                let id = out["user"]["id"].as_str().unwrap_or_default();
                let token = out["session_token"].as_str().unwrap_or_default();
                println!("user_id={id}");
                println!("session_token={token}");
                Ok(())
            }
            AdminCommand::SetupCode {
                command:
                    SetupCodeCommand::Create {
                        workspace,
                        bot,
                        name,
                        scopes,
                        default_to,
                        allow_from,
                        created_by,
                        plain,
                        target,
                    },
            } => {
                let mut defaults = serde_json::Map::new();
                if let Some(to) = default_to {
                    defaults.insert("defaultTo".into(), json!(to));
                }
                if let Some(list) = allow_from {
                    let list: Vec<&str> = list
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect();
                    defaults.insert("allowFrom".into(), json!(list));
                }
                let body = json!({
                    "workspace": workspace,
                    "bot": bot,
                    "name": name,
                    "scopes": [scopes],
                    "defaults": defaults,
                    "created_by": created_by,
                });
                let out = post(&target.url, "/admin/setup-codes", &body).await?;
                if plain {
                    let code = out["setup_code"]["code"]
                        .as_str()
                        .ok_or("server response has no setup code")?;
                    println!("{code}");
                } else {
                    println!("{out}");
                }
                Ok(())
            }
            AdminCommand::Token {
                command: TokenCommand::Revoke { token_id, target },
            } => {
                let path = format!(
                    "/admin/tokens/{}/revoke",
                    percent_encoding::utf8_percent_encode(
                        &token_id,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                );
                post(&target.url, &path, &json!({})).await?;
                println!("revoked {token_id}");
                Ok(())
            }
        },
    }
}

async fn serve(addr: SocketAddr) -> Result<(), String> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let server = clickclack_testkit::dev::bind_with_admin(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let workspace = server.create_workspace("Default");
    let owner = server.create_user(&workspace.id, "Owner");
    let general = server.create_channel(&workspace.id, &owner.user.id, "general");
    println!("clickclack-dev: serving (state is in memory only)");
    println!("base_url={}", server.base_url());
    println!("workspace_id={}", workspace.id);
    println!("workspace_slug={}", workspace.slug);
    println!("general_channel_id={}", general.id);
    println!("owner_user_id={}", owner.user.id);
    println!("session_token={}", owner.session_token);
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| format!("signal handler: {e}"))?;
    server.shutdown();
    Ok(())
}

async fn post(base: &str, path: &str, body: &Value) -> Result<Value, String> {
    let uri: http::Uri = base
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("invalid --url {base}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("--url must be an http:// URL of a clickclack-dev server".into());
    }
    let host = uri.host().ok_or("--url has no host")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot connect to {base}: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake with {base}: {e}"))?;
    tokio::spawn(conn);
    let req = http::Request::post(path)
        .header(http::header::HOST, format!("{host}:{port}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request to {base}: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading response: {e}"))?
        .to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = value["error"].as_str().unwrap_or("request failed");
        return Err(format!("{status}: {msg}"));
    }
    Ok(value)
}
