//! The connection lifecycle: anchor, connect, pump, close-code policy, backoff, resync.
//!
//! One driver task per stream. It hands items to the consumer over a bounded
//! channel; when the consumer is slow the driver waits, the reader task waits
//! behind it, and the socket is not read.

use std::sync::Arc;
use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::close::{POLICY_VIOLATION, RESYNC_REQUIRED};
use clickclack_proto::event::Event;
use clickclack_proto::{Cursor, WorkspaceId};
use fastwebsockets::{Frame, OpCode, Payload};
use tokio::sync::{Mutex, mpsc};
use tokio::time::{Instant, MissedTickBehavior};

use crate::backoff::Backoff;
use crate::commit::Shared;
use crate::connect::{DialConfig, DialError, WsRead, WsWrite, dial};
use crate::endpoint::realtime_target;
use crate::error::Error;
use crate::heartbeat::{HeartbeatPolicy, Liveness};
use crate::item::{RealtimeItem, ReconnectCause, ResyncReason};
use crate::reader::{self, Inbound};
use crate::resync::{fetch_tail, is_retryable};
use crate::stats::Counters;
use crate::task::AbortOnDrop;

/// What the consumer side receives.
pub(crate) type Outgoing = Result<RealtimeItem, Error>;

/// How one connection ended.
#[derive(Debug)]
enum Ended {
    Closed { code: Option<u16>, reason: String },
    Lost(String),
    Unresponsive(Duration),
    ConsumerGone,
}

pub(crate) struct Driver {
    pub(crate) client: Client,
    pub(crate) workspace: WorkspaceId,
    pub(crate) base_url: String,
    pub(crate) dial: DialConfig,
    pub(crate) heartbeat: HeartbeatPolicy,
    pub(crate) backoff: Backoff,
    pub(crate) reader_buffer: usize,
    pub(crate) max_frame_bytes: usize,
    pub(crate) shared: Arc<Shared>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) tx: mpsc::Sender<Outgoing>,
    /// A server-requested minimum wait (`Retry-After`) for the next retry.
    pub(crate) retry_floor: Option<Duration>,
}

impl Driver {
    pub(crate) async fn run(mut self) {
        let mut pending: Option<ReconnectCause> = None;
        let mut last_was_resync = false;
        loop {
            if let Some(cause) = pending.take()
                && !self.wait_before_retry(cause).await
            {
                return;
            }
            let cursor = match self.shared.resume_cursor() {
                Some(c) => c,
                None => match self.anchor_at_tail().await {
                    Some(tail) => {
                        if let Err(e) = self.shared.commit(&tail).await {
                            self.fail(e).await;
                            return;
                        }
                        tail
                    }
                    None => return,
                },
            };
            let target = match realtime_target(&self.base_url, &self.workspace, Some(&cursor)) {
                Ok(t) => t,
                Err(e) => {
                    self.fail(e.into()).await;
                    return;
                }
            };
            let (read, write) = match dial(&target, &self.dial).await {
                Ok(halves) => halves,
                Err(DialError::Fatal(e)) => {
                    tracing::error!(error = %e, "realtime upgrade refused; stopping");
                    self.fail(e).await;
                    return;
                }
                Err(DialError::RetryAfter(reason, after)) => {
                    self.retry_floor = Some(after);
                    pending = Some(ReconnectCause::ConnectFailed(reason));
                    continue;
                }
                Err(DialError::Retry(reason)) => {
                    pending = Some(ReconnectCause::ConnectFailed(reason));
                    continue;
                }
            };
            Counters::bump(&self.counters.connections);
            tracing::info!(cursor = %cursor, "realtime connected");
            if !self
                .emit(Ok(RealtimeItem::Connected {
                    after_cursor: cursor.clone(),
                }))
                .await
            {
                return;
            }
            let opened = Instant::now();
            let ended = self.pump(read, write).await;
            if opened.elapsed() >= self.backoff.healthy_after() {
                self.backoff.reset();
            }
            match ended {
                Ended::ConsumerGone => return,
                Ended::Closed {
                    code: Some(POLICY_VIOLATION),
                    reason,
                } => {
                    tracing::warn!(code = POLICY_VIOLATION, reason = %reason, "realtime access revoked; stopping");
                    self.fail(Error::AccessRevoked {
                        code: POLICY_VIOLATION,
                        reason,
                    })
                    .await;
                    return;
                }
                Ended::Closed {
                    code: Some(RESYNC_REQUIRED),
                    reason,
                } => {
                    tracing::warn!(code = RESYNC_REQUIRED, reason = %reason, cursor = %cursor, "realtime resync required");
                    if last_was_resync {
                        // The fresh anchor was refused too: slow down.
                        if !self
                            .wait_before_retry(ReconnectCause::Closed {
                                code: Some(RESYNC_REQUIRED),
                                reason: reason.clone(),
                            })
                            .await
                        {
                            return;
                        }
                    }
                    if !self.resync(cursor, reason).await {
                        return;
                    }
                    last_was_resync = true;
                    continue;
                }
                Ended::Closed { code, reason } => {
                    tracing::info!(code = ?code, reason = %reason, "realtime closed by the server");
                    pending = Some(ReconnectCause::Closed { code, reason });
                }
                Ended::Lost(reason) => {
                    tracing::info!(reason = %reason, "realtime connection lost");
                    pending = Some(ReconnectCause::ConnectionLost(reason));
                }
                Ended::Unresponsive(silent_for) => {
                    tracing::warn!(
                        silent_ms = silent_for.as_millis() as u64,
                        "realtime connection unresponsive"
                    );
                    pending = Some(ReconnectCause::Unresponsive { silent_for });
                }
            }
            last_was_resync = false;
        }
    }

    /// Sends one item; `false` when the consumer is gone.
    async fn emit(&self, item: Outgoing) -> bool {
        self.tx.send(item).await.is_ok()
    }

    /// Reports a terminal error (the stream ends after it).
    async fn fail(&self, error: Error) {
        let _ = self.tx.send(Err(error)).await;
    }

    /// Counts a failure, tells the consumer, waits. `false` to stop.
    async fn wait_before_retry(&mut self, cause: ReconnectCause) -> bool {
        let Some((attempt, jittered)) = self.backoff.next() else {
            tracing::error!(attempts = self.backoff.attempts(), cause = %cause, "realtime giving up");
            self.fail(Error::GaveUp {
                attempts: self.backoff.attempts(),
                last_cause: cause,
            })
            .await;
            return false;
        };
        let delay = jittered.max(self.retry_floor.take().unwrap_or_default());
        Counters::bump(&self.counters.reconnects);
        tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, cause = %cause, "realtime reconnecting after backoff");
        if !self
            .emit(Ok(RealtimeItem::Reconnecting {
                attempt,
                delay,
                cause,
            }))
            .await
        {
            return false;
        }
        tokio::time::sleep(delay).await;
        true
    }

    /// Fetches the server tail, retrying retryable failures. `None` = stopped.
    async fn anchor_at_tail(&mut self) -> Option<Cursor> {
        loop {
            let cause = match fetch_tail(&self.client, &self.workspace).await {
                Ok(Some(tail)) => return Some(tail),
                Ok(None) => ReconnectCause::NoTailYet,
                Err(e) if is_retryable(&e) => ReconnectCause::TailFetchFailed(e.to_string()),
                Err(e) => {
                    tracing::error!(error = %e, "realtime tail fetch refused; stopping");
                    self.fail(Error::Api(e)).await;
                    return None;
                }
            };
            if !self.wait_before_retry(cause).await {
                return None;
            }
        }
    }

    /// 4001: re-anchor at a fresh tail and tell the consumer. `false` = stopped.
    async fn resync(&mut self, previous: Cursor, reason: String) -> bool {
        let Some(anchor) = self.anchor_at_tail().await else {
            return false;
        };
        Counters::bump(&self.counters.resyncs);
        tracing::warn!(previous = %previous, anchor = %anchor, "realtime re-anchored after resync");
        self.shared.set_anchor(anchor.clone());
        self.emit(Ok(RealtimeItem::Resync {
            reason: ResyncReason::ResyncRequired {
                code: RESYNC_REQUIRED,
                reason,
            },
            previous: Some(previous),
            anchor,
        }))
        .await
    }

    /// Moves frames from the reader to the consumer, pings, watches liveness.
    async fn pump(&self, read: WsRead, write: WsWrite) -> Ended {
        let write = Arc::new(Mutex::new(write));
        let (in_tx, mut in_rx) = mpsc::channel(self.reader_buffer);
        let _reader = AbortOnDrop::new(tokio::spawn(reader::run(
            read,
            Arc::clone(&write),
            in_tx,
            self.max_frame_bytes,
        )));
        let interval = self.heartbeat.ping_interval;
        let mut liveness = Liveness::new(&self.heartbeat, Instant::now());
        let mut ping = tokio::time::interval_at(Instant::now() + interval, interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = in_rx.recv() => {
                    let Some(msg) = msg else {
                        return Ended::Lost("reader stopped".into());
                    };
                    liveness.seen(Instant::now());
                    let item = match msg {
                        Inbound::Text(bytes) => match Event::from_slice(&bytes) {
                            Ok(event) => Ok(RealtimeItem::Event(event)),
                            Err(e) => Err(self.malformed(e.to_string())),
                        },
                        Inbound::Malformed(reason) => Err(self.malformed(reason)),
                        Inbound::Activity => continue,
                        Inbound::Close { code, reason } => return Ended::Closed { code, reason },
                        Inbound::Lost(reason) => return Ended::Lost(reason),
                    };
                    if !self.emit(item).await {
                        return Ended::ConsumerGone;
                    }
                    // Time spent waiting for the consumer is not server silence.
                    liveness.seen(Instant::now());
                }
                _ = ping.tick() => {
                    let ping_frame = Frame::new(true, OpCode::Ping, None, Payload::Owned(Vec::new()));
                    let sent = tokio::time::timeout(interval, async {
                        write.lock().await.write_frame(ping_frame).await
                    })
                    .await;
                    match sent {
                        Ok(Ok(())) => tracing::trace!("realtime ping sent"),
                        Ok(Err(e)) => return Ended::Lost(format!("ping failed: {e}")),
                        Err(_) => return Ended::Unresponsive(liveness.silent_for(Instant::now())),
                    }
                }
                _ = tokio::time::sleep_until(liveness.deadline()) => {
                    return Ended::Unresponsive(liveness.silent_for(Instant::now()));
                }
            }
        }
    }

    fn malformed(&self, reason: String) -> Error {
        Counters::bump(&self.counters.malformed_frames);
        tracing::debug!(reason = %reason, "realtime malformed frame skipped");
        Error::MalformedFrame { reason }
    }
}
