//! Placeholder.

use super::Options;
use super::report::Record;

/// Runs the benchmark.
pub(crate) async fn run(_options: &Options) -> Result<Vec<Record>, String> {
    Ok(Vec::new())
}
