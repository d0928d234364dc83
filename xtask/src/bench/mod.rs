//! `cargo xtask bench [--quick] [--server external|in-process] [--json PATH]
//! [--only GROUP[.WORKLOAD],…]`: every layer measured against `clickclack-testkit` on
//! loopback, each number next to a baseline measured in the same run
//! (issues 8 and 17).
//!
//! `bench` builds `clickclack-dev` and re-invokes itself as
//! `cargo run --release -p xtask -- bench-run …` so the measurement code is
//! optimised; `bench-run` does the measuring. The in-process groups run the
//! testkit inside the bench process; the `peer` group (default
//! `--server external`) runs `clickclack-dev` in its own process and every
//! client — ours, the bare baselines and the Node peer — in its own process,
//! so CPU and memory are the client's alone. The table goes to stdout, the
//! rows to `<target>/bench/latest.json` and a picture of every goal to
//! `<target>/bench/latest.svg`.

mod client;
mod cpu;
mod decode;
mod external;
mod gateway;
mod harness;
mod node;
mod peer;
mod picture;
mod realtime;
mod report;
mod rest;
mod scale;

use std::path::PathBuf;
use std::time::Instant;

use report::Record;

/// The benchmark groups, in the order they run.
const GROUPS: [&str; 6] = ["decode", "rest", "realtime", "peer", "gateway", "scale"];

/// Parsed `bench` / `bench-run` arguments.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Seconds-long smoke run (CI).
    pub(crate) quick: bool,
    /// Where the JSON goes (default `<target>/bench/latest.json`).
    pub(crate) json: Option<PathBuf>,
    /// Only these groups (default: all).
    pub(crate) only: Vec<String>,
    /// Only these workloads of the `peer` group (`--only peer.idle`;
    /// default: all of them).
    pub(crate) peer_workloads: Vec<String>,
    /// `true` (default, `--server external`): run the `peer` group against
    /// `clickclack-dev` in its own process; `--server in-process` skips it.
    pub(crate) external: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            quick: false,
            json: None,
            only: Vec::new(),
            peer_workloads: Vec::new(),
            external: true,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--json" => {
                    let path = it.next().ok_or("--json needs a path")?;
                    options.json = Some(PathBuf::from(path));
                }
                "--only" => {
                    let list = it.next().ok_or("--only needs a group list")?;
                    for item in list.split(',').map(str::trim).filter(|g| !g.is_empty()) {
                        let (group, workload) = match item.split_once('.') {
                            Some((g, w)) => (g, Some(w)),
                            None => (item, None),
                        };
                        if !GROUPS.contains(&group) {
                            return Err(format!(
                                "unknown bench group `{group}` (groups: {})",
                                GROUPS.join(", ")
                            ));
                        }
                        if let Some(workload) = workload {
                            if group != "peer" || !peer::WORKLOADS.contains(&workload) {
                                return Err(format!(
                                    "unknown bench workload `{item}` (workloads: {})",
                                    peer::WORKLOADS.map(|w| format!("peer.{w}")).join(", ")
                                ));
                            }
                            options.peer_workloads.push(workload.to_owned());
                        }
                        if !options.only.iter().any(|g| g == group) {
                            options.only.push(group.to_owned());
                        }
                    }
                }
                "--server" => {
                    options.external = match it.next().map(String::as_str) {
                        Some("external") => true,
                        Some("in-process") => false,
                        other => {
                            return Err(format!(
                                "--server needs `external` or `in-process`, got {}",
                                other.unwrap_or("nothing")
                            ));
                        }
                    };
                }
                other => return Err(format!("unknown bench option `{other}`")),
            }
        }
        Ok(options)
    }

    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.quick {
            args.push("--quick".to_owned());
        }
        if let Some(path) = &self.json {
            args.push("--json".to_owned());
            args.push(path.display().to_string());
        }
        if !self.only.is_empty() {
            let mut only = self.only.clone();
            if !self.peer_workloads.is_empty() {
                only.retain(|g| g != "peer");
                only.extend(self.peer_workloads.iter().map(|w| format!("peer.{w}")));
            }
            args.push("--only".to_owned());
            args.push(only.join(","));
        }
        args.push("--server".to_owned());
        args.push(
            if self.external {
                "external"
            } else {
                "in-process"
            }
            .to_owned(),
        );
        args
    }

    fn runs(&self, group: &str) -> bool {
        if group == "peer" && !self.external {
            return false;
        }
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }

    /// Whether the `peer` group runs `workload` (`replay`, `send`, `idle`).
    fn runs_peer(&self, workload: &str) -> bool {
        self.peer_workloads.is_empty() || self.peer_workloads.iter().any(|w| w == workload)
    }
}

/// `cargo xtask bench …`: builds xtask in release mode and runs `bench-run`.
pub(crate) fn bench(args: &[String]) -> Result<(), String> {
    let options = Options::parse(args)?;
    let started = Instant::now();
    if options.runs("peer") {
        crate::cargo(
            &[
                "build",
                "--release",
                "--quiet",
                "--package",
                "clickclack-testkit",
                "--bin",
                "clickclack-dev",
            ],
            &[],
        )?;
    }
    let mut cargo_args = vec![
        "run".to_owned(),
        "--release".to_owned(),
        "--quiet".to_owned(),
        "--package".to_owned(),
        "xtask".to_owned(),
        "--".to_owned(),
        "bench-run".to_owned(),
    ];
    cargo_args.extend(options.to_args());
    let refs: Vec<&str> = cargo_args.iter().map(String::as_str).collect();
    crate::cargo(&refs, &[])?;
    println!(
        "xtask bench: done in {:.1} s (release build + run)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `bench-run …`: runs the benchmarks in this (release) process.
pub(crate) fn bench_run(args: &[String]) -> Result<(), String> {
    harness::raise_fd_limit();
    match args.first().map(String::as_str) {
        Some("--probe") => return scale::run_probe(&args[1..]),
        Some("--client") => return client::run_client(&args[1..]),
        _ => {}
    }
    let options = Options::parse(args)?;
    if cfg!(debug_assertions) {
        eprintln!("xtask bench: warning: not a release build; numbers are meaningless");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("could not start the tokio runtime: {e}"))?;
    let started = Instant::now();
    let mut records: Vec<Record> = Vec::new();
    for group in GROUPS {
        if !options.runs(group) {
            continue;
        }
        let group_started = Instant::now();
        eprintln!("xtask bench: running {group}…");
        let result = match group {
            "decode" => runtime.block_on(decode::run(&options)),
            "rest" => runtime.block_on(rest::run(&options)),
            "realtime" => runtime.block_on(realtime::run(&options)),
            "peer" => runtime.block_on(peer::run(&options)),
            "gateway" => runtime.block_on(gateway::run(&options)),
            _ => runtime.block_on(scale::run(&options)),
        };
        match result {
            Ok(mut rows) => records.append(&mut rows),
            Err(e) => records.push(Record::failed(group, &e)),
        }
        eprintln!(
            "xtask bench: {group} took {:.1} s",
            group_started.elapsed().as_secs_f64()
        );
    }
    let elapsed = started.elapsed();
    let path = options.json.clone().unwrap_or_else(default_json_path);
    report::print_table(&records);
    report::write_json(&path, &records, &options, elapsed)?;
    let svg = path.with_extension("svg");
    picture::write(&svg, &records)?;
    println!(
        "xtask bench: measured in {:.1} s; JSON written to {}, picture to {}",
        elapsed.as_secs_f64(),
        path.display(),
        svg.display()
    );
    if records.iter().any(Record::is_failure) {
        return Err("some benchmarks failed to run (see the table)".to_owned());
    }
    Ok(())
}

/// `<target dir>/bench/latest.json`.
fn default_json_path() -> PathBuf {
    target_dir().join("bench").join("latest.json")
}

/// `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The workspace root (xtask's parent directory).
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
