//! The connection state machine: its states, its inputs, and [`step`], the
//! one transition function. `step` is pure; the driver performs the I/O of
//! each state and feeds the outcome back as an [`Input`].
//!
//! ```text
//!            ┌──────────── Waited ─────────────┐
//!            ▼                                 │
//! Anchoring ─Anchored─► Connecting ─Dialed─► Live ─Ended(1013, lost, silent)─► Backoff
//!     ▲                   │  ▲                 │                                 ▲
//!     └──── NoCursor ─────┘  └── Anchored ── Resyncing ◄─ Ended(4001) ──────────┘ (4001 on a
//!                                                                                 fresh anchor)
//! Ended(1008), Fatal, Exhausted, ConsumerGone ─► Closed (the only terminal state)
//! ```

use std::time::Duration;

use clickclack_proto::Cursor;
use clickclack_proto::close::{self, CloseAction};

use crate::error::Error;
use crate::item::{ReconnectCause, ResyncReason};
use crate::stats::ConnectionState;

/// Where the connection is.
#[derive(Debug)]
pub(crate) enum ConnState {
    /// Fetching the server tail: the stream has no cursor yet.
    Anchoring,
    /// Fetching a fresh tail to replace the cursor with (after 4001, or a
    /// lost cursor); entering it persists the anchor and yields a `Resync`.
    Resyncing {
        previous: Option<Cursor>,
        reason: ResyncReason,
    },
    /// Dialing after the committed cursor. `fresh_anchor`: the cursor was
    /// just (re-)anchored, so a 4001 now must back off before resyncing again.
    Connecting { fresh_anchor: bool },
    /// Open: replaying after `after`, then live.
    Live { after: Cursor, fresh_anchor: bool },
    /// Waiting before `then` (the delay is drawn by the driver).
    Backoff {
        cause: ReconnectCause,
        retry_after: Option<Duration>,
        then: Then,
    },
    /// Stopped. Its error (if any) is yielded once, on entry.
    Closed(Terminal),
}

/// What a [`ConnState::Backoff`] goes back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Then {
    Anchor,
    Resync {
        previous: Option<Cursor>,
        reason: ResyncReason,
    },
    Connect {
        fresh_anchor: bool,
    },
}

/// Why the stream stopped.
#[derive(Debug)]
pub(crate) enum Terminal {
    /// Reported to the consumer as the last item.
    Failed(Error),
    /// The consumer dropped the stream: nobody to tell.
    ConsumerGone,
}

/// How one open connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ended {
    /// A close frame (code absent if it carried none).
    Closed { code: Option<u16>, reason: String },
    /// No (valid) close frame: network failure, protocol violation, over-cap message.
    Lost(String),
    /// Nothing arrived for this long.
    Unresponsive(Duration),
}

/// The outcome of a state's I/O.
#[derive(Debug)]
pub(crate) enum Input {
    /// A tail was found (and, when resyncing, persisted and announced).
    Anchored,
    /// The tail fetch failed in a retryable way (or there is no tail yet).
    AnchorFailed(ReconnectCause),
    /// Connecting found no committed cursor to resume after.
    NoCursor,
    /// The socket is open, resuming after this cursor.
    Dialed { after: Cursor },
    /// The dial failed in a retryable way; not before `retry_after` (capped).
    DialFailed {
        cause: ReconnectCause,
        retry_after: Option<Duration>,
    },
    /// The open connection ended.
    Ended(Ended),
    /// The backoff delay passed.
    Waited,
    /// `max_attempts` consecutive attempts failed.
    Exhausted { attempts: u32 },
    /// Retrying cannot help.
    Fatal(Error),
    /// The consumer dropped the stream.
    ConsumerGone,
}

impl ConnState {
    /// The public name of the state.
    pub(crate) fn name(&self) -> ConnectionState {
        match self {
            ConnState::Anchoring => ConnectionState::Anchoring,
            ConnState::Resyncing { .. } => ConnectionState::Resyncing,
            ConnState::Connecting { .. } => ConnectionState::Connecting,
            ConnState::Live { .. } => ConnectionState::Live,
            ConnState::Backoff { .. } => ConnectionState::Backoff,
            ConnState::Closed(_) => ConnectionState::Closed,
        }
    }
}

impl Then {
    fn into_state(self) -> ConnState {
        match self {
            Then::Anchor => ConnState::Anchoring,
            Then::Resync { previous, reason } => ConnState::Resyncing { previous, reason },
            Then::Connect { fresh_anchor } => ConnState::Connecting { fresh_anchor },
        }
    }
}

/// The transition function. The close-code policy lives here and only here
/// (through [`close::action_for`]).
pub(crate) fn step(state: ConnState, input: Input) -> ConnState {
    use ConnState::*;
    use Input::*;
    let backoff = |cause, then| Backoff {
        cause,
        retry_after: None,
        then,
    };
    match (state, input) {
        (Closed(t), _) => Closed(t),
        (_, ConsumerGone) => Closed(Terminal::ConsumerGone),
        (_, Fatal(e)) => Closed(Terminal::Failed(e)),

        (Anchoring | Resyncing { .. }, Anchored) => Connecting { fresh_anchor: true },
        (Anchoring, AnchorFailed(cause)) => backoff(cause, Then::Anchor),
        (Resyncing { previous, reason }, AnchorFailed(cause)) => {
            backoff(cause, Then::Resync { previous, reason })
        }

        (Connecting { fresh_anchor }, Dialed { after }) => Live {
            after,
            fresh_anchor,
        },
        (Connecting { .. }, NoCursor) => Anchoring,
        (Connecting { fresh_anchor }, DialFailed { cause, retry_after }) => Backoff {
            cause,
            retry_after,
            then: Then::Connect { fresh_anchor },
        },

        (
            Live {
                after,
                fresh_anchor,
            },
            Ended(ended),
        ) => match ended {
            self::Ended::Closed {
                code: Some(code),
                reason,
            } => match close::action_for(code) {
                CloseAction::Stop => {
                    Closed(Terminal::Failed(Error::AccessRevoked { code, reason }))
                }
                CloseAction::Resync => {
                    let then = Then::Resync {
                        previous: Some(after),
                        reason: ResyncReason::ResyncRequired {
                            code,
                            reason: reason.clone(),
                        },
                    };
                    if fresh_anchor {
                        // The anchor we just took was refused too: slow down.
                        backoff(
                            ReconnectCause::Closed {
                                code: Some(code),
                                reason,
                            },
                            then,
                        )
                    } else {
                        then.into_state()
                    }
                }
                _ => backoff(
                    ReconnectCause::Closed {
                        code: Some(code),
                        reason,
                    },
                    Then::Connect {
                        fresh_anchor: false,
                    },
                ),
            },
            self::Ended::Closed { code: None, reason } => backoff(
                ReconnectCause::Closed { code: None, reason },
                Then::Connect {
                    fresh_anchor: false,
                },
            ),
            self::Ended::Lost(reason) => backoff(
                ReconnectCause::ConnectionLost(reason),
                Then::Connect {
                    fresh_anchor: false,
                },
            ),
            self::Ended::Unresponsive(silent_for) => backoff(
                ReconnectCause::Unresponsive { silent_for },
                Then::Connect {
                    fresh_anchor: false,
                },
            ),
        },

        (Backoff { then, .. }, Waited) => then.into_state(),
        (Backoff { cause, .. }, Exhausted { attempts }) => {
            Closed(Terminal::Failed(Error::GaveUp {
                attempts,
                last_cause: cause,
            }))
        }

        (state, input) => Closed(Terminal::Failed(Error::Internal(format!(
            "realtime state machine: no transition from {} on {}",
            state.name(),
            input_name(&input)
        )))),
    }
}

fn input_name(input: &Input) -> &'static str {
    match input {
        Input::Anchored => "anchored",
        Input::AnchorFailed(_) => "anchor failed",
        Input::NoCursor => "no cursor",
        Input::Dialed { .. } => "dialed",
        Input::DialFailed { .. } => "dial failed",
        Input::Ended(_) => "connection ended",
        Input::Waited => "waited",
        Input::Exhausted { .. } => "attempts exhausted",
        Input::Fatal(_) => "fatal error",
        Input::ConsumerGone => "consumer gone",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clickclack_proto::close::{POLICY_VIOLATION, RESYNC_REQUIRED, TRY_AGAIN_LATER};

    fn cur(s: &str) -> Cursor {
        Cursor::new(s)
    }

    fn resync_reason() -> ResyncReason {
        ResyncReason::ResyncRequired {
            code: RESYNC_REQUIRED,
            reason: "r".into(),
        }
    }

    fn closed(code: u16) -> Input {
        Input::Ended(Ended::Closed {
            code: Some(code),
            reason: "r".into(),
        })
    }

    fn live(fresh_anchor: bool) -> ConnState {
        ConnState::Live {
            after: cur("cur_05"),
            fresh_anchor,
        }
    }

    fn backoff(then: Then) -> ConnState {
        ConnState::Backoff {
            cause: ReconnectCause::NoTailYet,
            retry_after: None,
            then,
        }
    }

    /// What a resulting state must look like (states hold errors, which do
    /// not compare, so the table says it in words).
    #[derive(Debug)]
    enum Want {
        Anchoring,
        Resyncing(Option<&'static str>),
        Connecting(bool),
        Live(&'static str, bool),
        Backoff(ReconnectCause, Option<Duration>, Then),
        AccessRevoked,
        GaveUp(u32),
        Failed(&'static str),
        ConsumerGone,
        Bug,
    }

    fn check(got: &ConnState, want: &Want) -> bool {
        match (got, want) {
            (ConnState::Anchoring, Want::Anchoring) => true,
            (ConnState::Resyncing { previous, reason }, Want::Resyncing(p)) => {
                previous.as_ref().map(Cursor::as_str) == *p && *reason == resync_reason()
            }
            (ConnState::Connecting { fresh_anchor }, Want::Connecting(f)) => fresh_anchor == f,
            (
                ConnState::Live {
                    after,
                    fresh_anchor,
                },
                Want::Live(a, f),
            ) => after.as_str() == *a && fresh_anchor == f,
            (
                ConnState::Backoff {
                    cause,
                    retry_after,
                    then,
                },
                Want::Backoff(c, r, t),
            ) => cause == c && retry_after == r && then == t,
            (
                ConnState::Closed(Terminal::Failed(Error::AccessRevoked { code, .. })),
                Want::AccessRevoked,
            ) => *code == POLICY_VIOLATION,
            (
                ConnState::Closed(Terminal::Failed(Error::GaveUp { attempts, .. })),
                Want::GaveUp(a),
            ) => attempts == a,
            (ConnState::Closed(Terminal::Failed(Error::Config(m))), Want::Failed(w)) => m == w,
            (ConnState::Closed(Terminal::ConsumerGone), Want::ConsumerGone) => true,
            (ConnState::Closed(Terminal::Failed(Error::Internal(_))), Want::Bug) => true,
            _ => false,
        }
    }

    #[test]
    fn every_transition() {
        let lost = ReconnectCause::ConnectionLost("x".into());
        let resync_then = |p: &str| Then::Resync {
            previous: Some(cur(p)),
            reason: resync_reason(),
        };
        let connect = Then::Connect {
            fresh_anchor: false,
        };
        #[rustfmt::skip]
        let cases: Vec<(&str, ConnState, Input, Want)> = vec![
            // Anchoring
            ("anchor found", ConnState::Anchoring, Input::Anchored, Want::Connecting(true)),
            ("anchor retry", ConnState::Anchoring, Input::AnchorFailed(ReconnectCause::NoTailYet),
                Want::Backoff(ReconnectCause::NoTailYet, None, Then::Anchor)),
            ("anchor refused", ConnState::Anchoring, Input::Fatal(Error::Config("401".into())), Want::Failed("401")),
            // Resyncing
            ("resync anchored", ConnState::Resyncing { previous: Some(cur("cur_09")), reason: resync_reason() },
                Input::Anchored, Want::Connecting(true)),
            ("resync retry keeps previous", ConnState::Resyncing { previous: Some(cur("cur_09")), reason: resync_reason() },
                Input::AnchorFailed(ReconnectCause::NoTailYet),
                Want::Backoff(ReconnectCause::NoTailYet, None, resync_then("cur_09"))),
            // Connecting
            ("dialed", ConnState::Connecting { fresh_anchor: false }, Input::Dialed { after: cur("cur_05") }, Want::Live("cur_05", false)),
            ("dialed fresh", ConnState::Connecting { fresh_anchor: true }, Input::Dialed { after: cur("cur_05") }, Want::Live("cur_05", true)),
            ("no cursor", ConnState::Connecting { fresh_anchor: false }, Input::NoCursor, Want::Anchoring),
            ("dial failed with retry-after", ConnState::Connecting { fresh_anchor: true },
                Input::DialFailed { cause: lost.clone(), retry_after: Some(Duration::from_secs(3)) },
                Want::Backoff(lost.clone(), Some(Duration::from_secs(3)), Then::Connect { fresh_anchor: true })),
            ("upgrade refused", ConnState::Connecting { fresh_anchor: false }, Input::Fatal(Error::Config("403".into())), Want::Failed("403")),
            // Live: the close-code policy
            ("4001 resyncs", live(false), closed(RESYNC_REQUIRED), Want::Resyncing(Some("cur_05"))),
            ("4001 on a fresh anchor backs off first", live(true), closed(RESYNC_REQUIRED),
                Want::Backoff(ReconnectCause::Closed { code: Some(RESYNC_REQUIRED), reason: "r".into() }, None, resync_then("cur_05"))),
            ("1008 stops", live(false), closed(POLICY_VIOLATION), Want::AccessRevoked),
            ("1013 reconnects", live(true), closed(TRY_AGAIN_LATER),
                Want::Backoff(ReconnectCause::Closed { code: Some(TRY_AGAIN_LATER), reason: "r".into() }, None, connect.clone())),
            ("unknown code reconnects", live(false), closed(4999),
                Want::Backoff(ReconnectCause::Closed { code: Some(4999), reason: "r".into() }, None, connect.clone())),
            ("close without code", live(false), Input::Ended(Ended::Closed { code: None, reason: String::new() }),
                Want::Backoff(ReconnectCause::Closed { code: None, reason: String::new() }, None, connect.clone())),
            ("lost", live(false), Input::Ended(Ended::Lost("x".into())), Want::Backoff(lost.clone(), None, connect.clone())),
            ("silent", live(false), Input::Ended(Ended::Unresponsive(Duration::from_secs(60))),
                Want::Backoff(ReconnectCause::Unresponsive { silent_for: Duration::from_secs(60) }, None, connect.clone())),
            ("consumer gone while live", live(false), Input::ConsumerGone, Want::ConsumerGone),
            // Backoff
            ("waited: anchor", backoff(Then::Anchor), Input::Waited, Want::Anchoring),
            ("waited: resync", backoff(resync_then("cur_05")), Input::Waited, Want::Resyncing(Some("cur_05"))),
            ("waited: connect", backoff(Then::Connect { fresh_anchor: true }), Input::Waited, Want::Connecting(true)),
            ("exhausted", backoff(connect.clone()), Input::Exhausted { attempts: 7 }, Want::GaveUp(7)),
            ("consumer gone in backoff", backoff(connect.clone()), Input::ConsumerGone, Want::ConsumerGone),
            // Closed is terminal
            ("closed stays closed", ConnState::Closed(Terminal::ConsumerGone), Input::Waited, Want::ConsumerGone),
            // Impossible pairs end the stream instead of looping
            ("bug: waited while live", live(false), Input::Waited, Want::Bug),
            ("bug: dialed while anchoring", ConnState::Anchoring, Input::Dialed { after: cur("cur_01") }, Want::Bug),
        ];
        for (name, state, input, want) in cases {
            let got = step(state, input);
            assert!(check(&got, &want), "{name}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn a_cursor_ahead_of_the_server_cannot_loop_without_backoff() {
        // Live after a stale cursor → 4001 → Resyncing → anchored → Connecting(fresh)
        // → Live(fresh) → 4001 again → Backoff (never straight back to Resyncing).
        let s = step(live(false), closed(RESYNC_REQUIRED));
        let s = step(s, Input::Anchored);
        let s = step(
            s,
            Input::Dialed {
                after: cur("cur_01"),
            },
        );
        let s = step(s, closed(RESYNC_REQUIRED));
        assert_eq!(s.name(), ConnectionState::Backoff);
    }
}
