//! `latest.svg`: every row with a goal as a bar showing how far it is from
//! that goal, on a log scale centred on the goal (right of the line = met).

use std::fmt::Write as _;
use std::path::Path;

use super::report::{Goal, Record};

/// Width of the bar area; the goal line is in its middle.
const BAR_W: f64 = 360.0;
/// The scale spans `1/RANGE ..= RANGE` times the goal.
const RANGE: f64 = 8.0;
const ROW_H: f64 = 26.0;
const LABEL_W: f64 = 330.0;
const TEXT_W: f64 = 330.0;

/// How many times better than its goal a row is (≥ 1 = met); `None` when
/// the row has no goal or was not measured.
fn score(r: &Record) -> Option<f64> {
    let value = r.value?;
    let s = match r.goal {
        Goal::None => return None,
        Goal::RatioAtLeast(x) => r.ratio()? / x,
        Goal::RatioBelow(x) | Goal::RatioAtMost(x) => x / r.ratio()?,
        Goal::ValueBelow(x) | Goal::ValueAtMost(x) => x / value,
        Goal::OverheadBelow(x) => x / (value - r.baseline_value?).max(1e-9),
    };
    s.is_finite().then_some(s)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What the row's text says: the judged number and the goal.
fn caption(r: &Record) -> String {
    let judged = match r.goal {
        Goal::ValueBelow(_) | Goal::ValueAtMost(_) => r.value.map(|v| format!("{v:.3} {}", r.unit)),
        Goal::OverheadBelow(_) => r
            .value
            .zip(r.baseline_value)
            .map(|(v, b)| format!("+{:.3} {}", v - b, r.unit)),
        _ => r.ratio().map(|x| format!("ratio {x:.2}")),
    };
    let goal = r.goal.describe();
    match judged {
        Some(j) => format!("{j} (goal {goal}) {}", r.status()),
        None => format!(
            "{} (goal {goal})",
            r.note.as_deref().unwrap_or("not measured")
        ),
    }
}

/// Renders the SVG text.
pub(crate) fn render(records: &[Record]) -> String {
    let rows: Vec<&Record> = records.iter().filter(|r| r.goal != Goal::None).collect();
    let width = LABEL_W + BAR_W + TEXT_W + 20.0;
    let height = 60.0 + ROW_H * rows.len() as f64;
    let mid = LABEL_W + BAR_W / 2.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14">cargo xtask bench: each goal (line) and where we stand (bar; log scale, 1/{RANGE}x to {RANGE}x the goal)</text>
"#
    );
    for (i, r) in rows.iter().enumerate() {
        let y = 40.0 + ROW_H * i as f64;
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{:.1}">{}</text>"#,
            y + 15.0,
            escape(&r.name)
        );
        let (fill, end) = match score(r) {
            Some(s) => {
                let x = (s.log(RANGE).clamp(-1.0, 1.0) + 1.0) / 2.0 * BAR_W;
                (if s >= 1.0 { "#3a9d4a" } else { "#d0443e" }, x)
            }
            None => ("#b0b0b0", 0.0),
        };
        let _ = writeln!(
            svg,
            r##"<rect x="{LABEL_W}" y="{:.1}" width="{BAR_W}" height="16" fill="#f1f1f1"/><rect x="{LABEL_W}" y="{:.1}" width="{end:.1}" height="16" fill="{fill}"/>"##,
            y + 3.0,
            y + 3.0,
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            LABEL_W + BAR_W + 10.0,
            y + 15.0,
            escape(&caption(r))
        );
    }
    let _ = writeln!(
        svg,
        r#"<line x1="{mid}" y1="32" x2="{mid}" y2="{:.1}" stroke="black" stroke-dasharray="4 3"/>
</svg>"#,
        height - 10.0
    );
    svg
}

/// Writes the SVG next to the JSON report.
pub(crate) fn write(path: &Path, records: &[Record]) -> Result<(), String> {
    std::fs::write(path, render(records))
        .map_err(|e| format!("could not write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn met_and_missed_goals_get_their_colours_and_captions() {
        let met = Record::new("a.met", "x/s", 3.0, "base", 1.0, Goal::RatioAtLeast(1.5));
        let missed = Record::new(
            "b.missed",
            "KiB",
            100.0,
            "base",
            1.0,
            Goal::ValueAtMost(32.0),
        );
        let none = Record::new("c.info", "x/s", 1.0, "base", 1.0, Goal::None);
        let svg = render(&[met, missed, none]);
        assert!(svg.contains("a.met") && svg.contains("#3a9d4a"));
        assert!(svg.contains("b.missed") && svg.contains("#d0443e"));
        assert!(svg.contains("100.000 KiB (goal value &lt;= 32) MISSED"));
        assert!(!svg.contains("c.info"), "rows without a goal are not drawn");
    }
}
