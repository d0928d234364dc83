//! One benchmark result ([`Record`]), the printed table and the JSON file.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::Options;

/// What a benchmark must achieve (issue 8); judged on `ratio = value / baseline`
/// or on the value itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Goal {
    /// Informational: no goal.
    None,
    /// `value / baseline ≥ x` (throughput goals).
    RatioAtLeast(f64),
    /// `value / baseline < x` (time-per-item goals: faster than the baseline).
    RatioBelow(f64),
    /// `value / baseline ≤ x` (CPU per item against a peer).
    RatioAtMost(f64),
    /// `value < x` (absolute limits, e.g. seconds).
    ValueBelow(f64),
    /// `value ≤ x` (absolute limits, e.g. KiB per account).
    ValueAtMost(f64),
    /// `value - baseline < x` (overheads, e.g. p99 latency in ms).
    OverheadBelow(f64),
}

impl Goal {
    pub(crate) fn describe(self) -> String {
        match self {
            Goal::None => String::new(),
            Goal::RatioAtLeast(x) => format!("ratio >= {x}"),
            Goal::RatioBelow(x) => format!("ratio < {x}"),
            Goal::RatioAtMost(x) => format!("ratio <= {x}"),
            Goal::ValueBelow(x) => format!("value < {x}"),
            Goal::ValueAtMost(x) => format!("value <= {x}"),
            Goal::OverheadBelow(x) => format!("value-base < {x}"),
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Dotted name, e.g. `rest.send.c1`.
    pub(crate) name: String,
    /// Unit of `value` and `baseline_value`.
    pub(crate) unit: &'static str,
    /// Our number (`None` when skipped or failed).
    pub(crate) value: Option<f64>,
    /// What the baseline is.
    pub(crate) baseline_name: String,
    /// The baseline measured in the same run.
    pub(crate) baseline_value: Option<f64>,
    /// The goal.
    pub(crate) goal: Goal,
    /// Sizes, counts, rounds, secondary numbers.
    pub(crate) parameters: Map<String, Value>,
    /// `skipped: …` / `failed: …` / a remark.
    pub(crate) note: Option<String>,
    failed: bool,
}

impl Record {
    /// A measured row.
    pub(crate) fn new(
        name: impl Into<String>,
        unit: &'static str,
        value: f64,
        baseline_name: impl Into<String>,
        baseline_value: f64,
        goal: Goal,
    ) -> Record {
        Record {
            name: name.into(),
            unit,
            value: Some(value),
            baseline_name: baseline_name.into(),
            baseline_value: Some(baseline_value),
            goal,
            parameters: Map::new(),
            note: None,
            failed: false,
        }
    }

    /// A measured row whose baseline could not be measured (`why`, e.g.
    /// `n/a (node not found)`, goes in the note and the baseline column).
    pub(crate) fn without_baseline(
        name: impl Into<String>,
        unit: &'static str,
        value: f64,
        baseline_name: impl Into<String>,
        goal: Goal,
        why: impl Into<String>,
    ) -> Record {
        Record {
            name: name.into(),
            unit,
            value: Some(value),
            baseline_name: baseline_name.into(),
            baseline_value: None,
            goal,
            parameters: Map::new(),
            note: Some(why.into()),
            failed: false,
        }
    }

    /// A group that errored.
    pub(crate) fn failed(group: &str, error: &str) -> Record {
        Record {
            name: group.to_owned(),
            unit: "",
            value: None,
            baseline_name: String::new(),
            baseline_value: None,
            goal: Goal::None,
            parameters: Map::new(),
            note: Some(format!("failed: {error}")),
            failed: true,
        }
    }

    /// Adds a parameter.
    pub(crate) fn param(mut self, key: &str, value: impl Into<Value>) -> Record {
        self.parameters.insert(key.to_owned(), value.into());
        self
    }

    /// Adds a parameter when there is a value.
    pub(crate) fn param_opt(self, key: &str, value: Option<impl Into<Value>>) -> Record {
        match value {
            Some(value) => self.param(key, value),
            None => self,
        }
    }

    /// Sets the note.
    pub(crate) fn note(mut self, note: impl Into<String>) -> Record {
        self.note = Some(note.into());
        self
    }

    /// Whether the group errored.
    pub(crate) fn is_failure(&self) -> bool {
        self.failed
    }

    /// `value / baseline`.
    pub(crate) fn ratio(&self) -> Option<f64> {
        match (self.value, self.baseline_value) {
            (Some(v), Some(b)) if b != 0.0 => Some(v / b),
            _ => None,
        }
    }

    /// `Some(true)` met, `Some(false)` missed, `None` no goal / not measured.
    pub(crate) fn goal_met(&self) -> Option<bool> {
        let value = self.value?;
        match self.goal {
            Goal::None => None,
            Goal::RatioAtLeast(x) => self.ratio().map(|r| r >= x),
            Goal::RatioBelow(x) => self.ratio().map(|r| r < x),
            Goal::RatioAtMost(x) => self.ratio().map(|r| r <= x),
            Goal::ValueBelow(x) => Some(value < x),
            Goal::ValueAtMost(x) => Some(value <= x),
            Goal::OverheadBelow(x) => self.baseline_value.map(|b| value - b < x),
        }
    }

    pub(crate) fn status(&self) -> &'static str {
        if self.failed {
            return "FAILED";
        }
        if self.value.is_none() {
            return "skipped";
        }
        match self.goal_met() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None if self.goal != Goal::None => "n/a",
            None => "-",
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "unit": self.unit,
            "value": self.value,
            "baseline_name": self.baseline_name,
            "baseline_value": self.baseline_value,
            "ratio": self.ratio(),
            "parameters": Value::Object(self.parameters.clone()),
            "goal": self.goal.describe(),
            "goal_status": self.status(),
            "note": self.note,
        })
    }
}

/// Formats a number with 3–4 significant digits.
fn num(x: f64) -> String {
    let a = x.abs();
    if a >= 10_000.0 {
        format!("{x:.0}")
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Prints the table to stdout.
pub(crate) fn print_table(records: &[Record]) {
    let header = [
        "benchmark",
        "value",
        "unit",
        "baseline",
        "base value",
        "ratio",
        "goal",
        "status",
    ];
    let rows: Vec<[String; 8]> = records
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.value.map(num).unwrap_or_else(|| "-".to_owned()),
                r.unit.to_owned(),
                r.baseline_name.clone(),
                r.baseline_value.map(num).unwrap_or_else(|| {
                    match r.note.as_deref().filter(|n| n.starts_with("n/a")) {
                        Some(why) => why.to_owned(),
                        None => "-".to_owned(),
                    }
                }),
                r.ratio()
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_else(|| "-".to_owned()),
                r.goal.describe(),
                r.status().to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::from("|");
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            // Names and text left-aligned, numbers right-aligned.
            if matches!(i, 1 | 4 | 5) {
                out.push_str(&format!(" {cell:>w$} |"));
            } else {
                out.push_str(&format!(" {cell:<w$} |"));
            }
        }
        out
    };
    println!();
    println!("{}", line(&header.map(str::to_owned)));
    let sep: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    println!("{}", line(&sep));
    for row in &rows {
        println!("{}", line(row));
    }
    let notes: Vec<&Record> = records.iter().filter(|r| r.note.is_some()).collect();
    if !notes.is_empty() {
        println!();
        for r in notes {
            println!("  {}: {}", r.name, r.note.as_deref().unwrap_or_default());
        }
    }
    println!();
}

/// Writes the JSON report (creating parent directories).
pub(crate) fn write_json(
    path: &Path,
    records: &[Record],
    options: &Options,
    elapsed: Duration,
) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    }
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let doc = json!({
        "run": {
            "unix_time": unix,
            "quick": options.quick,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "seconds": elapsed.as_secs_f64(),
            "ratio": "value / baseline_value",
        },
        "benchmarks": records.iter().map(Record::to_json).collect::<Vec<_>>(),
    });
    let text =
        serde_json::to_string_pretty(&doc).map_err(|e| format!("could not encode JSON: {e}"))?;
    std::fs::write(path, text + "\n")
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}
