//! The connection driver: performs the I/O of each state of the machine in
//! [`crate::state`] and feeds the outcome to its transition function.
//!
//! # Flow
//!
//! One driver task per stream; it hands items to the consumer over a bounded
//! channel, so a slow consumer pauses it (and, behind it, the socket reader).
//!
//! 1. [`Driver::run`] publishes the current state (in [`Stats`](crate::Stats)
//!    and as one `tracing` line per transition, see [`Driver::publish`]).
//! 2. [`Driver::enter`] performs the state's I/O and returns an [`Input`]:
//!    1. `Anchoring`: fetch the server tail, persist it as the cursor.
//!    2. `Resyncing`: the same, but the anchor *replaces* the cursor (even
//!       backwards), then one `Resync` item is yielded.
//!    3. `Connecting`: dial TCP/TLS and upgrade after the committed cursor.
//!    4. `Live`: yield `Connected`, then start the reader task, which decodes
//!       each frame and hands the event straight to the consumer (see
//!       [`crate::reader`]); meanwhile ping and watch liveness until the
//!       connection ends.
//!    5. `Backoff`: draw the jittered delay (never below a capped
//!       `Retry-After`), yield `Reconnecting`, sleep.
//! 3. [`step`] picks the next state; the close-code policy lives there only.
//! 4. `Closed` is terminal: its error is yielded once, on entry, and the task ends.

use std::sync::Arc;

use clickclack_client::Client;
use clickclack_proto::{Cursor, WorkspaceId};
use fastwebsockets::{Frame, OpCode, Payload};
use tokio::sync::Mutex;
use tokio::time::{Instant, MissedTickBehavior};

use crate::backoff::Backoff;
use crate::commit::Shared;
use crate::connect::{DialConfig, DialError, WsRead, WsWrite, dial};
use crate::endpoint::realtime_target;
use crate::error::Error;
use crate::handoff;
use crate::heartbeat::{HeartbeatPolicy, Liveness};
use crate::item::{RealtimeItem, ReconnectCause, ResyncReason};
use crate::reader::{self, Activity, ReaderCtx, ReaderEnd};
use crate::resync::{fetch_tail, is_retryable};
use crate::state::{ConnState, Ended, Input, Terminal, step};
use crate::stats::{ConnectionState, Counters};
use crate::task::AbortOnDrop;

/// What the consumer side receives.
pub(crate) type Outgoing = Result<RealtimeItem, Error>;

/// The consumer dropped the stream.
struct ConsumerGone;

pub(crate) struct Driver {
    pub(crate) client: Client,
    pub(crate) workspace: WorkspaceId,
    pub(crate) base_url: String,
    pub(crate) dial: DialConfig,
    pub(crate) heartbeat: HeartbeatPolicy,
    pub(crate) backoff: Backoff,
    pub(crate) max_frame_bytes: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) tx: handoff::Sender<Outgoing>,
    /// The socket opened in `Connecting`, taken by `Live` (a mutex only to
    /// keep the driver `Sync`; it is never contended).
    pub(crate) socket: std::sync::Mutex<Option<(WsRead, WsWrite)>>,
}

impl Driver {
    /// 1.–4.: runs the machine from `state` until `Closed`.
    pub(crate) async fn run(mut self, mut state: ConnState) {
        self.publish(None, &state);
        loop {
            if let ConnState::Closed(terminal) = state {
                if let Terminal::Failed(error) = terminal {
                    let _ = self.tx.send(Err(error)).await;
                }
                return;
            }
            let input = self.enter(&state).await;
            let from = state.name();
            state = step(state, input);
            self.publish(Some(from), &state);
        }
    }

    /// 1.: the one place a transition is recorded (stats and `tracing`).
    fn publish(&self, from: Option<ConnectionState>, state: &ConnState) {
        let to = state.name();
        self.counters.set_state(to);
        let from = from.map_or("start", ConnectionState::as_str);
        match state {
            ConnState::Closed(Terminal::Failed(error)) => {
                tracing::error!(from, to = %to, error = %error, "realtime stopped");
            }
            ConnState::Closed(Terminal::ConsumerGone) => {
                tracing::debug!(from, to = %to, "realtime stream dropped");
            }
            ConnState::Resyncing { previous, reason } => {
                tracing::warn!(from, to = %to, previous = ?previous.as_ref().map(Cursor::as_str), reason = %reason, "realtime resyncing");
            }
            ConnState::Live { after, .. } => {
                tracing::info!(from, to = %to, cursor = %after, "realtime connected");
            }
            ConnState::Backoff { cause, .. } => {
                tracing::info!(from, to = %to, cause = %cause, "realtime connection interrupted");
            }
            ConnState::Anchoring | ConnState::Connecting { .. } => {
                tracing::debug!(from, to = %to, "realtime state changed");
            }
        }
    }

    /// 2.: the I/O of one state.
    ///
    /// The driver's future lives as long as the stream, and an idle stream
    /// sits in `Live`: the futures of the other states (a REST request, a
    /// TLS dial) are boxed so they take memory only while they run.
    async fn enter(&mut self, state: &ConnState) -> Input {
        let result = match state {
            ConnState::Anchoring => Box::pin(self.anchor_inner(None)).await,
            ConnState::Resyncing { previous, reason } => {
                Box::pin(self.anchor_inner(Some((previous.clone(), reason.clone())))).await
            }
            ConnState::Connecting { .. } => Ok(Box::pin(self.connect()).await),
            ConnState::Live { after, .. } => self.live(after).await,
            ConnState::Backoff {
                cause, retry_after, ..
            } => Box::pin(self.back_off(cause, *retry_after)).await,
            ConnState::Closed(_) => Ok(Input::ConsumerGone),
        };
        result.unwrap_or(Input::ConsumerGone)
    }

    /// Sends one item to the consumer.
    async fn emit(&self, item: RealtimeItem) -> Result<(), ConsumerGone> {
        self.tx.send(Ok(item)).await.map_err(|_| ConsumerGone)
    }

    /// 2.1 and 2.2: fetch the tail and make it the cursor. With `resync`,
    /// tell the consumer what was skipped. `None`: the consumer is gone.
    pub(crate) async fn anchor(
        &mut self,
        resync: Option<(Option<Cursor>, ResyncReason)>,
    ) -> Option<Input> {
        self.anchor_inner(resync).await.ok()
    }

    async fn anchor_inner(
        &mut self,
        resync: Option<(Option<Cursor>, ResyncReason)>,
    ) -> Result<Input, ConsumerGone> {
        let tail = match fetch_tail(&self.client, &self.workspace).await {
            Ok(Some(tail)) => tail,
            Ok(None) => return Ok(Input::AnchorFailed(ReconnectCause::NoTailYet)),
            Err(e) if is_retryable(&e) => {
                return Ok(Input::AnchorFailed(ReconnectCause::TailFetchFailed(
                    e.to_string(),
                )));
            }
            Err(e) => return Ok(Input::Fatal(Error::Api(e))),
        };
        if let Err(e) = self.shared.reanchor(&tail).await {
            return Ok(Input::Fatal(e));
        }
        if let Some((previous, reason)) = resync {
            Counters::bump(&self.counters.resyncs);
            tracing::warn!(previous = ?previous.as_ref().map(Cursor::as_str), anchor = %tail, reason = %reason, "realtime re-anchored: events between the previous cursor and the anchor are not delivered");
            self.emit(RealtimeItem::Resync {
                reason,
                previous,
                anchor: tail.clone(),
            })
            .await?;
        }
        Ok(Input::Anchored)
    }

    /// 2.3: dial after the committed cursor.
    async fn connect(&mut self) -> Input {
        let Some(after) = self.shared.committed() else {
            return Input::NoCursor;
        };
        let target = match realtime_target(&self.base_url, &self.workspace, Some(&after)) {
            Ok(t) => t,
            Err(e) => return Input::Fatal(e.into()),
        };
        match dial(&target, &self.dial).await {
            Ok(halves) => {
                *self.socket.lock().unwrap_or_else(|p| p.into_inner()) = Some(halves);
                Input::Dialed { after }
            }
            Err(DialError::Fatal(e)) => Input::Fatal(e),
            Err(DialError::Retry {
                reason,
                retry_after,
            }) => Input::DialFailed {
                cause: ReconnectCause::ConnectFailed(reason),
                retry_after,
            },
        }
    }

    /// 2.4: announce the connection and pump it until it ends.
    async fn live(&mut self, after: &Cursor) -> Result<Input, ConsumerGone> {
        let socket = self.socket.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some((read, write)) = socket else {
            return Ok(Input::Ended(Ended::Lost("no open socket".into())));
        };
        Counters::bump(&self.counters.connections);
        self.emit(RealtimeItem::Connected {
            after_cursor: after.clone(),
        })
        .await?;
        let opened = Instant::now();
        let ended = self.pump(read, write).await;
        if opened.elapsed() >= self.backoff.healthy_after() {
            self.backoff.reset();
        }
        Ok(Input::Ended(ended?))
    }

    /// 2.5: wait before the next attempt.
    async fn back_off(
        &mut self,
        cause: &ReconnectCause,
        retry_after: Option<std::time::Duration>,
    ) -> Result<Input, ConsumerGone> {
        let Some((attempt, jittered)) = self.backoff.next() else {
            return Ok(Input::Exhausted {
                attempts: self.backoff.attempts(),
            });
        };
        let delay = jittered.max(retry_after.unwrap_or_default());
        Counters::bump(&self.counters.reconnects);
        tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, cause = %cause, "realtime retrying after backoff");
        self.emit(RealtimeItem::Reconnecting {
            attempt,
            delay,
            cause: cause.clone(),
        })
        .await?;
        tokio::time::sleep(delay).await;
        Ok(Input::Waited)
    }

    /// Starts the reader (which hands events straight to the consumer),
    /// pings, and watches liveness until the connection ends.
    async fn pump(&self, read: WsRead, write: WsWrite) -> Result<Ended, ConsumerGone> {
        let write = Arc::new(Mutex::new(write));
        let activity = Arc::new(Activity::new(Instant::now()));
        let mut reader = AbortOnDrop::new(tokio::spawn(reader::run(
            read,
            Arc::clone(&write),
            ReaderCtx {
                tx: self.tx.clone(),
                activity: Arc::clone(&activity),
                counters: Arc::clone(&self.counters),
                max_bytes: self.max_frame_bytes,
            },
        )));
        let interval = self.heartbeat.ping_interval;
        let mut liveness = Liveness::new(&self.heartbeat, Instant::now());
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                end = &mut reader => {
                    return match end {
                        Ok(ReaderEnd::Ended(ended)) => Ok(ended),
                        Ok(ReaderEnd::ConsumerGone) => Err(ConsumerGone),
                        Err(e) => Ok(Ended::Lost(format!("reader stopped: {e}"))),
                    };
                }
                _ = ping.tick() => {
                    let ping_frame = Frame::new(true, OpCode::Ping, None, Payload::Owned(Vec::new()));
                    // Boxed: a write is rare and its future is large.
                    let sent = Box::pin(tokio::time::timeout(interval, async {
                        write.lock().await.write_frame(ping_frame).await
                    }))
                    .await;
                    match sent {
                        Ok(Ok(())) => tracing::trace!("realtime ping sent"),
                        Ok(Err(e)) => return Ok(Ended::Lost(format!("ping failed: {e}"))),
                        Err(_) => {
                            let now = Instant::now();
                            liveness.seen(activity.last_seen(now));
                            return Ok(Ended::Unresponsive(liveness.silent_for(now)));
                        }
                    }
                }
                _ = tokio::time::sleep_until(liveness.deadline()) => {
                    // The reader stamps every frame; only a stamp older than
                    // the window means silence.
                    let now = Instant::now();
                    liveness.seen(activity.last_seen(now));
                    if liveness.deadline() <= now {
                        return Ok(Ended::Unresponsive(liveness.silent_for(now)));
                    }
                }
            }
        }
    }
}
