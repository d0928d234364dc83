//! Config loading errors. Messages name the file and the full key path, and
//! never echo a configured value (it might be a token).

use std::fmt;
use std::path::PathBuf;

use super::substitute::SubstitutionError;

/// Where a config document came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A file on disk.
    File(PathBuf),
    /// Text passed in directly (shown as `<inline config>`).
    Inline,
}

impl fmt::Display for ConfigOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "{}", path.display()),
            Self::Inline => f.write_str("<inline config>"),
        }
    }
}

/// What is wrong at one key path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IssueKind {
    /// The key is not part of the schema (strict objects only).
    UnknownKey,
    /// The value has the wrong JSON type.
    InvalidType {
        /// What the schema wants (`string`, `boolean`, `array of strings`, …).
        expected: &'static str,
        /// The JSON type found (`number`, `null`, …).
        found: &'static str,
    },
    /// The value has the right type but is not acceptable.
    InvalidValue(String),
}

/// One schema problem at one key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Full dotted key path, e.g. `channels.clickclack.accounts.peter.tokn`.
    pub path: String,
    /// What is wrong.
    pub kind: IssueKind,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IssueKind::UnknownKey => write!(f, "{}: unknown key", self.path),
            IssueKind::InvalidType { expected, found } => {
                write!(f, "{}: expected {expected}, found {found}", self.path)
            }
            IssueKind::InvalidValue(message) => write!(f, "{}: {message}", self.path),
        }
    }
}

/// Failure to locate, read, parse or validate the OpenClaw config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No `--config`, no `OPENCLAW_CONFIG_PATH`, and no `HOME` for the default.
    #[error(
        "cannot locate the OpenClaw config: pass --config PATH or set OPENCLAW_CONFIG_PATH (HOME is not set)"
    )]
    NoConfigPath,
    /// The config file does not exist.
    #[error("OpenClaw config file not found: {}", .path.display())]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The config file exists but could not be read.
    #[error("cannot read OpenClaw config file {}: {source}", .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is larger than [`super::MAX_CONFIG_BYTES`].
    #[error(
        "OpenClaw config file {} is {size} bytes, over the {} MiB limit: is it the right file?",
        .path.display(),
        super::MAX_CONFIG_BYTES / (1024 * 1024)
    )]
    TooLarge {
        /// The config file.
        path: PathBuf,
        /// Its size in bytes (at least the bytes read).
        size: u64,
    },
    /// The text is not valid JSON5.
    #[error("{origin}: invalid JSON5: {message}")]
    Syntax {
        /// Where the text came from.
        origin: ConfigOrigin,
        /// Parser message with a 1-based line and column.
        message: String,
    },
    /// `${VAR}` substitution failed.
    #[error("{origin}: {source}")]
    Substitution {
        /// Where the text came from.
        origin: ConfigOrigin,
        /// What failed, naming the config path.
        #[source]
        source: SubstitutionError,
    },
    /// The document parsed but does not match the schema.
    #[error("{origin}: {}", IssueList(.issues))]
    Invalid {
        /// Where the text came from.
        origin: ConfigOrigin,
        /// Every problem found, in key order.
        issues: Vec<ConfigIssue>,
    },
}

impl ConfigError {
    /// The schema problems, if this is a validation error.
    #[must_use]
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            Self::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

struct IssueList<'a>(&'a [ConfigIssue]);

impl fmt::Display for IssueList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("invalid config"),
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems", many.len())?;
                for issue in many {
                    write!(f, "\n  - {issue}")?;
                }
                Ok(())
            }
        }
    }
}
