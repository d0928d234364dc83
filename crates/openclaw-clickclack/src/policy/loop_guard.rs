//! The bot-loop guard (`botLoopProtection`, reference row 28).
//!
//! Two bots that are allowed to talk to each other can ping-pong forever. The
//! guard counts accepted bot-authored messages per **workspace + conversation +
//! bot pair** (A→B and B→A are the same pair, so reciprocal accounts in one
//! process share a budget) in a sliding window; a pair that exceeds the budget
//! is suppressed, in both directions, for a cooldown.
//!
//! Time is passed in explicitly (milliseconds on any monotonic-enough scale;
//! the gateway uses the message's `created_at`, like the reference), so the
//! guard is deterministic and testable.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Default cap on the number of tracked pairs (see [`BotLoopGuard::with_capacity`]).
pub const DEFAULT_MAX_TRACKED_PAIRS: usize = 4096;

/// Resolved `botLoopProtection` settings.
///
/// Defaults (the OpenClaw shared pair-guard defaults): `enabled: true`,
/// `maxEventsPerWindow: 20`, `windowSeconds: 60`, `cooldownSeconds: 60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotLoopSettings {
    /// Whether the guard applies at all.
    pub enabled: bool,
    /// Bot messages a pair may exchange per window before being suppressed.
    pub max_events_per_window: u32,
    /// Length of the sliding window, in seconds.
    pub window_seconds: u32,
    /// How long a pair stays suppressed after exceeding the budget, in seconds.
    pub cooldown_seconds: u32,
}

impl Default for BotLoopSettings {
    fn default() -> Self {
        BotLoopSettings {
            enabled: true,
            max_events_per_window: 20,
            window_seconds: 60,
            cooldown_seconds: 60,
        }
    }
}

/// The facts the guard needs about one accepted bot-authored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotLoopSubject {
    /// Scope (the workspace id).
    pub scope_id: String,
    /// Conversation: the thread root inside a thread, else the DM
    /// conversation (or author) id, else the channel id.
    pub conversation_id: String,
    /// The bot that wrote the message.
    pub sender_id: String,
    /// This account's bot user id.
    pub receiver_id: String,
    /// The message id (a replayed event is not counted twice).
    pub event_id: String,
    /// Effective settings for this message.
    pub settings: BotLoopSettings,
}

/// The guard's answer for one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopVerdict {
    /// Within budget: dispatch.
    Allowed,
    /// Over budget: drop; the pair stays suppressed until `until_ms`.
    Suppressed {
        /// End of the cooldown (same time scale as the `now_ms` passed in).
        until_ms: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PairKey {
    scope: String,
    conversation: String,
    low: String,
    high: String,
}

#[derive(Debug, Default)]
struct PairState {
    /// Accepted events in the window: (time, event id); at most `max_events_per_window`.
    events: VecDeque<(u64, String)>,
    cooldown_until: Option<u64>,
    last_seen: u64,
}

impl PairState {
    fn is_idle(&self, now_ms: u64, window_ms: u64) -> bool {
        let cooling = self.cooldown_until.is_some_and(|until| now_ms < until);
        let recent = self
            .events
            .back()
            .is_some_and(|(t, _)| t.saturating_add(window_ms) > now_ms);
        !cooling && !recent
    }
}

/// Shared, thread-safe bot-loop guard. Share one instance (e.g. in an `Arc`)
/// across all accounts of a process so reciprocal bots share a budget.
///
/// Memory is bounded: at most `max_tracked` pairs are remembered; idle pairs
/// are pruned first, then the least recently seen.
#[derive(Debug)]
pub struct BotLoopGuard {
    state: Mutex<HashMap<PairKey, PairState>>,
    max_tracked: usize,
}

impl Default for BotLoopGuard {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_MAX_TRACKED_PAIRS)
    }
}

impl BotLoopGuard {
    /// A guard remembering at most [`DEFAULT_MAX_TRACKED_PAIRS`] pairs.
    pub fn new() -> Self {
        Self::default()
    }

    /// A guard remembering at most `max_tracked` pairs (minimum 1).
    pub fn with_capacity(max_tracked: usize) -> Self {
        BotLoopGuard {
            state: Mutex::new(HashMap::new()),
            max_tracked: max_tracked.max(1),
        }
    }

    /// Number of pairs currently tracked.
    pub fn tracked_pairs(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PairKey, PairState>> {
        // The map stays consistent even if a holder panicked: recover it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records one accepted bot-authored message and says whether it may be
    /// dispatched. Disabled settings always allow and record nothing.
    pub fn check(&self, subject: &BotLoopSubject, now_ms: u64) -> LoopVerdict {
        let settings = subject.settings;
        if !settings.enabled {
            return LoopVerdict::Allowed;
        }
        let window_ms = u64::from(settings.window_seconds).saturating_mul(1000);
        let cooldown_ms = u64::from(settings.cooldown_seconds).saturating_mul(1000);
        let max = usize::try_from(settings.max_events_per_window)
            .unwrap_or(usize::MAX)
            .max(1);
        let (low, high) = if subject.sender_id <= subject.receiver_id {
            (&subject.sender_id, &subject.receiver_id)
        } else {
            (&subject.receiver_id, &subject.sender_id)
        };
        let key = PairKey {
            scope: subject.scope_id.clone(),
            conversation: subject.conversation_id.clone(),
            low: low.clone(),
            high: high.clone(),
        };
        let mut pairs = self.lock();
        if !pairs.contains_key(&key) && pairs.len() >= self.max_tracked {
            Self::evict(&mut pairs, now_ms, window_ms, self.max_tracked);
        }
        let state = pairs.entry(key).or_default();
        state.last_seen = state.last_seen.max(now_ms);
        if let Some(until) = state.cooldown_until {
            if now_ms < until {
                return LoopVerdict::Suppressed { until_ms: until };
            }
            state.cooldown_until = None;
            state.events.clear();
        }
        while state
            .events
            .front()
            .is_some_and(|(t, _)| t.saturating_add(window_ms) <= now_ms)
        {
            state.events.pop_front();
        }
        if state.events.iter().any(|(_, id)| *id == subject.event_id) {
            return LoopVerdict::Allowed;
        }
        if state.events.len() >= max {
            let until_ms = now_ms.saturating_add(cooldown_ms);
            state.cooldown_until = Some(until_ms);
            state.events.clear();
            return LoopVerdict::Suppressed { until_ms };
        }
        state.events.push_back((now_ms, subject.event_id.clone()));
        LoopVerdict::Allowed
    }

    fn evict(pairs: &mut HashMap<PairKey, PairState>, now_ms: u64, window_ms: u64, max: usize) {
        pairs.retain(|_, state| !state.is_idle(now_ms, window_ms));
        while pairs.len() >= max {
            let oldest = pairs
                .iter()
                .min_by_key(|(_, state)| state.last_seen)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => {
                    pairs.remove(&key);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(sender: &str, receiver: &str, event: &str, max: u32) -> BotLoopSubject {
        BotLoopSubject {
            scope_id: "wsp_1".into(),
            conversation_id: "chn_1".into(),
            sender_id: sender.into(),
            receiver_id: receiver.into(),
            event_id: event.into(),
            settings: BotLoopSettings {
                max_events_per_window: max,
                window_seconds: 10,
                cooldown_seconds: 30,
                enabled: true,
            },
        }
    }

    #[test]
    fn budget_of_one_suppresses_the_second_message() {
        let guard = BotLoopGuard::new();
        assert_eq!(
            guard.check(&subject("usr_a", "usr_b", "msg_1", 1), 1_000),
            LoopVerdict::Allowed
        );
        assert_eq!(
            guard.check(&subject("usr_a", "usr_b", "msg_2", 1), 2_000),
            LoopVerdict::Suppressed { until_ms: 32_000 }
        );
    }

    #[test]
    fn reciprocal_directions_share_the_budget_and_cooldown() {
        let guard = BotLoopGuard::new();
        assert_eq!(
            guard.check(&subject("usr_a", "usr_b", "m1", 2), 0),
            LoopVerdict::Allowed
        );
        assert_eq!(
            guard.check(&subject("usr_b", "usr_a", "m2", 2), 100),
            LoopVerdict::Allowed
        );
        assert!(matches!(
            guard.check(&subject("usr_a", "usr_b", "m3", 2), 200),
            LoopVerdict::Suppressed { .. }
        ));
        // Cooldown applies both ways, even to messages that would fit a window.
        assert!(matches!(
            guard.check(&subject("usr_b", "usr_a", "m4", 2), 29_000),
            LoopVerdict::Suppressed { .. }
        ));
        // After the cooldown the pair starts fresh.
        assert_eq!(
            guard.check(&subject("usr_b", "usr_a", "m5", 2), 30_200),
            LoopVerdict::Allowed
        );
    }

    #[test]
    fn window_slides() {
        let guard = BotLoopGuard::new();
        assert_eq!(
            guard.check(&subject("a", "b", "m1", 1), 0),
            LoopVerdict::Allowed
        );
        assert_eq!(
            guard.check(&subject("a", "b", "m2", 1), 10_000),
            LoopVerdict::Allowed
        );
    }

    #[test]
    fn replayed_event_is_not_counted_twice() {
        let guard = BotLoopGuard::new();
        assert_eq!(
            guard.check(&subject("a", "b", "m1", 1), 0),
            LoopVerdict::Allowed
        );
        assert_eq!(
            guard.check(&subject("a", "b", "m1", 1), 5),
            LoopVerdict::Allowed
        );
    }

    #[test]
    fn conversations_and_scopes_are_separate() {
        let guard = BotLoopGuard::new();
        let mut s = subject("a", "b", "m1", 1);
        assert_eq!(guard.check(&s, 0), LoopVerdict::Allowed);
        s.conversation_id = "msg_root".into();
        s.event_id = "m2".into();
        assert_eq!(guard.check(&s, 1), LoopVerdict::Allowed);
        s.scope_id = "wsp_2".into();
        s.event_id = "m3".into();
        assert_eq!(guard.check(&s, 2), LoopVerdict::Allowed);
    }

    #[test]
    fn disabled_guard_allows_everything() {
        let guard = BotLoopGuard::new();
        let mut s = subject("a", "b", "m1", 1);
        s.settings.enabled = false;
        for i in 0..10 {
            s.event_id = format!("m{i}");
            assert_eq!(guard.check(&s, i), LoopVerdict::Allowed);
        }
        assert_eq!(guard.tracked_pairs(), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let guard = BotLoopGuard::with_capacity(8);
        for i in 0..100u64 {
            let mut s = subject("a", "b", "m", 5);
            s.conversation_id = format!("chn_{i}");
            guard.check(&s, i);
            assert!(guard.tracked_pairs() <= 8);
        }
    }
}
