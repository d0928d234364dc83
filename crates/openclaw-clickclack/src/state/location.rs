//! Parsing `--state-dir DIR` / `--state postgres://…` into a [`StateLocation`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use super::{FileBackend, PostgresBackend, StateBackend, StateError};

/// The environment variable that selects the state backend when `--state` is absent.
pub const STATE_URL_ENV: &str = "OPENCLAW_CLICKCLACK_STATE_URL";

/// Where the gateway's state lives.
///
/// Parsed from a string: `postgres://…` or `postgresql://…` select
/// PostgreSQL (any URL the PostgreSQL client accepts, e.g.
/// `postgres://gateway:secret@db:5432/clickclack?sslmode=disable` or a Unix
/// socket via `?host=/run/postgresql`); any other `scheme://` is refused; a
/// plain path is a state directory. `Debug` and `Display` never show the
/// password.
#[derive(Clone)]
pub enum StateLocation {
    /// A state directory (files, one process).
    Files(PathBuf),
    /// A PostgreSQL database (a fleet).
    Postgres(PostgresUrl),
}

/// A parsed PostgreSQL URL; the password stays inside.
#[derive(Clone)]
pub struct PostgresUrl {
    config: Box<tokio_postgres::Config>,
    shown: Arc<str>,
}

impl PostgresUrl {
    /// The client configuration (with the password).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// `postgres://user@host:port/db` without password or query.
    pub fn redacted(&self) -> &str {
        &self.shown
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PostgresUrl").field(&self.shown).finish()
    }
}

/// A `--state` value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateLocationError {
    /// A URL with a scheme other than `postgres`/`postgresql`.
    #[error(
        "unsupported state URL scheme \"{scheme}\" (use postgres://user@host/db for a fleet, or a directory path for files)"
    )]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
    },
    /// A PostgreSQL URL the client refuses.
    #[error(
        "invalid PostgreSQL state URL {shown}: {reason} (expected postgres://user:password@host:5432/database)"
    )]
    InvalidUrl {
        /// The URL without credentials.
        shown: String,
        /// What is wrong.
        reason: String,
    },
    /// An empty value.
    #[error("empty state location (give a directory or a postgres:// URL)")]
    Empty,
}

/// Strips the userinfo password and the query of a URL-looking string for messages.
fn scrub(raw: &str) -> String {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return "<state location>".to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

fn shown_from(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = config
                .get_ports()
                .get(i)
                .or_else(|| config.get_ports().first());
            let host = match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match port {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .collect();
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!(
        "postgres://{at}{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
}

impl FromStr for StateLocation {
    type Err = StateLocationError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            return Err(StateLocationError::Empty);
        }
        let Some((scheme, _)) = value.split_once("://") else {
            return Ok(StateLocation::Files(PathBuf::from(value)));
        };
        if !scheme.eq_ignore_ascii_case("postgres") && !scheme.eq_ignore_ascii_case("postgresql") {
            return Err(StateLocationError::UnsupportedScheme {
                scheme: scheme.chars().take(20).collect(),
            });
        }
        let config = tokio_postgres::Config::from_str(value).map_err(|e| {
            StateLocationError::InvalidUrl {
                shown: scrub(value),
                // The client's message names the offending key, never its value.
                reason: e.to_string(),
            }
        })?;
        let shown = shown_from(&config);
        Ok(StateLocation::Postgres(PostgresUrl {
            config: Box::new(config),
            shown: shown.into(),
        }))
    }
}

impl StateLocation {
    /// Opens the backend: takes the state-dir lock, or connects to PostgreSQL
    /// and creates/migrates the schema.
    ///
    /// # Errors
    /// [`StateError::Locked`] when another process holds the directory;
    /// [`StateError::Database`] / [`StateError::SchemaTooNew`] for PostgreSQL.
    pub async fn open(&self) -> Result<Arc<dyn StateBackend>, StateError> {
        match self {
            StateLocation::Files(dir) => Ok(Arc::new(FileBackend::open(dir.clone()).await?)),
            StateLocation::Postgres(url) => Ok(Arc::new(PostgresBackend::connect(url).await?)),
        }
    }

    /// Whether this is a fleet backend (several replicas).
    pub fn is_fleet(&self) -> bool {
        matches!(self, StateLocation::Postgres(_))
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Files(dir) => write!(f, "{}", dir.display()),
            StateLocation::Postgres(url) => f.write_str(url.redacted()),
        }
    }
}

impl fmt::Debug for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::Files(dir) => f.debug_tuple("Files").field(dir).finish(),
            StateLocation::Postgres(url) => f.debug_tuple("Postgres").field(url).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_are_directories_and_urls_are_postgres() {
        assert!(matches!(
            "/var/lib/gw".parse::<StateLocation>(),
            Ok(StateLocation::Files(_))
        ));
        let pg: StateLocation = "postgres://gw:hunter2@db.internal:5433/cc"
            .parse()
            .expect("url");
        assert!(pg.is_fleet());
        assert_eq!(pg.to_string(), "postgres://gw@db.internal:5433/cc");
        assert!(!format!("{pg:?}").contains("hunter2"));
        let sock: StateLocation = "postgresql://gw@/cc?host=/tmp/pg".parse().expect("socket");
        assert_eq!(sock.to_string(), "postgres://gw@/tmp/pg/cc");
    }

    #[test]
    fn bad_locations_say_what_is_wrong_without_the_password() {
        let err = "mysql://a:b@h/d"
            .parse::<StateLocation>()
            .expect_err("scheme");
        assert!(
            err.to_string()
                .contains("unsupported state URL scheme \"mysql\"")
        );
        let err = "postgres://u:hunter2@h/d?nonsense=1"
            .parse::<StateLocation>()
            .expect_err("bad key");
        let text = err.to_string();
        assert!(
            text.contains("invalid PostgreSQL state URL postgres://u@h/d"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(matches!(
            "  ".parse::<StateLocation>(),
            Err(StateLocationError::Empty)
        ));
    }

    proptest! {
        #[test]
        fn parsing_never_panics_nor_leaks_a_password(s in ".{0,60}", pw in "[a-zA-Z0-9]{6,12}") {
            let _ = s.parse::<StateLocation>();
            let url = format!("postgres://u:{pw}@{s}");
            match url.parse::<StateLocation>() {
                Ok(loc) => {
                    prop_assert!(!loc.to_string().contains(&pw));
                    let debug = format!("{loc:?}");
                    prop_assert!(!debug.contains(&pw));
                }
                Err(e) => prop_assert!(!e.to_string().contains(&pw)),
            }
        }
    }
}
