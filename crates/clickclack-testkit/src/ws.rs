//! `GET /api/realtime/ws` (protocol.md §7): pre-upgrade checks, the upgrade,
//! then a reader task (client frames) and a writer loop (ordered drain of
//! the durable log, ephemeral pushes, forced closes, credential rechecks).

use std::sync::Arc;
use std::time::Duration;

use fastwebsockets::{
    Frame, OpCode, Payload, WebSocket, WebSocketError, WebSocketRead, WebSocketWrite,
};
use http::{HeaderValue, Request};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{BufWriter, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at, timeout};

use crate::auth::{Actor, authenticate, bearer};
use crate::error::{ApiError, NO_ROWS};
use crate::http::{Resp, error_response, parse_query};
use crate::hub::{
    ACCESS_REVOKED_REASON, DATA_FRAME_REASON, Kill, RESYNC_REASON, SESSION_REVOKED_REASON,
    Subscription, TOKEN_REVOKED_REASON,
};
use crate::server::Shared;
use crate::store::log::LoggedEvent;

/// Subprotocol prefix carrying a bearer token.
const BEARER_PROTOCOL: &str = "clickclack.bearer.";
/// Replay page size.
const PAGE: usize = 500;
/// Maximum events examined in one drain before 4001.
const MAX_DRAIN: usize = 5000;
/// Per-frame write timeout.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client's close echo after our close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Idle credential recheck interval.
const RECHECK: Duration = Duration::from_secs(30);
/// Frames are written into a buffer of this size and flushed once per
/// batch (a replay page, a live wake-up), so a replay costs one `write`
/// per ~64 KiB instead of one per event, as a production server's buffered
/// writer would. Clients are then measured against a server that is not
/// the bottleneck.
const WRITE_BUFFER: usize = 64 * 1024;

type Io = TokioIo<Upgraded>;
type Tx = WebSocketWrite<BufWriter<WriteHalf<Io>>>;
type Rx = WebSocketRead<ReadHalf<Io>>;

/// The bearer subprotocol offered by the client, if any.
fn offered_bearer_protocol(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find(|p| p.starts_with(BEARER_PROTOCOL))
        .map(str::to_owned)
}

/// Handles an upgrade request. `None` means "drop the TCP connection
/// without a response" (the refuse-connections fault).
pub(crate) async fn handle(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    _peer: std::net::SocketAddr,
    _correlation_id: &str,
) -> Option<Resp> {
    if shared.faults.refusing() {
        return None;
    }
    let protocol = offered_bearer_protocol(&req);
    let token = bearer(req.headers()).or_else(|| {
        protocol
            .as_deref()
            .and_then(|p| p.strip_prefix(BEARER_PROTOCOL))
            .map(|t| t.trim().to_owned())
    });
    let query = parse_query(req.uri().query());
    let checked = shared.store.read(|d| -> Result<Actor, ApiError> {
        let actor = authenticate(d, token.as_deref())?;
        actor.require_scope("realtime:read")?;
        let Some(ws) = query.get("workspace_id").filter(|w| !w.is_empty()) else {
            return Err(ApiError::bad_request("workspace_id is required"));
        };
        actor.require_workspace(ws)?;
        match d.workspaces.get(ws) {
            Some(w) if w.role_of(&actor.user_id).is_some() => Ok(actor),
            _ => Err(ApiError::forbidden(NO_ROWS)),
        }
    });
    let actor = match checked {
        Ok(a) => a,
        Err(e) => return Some(error_response(&e)),
    };
    let workspace_id = query.get("workspace_id").cloned().unwrap_or_default();
    let after = query.get("after_cursor").filter(|c| !c.is_empty()).cloned();
    let (resp, fut) = match fastwebsockets::upgrade::upgrade(&mut req) {
        Ok(pair) => pair,
        Err(e) => return Some(error_response(&ApiError::bad_request(e.to_string()))),
    };
    let (mut parts, _) = resp.into_parts();
    if let Some(p) = protocol
        && let Ok(v) = HeaderValue::from_str(&p)
    {
        parts
            .headers
            .insert(http::header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        match fut.await {
            Ok(ws) => run(shared, ws, actor, workspace_id, after).await,
            Err(e) => tracing::debug!(error = %e, "realtime upgrade failed"),
        }
    });
    Some(http::Response::from_parts(parts, Full::default()))
}

/// Messages from the reader task to the writer.
enum Ctl {
    /// A frame the protocol obliges us to send (pong, close echo).
    Obligated(Frame<'static>),
    /// The client sent a close frame (already echoed).
    ClientClosed,
    /// The client sent a data frame.
    Data,
    /// The read side failed or hit EOF.
    Gone,
}

/// How the socket ends.
enum End {
    Close(u16, String),
    Drop,
}

impl From<Kill> for End {
    fn from(k: Kill) -> Self {
        match k {
            Kill::Close(c, r) => End::Close(c, r),
            Kill::Drop => End::Drop,
        }
    }
}

fn resync() -> End {
    End::Close(4001, RESYNC_REASON.to_owned())
}

async fn read_loop(mut rx: Rx, ctl: mpsc::Sender<Ctl>) {
    rx.set_max_message_size(1 << 20);
    let mut reported_data = false;
    loop {
        let obligated = ctl.clone();
        let mut send = move |f: Frame<'static>| {
            let tx = obligated.clone();
            async move {
                tx.send(Ctl::Obligated(f))
                    .await
                    .map_err(|_| std::io::Error::other("socket closed"))
            }
        };
        let msg = match rx.read_frame::<_, std::io::Error>(&mut send).await {
            Ok(frame) => match frame.opcode {
                OpCode::Close => Ctl::ClientClosed,
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    // Keep reading afterwards so the client's close echo is consumed.
                    if reported_data {
                        continue;
                    }
                    reported_data = true;
                    Ctl::Data
                }
                OpCode::Ping | OpCode::Pong => continue,
            },
            Err(_) => Ctl::Gone,
        };
        let last = !matches!(msg, Ctl::Data);
        if ctl.send(msg).await.is_err() || last {
            return;
        }
    }
}

struct Conn {
    shared: Arc<Shared>,
    actor: Actor,
    workspace_id: String,
    /// Cursor of the last examined durable event (`None` = log start).
    position: Option<String>,
    tx: Tx,
}

async fn run(
    shared: Arc<Shared>,
    ws: WebSocket<Io>,
    actor: Actor,
    workspace_id: String,
    after: Option<String>,
) {
    let mut sub = shared
        .store
        .hub
        .subscribe(&workspace_id, &actor.user_id, &actor.credential_id);
    let id = sub.id;
    let (rx, tx) = ws.split(|io| {
        let (read, write) = tokio::io::split(io);
        (read, BufWriter::with_capacity(WRITE_BUFFER, write))
    });
    let (ctl_tx, mut ctl_rx) = mpsc::channel(4);
    let reader = tokio::spawn(read_loop(rx, ctl_tx));
    let mut conn = Conn {
        shared: shared.clone(),
        actor,
        workspace_id,
        position: after,
        tx,
    };
    let end = conn.serve(&mut sub, &mut ctl_rx).await;
    shared.store.hub.unsubscribe(id);
    if let End::Close(code, reason) = end {
        let sent = conn.send_now(Frame::close(code, reason.as_bytes())).await;
        if sent.is_ok() {
            // Closing handshake: give the client a moment to echo the close
            // before the TCP connection goes away.
            let _ = timeout(CLOSE_GRACE, async {
                while let Some(msg) = ctl_rx.recv().await {
                    if matches!(msg, Ctl::ClientClosed | Ctl::Gone) {
                        break;
                    }
                }
            })
            .await;
        }
    }
    reader.abort();
}

impl Conn {
    async fn serve(&mut self, sub: &mut Subscription, ctl: &mut mpsc::Receiver<Ctl>) -> End {
        sub.wake.borrow_and_update();
        if let Err(end) = self.drain(sub).await {
            return end;
        }
        let mut recheck = interval_at(Instant::now() + RECHECK, RECHECK);
        loop {
            let paused = *sub.paused.borrow_and_update();
            tokio::select! {
                biased;
                _ = sub.kill.changed() => {
                    return sub.kill.borrow().clone().map(End::from).unwrap_or(End::Drop);
                }
                msg = ctl.recv() => match msg {
                    Some(Ctl::Obligated(frame)) => {
                        if self.send_now(frame).await.is_err() {
                            return End::Drop;
                        }
                    }
                    Some(Ctl::Data) => return End::Close(1008, DATA_FRAME_REASON.to_owned()),
                    Some(Ctl::ClientClosed | Ctl::Gone) | None => return End::Drop,
                },
                _ = recheck.tick() => {
                    if let Some(end) = self.periodic(sub) {
                        return end;
                    }
                }
                changed = sub.wake.changed(), if !paused => {
                    if changed.is_err() {
                        return End::Drop;
                    }
                    sub.wake.borrow_and_update();
                    if let Err(end) = self.drain(sub).await {
                        return end;
                    }
                }
                ev = sub.ephemeral.recv(), if !paused => match ev {
                    Some(ev) => {
                        if let Some(end) = self.check(sub) {
                            return end;
                        }
                        if self.write_event(&ev).await.is_err() || self.flush().await.is_err() {
                            return End::Drop;
                        }
                    }
                    None => return End::Drop,
                },
                changed = sub.paused.changed() => {
                    if changed.is_err() {
                        return End::Drop;
                    }
                }
            }
        }
    }

    /// Credential / kill check done before every write and every 30 s.
    fn check(&self, sub: &Subscription) -> Option<End> {
        if let Some(kill) = sub.kill.borrow().clone() {
            return Some(kill.into());
        }
        if self.actor.is_revoked() {
            let reason = if self.actor.is_bot() {
                TOKEN_REVOKED_REASON
            } else {
                SESSION_REVOKED_REASON
            };
            return Some(End::Close(1008, reason.to_owned()));
        }
        None
    }

    /// The idle recheck: [`check`](Self::check) plus workspace membership.
    fn periodic(&self, sub: &Subscription) -> Option<End> {
        if let Some(end) = self.check(sub) {
            return Some(end);
        }
        let member = self.shared.store.read(|d| {
            d.workspaces
                .get(&self.workspace_id)
                .is_some_and(|w| w.role_of(&self.actor.user_id).is_some())
        });
        if !member {
            return Some(End::Close(1008, ACCESS_REVOKED_REASON.to_owned()));
        }
        None
    }

    /// Writes `frame` and flushes it to the socket.
    async fn send_now(&mut self, frame: Frame<'_>) -> Result<(), ()> {
        match timeout(WRITE_TIMEOUT, self.tx.write_frame(frame)).await {
            Ok(Ok(())) => self.flush().await,
            _ => Err(()),
        }
    }

    /// Sends what [`write_event`](Self::write_event) buffered.
    async fn flush(&mut self) -> Result<(), ()> {
        match timeout(WRITE_TIMEOUT, self.tx.flush()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    /// Buffers one event frame (written out when the buffer fills or on
    /// [`flush`](Self::flush)).
    async fn write_event(&mut self, ev: &LoggedEvent) -> Result<(), ()> {
        match timeout(
            WRITE_TIMEOUT,
            self.tx
                .write_frame(Frame::text(Payload::Borrowed(&ev.bytes))),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(WebSocketError::ConnectionClosed)) | Ok(Err(_)) | Err(_) => Err(()),
        }
    }

    /// The ordered drain (protocol.md §7.6): from `position` up to the tail
    /// captured now, in pages of 500, at most 5,000 examined; each page is
    /// flushed as a whole.
    async fn drain(&mut self, sub: &Subscription) -> Result<(), End> {
        let drained = self.drain_pages(sub).await;
        // What was buffered goes out before a close frame or the next wait.
        if self.flush().await.is_err() {
            return Err(End::Drop);
        }
        drained
    }

    async fn drain_pages(&mut self, sub: &Subscription) -> Result<(), End> {
        let user = self.actor.user_id.clone();
        let ws = self.workspace_id.clone();
        let tail = self.shared.store.read(|d| {
            d.logs
                .get(&ws)
                .and_then(|l| l.tail_for(&user))
                .map(|(_, c)| c)
        });
        let Some(tail) = tail else {
            return match &self.position {
                Some(_) => Err(resync()),
                None => Ok(()),
            };
        };
        if self.position.as_deref().is_some_and(|p| p > tail.as_str()) {
            return Err(resync());
        }
        let mut examined = 0usize;
        loop {
            if self.position.as_deref().is_some_and(|p| p >= tail.as_str()) {
                return Ok(());
            }
            let position = self.position.clone();
            let page = self.shared.store.read(|d| {
                let log = d.logs.get(&ws)?;
                let from = log.position_after(position.as_deref()).ok()?;
                let tail_idx = log.index_of(&tail)?;
                if tail_idx < from {
                    return None;
                }
                let max = (tail_idx + 1 - from).min(PAGE);
                let (events, end) = log.page(from, max, &user);
                Some((events, log.cursor_at(end.checked_sub(1)?), end - from))
            });
            let Some((events, last, n)) = page else {
                return Err(resync());
            };
            examined += n;
            if n == 0 || examined > MAX_DRAIN {
                return Err(resync());
            }
            for ev in events {
                if let Some(end) = self.check(sub) {
                    return Err(end);
                }
                if self.write_event(&ev).await.is_err() {
                    return Err(End::Drop);
                }
            }
            if self.flush().await.is_err() {
                return Err(End::Drop);
            }
            self.position = last;
        }
    }
}
