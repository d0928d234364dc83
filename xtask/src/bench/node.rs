//! The Node peer: `xtask/bench-node/peer.mjs` with the `ws` version pinned in
//! `xtask/bench-node/package-lock.json`, installed with `npm ci` into
//! `<target>/bench/node` when `node` and `npm` are on `PATH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Files copied from `xtask/bench-node` into the install directory.
const FILES: [&str; 3] = ["package.json", "package-lock.json", "peer.mjs"];

/// A ready Node peer.
#[derive(Debug)]
pub(crate) struct NodePeer {
    dir: PathBuf,
    /// `node --version`.
    pub(crate) version: String,
}

/// Why there is no Node peer (shown in the rows as `n/a (…)`).
pub(crate) type Unavailable = String;

/// Finds `node` and `npm` and installs the peer; `Err` says why not.
pub(crate) fn prepare(target: &Path) -> Result<NodePeer, Unavailable> {
    let version = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        _ => return Err("node not found".to_owned()),
    };
    match Command::new("npm").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return Err("npm not found".to_owned()),
    }
    let source = super::workspace_root().join("xtask").join("bench-node");
    let dir = target.join("bench").join("node");
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let mut lock_changed = false;
    for file in FILES {
        let from = source.join(file);
        let to = dir.join(file);
        let text = std::fs::read(&from).map_err(|e| format!("read {}: {e}", from.display()))?;
        if std::fs::read(&to).ok().as_deref() != Some(text.as_slice()) {
            lock_changed |= file != "peer.mjs";
            std::fs::write(&to, &text).map_err(|e| format!("write {}: {e}", to.display()))?;
        }
    }
    let installed = dir.join("node_modules").join("ws").join("package.json");
    if lock_changed || !installed.is_file() {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("npm ci: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci failed in {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(NodePeer { dir, version })
}

impl NodePeer {
    /// Runs `node peer.mjs SPEC` and parses its JSON line.
    pub(crate) fn run(&self, spec: &Path) -> Result<serde_json::Value, String> {
        let out = Command::new("node")
            .arg("--expose-gc")
            .arg("peer.mjs")
            .arg(spec)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("node: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "node peer failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        super::peer::last_json_line(&out.stdout, "node peer")
    }
}
