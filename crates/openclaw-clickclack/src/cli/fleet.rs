//! `fleet status`: which replica owns which account.
//!
//! ```text
//! openclaw-clickclack fleet status --state postgres://user@db/clickclack
//! ```
//!
//! The URL may also come from `OPENCLAW_CLICKCLACK_STATE_URL`. Prints the
//! replicas (live first) with how many accounts each holds, then one line
//! per account: owner, epoch, lease expiry by the database clock, takeovers
//! and the committed cursor. Exits 1 when an account has no live owner.

use std::io::Write;

use clap::{Args, Subcommand};

use super::{CliError, Outcome};
use crate::state::{Assignment, STATE_URL_ENV, StateLocation};

/// `fleet …` subcommands.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum FleetCommand {
    /// Print the replicas and the account assignment of a PostgreSQL state backend.
    Status(StatusArgs),
}

/// Arguments of `fleet status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The PostgreSQL state URL the gateways use (postgres://…).
    #[arg(long = "state", value_name = "URL", env = STATE_URL_ENV, hide_env_values = true)]
    pub state: String,
}

fn seconds(ms: i64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// Formats an assignment as `fleet status` prints it.
pub fn render(location: &str, a: &Assignment) -> String {
    let mut text = String::new();
    let live: Vec<_> = a.replicas.iter().filter(|r| r.expires_in_ms > 0).collect();
    text.push_str(&format!(
        "state {location}: {} live replica(s), {} account(s)\n",
        live.len(),
        a.leases.len()
    ));
    for r in &a.replicas {
        let owned = a
            .leases
            .iter()
            .filter(|l| l.is_held() && l.owner.as_ref() == Some(&r.replica))
            .count();
        let state = if r.expires_in_ms > 0 {
            format!("live (heartbeat due within {})", seconds(r.expires_in_ms))
        } else {
            format!("gone ({} ago)", seconds(-r.expires_in_ms))
        };
        text.push_str(&format!(
            "  replica {}  {state}  {owned} account(s)\n",
            r.replica
        ));
    }
    for l in &a.leases {
        let owner = match (&l.owner, l.is_held()) {
            (Some(o), true) => format!("owner {o}"),
            (Some(o), false) => format!("UNOWNED (lease of {o} expired)"),
            (None, _) => "UNOWNED".to_owned(),
        };
        let expiry = match l.expires_in_ms {
            Some(ms) if ms > 0 && l.owner.is_some() => format!("  expires in {}", seconds(ms)),
            _ => String::new(),
        };
        text.push_str(&format!(
            "  account {}  {owner}  epoch {}{expiry}  takeovers {}  cursor {}\n",
            l.account,
            l.epoch,
            l.takeovers,
            l.cursor.as_deref().unwrap_or("-")
        ));
    }
    text
}

/// Runs `fleet status`.
///
/// # Errors
/// A bad URL (usage), an unreachable database ([`CliError::State`]).
pub async fn status(args: &StatusArgs, out: &mut (dyn Write + Send)) -> Result<Outcome, CliError> {
    let location: StateLocation = args
        .state
        .parse()
        .map_err(|e: crate::state::StateLocationError| CliError::Usage(e.to_string()))?;
    if !location.is_fleet() {
        return Err(CliError::Usage(
            "fleet status needs a PostgreSQL state URL (--state postgres://…); a --state-dir holds one gateway and no fleet".to_owned(),
        ));
    }
    let backend = location.open().await?;
    let assignment = backend.assignment().await?;
    out.write_all(render(&location.to_string(), &assignment).as_bytes())?;
    let orphaned = assignment.leases.iter().any(|l| !l.is_held());
    Ok(if orphaned {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{LeaseEpoch, LeaseRow, ReplicaId, ReplicaRow};

    #[test]
    fn status_names_owners_epochs_and_orphans() {
        let a = Assignment {
            replicas: vec![
                ReplicaRow {
                    replica: ReplicaId::new("gw-a"),
                    expires_in_ms: 4_200,
                },
                ReplicaRow {
                    replica: ReplicaId::new("gw-b"),
                    expires_in_ms: -3_000,
                },
            ],
            leases: vec![
                LeaseRow {
                    account: "sales".to_owned(),
                    owner: Some(ReplicaId::new("gw-b")),
                    epoch: LeaseEpoch::new(3),
                    expires_in_ms: Some(-2_000),
                    takeovers: 0,
                    cursor: None,
                },
                LeaseRow {
                    account: "support".to_owned(),
                    owner: Some(ReplicaId::new("gw-a")),
                    epoch: LeaseEpoch::new(8),
                    expires_in_ms: Some(4_000),
                    takeovers: 1,
                    cursor: Some("cur_9".to_owned()),
                },
            ],
        };
        let text = render("postgres://gw@db/cc", &a);
        assert!(text.contains("1 live replica(s), 2 account(s)"), "{text}");
        assert!(
            text.contains("replica gw-a  live (heartbeat due within 4.2s)  1 account(s)"),
            "{text}"
        );
        assert!(
            text.contains("replica gw-b  gone (3.0s ago)  0 account(s)"),
            "{text}"
        );
        assert!(
            text.contains("account sales  UNOWNED (lease of gw-b expired)  epoch 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "account support  owner gw-a  epoch 8  expires in 4.0s  takeovers 1  cursor cur_9"
            ),
            "{text}"
        );
    }
}
