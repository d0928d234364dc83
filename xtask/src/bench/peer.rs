//! The out-of-process group (`peer`): one `clickclack-dev` process, and
//! every client in its own process measured by its own CPU time and RSS —
//! ours (`bench-run --client`, see [`super::client`]), the bare Rust
//! baselines, and the Node peer (`ws` + `JSON.parse`, `fetch`) — all against
//! the same server in the same run.
//!
//! Workloads:
//! 1. replay: the same replay pages (≤ 5,000 events per connection, the
//!    server's cap) read by `RealtimeStream` on a multi-thread and on a
//!    current-thread runtime (commit per event), by a bare fastwebsockets
//!    reader + `Event::from_slice`, and by Node. Each process reads all
//!    pages several times; the first pass warms up (JIT, allocator,
//!    connections) and the best later pass counts, wall and CPU separately.
//!    The CPU rows also give each client's context switches per 1,000
//!    events (`getrusage` / `process.resourceUsage()`): the cost of handing
//!    events between threads, which no profile of the code itself shows.
//! 2. send: `Client::send_message` vs bare hyper POSTs vs Node `fetch`, at
//!    1, 8 (and 64) concurrent senders for a fixed time.
//! 3. idle: one connection per bot account (each its own token): the real
//!    gateway, a minimal `Client` + `RealtimeStream` per account, bare
//!    fastwebsockets sockets and Node `ws`; RSS per account.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use clickclack_client::Client;
use serde_json::{Value, json};

use super::Options;
use super::client::Page;
use super::external::{DevServer, PAGE};
use super::harness::round3;
use super::node::{self, NodePeer};
use super::report::{Goal, Record};

/// A command to run our clients under (split on whitespace), e.g.
/// `BENCH_CLIENT_WRAP=heaptrack` with `BENCH_EXIT_AFTER_MEASURE=1` for a
/// heap profile of the idle accounts.
const CLIENT_WRAP: &str = "BENCH_CLIENT_WRAP";

/// Restricts [`CLIENT_WRAP`] to one client (`idle.gateway`, `idle.ours`, …).
const CLIENT_WRAP_ONLY: &str = "BENCH_CLIENT_WRAP_ONLY";

/// The workloads, as `--only peer.WORKLOAD` names them.
pub(crate) const WORKLOADS: [&str; 3] = ["replay", "send", "idle"];

/// The message body of the replay log and of the sends (100 bytes).
const BODY: &str = "Build #4821 passed on main: 1,204 tests, 0 failures, coverage 87.3%. Artifacts uploaded to staging..";

/// Sizes of one run.
struct Plan {
    events: usize,
    passes: usize,
    rounds: usize,
    send_seconds: f64,
    concurrency: &'static [usize],
    node_concurrency: &'static [usize],
    idle: usize,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        if options.quick {
            // A smoke run (CI): every workload and the Node rows, in seconds;
            // too short for Node's JIT to warm up, so its ratios mean little.
            Plan {
                events: 2_000,
                passes: 2,
                rounds: 1,
                send_seconds: 0.25,
                concurrency: &[1, 8],
                node_concurrency: &[1, 8],
                idle: 50,
            }
        } else {
            Plan {
                events: 10_000,
                passes: 5,
                rounds: 2,
                send_seconds: 2.0,
                concurrency: &[1, 8, 64],
                node_concurrency: &[1, 8],
                idle: 1_000,
            }
        }
    }
}

/// The last line of `stdout` that parses as JSON.
pub(crate) fn last_json_line(stdout: &[u8], who: &str) -> Result<Value, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .ok_or_else(|| format!("{who} printed no JSON result"))
}

/// The best (lowest) wall and CPU time per item over the passes after the
/// first (the warm-up), in ns; the first pass counts only if it is alone.
#[derive(Debug, Clone, Copy)]
struct Best {
    items: usize,
    wall_ns: f64,
    cpu_ns: f64,
    /// Context switches of the client process (fewest over the passes);
    /// `None` when the client did not report them.
    switches: Option<f64>,
}

impl Best {
    fn per_second(&self) -> f64 {
        if self.wall_ns <= 0.0 {
            0.0
        } else {
            self.items as f64 * 1e9 / self.wall_ns
        }
    }

    fn cpu_us_per_item(&self) -> f64 {
        if self.items == 0 {
            0.0
        } else {
            self.cpu_ns / 1e3 / self.items as f64
        }
    }

    /// Context switches of the client process per 1,000 items.
    fn switches_per_1k(&self) -> Option<f64> {
        let switches = self.switches?;
        (self.items > 0).then(|| round3(switches * 1e3 / self.items as f64))
    }

    /// Merges another measurement of the same workload (best of both).
    fn min(self, other: Best) -> Best {
        let scale = self.items as f64 / other.items as f64;
        Best {
            switches: match (self.switches, other.switches) {
                (Some(a), Some(b)) => Some(a.min(b * scale)),
                (a, b) => a.or(b.map(|b| b * scale)),
            },
            items: self.items,
            wall_ns: self
                .wall_ns
                .min(other.wall_ns * self.items as f64 / other.items as f64),
            cpu_ns: self
                .cpu_ns
                .min(other.cpu_ns * self.items as f64 / other.items as f64),
        }
    }

    fn from_result(v: &Value) -> Result<Best, String> {
        let passes = v
            .get("passes")
            .and_then(Value::as_array)
            .filter(|p| !p.is_empty())
            .ok_or("result without passes")?;
        let counted = if passes.len() > 1 {
            &passes[1..]
        } else {
            &passes[..]
        };
        let mut best: Option<Best> = None;
        for p in counted {
            let num = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let b = Best {
                items: num("items") as usize,
                wall_ns: num("wall_ns"),
                cpu_ns: num("cpu_ns"),
                switches: p.get("switches").and_then(Value::as_f64),
            };
            if b.items == 0 {
                return Err("a pass did no work".to_owned());
            }
            best = Some(best.map_or(b, |x| x.min(b)));
        }
        best.ok_or_else(|| "no passes".to_owned())
    }
}

/// Runs the clients and the Node peer.
struct Runner {
    spec_dir: PathBuf,
    node: Result<NodePeer, node::Unavailable>,
}

impl Runner {
    fn write_spec(&self, name: &str, spec: &Value) -> Result<PathBuf, String> {
        let path = self.spec_dir.join(format!("{name}.json"));
        std::fs::write(&path, spec.to_string())
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(path)
    }

    /// `bench-run --client SPEC` in a fresh process. With
    /// [`CLIENT_WRAP`] set, the client named by [`CLIENT_WRAP_ONLY`] (all
    /// when unset) runs under that command, e.g. a heap profiler.
    fn ours(&self, name: &str, spec: &Value) -> Result<Value, String> {
        let path = self.write_spec(name, spec)?;
        let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
        let wrap = std::env::var(CLIENT_WRAP)
            .ok()
            .filter(|_| std::env::var(CLIENT_WRAP_ONLY).map_or(true, |only| only == name));
        let mut command = match wrap.as_deref().map(str::split_whitespace) {
            Some(mut words) => match words.next() {
                Some(program) => {
                    let mut c = Command::new(program);
                    c.args(words).arg(exe);
                    c
                }
                None => Command::new(exe),
            },
            None => Command::new(exe),
        };
        let out = command
            .arg("bench-run")
            .arg("--client")
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("client {name}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "client {name} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        last_json_line(&out.stdout, name)
    }

    /// The Node peer on the same spec; `Err` holds the `n/a` reason.
    fn node(&self, name: &str, spec: &Value) -> Result<Result<Value, String>, String> {
        match &self.node {
            Err(why) => Ok(Err(why.clone())),
            Ok(peer) => {
                let path = self.write_spec(&format!("{name}.node"), spec)?;
                peer.run(&path).map(Ok)
            }
        }
    }
}

/// Runs the `peer` group.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let plan = Plan::new(options);
    let target = super::target_dir();
    let spec_dir = target.join("bench").join("peer");
    std::fs::create_dir_all(&spec_dir)
        .map_err(|e| format!("create {}: {e}", spec_dir.display()))?;
    let runner = Runner {
        spec_dir,
        node: node::prepare(&target),
    };
    let server = DevServer::start()?;
    let replay_token = server.create_bot("Bench Replay").await?;
    let idle_count = if options.runs_peer("idle") {
        plan.idle
    } else {
        0
    };
    let mut idle_tokens = Vec::with_capacity(idle_count);
    for i in 0..idle_count {
        idle_tokens.push(server.create_bot(&format!("Bench Idle {i}")).await?);
    }
    let client = Client::builder(server.base_url.clone())
        .token(replay_token.clone())
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let base = json!({
        "base_url": server.base_url,
        "workspace": server.workspace.as_str(),
        "workspace_slug": server.workspace_slug,
        "token": replay_token,
        "channel": server.general.as_str(),
        "body": BODY,
    });
    let node_version = match &runner.node {
        Ok(peer) => peer.version.clone(),
        Err(why) => format!("n/a ({why})"),
    };
    let mut records = Vec::new();
    if options.runs_peer("replay") {
        let start = server.tail(&client).await?;
        let pages = server.fill(&client, &start, plan.events, BODY).await?;
        records.extend(replay(&runner, &plan, &base, &pages, &node_version)?);
    }
    if options.runs_peer("send") {
        records.extend(send(&runner, &plan, &base, &node_version)?);
    }
    if options.runs_peer("idle") {
        // The tail after the sends: idle connections must not start with a
        // replay of everything the send workload posted (each would buffer up
        // to 5,000 events and the numbers would measure that, not idleness).
        let tail = server.tail(&client).await?;
        records.extend(idle(&runner, &base, &idle_tokens, &tail, &node_version)?);
    }
    if let Some(first) = records.first_mut() {
        first.note = Some(format!(
            "clickclack-dev in its own process; each client in its own process, CPU = getrusage/process.cpuUsage of that process; node {node_version}"
        ));
    }
    drop(server);
    Ok(records)
}

fn with(base: &Value, extra: Value) -> Value {
    let mut v = base.clone();
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    v
}

/// A row against the Node peer; `n/a (…)` when Node is missing.
fn vs_node(
    name: String,
    unit: &'static str,
    ours: f64,
    node: &Result<f64, String>,
    goal: Goal,
) -> Record {
    match node {
        Ok(n) => Record::new(name, unit, ours, "node", *n, goal),
        Err(why) => {
            Record::without_baseline(name, unit, ours, "node", goal, format!("n/a ({why})"))
        }
    }
}

fn replay(
    runner: &Runner,
    plan: &Plan,
    base: &Value,
    pages: &[Page],
    node_version: &str,
) -> Result<Vec<Record>, String> {
    let events: usize = pages.iter().map(|p| p.count).sum();
    let spec = |imp: &str, flavour: &str| {
        with(
            base,
            json!({
                "workload": "replay",
                "impl": imp,
                "flavour": flavour,
                "passes": plan.passes,
                "pages": pages.iter().map(Page::to_json).collect::<Vec<_>>(),
            }),
        )
    };
    let (mut mt, mut ct, mut bare): (Option<Best>, Option<Best>, Option<Best>) = (None, None, None);
    let mut node: Option<Result<Best, String>> = None;
    let merge = |slot: &mut Option<Best>, b: Best| *slot = Some(slot.map_or(b, |x| x.min(b)));
    for _ in 0..plan.rounds {
        merge(
            &mut mt,
            Best::from_result(&runner.ours("replay.mt", &spec("ours", "multi"))?)?,
        );
        merge(
            &mut ct,
            Best::from_result(&runner.ours("replay.ct", &spec("ours", "current"))?)?,
        );
        merge(
            &mut bare,
            Best::from_result(&runner.ours("replay.bare", &spec("bare", "current"))?)?,
        );
        let n = match runner.node("replay", &spec("node", ""))? {
            Ok(v) => Ok(Best::from_result(&v)?),
            Err(why) => Err(why),
        };
        node = Some(match (node, n) {
            (Some(Ok(a)), Ok(b)) => Ok(a.min(b)),
            (_, n) => n,
        });
    }
    let (Some(mt), Some(ct), Some(bare), Some(node)) = (mt, ct, bare, node) else {
        return Err("no replay rounds ran".to_owned());
    };
    let node_rate = node.as_ref().map(Best::per_second).map_err(Clone::clone);
    let node_cpu = node
        .as_ref()
        .map(Best::cpu_us_per_item)
        .map_err(Clone::clone);
    let k = events / 1000;
    let mut records = Vec::new();
    for (label, ours) in [("multi_thread", mt), ("current_thread", ct)] {
        records.push(
            vs_node(
                format!("peer.replay_{k}k.{label}"),
                "events/s",
                ours.per_second(),
                &node_rate,
                Goal::RatioAtLeast(1.5),
            )
            .param("events", events)
            .param("connections", pages.len())
            .param("events_per_connection_max", PAGE)
            .param("passes_per_process", plan.passes)
            .param("processes_per_side", plan.rounds)
            .param("commit_every_event", true)
            .param("cpu_us_per_event", round3(ours.cpu_us_per_item()))
            .param("node", node_version),
        );
        let node_switches = node.as_ref().ok().and_then(Best::switches_per_1k);
        let mut cpu = vs_node(
            format!("peer.replay_{k}k.{label}.cpu"),
            "us/event",
            ours.cpu_us_per_item(),
            &node_cpu,
            Goal::RatioAtMost(0.5),
        )
        .param("events", events)
        .param("measures", "client process CPU (user+sys) per event")
        .param_opt("context_switches_per_1k_events", ours.switches_per_1k())
        .param_opt("node_context_switches_per_1k_events", node_switches);
        // Thread hand-overs cost CPU that no profile of our code shows.
        if cpu.note.is_none()
            && let (Some(o), Some(n)) = (ours.switches_per_1k(), node_switches)
        {
            cpu = cpu.note(format!(
                "client context switches per 1,000 events: ours {o}, node {n}"
            ));
        }
        records.push(cpu);
    }
    records.push(
        Record::new(
            format!("peer.replay_{k}k.vs_bare_decode"),
            "events/s",
            mt.per_second(),
            "bare fastwebsockets + Event::from_slice",
            bare.per_second(),
            Goal::RatioAtLeast(0.8),
        )
        .param("events", events)
        .param("ours_runtime", "multi_thread")
        .param("baseline_runtime", "current_thread"),
    );
    records.push(
        Record::new(
            format!("peer.replay_{k}k.vs_bare_decode.cpu"),
            "us/event",
            mt.cpu_us_per_item(),
            "bare fastwebsockets + Event::from_slice",
            bare.cpu_us_per_item(),
            Goal::None,
        )
        .param("events", events)
        .param_opt("context_switches_per_1k_events", mt.switches_per_1k())
        .param_opt(
            "baseline_context_switches_per_1k_events",
            bare.switches_per_1k(),
        ),
    );
    Ok(records)
}

/// One send result: the pass plus latency percentiles.
struct Sent {
    best: Best,
    p50: f64,
    p99: f64,
}

impl Sent {
    fn from_result(v: &Value) -> Result<Sent, String> {
        let num = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        Ok(Sent {
            best: Best::from_result(v)?,
            p50: num("p50_ms"),
            p99: num("p99_ms"),
        })
    }

    fn better(self, other: Sent) -> Sent {
        if other.best.per_second() > self.best.per_second() {
            other
        } else {
            self
        }
    }
}

fn send(
    runner: &Runner,
    plan: &Plan,
    base: &Value,
    node_version: &str,
) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    for &c in plan.concurrency {
        let spec = |imp: &str, flavour: &str| {
            with(
                base,
                json!({
                    "workload": "send",
                    "impl": imp,
                    "flavour": flavour,
                    "concurrency": c,
                    "seconds": plan.send_seconds,
                }),
            )
        };
        let with_node = plan.node_concurrency.contains(&c);
        let (mut ours, mut bare): (Option<Sent>, Option<Sent>) = (None, None);
        let mut node: Option<Result<Sent, String>> = None;
        for _ in 0..plan.rounds {
            let b = Sent::from_result(
                &runner.ours(&format!("send.c{c}.bare"), &spec("bare", "multi"))?,
            )?;
            bare = Some(match bare {
                Some(x) => x.better(b),
                None => b,
            });
            let o = Sent::from_result(
                &runner.ours(&format!("send.c{c}.ours"), &spec("ours", "multi"))?,
            )?;
            ours = Some(match ours {
                Some(x) => x.better(o),
                None => o,
            });
            if with_node {
                let n = match runner.node(&format!("send.c{c}"), &spec("node", ""))? {
                    Ok(v) => Ok(Sent::from_result(&v)?),
                    Err(why) => Err(why),
                };
                node = Some(match (node, n) {
                    (Some(Ok(a)), Ok(b)) => Ok(a.better(b)),
                    (_, n) => n,
                });
            }
        }
        let (Some(ours), Some(bare)) = (ours, bare) else {
            return Err("no send rounds ran".to_owned());
        };
        records.push(
            Record::new(
                format!("peer.rest.send.c{c}"),
                "msg/s",
                ours.best.per_second(),
                "bare hyper_util",
                bare.best.per_second(),
                Goal::RatioAtLeast(0.85),
            )
            .param("senders", c)
            .param("seconds_per_process", plan.send_seconds)
            .param("processes_per_side", plan.rounds)
            .param("cpu_us_per_request", round3(ours.best.cpu_us_per_item()))
            .param(
                "baseline_cpu_us_per_request",
                round3(bare.best.cpu_us_per_item()),
            )
            .param("p50_ms", round3(ours.p50))
            .param("p99_ms", round3(ours.p99))
            .param("baseline_p50_ms", round3(bare.p50))
            .param("baseline_p99_ms", round3(bare.p99)),
        );
        records.push(
            Record::new(
                format!("peer.rest.send.c{c}.cpu"),
                "us/request",
                ours.best.cpu_us_per_item(),
                "bare hyper_util",
                bare.best.cpu_us_per_item(),
                Goal::None,
            )
            .param("senders", c),
        );
        if let Some(node) = node {
            let rate = node
                .as_ref()
                .map(|n| n.best.per_second())
                .map_err(Clone::clone);
            let mut row = vs_node(
                format!("peer.rest.send.c{c}.vs_node"),
                "msg/s",
                ours.best.per_second(),
                &rate,
                Goal::RatioAtLeast(5.0),
            )
            .param("senders", c)
            .param("node", node_version);
            if let Ok(n) = &node {
                row = row
                    .param("node_cpu_us_per_request", round3(n.best.cpu_us_per_item()))
                    .param("node_p50_ms", round3(n.p50))
                    .param("node_p99_ms", round3(n.p99));
            }
            records.push(row);
        }
    }
    Ok(records)
}

/// KiB per connection after `malloc_trim` (`None` where the client cannot trim).
fn per_conn_trimmed(v: &Value) -> Option<f64> {
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    let n = num("n").filter(|n| *n > 0.0)?;
    Some((num("after_trim_kib")? - num("before_kib")?).max(0.0) / n)
}

/// KiB per connection of an idle result, and its connect time.
fn per_conn(v: &Value) -> Result<(f64, f64), String> {
    let num = |k: &str| v.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let n = num("n");
    if n <= 0.0 {
        return Err("idle result without connections".to_owned());
    }
    Ok((
        (num("after_kib") - num("before_kib")).max(0.0) / n,
        num("connect_secs"),
    ))
}

fn idle(
    runner: &Runner,
    base: &Value,
    tokens: &[String],
    tail: &clickclack_proto::Cursor,
    node_version: &str,
) -> Result<Vec<Record>, String> {
    let spec = |imp: &str| {
        with(
            base,
            json!({
                "workload": "idle",
                "impl": imp,
                "flavour": "multi",
                "tokens": tokens,
                "tail": tail.as_str(),
            }),
        )
    };
    let n = tokens.len();
    let gateway_result = runner.ours("idle.gateway", &spec("gateway"))?;
    let (gateway, gateway_secs) = per_conn(&gateway_result)?;
    let gateway_trimmed = per_conn_trimmed(&gateway_result).map_or(-1.0, round3);
    let (minimal, minimal_secs) = per_conn(&runner.ours("idle.ours", &spec("ours"))?)?;
    let (bare, _) = per_conn(&runner.ours("idle.bare", &spec("bare"))?)?;
    let node = match runner.node("idle", &spec("node"))? {
        Ok(v) => Ok(per_conn(&v)?),
        Err(why) => Err(why),
    };
    let node_kib = node.as_ref().map(|x| x.0).map_err(Clone::clone);
    let node_secs = node.as_ref().map(|x| x.1).map_err(Clone::clone);
    Ok(vec![
        vs_node(
            format!("peer.idle_{n}.gateway"),
            "KiB/account",
            gateway,
            &node_kib,
            Goal::ValueAtMost(32.0),
        )
        .param("accounts", n)
        .param(
            "measures",
            "RSS growth of the gateway process alone / accounts",
        )
        .param("ratio_goal", "<= 0.25 of node's KiB per connection")
        .param("kib_per_account_after_malloc_trim", gateway_trimmed)
        .param("node", node_version),
        vs_node(
            format!("peer.idle_{n}.minimal"),
            "KiB/account",
            minimal,
            &node_kib,
            Goal::None,
        )
        .param("accounts", n)
        .param("measures", "Client + RealtimeStream per account"),
        vs_node(
            format!("peer.idle_{n}.bare"),
            "KiB/account",
            bare,
            &node_kib,
            Goal::None,
        )
        .param("accounts", n)
        .param(
            "measures",
            "bare fastwebsockets socket per account (the floor)",
        ),
        vs_node(
            format!("peer.gateway.startup_{n}"),
            "s",
            gateway_secs,
            &node_secs,
            Goal::ValueBelow(1.0),
        )
        .param("accounts", n)
        .param(
            "measures",
            "gateway start until every account is ready; node: sequential ws connects",
        )
        .param("minimal_sequential_seconds", round3(minimal_secs)),
    ])
}
