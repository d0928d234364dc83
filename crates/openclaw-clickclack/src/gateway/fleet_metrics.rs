//! The fleet section of `/metrics`: which replica this is, the leases it
//! holds (with their epochs) and what its lease manager has done.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::state::FleetSnapshot;

/// Where `/metrics` reads the lease manager's state from (set once a fleet replica starts).
#[derive(Debug, Clone, Default)]
pub(crate) struct FleetSource(Arc<Mutex<Option<watch::Receiver<FleetSnapshot>>>>);

impl FleetSource {
    /// Follows `snapshot` from now on.
    pub(crate) fn set(&self, snapshot: watch::Receiver<FleetSnapshot>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(snapshot);
    }

    /// Appends the fleet metrics (nothing for a gateway on files).
    pub(crate) fn render(&self, out: &mut String) {
        let snapshot = match &*self.0.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(rx) => rx.borrow().clone(),
            None => return,
        };
        render(out, &snapshot);
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Renders one snapshot in the Prometheus text format.
pub(crate) fn render(out: &mut String, s: &FleetSnapshot) {
    let replica = escape(s.replica.as_str());
    let name = "clickclack_fleet_replica_info";
    family(
        out,
        name,
        "This gateway's replica id and state backend.",
        "gauge",
    );
    let _ = writeln!(
        out,
        "{name}{{replica=\"{replica}\",backend=\"{}\"}} 1",
        s.backend.as_str()
    );
    let gauges: [(&str, &str, u64); 3] = [
        (
            "clickclack_fleet_replicas_seen",
            "Live replicas at the last heartbeat.",
            s.live_replicas as u64,
        ),
        (
            "clickclack_fleet_target_share",
            "Accounts this replica should hold.",
            s.target as u64,
        ),
        (
            "clickclack_fleet_leases_held",
            "Account leases this replica holds.",
            s.held.len() as u64,
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, help, "gauge");
        let _ = writeln!(out, "{name}{{replica=\"{replica}\"}} {value}");
    }
    let name = "clickclack_fleet_lease_epoch";
    family(
        out,
        name,
        "Epoch of each lease held by this replica (handing_off=1 while it hands the account back).",
        "gauge",
    );
    for held in &s.held {
        let _ = writeln!(
            out,
            "{name}{{replica=\"{replica}\",account=\"{}\",handing_off=\"{}\"}} {}",
            escape(&held.account),
            u8::from(held.handing_off),
            held.epoch.get()
        );
    }
    let counters: [(&str, &str, u64); 6] = [
        (
            "clickclack_fleet_lease_acquisitions_total",
            "Leases acquired by this replica.",
            s.acquired,
        ),
        (
            "clickclack_fleet_lease_takeovers_total",
            "Leases taken over from a replica that had not released them.",
            s.takeovers,
        ),
        (
            "clickclack_fleet_lease_losses_total",
            "Leases lost (fenced, or not renewed in time).",
            s.lost,
        ),
        (
            "clickclack_fleet_lease_releases_total",
            "Leases handed back (rebalancing, shutdown).",
            s.released,
        ),
        (
            "clickclack_fleet_fenced_commits_total",
            "Cursor commits refused because the lease was no longer held.",
            s.fenced_commits,
        ),
        (
            "clickclack_fleet_backend_errors_total",
            "Heartbeats or lease operations that failed.",
            s.backend_errors,
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, help, "counter");
        let _ = writeln!(out, "{name}{{replica=\"{replica}\"}} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{BackendKind, HeldLeaseInfo, LeaseEpoch, ReplicaId};

    #[test]
    fn a_snapshot_renders_replica_leases_and_counters() {
        let snapshot = FleetSnapshot {
            replica: ReplicaId::new("r\"1"),
            backend: BackendKind::Postgres,
            live_replicas: 3,
            target: 2,
            held: vec![HeldLeaseInfo {
                account: "support".to_owned(),
                epoch: LeaseEpoch::new(7),
                handing_off: false,
            }],
            acquired: 4,
            takeovers: 1,
            lost: 2,
            released: 1,
            backend_errors: 0,
            fenced_commits: 3,
        };
        let mut out = String::new();
        render(&mut out, &snapshot);
        assert!(
            out.contains(
                "clickclack_fleet_replica_info{replica=\"r\\\"1\",backend=\"postgres\"} 1"
            ),
            "{out}"
        );
        assert!(out.contains("clickclack_fleet_replicas_seen{replica=\"r\\\"1\"} 3"));
        assert!(out.contains("account=\"support\",handing_off=\"0\"} 7"));
        assert!(out.contains("clickclack_fleet_lease_losses_total{replica=\"r\\\"1\"} 2"));
        assert!(out.contains("clickclack_fleet_fenced_commits_total{replica=\"r\\\"1\"} 3"));
    }
}
