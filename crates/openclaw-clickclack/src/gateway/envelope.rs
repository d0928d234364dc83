//! The host's inbound envelope: what the model or agent reads for one message.
//!
//! `[ClickClack <from>[ +<elapsed>] <Ddd YYYY-MM-DDTHH:MMZ>] <body>` — the
//! OpenClaw envelope with its `utc` timestamp form; `from` is the author's
//! display name, else the author id; `[`/`]` in header parts become `(`/`)`
//! and newlines collapse to spaces; `elapsed` is the time since the previous
//! message of the same session (`+45s`, `+2m`, `+3h`, `+1d`). Channel
//! messages are preceded by the host's `Conversation info (untrusted
//! metadata):` block (message id, sender, channel, thread); attachment
//! notes (see [`super::attachments`]) follow the body, one per line.

use std::collections::HashMap;
use std::sync::Mutex;

use clickclack_proto::objects::Message;
use serde_json::{Map, Value, json};

use super::catch_up::timestamp_ms;

/// The channel label in the envelope header.
pub const ENVELOPE_CHANNEL: &str = "ClickClack";

/// Most sessions whose last message time is remembered (oldest dropped).
const MAX_TRACKED_SESSIONS: usize = 4096;

/// Remembers the last message time per session, for `+<elapsed>`.
#[derive(Debug, Default)]
pub struct SessionClock {
    last: Mutex<HashMap<String, i64>>,
}

impl SessionClock {
    /// Records `at_ms` for `session` and returns the time since the previous
    /// message of that session (none for the first, or for older messages).
    pub fn elapsed(&self, session: &str, at_ms: i64) -> Option<i64> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let previous = last.get(session).copied();
        if last.len() >= MAX_TRACKED_SESSIONS
            && previous.is_none()
            && let Some(oldest) = last.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone())
        {
            last.remove(&oldest);
        }
        if previous.is_none_or(|p| at_ms >= p) {
            last.insert(session.to_owned(), at_ms);
        }
        previous.map(|p| at_ms - p).filter(|d| *d >= 0)
    }
}

fn header_part(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('[', "(")
        .replace(']', ")")
}

/// `+45s`, `+2m`, `+3h`, `+1d`.
pub fn format_elapsed(ms: i64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s < 60 => format!("+{s}s"),
        s if s < 3600 => format!("+{}m", s / 60),
        s if s < 86_400 => format!("+{}h", s / 3600),
        s => format!("+{}d", s / 86_400),
    }
}

/// `Thu 2025-01-02T03:04Z` for a Unix time in milliseconds.
pub fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000) / 1000;
    let (h, m) = (rem / 3600, (rem % 3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    let weekday = WEEKDAYS[usize::try_from(days.rem_euclid(7)).unwrap_or(0)];
    format!("{weekday} {year:04}-{month:02}-{d:02}T{h:02}:{m:02}Z")
}

/// The sender label: display name, else author id.
pub fn sender_label(message: &Message) -> String {
    message
        .author
        .as_ref()
        .map(|a| a.display_name.trim())
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| message.author_id.as_str().to_owned())
}

/// The envelope of `message`: header, body, then `notes` (attachment lines).
pub fn envelope(
    message: &Message,
    body: &str,
    elapsed_ms: Option<i64>,
    notes: &[String],
) -> String {
    let mut header = vec![
        ENVELOPE_CHANNEL.to_owned(),
        header_part(&sender_label(message)),
    ];
    if let Some(ms) = elapsed_ms {
        header.push(format_elapsed(ms));
    }
    if let Some(ms) = timestamp_ms(&message.created_at) {
        header.push(format_timestamp(ms));
    }
    let mut text = String::new();
    if message.direct_conversation_id.is_none()
        && let Some(channel) = &message.channel_id
    {
        let mut info = Map::new();
        info.insert("message_id".into(), json!(message.id.as_str()));
        info.insert("sender_id".into(), json!(message.author_id.as_str()));
        info.insert("sender".into(), json!(sender_label(message)));
        info.insert("conversation_label".into(), json!(channel.as_str()));
        info.insert("group_channel".into(), json!(channel.as_str()));
        if message.parent_message_id.is_some() {
            info.insert("thread_id".into(), json!(message.thread_root_id.as_str()));
        }
        let block = serde_json::to_string_pretty(&Value::Object(info)).unwrap_or_default();
        text.push_str("Conversation info (untrusted metadata):\n```json\n");
        text.push_str(&block);
        text.push_str("\n```\n\n");
    }
    text.push('[');
    text.push_str(&header.join(" "));
    text.push_str("] ");
    text.push_str(body);
    for note in notes {
        text.push('\n');
        text.push_str(note);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_elapsed() {
        // 2025-01-02T03:04:00Z is a Thursday.
        assert_eq!(format_timestamp(1_735_787_040_000), "Thu 2025-01-02T03:04Z");
        assert_eq!(format_timestamp(0), "Thu 1970-01-01T00:00Z");
        assert_eq!(format_timestamp(951_782_400_000), "Tue 2000-02-29T00:00Z");
        assert_eq!(format_elapsed(45_000), "+45s");
        assert_eq!(format_elapsed(120_000), "+2m");
        assert_eq!(format_elapsed(3 * 3_600_000), "+3h");
        assert_eq!(format_elapsed(86_400_000), "+1d");
        let clock = SessionClock::default();
        assert_eq!(clock.elapsed("s", 1_000), None);
        assert_eq!(clock.elapsed("s", 121_000), Some(120_000));
        assert_eq!(header_part("a [b]\nc"), "a (b) c");
    }
}
