//! Small measuring helpers: latency percentiles, throughput, RSS.

use std::time::Duration;

/// Latencies of one run, in nanoseconds (sorted on demand).
#[derive(Debug, Default, Clone)]
pub(crate) struct Latencies {
    nanos: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    /// Records one latency.
    pub(crate) fn push(&mut self, d: Duration) {
        self.nanos
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    /// Moves another set's samples into this one.
    pub(crate) fn extend(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
        self.sorted = false;
    }

    /// Number of samples.
    pub(crate) fn len(&self) -> usize {
        self.nanos.len()
    }

    /// The `p`-th percentile (0–100) in milliseconds; 0 when empty.
    pub(crate) fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.nanos.is_empty() {
            return 0.0;
        }
        if !self.sorted {
            self.nanos.sort_unstable();
            self.sorted = true;
        }
        let rank = (p / 100.0 * (self.nanos.len() - 1) as f64).round() as usize;
        self.nanos[rank.min(self.nanos.len() - 1)] as f64 / 1e6
    }
}

/// Items per second.
pub(crate) fn per_second(items: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        0.0
    } else {
        items as f64 / secs
    }
}

/// This process's resident set size in KiB (`VmRSS` in `/proc/self/status`).
pub(crate) fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Rounds to 3 decimals for the JSON parameters.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Raises this process's open-file limit to its hard limit (children inherit
/// it): 1,000 idle accounts hold 1,000 sockets plus pooled REST connections,
/// more than a default soft limit of 1,024 allows.
pub(crate) fn raise_fd_limit() {
    // SAFETY: `getrlimit` writes a plain C struct into the pointer it is
    // given; the zeroed value is valid for that type.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `limit` is a valid, writable `rlimit` for the whole call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid `rlimit`; failure leaves the old limit.
        let _ = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}
