//! Where the OpenClaw config file lives.

use std::path::{Path, PathBuf};

use super::env::EnvSource;
use super::error::ConfigError;

/// Environment variable that overrides the config file location.
pub const CONFIG_PATH_ENV: &str = "OPENCLAW_CONFIG_PATH";

/// The default location, relative to the home directory.
pub const DEFAULT_CONFIG_RELATIVE: &str = ".openclaw/openclaw.json";

/// Picks the config file: `--config PATH` if given, else `OPENCLAW_CONFIG_PATH`
/// (when not blank), else `~/.openclaw/openclaw.json`.
///
/// A leading `~/` in either explicit value is expanded with `HOME`.
///
/// # Errors
/// [`ConfigError::NoConfigPath`] when the default is needed and `HOME` is
/// unset or blank.
///
/// ```
/// use std::path::Path;
/// use openclaw_clickclack::config::{MapEnv, resolve_config_path};
///
/// let env = MapEnv::new().with("HOME", "/home/ada");
/// assert_eq!(
///     resolve_config_path(None, &env)?,
///     Path::new("/home/ada/.openclaw/openclaw.json"),
/// );
/// let env = env.with("OPENCLAW_CONFIG_PATH", "~/cfg/openclaw.json5");
/// assert_eq!(resolve_config_path(None, &env)?, Path::new("/home/ada/cfg/openclaw.json5"));
/// assert_eq!(
///     resolve_config_path(Some(Path::new("/etc/oc.json")), &env)?,
///     Path::new("/etc/oc.json"),
/// );
/// # Ok::<(), openclaw_clickclack::config::ConfigError>(())
/// ```
pub fn resolve_config_path(
    cli: Option<&Path>,
    env: &dyn EnvSource,
) -> Result<PathBuf, ConfigError> {
    if let Some(path) = cli {
        return Ok(expand_home(path, env));
    }
    if let Some(value) = env.var(CONFIG_PATH_ENV) {
        let trimmed = value.trim();
        if !trimmed.is_empty() {
            return Ok(expand_home(Path::new(trimmed), env));
        }
    }
    let home = home_dir(env).ok_or(ConfigError::NoConfigPath)?;
    Ok(home.join(DEFAULT_CONFIG_RELATIVE))
}

fn home_dir(env: &dyn EnvSource) -> Option<PathBuf> {
    env.var("HOME")
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Expands a leading `~` / `~/` with `HOME`; other paths are returned as is.
pub(crate) fn expand_home(path: &Path, env: &dyn EnvSource) -> PathBuf {
    let Some(text) = path.to_str() else {
        return path.to_path_buf();
    };
    let rest = if text == "~" {
        Some("")
    } else {
        text.strip_prefix("~/")
    };
    match (rest, home_dir(env)) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}
