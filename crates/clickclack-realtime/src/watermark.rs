//! Exactly-once delivery of durable events to the consumer.
//!
//! Rule: a durable event is yielded only if its cursor is greater than the
//! last durable cursor yielded (cursors compare as strings and are strictly
//! increasing per workspace). Ephemeral events (`cursor: ""`) always pass.
//!
//! On every new connection the watermark is reset to the resume point (the
//! last committed cursor, or a newer re-anchor) as it is at the moment the
//! consumer takes the `Connected` notice. The server replays everything after
//! the cursor the connection was opened with; replayed events at or below the
//! reset point are dropped, and events above it are yielded again even if an
//! earlier connection already yielded them. That is the commit contract: an
//! event you received but did not commit before a reconnect is delivered
//! again; an event you committed is never delivered again.

use clickclack_proto::Cursor;
use clickclack_proto::event::Event;

/// The last durable cursor yielded, in a buffer reused for every event
/// (cursors compare as strings, exactly like [`Cursor`]'s `Ord`).
#[derive(Debug, Default)]
pub(crate) struct Watermark {
    last: String,
    set: bool,
}

impl Watermark {
    /// Restarts deduplication at `to` (the resume point of a new connection).
    pub(crate) fn reset(&mut self, to: Option<Cursor>) {
        self.last.clear();
        self.set = to.is_some();
        if let Some(to) = to {
            self.last.push_str(to.as_str());
        }
    }

    /// Whether `event` should be yielded; advances the watermark if so.
    pub(crate) fn admit(&mut self, event: &Event) -> bool {
        let cursor = event.cursor().as_str();
        if cursor.is_empty() {
            return true;
        }
        if self.set && cursor <= self.last.as_str() {
            return false;
        }
        self.last.clear();
        self.last.push_str(cursor);
        self.set = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(cursor: &str) -> Event {
        Event::zero()
            .with_cursor(cursor)
            .with_event_type("message.created")
    }

    #[test]
    fn drops_repeats_and_passes_ephemeral() {
        let mut w = Watermark::default();
        assert!(w.admit(&event("cur_02")));
        assert!(!w.admit(&event("cur_02")));
        assert!(!w.admit(&event("cur_01")));
        assert!(w.admit(&event("")));
        assert!(w.admit(&event("")));
        assert!(w.admit(&event("cur_03")));
    }

    #[test]
    fn reset_allows_redelivery_above_the_commit() {
        let mut w = Watermark::default();
        for c in ["cur_01", "cur_02", "cur_03"] {
            assert!(w.admit(&event(c)));
        }
        w.reset(Some(Cursor::new("cur_01")));
        assert!(!w.admit(&event("cur_01")));
        assert!(w.admit(&event("cur_02")));
        assert!(w.admit(&event("cur_03")));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn yielded_durable_cursors_strictly_increase(cursors in proptest::collection::vec("(cur_[0-9]{2})?", 0..40)) {
            let mut w = Watermark::default();
            let mut last: Option<String> = None;
            for c in cursors {
                if w.admit(&event(&c)) && !c.is_empty() {
                    if let Some(l) = &last { prop_assert!(c > *l); }
                    last = Some(c);
                }
            }
        }
    }
}
