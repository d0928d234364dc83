//! The fleet section of `/metrics`: which replica this is, the leases it
//! holds (with their epochs) and what its lease manager has done.

use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
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

    /// The lease manager's state now (`None` for a gateway on files).
    pub(crate) fn snapshot(&self) -> Option<FleetSnapshot> {
        let rx = self.0.lock().unwrap_or_else(|p| p.into_inner());
        rx.as_ref().map(|rx| rx.borrow().clone())
    }

    /// The fleet families for one scrape (`None` for a gateway on files).
    pub(crate) fn collector(&self) -> Option<FleetCollector> {
        let rx = self.0.lock().unwrap_or_else(|p| p.into_inner());
        rx.as_ref().map(|rx| FleetCollector(rx.borrow().clone()))
    }
}

/// One scrape of the lease manager's state, encoded by `prometheus-client`.
#[derive(Debug)]
pub(crate) struct FleetCollector(FleetSnapshot);

impl Collector for FleetCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        let replica = s.replica.as_str();
        let mut family = encoder.encode_descriptor(
            "clickclack_fleet_replica_info",
            "This gateway's replica id and state backend.",
            None,
            MetricType::Gauge,
        )?;
        let labels = [("replica", replica), ("backend", s.backend.as_str())];
        ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        let gauges: [(&str, &str, usize); 3] = [
            (
                "clickclack_fleet_replicas_seen",
                "Live replicas at the last heartbeat.",
                s.live_replicas,
            ),
            (
                "clickclack_fleet_target_share",
                "Accounts this replica should hold.",
                s.target,
            ),
            (
                "clickclack_fleet_leases_held",
                "Account leases this replica holds.",
                s.held.len(),
            ),
        ];
        for (name, help, value) in gauges {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
                .encode(family.encode_family(&[("replica", replica)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "clickclack_fleet_lease_epoch",
            "Epoch of each lease this replica holds (handing_off=1 while it hands the account back).",
            None,
            MetricType::Gauge,
        )?;
        for held in &s.held {
            let handing_off = if held.handing_off { "1" } else { "0" };
            let labels = [
                ("replica", replica),
                ("account", held.account.as_str()),
                ("handing_off", handing_off),
            ];
            ConstGauge::new(held.epoch.get()).encode(family.encode_family(&labels)?)?;
        }
        // Counter names without `_total`: the encoder adds it.
        let counters: [(&str, &str, u64); 6] = [
            (
                "clickclack_fleet_lease_acquisitions",
                "Leases acquired by this replica.",
                s.acquired,
            ),
            (
                "clickclack_fleet_lease_takeovers",
                "Leases taken over from a replica that had not released them.",
                s.takeovers,
            ),
            (
                "clickclack_fleet_lease_losses",
                "Leases lost (fenced, or not renewed in time).",
                s.lost,
            ),
            (
                "clickclack_fleet_lease_releases",
                "Leases handed back (rebalancing, shutdown).",
                s.released,
            ),
            (
                "clickclack_fleet_fenced_commits",
                "Cursor commits refused because the lease was no longer held.",
                s.fenced_commits,
            ),
            (
                "clickclack_fleet_backend_errors",
                "Heartbeats or lease operations that failed.",
                s.backend_errors,
            ),
        ];
        for (name, help, value) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(family.encode_family(&[("replica", replica)])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{BackendKind, HeldLeaseInfo, LeaseEpoch, ReplicaId};

    #[test]
    fn a_snapshot_renders_replica_leases_and_counters() {
        let snapshot = FleetSnapshot {
            replica: ReplicaId::new("r1"),
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
            last_heartbeat: None,
            lease_ttl: std::time::Duration::from_secs(5),
        };
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(FleetCollector(snapshot)));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).expect("encode");
        for line in [
            "clickclack_fleet_replica_info{replica=\"r1\",backend=\"postgres\"} 1",
            "clickclack_fleet_replicas_seen{replica=\"r1\"} 3",
            "clickclack_fleet_lease_epoch{replica=\"r1\",account=\"support\",handing_off=\"0\"} 7",
            "clickclack_fleet_lease_losses_total{replica=\"r1\"} 2",
            "clickclack_fleet_fenced_commits_total{replica=\"r1\"} 3",
        ] {
            assert!(out.contains(line), "{line} missing in\n{out}");
        }
    }
}
