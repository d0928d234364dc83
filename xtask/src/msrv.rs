//! The `rust-version` check: every workspace crate declares the workspace's
//! `rust-version`, and no resolved dependency declares a newer one.

use std::process::Command;

use serde_json::Value;

/// Parses `"1.85"` / `"1.85.0"` into a comparable `(major, minor, patch)`.
fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some((major, minor, patch))
}

/// Runs the check, returning a message that names every offending package.
pub(crate) fn check() -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`cargo metadata` printed invalid JSON: {e}"))?;
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();

    let mut workspace_msrv: Option<(u64, u64, u64)> = None;
    let mut problems = Vec::new();
    for package in packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or("")))
    {
        let name = package["name"].as_str().unwrap_or("?");
        match package["rust_version"].as_str().and_then(parse_version) {
            None => problems.push(format!("{name}: no `rust-version` declared")),
            Some(v) => match workspace_msrv {
                None => workspace_msrv = Some(v),
                Some(w) if w != v => {
                    problems.push(format!("{name}: rust-version {v:?} differs from {w:?}"))
                }
                Some(_) => {}
            },
        }
    }
    let msrv = workspace_msrv.ok_or("no workspace member declares a rust-version")?;
    for package in packages
        .iter()
        .filter(|p| !members.contains(&p["id"].as_str().unwrap_or("")))
    {
        if let Some(needed) = package["rust_version"].as_str().and_then(parse_version)
            && needed > msrv
        {
            problems.push(format!(
                "dependency {} {} needs Rust {}.{}.{}, newer than the declared {}.{}.{}",
                package["name"].as_str().unwrap_or("?"),
                package["version"].as_str().unwrap_or("?"),
                needed.0,
                needed.1,
                needed.2,
                msrv.0,
                msrv.1,
                msrv.2
            ));
        }
    }
    if problems.is_empty() {
        println!(
            "xtask msrv: every crate declares Rust {}.{}.{}; no dependency needs newer",
            msrv.0, msrv.1, msrv.2
        );
        Ok(())
    } else {
        Err(format!(
            "rust-version check failed:\n  {}",
            problems.join("\n  ")
        ))
    }
}
