//! `channels add clickclack`: turn the reference's flags (row 48) or a bot
//! setup code (row 49) into config writes, and apply them to the user's
//! config file in place.
//!
//! 1. [`AddRequest::validate`] checks the flags with the plugin's strings;
//! 2. a `--code` is claimed ([`code::claim`]); the token it returns (or a
//!    `--token`) is written to a token file with mode 0600 — never into the
//!    config file — unless `--use-env` keeps it in `CLICKCLACK_BOT_TOKEN`;
//! 3. [`apply`] edits the config through [`crate::json5_tree::Json5Edit`]:
//!    only the keys below are set or removed; comments, key order, quoting
//!    and every other key are kept byte for byte.
//!
//! Write rules (plugin row 48): `--use-env` removes `token` and `tokenFile`;
//! a token file removes `token`; `enabled: true` is set; `workspace` and
//! `defaultTo` are trimmed; named account ids are normalised
//! (`"Work Team"` → `work-team`) and written under `accounts.<id>`.
//!
//! Legacy single-account configs (the account's keys directly under
//! `channels.clickclack`): adding a *named* account first moves the root's
//! account-scoped keys ([`PROMOTED_ROOT_KEYS`]) into `accounts.default`, as
//! the OpenClaw host's setup does. Otherwise the new account would inherit
//! the root token and run the same bot twice. `baseUrl`, `workspace` and the
//! policy keys stay at the root, shared by every account.

pub mod code;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::accounts::{DEFAULT_ACCOUNT_ID, normalize_account_id};
use crate::errors::setup;
use crate::json5_tree::Json5Edit;

/// `--code` together with another token source.
pub const CODE_CONFLICT: &str =
    "ClickClack --code cannot be combined with --token, --token-file, or --use-env.";

/// What the user asked for (the flags, as given).
#[derive(Debug, Clone, Default)]
pub struct AddRequest {
    /// `--account` (default: `default`).
    pub account: Option<String>,
    /// `--code`.
    pub code: Option<String>,
    /// `--token` (never printed).
    pub token: Option<String>,
    /// `--token-file`.
    pub token_file: Option<PathBuf>,
    /// `--base-url`.
    pub base_url: Option<String>,
    /// `--workspace`.
    pub workspace: Option<String>,
    /// `--default-to`.
    pub default_to: Option<String>,
    /// `--allow-from` (repeatable, comma-separated values split).
    pub allow_from: Vec<String>,
    /// `--agent-activity`.
    pub agent_activity: bool,
    /// `--use-env`.
    pub use_env: bool,
}

/// `url` trimmed, checked to be http(s), one trailing `/` removed.
///
/// # Errors
/// `ClickClack base URL must be a valid http(s) URL.`
pub fn normalize_base_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim();
    if !crate::config::reader::is_http_url(trimmed) || trimmed.parse::<http::Uri>().is_err() {
        return Err(setup::INVALID_BASE_URL.to_owned());
    }
    Ok(trimmed.strip_suffix('/').unwrap_or(trimmed).to_owned())
}

/// Where the token ends up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPlan {
    /// `CLICKCLACK_BOT_TOKEN` (`--use-env`).
    Env,
    /// This file; `write` holds a token to write into it first.
    File {
        /// The token file.
        path: PathBuf,
        /// Whether to (over)write it with a new token.
        write: bool,
    },
}

impl AddRequest {
    /// The normalised account id.
    #[must_use]
    pub fn account_id(&self) -> String {
        self.account
            .as_deref()
            .map_or_else(|| DEFAULT_ACCOUNT_ID.to_owned(), normalize_account_id)
    }

    /// Checks flag combinations (before any network or file access).
    ///
    /// `existing` is the current config, for `--use-env` reusing its
    /// `baseUrl`/`workspace`.
    ///
    /// # Errors
    /// The plugin's validation strings.
    pub fn validate(&self, existing: Option<&Json5Edit>) -> Result<(), String> {
        let account_id = self.account_id();
        if self.code.is_some()
            && (self.token.is_some() || self.token_file.is_some() || self.use_env)
        {
            return Err(CODE_CONFLICT.to_owned());
        }
        if self.use_env && account_id != DEFAULT_ACCOUNT_ID {
            return Err(setup::ENV_TOKEN_DEFAULT_ONLY.to_owned());
        }
        if let Some(url) = &self.base_url {
            normalize_base_url(url)?;
        }
        if self.code.is_some() {
            return Ok(());
        }
        // The account's own key, else the root's (which every account inherits).
        let existing_value = |key: &str| {
            let existing = existing?;
            let prefix = account_prefix(existing, &account_id);
            existing
                .get(&with_key(&prefix, key))
                .or_else(|| existing.get(&["channels", "clickclack", key]))
                .and_then(|v| v.as_str().map(str::to_owned))
                .filter(|v| !v.trim().is_empty())
        };
        let has_token = self.use_env || self.token.is_some() || self.token_file.is_some();
        let has_base =
            self.base_url.is_some() || (self.use_env && existing_value("baseUrl").is_some());
        let has_workspace = self
            .workspace
            .as_deref()
            .is_some_and(|w| !w.trim().is_empty())
            || (self.use_env && existing_value("workspace").is_some());
        if !(has_token && has_base && has_workspace) {
            return Err(setup::REQUIRES_FLAGS.to_owned());
        }
        if self.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(setup::REQUIRES_FLAGS.to_owned());
        }
        Ok(())
    }

    /// Where the token goes: `--use-env` → the environment; `--token-file`
    /// (written when a token comes with it); otherwise
    /// `<config dir>/credentials/clickclack-<account>.token`.
    #[must_use]
    pub fn token_plan(&self, config_path: &Path, have_new_token: bool) -> TokenPlan {
        if self.use_env {
            return TokenPlan::Env;
        }
        let path = self.token_file.clone().unwrap_or_else(|| {
            config_path
                .parent()
                .unwrap_or_else(|| Path::new("."))
                .join("credentials")
                .join(format!("clickclack-{}.token", self.account_id()))
        });
        TokenPlan::File {
            path,
            write: have_new_token,
        }
    }
}

/// The config values one `channels add` writes (already decided).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountWrite {
    /// Normalised account id.
    pub account_id: String,
    /// `baseUrl`.
    pub base_url: Option<String>,
    /// `workspace` (trimmed).
    pub workspace: Option<String>,
    /// `tokenFile` (None with `--use-env`).
    pub token_file: Option<PathBuf>,
    /// `--use-env`.
    pub use_env: bool,
    /// `defaultTo` (trimmed).
    pub default_to: Option<String>,
    /// `allowFrom`.
    pub allow_from: Option<Vec<String>>,
    /// `agentActivity: true`.
    pub agent_activity: Option<bool>,
}

/// Root keys that belong to the implicit `default` account and move to
/// `accounts.default` when a named account is added to a single-account
/// config (the ClickClack keys of the host's single-account promotion list).
pub const PROMOTED_ROOT_KEYS: &[&str] = &["name", "token", "tokenFile", "allowFrom", "defaultTo"];

/// Moves [`PROMOTED_ROOT_KEYS`] from the root of `channels.clickclack` into
/// `accounts.default`, when `accounts` is absent or empty and the root has
/// any of them. Returns the keys moved.
fn promote_legacy_root(edit: &mut Json5Edit) -> Result<Vec<&'static str>, String> {
    let accounts = edit.get(&["channels", "clickclack", "accounts"]);
    if accounts
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|a| !a.is_empty())
    {
        return Ok(Vec::new());
    }
    let mut moved = Vec::new();
    for key in PROMOTED_ROOT_KEYS {
        let Some(value) = edit.get(&["channels", "clickclack", key]) else {
            continue;
        };
        edit.set(
            &[
                "channels",
                "clickclack",
                "accounts",
                DEFAULT_ACCOUNT_ID,
                key,
            ],
            &value,
        )
        .map_err(|e| format!("cannot update the config: {e}"))?;
        edit.remove(&["channels", "clickclack", key]);
        moved.push(*key);
    }
    Ok(moved)
}

/// `channels.clickclack` (the legacy single-account root, for `default`
/// while no `accounts.default` exists) or `channels.clickclack.accounts.<id>`.
fn account_prefix(edit: &Json5Edit, account_id: &str) -> Vec<String> {
    let mut path = vec!["channels".to_owned(), "clickclack".to_owned()];
    let promoted = edit
        .get(&["channels", "clickclack", "accounts", DEFAULT_ACCOUNT_ID])
        .is_some();
    if account_id != DEFAULT_ACCOUNT_ID || promoted {
        path.push("accounts".to_owned());
        path.push(account_id.to_owned());
    }
    path
}

fn with_key<'a>(prefix: &'a [String], key: &'a str) -> Vec<&'a str> {
    prefix
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(key))
        .collect()
}

/// Applies `write` to the document (see the module docs for the rules).
///
/// # Errors
/// When a key on the way is not an object (e.g. `channels: 3`).
pub fn apply(edit: &mut Json5Edit, write: &AccountWrite) -> Result<(), String> {
    if write.account_id != DEFAULT_ACCOUNT_ID {
        promote_legacy_root(edit)?;
    }
    let prefix = account_prefix(edit, &write.account_id);
    let set = |edit: &mut Json5Edit, key: &str, value: Value| {
        edit.set(&with_key(&prefix, key), &value)
            .map_err(|e| format!("cannot update the config: {e}"))
    };
    if write.use_env {
        edit.remove(&with_key(&prefix, "token"));
        edit.remove(&with_key(&prefix, "tokenFile"));
    } else if let Some(file) = &write.token_file {
        edit.remove(&with_key(&prefix, "token"));
        set(edit, "tokenFile", json!(file.to_string_lossy()))?;
    }
    if let Some(url) = &write.base_url {
        set(edit, "baseUrl", json!(url))?;
    }
    if let Some(workspace) = &write.workspace {
        set(edit, "workspace", json!(workspace.trim()))?;
    }
    if let Some(default_to) = &write.default_to {
        set(edit, "defaultTo", json!(default_to.trim()))?;
    }
    if let Some(allow_from) = &write.allow_from {
        set(edit, "allowFrom", json!(allow_from))?;
    }
    if let Some(on) = write.agent_activity {
        set(edit, "agentActivity", json!(on))?;
    }
    set(edit, "enabled", json!(true))?;
    if write.account_id != DEFAULT_ACCOUNT_ID {
        // A disabled root would disable the new account too.
        if edit.get(&["channels", "clickclack", "enabled"]) == Some(json!(false)) {
            edit.set(&["channels", "clickclack", "enabled"], &json!(true))
                .map_err(|e| format!("cannot update the config: {e}"))?;
        }
    }
    Ok(())
}

/// Writes `token` to `path` with mode 0600 (the file is replaced; a symlink
/// at `path` is refused; parent directories are created with mode 0700).
///
/// # Errors
/// I/O problems, naming the file.
pub fn write_token_file(path: &Path, token: &str) -> Result<(), String> {
    let fail =
        |why: &dyn std::fmt::Display| format!("cannot write token file {}: {why}", path.display());
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(fail(
            &"it is a symbolic link; remove it or choose another --token-file",
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        create_private_dir(dir).map_err(|e| fail(&e))?;
    }
    let tmp = path.with_extension("token.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| fail(&e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| fail(&e))?;
    }
    file.write_all(format!("{}\n", token.trim()).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes the edited config: to a temporary file next to it, then renamed
/// over it (a crash never leaves half a config). A new file gets mode 0600.
///
/// # Errors
/// I/O problems, naming the file.
pub fn write_config(path: &Path, text: &str) -> Result<(), String> {
    let fail = |why: &dyn std::fmt::Display| format!("cannot write {}: {why}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        create_private_dir(dir).map_err(|e| fail(&e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap_or(0o600);
        options.mode(mode);
    }
    let mut file = options.open(&tmp).map_err(|e| fail(&e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| fail(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> AddRequest {
        AddRequest {
            token: Some("ccb_x".to_owned()),
            base_url: Some("http://127.0.0.1:8080/".to_owned()),
            workspace: Some(" default ".to_owned()),
            ..AddRequest::default()
        }
    }

    #[test]
    fn validation_strings() {
        assert_eq!(request().validate(None), Ok(()));
        let mut r = request();
        r.code = Some("X".to_owned());
        assert_eq!(r.validate(None).unwrap_err(), CODE_CONFLICT);
        let r = AddRequest {
            use_env: true,
            account: Some("Work".to_owned()),
            ..AddRequest::default()
        };
        assert_eq!(r.validate(None).unwrap_err(), setup::ENV_TOKEN_DEFAULT_ONLY);
        let r = AddRequest {
            token: Some("ccb_x".to_owned()),
            ..AddRequest::default()
        };
        assert_eq!(r.validate(None).unwrap_err(), setup::REQUIRES_FLAGS);
        let mut r = request();
        r.base_url = Some("ftp://x".to_owned());
        assert_eq!(r.validate(None).unwrap_err(), setup::INVALID_BASE_URL);
        let existing =
            Json5Edit::new("{channels: {clickclack: {baseUrl: 'http://a', workspace: 'w'}}}")
                .unwrap();
        let r = AddRequest {
            use_env: true,
            ..AddRequest::default()
        };
        assert_eq!(r.validate(Some(&existing)), Ok(()));
        assert_eq!(
            normalize_base_url(" https://x.example/ "),
            Ok("https://x.example".to_owned())
        );
    }

    #[test]
    fn writes_follow_the_plugin_rules() {
        let mut edit = Json5Edit::new(
            "// mine\n{\n  channels: {\n    clickclack: {\n      token: 'ccb_old', // old\n      replyMode: 'model',\n    },\n  },\n}\n",
        )
        .unwrap();
        apply(
            &mut edit,
            &AccountWrite {
                account_id: "default".to_owned(),
                base_url: Some("http://h".to_owned()),
                workspace: Some(" w ".to_owned()),
                token_file: Some(PathBuf::from("/t/token")),
                ..AccountWrite::default()
            },
        )
        .unwrap();
        let text = edit.text();
        assert!(text.starts_with("// mine\n"), "{text}");
        assert!(!text.contains("ccb_old"), "{text}");
        let value: Value = json5::from_str(text).unwrap();
        assert_eq!(
            value["channels"]["clickclack"],
            json!({"replyMode": "model", "tokenFile": "/t/token", "baseUrl": "http://h", "workspace": "w", "enabled": true})
        );
        apply(
            &mut edit,
            &AccountWrite {
                account_id: "default".to_owned(),
                use_env: true,
                ..AccountWrite::default()
            },
        )
        .unwrap();
        let value: Value = json5::from_str(edit.text()).unwrap();
        assert_eq!(value["channels"]["clickclack"].get("tokenFile"), None);
    }

    #[test]
    fn adding_a_named_account_moves_the_legacy_root_to_accounts_default() {
        let mut edit = Json5Edit::new(
            "{ channels: { clickclack: { baseUrl: 'http://h', workspace: 'w', token: 'ccb_root', defaultTo: 'channel:ops', replyMode: 'model' } } }",
        )
        .unwrap();
        let work = AccountWrite {
            account_id: "work".to_owned(),
            token_file: Some(PathBuf::from("/t/work")),
            ..AccountWrite::default()
        };
        apply(&mut edit, &work).unwrap();
        let value: Value = json5::from_str(edit.text()).unwrap();
        assert_eq!(
            value["channels"]["clickclack"],
            json!({
                "baseUrl": "http://h", "workspace": "w", "replyMode": "model",
                "accounts": {
                    "default": {"token": "ccb_root", "defaultTo": "channel:ops"},
                    "work": {"tokenFile": "/t/work", "enabled": true},
                },
            })
        );
        // Later writes for `default` go to accounts.default, not the root.
        apply(
            &mut edit,
            &AccountWrite {
                account_id: "default".to_owned(),
                token_file: Some(PathBuf::from("/t/default")),
                ..AccountWrite::default()
            },
        )
        .unwrap();
        let value: Value = json5::from_str(edit.text()).unwrap();
        assert_eq!(
            value["channels"]["clickclack"]["accounts"]["default"],
            json!({"tokenFile": "/t/default", "defaultTo": "channel:ops", "enabled": true})
        );
        assert_eq!(value["channels"]["clickclack"].get("token"), None);
        // A config that already has named accounts is left as it is.
        let mut edit = Json5Edit::new(
            "{ channels: { clickclack: { token: 'ccb_root', accounts: { ops: { token: 'ccb_ops' } } } } }",
        )
        .unwrap();
        apply(&mut edit, &work).unwrap();
        let value: Value = json5::from_str(edit.text()).unwrap();
        assert_eq!(value["channels"]["clickclack"]["token"], json!("ccb_root"));
    }

    #[test]
    fn token_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds").join("t.token");
        write_token_file(&path, " ccb_secret \n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "ccb_secret\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
