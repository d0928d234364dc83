//! `cargo xtask release [--dry-run] <crate> <version>`: prepares one crate's release.
//!
//! 1. checks the version: semver, and newer than the current one (or equal to
//!    it when that version was never tagged `<crate>-v<version>`: a first release);
//! 2. checks the crate's `CHANGELOG.md` (Keep a Changelog): either a
//!    `## [<version>] - <date>` section with entries already exists, or the
//!    `## [Unreleased]` section has entries and becomes `## [<version>] - <today>`
//!    under a fresh, empty `## [Unreleased]`;
//! 3. sets `version = "<version>"` in the crate's `Cargo.toml` and updates the
//!    requirement in the root `[workspace.dependencies]` entry, which every
//!    dependent crate inherits, then refreshes `Cargo.lock`;
//! 4. runs `cargo publish --dry-run --workspace --exclude xtask` (every crate
//!    packaged and built against the packaged versions of its siblings).
//!
//! With `--dry-run` the edited files are restored afterwards, whatever happened;
//! without it the edits stay for you to commit, and publishing is left to you
//! (`cargo publish -p <crate>`): this command never uploads anything.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A semantic version `major.minor.patch` (pre-release and build metadata kept as text).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SemVer {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
}

impl SemVer {
    fn parse(text: &str) -> Option<Self> {
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, pre.to_owned()),
            None => (text, String::new()),
        };
        let core = core.split('+').next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = SemVer {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
            pre,
        };
        parts.next().is_none().then_some(v)
    }

    /// Whether `self` is a newer release than `old` (a pre-release sorts before its release).
    fn is_newer_than(&self, old: &SemVer) -> bool {
        let key = |v: &SemVer| (v.major, v.minor, v.patch, v.pre.is_empty());
        key(self) > key(old) || (key(self) == key(old) && self.pre > old.pre && !old.pre.is_empty())
    }
}

/// Entry point: parses the arguments and runs the release steps.
pub(crate) fn release(args: &[String]) -> Result<(), String> {
    let usage = "usage: cargo xtask release [--dry-run] <crate> <version>";
    let dry_run = args.iter().any(|a| a == "--dry-run");
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--dry-run").collect();
    let [name, version] = rest.as_slice() else {
        return Err(usage.to_owned());
    };
    if let Some(flag) = rest.iter().find(|a| a.starts_with('-')) {
        return Err(format!("unknown option `{flag}`; {usage}"));
    }
    let new = SemVer::parse(version).ok_or_else(|| {
        format!("`{version}` is not a semantic version (major.minor.patch, e.g. 0.2.0)")
    })?;

    let root = workspace_root()?;
    let (manifest, current) = find_crate(name)?;
    let old = SemVer::parse(&current)
        .ok_or_else(|| format!("{name}: its current version `{current}` is not semver"))?;
    let first_release = new == old && !tag_exists(&format!("{name}-v{current}"));
    if !new.is_newer_than(&old) && !first_release {
        return Err(format!(
            "{name} is at {current}; {version} is not newer (the same version is allowed only \
             for a first release, before the tag `{name}-v{current}` exists)"
        ));
    }
    let crate_dir = manifest
        .parent()
        .ok_or("a crate manifest has no parent directory")?;
    let changelog = crate_dir.join("CHANGELOG.md");
    let changelog_text =
        read(&changelog).map_err(|e| format!("{name}: {e}; every crate keeps a CHANGELOG.md"))?;
    let released_changelog = release_changelog(&changelog_text, version, &today())
        .map_err(|e| format!("{}: {e}", changelog.display()))?;

    let root_manifest = root.join("Cargo.toml");
    let lockfile = root.join("Cargo.lock");
    let saved: Vec<(PathBuf, String)> = [&manifest, &root_manifest, &lockfile, &changelog]
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|text| ((*p).clone(), text))
                .map_err(|e| format!("could not read {}: {e}", p.display()))
        })
        .collect::<Result<_, _>>()?;

    let outcome = write(&changelog, &released_changelog).and_then(|()| {
        if first_release {
            println!("xtask release: {name} {current} was never tagged: releasing it as is");
            publish_dry_run()
        } else {
            bump(&manifest, &root_manifest, name, &current, version)
                .and_then(|()| publish_dry_run())
        }
    });
    if dry_run {
        for (path, text) in &saved {
            std::fs::write(path, text)
                .map_err(|e| format!("could not restore {}: {e}", path.display()))?;
        }
        println!("xtask release: dry run; CHANGELOG.md, Cargo.toml files and Cargo.lock restored");
    }
    outcome?;
    if dry_run {
        println!(
            "xtask release: {name} {version} is ready to release (changelog, bump, publish dry run)"
        );
    } else {
        println!(
            "xtask release: {name} bumped to {version}; commit, tag `{name}-v{version}`, then `cargo publish -p {name}`"
        );
    }
    Ok(())
}

/// Edits the versions and refreshes the lockfile.
fn bump(
    manifest: &Path,
    root_manifest: &Path,
    name: &str,
    current: &str,
    version: &str,
) -> Result<(), String> {
    let text = read(manifest)?;
    let bumped = set_package_version(&text, current, version).ok_or_else(|| {
        format!(
            "{}: no `version = \"{current}\"` line in [package]",
            manifest.display()
        )
    })?;
    write(manifest, &bumped)?;

    let root_text = read(root_manifest)?;
    match set_workspace_dependency_version(&root_text, name, version) {
        Some(updated) => write(root_manifest, &updated)?,
        None => println!(
            "xtask release: {name} is not in [workspace.dependencies]; no dependent requirement to update"
        ),
    }
    println!("xtask release: {name} {current} -> {version}");
    crate::cargo(&["update", "--workspace", "--offline"], &[])
        .or_else(|_| crate::cargo(&["update", "--workspace"], &[]))
}

/// `cargo publish --dry-run --workspace --exclude xtask`: packages every published crate and
/// builds each against the packaged versions of its siblings.
///
/// Cargo unpacks those sibling packages into `$CARGO_HOME/registry/src/-<hash>/<crate>-<version>`
/// (the hash names the checkout's `target/package` directory) and reuses an unpacked directory
/// whenever name and version match, so on a machine that ran the dry run before at the same path,
/// a crate whose version was not bumped is built against the *old* sources of its siblings.
/// Cargo also never rebuilds a registry package whose name and version it has built before, so
/// the compiled artifacts of the workspace crates are removed too (`cargo clean -p`).
pub(crate) fn publish_dry_run() -> Result<(), String> {
    let packages = published_packages()?;
    remove_unpacked_packages(&packages)?;
    for (name, _) in &packages {
        crate::cargo(&["clean", "--quiet", "-p", name], &[])?;
    }
    crate::cargo(
        &[
            "publish",
            "--dry-run",
            "--workspace",
            "--exclude",
            "xtask",
            "--allow-dirty",
        ],
        &[],
    )
}

/// Removes the unpacked copies of these packages left by earlier publish dry runs.
fn remove_unpacked_packages(packages: &[(String, String)]) -> Result<(), String> {
    let Some(cargo_home) = cargo_home() else {
        return Ok(());
    };
    let Ok(sources) = std::fs::read_dir(cargo_home.join("registry").join("src")) else {
        return Ok(());
    };
    for source in sources.flatten() {
        // Registries from the network are `<name>-<hash>`; the dry run's local one has no name.
        if !source.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for (name, version) in packages {
            let unpacked = source.path().join(format!("{name}-{version}"));
            if unpacked.is_dir() {
                std::fs::remove_dir_all(&unpacked).map_err(|e| {
                    format!(
                        "could not remove the stale unpacked package {}: {e}",
                        unpacked.display()
                    )
                })?;
            }
        }
    }
    Ok(())
}

/// `$CARGO_HOME`, or `~/.cargo` when it is not set.
fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
}

/// Name and version of every workspace crate that is published.
fn published_packages() -> Result<Vec<(String, String)>, String> {
    let metadata = metadata()?;
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Ok(metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or("")))
        .filter(|p| !p["publish"].as_array().is_some_and(Vec::is_empty))
        .filter_map(|p| {
            Some((
                p["name"].as_str()?.to_owned(),
                p["version"].as_str()?.to_owned(),
            ))
        })
        .collect())
}

/// Whether git knows the tag (a version already released).
fn tag_exists(tag: &str) -> bool {
    std::process::Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/tags/{tag}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Converts days since 1970-01-01 to a proleptic Gregorian `(year, month, day)`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The changelog with `version` released: an existing `## [<version>]` section with
/// entries is kept as is; otherwise the `## [Unreleased]` entries move under
/// `## [<version>] - <date>` below a fresh, empty `## [Unreleased]`.
fn release_changelog(text: &str, version: &str, date: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let section = |heading: &str| lines.iter().position(|l| l.starts_with(heading));
    let has_entries = |start: usize| {
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.starts_with("## "))
            .any(|l| l.trim_start().starts_with("- "))
    };
    let heading = format!("## [{version}]");
    if let Some(at) = section(&heading) {
        return if has_entries(at) {
            Ok(text.to_owned())
        } else {
            Err(format!(
                "the `{heading}` section lists no change (`- …` under `### Added`, `### Changed`, …)"
            ))
        };
    }
    let Some(at) = section("## [Unreleased]") else {
        return Err(format!(
            "no `{heading} - YYYY-MM-DD` section and no `## [Unreleased]` section to release"
        ));
    };
    if !has_entries(at) {
        return Err(format!(
            "`## [Unreleased]` lists no change: write what {version} changes (`- …` under `### Added`, \
             `### Changed`, `### Fixed`, …) before releasing"
        ));
    }
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out[at] = format!("{heading} - {date}");
    out.insert(at, String::new());
    out.insert(at, "## [Unreleased]".to_owned());
    let mut joined = out.join("\n");
    if text.ends_with('\n') {
        joined.push('\n');
    }
    Ok(joined)
}

/// Replaces the first `version = "<current>"` line of the `[package]` table.
fn set_package_version(manifest: &str, current: &str, version: &str) -> Option<String> {
    let mut in_package = false;
    let mut done = false;
    let mut out = String::with_capacity(manifest.len());
    for line in manifest.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_package = trimmed == "[package]";
        }
        if in_package && !done && trimmed == format!("version = \"{current}\"") {
            out.push_str(&line.replace(current, version));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    done.then_some(out)
}

/// Updates `version = "…"` in `<name> = { path = …, version = "…" }` of `[workspace.dependencies]`.
fn set_workspace_dependency_version(root: &str, name: &str, version: &str) -> Option<String> {
    let mut changed = false;
    let mut out = String::with_capacity(root.len());
    for line in root.split_inclusive('\n') {
        let key = format!("{name} = {{");
        if !changed && line.trim_start().starts_with(&key) && line.contains("path =") {
            let start = line.find("version = \"")? + "version = \"".len();
            let end = start + line[start..].find('"')?;
            out.push_str(&line[..start]);
            out.push_str(version);
            out.push_str(&line[end..]);
            changed = true;
        } else {
            out.push_str(line);
        }
    }
    changed.then_some(out)
}

/// The workspace root from `cargo metadata`.
fn workspace_root() -> Result<PathBuf, String> {
    let metadata = metadata()?;
    metadata["workspace_root"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| "`cargo metadata` printed no workspace_root".to_owned())
}

/// The manifest path and current version of a publishable workspace crate.
fn find_crate(name: &str) -> Result<(PathBuf, String), String> {
    let metadata = metadata()?;
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut publishable = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        if !members.contains(&package["id"].as_str().unwrap_or("")) {
            continue;
        }
        let unpublished = package["publish"].as_array().is_some_and(Vec::is_empty);
        let package_name = package["name"].as_str().unwrap_or("?");
        if package_name == name {
            if unpublished {
                return Err(format!(
                    "{name} has `publish = false`; it is never released"
                ));
            }
            let manifest = package["manifest_path"].as_str().unwrap_or("");
            let version = package["version"].as_str().unwrap_or("");
            return Ok((PathBuf::from(manifest), version.to_owned()));
        }
        if !unpublished {
            publishable.push(package_name.to_owned());
        }
    }
    publishable.sort();
    Err(format!(
        "no workspace crate named `{name}`; the published crates are: {}",
        publishable.join(", ")
    ))
}

fn metadata() -> Result<Value, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("could not run `cargo metadata`: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo metadata` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("`cargo metadata` printed invalid JSON: {e}"))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("could not read {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("could not write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_semver() {
        let v = |s| SemVer::parse(s).unwrap();
        assert!(v("0.2.0").is_newer_than(&v("0.1.9")));
        assert!(v("0.1.0").is_newer_than(&v("0.1.0-rc.1")));
        assert!(v("0.1.0-rc.2").is_newer_than(&v("0.1.0-rc.1")));
        assert!(!v("0.1.0").is_newer_than(&v("0.1.0")));
        assert!(!v("0.1.0-rc.1").is_newer_than(&v("0.1.0")));
        assert!(SemVer::parse("1.2").is_none());
        assert!(SemVer::parse("1.2.3.4").is_none());
    }

    #[test]
    fn bumps_only_the_package_version() {
        let manifest = "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\nb = { version = \"0.1.0\" }\n";
        let out = set_package_version(manifest, "0.1.0", "0.2.0").unwrap();
        assert!(out.contains("[package]\nname = \"a\"\nversion = \"0.2.0\"\n"));
        assert!(out.contains("b = { version = \"0.1.0\" }"));
        assert!(set_package_version(manifest, "9.9.9", "0.2.0").is_none());
    }

    #[test]
    fn bumps_the_workspace_requirement_of_one_crate() {
        let root = "[workspace.dependencies]\nclickclack-proto = { path = \"crates/clickclack-proto\", version = \"0.1.0\" }\nclickclack-proto-x = { path = \"x\", version = \"0.1.0\" }\n";
        let out = set_workspace_dependency_version(root, "clickclack-proto", "0.2.0").unwrap();
        assert!(out.contains(
            "clickclack-proto = { path = \"crates/clickclack-proto\", version = \"0.2.0\" }"
        ));
        assert!(out.contains("clickclack-proto-x = { path = \"x\", version = \"0.1.0\" }"));
    }

    #[test]
    fn changelog_releases_the_unreleased_entries() {
        let text = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- a thing\n\n## [0.1.0] - 2025-01-01\n\n### Added\n\n- first\n";
        let out = release_changelog(text, "0.2.0", "2026-01-02").unwrap();
        assert!(out.starts_with("# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-01-02\n\n### Added\n\n- a thing\n"), "{out}");
        assert_eq!(release_changelog(text, "0.1.0", "x").unwrap(), text);
        let empty =
            "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2025-01-01\n\n### Added\n\n- first\n";
        let err = release_changelog(empty, "0.2.0", "x").unwrap_err();
        assert!(err.contains("lists no change"), "{err}");
        let err = release_changelog("# Changelog\n", "0.2.0", "x").unwrap_err();
        assert!(
            err.contains("no `## [0.2.0] - YYYY-MM-DD` section"),
            "{err}"
        );
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
