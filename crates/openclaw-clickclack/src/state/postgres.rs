//! The PostgreSQL backend: a fleet of replicas shares one database.
//!
//! One row per account in `clickclack_leases` holds the owner, the epoch,
//! the expiry (by the **database** clock, `now()`), and the committed cursor.
//! Every statement is one atomic `UPDATE … WHERE` on that row, so the fence
//! is the write's own condition: a concurrent acquisition and a stale commit
//! are serialized by the row lock, and the loser re-evaluates its `WHERE`
//! against the winner's row and matches nothing. See [`super::lease`] for
//! the full argument.
//!
//! Connections come from a small pool (`deadpool-postgres`); every operation
//! is bounded by a timeout, and a connection that failed or timed out is
//! discarded rather than returned, so a database restart or a half-open TCP
//! connection heals on the next call. TLS is not built in: reach the
//! database over a private network, a Unix socket, or a TLS sidecar
//! (`docs/deploy.md`).

use std::time::Duration;

use clickclack_proto::Cursor;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::location::PostgresUrl;
use super::{
    Assignment, BackendKind, Grant, LeaseEpoch, LeaseRow, ReplicaId, ReplicaRow, StateBackend,
    StateError, StateFuture, schema,
};

/// Connections per replica: heartbeats, commits of a few accounts at once, status.
const POOL_SIZE: usize = 4;

/// Bound on one statement (and on getting a connection).
const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(3);

/// A PostgreSQL-backed [`StateBackend`].
pub struct PostgresBackend {
    pool: Pool,
    location: String,
    op_timeout: Duration,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// A database error as one line, without credentials or query text.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

fn seconds(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

const HEARTBEAT: &str = "WITH up AS (
        INSERT INTO clickclack_replicas (replica, expires_at)
        VALUES ($1, now() + $2::float8 * interval '1 second')
        ON CONFLICT (replica) DO UPDATE SET expires_at = EXCLUDED.expires_at
        RETURNING replica)
    SELECT replica FROM clickclack_replicas WHERE expires_at > now()
    UNION SELECT replica FROM up ORDER BY 1";

const ACQUIRE: &str = "WITH prev AS (
        SELECT account, owner FROM clickclack_leases WHERE account = $2 FOR UPDATE)
    UPDATE clickclack_leases l
    SET owner = $1,
        epoch = l.epoch + 1,
        expires_at = now() + $3::float8 * interval '1 second',
        acquired_at = now(),
        takeovers = l.takeovers
            + CASE WHEN l.owner IS NOT NULL AND l.owner <> $1 THEN 1 ELSE 0 END
    FROM prev
    WHERE l.account = prev.account
      AND (l.owner IS NULL OR l.expires_at IS NULL OR l.expires_at <= now())
    RETURNING l.epoch, prev.owner";

const RENEW: &str = "UPDATE clickclack_leases l
    SET expires_at = now() + $3::float8 * interval '1 second'
    FROM unnest($2::text[], $4::bigint[]) AS held(account, epoch)
    WHERE l.account = held.account AND l.epoch = held.epoch AND l.owner = $1
    RETURNING l.account";

const RELEASE: &str = "UPDATE clickclack_leases
    SET owner = NULL, expires_at = now()
    WHERE account = $2 AND epoch = $3 AND owner = $1";

const COMMIT: &str = "UPDATE clickclack_leases
    SET cursor_key = $4, cursor = $5, committed_at = now()
    WHERE account = $2 AND epoch = $3 AND owner = $1
    RETURNING account";

const LOAD: &str = "SELECT cursor FROM clickclack_leases WHERE account = $1 AND cursor_key = $2";

const CLAIMABLE: &str = "SELECT account FROM clickclack_leases
    WHERE account = ANY($1::text[])
      AND (owner IS NULL OR expires_at IS NULL OR expires_at <= now())
    ORDER BY account";

const REGISTER: &str = "INSERT INTO clickclack_leases (account)
    SELECT unnest($1::text[]) ON CONFLICT (account) DO NOTHING";

const FORGET_OLD_REPLICAS: &str =
    "DELETE FROM clickclack_replicas WHERE expires_at < now() - interval '1 day'";

const LEAVE: &str = "DELETE FROM clickclack_replicas WHERE replica = $1";

const REPLICAS: &str = "SELECT replica,
        (extract(epoch FROM (expires_at - now())) * 1000)::bigint
    FROM clickclack_replicas ORDER BY expires_at > now() DESC, replica";

const LEASES: &str = "SELECT account, owner, epoch,
        CASE WHEN expires_at IS NULL THEN NULL
             ELSE (extract(epoch FROM (expires_at - now())) * 1000)::bigint END,
        takeovers, cursor
    FROM clickclack_leases ORDER BY account";

impl PostgresBackend {
    /// Connects (a pool of up to four connections) and creates or migrates
    /// the schema.
    ///
    /// # Errors
    /// [`StateError::Database`] when the database cannot be reached or the
    /// migration fails; [`StateError::SchemaTooNew`].
    pub async fn connect(url: &PostgresUrl) -> Result<Self, StateError> {
        let mut config = url.config().clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        if config.get_application_name().is_none() {
            config.application_name("openclaw-clickclack");
        }
        let location = url.redacted().to_owned();
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StateError::Database {
                location: location.clone(),
                what: "connection pool setup",
                reason: e.to_string(),
            })?;
        let backend = PostgresBackend {
            pool,
            location,
            op_timeout: DEFAULT_OP_TIMEOUT,
        };
        let mut client = backend.client("connect").await?;
        let migrated = tokio::time::timeout(
            Duration::from_secs(30),
            schema::migrate(&mut client, &backend.location),
        )
        .await
        .unwrap_or(Err(StateError::Timeout {
            what: "schema migration",
            after: Duration::from_secs(30),
        }));
        if migrated.is_err() {
            let _ = Object::take(client);
        }
        migrated?;
        Ok(backend)
    }

    async fn client(&self, what: &'static str) -> Result<Object, StateError> {
        match tokio::time::timeout(self.op_timeout, self.pool.get()).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(StateError::Database {
                location: self.location.clone(),
                what,
                reason: match e {
                    deadpool_postgres::PoolError::Backend(e) => describe(&e),
                    other => other.to_string(),
                },
            }),
            Err(_) => Err(StateError::Timeout {
                what,
                after: self.op_timeout,
            }),
        }
    }

    /// Runs one prepared statement with a bound; a failed or timed-out
    /// connection is dropped from the pool.
    async fn query(
        &self,
        what: &'static str,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StateError> {
        let client = self.client(what).await?;
        let result = tokio::time::timeout(self.op_timeout, async {
            let statement = client.prepare_cached(sql).await?;
            client.query(&statement, params).await
        })
        .await;
        match result {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => {
                let _ = Object::take(client);
                Err(StateError::Database {
                    location: self.location.clone(),
                    what,
                    reason: describe(&e),
                })
            }
            Err(_) => {
                let _ = Object::take(client);
                Err(StateError::Timeout {
                    what,
                    after: self.op_timeout,
                })
            }
        }
    }
}

impl StateBackend for PostgresBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn register_accounts<'a>(&'a self, accounts: &'a [String]) -> StateFuture<'a, ()> {
        Box::pin(async move {
            let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
            self.query("account registration", REGISTER, &[&accounts])
                .await?;
            self.query("replica cleanup", FORGET_OLD_REPLICAS, &[])
                .await?;
            Ok(())
        })
    }

    fn heartbeat<'a>(
        &'a self,
        replica: &'a ReplicaId,
        ttl: Duration,
    ) -> StateFuture<'a, Vec<ReplicaId>> {
        Box::pin(async move {
            let rows = self
                .query("heartbeat", HEARTBEAT, &[&replica.as_str(), &seconds(ttl)])
                .await?;
            Ok(rows
                .iter()
                .map(|r| ReplicaId(r.get::<_, String>(0)))
                .collect())
        })
    }

    fn leave<'a>(&'a self, replica: &'a ReplicaId) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.query("leave", LEAVE, &[&replica.as_str()]).await?;
            Ok(())
        })
    }

    fn claimable<'a>(&'a self, accounts: &'a [String]) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            let accounts: Vec<&str> = accounts.iter().map(String::as_str).collect();
            let rows = self.query("claimable", CLAIMABLE, &[&accounts]).await?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    fn acquire<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        ttl: Duration,
    ) -> StateFuture<'a, Option<Grant>> {
        Box::pin(async move {
            let rows = self
                .query(
                    "lease acquire",
                    ACQUIRE,
                    &[&replica.as_str(), &account, &seconds(ttl)],
                )
                .await?;
            Ok(rows.first().map(|r| Grant {
                epoch: LeaseEpoch::new(r.get::<_, i64>(0)),
                previous_owner: r.get::<_, Option<String>>(1).map(ReplicaId),
            }))
        })
    }

    fn renew<'a>(
        &'a self,
        replica: &'a ReplicaId,
        held: &'a [(String, LeaseEpoch)],
        ttl: Duration,
    ) -> StateFuture<'a, Vec<String>> {
        Box::pin(async move {
            if held.is_empty() {
                return Ok(Vec::new());
            }
            let accounts: Vec<&str> = held.iter().map(|(a, _)| a.as_str()).collect();
            let epochs: Vec<i64> = held.iter().map(|(_, e)| e.get()).collect();
            let rows = self
                .query(
                    "lease renewal",
                    RENEW,
                    &[&replica.as_str(), &accounts, &seconds(ttl), &epochs],
                )
                .await?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    fn release<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        epoch: LeaseEpoch,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            self.query(
                "lease release",
                RELEASE,
                &[&replica.as_str(), &account, &epoch.get()],
            )
            .await?;
            Ok(())
        })
    }

    fn load_cursor<'a>(
        &'a self,
        account: &'a str,
        key: &'a str,
    ) -> StateFuture<'a, Option<Cursor>> {
        Box::pin(async move {
            let rows = self.query("cursor load", LOAD, &[&account, &key]).await?;
            match rows.first().and_then(|r| r.get::<_, Option<String>>(0)) {
                None => Ok(None),
                Some(c) if c.trim().is_empty() => Ok(None),
                Some(c) if super::file::valid_cursor(&c) => Ok(Some(Cursor::new(c))),
                Some(_) => Err(StateError::Corrupt {
                    what: format!("the cursor of account \"{account}\""),
                }),
            }
        })
    }

    fn commit_cursor<'a>(
        &'a self,
        replica: &'a ReplicaId,
        account: &'a str,
        epoch: LeaseEpoch,
        key: &'a str,
        cursor: &'a Cursor,
    ) -> StateFuture<'a, ()> {
        Box::pin(async move {
            if !super::file::valid_cursor(cursor.as_str()) {
                return Err(StateError::Corrupt {
                    what: format!("a cursor to commit for account \"{account}\""),
                });
            }
            let rows = self
                .query(
                    "cursor commit",
                    COMMIT,
                    &[
                        &replica.as_str(),
                        &account,
                        &epoch.get(),
                        &key,
                        &cursor.as_str(),
                    ],
                )
                .await?;
            // Zero rows: the row's epoch or owner moved on — the fence held.
            if rows.is_empty() {
                return Err(StateError::Fenced {
                    account: account.to_owned(),
                    epoch,
                });
            }
            Ok(())
        })
    }

    fn assignment(&self) -> StateFuture<'_, Assignment> {
        Box::pin(async move {
            let replicas = self
                .query("status", REPLICAS, &[])
                .await?
                .iter()
                .map(|r| ReplicaRow {
                    replica: ReplicaId(r.get::<_, String>(0)),
                    expires_in_ms: r.get::<_, Option<i64>>(1).unwrap_or(i64::MIN),
                })
                .collect();
            let leases = self
                .query("status", LEASES, &[])
                .await?
                .iter()
                .map(|r| LeaseRow {
                    account: r.get(0),
                    owner: r.get::<_, Option<String>>(1).map(ReplicaId),
                    epoch: LeaseEpoch::new(r.get(2)),
                    expires_in_ms: r.get(3),
                    takeovers: r.get(4),
                    cursor: r.get(5),
                })
                .collect();
            Ok(Assignment { replicas, leases })
        })
    }
}
