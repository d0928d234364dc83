//! Project automation, run as `cargo xtask <command>`.
//!
//! `ci` runs exactly what CI runs: formatting, clippy, the README's test
//! command, docs with warnings denied, the MSRV check, the dependency policy
//! (`cargo deny`), the publish dry run and the benchmark smoke run.

use std::process::{Command, ExitCode};

mod bench;
mod chaos;
mod chaos_engine;
mod chaos_fleet;
mod demo;
mod fuzz;
mod msrv;
mod release;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo::demo(&args[1..]),
        Some("msrv") => msrv::check(),
        Some("bench") => bench::bench(&args[1..]),
        Some("bench-run") => bench::bench_run(&args[1..]),
        Some("chaos") => chaos::chaos(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("release") => release::release(&args[1..]),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown xtask command `{other}`; run `cargo xtask help`"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         commands:\n  \
         demo   [--keep]: testkit + the real gateway (model mode, stub model); posts, threads, DMs and prints the answers\n  \
         ci     fmt --check, clippy -D warnings, cargo test --workspace, docs (-D warnings), msrv check,\n         \
         cargo deny (licenses, bans, sources), publish dry run, bench --quick\n  \
         bench  [--quick] [--server external|in-process] [--json PATH] [--only decode,rest,realtime,peer,gateway,scale]: release-mode benchmarks vs same-run baselines (peer: clickclack-dev and each client in its own process, with the Node peer); writes target/bench/latest.json and latest.svg\n  \
         chaos  [--minutes N] [--seed S] [--accounts N]: a real gateway process under seeded faults; lost = 0, duplicated = 0\n         \
         --fleet N: N replicas on a throwaway PostgreSQL; SIGKILL/SIGSTOP replicas, PostgreSQL restarts; takeover p50/p99\n  \
         fuzz   [--cases N]: the bad-input property tests with many more cases\n  \
         msrv   check that every crate's rust-version is the lowest its edition, language features and locked dependencies allow\n  \
         release [--dry-run] <crate> <version>: changelog entry, version bump (and dependents' requirements), publish dry run"
    );
}

/// Runs every CI step in order and stops at the first failure.
fn ci() -> Result<(), String> {
    cargo(&["fmt", "--all", "--", "--check"], &[])?;
    cargo(
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    // The README's test command, verbatim.
    cargo(&["test", "--workspace"], &[])?;
    cargo(
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    msrv::check()?;
    cargo(&["deny", "check", "licenses", "bans", "sources"], &[])?;
    // Packages every published crate and builds it against its siblings' packages.
    release::publish_dry_run()?;
    // Smoke only: checks the benchmarks run, never that a goal is met.
    bench::bench(&["--quick".to_owned()])?;
    println!("xtask ci: all steps passed");
    Ok(())
}

/// Runs `cargo <args>` with extra environment variables, failing on a non-zero exit.
pub(crate) fn cargo(args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    println!("xtask: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("could not run `{cargo}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed ({status})", args.join(" ")))
    }
}
