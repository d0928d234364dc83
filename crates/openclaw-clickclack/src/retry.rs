//! The one retry loop of the crate: [`RetryWindow`] retries one pipeline
//! step (a message fetch, a model call, a send, a startup request) for a
//! bounded window, and [`Classify`] is the one place a failure is called
//! transient or permanent.
//!
//! Two layers, one arithmetic: the REST client retries a single request
//! briefly inside its tower stack; the window retries the step around it
//! with the same [`Backoff`] (full jitter, capped), raised by a
//! `Retry-After`. Every wait is raced with a [`CancellationToken`], so a
//! shutdown never waits for a backoff.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use std::time::Duration;
//! use openclaw_clickclack::retry::{GaveUp, RetryWindow, Transience, Classify};
//! use tokio_util::sync::CancellationToken;
//!
//! #[derive(Debug)]
//! struct Busy;
//! impl Classify for Busy {
//!     fn transience(&self) -> Transience { Transience::Transient { retry_after: None } }
//! }
//!
//! let window = RetryWindow::new(Duration::from_secs(10));
//! let mut calls = 0;
//! let result: Result<(), GaveUp<Busy>> = window
//!     .run(&CancellationToken::new(), |_| { calls += 1; async { Err(Busy) } })
//!     .await;
//! assert!(matches!(result, Err(GaveUp::WindowClosed(Busy))));
//! assert!(calls > 1);
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use clickclack_client::{Backoff, ErrorKind};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::llm::LlmError;
use crate::outbound::SendError;

/// Default length of a retry window: how long one turn keeps retrying a
/// failing model, agent or REST call before it answers with a visible failure.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(180);

/// The longest `Retry-After` the window honours for one wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Whether trying again may succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transience {
    /// Connection errors, timeouts, 429, 5xx, an undecodable 2xx: try again,
    /// not before `retry_after` when the server named a delay.
    Transient {
        /// The server's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// A 4xx a retry cannot fix, a configuration error.
    Permanent,
}

impl Transience {
    /// Transient without a server-named delay.
    pub const RETRY: Transience = Transience::Transient { retry_after: None };

    /// `true` for [`Transience::Transient`].
    pub fn is_transient(self) -> bool {
        matches!(self, Transience::Transient { .. })
    }
}

/// An error a retry loop can ask "is this worth another try?".
pub trait Classify {
    /// The one classification of this error.
    fn transience(&self) -> Transience;
}

impl Classify for clickclack_client::Error {
    fn transience(&self) -> Transience {
        match self.kind() {
            ErrorKind::RateLimited { retry_after, .. } => Transience::Transient {
                retry_after: *retry_after,
            },
            ErrorKind::Unavailable
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Transport => Transience::RETRY,
            // A 2xx whose body is not what ClickClack sends: a proxy's page,
            // a truncated body. The server may well answer properly next time.
            ErrorKind::Decode if self.status().is_none_or(|s| s.is_success()) => Transience::RETRY,
            _ => Transience::Permanent,
        }
    }
}

impl Classify for LlmError {
    fn transience(&self) -> Transience {
        match self {
            LlmError::Status { status, .. } if *status == 429 || *status >= 500 => {
                Transience::RETRY
            }
            // A timeout, an unreachable provider, an HTML page instead of JSON.
            LlmError::Timeout { .. } | LlmError::Transport { .. } | LlmError::Decode { .. } => {
                Transience::RETRY
            }
            _ => Transience::Permanent,
        }
    }
}

impl Classify for SendError {
    fn transience(&self) -> Transience {
        match self {
            // Re-sending repeats the same nonces: what was posted is replayed.
            SendError::PartialDelivery { first, .. } => first.transience(),
            SendError::Api(e) => e.transience(),
            _ => Transience::Permanent,
        }
    }
}

/// Why [`RetryWindow::run`] stopped without a value.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// The step failed in a way a retry cannot fix.
    Permanent(E),
    /// The step kept failing transiently until the window closed; this is the last error.
    WindowClosed(E),
    /// The token was cancelled (shutdown): the step should be replayed later,
    /// never answered with a failure.
    Cancelled,
}

impl<E> GaveUp<E> {
    /// The last error, unless cancelled.
    pub fn error(&self) -> Option<&E> {
        match self {
            GaveUp::Permanent(e) | GaveUp::WindowClosed(e) => Some(e),
            GaveUp::Cancelled => None,
        }
    }
}

/// Retries one step with jittered exponential backoff until it succeeds,
/// fails permanently, the window closes, or the token is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryWindow {
    backoff: Backoff,
    window: Duration,
}

impl Default for RetryWindow {
    /// [`DEFAULT_RETRY_WINDOW`], backoff 250 ms → 30 s.
    fn default() -> Self {
        RetryWindow::new(DEFAULT_RETRY_WINDOW)
    }
}

impl RetryWindow {
    /// A window of `window`, backoff 250 ms → 30 s.
    pub fn new(window: Duration) -> Self {
        RetryWindow {
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(30)),
            window,
        }
    }

    /// Replaces the backoff.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The window length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The backoff.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// Runs `op` (given the 0-based attempt number) until it succeeds or
    /// gives up. A wait that would end after the window is not started:
    /// the last error closes the window at once. The first attempt always
    /// runs and no attempt is cancelled by `cancel` (race it yourself where
    /// that is safe); only the waits between attempts are.
    ///
    /// # Errors
    /// [`GaveUp`] with the last error.
    pub async fn run<T, E, F, Fut>(
        &self,
        cancel: &CancellationToken,
        mut op: F,
    ) -> Result<T, GaveUp<E>>
    where
        E: Classify,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let error = match op(attempt).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let Transience::Transient { retry_after } = error.transience() else {
                return Err(GaveUp::Permanent(error));
            };
            let delay = self
                .backoff
                .delay(attempt)
                .max(retry_after.unwrap_or_default().min(MAX_RETRY_AFTER));
            if started.elapsed().saturating_add(delay) > self.window {
                return Err(GaveUp::WindowClosed(error));
            }
            if cancel
                .run_until_cancelled(tokio::time::sleep(delay))
                .await
                .is_none()
            {
                return Err(GaveUp::Cancelled);
            }
            attempt = attempt.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Busy,
        Bad,
    }

    impl Classify for E {
        fn transience(&self) -> Transience {
            match self {
                E::Busy => Transience::RETRY,
                E::Bad => Transience::Permanent,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn succeeds_after_transient_failures() {
        let window = RetryWindow::new(Duration::from_secs(60));
        let result = window
            .run(&CancellationToken::new(), |attempt| async move {
                if attempt < 3 {
                    Err(E::Busy)
                } else {
                    Ok(attempt)
                }
            })
            .await;
        assert_eq!(result.ok(), Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_stops_at_once() {
        let mut calls = 0;
        let result: Result<(), _> = RetryWindow::default()
            .run(&CancellationToken::new(), |_| {
                calls += 1;
                async { Err(E::Bad) }
            })
            .await;
        assert!(matches!(result, Err(GaveUp::Permanent(E::Bad))));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn window_bounds_the_retries() {
        let started = Instant::now();
        let window = RetryWindow::new(Duration::from_secs(180));
        let result: Result<(), _> = window
            .run(&CancellationToken::new(), |_| async { Err(E::Busy) })
            .await;
        assert!(matches!(result, Err(GaveUp::WindowClosed(E::Busy))));
        assert!(started.elapsed() <= Duration::from_secs(180));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_ends_the_wait() {
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let result: Result<(), _> = RetryWindow::new(Duration::from_secs(3600))
            .with_backoff(Backoff::new(
                Duration::from_secs(600),
                Duration::from_secs(600),
            ))
            .run(&cancel, |attempt| {
                if attempt == 0 {
                    trigger.cancel();
                }
                async { Err(E::Busy) }
            })
            .await;
        assert!(matches!(result, Err(GaveUp::Cancelled)));
    }
}
