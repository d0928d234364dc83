//! Micro-benchmarks of the target grammar's hot path (`cargo bench -p clickclack-target-parser`).

use clickclack_target_parser::{Target, parse};

fn main() {
    divan::main();
}

/// Targets as OpenClaw configs and agents write them.
const TARGETS: [&str; 6] = [
    "general",
    "channel:general",
    "clickclack:channel:chn_01JD8ZK3V7Q2M4N6P8R0S2T4V6",
    "dm:usr_01JD8ZK3V7Q2M4N6P8R0S2T4V6",
    "cc:thread:msg_01JD8ZK3V7Q2M4N6P8R0S2T4V6",
    "  Channel:  Release-Notes  ",
];

/// One parse per input.
#[divan::bench(args = TARGETS)]
fn parse_target(raw: &str) -> Option<Target> {
    parse(divan::black_box(raw)).ok()
}

/// Rejected input (the error path builds a message).
#[divan::bench(args = ["", "dm:", "pigeon:general"])]
fn parse_invalid(raw: &str) -> bool {
    parse(divan::black_box(raw)).is_err()
}

/// Parse then print back (the round trip the adapter does for session keys).
#[divan::bench]
fn parse_and_display() -> String {
    parse(divan::black_box("thread:msg_01JD8ZK3V7Q2M4N6P8R0S2T4V6"))
        .map(|t| t.to_string())
        .unwrap_or_default()
}
