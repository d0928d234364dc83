//! Benchmarks 4 and 6: the gateway end to end, and its startup.
//!
//! Flow: a human posts in `#general` (testkit admin API) → the account's
//! bot answers → the reply is seen on the human's realtime socket. Each
//! account runs a closed loop (one message outstanding), so replies/s on one
//! account is 1 / round trip and on many accounts is the sum.
//!
//! - ours: the real `openclaw_clickclack::gateway::Gateway` (model mode,
//!   inbound policy, scheduler, deterministic nonces, file cursor store in a
//!   temporary state dir) with an in-process model that answers instantly;
//! - baseline: a minimal loop on `Client` + `RealtimeStream` per account:
//!   event → `get_message` → `send_message` (quote reply) → commit; no
//!   policy, no persistence, the same instant answer.
//!
//! Every account has its own workspace, human, channel and bot, so one
//! account's traffic never reaches another's socket.
//!
//! The closed loops saturate the machine, so their latency is mostly
//! queueing (Little's law: accounts / replies per second). The `paced` rows
//! offer a fixed load below saturation (each account posts once per
//! [`PACE`]), where the latency difference is the gateway's own cost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickclack_client::Client;
use clickclack_proto::event::{Event, EventPayload};
use clickclack_proto::requests::CreateMessage;
use clickclack_proto::{ChannelId, Cursor, UserId, WorkspaceId};
use clickclack_realtime::{RealtimeItem, RealtimeStream};
use clickclack_testkit::{BotSpec, TestServer};
use fastwebsockets::OpCode;
use openclaw_clickclack::config::{ProcessEnv, parse_config_str};
use openclaw_clickclack::gateway::{Gateway, GatewayOptions, Lifecycle};
use openclaw_clickclack::llm::{Completion, CompletionRequest, LlmFuture, LlmRuntime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Options;
use super::cpu::CpuSample;
use super::harness::{Latencies, per_second, round3};
use super::realtime::bare_connect;
use super::report::{Goal, Record};

/// How long one reply may take before the benchmark gives up.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// The instant model: `echo: <last user message>`.
struct Echo;

impl LlmRuntime for Echo {
    fn complete(&self, request: CompletionRequest) -> LlmFuture<'_> {
        Box::pin(async move {
            let last = request
                .messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default();
            Ok(Completion::text(format!("echo: {last}")))
        })
    }
}

/// One account's world in the testkit.
#[derive(Clone)]
pub(crate) struct Account {
    pub(crate) workspace: WorkspaceId,
    pub(crate) slug: String,
    human: UserId,
    human_token: String,
    channel: ChannelId,
    pub(crate) bot: UserId,
    pub(crate) token: String,
}

/// Creates `n` accounts, each in its own workspace.
pub(crate) fn accounts(server: &TestServer, n: usize, tag: &str) -> Vec<Account> {
    (0..n)
        .map(|i| {
            let ws = server.create_workspace(&format!("Bench {tag} {i}"));
            let human = server.create_user(&ws.id, "Human");
            let channel = server.create_channel(&ws.id, &human.user.id, "general");
            let bot = server.create_bot(
                BotSpec::new(&ws.id, &format!("Bench Bot {i}"))
                    .handle(&format!("benchbot{i}"))
                    .scopes(["bot:write"]),
            );
            Account {
                workspace: ws.id.clone(),
                slug: ws.slug.clone(),
                human: human.user.id.clone(),
                human_token: human.session_token.clone(),
                channel: channel.id.clone(),
                bot: bot.user.id.clone(),
                token: bot.token.clone(),
            }
        })
        .collect()
}

/// The OpenClaw config (JSON5, docs format) with one named account per
/// `(token, workspace slug)` entry.
pub(crate) fn config_text(base_url: &str, accounts: &[(String, String)]) -> String {
    let mut entries = String::new();
    for (i, (token, slug)) in accounts.iter().enumerate() {
        entries.push_str(&format!(
            "      a{i}: {{ token: \"{token}\", workspace: \"{slug}\" }},\n"
        ));
    }
    format!(
        "{{\n  channels: {{\n    clickclack: {{\n      enabled: true,\n      baseUrl: \"{base_url}\",\n      \
         replyMode: \"model\",\n      model: \"bench/echo\",\n      accounts: {{\n{entries}      }},\n    }},\n  }},\n}}\n"
    )
}

/// A running gateway with its temporary state directory.
pub(crate) struct RunningGateway {
    pub(crate) gateway: Gateway,
    _state: tempfile::TempDir,
}

/// Starts the real gateway for `accounts` and waits until all are `ready`.
pub(crate) async fn start_gateway(
    base_url: &str,
    accounts: &[Account],
) -> Result<RunningGateway, String> {
    let pairs: Vec<(String, String)> = accounts
        .iter()
        .map(|a| (a.token.clone(), a.slug.clone()))
        .collect();
    start_gateway_for(base_url, &pairs).await
}

/// Starts the real gateway with one account per `(token, workspace slug)`
/// and waits until all are `ready`.
pub(crate) async fn start_gateway_for(
    base_url: &str,
    accounts: &[(String, String)],
) -> Result<RunningGateway, String> {
    let config = parse_config_str(&config_text(base_url, accounts), &ProcessEnv)
        .map_err(|e| format!("gateway config: {e}"))?;
    let state = tempfile::Builder::new()
        .prefix("clickclack-bench-")
        .tempdir()
        .map_err(|e| format!("state dir: {e}"))?;
    let options = GatewayOptions {
        state_dir: Some(state.path().join("state")),
        llm: Some(Arc::new(Echo)),
        ..GatewayOptions::default()
    };
    let gateway = Gateway::start(&config, &ProcessEnv, options)
        .await
        .map_err(|e| format!("gateway start: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut changes = gateway.status().subscribe();
    loop {
        // Look at every status only after a change, and at most every
        // 5 ms: copying 1,000 statuses every 2 ms cost more CPU than the
        // gateway's own startup.
        let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        changes.borrow_and_update();
        let all = gateway.status().all();
        if all.len() == accounts.len() && all.iter().all(|s| s.lifecycle == Lifecycle::Ready) {
            break;
        }
        if let Some(s) = all.iter().find(|s| s.lifecycle == Lifecycle::Stopped) {
            return Err(format!(
                "gateway account {} stopped: {}",
                s.account_id,
                s.last_error.as_deref().unwrap_or("no error recorded")
            ));
        }
        if Instant::now() > deadline {
            return Err("gateway accounts not ready after 120 s".to_owned());
        }
    }
    Ok(RunningGateway {
        gateway,
        _state: state,
    })
}

/// The baseline bot: a minimal loop on client + realtime.
pub(crate) async fn start_minimal(base_url: &str, a: &Account) -> Result<JoinHandle<()>, String> {
    let client = Client::builder(base_url.to_owned())
        .token(a.token.clone())
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let mut stream = RealtimeStream::builder(client.clone(), a.workspace.clone())
        .start()
        .await
        .map_err(|e| format!("stream: {e}"))?;
    loop {
        match stream.next_event().await {
            Some(Ok(RealtimeItem::Connected { .. })) => break,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("stream: {e}")),
            None => return Err("stream ended".to_owned()),
        }
    }
    let bot = a.bot.clone();
    Ok(tokio::spawn(async move {
        while let Some(item) = stream.next_event().await {
            let Ok(RealtimeItem::Event(event)) = item else {
                continue;
            };
            if let EventPayload::MessageCreated(p) = &event.payload
                && p.author_id.as_ref() != Some(&bot)
                && let Some(channel) = event.channel_id()
                && let Ok(message) = client.get_message(&p.message_id).await
            {
                let reply = CreateMessage::new(format!("echo: {}", message.body))
                    .with_quote(message.id.clone());
                let _ = client.send_message(channel, reply).await;
            }
            let _ = stream.commit(event.cursor()).await;
        }
    }))
}

/// Watches one workspace as its human; signals every bot reply.
async fn observer(
    server_addr: std::net::SocketAddr,
    a: &Account,
    tail: &Cursor,
) -> Result<(JoinHandle<()>, mpsc::Receiver<()>), String> {
    let mut ws = bare_connect(server_addr, &a.human_token, &a.workspace, tail).await?;
    let (tx, rx) = mpsc::channel(64);
    let bot = a.bot.clone();
    let task = tokio::spawn(async move {
        while let Ok(frame) = ws.read_frame().await {
            if frame.opcode == OpCode::Close {
                return;
            }
            if frame.opcode != OpCode::Text {
                continue;
            }
            let Ok(event) = Event::from_slice(&frame.payload) else {
                continue;
            };
            let reply = match &event.payload {
                EventPayload::MessageCreated(p) => p.author_id.as_ref() == Some(&bot),
                // The humans here never post in threads: a thread reply is the bot's.
                EventPayload::ThreadReplyCreated(_) => true,
                _ => false,
            };
            if reply && tx.send(()).await.is_err() {
                return;
            }
        }
    });
    Ok((task, rx))
}

/// Closed loops on every account for `duration`. With `pace`, an account
/// posts at most once per `pace` (the accounts' starts spread over one
/// `pace`): a load below saturation, where latency is the pipeline's own
/// cost instead of queueing behind other accounts.
async fn drive(
    server: &Arc<TestServer>,
    accounts: &[Account],
    duration: Duration,
    pace: Option<Duration>,
) -> Result<(usize, Duration, Latencies, Duration), String> {
    let mut observers = Vec::new();
    let mut receivers = Vec::new();
    for a in accounts {
        let tail = server.latest_cursor(&a.workspace).ok_or("no tail cursor")?;
        let (task, rx) = observer(server.addr(), a, &tail).await?;
        observers.push(task);
        receivers.push(rx);
    }
    let start = Instant::now();
    let cpu = CpuSample::now();
    let deadline = start + duration;
    let mut loops = Vec::new();
    let spread = accounts.len().max(1) as u32;
    for (k, (a, mut rx)) in accounts.iter().cloned().zip(receivers).enumerate() {
        let server = Arc::clone(server);
        loops.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            let mut i = 0u64;
            if let Some(pace) = pace {
                tokio::time::sleep(pace * k as u32 / spread).await;
            }
            while Instant::now() < deadline {
                let t = Instant::now();
                server.post_message(
                    &a.human,
                    &a.channel,
                    &format!("question {i}: what is the build status?"),
                );
                match tokio::time::timeout(REPLY_TIMEOUT, rx.recv()).await {
                    Ok(Some(())) => latencies.push(t.elapsed()),
                    Ok(None) => return Err("observer ended".to_owned()),
                    Err(_) => return Err(format!("no reply within {} s", REPLY_TIMEOUT.as_secs())),
                }
                i += 1;
                if let Some(pace) = pace {
                    tokio::time::sleep_until((t + pace).into()).await;
                }
            }
            Ok::<_, String>(latencies)
        }));
    }
    let mut all = Latencies::default();
    let mut failure = None;
    for l in loops {
        match l.await {
            Ok(Ok(latencies)) => all.extend(latencies),
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(format!("driver task: {e}")),
        }
    }
    let elapsed = start.elapsed();
    let cpu = cpu.cpu_until(&CpuSample::now());
    for o in observers {
        o.abort();
    }
    match failure {
        Some(e) => Err(e),
        None => Ok((all.len(), elapsed, all, cpu)),
    }
}

/// One side's numbers.
struct Side {
    rate: f64,
    latencies: Latencies,
    startup: Duration,
    /// CPU of the whole process (server, drivers, observers and the side's
    /// bots) per reply, µs: the sides differ only in their bots.
    cpu_us_per_reply: f64,
}

/// CPU per reply in µs (0 without replies).
fn cpu_us_per_reply(cpu: Duration, replies: usize) -> f64 {
    if replies == 0 {
        return 0.0;
    }
    (cpu.as_secs_f64() * 1e6 / replies as f64).round()
}

async fn gateway_side(
    n: usize,
    duration: Duration,
    pace: Option<Duration>,
) -> Result<Side, String> {
    let server = Arc::new(TestServer::start().await);
    let accounts = accounts(&server, n, "gw");
    let started = Instant::now();
    let running = start_gateway(&server.base_url(), &accounts).await?;
    let startup = started.elapsed();
    let (count, elapsed, latencies, cpu) = drive(&server, &accounts, duration, pace).await?;
    running.gateway.shutdown().await;
    Ok(Side {
        rate: per_second(count, elapsed),
        latencies,
        startup,
        cpu_us_per_reply: cpu_us_per_reply(cpu, count),
    })
}

async fn minimal_side(
    n: usize,
    duration: Duration,
    pace: Option<Duration>,
) -> Result<Side, String> {
    let server = Arc::new(TestServer::start().await);
    let accounts = accounts(&server, n, "min");
    let started = Instant::now();
    let mut bots = Vec::new();
    for a in &accounts {
        bots.push(start_minimal(&server.base_url(), a).await?);
    }
    let startup = started.elapsed();
    let (count, elapsed, latencies, cpu) = drive(&server, &accounts, duration, pace).await?;
    for b in bots {
        b.abort();
    }
    Ok(Side {
        rate: per_second(count, elapsed),
        latencies,
        startup,
        cpu_us_per_reply: cpu_us_per_reply(cpu, count),
    })
}

/// Runs the end-to-end and startup benchmarks.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let (many, duration) = if options.quick {
        (10, Duration::from_millis(500))
    } else {
        (100, Duration::from_secs(4))
    };
    // Warm-up (first connections, allocator, lazy statics) outside the numbers.
    minimal_side(1, Duration::from_millis(100), None).await?;
    gateway_side(1, Duration::from_millis(100), None).await?;
    let mut records = Vec::new();
    let mut startups = Vec::new();
    // Best of `rounds`, the two sides alternating, so a burst of other work
    // on this machine cannot decide the ratio by landing on one side.
    let rounds = if options.quick { 1 } else { 3 };
    for n in [1usize, many] {
        let (mut base, mut ours) = (None::<Side>, None::<Side>);
        let (mut base_cpu, mut ours_cpu) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let b = minimal_side(n, duration, None).await?;
            base_cpu.push(b.cpu_us_per_reply);
            if base.as_ref().is_none_or(|best| b.rate > best.rate) {
                base = Some(b);
            }
            let o = gateway_side(n, duration, None).await?;
            ours_cpu.push(o.cpu_us_per_reply);
            if ours.as_ref().is_none_or(|best| o.rate > best.rate) {
                ours = Some(o);
            }
        }
        let (Some(mut base), Some(mut ours)) = (base, ours) else {
            return Err("no gateway round ran".to_owned());
        };
        let plural = if n == 1 { "account" } else { "accounts" };
        records.push(
            Record::new(
                format!("gateway.e2e.{n}_{plural}"),
                "replies/s",
                ours.rate,
                "minimal client+realtime loop",
                base.rate,
                Goal::RatioAtLeast(0.8),
            )
            .param("accounts", n)
            .param("outstanding_per_account", 1)
            .param("seconds", duration.as_secs_f64())
            .param("rounds_per_side", rounds)
            .param("replies", ours.latencies.len())
            .param("baseline_replies", base.latencies.len())
            .param("process_cpu_us_per_reply_by_round", ours_cpu)
            .param("baseline_process_cpu_us_per_reply_by_round", base_cpu),
        );
        records.push(
            Record::new(
                format!("gateway.e2e.{n}_{plural}.p50"),
                "ms",
                round3(ours.latencies.percentile_ms(50.0)),
                "minimal client+realtime loop",
                round3(base.latencies.percentile_ms(50.0)),
                Goal::None,
            )
            .param("accounts", n),
        );
        records.push(
            Record::new(
                format!("gateway.e2e.{n}_{plural}.p99"),
                "ms",
                round3(ours.latencies.percentile_ms(99.0)),
                "minimal client+realtime loop",
                round3(base.latencies.percentile_ms(99.0)),
                Goal::OverheadBelow(5.0),
            )
            .param("accounts", n)
            .param(
                "goal_meaning",
                "p99 overhead of the gateway (value - baseline) < 5 ms",
            ),
        );
        startups.push((n, plural, ours.startup, base.startup));
    }
    records.extend(paced(options, many, duration).await?);
    for (n, plural, ours, base) in startups {
        records.push(
            Record::new(
                format!("gateway.startup.{n}_{plural}"),
                "ms",
                round3(ours.as_secs_f64() * 1e3),
                "minimal client+realtime start",
                round3(base.as_secs_f64() * 1e3),
                Goal::None,
            )
            .param("accounts", n)
            .param(
                "measured",
                "Gateway::start (config parsed) until every account is ready; in-process, testkit on loopback",
            ),
        );
    }
    Ok(records)
}

/// How often each account posts in the paced rows: 100 accounts at one
/// message per 200 ms each is 500 messages/s, a fraction of what either side
/// sustains here.
const PACE: Duration = Duration::from_millis(200);

/// Latency below saturation: every account posts once per [`PACE`]; the
/// p99 of each side over all its rounds (the sides alternate).
async fn paced(options: &Options, n: usize, duration: Duration) -> Result<Vec<Record>, String> {
    let rounds = if options.quick { 1 } else { 2 };
    let (mut base, mut ours) = (Latencies::default(), Latencies::default());
    for _ in 0..rounds {
        base.extend(minimal_side(n, duration, Some(PACE)).await?.latencies);
        ours.extend(gateway_side(n, duration, Some(PACE)).await?.latencies);
    }
    let name = format!("gateway.e2e.{n}_accounts.paced");
    let offered = n as f64 / PACE.as_secs_f64();
    Ok(vec![
        Record::new(
            format!("{name}.p50"),
            "ms",
            round3(ours.percentile_ms(50.0)),
            "minimal client+realtime loop",
            round3(base.percentile_ms(50.0)),
            Goal::None,
        )
        .param("accounts", n)
        .param("offered_messages_per_second", offered),
        Record::new(
            format!("{name}.p99"),
            "ms",
            round3(ours.percentile_ms(99.0)),
            "minimal client+realtime loop",
            round3(base.percentile_ms(99.0)),
            Goal::OverheadBelow(5.0),
        )
        .param("accounts", n)
        .param("offered_messages_per_second", offered)
        .param("rounds_per_side", rounds)
        .param("replies", ours.len())
        .param("baseline_replies", base.len())
        .param(
            "goal_meaning",
            "p99 overhead of the gateway (value - baseline) < 5 ms below saturation",
        ),
    ])
}
