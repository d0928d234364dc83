//! `cargo xtask fuzz [--cases N]`: reruns the bad-input property tests with
//! many more cases than CI (`PROPTEST_CASES`, default 20 000 per property).
//!
//! The properties that read `PROPTEST_CASES` scale with it: the event decoder
//! mutations (`clickclack-proto --test fuzz_frames`), the hostile Go-shaped
//! server over every wire type (`clickclack-proto --test hostile`, which
//! generates whole objects, so it runs `cases / 40` per property) and the realtime reader
//! against a hand-written WebSocket server (`clickclack-realtime --test
//! bad_frames`) and the target parser's error messages
//! (`clickclack-target-parser --test error_messages`). The other property suites listed here run with their fixed
//! CI counts.

/// Test targets that take `PROPTEST_CASES`: (package, test target,
/// properties, divisor of the case count for properties that build whole objects).
const SCALED: &[(&str, &str, u64, u64)] = &[
    ("clickclack-proto", "fuzz_frames", 3, 1),
    ("clickclack-proto", "hostile", 61, 40),
    ("clickclack-realtime", "bad_frames", 1, 1),
    ("clickclack-target-parser", "error_messages", 2, 1),
];

/// Other property suites run as they are (package, test target).
const FIXED: &[(&str, &str)] = &[
    ("clickclack-proto", "props"),
    ("clickclack-target-parser", "properties"),
];

/// Runs the fuzz targets.
pub fn fuzz(args: &[String]) -> Result<(), String> {
    let mut cases: u64 = 20_000;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cases" => {
                cases = it
                    .next()
                    .ok_or("--cases needs a value")?
                    .parse()
                    .map_err(|e| format!("--cases: {e}"))?;
            }
            other => return Err(format!("unknown fuzz option `{other}`")),
        }
    }
    for (package, test, _, divisor) in SCALED {
        let n = (cases / divisor).max(1).to_string();
        crate::cargo(
            &["test", "-p", package, "--test", test, "--", "--nocapture"],
            &[("PROPTEST_CASES", &n)],
        )?;
    }
    for (package, test) in FIXED {
        crate::cargo(&["test", "-p", package, "--test", test], &[])?;
    }
    let scaled: u64 = SCALED
        .iter()
        .map(|(_, _, p, divisor)| p * (cases / divisor).max(1))
        .sum();
    println!(
        "xtask fuzz: {scaled} generated inputs in the scaled properties (up to {cases} cases each), plus the fixed suites"
    );
    Ok(())
}
