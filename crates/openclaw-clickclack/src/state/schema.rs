//! The PostgreSQL schema, created and migrated by the gateway itself.
//!
//! `clickclack_schema` holds one row: the version. On connect,
//! [`migrate`] takes a transaction-scoped advisory lock (so replicas that
//! start together migrate once), reads the version, refuses a database newer
//! than this build, applies every missing step in order and records the new
//! version — all in one transaction: a failed step leaves the old schema.
//! Steps are append-only: never edit a released one, add the next.

use deadpool_postgres::Object;

use super::StateError;

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i32 = 1;

/// Arbitrary constant key of the migration advisory lock ("ccfleet1").
const MIGRATION_LOCK_KEY: i64 = 0x6363_666c_6565_7431;

/// Migration steps; step `i` brings the schema from version `i` to `i + 1`.
const STEPS: &[&str] = &[
    // 1: replicas (membership by heartbeat) and one lease row per account,
    //    holding the committed cursor so that the fence is the write's own WHERE.
    "CREATE TABLE clickclack_replicas (
        replica     text PRIMARY KEY,
        started_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL
    );
    CREATE TABLE clickclack_leases (
        account      text PRIMARY KEY,
        owner        text,
        epoch        bigint NOT NULL DEFAULT 0,
        expires_at   timestamptz,
        acquired_at  timestamptz,
        takeovers    bigint NOT NULL DEFAULT 0,
        cursor_key   text,
        cursor       text,
        committed_at timestamptz
    );",
];

/// Creates or upgrades the schema to [`SCHEMA_VERSION`].
pub(crate) async fn migrate(client: &mut Object, location: &str) -> Result<(), StateError> {
    let db = |what: &'static str| {
        move |e: tokio_postgres::Error| StateError::Database {
            location: location.to_owned(),
            what,
            reason: super::postgres::describe(&e),
        }
    };
    let tx = client.transaction().await.map_err(db("schema migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .map_err(db("schema migration lock"))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS clickclack_schema (version integer NOT NULL)")
        .await
        .map_err(db("schema version table"))?;
    let found: Option<i32> = tx
        .query_one("SELECT max(version) FROM clickclack_schema", &[])
        .await
        .map_err(db("schema version read"))?
        .get(0);
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StateError::SchemaTooNew {
            location: location.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return tx.commit().await.map_err(db("schema migration commit"));
    }
    for (i, step) in STEPS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.batch_execute(step)
            .await
            .map_err(db("schema migration step"))?;
        tracing::info!(version = i + 1, "state database schema migrated");
    }
    tx.execute("DELETE FROM clickclack_schema", &[])
        .await
        .map_err(db("schema version write"))?;
    tx.execute(
        "INSERT INTO clickclack_schema (version) VALUES ($1)",
        &[&SCHEMA_VERSION],
    )
    .await
    .map_err(db("schema version write"))?;
    tx.commit().await.map_err(db("schema migration commit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_per_version() {
        assert_eq!(STEPS.len(), usize::try_from(SCHEMA_VERSION).unwrap_or(0));
    }
}
