//! Scope and access: a table over bot tokens (`bot:read`, `bot:write`,
//! `bot:admin` and hand-picked scope lists) × every SDK call. Each call
//! either works or fails with `ErrorKind::MissingScope` naming exactly the
//! scope the server checks first; `message send` with a `bot:read` token
//! fails (library and CLI) naming the scope and saying the token needs
//! `bot:write`.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use assert_cmd::Command;
use clickclack_client::proto::requests::{
    BotCommandInput, CreateChannel, CreateMessage, CreateThreadReply, PatchChannel, SetBotCommands,
};
use clickclack_client::proto::{
    ChannelId, ConversationId, MessageId, Scope, UploadId, WorkspaceId,
};
use clickclack_client::{
    Client, EphemeralTarget, Error, ErrorKind, MembersQuery, PageRequest, RetryPolicy, SearchQuery,
    ThreadQuery, UploadRequest,
};
use clickclack_realtime::RealtimeStream;
use clickclack_testkit::{BotSpec, TestBot, TestServer};

use common::{Env, config_text, start};

/// Everything one bot's calls need, prepared through the admin API so the
/// table only measures the call itself.
struct Ctx {
    client: Client,
    bot: TestBot,
    workspace: WorkspaceId,
    general: ChannelId,
    human_message: MessageId,
    own_message: MessageId,
    own_message_2: MessageId,
    dm: ConversationId,
    upload: UploadId,
    owner: clickclack_client::proto::UserId,
}

/// Each SDK call, with the scopes the server checks, in the order it checks them.
const CALLS: &[(&str, &[&str])] = &[
    ("me", &["profile:read"]),
    ("list_workspaces", &["workspaces:read"]),
    ("get_workspace", &["workspaces:read"]),
    ("resolve_workspace", &["workspaces:read"]),
    ("list_members", &["workspaces:read"]),
    ("list_channels", &["channels:read"]),
    ("resolve_channel", &["channels:read"]),
    ("create_channel", &["channels:write"]),
    ("patch_channel", &["channels:write"]),
    ("list_messages", &["messages:read"]),
    ("get_message", &["messages:read"]),
    ("send_message", &["messages:write"]),
    ("edit_message", &["messages:write"]),
    ("delete_message", &["messages:write"]),
    ("message_by_nonce", &["messages:write"]),
    ("add_reaction", &["messages:write"]),
    ("remove_reaction", &["messages:write"]),
    ("mark_channel_read", &["messages:read"]),
    ("search", &["messages:read"]),
    ("get_thread", &["threads:read"]),
    ("reply_in_thread", &["threads:write"]),
    ("list_dms", &["dms:read"]),
    ("get_dm", &["dms:read"]),
    ("list_dm_messages", &["dms:read"]),
    ("mark_dm_read", &["dms:read"]),
    ("open_dm", &["dms:write"]),
    ("send_dm", &["dms:write"]),
    ("upload", &["uploads:write"]),
    ("upload_by_nonce", &["uploads:write"]),
    ("download_upload", &["messages:read"]),
    ("attach_upload", &["uploads:write", "messages:write"]),
    ("events_page", &["realtime:read"]),
    ("realtime_stream", &["realtime:read"]),
    ("publish_typing", &["messages:write"]),
    ("set_bot_commands", &["commands:write"]),
];

/// The token kinds of the table: bundles and hand-picked lists.
const TOKENS: &[&str] = &[
    "bot:read",
    "bot:write",
    "bot:admin",
    "messages:read,realtime:read",
    "profile:read,messages:write,uploads:write",
];

async fn call(name: &str, c: &Ctx, round: usize) -> Result<(), Error> {
    let cl = &c.client;
    let ws = &c.workspace;
    match name {
        "me" => cl.me().await.map(drop),
        "list_workspaces" => cl.list_workspaces().await.map(drop),
        "get_workspace" => cl.get_workspace(ws).await.map(drop),
        "resolve_workspace" => cl.resolve_workspace("default").await.map(drop),
        "list_members" => cl
            .list_members(ws, &MembersQuery::default())
            .await
            .map(drop),
        "list_channels" => cl.list_channels(ws).await.map(drop),
        "resolve_channel" => cl.resolve_channel(ws, "general").await.map(drop),
        "create_channel" => {
            let req = CreateChannel::new(format!("made-by-{}-{round}", c.bot.user.handle));
            cl.create_channel(ws, &req).await.map(drop)
        }
        "patch_channel" => {
            let req = PatchChannel::new().with_display_title(format!("General {round}"));
            cl.patch_channel(&c.general, &req).await.map(drop)
        }
        "list_messages" => cl
            .list_messages(&c.general, &PageRequest::latest().with_limit(5))
            .await
            .map(drop),
        "get_message" => cl.get_message(&c.human_message).await.map(drop),
        "send_message" => cl
            .send_message(&c.general, CreateMessage::new("table send"))
            .await
            .map(drop),
        "edit_message" => cl.edit_message(&c.own_message, "edited").await.map(drop),
        "delete_message" => cl.delete_message(&c.own_message_2).await.map(drop),
        "message_by_nonce" => cl.message_by_nonce(ws, "no-such-nonce").await.map(drop),
        "add_reaction" => cl.add_reaction(&c.human_message, "👍").await.map(drop),
        "remove_reaction" => cl.remove_reaction(&c.human_message, "👍").await.map(drop),
        "mark_channel_read" => cl.mark_channel_read(&c.general, 1).await.map(drop),
        "search" => cl
            .search(&SearchQuery::new(ws.clone(), "hello"))
            .await
            .map(drop),
        "get_thread" => cl
            .get_thread(&c.human_message, &ThreadQuery::default())
            .await
            .map(drop),
        "reply_in_thread" => cl
            .reply_in_thread(&c.human_message, CreateThreadReply::new("table reply"))
            .await
            .map(drop),
        "list_dms" => cl.list_dms(ws).await.map(drop),
        "get_dm" => cl.get_dm(&c.dm).await.map(drop),
        "list_dm_messages" => cl
            .list_dm_messages(&c.dm, &PageRequest::latest().with_limit(5))
            .await
            .map(drop),
        "mark_dm_read" => cl.mark_dm_read(&c.dm, 1).await.map(drop),
        "open_dm" => cl.open_dm(ws, &c.owner).await.map(drop),
        "send_dm" => cl
            .send_dm(&c.dm, CreateMessage::new("table dm"))
            .await
            .map(drop),
        "upload" => cl
            .upload(UploadRequest::bytes(ws.clone(), "t.txt", b"hi".to_vec()))
            .await
            .map(drop),
        "upload_by_nonce" => cl.upload_by_nonce(ws, "no-such-nonce").await.map(drop),
        "download_upload" => cl.download_upload(&c.upload).await.map(drop),
        "attach_upload" => {
            let up = cl
                .upload(UploadRequest::bytes(ws.clone(), "a.txt", b"at".to_vec()))
                .await?;
            cl.attach_upload(&c.own_message, &up.id).await.map(drop)
        }
        "events_page" => cl.events_page(ws, None, Some(5), true).await.map(drop),
        "realtime_stream" => match RealtimeStream::builder(cl.clone(), ws.clone())
            .start()
            .await
        {
            Ok(stream) => {
                drop(stream);
                Ok(())
            }
            Err(clickclack_realtime::Error::Api(e)) => Err(e),
            Err(other) => panic!("realtime start failed without an API error: {other}"),
        },
        "publish_typing" => cl
            .publish_typing(ws, &EphemeralTarget::Channel(c.general.clone()), true)
            .await
            .map(drop),
        "set_bot_commands" => {
            let req = SetBotCommands::new([BotCommandInput::new("help", "Show help")]);
            cl.set_bot_commands(&req).await.map(drop)
        }
        other => panic!("no call named {other}"),
    }
}

fn client(server: &TestServer, token: &str) -> Client {
    Client::builder(server.base_url())
        .token(token)
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_secs(10))
        .build()
        .expect("client builds")
}

fn prepare(env: &Env, scopes: &str, n: usize) -> Ctx {
    let server = &env.server;
    let seed = &env.seed;
    let handle = format!("tablebot{n}");
    let bot = server.create_bot(
        BotSpec::new(&seed.workspace.id, &handle)
            .handle(&handle)
            .scopes([scopes]),
    );
    let human_message = server
        .post_message(&seed.owner.user.id, &seed.general.id, "hello from a human")
        .id;
    let own_message = server
        .post_message(&bot.user.id, &seed.general.id, "own message")
        .id;
    let own_message_2 = server
        .post_message(&bot.user.id, &seed.general.id, "own message 2")
        .id;
    let dm = server
        .open_dm(&seed.workspace.id, &seed.owner.user.id, &bot.user.id)
        .id;
    server.post_dm(&seed.owner.user.id, &dm, "hi bot");
    Ctx {
        client: client(server, &bot.token),
        bot,
        workspace: seed.workspace.id.clone(),
        general: seed.general.id.clone(),
        human_message,
        own_message,
        own_message_2,
        dm,
        upload: UploadId::new(""),
        owner: seed.owner.user.id.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sdk_call_works_or_names_the_missing_scope() {
    let env = start().await;
    // An upload every bot may try to download (messages:read).
    let upload = client(&env.server, &env.seed.bot.token)
        .upload(UploadRequest::bytes(
            env.seed.workspace.id.clone(),
            "shared.txt",
            b"shared".to_vec(),
        ))
        .await
        .expect("seed upload");
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, scopes) in TOKENS.iter().enumerate() {
        let mut ctx = prepare(&env, scopes, n);
        ctx.upload = upload.id.clone();
        let granted: BTreeSet<String> = ctx.bot.scopes.iter().cloned().collect();
        for (name, needed) in CALLS {
            let missing = needed.iter().find(|s| !granted.contains(**s));
            let got = call(name, &ctx, n).await;
            checked += 1;
            match (missing, got) {
                (None, Ok(())) => {}
                (Some(scope), Err(e))
                    if matches!(e.kind(), ErrorKind::MissingScope { scope: got, .. }
                        if *got == Scope::from_wire(scope)) =>
                {
                    // The error says which scope, in words a person can act on.
                    assert!(e.to_string().contains(scope), "{e}");
                    assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
                }
                (None, Err(e)) => failures.push(format!("[{scopes}] {name}: expected Ok, got {e}")),
                (Some(scope), Ok(())) => failures.push(format!(
                    "[{scopes}] {name}: expected missing {scope}, got Ok"
                )),
                (Some(scope), Err(e)) => failures.push(format!(
                    "[{scopes}] {name}: expected missing {scope}, got {:?}: {e}",
                    e.kind()
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, TOKENS.len() * CALLS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_send_with_a_bot_read_token_names_the_scope_and_bot_write() {
    let env = start().await;
    let reader = env
        .server
        .create_bot(BotSpec::new(&env.seed.workspace.id, "Reader").scopes(["bot:read"]));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("openclaw.json");
    std::fs::write(&config, config_text(&env.server.base_url(), "")).expect("config");
    let config = config.to_string_lossy().into_owned();
    let before = env.server.channel_messages(&env.seed.general.id).len();
    for target in ["channel:general", "general"] {
        let token = reader.token.clone();
        let config = config.clone();
        let target = target.to_owned();
        let out = tokio::task::spawn_blocking(move || {
            Command::cargo_bin("openclaw-clickclack")
                .expect("binary")
                .args([
                    "message",
                    "send",
                    "--channel",
                    "clickclack",
                    "--target",
                    &target,
                    "--message",
                    "hello",
                    "--config",
                    &config,
                ])
                .env_remove("OPENCLAW_CONFIG_PATH")
                .env("RUST_LOG", "off")
                .env("CLICKCLACK_BOT_TOKEN", token)
                .output()
                .expect("runs")
        })
        .await
        .expect("joined");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(
                "ClickClack bot token is missing scope messages:write; the token needs bot:write"
            ),
            "{stderr}"
        );
        assert!(!stderr.contains(&reader.token), "{stderr}");
    }
    assert_eq!(
        env.server.channel_messages(&env.seed.general.id).len(),
        before,
        "nothing was posted"
    );
}

#[path = "gateway_support/mod.rs"]
mod support;

#[tokio::test]
async fn the_gateway_with_a_bot_read_token_starts_reads_and_says_it_cannot_reply() {
    use openclaw_clickclack::gateway::Lifecycle;
    use support::{Fixture, WAIT, capture_logs, wait_until};

    let (logs, _guard) = capture_logs();
    let fx = Fixture::new().await;
    let reader = fx.server.create_bot(
        BotSpec::new(&fx.seed.workspace.id, "Reader")
            .handle("reader")
            .scopes(["bot:read"]),
    );
    let config = fx
        .model_config("", "")
        .replace(&fx.seed.bot.token, &reader.token);
    let gateway = fx.start(&config, fx.options()).await;
    let before = fx.server.channel_messages(&fx.seed.general.id).len();
    fx.post("hello reader bot");
    // It reads: the event arrives, the message is fetched, the model asked.
    wait_until("the model was asked", WAIT, || {
        fx.model.request_count() >= 1
    })
    .await;
    wait_until("the missing scope is reported", WAIT, || {
        logs.contains("cannot reply: bot token is missing scope messages:write")
    })
    .await;
    let text = logs.text();
    assert!(
        text.contains(
            "cannot reply: bot token is missing scope messages:write; the token needs bot:write"
        ),
        "{text}"
    );
    assert!(
        !text.contains(&reader.token),
        "the token never appears in logs"
    );
    assert!(
        gateway
            .status()
            .all()
            .iter()
            .all(|s| s.lifecycle == Lifecycle::Ready),
        "the account keeps running"
    );
    assert_eq!(
        fx.server.channel_messages(&fx.seed.general.id).len(),
        before + 1,
        "nothing was posted by the bot"
    );
    gateway.shutdown().await;
}
