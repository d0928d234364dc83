//! Secrets: the [`Secret`] type, secret inputs (`token: "…"` or
//! `{source, provider, id}`), and bot-token resolution (reference §1 row 6).
//!
//! Resolution order for one account:
//!
//! 1. `tokenFile` (trimmed path): read synchronously, contents trimmed;
//!    symlinks are rejected; a missing, unreadable or empty file makes the
//!    token *configured but unavailable* — there is no fallback to `token` or
//!    the environment. Diagnostics name the **config path**
//!    (`channels.clickclack.accounts.work.tokenFile`), never the file path.
//! 2. `token` as a non-blank string (trimmed).
//! 3. `token` as an env secret ref `{source: "env", provider, id}`: the
//!    provider must be declared under `secrets.providers` with
//!    `source: "env"` (and, when it has an `allowlist`, list `id`), or be the
//!    default env provider alias (`secrets.defaults.env`, else `"default"`).
//!    `file`/`exec` refs are resolved by an OpenClaw host, so here they are
//!    reported as configured but unavailable.
//! 4. Nothing configured: only the `default` account reads
//!    `CLICKCLACK_BOT_TOKEN` (trimmed). Named accounts never do.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::EnvSource;
use crate::config::reader::{Issues, Obj};

/// Env variable the `default` account falls back to.
pub const BOT_TOKEN_ENV: &str = "CLICKCLACK_BOT_TOKEN";

/// Built-in provider alias for secret refs.
pub const DEFAULT_SECRET_PROVIDER_ALIAS: &str = "default";

/// `code` of a credential-file diagnostic.
pub const CREDENTIAL_FILE_UNAVAILABLE: &str = "CREDENTIAL_FILE_UNAVAILABLE";

/// Largest token file read (bot tokens are short; anything bigger is a mistake).
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// A secret string (a bot token). Its `Debug` and `Display` never show the
/// value; use [`Secret::expose_secret`] where the value is really needed.
///
/// ```
/// use openclaw_clickclack::secrets::Secret;
/// let token = Secret::new("ccb_live_123");
/// assert_eq!(format!("{token:?} {token}"), "Secret([redacted]) [redacted]");
/// assert_eq!(token.expose_secret(), "ccb_live_123");
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Do not log it.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// `true` when the value is the empty string (an unavailable token).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret([redacted])")
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a secret ref points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretSource {
    /// `"env"`: an environment variable.
    Env,
    /// `"file"`: a host-managed secrets file.
    File,
    /// `"exec"`: a host-managed command.
    Exec,
}

impl SecretSource {
    /// The config spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::File => "file",
            Self::Exec => "exec",
        }
    }
}

/// `{source, provider, id}`. `provider` may be omitted, in which case the
/// default alias for the source is used (`secrets.defaults.<source>`, else
/// `"default"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// `source`.
    pub source: SecretSource,
    /// `provider` as written.
    pub provider: Option<String>,
    /// `id` (for env refs: the variable name).
    pub id: String,
}

impl SecretRef {
    /// The provider alias in effect, given the `secrets.defaults` section.
    #[must_use]
    pub fn effective_provider(&self, defaults: &SecretDefaults) -> String {
        if let Some(provider) = self.provider.as_deref().filter(|p| !p.trim().is_empty()) {
            return provider.to_owned();
        }
        let configured = match self.source {
            SecretSource::Env => defaults.env.as_deref(),
            SecretSource::File => defaults.file.as_deref(),
            SecretSource::Exec => defaults.exec.as_deref(),
        };
        configured
            .unwrap_or(DEFAULT_SECRET_PROVIDER_ALIAS)
            .to_owned()
    }
}

/// A secret-accepting config value: a plain string or a [`SecretRef`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretInput {
    /// A literal value (never printed).
    Plain(Secret),
    /// A reference resolved at runtime.
    Ref(SecretRef),
}

impl SecretInput {
    /// "Has a configured value": a non-blank string or any ref (OpenClaw's
    /// `hasConfiguredAccountValue`).
    #[must_use]
    pub fn is_configured(&self) -> bool {
        match self {
            Self::Plain(secret) => !secret.expose_secret().trim().is_empty(),
            Self::Ref(_) => true,
        }
    }
}

/// One `secrets.providers.<name>` entry (only what token resolution reads).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretProviderConfig {
    /// `source` (`env`, `file`, `exec`, or a plugin source).
    pub source: String,
    /// `allowlist` of variable names (env providers).
    pub allowlist: Option<Vec<String>>,
}

/// `secrets.defaults`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretDefaults {
    /// Default env provider alias.
    pub env: Option<String>,
    /// Default file provider alias.
    pub file: Option<String>,
    /// Default exec provider alias.
    pub exec: Option<String>,
}

/// The top-level `secrets` section (providers and defaults).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecretsConfig {
    /// `secrets.providers`.
    pub providers: BTreeMap<String, SecretProviderConfig>,
    /// `secrets.defaults`.
    pub defaults: SecretDefaults,
}

impl SecretsConfig {
    /// The default env provider alias (`secrets.defaults.env` trimmed, else `"default"`).
    #[must_use]
    pub fn default_env_alias(&self) -> &str {
        self.defaults
            .env
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_SECRET_PROVIDER_ALIAS)
    }
}

fn is_provider_alias(value: &str) -> bool {
    let mut bytes = value.bytes();
    value.len() <= 64
        && matches!(bytes.next(), Some(b'a'..=b'z'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

fn is_env_ref_id(value: &str) -> bool {
    let mut bytes = value.bytes();
    value.len() <= 128
        && matches!(bytes.next(), Some(b'A'..=b'Z'))
        && bytes.all(|b| matches!(b, b'A'..=b'Z' | b'0'..=b'9' | b'_'))
}

/// Decodes a secret input (string or strict `{source, provider, id}`).
pub(crate) fn decode_secret_input(
    value: &Value,
    path: &str,
    issues: &mut Issues,
) -> Option<SecretInput> {
    match value {
        Value::String(s) => Some(SecretInput::Plain(Secret::new(s.clone()))),
        Value::Object(_) => {
            let obj = Obj::new(value, path, issues)?;
            obj.deny_unknown(&["source", "provider", "id"], issues);
            let source = match obj.get("source") {
                None => {
                    issues.invalid_value(
                        &obj.child("source"),
                        "required (\"env\", \"file\" or \"exec\")",
                    );
                    None
                }
                Some(Value::String(s)) => match s.as_str() {
                    "env" => Some(SecretSource::Env),
                    "file" => Some(SecretSource::File),
                    "exec" => Some(SecretSource::Exec),
                    _ => {
                        issues.invalid_value(
                            &obj.child("source"),
                            "expected \"env\", \"file\" or \"exec\"",
                        );
                        None
                    }
                },
                Some(other) => {
                    issues.invalid_type(&obj.child("source"), "string", other);
                    None
                }
            };
            let provider = obj.string("provider", issues);
            if let Some(p) = provider.as_deref()
                && !is_provider_alias(p)
            {
                issues.invalid_value(
                        &obj.child("provider"),
                        "Secret reference provider must match /^[a-z][a-z0-9_-]{0,63}$/ (example: \"default\").",
                    );
            }
            let id = match obj.get("id") {
                None => {
                    issues.invalid_value(&obj.child("id"), "required");
                    None
                }
                Some(_) => obj.string("id", issues),
            };
            if let (Some(SecretSource::Env), Some(id)) = (source, id.as_deref()) {
                if !is_env_ref_id(id) {
                    issues.invalid_value(
                        &obj.child("id"),
                        "Env secret reference id must match /^[A-Z][A-Z0-9_]{0,127}$/ (example: \"OPENAI_API_KEY\").",
                    );
                }
            } else if let Some(id) = id.as_deref()
                && id.trim().is_empty()
            {
                issues.invalid_value(&obj.child("id"), "must not be empty");
            }
            Some(SecretInput::Ref(SecretRef {
                source: source?,
                provider,
                id: id?,
            }))
        }
        other => {
            issues.invalid_type(path, "string or secret ref object", other);
            None
        }
    }
}

/// Where the resolved token came from (`tokenSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `CLICKCLACK_BOT_TOKEN` (default account only).
    Env,
    /// `tokenFile`.
    TokenFile,
    /// `token` in the config (a string or a secret ref).
    Config,
    /// Nothing configured.
    None,
}

impl TokenSource {
    /// The reference spelling (`env`, `tokenFile`, `config`, `none`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::TokenFile => "tokenFile",
            Self::Config => "config",
            Self::None => "none",
        }
    }
}

/// Whether a token is usable (`tokenStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// A non-empty token was found.
    Available,
    /// A source is configured but yields nothing (missing file, unset env ref, file/exec ref).
    ConfiguredUnavailable,
    /// No source is configured at all.
    Missing,
}

impl TokenStatus {
    /// The reference spelling (`available`, `configured_unavailable`, `missing`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::ConfiguredUnavailable => "configured_unavailable",
            Self::Missing => "missing",
        }
    }
}

/// Why a token file could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialFileReason {
    /// The file does not exist.
    NotFound,
    /// Not a regular readable UTF-8 file, too large, or empty after trimming.
    InvalidPath,
    /// The path is a symbolic link (rejected).
    Symlink,
}

impl CredentialFileReason {
    /// The reference spelling (`not-found`, `invalid-path`, `symlink`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not-found",
            Self::InvalidPath => "invalid-path",
            Self::Symlink => "symlink",
        }
    }
}

/// A credential diagnostic. Names the config key, never the file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialDiagnostic {
    /// Always [`CREDENTIAL_FILE_UNAVAILABLE`].
    pub code: &'static str,
    /// The config path, e.g. `channels.clickclack.accounts.work.tokenFile`.
    pub path: String,
    /// Why.
    pub reason: CredentialFileReason,
}

impl fmt::Display for CredentialDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: token file unavailable ({})",
            self.path,
            self.reason.as_str()
        )
    }
}

/// A non-fatal credential warning. Names the config key, never the file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialWarning {
    /// The token file can be read by other users (mode `o+r`).
    WorldReadable {
        /// The config path of the `tokenFile` key.
        path: String,
    },
}

impl fmt::Display for CredentialWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WorldReadable { path } => write!(
                f,
                "{path}: the token file is readable by other users; restrict it (chmod 600)"
            ),
        }
    }
}

/// Token resolution errors (reference row 6, verbatim).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The ref's provider is neither declared nor the default env alias.
    #[error("Secret provider \"{provider}\" is not configured (ref: env:{provider}:{id}).")]
    ProviderNotConfigured {
        /// Provider alias.
        provider: String,
        /// Variable name.
        id: String,
    },
    /// The ref's provider is declared with another source.
    #[error(
        "Secret provider \"{provider}\" has source \"{source_kind}\" but ref requests \"env\"."
    )]
    ProviderSourceMismatch {
        /// Provider alias.
        provider: String,
        /// The provider's declared source.
        source_kind: String,
    },
    /// The variable is not in the provider's allowlist.
    #[error(
        "Environment variable \"{id}\" is not allowlisted in secrets.providers.{provider}.allowlist."
    )]
    NotAllowlisted {
        /// Provider alias.
        provider: String,
        /// Variable name.
        id: String,
    },
}

/// The outcome of resolving one account's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedToken {
    /// The token (empty unless `status` is available).
    pub token: Secret,
    /// Where it came from.
    pub source: TokenSource,
    /// Whether it is usable.
    pub status: TokenStatus,
    /// Why a configured token file is unusable.
    pub diagnostics: Vec<CredentialDiagnostic>,
    /// Non-fatal problems (e.g. a world-readable token file).
    pub warnings: Vec<CredentialWarning>,
}

impl ResolvedToken {
    fn new(token: Secret, source: TokenSource, status: TokenStatus) -> Self {
        Self {
            token,
            source,
            status,
            diagnostics: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Inputs for [`resolve_token`]; the account layer fills it from the merged config.
#[derive(Clone, Copy)]
pub struct TokenRequest<'a> {
    /// Normalised account id (`default` enables the env fallback).
    pub account_id: &'a str,
    /// Merged `token`.
    pub token: Option<&'a SecretInput>,
    /// Merged `tokenFile`.
    pub token_file: Option<&'a str>,
    /// Config path reported for `tokenFile` problems.
    pub token_file_config_path: &'a str,
    /// The `secrets` section.
    pub secrets: &'a SecretsConfig,
    /// Environment for env refs, `CLICKCLACK_BOT_TOKEN` and `~` expansion.
    pub env: &'a dyn EnvSource,
}

impl std::fmt::Debug for TokenRequest<'_> {
    /// Never prints the token or the environment: only whether they are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("account_id", &self.account_id)
            .field("token", &self.token.map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("token_file_config_path", &self.token_file_config_path)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

fn trimmed_env(env: &dyn EnvSource, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Resolves one account's bot token; see the module docs for the order.
///
/// # Errors
/// [`SecretError`] for an env ref whose provider is not allowed (exact
/// messages of the TypeScript plugin).
pub fn resolve_token(request: &TokenRequest<'_>) -> Result<ResolvedToken, SecretError> {
    if let Some(file) = request.token_file.map(str::trim).filter(|f| !f.is_empty()) {
        let path = crate::config::path::expand_home(Path::new(file), request.env);
        return Ok(read_token_file(&path, request.token_file_config_path));
    }
    match request.token {
        Some(SecretInput::Plain(secret)) if !secret.expose_secret().trim().is_empty() => {
            Ok(ResolvedToken::new(
                Secret::new(secret.expose_secret().trim()),
                TokenSource::Config,
                TokenStatus::Available,
            ))
        }
        Some(SecretInput::Ref(reference)) => resolve_ref(reference, request),
        _ => {
            if request.account_id == crate::accounts::DEFAULT_ACCOUNT_ID
                && let Some(token) = trimmed_env(request.env, BOT_TOKEN_ENV)
            {
                return Ok(ResolvedToken::new(
                    Secret::new(token),
                    TokenSource::Env,
                    TokenStatus::Available,
                ));
            }
            Ok(ResolvedToken::new(
                Secret::default(),
                TokenSource::None,
                TokenStatus::Missing,
            ))
        }
    }
}

fn resolve_ref(
    reference: &SecretRef,
    request: &TokenRequest<'_>,
) -> Result<ResolvedToken, SecretError> {
    let unavailable = || {
        ResolvedToken::new(
            Secret::default(),
            TokenSource::Config,
            TokenStatus::ConfiguredUnavailable,
        )
    };
    if reference.source != SecretSource::Env {
        // file/exec refs are resolved by an OpenClaw host at runtime.
        return Ok(unavailable());
    }
    check_env_provider(reference, request.secrets)?;
    Ok(match trimmed_env(request.env, &reference.id) {
        Some(token) => ResolvedToken::new(
            Secret::new(token),
            TokenSource::Config,
            TokenStatus::Available,
        ),
        None => unavailable(),
    })
}

/// Checks that an env ref's provider may be used (row 6 rules): declared
/// with `source: "env"` (and, with an allowlist, listing the variable), or
/// the default env alias.
fn check_env_provider(reference: &SecretRef, secrets: &SecretsConfig) -> Result<(), SecretError> {
    let provider = reference.effective_provider(&secrets.defaults);
    let id = reference.id.clone();
    match secrets.providers.get(&provider) {
        Some(config) if config.source == "env" => {
            if let Some(allowlist) = &config.allowlist
                && !allowlist.iter().any(|entry| entry == &id)
            {
                return Err(SecretError::NotAllowlisted { provider, id });
            }
        }
        Some(config) => {
            return Err(SecretError::ProviderSourceMismatch {
                provider,
                source_kind: config.source.clone(),
            });
        }
        None => {
            if provider != secrets.default_env_alias() {
                return Err(SecretError::ProviderNotConfigured { provider, id });
            }
        }
    }
    Ok(())
}

/// Resolves a secret-accepting value other than a bot token (e.g.
/// `gateway.auth.token`): a plain string (`${VAR}` already substituted) is
/// trimmed; an env ref is read from `env` under the same provider rules as
/// bot tokens. `Ok(None)` when the value is blank, the variable is unset,
/// or the ref is a `file`/`exec` ref (those are resolved by an OpenClaw host).
///
/// # Errors
/// [`SecretError`] when an env ref names a provider that is not allowed.
pub fn resolve_secret_input(
    input: &SecretInput,
    secrets: &SecretsConfig,
    env: &dyn EnvSource,
) -> Result<Option<Secret>, SecretError> {
    match input {
        SecretInput::Plain(secret) => {
            let value = secret.expose_secret().trim();
            Ok((!value.is_empty()).then(|| Secret::new(value)))
        }
        SecretInput::Ref(reference) if reference.source == SecretSource::Env => {
            check_env_provider(reference, secrets)?;
            Ok(trimmed_env(env, &reference.id).map(Secret::new))
        }
        SecretInput::Ref(_) => Ok(None),
    }
}

/// Reads a token file: trimmed contents, symlinks rejected, empty → unavailable.
///
/// Problems are reported against `config_path`; the file path never appears
/// in the result or in logs.
#[must_use]
pub fn read_token_file(path: &Path, config_path: &str) -> ResolvedToken {
    let unavailable = |reason| {
        tracing::warn!(
            config_path,
            reason = reason_str(reason),
            "ClickClack token file unavailable"
        );
        let mut resolved = ResolvedToken::new(
            Secret::default(),
            TokenSource::TokenFile,
            TokenStatus::ConfiguredUnavailable,
        );
        resolved.diagnostics.push(CredentialDiagnostic {
            code: CREDENTIAL_FILE_UNAVAILABLE,
            path: config_path.to_owned(),
            reason,
        });
        resolved
    };
    match read_checked(path) {
        Ok((contents, world_readable)) => {
            let token = contents.trim();
            if token.is_empty() {
                return unavailable(CredentialFileReason::InvalidPath);
            }
            let mut resolved = ResolvedToken::new(
                Secret::new(token),
                TokenSource::TokenFile,
                TokenStatus::Available,
            );
            if world_readable {
                tracing::warn!(
                    config_path,
                    "ClickClack token file is readable by other users; restrict it (chmod 600)"
                );
                resolved.warnings.push(CredentialWarning::WorldReadable {
                    path: config_path.to_owned(),
                });
            }
            resolved
        }
        Err(reason) => unavailable(reason),
    }
}

fn reason_str(reason: CredentialFileReason) -> &'static str {
    reason.as_str()
}

/// Opens `path` refusing symlinks and non-regular files; returns the contents
/// and whether other users may read the file.
fn read_checked(path: &Path) -> Result<(String, bool), CredentialFileReason> {
    let link_meta = std::fs::symlink_metadata(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => CredentialFileReason::NotFound,
        _ => CredentialFileReason::InvalidPath,
    })?;
    if link_meta.file_type().is_symlink() {
        return Err(CredentialFileReason::Symlink);
    }
    if !link_meta.is_file() {
        return Err(CredentialFileReason::InvalidPath);
    }
    let file = std::fs::File::open(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => CredentialFileReason::NotFound,
        _ => CredentialFileReason::InvalidPath,
    })?;
    let open_meta = file
        .metadata()
        .map_err(|_| CredentialFileReason::InvalidPath)?;
    if !same_file(&link_meta, &open_meta) {
        // The path was swapped (e.g. for a symlink) between the check and the open.
        return Err(CredentialFileReason::Symlink);
    }
    if open_meta.len() > MAX_TOKEN_FILE_BYTES {
        return Err(CredentialFileReason::InvalidPath);
    }
    let mut contents = String::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut contents)
        .map_err(|_| CredentialFileReason::InvalidPath)?;
    Ok((contents, world_readable(&open_meta)))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() && b.is_file()
}

#[cfg(unix)]
fn world_readable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o004 != 0
}

#[cfg(not(unix))]
fn world_readable(_meta: &std::fs::Metadata) -> bool {
    false
}

/// The path a `tokenFile` value points at after `~` expansion (for tools
/// that need to create the file; never log it next to the token).
#[must_use]
pub fn token_file_path(value: &str, env: &dyn EnvSource) -> PathBuf {
    crate::config::path::expand_home(Path::new(value.trim()), env)
}
