//! Anchoring at the server's tail, and paging a gap after a resync.

use clickclack_client::Client;
use clickclack_proto::event::Event;
use clickclack_proto::{Cursor, WorkspaceId};

use crate::error::Error;

/// `GET /api/realtime/events?include_tail=true&limit=1` → the cursor to start after.
///
/// `tail_cursor` when the server sends it (one small request). Older
/// servers without it answer with the *oldest* event instead; the tail is
/// then found by [`search_tail`], never by reading from the oldest page.
/// `None` when the workspace has no visible events yet.
pub(crate) async fn fetch_tail(
    client: &Client,
    workspace: &WorkspaceId,
) -> Result<Option<Cursor>, clickclack_client::Error> {
    let page = client.events_page(workspace, None, Some(1), true).await?;
    if let Some(tail) = page.tail_cursor.filter(|c| !c.as_str().is_empty()) {
        return Ok(Some(tail));
    }
    let oldest = match last_durable(&page.events) {
        Some(oldest) => oldest,
        // Empty, or the oldest event is invisible to us: look a bit further.
        None => match last_durable(
            &client
                .events_page(workspace, None, Some(PROBE_LIMIT), false)
                .await?
                .events,
        ) {
            Some(oldest) => oldest,
            None => return Ok(None),
        },
    };
    tracing::debug!(oldest = %oldest, "realtime: the server sends no tail_cursor; searching for the tail");
    search_tail(client, workspace, oldest).await.map(Some)
}

/// Events per probe page of [`search_tail`].
const PROBE_LIMIT: u32 = 100;
/// Most probe requests [`search_tail`] makes before settling.
const MAX_PROBES: usize = 64;
/// Most pages [`search_tail`] reads forward from its last probe.
const MAX_FORWARD_PAGES: usize = 10;
/// Events per forward page of [`search_tail`] (the server's maximum).
const FORWARD_LIMIT: u32 = 500;
/// The time resolution at which [`search_tail`] stops probing and pages forward.
const RESOLUTION_MS: u64 = 1_000;

fn last_durable(events: &[Event]) -> Option<Cursor> {
    events
        .iter()
        .rev()
        .find(|e| e.is_durable())
        .map(|e| e.cursor().clone())
}

/// The Crockford base32 alphabet of ULIDs (lowercase, as the server writes them).
const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const CURSOR_PREFIX: &str = "cur_";

/// The millisecond timestamp of a `cur_<ulid>` cursor.
fn cursor_ms(cursor: &Cursor) -> Option<u64> {
    let ulid = cursor.as_str().strip_prefix(CURSOR_PREFIX)?;
    if ulid.len() != 26 || !ulid.bytes().all(|b| CROCKFORD.contains(&b)) {
        return None;
    }
    ulid.bytes().take(10).try_fold(0u64, |acc, b| {
        let digit = CROCKFORD
            .iter()
            .position(|&c| c == b.to_ascii_lowercase())?;
        Some((acc << 5) | digit as u64)
    })
}

/// The smallest `cur_<ulid>` cursor of millisecond `ms`: events after it
/// are the events created at `ms` or later.
fn probe_cursor(ms: u64) -> Cursor {
    let ms = ms.min((1 << 48) - 1);
    let mut out = String::with_capacity(30);
    out.push_str(CURSOR_PREFIX);
    for i in (0..10).rev() {
        out.push(char::from(CROCKFORD[((ms >> (5 * i)) & 31) as usize]));
    }
    out.push_str("0000000000000000");
    Cursor::new(out)
}

/// Finds the newest cursor on a server without `tail_cursor`, in a bounded
/// number of small requests.
///
/// Server cursors are `cur_` + ULID (a millisecond timestamp first) and
/// `after_cursor` works as a lower bound even for cursors the server never
/// issued. So the search probes time with one-page requests: 1. a minute
/// after now (a server clock ahead of ours moves it up), 2. now, then
/// backwards with doubling steps until a probe has events after it, 3.
/// bisects until less than a page follows or the window is one second, and
/// 4. pages forward from there until a page is empty. A busy workspace
/// takes about five requests; a year-old tail about 50. Cursors of another
/// shape fall back to paging forward from the oldest event, also bounded.
pub(crate) async fn search_tail(
    client: &Client,
    workspace: &WorkspaceId,
    oldest: Cursor,
) -> Result<Cursor, clickclack_client::Error> {
    let after = |cursor: Cursor, limit: u32| async move {
        client
            .events_page(workspace, Some(&cursor), Some(limit), false)
            .await
            .map(|p| p.events)
    };
    let mut from = oldest.clone();
    if let Some(oldest_ms) = cursor_ms(&oldest) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        // `lo`: a time with events after it; `hi`: one with none.
        let mut lo = oldest_ms;
        let mut hi = now_ms.saturating_add(60_000).max(oldest_ms + 1);
        let mut probes = 0;
        let exists_after = async |ms: u64| -> Result<Option<usize>, clickclack_client::Error> {
            let page = after(probe_cursor(ms), PROBE_LIMIT).await?;
            Ok((!page.is_empty()).then_some(page.len()))
        };
        // 1. A server clock ahead of ours: move `hi` up until nothing is after it.
        let mut skew = 60_000u64;
        while probes < MAX_PROBES && exists_after(hi).await?.is_some() {
            probes += 1;
            lo = hi;
            hi = hi.saturating_add(skew);
            skew = skew.saturating_mul(2);
        }
        // 2. Gallop back from now: now, now-1s, now-2s, now-4s, …
        let top = now_ms.min(hi).max(lo);
        let mut back = 0u64;
        let mut settled = false;
        while probes < MAX_PROBES && hi - lo > RESOLUTION_MS {
            probes += 1;
            let mid = top.saturating_sub(back).clamp(lo + 1, hi - 1);
            match exists_after(mid).await? {
                None => {
                    hi = mid;
                    back = back.saturating_mul(2).max(1_000);
                }
                Some(n) => {
                    lo = mid;
                    settled = (n as u32) < PROBE_LIMIT;
                    break;
                }
            }
        }
        // 3. Bisect until less than a page follows `lo`, or `lo` and `hi`
        //    are within RESOLUTION_MS (forward paging does the rest).
        while !settled && probes < MAX_PROBES && hi - lo > RESOLUTION_MS {
            probes += 1;
            let mid = lo + (hi - lo) / 2;
            match exists_after(mid).await? {
                None => hi = mid,
                Some(n) => {
                    lo = mid;
                    settled = (n as u32) < PROBE_LIMIT;
                }
            }
        }
        let start = probe_cursor(lo);
        if start > from {
            from = start;
        }
    }
    // Page forward to the end (a short page is not proof: hidden events
    // shorten pages, so read until one is empty).
    let mut tail = (from == oldest).then(|| oldest.clone());
    for _ in 0..MAX_FORWARD_PAGES {
        let page = after(from.clone(), FORWARD_LIMIT).await?;
        match last_durable(&page) {
            Some(last) => {
                tail = Some(last.clone());
                from = last;
            }
            None if page.is_empty() => break,
            // Only ephemeral or invisible entries: move past them.
            None => break,
        }
    }
    match tail {
        Some(tail) => Ok(tail),
        // The probe overshot nothing (cannot happen: `lo` has events after
        // it), or the page vanished meanwhile: the oldest is a safe anchor.
        None => Ok(oldest),
    }
}

/// Whether a failed tail fetch is worth retrying.
pub(crate) fn is_retryable(err: &clickclack_client::Error) -> bool {
    err.is_retryable() || matches!(err.kind(), clickclack_client::ErrorKind::Server)
}

/// Pages the durable events of a gap through `GET /api/realtime/events`.
///
/// After a [`RealtimeItem::Resync`](crate::RealtimeItem::Resync) the live
/// stream continues after `anchor`; the events between `previous` and
/// `anchor` were not delivered. If the server still retains them (a resync
/// because the replay was over 5,000 events, not because they were pruned),
/// this helper returns them in cursor order, stopping at `anchor`:
///
/// ```no_run
/// # async fn demo(client: clickclack_client::Client, ws: clickclack_proto::WorkspaceId,
/// #               previous: clickclack_proto::Cursor, anchor: clickclack_proto::Cursor)
/// # -> Result<(), clickclack_realtime::Error> {
/// use clickclack_realtime::Backfill;
///
/// let mut gap = Backfill::new(client, ws, previous).until(anchor);
/// while let Some(page) = gap.next_page().await? {
///     for event in page {
///         println!("{} {}", event.cursor(), event.event_type());
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The endpoint cannot tell whether events after `previous` were pruned: a
/// pruned cursor still works as a lower bound, and only the retained events
/// come back. When completeness matters, re-fetch state over REST instead
/// (channels, the latest messages of the channels you follow, open threads).
#[derive(Debug, Clone)]
pub struct Backfill {
    client: Client,
    workspace: WorkspaceId,
    after: Cursor,
    until: Option<Cursor>,
    page_size: u32,
    done: bool,
}

impl Backfill {
    /// Pages the events after `after` (exclusive).
    pub fn new(client: Client, workspace: WorkspaceId, after: Cursor) -> Self {
        Self {
            client,
            workspace,
            after,
            until: None,
            page_size: 500,
            done: false,
        }
    }

    /// Stops after `cursor` (inclusive), typically the resync anchor.
    pub fn until(mut self, cursor: Cursor) -> Self {
        self.until = Some(cursor);
        self
    }

    /// Events per request (the server caps it at 500).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.clamp(1, 500);
        self
    }

    /// The cursor the next page starts after.
    pub fn position(&self) -> &Cursor {
        &self.after
    }

    /// The next page of events, or `None` when the gap is exhausted.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the request fails (the position is unchanged, so
    /// calling again retries the same page).
    pub async fn next_page(&mut self) -> Result<Option<Vec<Event>>, Error> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .client
            .events_page(
                &self.workspace,
                Some(&self.after),
                Some(self.page_size),
                false,
            )
            .await
            .map_err(Error::Api)?;
        let mut events: Vec<Event> = page
            .events
            .into_iter()
            .filter(|e| e.is_durable() && e.cursor() > &self.after)
            .collect();
        if let Some(until) = &self.until
            && let Some(cut) = events.iter().position(|e| e.cursor() > until)
        {
            events.truncate(cut);
            self.done = true;
        }
        match events.last() {
            Some(last) => {
                self.after = last.cursor().clone();
                if self.until.as_ref().is_some_and(|u| &self.after >= u) {
                    self.done = true;
                }
                Ok(Some(events))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn probe_cursors_sort_by_time_and_decode() {
        let a = probe_cursor(1_700_000_000_000);
        let b = probe_cursor(1_700_000_000_001);
        assert!(a < b);
        assert_eq!(a.as_str().len(), 30);
        assert_eq!(cursor_ms(&a), Some(1_700_000_000_000));
        assert_eq!(cursor_ms(&Cursor::new("evt_1")), None);
        assert_eq!(
            cursor_ms(&Cursor::new("cur_0000000000000000000000000!")),
            None
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn probe_round_trips_and_orders(a in 0u64..(1 << 48), b in 0u64..(1 << 48)) {
            prop_assert_eq!(cursor_ms(&probe_cursor(a)), Some(a));
            prop_assert_eq!(a.cmp(&b), probe_cursor(a).cmp(&probe_cursor(b)));
        }

        #[test]
        fn cursor_ms_never_panics(s in ".{0,40}") {
            let _ = cursor_ms(&Cursor::new(s));
        }
    }
}
