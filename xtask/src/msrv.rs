//! The `rust-version` (MSRV) check: every workspace crate declares the lowest
//! Rust that builds it, and that number is true.
//!
//! For each crate it computes the floor from what can be known without an old
//! compiler:
//!
//! 1. the edition (2024 needs Rust 1.85);
//! 2. language features the crate's sources use that clippy's
//!    `incompatible_msrv` lint does not see (let chains need 1.88);
//! 3. the `rust-version` of every package in the crate's normal and build
//!    dependency closure as resolved in `Cargo.lock` (dev-dependencies are left
//!    out: they build tests, not the library users get), sibling crates included.
//!
//! The declared `rust-version` must equal that floor: lower fails to build for
//! users, higher shuts out users for nothing. std APIs newer than the declared
//! version are caught by clippy's `incompatible_msrv` lint, denied for every
//! crate through `[workspace.lints]`; this check also makes sure every crate
//! inherits it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// A Rust version as `(major, minor, patch)`.
type Version = (u64, u64, u64);

/// Let chains (`if let … && …`) were stabilized in Rust 1.88 (edition 2024).
const LET_CHAINS: Version = (1, 88, 0);

/// Parses `"1.85"` / `"1.85.0"` into a comparable `(major, minor, patch)`.
fn parse_version(text: &str) -> Option<Version> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// Formats a version the way `rust-version` writes it (`1.88`, or `1.88.1`).
fn show(v: Version) -> String {
    if v.2 == 0 {
        format!("{}.{}", v.0, v.1)
    } else {
        format!("{}.{}.{}", v.0, v.1, v.2)
    }
}

/// The first Rust release that supports an edition.
fn edition_floor(edition: &str) -> Version {
    match edition {
        "2024" => (1, 85, 0),
        "2021" => (1, 56, 0),
        "2018" => (1, 31, 0),
        _ => (1, 0, 0),
    }
}

/// The highest requirement seen so far and what set it.
struct Floor {
    version: Version,
    reason: String,
}

impl Floor {
    fn raise(&mut self, version: Version, reason: impl FnOnce() -> String) {
        if version > self.version {
            self.version = version;
            self.reason = reason();
        }
    }
}

/// Runs the check, returning a message that names every offending crate.
pub(crate) fn check() -> Result<(), String> {
    let metadata = cargo_metadata()?;
    let root = metadata["workspace_root"]
        .as_str()
        .ok_or("`cargo metadata` printed no workspace_root")?;
    let members: HashSet<&str> = metadata["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let packages: HashMap<&str, &Value> = metadata["packages"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| Some((p["id"].as_str()?, p)))
                .collect()
        })
        .unwrap_or_default();
    let graph = runtime_graph(&metadata);

    let mut problems = Vec::new();
    if let Err(problem) = lint_enabled_in_root(Path::new(root)) {
        problems.push(problem);
    }
    let mut report = BTreeMap::new();
    let mut dev_floor = Floor {
        version: (0, 0, 0),
        reason: String::new(),
    };
    for &id in &members {
        let package = packages[id];
        let name = package["name"].as_str().unwrap_or("?");
        let manifest = package["manifest_path"].as_str().unwrap_or("");
        if !inherits_workspace_lints(Path::new(manifest)) {
            problems.push(format!(
                "{name}: Cargo.toml has no `[lints] workspace = true`, so clippy's \
                 `incompatible_msrv` is not denied there; add it"
            ));
        }
        let Some(declared) = package["rust_version"].as_str().and_then(parse_version) else {
            problems.push(format!("{name}: no `rust-version` declared in Cargo.toml"));
            continue;
        };
        let edition = package["edition"].as_str().unwrap_or("2015");
        let mut floor = Floor {
            version: edition_floor(edition),
            reason: format!("edition {edition}"),
        };
        let src = Path::new(manifest).with_file_name("src");
        if let Some(file) = first_let_chain(&src, Path::new(root)) {
            floor.raise(LET_CHAINS, || format!("let chains ({file})"));
        }
        for dep in closure(id, &graph) {
            let Some(p) = packages.get(dep) else { continue };
            if let Some(v) = p["rust_version"].as_str().and_then(parse_version) {
                floor.raise(v, || {
                    format!(
                        "dependency {} {}",
                        p["name"].as_str().unwrap_or("?"),
                        p["version"].as_str().unwrap_or("?")
                    )
                });
            }
        }
        for dev in dev_dependencies(id, &metadata) {
            if let Some(v) = packages
                .get(dev)
                .and_then(|p| p["rust_version"].as_str())
                .and_then(parse_version)
            {
                dev_floor.raise(v, || {
                    format!("{} (dev-dependency of {name})", packages[dev]["name"])
                });
            }
        }
        if declared < floor.version {
            problems.push(format!(
                "{name}: rust-version {} is too low: {} needs Rust {}; raise it",
                show(declared),
                floor.reason,
                show(floor.version)
            ));
        } else if declared > floor.version {
            problems.push(format!(
                "{name}: rust-version {} is higher than anything needs (the floor is {}, set by {}); \
                 lower it to {} in crates/…/Cargo.toml",
                show(declared),
                show(floor.version),
                floor.reason,
                show(floor.version)
            ));
        }
        report.insert(name.to_owned(), (declared, floor.reason));
    }

    if !problems.is_empty() {
        return Err(format!(
            "rust-version check failed:\n  {}",
            problems.join("\n  ")
        ));
    }
    for (name, (declared, reason)) in &report {
        println!(
            "xtask msrv: {name:<26} rust-version {:<5} (set by {reason})",
            show(*declared)
        );
    }
    if dev_floor.version > (0, 0, 0) {
        println!(
            "xtask msrv: the test suites need Rust {} ({})",
            show(dev_floor.version),
            dev_floor.reason.replace('"', "")
        );
    }
    Ok(())
}

/// `cargo metadata` for the locked dependency graph.
fn cargo_metadata() -> Result<Value, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata --locked` failed (is Cargo.lock up to date?): {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`cargo metadata` printed invalid JSON: {e}"))
}

/// The resolved graph restricted to normal and build edges: package id → dependency ids.
fn runtime_graph(metadata: &Value) -> HashMap<&str, Vec<&str>> {
    let mut graph = HashMap::new();
    for node in metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(id) = node["id"].as_str() else {
            continue;
        };
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].as_str() != Some("dev"))
            })
            .filter_map(|d| d["pkg"].as_str())
            .collect();
        graph.insert(id, deps);
    }
    graph
}

/// The direct dev-dependencies of one package (their own runtime closure is not followed).
fn dev_dependencies<'a>(id: &str, metadata: &'a Value) -> Vec<&'a str> {
    metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["id"].as_str() == Some(id))
        .flat_map(|n| n["deps"].as_array().into_iter().flatten())
        .filter(|d| {
            d["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].as_str() == Some("dev"))
        })
        .filter_map(|d| d["pkg"].as_str())
        .collect()
}

/// Every package reachable from `start` through normal and build edges (not `start` itself).
fn closure<'a>(start: &'a str, graph: &HashMap<&'a str, Vec<&'a str>>) -> HashSet<&'a str> {
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for &dep in graph.get(id).into_iter().flatten() {
            if seen.insert(dep) {
                stack.push(dep);
            }
        }
    }
    seen.remove(start);
    seen
}

/// Checks that the root manifest denies clippy's `incompatible_msrv` for the workspace.
fn lint_enabled_in_root(root: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("could not read the root Cargo.toml: {e}"))?;
    let in_section = text
        .split("\n[")
        .find(|s| s.starts_with("workspace.lints.clippy]"))
        .is_some_and(|s| s.contains("incompatible_msrv = \"deny\""));
    if in_section {
        Ok(())
    } else {
        Err("the root Cargo.toml must deny clippy's MSRV lint: add \
             `incompatible_msrv = \"deny\"` under `[workspace.lints.clippy]`"
            .to_owned())
    }
}

/// Whether a crate's manifest has `[lints]` with `workspace = true`.
fn inherits_workspace_lints(manifest: &Path) -> bool {
    std::fs::read_to_string(manifest).is_ok_and(|text| {
        text.split("\n[")
            .find(|s| s.starts_with("lints]"))
            .is_some_and(|s| s.lines().any(|l| l.trim() == "workspace = true"))
    })
}

/// The first source file under `dir` that uses a let chain, as rustfmt lays them out:
/// `&& let …` anywhere, or an `if let`/`while let` condition continued by a line
/// starting with `&&`.
fn first_let_chain(dir: &Path, root: &Path) -> Option<String> {
    let mut files = Vec::new();
    collect_rs(dir, &mut files);
    files.sort();
    files.into_iter().find_map(|file| {
        let text = std::fs::read_to_string(&file).ok()?;
        uses_let_chain(&text).then(|| {
            file.strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string()
        })
    })
}

/// Whether Rust source text contains a let chain (see [`first_let_chain`]).
fn uses_let_chain(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines.iter().enumerate().any(|(i, line)| {
        if line.starts_with("//") {
            return false;
        }
        if line.contains("&& let ") {
            return true;
        }
        let opens_let = ["if let ", "while let ", "} else if let "]
            .iter()
            .any(|p| line.starts_with(p));
        let inline_chain = opens_let && line.contains(" && ");
        let continued = opens_let
            && !line.ends_with('{')
            && lines.get(i + 1).is_some_and(|next| next.starts_with("&& "));
        inline_chain || continued
    })
}

/// Every `.rs` file below `dir`.
fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::uses_let_chain;

    #[test]
    fn finds_let_chains_as_rustfmt_writes_them() {
        assert!(uses_let_chain("if let Some(x) = a\n    && x > 1\n{\n}"));
        assert!(uses_let_chain("if ready && let Some(x) = a {\n}"));
        assert!(uses_let_chain("if let Some(x) = a && x > 1 {}"));
        assert!(!uses_let_chain("if let Some(x) = a {\n    b && c\n}"));
        assert!(!uses_let_chain("if a && b {\n}"));
    }
}
