//! CPU time and peak memory of this process, from `getrusage(RUSAGE_SELF)`.
//!
//! The client-process benchmarks ([`super::client`]) take a [`CpuSample`]
//! before and after each timed pass; the difference is the CPU the client
//! alone spent (the server runs in its own process).

use std::time::Duration;

/// One `getrusage(RUSAGE_SELF)` reading.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpuSample {
    /// User + system CPU time of every thread of this process.
    pub(crate) cpu: Duration,
    /// Peak resident set size so far, KiB (`ru_maxrss`).
    pub(crate) max_rss_kib: u64,
    /// Context switches so far, voluntary + involuntary (`ru_nvcsw + ru_nivcsw`).
    pub(crate) switches: u64,
}

impl CpuSample {
    /// Reads the counters now (zeros if the call fails, which it does not
    /// on Linux for `RUSAGE_SELF`).
    pub(crate) fn now() -> CpuSample {
        // SAFETY: `getrusage` writes a `rusage` into the pointer it is given;
        // the zeroed struct is a valid value of that plain C type.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `usage` is a valid, writable `rusage` for the whole call.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        if rc != 0 {
            return CpuSample::default();
        }
        CpuSample {
            cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
            max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
            switches: u64::try_from(usage.ru_nvcsw).unwrap_or(0)
                + u64::try_from(usage.ru_nivcsw).unwrap_or(0),
        }
    }

    /// Context switches between `self` and a later sample.
    pub(crate) fn switches_until(&self, later: &CpuSample) -> u64 {
        later.switches.saturating_sub(self.switches)
    }

    /// CPU time spent between `self` and a later sample.
    pub(crate) fn cpu_until(&self, later: &CpuSample) -> Duration {
        later.cpu.saturating_sub(self.cpu)
    }
}

fn timeval(t: libc::timeval) -> Duration {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let micros = u32::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = CpuSample::now();
        let mut x = 0u64;
        // Spin until the counter moves (getrusage has microsecond resolution).
        while CpuSample::now().cpu == before.cpu {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = CpuSample::now();
        assert!(before.cpu_until(&after) > Duration::ZERO);
        assert!(after.max_rss_kib > 0);
    }
}
