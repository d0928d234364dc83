//! `${VAR}` substitution in config strings, as OpenClaw does it at load time.
//!
//! * `${NAME}` where `NAME` matches `[A-Z_][A-Z0-9_]*` is replaced by the
//!   variable's value; an unset **or empty** variable is an error naming the
//!   config path (`Missing env var "NAME" referenced at config path: …`).
//! * `$${NAME}` is an escape and produces the literal text `${NAME}`.
//! * Anything else (`${lower}`, `$NAME`, a lone `$`, an unclosed `${`) is left
//!   untouched.
//! * `${pass:…}` / `${gopass:…}` (OpenClaw's password-store lookups) are
//!   recognised but not supported here: they fail with an error naming the
//!   path instead of being passed through as a literal.
//! * Only string values are substituted, never keys.

use serde_json::Value;

use super::env::EnvSource;

/// A substitution failure. Messages match OpenClaw's and name the config path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubstitutionError {
    /// `${NAME}` names an unset or empty variable.
    #[error("Missing env var \"{name}\" referenced at config path: {path}")]
    MissingEnvVar {
        /// The variable name.
        name: String,
        /// The config path of the string, e.g. `channels.clickclack.token`.
        path: String,
    },
    /// `${pass:…}` / `${gopass:…}` with a malformed secret path.
    #[error("Invalid secret reference \"{reference}\" at config path: {path}")]
    InvalidSecretReference {
        /// The text between `${` and `}`.
        reference: String,
        /// The config path of the string.
        path: String,
    },
    /// `${pass:…}` / `${gopass:…}`: password-store lookups are not supported.
    #[error(
        "Unsupported secret reference \"{reference}\" at config path: {path} (pass/gopass lookups are not supported; use an env var or a SecretRef)"
    )]
    UnsupportedSecretReference {
        /// The text between `${` and `}`.
        reference: String,
        /// The config path of the string.
        path: String,
    },
}

enum Reference<'a> {
    Env(&'a str),
    Secret,
    InvalidSecret,
}

fn is_env_name(raw: &str) -> bool {
    let mut bytes = raw.bytes();
    matches!(bytes.next(), Some(b'A'..=b'Z' | b'_'))
        && bytes.all(|b| matches!(b, b'A'..=b'Z' | b'0'..=b'9' | b'_'))
}

fn is_secret_path(path: &str) -> bool {
    if path.is_empty() || path.starts_with('/') || path.ends_with('/') || path.contains("//") {
        return false;
    }
    path.split('/').all(|segment| {
        if segment == "." || segment == ".." {
            return false;
        }
        let mut bytes = segment.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    })
}

fn parse_reference(raw: &str) -> Option<Reference<'_>> {
    if is_env_name(raw) {
        return Some(Reference::Env(raw));
    }
    let (backend, path) = raw.split_once(':')?;
    if backend != "pass" && backend != "gopass" {
        return None;
    }
    Some(if is_secret_path(path) {
        Reference::Secret
    } else {
        Reference::InvalidSecret
    })
}

/// Substitutes one string found at `path`.
///
/// # Errors
/// See [`SubstitutionError`].
///
/// ```
/// use openclaw_clickclack::config::{MapEnv, substitute_str};
///
/// let env = MapEnv::new().with("TOKEN", "ccb_1");
/// assert_eq!(substitute_str("Bearer ${TOKEN}", "a.b", &env)?, "Bearer ccb_1");
/// assert_eq!(substitute_str("$${TOKEN}", "a.b", &env)?, "${TOKEN}");
/// assert_eq!(substitute_str("${lower} $5", "a.b", &env)?, "${lower} $5");
/// assert_eq!(
///     substitute_str("${NOPE}", "channels.clickclack.token", &env).unwrap_err().to_string(),
///     "Missing env var \"NOPE\" referenced at config path: channels.clickclack.token",
/// );
/// # Ok::<(), openclaw_clickclack::config::SubstitutionError>(())
/// ```
pub fn substitute_str(
    value: &str,
    path: &str,
    env: &dyn EnvSource,
) -> Result<String, SubstitutionError> {
    if !value.contains('$') {
        return Ok(value.to_owned());
    }
    let bytes = value.as_bytes();
    let mut out = String::with_capacity(value.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        // `$${REF}` → literal `${REF}` (only when REF is a recognised reference).
        if bytes.get(i + 1) == Some(&b'$')
            && bytes.get(i + 2) == Some(&b'{')
            && let Some((raw, end)) = braced(value, i + 3)
            && parse_reference(raw).is_some()
        {
            out.push_str(&value[copied..i]);
            out.push_str("${");
            out.push_str(raw);
            out.push('}');
            i = end + 1;
            copied = i;
            continue;
        }
        if bytes.get(i + 1) == Some(&b'{')
            && let Some((raw, end)) = braced(value, i + 2)
        {
            match parse_reference(raw) {
                Some(Reference::Env(name)) => {
                    let resolved = env.var(name).filter(|v| !v.is_empty()).ok_or_else(|| {
                        SubstitutionError::MissingEnvVar {
                            name: name.to_owned(),
                            path: path.to_owned(),
                        }
                    })?;
                    out.push_str(&value[copied..i]);
                    out.push_str(&resolved);
                    i = end + 1;
                    copied = i;
                    continue;
                }
                Some(Reference::InvalidSecret) => {
                    return Err(SubstitutionError::InvalidSecretReference {
                        reference: raw.to_owned(),
                        path: path.to_owned(),
                    });
                }
                Some(Reference::Secret) => {
                    return Err(SubstitutionError::UnsupportedSecretReference {
                        reference: raw.to_owned(),
                        path: path.to_owned(),
                    });
                }
                None => {}
            }
        }
        i += 1;
    }
    out.push_str(&value[copied..]);
    Ok(out)
}

/// The text from `start` to the next `}` and the index of that `}`.
fn braced(value: &str, start: usize) -> Option<(&str, usize)> {
    let tail = value.get(start..)?;
    let offset = tail.find('}')?;
    Some((&tail[..offset], start + offset))
}

/// Joins a child key onto a dotted path (OpenClaw style: `a.b`, `a[0]`).
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Substitutes every string inside `value` (recursively), in place.
///
/// `path` is the config path of `value` itself (`""` for the document root).
///
/// # Errors
/// The first [`SubstitutionError`] met, in key order.
pub fn substitute_value(
    value: &mut Value,
    path: &str,
    env: &dyn EnvSource,
) -> Result<(), SubstitutionError> {
    match value {
        Value::String(text) => {
            if text.contains('$') {
                *text = substitute_str(text, path, env)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                substitute_value(item, &format!("{path}[{index}]"), env)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                substitute_value(item, &child_path(path, key), env)?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}
