//! Helpers shared by the lease-manager suites.

use std::time::Duration;

use tokio::time::Instant;

/// `n` account ids, `acct00`, `acct01`, …
pub fn accounts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("acct{i:02}")).collect()
}

/// Polls `cond` until it holds and returns how long that took; fails the
/// test naming `what` after `limit`.
pub async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        if cond() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
